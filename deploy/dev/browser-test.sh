#!/usr/bin/env bash
# The workbench in real Chromium: builds cohandle, then runs services/web/tests/browser
# (pytest + Selenium) against `cohandle serve` on a PostgreSQL database of its own.
# Screenshots of the key pages land in target/screenshots/.
set -euo pipefail
root="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
cd "$root"

deploy/dev/ensure-browser.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohandle-target}"
cargo build --locked --quiet -p cohandle-cli
export COHANDLE_BIN="$CARGO_TARGET_DIR/debug/cohandle"
exec python3 -m pytest -q -p no:cacheprovider services/web/tests/browser "$@"
