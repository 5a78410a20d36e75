#!/usr/bin/env bash
# Ensure a RabbitMQ broker accepts AMQP logins as guest/guest on 127.0.0.1:5672,
# with the plugins cohandle needs (development and tests only).
#
#   running            -> no-op (well under a second): "rabbitmq: already running"
#   installed, stopped -> start it, wait until ready
#   not installed      -> apt-get install rabbitmq-server, configure (node name
#                         rabbit@localhost, loopback-only listeners), start, wait
#
# Plugins: rabbitmq_consistent_hash_exchange (required: per-proposal partitioning,
# see DESIGN.md "Throughput design") and rabbitmq_management (required: its HTTP API on
# 127.0.0.1:15672 gives the bus tests a vhost each and lets them drop connections).
#
# The guest user: RabbitMQ's default user guest/guest may only connect from
# loopback (loopback_users) - exactly what dev and tests need.
#
# user-id validation: RabbitMQ checks that a published message's `user_id`
# property equals the user of the publishing connection, and rejects the message
# otherwise. That is built-in default behaviour (there is no switch to turn it on);
# cohandle relies on it to trust the `user_id` of partner agencies' messages. Nothing
# to configure here.
#
# Idempotent; safe to run from any directory, any number of times.
# Knobs: COHANDLE_RABBITMQ_WAIT_SECS (default 90), COHANDLE_DEPLOY_DRY_RUN /
# COHANDLE_DEPLOY_ASSUME (see ensure-lib.sh).
#
# rabbitmqctl/rabbitmq-plugins talk to the node with the Erlang cookie in
# /var/lib/rabbitmq/.erlang.cookie; Debian's wrappers in /usr/sbin handle that
# when run as root, so every action below runs as root.
set -euo pipefail

SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
SCRIPT_DIR="$(dirname "$SCRIPT_PATH")"
SERVICE_NAME=rabbitmq
# shellcheck source=ensure-lib.sh
source "$SCRIPT_DIR/ensure-lib.sh"

HOST=127.0.0.1
PORT=5672
WAIT_SECS="${COHANDLE_RABBITMQ_WAIT_SECS:-90}"
REQUIRED_PLUGIN=rabbitmq_consistent_hash_exchange
# The test suite drives the management HTTP API (vhosts per test, dropping connections).
MANAGEMENT_PLUGIN=rabbitmq_management
ENV_CONF=/etc/rabbitmq/rabbitmq-env.conf
MAIN_CONF=/etc/rabbitmq/rabbitmq.conf
START_LOG=/var/log/rabbitmq/cohandle-ensure-start.log

amqp_login_ok() {
	AMQP_CHECK_TIMEOUT=5 "$SCRIPT_DIR/amqp-login-check.sh" "$HOST" "$PORT" guest guest / 2>/dev/null
}

