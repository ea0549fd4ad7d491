#!/usr/bin/env bats
# --hexdump on the UDP commands: every datagram each way, timed, tagged
# with its direction and peer (SPEC "Habits of nc, ncat and socat users").

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# hexbytes FILE DIR [PEER]: the bytes a --hexdump FILE shows going DIR,
# once the whole dump has been checked.
hexbytes() {
	"$PYTHON" "$PEERS/hexdump.py" "$@"
}

@test "udp-send, udp-listen: --hexdump FILE shows each datagram, timed and tagged" {
	start_server "$T/out" udp-listen --hexdump "$T/ldump" -W 1 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" udp-send --hexdump "$T/sdump" \
	    -w 1s 127.0.0.1 "$PORT" ping
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ "$(cat "$T/out")" = "ping" ]
	[ "$(hexbytes "$T/sdump" '>' "127.0.0.1 port $PORT")" = "ping" ]
	[ "$(hexbytes "$T/ldump" '<')" = "ping" ]
	grep -Eq '^20[0-9-]{8}T[0-9:]{8}\.[0-9]{6}Z < 127\.0\.0\.1:[0-9]+: 4 bytes at 0$' \
	    "$T/ldump"
}

@test "udp-listen --echo: --hexdump - writes both ways to stderr" {
	start_server "$T/out" udp-listen --echo --hexdump - 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" udp-send -r 2 -w 5s \
	    127.0.0.1 "$PORT" <<<$'one\ntwo'
	[ "$output" = $'one\ntwo' ]
	wait_grep '^> 0000000[34] ' "$T/out.err"
	hexbytes "$T/out.err" '<' >"$T/in"
	hexbytes "$T/out.err" '>' >"$T/back"
	[[ $(cat "$T/in") == one*two* ]]
	cmp "$T/in" "$T/back"
	[ "$(grep -c '^20.* < 127\.0\.0\.1:[0-9]*: [34] bytes at ' "$T/out.err")" = 2 ]
}
