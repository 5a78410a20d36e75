#!/usr/bin/env bash
# Ensure a PostgreSQL server accepts TCP connections on 127.0.0.1:5432 as user
# `postgres` without a password (development and tests only).
#
#   running            -> no-op (well under a second): "postgres: already running"
#   installed, stopped -> start the Debian cluster on port 5432, wait until ready
#   not installed      -> apt-get install postgresql, trust auth for 127.0.0.1/::1,
#                         max_connections=300, start, wait until ready
#
# Idempotent; safe to run from any directory, any number of times.
# Knobs: COHANDLE_POSTGRES_WAIT_SECS (default 60), COHANDLE_PG_FIX_HBA=1 (add the
# trust lines to an existing cluster whose auth refuses passwordless TCP logins),
# COHANDLE_DEPLOY_DRY_RUN / COHANDLE_DEPLOY_ASSUME (see ensure-lib.sh).
set -euo pipefail

SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
SERVICE_NAME=postgres
# shellcheck source=ensure-lib.sh
source "$(dirname "$SCRIPT_PATH")/ensure-lib.sh"

HOST=127.0.0.1
PORT=5432
WAIT_SECS="${COHANDLE_POSTGRES_WAIT_SECS:-60}"
WANT_MAX_CONNECTIONS=300 # set on a fresh install (tests use many databases in parallel)
MIN_MAX_CONNECTIONS=200  # below this, warn about an existing server
HBA_MARKER="# cohandle deploy/dev: trust local TCP (added by ensure-postgres.sh)"

pg_ready() {
	command -v pg_isready >/dev/null 2>&1 || return 3
	pg_isready -q -h "$HOST" -p "$PORT" -t 3
}

# psql as postgres over TCP, never prompting and never using a stored password.
pg_query() {
	PGPASSWORD='' PGPASSFILE=/nonexistent/cohandle-no-pgpass PGCONNECT_TIMEOUT=5 \
		psql -X -w -h "$HOST" -p "$PORT" -U postgres -d postgres -Atqc "$1"
}