server_installed() {
	[[ "$ASSUME" == not-installed ]] && return 1
	[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || command -v rabbitmq-server >/dev/null 2>&1
}

# Erlang node reachable by the CLI (it may still be booting).
node_up() { rabbitmq-diagnostics -q ping -t 5 >/dev/null 2>&1; }
# The rabbit application is fully booted.
app_running() { rabbitmq-diagnostics -q check_running -t 10 >/dev/null 2>&1; }

# Where the node reads its plugin list (Debian default /etc/rabbitmq/enabled_plugins).
plugins_file() {
	local f=""
	if [[ -r $ENV_CONF ]]; then
		f="$(sed -n -E 's/^[[:space:]]*(export[[:space:]]+)?(RABBITMQ_)?ENABLED_PLUGINS_FILE=["'\'']?([^"'\'']*)["'\'']?.*/\3/p' "$ENV_CONF" | tail -n 1)"
	fi
	echo "${RABBITMQ_ENABLED_PLUGINS_FILE:-${f:-/etc/rabbitmq/enabled_plugins}}"
}
# Cheap check (no Erlang VM): is the plugin listed in the enabled-plugins file?
plugin_listed() { grep -qE "(^|[[,[:space:]])$1([],[:space:]]|$)" "$(plugins_file)" 2>/dev/null; }

log_file() {
	local f
	f="$(find /var/log/rabbitmq -maxdepth 1 -name 'rabbit@*.log' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)"
	echo "${f:-$START_LOG}"
}

# Fresh install only: fixed node name (no dependence on the hostname resolving)
# and everything bound to loopback. Existing configuration is never rewritten:
# changing NODENAME of a used node would orphan its data directory.
configure_fresh() {
	if ! grep -qE '^[[:space:]]*(export[[:space:]]+)?(RABBITMQ_)?NODENAME=' "$ENV_CONF" 2>/dev/null; then
		if is_dry_run; then
			log "[dry-run] would append NODENAME=rabbit@localhost, ERL_EPMD_ADDRESS=127.0.0.1, ERL_FLAGS (loopback distribution) to $ENV_CONF"
		else
			install -d -o rabbitmq -g rabbitmq /etc/rabbitmq
			cat >>"$ENV_CONF" <<-'EOF'

				# cohandle deploy/dev (ensure-rabbitmq.sh): fixed node name, loopback-only
				# Erlang distribution (epmd and inter-node port).
				NODENAME=rabbit@localhost
				ERL_EPMD_ADDRESS=127.0.0.1
				export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
			EOF
		fi
	fi
	if [[ ! -e $MAIN_CONF ]]; then
		if is_dry_run; then
			log "[dry-run] would write $MAIN_CONF: listeners.tcp.local = $HOST:$PORT"
		else
			cat >"$MAIN_CONF" <<-EOF
				# cohandle deploy/dev (ensure-rabbitmq.sh): AMQP on loopback only.
				listeners.tcp.local = $HOST:$PORT
			EOF
			chmod 644 "$MAIN_CONF"
		fi
	fi
}

start_node() {
	if have_systemd; then
		run systemctl start rabbitmq-server
	elif is_dry_run; then
		log "[dry-run] would run: rabbitmq-server -detached </dev/null >>$START_LOG 2>&1"
	else
		# Debian's wrapper drops to the rabbitmq user. Detach all our fds so that
		# a caller capturing our output is not held open by the daemon.
		rabbitmq-server -detached </dev/null >>"$START_LOG" 2>&1 ||
			{
				tail_log "$START_LOG"
				die "'rabbitmq-server -detached' failed"
			}
	fi
}

stop_node() {
	run rabbitmqctl -q stop >/dev/null
	is_dry_run && return 0
	local deadline=$((SECONDS + 30))
	while node_up; do
		((SECONDS < deadline)) || die "node did not stop within 30s"
		sleep 1
	done
}

# Online enable (node running). The required plugin must succeed; the optional one
# only warns, and is taken out of the plugin list again so that a broken optional
# plugin (e.g. port 15672 taken) cannot stop the broker from booting next time.
enable_plugins_online() {
	if is_dry_run; then
		run rabbitmq-plugins -q enable "$REQUIRED_PLUGIN"
		run rabbitmq-plugins -q enable "$MANAGEMENT_PLUGIN"
		return 0
	fi
	local out
	if ! out="$(run rabbitmq-plugins -q enable "$REQUIRED_PLUGIN" 2>&1)"; then
		die "could not enable $REQUIRED_PLUGIN: $out"
	fi
	if ! out="$(run rabbitmq-plugins -q enable "$MANAGEMENT_PLUGIN" 2>&1)"; then
		die "could not enable $MANAGEMENT_PLUGIN: $out"
	fi
	# Debian's postinst keeps this file owned by rabbitmq; keep it that way.
	if ! is_dry_run && [[ -f "$(plugins_file)" ]]; then
		chown rabbitmq:rabbitmq "$(plugins_file)" 2>/dev/null || true
	fi
}

# The app is up but guest/guest cannot log in: repair what is safe to repair.
ensure_guest() {
	if ! rabbitmqctl -q list_users 2>/dev/null | awk '{print $1}' | grep -qx guest; then
		log "user guest is missing; creating guest/guest (administrator, all permissions on /)"
		run rabbitmqctl -q add_user guest guest >/dev/null
		run rabbitmqctl -q set_user_tags guest administrator >/dev/null
	elif ! rabbitmqctl -q authenticate_user guest guest >/dev/null 2>&1; then
		die "user guest exists but its password is not 'guest'; not changing it." \
			"Fix by hand: rabbitmqctl change_password guest guest"
	fi
	if ! rabbitmqctl -q list_user_permissions guest 2>/dev/null | awk '{print $1}' | grep -qx /; then
		log "user guest has no permissions on vhost /; granting all"
		run rabbitmqctl -q set_permissions -p / guest '.*' '.*' '.*' >/dev/null
	fi
}

wait_ready() {
	if is_dry_run; then
		log "[dry-run] would wait up to ${WAIT_SECS}s for: rabbitmq-diagnostics -q check_running, then an AMQP guest login on $HOST:$PORT"
		return 0
	fi
	local deadline=$((SECONDS + WAIT_SECS))
	until node_up && app_running; do
		if ((SECONDS >= deadline)); then
			tail_log "$(log_file)"
			tail_log "$START_LOG"
			die "RabbitMQ did not finish booting within ${WAIT_SECS}s (rabbitmq-diagnostics -q check_running)." \
				"See the log above, /var/log/rabbitmq/ and 'rabbitmq-diagnostics status'."
		fi
		sleep 1
	done
}

wait_login() {
	is_dry_run && return 0
	local deadline=$((SECONDS + 20)) repaired=0
	until amqp_login_ok; do
		if [[ $repaired == 0 ]]; then
			ensure_guest
			repaired=1
			continue
		fi
		if ((SECONDS >= deadline)); then
			die "the broker is running but guest/guest cannot log in on $HOST:$PORT." \
				"Check the listeners (rabbitmq-diagnostics -q listeners) and loopback_users." \
				"Details: $(AMQP_CHECK_VERBOSE=1 "$SCRIPT_DIR/amqp-login-check.sh" "$HOST" "$PORT" 2>&1 || true)"
		fi
		sleep 1
	done
}

main() {
	# Fast path: a guest login succeeds and the required plugin is configured.
	# Pure bash (no Erlang VM to boot), no root needed.
	local login_ok=0
	if [[ -z "$ASSUME" ]] && amqp_login_ok; then
		login_ok=1
		if plugin_listed "$REQUIRED_PLUGIN" && plugin_listed "$MANAGEMENT_PLUGIN"; then
			echo "rabbitmq: already running"
			return 0
		fi
	fi

	require_root "configuring/starting/installing RabbitMQ"

	if [[ $login_ok == 1 ]]; then
		enable_plugins_online
		echo "rabbitmq: already running (enabled plugins)${DRY_RUN_SUFFIX:-}"
		return 0
	fi

	local installed_now=0
	if ! server_installed; then
		log "RabbitMQ not installed; installing the Debian package 'rabbitmq-server'"
		apt_install rabbitmq-server
		installed_now=1
		# Our policy-rc.d keeps the package from starting it; if the machine's own
		# policy let it start with the packaged defaults, stop it before configuring.
		if ! is_dry_run && node_up; then
			stop_node
		fi
		configure_fresh
	fi

	local action=started
	if [[ -z "$ASSUME" ]] && node_up; then
		# The Erlang node is up but AMQP logins fail: it is still booting (or
		# something is wrong with guest; wait_login deals with that).
		action="already running (waited for boot)"
	else
		# Offline enable: the plugin file is read at boot. The optional plugin is
		# enabled online afterwards, so that it cannot break the boot.
		run rabbitmq-plugins -q enable --offline "$REQUIRED_PLUGIN" >/dev/null ||
			die "could not enable $REQUIRED_PLUGIN (offline)"
		start_node
	fi

	wait_ready
	enable_plugins_online
	wait_login

	if [[ $installed_now == 1 ]]; then
		echo "rabbitmq: installed and started${DRY_RUN_SUFFIX:-}"
	else
		echo "rabbitmq: ${action}${DRY_RUN_SUFFIX:-}"
	fi
}

is_dry_run && DRY_RUN_SUFFIX=" (dry-run: nothing was changed)"
main
