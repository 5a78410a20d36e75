# shellcheck shell=bash
# Shared by deploy/dev/ensure-*.sh (logging, dry-run, root, apt-get). Sourced, never executed.
#
# Environment knobs understood by every script:
#   COHANDLE_DEPLOY_DRY_RUN=1   print the commands that would change the machine
#                               instead of running them (read-only checks still run)
#   COHANDLE_DEPLOY_ASSUME=...  only with DRY_RUN: pretend the service is
#                               `not-installed` or `stopped`, to review those branches
#                               on a machine where it is installed and running

export DEBIAN_FRONTEND=noninteractive
# pg_ctlcluster, rabbitmq-* live in sbin; a non-root PATH may lack it.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

DRY_RUN="${COHANDLE_DEPLOY_DRY_RUN:-0}"
ASSUME="${COHANDLE_DEPLOY_ASSUME:-}"
APT_LOCK=/var/lock/cohandle-deploy-apt.lock

if [[ -n "$ASSUME" && "$DRY_RUN" != 1 ]]; then
	echo "COHANDLE_DEPLOY_ASSUME is only allowed together with COHANDLE_DEPLOY_DRY_RUN=1" >&2
	exit 2
fi
case "$ASSUME" in
'' | not-installed | stopped) ;;
*)
	echo "COHANDLE_DEPLOY_ASSUME must be 'not-installed' or 'stopped', got '$ASSUME'" >&2
	exit 2
	;;
esac

# `SERVICE_NAME` must be set by the sourcing script ("postgres", "rabbitmq").
log() { printf '%s: %s\n' "$SERVICE_NAME" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$SERVICE_NAME" "$*" >&2; }
die() {
	printf '%s: ERROR: %s\n' "$SERVICE_NAME" "$*" >&2
	exit 1
}

is_dry_run() { [[ "$DRY_RUN" == 1 ]]; }

# Run a command that changes the machine (or print it in dry-run mode).
run() {
	if is_dry_run; then
		printf '%s: [dry-run] would run:' "$SERVICE_NAME" >&2
		printf ' %q' "$@" >&2
		printf '\n' >&2
		return 0
	fi
	"$@"
}

# Acting (install/start/configure) needs root; the "already running" check does not.
# Re-exec through passwordless sudo when possible (CI runners), else fail clearly.
require_root() {
	[[ $EUID -eq 0 ]] && return 0
	is_dry_run && return 0
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		log "re-running as root via sudo"
		exec sudo -n --preserve-env=COHANDLE_DEPLOY_DRY_RUN,COHANDLE_DEPLOY_ASSUME,COHANDLE_POSTGRES_WAIT_SECS,COHANDLE_RABBITMQ_WAIT_SECS,COHANDLE_PG_FIX_HBA \
			bash "$SCRIPT_PATH"
	fi
	die "$1 needs root (run this script as root or with sudo)"
}

# apt-get install the given Debian packages without starting their services:
# while installing, a policy-rc.d that forbids service starts is put in place
# (unless the machine already has one), so that we can configure the service
# before its first start. Serialised with a lock so that ensure-postgres.sh and
# ensure-rabbitmq.sh can run in parallel.
apt_install() {
	if is_dry_run; then
		run flock "$APT_LOCK" apt-get update
		run env LC_ALL=C.UTF-8 LANG=C.UTF-8 apt-get install -y --no-install-recommends "$@"
		return 0
	fi
	(
		exec 9>"$APT_LOCK"
		flock 9
		local policy=/usr/sbin/policy-rc.d created_policy=0
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\n# temporary, from cohandle deploy/dev: no service starts during apt-get install\nexit 101\n' >"$policy"
			chmod 755 "$policy"
			created_policy=1
			# shellcheck disable=SC2064 # expand now: the trap must remove exactly this file
			trap "rm -f '$policy'" EXIT
		fi
		apt-get update -qq
		# C.UTF-8: the PostgreSQL cluster created by the package's postinst takes
		# its encoding from the locale; an unset locale would give SQL_ASCII.
		LC_ALL=C.UTF-8 LANG=C.UTF-8 apt-get install -y -qq --no-install-recommends \
			-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
		if [[ $created_policy == 1 ]]; then
			rm -f "$policy"
		fi
	)
}

# Is systemd the init system? Then service starts go through it; otherwise
# (containers, CI sandboxes) the daemons are started directly.
have_systemd() { [[ -d /run/systemd/system ]]; }

# Print the last lines of a log file to stderr, to explain a failed start.
tail_log() {
	local f="$1"
	if [[ -r "$f" ]]; then
		echo "---- last lines of $f ----" >&2
		tail -n 25 "$f" >&2 || true
		echo "----" >&2
	fi
}
