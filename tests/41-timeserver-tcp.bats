#!/usr/bin/env bats
# timeserver --tcp: strftime lines on one connection, daytime and time
# answer and close, limits and the idle timeout.

bats_require_minimum_version 1.5.0
load helpers

TS=$BATS_TEST_DIRNAME/peers/tsclient.py

ts_start() {
	start_server "$BATS_TEST_TMPDIR/srv" timeserver "$@"
}

@test "timeserver: strftime over TCP answers each line on one connection" {
	ts_start --tcp 127.0.0.1 0
	# The last line has no newline: end of stream still answers it.
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" tcp "$PORT" \
	    '%Y\n' '\n' 'x%%y\r\n%Q\n' '%Y'
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[0]} =~ ^20[0-9]{2}$ ]]
	[[ ${lines[1]} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}$ ]]
	same "${lines[2]}" "x%y"
	same "${lines[3]}" "error: invalid conversion"
	same "${lines[4]}" "${lines[0]}"
	[ -z "$stderr" ]
}

@test "timeserver: a TCP line over 1 KiB gets an error and the server goes on" {
	ts_start --tcp -v 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" tcp "$PORT" \
	    "%Y\\n$(printf 'A%.0s' {1..2000})\\n%Y\\n"
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^20[0-9]{2}$ ]]
	same "${lines[1]}" "error: line too long"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" tcp "$PORT" '%Y\n'
	[[ $output =~ ^20[0-9]{2}$ ]]
	grep -q 'line too long' "$BATS_TEST_TMPDIR/srv.err"
}

@test "timeserver: daytime over TCP sends one CRLF line and closes" {
	ts_start --tcp --proto daytime --utc 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" tcp --repr "$PORT"
	[[ $output =~ ^b\'[A-Z][a-z]+day,\ [A-Z][a-z]+\ [0-9]{2},\ [0-9]{4}\ [0-9:]{8}-UTC\\r\\n\'$ ]]
}

@test "timeserver: time over TCP sends exactly 4 bytes and closes" {
	ts_start --tcp --proto time 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" -c '
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
data = b""
while True:
    b = s.recv(100)
    if not b:
        break
    data += b
t, = struct.unpack("!I", data)
print(len(data), abs(t - (int(time.time()) + 2208988800) % 2**32) <= 2)
' "$PORT"
	same "$output" "4 True"
}

@test "timeserver: -w closes an idle TCP client" {
	ts_start --tcp -w 300ms -v 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" idle "$PORT"
	[[ $output == "closed after "* ]]
	wait_grep 'idle timeout' "$BATS_TEST_TMPDIR/srv.err"
}

@test "timeserver: -vv logs each TCP request" {
	ts_start --tcp -vv 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" tcp "$PORT" \
	    '%Y\n%Y\n'
	[ "${#lines[@]}" -eq 2 ]
	wait_grep '^sockkit: timeserver: 127.0.0.1:[0-9]*: strftime$' \
	    "$BATS_TEST_TMPDIR/srv.err"
	[ "$(grep -c ': strftime$' "$BATS_TEST_TMPDIR/srv.err")" -eq 2 ]
}

@test "timeserver: -U --tcp serves a Unix stream socket" {
	local sock=$BATS_TEST_TMPDIR/time.sock
	bg_run /dev/null "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" \
	    "$SK" timeserver --tcp -U "$sock"
	wait_socket "$sock" "$BG_PID"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -U "$sock" \
	    <<<'%Y'
	[[ $output =~ ^20[0-9]{2}$ ]]
}
