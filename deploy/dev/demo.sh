#!/usr/bin/env bash
# The main job on the embedded default: no configuration, no services. Builds cohandle,
# replays case 0942 into ./cohandle.db and prints its timeline and statistics.
set -euo pipefail
root="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohandle-target}"
cargo build --locked --quiet --manifest-path "$root/Cargo.toml" -p cohandle-cli
exec "$CARGO_TARGET_DIR/debug/cohandle" demo "$@"
