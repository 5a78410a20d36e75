#!/usr/bin/env bash
# A cluster on one host, for the scale and failover scenarios: three RabbitMQ nodes of the
# Debian package joined into one cluster, and a PostgreSQL primary with a streaming replica.
# Everything lives under one directory (default /tmp/cohandle-cluster) and on its own ports,
# beside (not instead of) the development broker and database.
#
#   cluster.sh up                start what is not running (installs the packages when missing)
#   cluster.sh down              stop everything and delete the directory
#   cluster.sh status            which nodes run, the cluster's members, the replica's lag
#   cluster.sh env               the URLs, as shell assignments (eval "$(cluster.sh env)")
#   cluster.sh kill-rabbit N     SIGKILL RabbitMQ node N (1..3)
#   cluster.sh start-rabbit N    start node N again (it rejoins the cluster)
#   cluster.sh kill-primary      SIGKILL the PostgreSQL primary
#   cluster.sh promote           promote the replica to primary (pg_ctl promote)
#
# Ports: RabbitMQ AMQP 5681-5683, distribution 25681-25683, management 15681-15683;
# PostgreSQL primary 5442, replica 5443. Knobs: COHANDLE_CLUSTER_DIR.
#
# RabbitMQ nodes: each has its own RABBITMQ_NODENAME, ports, data, log, config and
# enabled-plugins files, and its own (empty) RABBITMQ_CONF_ENV_FILE, because the system one
# pins the node name; all share one Erlang cookie in their own HOME. rabbitmqctl is called as
# /usr/lib/rabbitmq/bin/rabbitmqctl with that HOME (the /usr/sbin wrapper switches user and
# cookie). PostgreSQL runs as the postgres user (initdb refuses root).
set -euo pipefail

SCRIPT_DIR="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
DIR="${COHANDLE_CLUSTER_DIR:-/tmp/cohandle-cluster}"
RMQ_BIN=/usr/lib/rabbitmq/bin
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
NODES=(1 2 3)
PRIMARY_PORT=5442
REPLICA_PORT=5443

log() { echo "cluster: $*" >&2; }

amqp_port() { echo $((5680 + $1)); }
node_name() { echo "chc$1@localhost"; }

as_postgres() { runuser -u postgres -- "$@"; }

ctl() { # ctl N args...: rabbitmqctl against node N
    local n=$1
    shift
    HOME="$DIR/rabbit-home" "$RMQ_BIN/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

ensure_packages() {
    # The development scripts install (apt-get) and start the system services when missing;
    # the cluster uses the same packages, not the running services.
    "$SCRIPT_DIR/ensure-postgres.sh" >/dev/null
    "$SCRIPT_DIR/ensure-rabbitmq.sh" >/dev/null
    [ -x "$RMQ_BIN/rabbitmq-server" ] || { log "no $RMQ_BIN/rabbitmq-server"; exit 1; }
    [ -n "$PG_BIN" ] || { log "no PostgreSQL binaries under /usr/lib/postgresql"; exit 1; }
}

rabbit_env() { # rabbit_env N: the environment of node N
    local n=$1 base="$DIR/rabbit$1"
    echo "HOME=$DIR/rabbit-home"
    echo "RABBITMQ_NODENAME=$(node_name "$n")"
    echo "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"
    echo "RABBITMQ_NODE_PORT=$(amqp_port "$n")"
    echo "RABBITMQ_DIST_PORT=$((25680 + n))"
    echo "RABBITMQ_MNESIA_BASE=$base/mnesia"
    echo "RABBITMQ_LOG_BASE=$base/log"
    echo "RABBITMQ_PID_FILE=$base/pid"
    echo "RABBITMQ_CONFIG_FILE=$base/rabbitmq"
    echo "RABBITMQ_ENABLED_PLUGINS_FILE=$base/enabled_plugins"
    echo "RABBITMQ_CONF_ENV_FILE=$base/rabbitmq-env.conf"
    echo "ERL_EPMD_ADDRESS=127.0.0.1"
}

rabbit_running() { [ -f "$DIR/rabbit$1/pid" ] && kill -0 "$(cat "$DIR/rabbit$1/pid")" 2>/dev/null; }

start_rabbit() {
    local n=$1 base="$DIR/rabbit$1"
    if rabbit_running "$n"; then
        log "rabbit $n already running"
        return
    fi
    mkdir -p "$base/mnesia" "$base/log" "$DIR/rabbit-home"
    if [ ! -f "$DIR/rabbit-home/.erlang.cookie" ]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/rabbit-home/.erlang.cookie"
        chmod 400 "$DIR/rabbit-home/.erlang.cookie"
    fi
    : >"$base/rabbitmq-env.conf"
    cat >"$base/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$n")
management.tcp.ip = 127.0.0.1
management.tcp.port = $((15680 + n))
loopback_users.guest = true
cluster_partition_handling = pause_minority
EOF
    echo "[rabbitmq_consistent_hash_exchange,rabbitmq_management]." >"$base/enabled_plugins"
    log "starting rabbit $n on $(amqp_port "$n")"
    (
        set -a
        eval "$(rabbit_env "$n")"
        set +a
        nohup "$RMQ_BIN/rabbitmq-server" >"$base/log/stdout.log" 2>&1 &
        echo $! >"$base/launcher.pid"
    )
    for _ in $(seq 1 60); do
        [ -f "$base/pid" ] && break
        sleep 0.5
    done
    ctl "$n" wait "$base/pid" --timeout 90 >/dev/null
}

