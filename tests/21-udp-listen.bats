#!/usr/bin/env bats
# udp-listen: output framing, --show-sender, --echo, -W, replies from
# stdin, multicast, -w, usage errors, Unix datagram sockets.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# send [HOST] DATA...: send each DATA as one datagram to $PORT from one
# socket, recording replies to $T/replies (the peer runs on).
send() {
	local host=127.0.0.1
	[[ $1 == *:* || $1 == 127.* ]] && { host=$1; shift; }
	bg_run /dev/null /dev/null "$T/send.err" "$PYTHON" "$PEERS/udp.py" \
	    --host "$host" - send "$PORT" "$T/replies" "$@"
	SEND_PID=$BG_PID
}

@test "udp-listen: a datagram a line, a newline added unless there" {
	start_server "$T/out" udp-listen -W 3 127.0.0.1 0
	send one $'two\n' ''
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(cat "$T/out"; echo .)" $'one\ntwo\n\n.'
	[ ! -s "$T/out.err" ]
}

@test "udp-listen: --frame raw writes the bytes exactly" {
	start_server "$T/out" udp-listen --frame raw -W 3 127.0.0.1 0
	send one $'two\n' three
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(cat "$T/out"; echo .)" $'onetwo\nthree.'
}

@test "udp-listen: a 65507-byte datagram arrives whole" {
	start_server "$T/out" udp-listen --frame raw -W 1 127.0.0.1 0
	"$SK" udp-send -w 0 127.0.0.1 "$PORT" "$(printf '%65507s' x)"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(stat -c %s "$T/out")" 65507
}

@test "udp-listen: --show-sender prefixes HOST:PORT (IPv4)" {
	start_server "$T/out" udp-listen --show-sender -W 1 127.0.0.1 0
	send hi
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[[ $(<"$T/out") =~ ^127\.0\.0\.1:[0-9]+\ hi$ ]]
}

@test "udp-listen: --show-sender prefixes [HOST]:PORT (IPv6)" {
	have_ipv6 || skip "::1 is not available"
	start_server "$T/out" udp-listen --show-sender -W 1 ::1 0
	send ::1 hi
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[[ $(<"$T/out") =~ ^\[::1\]:[0-9]+\ hi$ ]]
}

@test "udp-listen: IPv4 senders to the dual-stack wildcard show as IPv4" {
	have_ipv6 || skip "::1 is not available"
	start_server "$T/out" udp-listen --show-sender -W 1 0
	send hi
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[[ $(<"$T/out") =~ ^127\.0\.0\.1:[0-9]+\ hi$ ]]
}

@test "udp-listen: --echo sends each datagram back to its sender" {
	start_server "$T/out" udp-listen --echo 127.0.0.1 0
	send ping pong
	wait_grep pong "$T/replies"
	same "$(<"$T/replies")" $'b\'ping\'\nb\'pong\''
	same "$(<"$T/out")" $'ping\npong'
}

@test "udp-listen: -W N exits after exactly N datagrams" {
	start_server "$T/out" udp-listen -W 2 127.0.0.1 0
	send a b c d
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" $'a\nb'
}

@test "udp-listen: stdin lines go to the most recent sender" {
	mkfifo "$T/in"
	IN=rw:$T/in start_server "$T/out" udp-listen 127.0.0.1 0
	send from-a
	local a=$SEND_PID
	# The peer opened its record file before it sent.
	wait_grep from-a "$T/out"
	mv "$T/replies" "$T/replies.a"
	send from-b
	wait_grep from-b "$T/out"
	printf 'answer\nsecond\n' >"$T/in"
	wait_grep second "$T/replies"
	same "$(<"$T/replies")" $'b\'answer\\n\'\nb\'second\\n\''
	kill "$a"
	[ ! -s "$T/replies.a" ]
}

@test "udp-listen: joins an IPv4 multicast group on loopback" {
	start_server "$T/out" udp-listen -W 1 --join 239.255.42.7%lo 0
	"$SK" udp-send -w 0 --ttl 0 239.255.42.7%lo "$PORT" group-hello
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" group-hello
}

@test "udp-listen: joins an IPv6 multicast group (interface-local)" {
	have_ipv6 || skip "::1 is not available"
	# ff01:: is interface-local: the kernel loops it back and never
	# sends it on a wire; --ttl 0 makes sure of it.
	start_server "$T/out" udp-listen -W 1 --join ff01::4:2 0
	"$SK" udp-send -w 0 --ttl 0 ff01::4:2 "$PORT" group6-hello
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" group6-hello
}

