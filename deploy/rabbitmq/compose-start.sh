#!/bin/bash
# The RabbitMQ container's command in deploy/compose.yaml. Starts the broker (which imports
# definitions.json at boot: topology, users, permissions, with no password for anyone),
# then sets each user's password from the secret file (one "user password" per line) and
# only then lets the health check pass, so cohandle's roles start against a broker they
# can log in to. Passwords are set again at every start, so rotating one is: edit the
# secret file, restart the container (or `rabbitmqctl change_password` by hand).
set -euo pipefail
ready=/tmp/cohandle-passwords-set
rm -f "$ready"
docker-entrypoint.sh rabbitmq-server &
server=$!
trap 'kill -TERM "$server"; wait "$server"' TERM INT
rabbitmqctl --quiet --timeout 120 await_startup
while read -r user password; do
  [[ -z "$user" || "$user" == \#* ]] && continue
  rabbitmqctl --quiet change_password "$user" "$password"
done </run/secrets/rabbitmq_users
touch "$ready"
wait "$server"
