#!/usr/bin/env bash
# The HTTP API against its own document: schemathesis generates requests from the served
# /openapi.json and sends them with a token of every role, to a `cohandle api` over a fresh
# SQLite file holding case 0942. It fails on a 5xx, a status, content type or body the
# document does not declare, and a request the document allows that is refused as malformed
# (deploy/dev/conformance_checks.py). Bounded: a few examples per operation and role.
# Usage: deploy/dev/conformance.sh [path to the cohandle binary] (default: built here).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."

EXAMPLES="${COHANDLE_CONFORMANCE_EXAMPLES:-8}"
if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install --quiet --user "schemathesis>=4,<5"
    export PATH="$HOME/.local/bin:$PATH"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cohandle-target}"
BIN="${1:-}"
if [ -z "$BIN" ]; then
    cargo build --locked -p cohandle-cli
    BIN="$CARGO_TARGET_DIR/debug/cohandle"
fi

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export COHANDLE__DATABASE__URL="sqlite://$WORK/conformance.db?mode=rwc"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export COHANDLE__HTTP__LISTEN="127.0.0.1:$PORT"
# Generous per-token limits, so that the fuzzer reaches every operation; 429 is in the
# document and is checked like any other answer when it comes.
export COHANDLE__HTTP__RATE_LIMIT_PER_SECOND=1000 COHANDLE__HTTP__RATE_LIMIT_BURST=1000
"$BIN" demo >/dev/null

# One token per role, for case 0942's agencies (registered by the demo).
declare -A TOKENS
for pair in assigner:cq-zfbgt agency:cq-kjj congress_office:cq-rdgw supervisor:cq-dc admin:cq-dc; do
    role="${pair%%:*}" agency="${pair#*:}"
    TOKENS[$role]="$("$BIN" token create --agency "$agency" --role "$role" | tail -n 1)"
done

"$BIN" api >"$WORK/api.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

export SCHEMATHESIS_HOOKS=conformance_checks
export PYTHONPATH="$PWD/deploy/dev${PYTHONPATH:+:$PYTHONPATH}"
status=0
for role in assigner agency congress_office supervisor admin; do
    echo "== schemathesis as $role"
    # From the scratch directory, where schemathesis leaves its files.
    (cd "$WORK" && schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
        --header "Authorization: Bearer ${TOKENS[$role]}" \
        --mode positive --phases examples,fuzzing --max-examples "$EXAMPLES" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,schema_valid_requests_are_not_refused_as_malformed \
        --seed 13 --generation-deterministic --no-shrink --workers 2 --no-color \
        --request-timeout 10) || status=1
done
if [ "$status" -ne 0 ]; then
    echo "conformance: the API and its document disagree (server log: last lines below)" >&2
    tail -n 20 "$WORK/api.log" >&2
fi
exit "$status"
