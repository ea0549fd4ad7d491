#!/usr/bin/env bats
# udp-send: datagram boundaries, replies and the wait for them, refusals,
# usage errors, Unix datagram sockets.  Peers: tests/peers/udp.py.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# record N: start a peer that records N datagrams to $T/got.
record() {
	start_peer "$T/peer" udp.py record "$T/got" "$1"
}

# got: wait for the peer to write $T/got.
got() {
	expect_exit 0 "$PEER_PID" "$T/peer.err"
}

# ms: milliseconds on the wall clock.
ms() {
	date +%s%3N
}

@test "udp-send: each stdin line is one datagram, its newline kept" {
	record 4
	run -0 --separate-stderr "$SK" udp-send -w 0 127.0.0.1 "$PORT" \
	    < <(printf 'one\ntwo words\n\nlast')
	got
	same "$(<"$T/got")" "b'one\\n'
b'two words\\n'
b'\\n'
b'last'"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "udp-send: MESSAGE words are one datagram, joined by spaces" {
	record 1
	run -0 --separate-stderr "$SK" udp-send -w 0 127.0.0.1 "$PORT" \
	    hello big  world </dev/null
	got
	same "$(<"$T/got")" "b'hello big world'"
}

@test "udp-send: --frame raw sends each read as it is" {
	record 1
	run -0 --separate-stderr "$SK" udp-send -w 0 --frame raw \
	    127.0.0.1 "$PORT" < <(printf 'a\nb\n')
	got
	same "$(<"$T/got")" "b'a\\nb\\n'"
}

@test "udp-send: lines up to 65507 bytes (newline included) go whole" {
	start_peer "$T/peer" udp.py sizes "$T/got" 3
	"$PYTHON" -c 'import sys; w = sys.stdout.write
w("x" * 65506 + "\n"); w("y" * 30000 + "\n"); w("z\n")' >"$T/in"
	run -0 --separate-stderr "$SK" udp-send -w 0 127.0.0.1 "$PORT" \
	    <"$T/in"
	got
	same "$(<"$T/got")" $'65507\n30001\n2'
}

@test "udp-send: --repeat and -i send MESSAGE periodically" {
	record 3
	local t0=$(ms)
	run -0 --separate-stderr "$SK" udp-send -w 0 --repeat 3 -i 150ms \
	    127.0.0.1 "$PORT" tick
	got
	same "$(<"$T/got")" $'b\'tick\'\nb\'tick\'\nb\'tick\''
	(($(ms) - t0 >= 300))
}

@test "udp-send: replies are written as lines, as they arrive" {
	start_peer "$T/peer" udp.py reply 0 'r1' 'r2\n'
	run -0 --separate-stderr "$SK" udp-send -r 2 127.0.0.1 "$PORT" hi
	same "$output" $'r1\nr2'
	[ -z "$stderr" ]
}

@test "udp-send: --show-sender prefixes replies (IPv4)" {
	start_peer "$T/peer" udp.py reply 0 pong
	run -0 --separate-stderr "$SK" udp-send --show-sender -r 1 \
	    127.0.0.1 "$PORT" ping
	same "$output" "127.0.0.1:$PORT pong"
}

@test "udp-send: --show-sender prefixes replies (IPv6)" {
	have_ipv6 || skip "::1 is not available"
	PEER_HOST=::1 start_peer "$T/peer" udp.py reply 0 pong
	run -0 --separate-stderr "$SK" udp-send --show-sender -r 1 ::1 \
	    "$PORT" ping
	same "$output" "[::1]:$PORT pong"
}

@test "udp-send: -r 1 exits as soon as the reply came" {
	start_peer "$T/peer" udp.py reply 0 pong
	local t0=$(ms)
	run -0 --separate-stderr "$SK" udp-send -r 1 -w 5 127.0.0.1 "$PORT" \
	    ping
	same "$output" pong
	(($(ms) - t0 < 2500))
}

@test "udp-send: -r N not reached within -w is a failure" {
	start_peer "$T/peer" udp.py reply 0 pong
	run -1 --separate-stderr "$SK" udp-send -r 2 -w 200ms 127.0.0.1 \
	    "$PORT" ping
	same "$output" pong
	same "$stderr" "sockkit: udp-send: timed out: 1 of 2 replies"
}

@test "udp-send: waits 1s after the last reply by default, then exits 0" {
	start_peer "$T/peer" udp.py reply 0.5 late
	local t0=$(ms) dt
	run -0 --separate-stderr "$SK" udp-send 127.0.0.1 "$PORT" ping
	dt=$(($(ms) - t0))
	same "$output" late
	[ -z "$stderr" ]
	# 0.5 s for the reply, then 1 s of quiet.
	((dt >= 1400 && dt < 5000)) || { echo "# took $dt ms" >&2; false; }
}

@test "udp-send: a refused last datagram ends the wait with exit 1" {
	local port t0=$(ms)
	port=$(free_port)
	run -1 --separate-stderr "$SK" udp-send -w 5 127.0.0.1 "$port" x
	same "$stderr" "sockkit: udp-send: 127.0.0.1 port $port: Connection refused"
	(($(ms) - t0 < 2500))
}

@test "udp-send: refusals while sending are reported with -v only" {
	local port
	port=$(free_port)
	run -1 --separate-stderr "$SK" udp-send -v --repeat 3 -i 100ms \
	    127.0.0.1 "$port" x
	[[ $stderr == *"sent 3 datagrams"* ]]
	(($(grep -c 'Connection refused' <<<"$stderr") >= 2))
	run -1 --separate-stderr "$SK" udp-send --repeat 3 -i 100ms \
	    127.0.0.1 "$port" x
	same "$stderr" "sockkit: udp-send: 127.0.0.1 port $port: Connection refused"
}

