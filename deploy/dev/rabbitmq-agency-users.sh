#!/usr/bin/env bash
# Creates (or updates) one RabbitMQ user per agency for development and manual tests, with
# the rights deploy/rabbitmq/definitions.json gives them in production:
#   - publish to exchange cohandle.in only, and there only under routing keys
#     `<agency>.…` (a topic permission), so an agency cannot speak under another's keys;
#   - read its own queue cohandle.agency.<agency> only; configure nothing.
# RabbitMQ itself refuses a message whose user_id property is not the publishing user, so
# the worker can trust user_id as the sender. Also creates the worker's user `cohandle`.
#
#   deploy/dev/rabbitmq-agency-users.sh                 # the agencies of case 0942
#   deploy/dev/rabbitmq-agency-users.sh cq-jjxxw cq-fgw # others
#
# Environment:
#   COHANDLE_RABBITMQ_VHOST   vhost (default /)
#   COHANDLE_AGENCY_PASSWORD  every agency user's password (default: the agency code itself,
#                             which is what `cohandle emit --as CODE` tries; DEVELOPMENT ONLY)
#   COHANDLE_WORKER_PASSWORD  the `cohandle` user's password (default: cohandle)
# Needs root (rabbitmqctl talks to the node with its Erlang cookie); re-runs through
# `sudo -n` when that works. Idempotent.
set -euo pipefail

SERVICE_NAME=rabbitmq-users
SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
VHOST="${COHANDLE_RABBITMQ_VHOST:-/}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { printf '%s: %s\n' "$SERVICE_NAME" "$*" >&2; }
die() {
	printf '%s: ERROR: %s\n' "$SERVICE_NAME" "$*" >&2
	exit 1
}

if [[ $EUID -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		exec sudo -n --preserve-env=COHANDLE_RABBITMQ_VHOST,COHANDLE_AGENCY_PASSWORD,COHANDLE_WORKER_PASSWORD \
			bash "$SCRIPT_PATH" "$@"
	fi
	die "needs root (rabbitmqctl); run it as root or with sudo"
fi
command -v rabbitmqctl >/dev/null 2>&1 || die "rabbitmqctl not found: run deploy/dev/ensure-rabbitmq.sh first"

if [[ $# -eq 0 ]]; then
	set -- cq-zfbgt cq-rdgw cq-kjj cq-jw cq-czj cq-dc
fi

ctl() { rabbitmqctl --quiet "$@" >/dev/null; }

# add_user fails on an existing user; then only the password is set again.
ensure_user() {
	local user=$1 password=$2
	if ! ctl add_user "$user" "$password" 2>/dev/null; then
		ctl change_password "$user" "$password"
	fi
}

ctl list_vhosts >/dev/null 2>&1 || die "cannot reach the RabbitMQ node (is it running? deploy/dev/ensure-rabbitmq.sh)"
if ! rabbitmqctl --quiet list_vhosts | grep -qxF -- "$VHOST"; then
	ctl add_vhost "$VHOST"
	log "vhost $VHOST added"
fi

ensure_user cohandle "${COHANDLE_WORKER_PASSWORD:-cohandle}"
ctl set_permissions -p "$VHOST" cohandle '^cohandle\.' '^cohandle\.' '^cohandle\.'
log "user cohandle (the worker and relay): configure/write/read ^cohandle\\. in $VHOST"

for agency in "$@"; do
	[[ $agency =~ ^[A-Za-z0-9._-]+$ ]] || die "not an agency code: $agency"
	escaped=${agency//./\\.}
	ensure_user "$agency" "${COHANDLE_AGENCY_PASSWORD:-$agency}"
	ctl set_permissions -p "$VHOST" "$agency" '^$' '^cohandle\.in$' "^cohandle\\.agency\\.${escaped}\$"
	ctl set_topic_permissions -p "$VHOST" "$agency" cohandle.in "^${escaped}\\." '.*'
	log "user $agency: publishes to cohandle.in under ${agency}.*, reads cohandle.agency.${agency}"
done