server_installed() {
	[[ "$ASSUME" == not-installed ]] && return 1
	command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

pg_ctl_cluster() { # <version> <name> <start|restart|reload>
	if have_systemd; then
		run pg_ctlcluster "$1" "$2" "$3"
	else
		run pg_ctlcluster --skip-systemctl-redirect "$1" "$2" "$3"
	fi
}

# Make 127.0.0.1 and ::1 trusted for all users/databases: prepend (first match wins).
configure_hba() { # <version> <name>
	local hba
	hba="$(pg_conftool -s "$1" "$2" show hba_file 2>/dev/null || echo "/etc/postgresql/$1/$2/pg_hba.conf")"
	if grep -qF "$HBA_MARKER" "$hba" 2>/dev/null; then
		return 0
	fi
	if is_dry_run; then
		log "[dry-run] would prepend to $hba: 'host all all 127.0.0.1/32 trust' and 'host all all ::1/128 trust'"
		return 0
	fi
	local tmp
	tmp="$(mktemp "$hba.XXXXXX")"
	{
		echo "$HBA_MARKER"
		echo "host    all             all             127.0.0.1/32            trust"
		echo "host    all             all             ::1/128                 trust"
		echo
		cat "$hba"
	} >"$tmp"
	chown --reference="$hba" "$tmp"
	chmod --reference="$hba" "$tmp"
	mv "$tmp" "$hba"
}

configure_fresh_cluster() { # <version> <name>
	configure_hba "$1" "$2"
	run pg_conftool "$1" "$2" set max_connections "$WANT_MAX_CONNECTIONS"
}

wait_ready() {
	if is_dry_run; then
		log "[dry-run] would wait up to ${WAIT_SECS}s for: pg_isready -h $HOST -p $PORT"
		return 0
	fi
	local deadline=$((SECONDS + WAIT_SECS))
	until pg_ready; do
		if ((SECONDS >= deadline)); then
			[[ -n "${CLUSTER_LOG:-}" ]] && tail_log "$CLUSTER_LOG"
			die "PostgreSQL did not accept connections on $HOST:$PORT within ${WAIT_SECS}s" \
				"(pg_isready -h $HOST -p $PORT). Check the log above / 'pg_lsclusters'."
		fi
		sleep 0.5
	done
}

# The server is up: check passwordless login and max_connections.
check_login_and_settings() {
	is_dry_run && return 0
	local err max
	if ! err="$(pg_query 'select 1' 2>&1 >/dev/null)"; then
		if [[ "${COHANDLE_PG_FIX_HBA:-0}" != 1 ]]; then
			die "server is up on $HOST:$PORT but 'psql -h $HOST -U postgres' without a password fails: $err
  Fix: put these lines at the top of pg_hba.conf and reload the server
    host all all 127.0.0.1/32 trust
    host all all ::1/128 trust
  or re-run as root with COHANDLE_PG_FIX_HBA=1 (Debian clusters only)."
		fi
		require_root "changing pg_hba.conf"
		[[ -n "${CLUSTER_VER:-}" ]] || find_cluster ||
			die "passwordless login refused and no Debian cluster on port $PORT to fix: $err"
		log "passwordless login refused; adding trust lines for 127.0.0.1/::1 (COHANDLE_PG_FIX_HBA=1)"
		configure_hba "$CLUSTER_VER" "$CLUSTER_NAME"
		pg_ctl_cluster "$CLUSTER_VER" "$CLUSTER_NAME" reload
		sleep 1
		err="$(pg_query 'select 1' 2>&1 >/dev/null)" ||
			die "still cannot log in as postgres without a password: $err"
	fi
	max="$(pg_query 'show max_connections' 2>/dev/null || true)"
	if [[ "$max" =~ ^[0-9]+$ ]] && ((max < MIN_MAX_CONNECTIONS)); then
		if [[ "${COHANDLE_PG_RAISE_MAX_CONNECTIONS:-0}" == 1 ]] && find_cluster; then
			# The test suite runs many databases at once; it asks for this restart.
			log "max_connections is $max; raising it to $WANT_MAX_CONNECTIONS and restarting $CLUSTER_VER/$CLUSTER_NAME"
			pg_query "ALTER SYSTEM SET max_connections = $WANT_MAX_CONNECTIONS" >/dev/null
			pg_ctl_cluster "$CLUSTER_VER" "$CLUSTER_NAME" restart </dev/null >/dev/null
			wait_ready
		else
			warn "max_connections is $max (< $MIN_MAX_CONNECTIONS); parallel tests may run out of connections." \
				"Raise it to $WANT_MAX_CONNECTIONS (pg_conftool <ver> <cluster> set max_connections $WANT_MAX_CONNECTIONS) and restart PostgreSQL when convenient," \
				"or run with COHANDLE_PG_RAISE_MAX_CONNECTIONS=1."
		fi
	fi
}

# Find the Debian cluster that owns port 5432 -> CLUSTER_VER, CLUSTER_NAME, CLUSTER_STATUS, CLUSTER_LOG.
find_cluster() {
	local line
	line="$(pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port { print; exit }')"
	if [[ -z "$line" ]]; then
		return 1
	fi
	read -r CLUSTER_VER CLUSTER_NAME _ CLUSTER_STATUS _ _ CLUSTER_LOG <<<"$line"
	[[ "$CLUSTER_LOG" == "<unknown>" ]] && CLUSTER_LOG=""
	return 0
}

main() {
	# Fast path: already accepting connections. No root needed.
	local rc=0
	if [[ -z "$ASSUME" ]]; then
		pg_ready || rc=$?
		if [[ $rc == 0 ]]; then
			check_login_and_settings
			echo "postgres: already running"
			return 0
		fi
		if [[ $rc == 1 ]]; then # "rejecting connections": starting up or shutting down
			log "server on $HOST:$PORT is starting up; waiting"
			wait_ready
			check_login_and_settings
			echo "postgres: already running (waited for startup)"
			return 0
		fi
	fi

	require_root "starting/installing PostgreSQL"

	local installed_now=0 fresh=0
	if ! server_installed; then
		log "PostgreSQL server not installed; installing the Debian package 'postgresql'"
		apt_install postgresql
		installed_now=1
		fresh=1
	elif ! command -v pg_isready >/dev/null 2>&1; then
		apt_install postgresql-client
	fi

	if ! find_cluster; then
		if is_dry_run && [[ $installed_now == 1 ]]; then
			log "[dry-run] the package creates the default cluster (on Debian 12: 15/main, port $PORT)"
			CLUSTER_VER=15 CLUSTER_NAME=main CLUSTER_STATUS=down CLUSTER_LOG=""
		elif [[ -z "$(pg_lsclusters -h 2>/dev/null)" ]]; then
			# Server binaries but no cluster at all: create one.
			local ver
			ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -n | tail -n 1)"
			[[ -n "$ver" ]] || die "cannot find an installed PostgreSQL version under /usr/lib/postgresql"
			run pg_createcluster --port "$PORT" --locale C.UTF-8 "$ver" main
			CLUSTER_VER="$ver" CLUSTER_NAME=main CLUSTER_STATUS=down CLUSTER_LOG=""
			fresh=1
		else
			die "no PostgreSQL cluster is configured on port $PORT; existing clusters:
$(pg_lsclusters)
  Change one to port $PORT (pg_conftool <ver> <name> set port $PORT) or create one: pg_createcluster --port $PORT <ver> main"
		fi
	fi
	# Dry-run review of another branch: a cluster from a fresh install (our
	# policy-rc.d kept the package from starting it) or a stopped one is down.
	[[ -n "$ASSUME" ]] && CLUSTER_STATUS=down

	if [[ $fresh == 1 ]]; then
		configure_fresh_cluster "$CLUSTER_VER" "$CLUSTER_NAME"
	fi

	# /run may be a fresh tmpfs (containers): the socket directory must exist.
	if [[ ! -d /var/run/postgresql ]]; then
		run install -d -m 2775 -o postgres -g postgres /var/run/postgresql
	fi

	case "$CLUSTER_STATUS" in
	online*)
		# Up but not accepting yet (recovery), or started by the package's postinst.
		if [[ $fresh == 1 ]]; then
			pg_ctl_cluster "$CLUSTER_VER" "$CLUSTER_NAME" restart >/dev/null
		fi
		;;
	*)
		pg_ctl_cluster "$CLUSTER_VER" "$CLUSTER_NAME" start </dev/null >/dev/null ||
			{
				[[ -n "$CLUSTER_LOG" ]] && tail_log "$CLUSTER_LOG"
				die "pg_ctlcluster $CLUSTER_VER $CLUSTER_NAME start failed"
			}
		;;
	esac

	wait_ready
	check_login_and_settings

	if [[ $installed_now == 1 ]]; then
		echo "postgres: installed and started${DRY_RUN_SUFFIX:-}"
	elif [[ $fresh == 1 ]]; then
		echo "postgres: created cluster $CLUSTER_VER/$CLUSTER_NAME and started${DRY_RUN_SUFFIX:-}"
	else
		echo "postgres: started${DRY_RUN_SUFFIX:-}"
	fi
}

is_dry_run && DRY_RUN_SUFFIX=" (dry-run: nothing was changed)"
main
