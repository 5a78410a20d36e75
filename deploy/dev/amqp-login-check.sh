#!/usr/bin/env bash
# Check that an AMQP 0-9-1 broker accepts a login, in pure bash (no client library,
# no Erlang VM to boot: takes milliseconds, which is why ensure-rabbitmq.sh uses it
# for its "already running" fast path).
#
#   amqp-login-check.sh [host] [port] [user] [password] [vhost]
#   defaults:           127.0.0.1 5672 guest guest /
#
# Performs the real handshake - protocol header, Connection.Start/Start-Ok (PLAIN),
# Tune/Tune-Ok, Open(vhost)/Open-Ok - then closes the connection politely
# (Close/Close-Ok), so the broker logs a normal open/close. Exit 0 if the broker
# accepted the login and the vhost; non-zero otherwise (reason on stderr with -v,
# i.e. AMQP_CHECK_VERBOSE=1). Gives up after AMQP_CHECK_TIMEOUT seconds (default 5).
set -euo pipefail

HOST="${1:-127.0.0.1}"
PORT="${2:-5672}"
USER_NAME="${3:-guest}"
PASSWORD="${4:-guest}"
VHOST="${5:-/}"
TIMEOUT="${AMQP_CHECK_TIMEOUT:-5}"

if [[ "${AMQP_CHECK_INNER:-0}" != 1 ]]; then
	# Re-run under `timeout` so that a broker that accepts TCP but never answers
	# cannot hang the caller.
	rc=0
	AMQP_CHECK_INNER=1 timeout "$TIMEOUT" bash "$(readlink -f "${BASH_SOURCE[0]}")" \
		"$HOST" "$PORT" "$USER_NAME" "$PASSWORD" "$VHOST" || rc=$?
	if [[ $rc == 124 && "${AMQP_CHECK_VERBOSE:-0}" == 1 ]]; then
		echo "amqp-login-check: no complete answer from $HOST:$PORT within ${TIMEOUT}s" >&2
	fi
	exit "$rc"
fi

fail() {
	[[ "${AMQP_CHECK_VERBOSE:-0}" == 1 ]] && echo "amqp-login-check: $*" >&2
	exit 1
}

hex_of() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# hex -> bytes ("41ce" -> 'A' 0xce)
# shellcheck disable=SC2001 # a per-pair replacement needs sed's back-reference
bytes_of_hex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
send_hex() { bytes_of_hex "$1" >&3; }
# read exactly N bytes from the socket, as hex (dd bs=1 never reads ahead)
read_hex() { dd bs=1 count="$1" <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }
u8() { printf '%02x' "$1"; }
u16() { printf '%04x' "$1"; }
u32() { printf '%08x' "$1"; }
shortstr() { u8 "${#1}"; hex_of "$1"; }

# Send a method frame on channel 0.
send_method() { # <payload-hex>
	local payload="$1"
	send_hex "010000$(u32 $((${#payload} / 2)))${payload}ce"
}

# Read the next method frame on channel 0 (skipping heartbeats); print its payload hex.
read_method() {
	local hdr size body
	while :; do
		hdr="$(read_hex 7)"
		[[ ${#hdr} == 14 ]] || fail "connection closed by the broker"
		size=$((16#${hdr:6:8}))
		body="$(read_hex $((size + 1)))"
		[[ ${#body} == $(((size + 1) * 2)) && ${body: -2} == ce ]] || fail "malformed frame"
		case "${hdr:0:2}" in
		01) break ;;
		08) continue ;; # heartbeat
		*) fail "unexpected frame type ${hdr:0:2}" ;;
		esac
	done
	printf '%s' "${body:0:size*2}"
}

expect_method() { # <class-method-hex> <what>
	local got
	got="$(read_method)"
	if [[ ${got:0:8} != "$1" ]]; then
		if [[ ${got:0:8} == 000a0032 ]]; then # Connection.Close: reply-code + reply-text
			local code=$((16#${got:8:4})) len=$((16#${got:12:2}))
			local text
			text="$(bytes_of_hex "${got:14:len*2}")"
			fail "broker refused at $2: $code $text"
		fi
		fail "expected $2, got class/method ${got:0:8}"
	fi
	printf '%s' "$got"
}

{ exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || fail "cannot connect to $HOST:$PORT"

send_hex "$(hex_of AMQP)00000901"
expect_method 000a000a "Connection.Start" >/dev/null

# Connection.Start-Ok: client-properties (empty table), mechanism, response, locale
response="00$(hex_of "$USER_NAME")00$(hex_of "$PASSWORD")"
send_method "000a000b$(u32 0)$(shortstr PLAIN)$(u32 $((${#response} / 2)))${response}$(shortstr en_US)"

tune="$(expect_method 000a001e "Connection.Tune (login)")"
# Tune-Ok: echo the broker's channel-max and frame-max, no heartbeats
send_method "000a001f${tune:8:4}${tune:12:8}$(u16 0)"

# Connection.Open: vhost, reserved shortstr, reserved bit
send_method "000a0028$(shortstr "$VHOST")0000"
expect_method 000a0029 "Connection.Open (vhost '$VHOST')" >/dev/null

# Connection.Close 200 "", then wait for Close-Ok
send_method "000a0032$(u16 200)$(shortstr '')$(u16 0)$(u16 0)"
expect_method 000a0033 "Connection.Close" >/dev/null
exit 0
