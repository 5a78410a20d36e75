#!/usr/bin/env bash
# Writes the secret files deploy/compose.yaml reads, with fresh random passwords, into
# deploy/secrets/ (or $1). Refuses to overwrite an existing directory: to rotate one
# password, edit its files (deploy/README.md, "Rotating passwords and tokens").
#   postgres_password  PostgreSQL's password of the user cohandle
#   rabbitmq_users     "user password" per line: cohandle and each agency of definitions.json
#   cohandle.toml      database.url and amqp.url with those passwords (cohandle --config)
set -euo pipefail
here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
out="${1:-$here/secrets}"
if [[ -e "$out" ]]; then
  echo "make-secrets: $out exists; not overwriting it" >&2
  exit 1
fi
password() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
users=$(python3 -c 'import json,sys; print("\n".join(u["name"] for u in json.load(open(sys.argv[1]))["users"]))' \
  "$here/rabbitmq/definitions.json")
umask 077
mkdir -p "$out"
umask 022 # the files are bind-mounted into containers that run as other users
pg=$(password)
printf '%s\n' "$pg" >"$out/postgres_password"
amqp=""
{
  echo "# user password (RabbitMQ users of deploy/rabbitmq/definitions.json)"
  while read -r user; do
    p=$(password)
    [[ "$user" == cohandle ]] && amqp=$p
    echo "$user $p"
  done <<<"$users"
} >"$out/rabbitmq_users"
cat >"$out/cohandle.toml" <<TOML
# Secrets of cohandle's roles, passed with --config; every other setting is a COHANDLE__
# variable in compose.yaml.
[database]
url = "postgres://cohandle:$pg@postgres:5432/cohandle"

[amqp]
url = "amqp://cohandle:$amqp@rabbitmq:5672/%2f"
TOML
echo "make-secrets: wrote $out (postgres_password, rabbitmq_users, cohandle.toml)"