@test "udp-listen: a bad group is a usage error" {
	run -2 --separate-stderr "$SK" udp-listen --join 10.1.2.3 0
	same "$stderr" "sockkit: udp-listen: join 10.1.2.3: not a multicast address"
	run -2 --separate-stderr "$SK" udp-listen --join 239.1.2.3%nosuchif0 0
	same "$stderr" "sockkit: udp-listen: join 239.1.2.3%nosuchif0: unknown interface"
	run -2 --separate-stderr "$SK" udp-listen -6 --join 239.1.2.3 0
	same "$stderr" "sockkit: udp-listen: join 239.1.2.3: not an IPv6 group"
	[ -z "$output" ]
}

@test "udp-listen: a bad port is a usage error" {
	run -2 --separate-stderr "$SK" udp-listen 127.0.0.1 -1
	[[ $stderr == *"port -1: invalid port"* || $stderr == *"invalid option"* ]]
	run -2 --separate-stderr "$SK" udp-listen 65536
	same "$stderr" "sockkit: udp-listen: port 65536: invalid port"
}

@test "udp-listen: -w ends a quiet listener with 0, an unmet -W with 1" {
	start_server "$T/out" udp-listen -w 200ms 127.0.0.1 0
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out.err" ]
	start_server "$T/out" udp-listen -w 300ms -W 2 127.0.0.1 0
	send one
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out.err")" "sockkit: udp-listen: timed out: 1 of 2 datagrams"
}

@test "udp-listen: Unix datagrams both ways; the path is removed" {
	local sock=$T/l.sock
	mkfifo "$T/in"
	bg_run "rw:$T/in" "$T/out" "$T/err" "$SK" udp-listen -U "$sock"
	local pid=$BG_PID
	wait_socket "$sock" "$pid"
	bg_run /dev/null /dev/null "$T/peer.err" "$PYTHON" "$PEERS/udp.py" \
	    - unix-send "$sock" "$T/replies" hello
	wait_grep hello "$T/out"
	echo back >"$T/in"
	wait_grep back "$T/replies"
	same "$(<"$T/replies")" "b'back\\n'"
	kill -TERM "$pid"
	expect_exit 143 "$pid" "$T/err"
	[ ! -e "$sock" ]
}

@test "udp-listen: udp-send and udp-listen talk over a Unix socket" {
	local sock=$T/l.sock
	bg_run /dev/null "$T/out" "$T/err" "$SK" udp-listen -U --echo "$sock"
	local pid=$BG_PID
	wait_socket "$sock" "$pid"
	run -0 --separate-stderr env TMPDIR="$T" "$SK" udp-send -U -r 2 \
	    "$sock" < <(printf 'l1\nl2\n')
	same "$output" $'l1\nl2'
	same "$(<"$T/out")" $'l1\nl2'
}

@test "udp-listen: printf answer | udp-listen -W 1 answers the sender, then exits" {
	printf 'answer\n' >"$T/answer"
	IN=$T/answer start_server "$T/out" udp-listen -W 1 127.0.0.1 0
	send ping
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" ping
	wait_grep answer "$T/replies"
	same "$(<"$T/replies")" "b'answer\\n'"
}

@test "udp-listen: -W 1 with stdin /dev/null exits after the datagram" {
	start_server "$T/out" udp-listen -W 1 127.0.0.1 0
	send ping
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" ping
}

@test "udp-listen: a 100000-byte Unix datagram arrives whole" {
	local sock=$T/big.sock
	bg_run /dev/null "$T/out" "$T/err" "$SK" udp-listen -U --frame raw \
	    -W 1 "$sock"
	local pid=$BG_PID
	wait_socket "$sock" "$pid"
	"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s.sendto(b"x" * 100000, sys.argv[1])
' "$sock"
	expect_exit 0 "$pid" "$T/err"
	same "$(wc -c <"$T/out")" 100000
	[ ! -s "$T/err" ]
}

@test "udp-listen: a Unix datagram longer than the buffer is reported, exit 1" {
	local sock=$T/big.sock max
	[[ $(id -u) == 0 ]] || skip "SO_SNDBUFFORCE needs root"
	# The slot is the wmem_max sysctl, at most 4 MiB.
	max=$(</proc/sys/net/core/wmem_max)
	if ((max < 65536)); then max=65536; fi
	if ((max > 4194304)); then max=4194304; fi
	bg_run /dev/null "$T/out" "$T/err" "$SK" udp-listen -U --frame raw \
	    -W 1 "$sock"
	local pid=$BG_PID
	wait_socket "$sock" "$pid"
	"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)  # SO_SNDBUFFORCE
s.sendto(b"x" * (int(sys.argv[2]) + 1000), sys.argv[1])
' "$sock" "$max"
	expect_exit 1 "$pid" "$T/err"
	same "$(<"$T/err")" "sockkit: udp-listen: datagram cut to $max bytes: longer than the receive buffer"
}
