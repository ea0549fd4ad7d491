#!/usr/bin/env bats
# Bad input and failures: each gets a clear message naming what was wrong
# and the documented exit status; signals end sockkit cleanly.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# usage_error CMD ARGS... VALUE: expect exit 2, nothing on stdout, and one
# message line on stderr with the command's prefix naming VALUE.
usage_error() {
	local value=${*: -1}
	run -2 --separate-stderr timeout 10 "$SK" "${@:1:$#-1}" </dev/null
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ] ||
	    { echo "# stderr: $stderr" >&2; return 1; }
	[[ $stderr == "sockkit: $1: "*"$value"* ]] ||
	    { echo "# stderr: $stderr" >&2; return 1; }
}

# --- usage errors -------------------------------------------------------

@test "tcp-connect: port -1 is a usage error naming it" {
	usage_error tcp-connect -- 127.0.0.1 -1 "port -1"
}

@test "tcp-connect: port 65536 is a usage error naming it" {
	usage_error tcp-connect 127.0.0.1 65536 "port 65536"
}

@test "tcp-connect: port abc is a usage error naming it" {
	usage_error tcp-connect 127.0.0.1 abc "port abc"
}

@test "tcp-serve: port 65536 is a usage error naming it" {
	usage_error tcp-serve 127.0.0.1 65536 "port 65536"
}

@test "tcp-serve: port abc is a usage error naming it" {
	usage_error tcp-serve abc "port abc"
}

@test "tcp-connect: source port 70000 is a usage error naming it" {
	usage_error tcp-connect -p 70000 127.0.0.1 80 "70000"
}

@test "tcp-connect: timeout 2x is a usage error naming it" {
	usage_error tcp-connect -w 2x 127.0.0.1 80 "2x"
}

@test "tcp-serve: timeout -1 is a usage error naming it" {
	usage_error tcp-serve --timeout=-1 127.0.0.1 0 "-1"
}

@test "tcp-connect: retry 5 parsecs is a usage error naming it" {
	usage_error tcp-connect --retry 5pc 127.0.0.1 80 "5pc"
}

@test "tcp-connect: a reversed -z range is a usage error naming it" {
	usage_error tcp-connect -z 127.0.0.1 30-20 "30-20"
}

@test "tcp-connect: -n makes a service name a usage error" {
	usage_error tcp-connect -n 127.0.0.1 http "port http"
}

@test "tcp-serve: an unknown option is a usage error naming it" {
	run -2 --separate-stderr "$SK" tcp-serve --frobnicate 0 </dev/null
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "sockkit: tcp-serve: "*"--frobnicate"* ]]
}

# --- runtime failures ---------------------------------------------------

@test "tcp-connect: a refused connect exits 1 with the documented message" {
	local port
	port=$(free_port)
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$port" \
	    </dev/null
	[ -z "$output" ]
	same "$stderr" "sockkit: tcp-connect: connect to 127.0.0.1 port $port: Connection refused"
}

@test "tcp-connect: an unresolvable host exits 1 naming it" {
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    no-such-host.invalid 80 </dev/null
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "sockkit: tcp-connect: "*"no-such-host.invalid"* ]]
}

@test "tcp-connect: -n does not look up a host name" {
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -n localhost 80 \
	    </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: localhost port 80: "* ]]
}

@test "tcp-connect: a source address that is not local exits 1" {
	start_peer "$T/peer" server.py hold
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -s 192.0.2.1 \
	    127.0.0.1 "$PORT" </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"127.0.0.1"* ]]
}

@test "tcp-serve: a port in use exits 1 naming it" {
	start_peer "$T/peer" ports.py range
	run -1 --separate-stderr timeout 10 "$SK" tcp-serve 127.0.0.1 "$PORT" \
	    </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-serve: "*"$PORT"*"Address already in use" ]]
}

@test "tcp-serve: an unwritable --port-file is an error" {
	run -1 --separate-stderr timeout 10 "$SK" tcp-serve \
	    --port-file "$T/no/such/dir/port" 127.0.0.1 0 </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-serve: "*"$T/no/such/dir/port"* ]]
	[ ! -e "$T/no" ]
}

