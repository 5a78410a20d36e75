#!/usr/bin/env bash
# The whole test suite on a fresh machine: starts (or installs) PostgreSQL and RabbitMQ,
# then checks formatting and lints, runs every test, unit and integration, checks the HTTP
# API against its OpenAPI document with schemathesis (installed with pip if missing), and
# the workbench in real Chromium (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."

COHANDLE_PG_RAISE_MAX_CONNECTIONS=1 deploy/dev/ensure-services.sh
deploy/dev/ensure-browser.sh
# A build directory outside the clone, so that a fresh clone reuses a warm build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohandle-target}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
deploy/dev/browser-test.sh
# The HTTP API against its served OpenAPI document, with a token of every role (bounded).
deploy/dev/conformance.sh
deploy/dev/deploy-check.sh   # compose, Kubernetes manifests, dashboard and image context, offline