join_cluster() {
    local n=$1
    if ctl 1 cluster_status --formatter json 2>/dev/null | grep -q "\"$(node_name "$n")\""; then
        return
    fi
    log "joining rabbit $n to rabbit 1"
    {
        ctl "$n" stop_app && ctl "$n" reset && ctl "$n" join_cluster "$(node_name 1)" && ctl "$n" start_app
    } >"$DIR/rabbit$n/log/join.log" 2>&1 || { log "joining failed: $DIR/rabbit$n/log/join.log"; exit 1; }
}

pg_running() { [ -f "$DIR/$1/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$DIR/$1" status >/dev/null 2>&1; }

start_primary() {
    if pg_running pg-primary; then
        log "primary already running"
        return
    fi
    if [ ! -f "$DIR/pg-primary/PG_VERSION" ]; then
        mkdir -p "$DIR/pg-primary"
        chown postgres "$DIR" "$DIR/pg-primary"
        as_postgres "$PG_BIN/initdb" -D "$DIR/pg-primary" -A trust -U postgres >/dev/null
        cat >>"$DIR/pg-primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
max_connections = 300
EOF
        echo "host replication postgres 127.0.0.1/32 trust" >>"$DIR/pg-primary/pg_hba.conf"
    fi
    log "starting the PostgreSQL primary on $PRIMARY_PORT"
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg-primary" -l "$DIR/pg-primary.log" -w start >/dev/null
}

start_replica() {
    if pg_running pg-replica; then
        log "replica already running"
        return
    fi
    if [ ! -f "$DIR/pg-replica/PG_VERSION" ]; then
        log "cloning the replica (pg_basebackup -R -X stream -C -S replica -c fast)"
        as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -Atqc \
            "select pg_drop_replication_slot('replica') from pg_replication_slots where slot_name = 'replica'" >/dev/null
        as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
            -D "$DIR/pg-replica" -R -X stream -C -S replica -c fast
        echo "port = $REPLICA_PORT" >>"$DIR/pg-replica/postgresql.auto.conf"
    fi
    log "starting the replica on $REPLICA_PORT"
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg-replica" -l "$DIR/pg-replica.log" -w start >/dev/null
}

up() {
    ensure_packages
    mkdir -p "$DIR"
    for n in "${NODES[@]}"; do start_rabbit "$n"; done
    for n in 2 3; do join_cluster "$n"; done
    start_primary
    start_replica
    status
}

down() {
    for n in "${NODES[@]}"; do
        if rabbit_running "$n"; then
            ctl "$n" stop >/dev/null 2>&1 || kill -9 "$(cat "$DIR/rabbit$n/pid")" 2>/dev/null || true
        fi
    done
    for d in pg-replica pg-primary; do
        if pg_running "$d"; then as_postgres "$PG_BIN/pg_ctl" -D "$DIR/$d" -m immediate stop >/dev/null || true; fi
    done
    rm -rf "$DIR"
    log "stopped and removed $DIR"
}

status() {
    for n in "${NODES[@]}"; do
        if rabbit_running "$n"; then echo "rabbit $n: running on $(amqp_port "$n")"; else echo "rabbit $n: stopped"; fi
    done
    if rabbit_running 1; then
        echo "cluster members: $(ctl 1 cluster_status --formatter json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(d.get("running_nodes", [])))')"
    fi
    for d in pg-primary pg-replica; do
        if pg_running "$d"; then echo "$d: running"; else echo "$d: stopped"; fi
    done
    if pg_running pg-replica; then
        echo "replica in recovery: $(as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -Atqc 'select pg_is_in_recovery()'), replay lag: $(as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -Atqc "select coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::text, 'none yet')") s"
    fi
}

env_lines() {
    local urls=()
    for n in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"); done
    echo "COHANDLE_CLUSTER_AMQP_URLS='$(IFS=,; echo "${urls[*]}")'"
    echo "COHANDLE_CLUSTER_PG_PRIMARY='postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres'"
    echo "COHANDLE_CLUSTER_PG_REPLICA='postgres://postgres@127.0.0.1:$REPLICA_PORT/postgres'"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
env) env_lines ;;
kill-rabbit) kill -9 "$(cat "$DIR/rabbit${2:?node 1..3}/pid")" && log "killed rabbit $2" ;;
start-rabbit) start_rabbit "${2:?node 1..3}" ;;
kill-primary) kill -9 "$(head -n 1 "$DIR/pg-primary/postmaster.pid")" && log "killed the primary" ;;
promote) as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg-replica" promote -w >/dev/null && log "replica promoted" ;;
*)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