@test "tcp-serve: a client gone while its echo is sent is a reset, not 'Broken pipe'" {
	# A Unix peer that has closed makes the next write fail with EPIPE.
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-serve -U -k --echo -v \
	    "$T/e.sock"
	local pid=$BG_PID
	wait_socket "$T/e.sock" "$pid"
	timeout 10 "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"x" * 1000)
s.close()' "$T/e.sock"
	wait_grep "unix: connection reset by peer" "$T/err" ||
	    { sed 's/^/# stderr: /' "$T/err" >&2; false; }
	run ! grep -qi "broken pipe" "$T/err"
}

@test "tcp-connect: -P counts bytes in KiB, not KB" {
	head -c 300000 /dev/zero >"$T/in"
	start_server "$T/srv" tcp-serve 127.0.0.1 0
	# -P shows only when stderr is a terminal: script(1) gives it one.
	run -0 timeout 10 script -qec "\"$SK\" tcp-connect -P 127.0.0.1 $PORT \
	    <\"$T/in\" >/dev/null" /dev/null
	[[ $output == *"sent 293KiB, received 0B"* ]] ||
	    { echo "# output: $output" >&2; false; }
	[[ $output != *KB* ]]
}

@test "tcp-connect: a closed stdout does not kill it with SIGPIPE" {
	head -c 8M /dev/zero >"$T/8m"
	IN=$T/8m start_server "$T/srv" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 10 bash -c \
	    '"$SK" tcp-connect --recv-only 127.0.0.1 "$1" | head -c 10 |
	    wc -c; echo "${PIPESTATUS[0]}"' _ "$PORT"
	[ "${lines[0]}" = 10 ]
	# 141 would be death by SIGPIPE; a gone reader is an ordinary event.
	[[ ${lines[1]} == [01] ]]
}

@test "tcp-connect: a write error on stdout exits 1 naming stdout" {
	printf 'data\n' >"$T/data"
	IN=$T/data start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null /dev/full "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	expect_exit 1 "$BG_PID" "$T/err"
	[[ $(cat "$T/err") == "sockkit: tcp-connect: write standard output: No space left on device" ]] ||
	    { sed 's/^/# stderr: /' "$T/err" >&2; false; }
}

# --- signals ------------------------------------------------------------

# connected_client: start a tcp-connect -v to a holding Python server,
# stdin kept open, and wait until it has connected; $CPID is its PID.
connected_client() {
	mkfifo "$T/fifo"
	start_peer "$T/peer" server.py hold
	bg_run "rw:$T/fifo" "$T/out" "$T/err" \
	    "$SK" tcp-connect -v 127.0.0.1 "$PORT"
	CPID=$BG_PID
	wait_grep "connected" "$T/err"
}

@test "tcp-connect: SIGINT while connected exits 130 and closes the socket" {
	connected_client
	kill -INT "$CPID"
	expect_exit 130 "$CPID" "$T/err"
	# The server saw the connection end and stopped holding it.
	expect_exit 0 "$PEER_PID" "$T/peer.err"
}

@test "tcp-connect: SIGTERM while connected exits 143" {
	connected_client
	kill -TERM "$CPID"
	expect_exit 143 "$CPID" "$T/err"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
}

@test "tcp-serve: SIGINT while listening exits 130" {
	start_server "$T/out" tcp-serve 127.0.0.1 0
	kill -INT "$SERVER_PID"
	expect_exit 130 "$SERVER_PID" "$T/out.err"
	# The listening socket is gone with it.
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" </dev/null
}

@test "tcp-serve: SIGTERM while listening exits 143" {
	start_server "$T/out" tcp-serve 127.0.0.1 0
	kill -TERM "$SERVER_PID"
	expect_exit 143 "$SERVER_PID" "$T/out.err"
}

@test "tcp-serve: SIGINT while listening on -U removes the socket" {
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-serve -U "$T/sock"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	kill -INT "$spid"
	expect_exit 130 "$spid" "$T/err"
	[ ! -e "$T/sock" ]
}