@test "udp-send: a bad port is a usage error" {
	run -2 --separate-stderr "$SK" udp-send 127.0.0.1 65536 x
	same "$stderr" "sockkit: udp-send: port 65536: invalid port"
	run -2 --separate-stderr "$SK" udp-send 127.0.0.1 abc x
	same "$stderr" "sockkit: udp-send: port abc: unknown service"
	[ -z "$output" ]
}

@test "udp-send: an oversize MESSAGE is a usage error" {
	run -2 --separate-stderr "$SK" udp-send 127.0.0.1 9 \
	    "$(printf '%65508s' x)"
	same "$stderr" "sockkit: udp-send: message too long: 65508 bytes (a datagram holds at most 65507)"
}

@test "udp-send: an oversize stdin line fails after the lines before it" {
	record 1
	printf 'ok\n%65508s\n' x >"$T/in"
	run -1 --separate-stderr "$SK" udp-send 127.0.0.1 "$PORT" <"$T/in"
	got
	same "$(<"$T/got")" "b'ok\\n'"
	same "$stderr" "sockkit: udp-send: stdin: line too long (a datagram holds at most 65507 bytes)"
}

@test "udp-send: usage errors: len32, --repeat without MESSAGE, no PORT" {
	run -2 --separate-stderr "$SK" udp-send --frame len32 127.0.0.1 9
	[[ $stderr == *"frame len32: not for datagrams"* ]]
	run -2 --separate-stderr "$SK" udp-send --repeat 2 127.0.0.1 9
	same "$stderr" "sockkit: udp-send: cannot use --repeat without MESSAGE"
	run -2 --separate-stderr "$SK" udp-send 127.0.0.1
	same "${stderr_lines[0]}" "sockkit: udp-send: missing PORT"
	[[ ${stderr_lines[1]} == "usage: sockkit udp-send "* ]]
}

@test "udp-send: Unix datagrams both ways; its own path is removed" {
	local sock=$T/srv.sock
	bg_run /dev/null "$T/peer" "$T/peer.err" "$PYTHON" "$PEERS/udp.py" \
	    - unix-reply "$sock" pong
	wait_socket "$sock" "$BG_PID"
	run -0 --separate-stderr env TMPDIR="$T" "$SK" udp-send -U -r 1 \
	    --show-sender "$sock" ping
	same "$output" "$sock pong"
	[ -z "$(find "$T" -name 'sockkit.*')" ]
}

@test "udp-send: a missing Unix socket is a runtime error" {
	run -1 --separate-stderr env TMPDIR="$T" "$SK" udp-send -U \
	    "$T/none.sock" x
	same "$stderr" "sockkit: udp-send: connect to $T/none.sock: No such file or directory"
	[ -z "$(find "$T" -name 'sockkit.*')" ]
}

@test "udp-send: the Unix client path is removed on SIGTERM" {
	local sock=$T/srv.sock
	bg_run /dev/null "$T/peer" "$T/peer.err" "$PYTHON" "$PEERS/udp.py" \
	    - unix-reply "$sock" pong
	wait_socket "$sock" "$BG_PID"
	mkfifo "$T/fifo"
	TMPDIR=$T bg_run "rw:$T/fifo" "$T/out" "$T/err" "$SK" udp-send -U \
	    "$sock"
	local pid=$BG_PID
	echo hi >"$T/fifo"
	wait_grep pong "$T/out"
	[ -n "$(find "$T" -name 'sockkit.*')" ]
	kill -TERM "$pid"
	expect_exit 143 "$pid" "$T/err"
	[ -z "$(find "$T" -name 'sockkit.*')" ]
}

# nc_udp_listen PORT: start nc -u -l on 127.0.0.1 PORT, its output in
# $T/nc.out; wait until the port is bound.
nc_udp_listen() {
	local i
	command -v nc >/dev/null || skip "nc is not installed"
	bg_run /dev/null "$T/nc.out" "$T/nc.err" nc -u -l 127.0.0.1 "$1"
	NC_PID=$BG_PID
	for ((i = 0; i < WAIT_SECS * 20; i++)); do
		[[ -n $(ss -Hlun "sport = :$1") ]] && return 0
		sleep 0.05
	done
	echo "# nc did not bind port $1" >&2
	return 1
}

@test "udp-send: nc -u -l gets stdin's lines with their newlines" {
	local port
	port=$(free_port)
	nc_udp_listen "$port"
	run -0 --separate-stderr "$SK" udp-send -w 0 127.0.0.1 "$port" \
	    < <(printf 'x\ny\n')
	wait_grep y "$T/nc.out"
	same "$(od -c <"$T/nc.out")" "$(printf 'x\ny\n' | od -c)"
}

@test "udp-send: stdin datagrams all refused, no reply: exit 1 with a message" {
	local port
	port=$(free_port)
	run -1 --separate-stderr "$SK" udp-send 127.0.0.1 "$port" < <(echo hi)
	same "$stderr" "sockkit: udp-send: 127.0.0.1 port $port: Connection refused"
	[ -z "$output" ]
	# Slower stdin, so the refusal comes before stdin's end.
	run -1 --separate-stderr "$SK" udp-send -w 300ms 127.0.0.1 "$port" \
	    < <(echo hi; sleep 0.3; echo ho; sleep 0.3)
	same "$stderr" "sockkit: udp-send: 127.0.0.1 port $port: Connection refused"
}

@test "udp-send: --count is not udp-send's option (it is --repeat)" {
	run -2 --separate-stderr "$SK" udp-send --count 2 127.0.0.1 9 x
	same "$stderr" "sockkit: udp-send: --count is now --repeat N on udp-send"
}
