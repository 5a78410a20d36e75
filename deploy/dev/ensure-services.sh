#!/usr/bin/env bash
# Ensure the development/test services are up: PostgreSQL (ensure-postgres.sh) and
# RabbitMQ (ensure-rabbitmq.sh), in parallel. Prints one status line per service;
# exits non-zero, naming the failed service(s), if either fails.
#
# COHANDLE_DEPLOY_SERIAL=1 runs them one after the other (easier-to-read output).
# Other knobs are passed through (see ensure-postgres.sh, ensure-rabbitmq.sh, ensure-lib.sh).
set -euo pipefail

DIR="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
SERVICES=(postgres rabbitmq)

if [[ "${COHANDLE_DEPLOY_SERIAL:-0}" == 1 ]]; then
	failed=()
	for s in "${SERVICES[@]}"; do
		"$DIR/ensure-$s.sh" || failed+=("$s")
	done
else
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	declare -A pids=()
	for s in "${SERVICES[@]}"; do
		# Each child's output goes to a file, printed in a fixed order below, so
		# that the two scripts' lines do not interleave.
		"$DIR/ensure-$s.sh" >"$tmp/$s.out" 2>&1 </dev/null &
		pids[$s]=$!
	done
	failed=()
	for s in "${SERVICES[@]}"; do
		rc=0
		wait "${pids[$s]}" || rc=$?
		cat "$tmp/$s.out"
		if [[ $rc != 0 ]]; then
			failed+=("$s")
		fi
	done
fi

if ((${#failed[@]} > 0)); then
	echo "ensure-services: FAILED: ${failed[*]} (see the messages above)" >&2
	exit 1
fi
