#!/usr/bin/env bats
# The End-of-stream table of SPEC.md, row by row, for tcp-connect against a
# Python server and for tcp-serve against a Python client; the Python peer
# observes what sockkit did on the wire.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	printf 'hello' >"$T/hello"
	mkfifo "$T/fifo"
}

# client ARGS...: run the Python client, bounded.
client() {
	timeout 10 "$PYTHON" "$PEERS/client.py" "$@"
}

# --- tcp-connect --------------------------------------------------------

@test "tcp-connect: stdin EOF half-closes and the reply still arrives" {
	start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$T/hello"
	[ "$output" = "got 5" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: stdin EOF from a pipe half-closes too" {
	start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 bash -c \
	    'printf "hello\n" | "$SK" tcp-connect 127.0.0.1 "$1"' _ "$PORT"
	[ "$output" = "got 6" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: stdin /dev/null half-closes at once" {
	start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    </dev/null
	[ "$output" = "got 0" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: the peer sees EOF soon after stdin ends" {
	start_peer "$T/peer" server.py eofcheck 5
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$T/hello"
	[ "$output" = "eof 5" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: --no-shutdown keeps the write side open at stdin EOF" {
	start_peer "$T/peer" server.py eofcheck 0.5
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --no-shutdown \
	    127.0.0.1 "$PORT" <"$T/hello"
	[ "$output" = "no-eof 5" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: peer EOF ends the session when stdin is a terminal" {
	start_peer "$T/peer" server.py bye
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/ptyrun.py" \
	    "$SK" tcp-connect 127.0.0.1 "$PORT"
	[ "$output" = "bye" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: peer EOF does not end the session while stdin is a pipe" {
	start_peer "$T/peer" server.py halfclose "$T/got"
	seq 1 5000 >"$T/payload"
	exec 5<>"$T/fifo"
	bg_run "$T/fifo" "$T/out" "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	local pid=$BG_PID
	wait_grep '^hi$' "$T/out"
	# The peer's EOF has come; sockkit must still be sending.
	sleep 0.3
	running "$pid"
	cat "$T/payload" >&5
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
	wait_file "$T/got" "$PEER_PID"
	cmp "$T/payload" "$T/got"
	[ ! -s "$T/err" ]
}

@test "tcp-connect: --keep-sending sends stdin after the peer's EOF" {
	start_peer "$T/peer" server.py halfclose "$T/got"
	seq 1 5000 >"$T/payload"
	# The test holds the FIFO open read-write, so stdin ends when it
	# closes fd 5, and no open ever blocks.
	exec 5<>"$T/fifo"
	bg_run "$T/fifo" "$T/out" "$T/err" \
	    "$SK" tcp-connect --keep-sending 127.0.0.1 "$PORT"
	local pid=$BG_PID
	# "hi" and the peer's FIN come together; write stdin only after.
	wait_grep '^hi$' "$T/out"
	cat "$T/payload" >&5
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
	wait_file "$T/got" "$PEER_PID"
	cmp "$T/payload" "$T/got"
	[ "$(cat "$T/out")" = "hi" ]
	[ ! -s "$T/err" ]
}

@test "tcp-connect: no traffic for -w ends the session with status 1" {
	start_peer "$T/peer" server.py hold
	local t0=$SECONDS
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -w 500ms \
	    127.0.0.1 "$PORT" <>"$T/fifo"
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "* ]]
	[[ $stderr =~ no\ traffic|time(d)?\ ?out ]]
	[ "$((SECONDS - t0))" -lt 5 ]
}

@test "tcp-connect: -w is an idle timeout, not a session limit" {
	start_peer "$T/peer" server.py echo
	# Seven lines 0.2 s apart: 1.4 s in all, never 1 s idle.
	run -0 --separate-stderr timeout 10 bash -c \
	    'for i in 1 2 3 4 5 6 7; do echo $i; sleep 0.2; done |
	    "$SK" tcp-connect -w 1s 127.0.0.1 "$1"' _ "$PORT"
	[ "$output" = "$(seq 1 7)" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: a peer reset is an error with status 1" {
	start_peer "$T/peer" server.py reset
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <>"$T/fifo"
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"reset"* ]]
}

@test "tcp-connect: --send-only sends stdin and ignores the peer's data" {
	start_peer "$T/peer" server.py record "$T/got" "ignored"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --send-only \
	    127.0.0.1 "$PORT" <"$T/hello"
	[ -z "$output" ]
	[ -z "$stderr" ]
	wait_file "$T/got" "$PEER_PID"
	[ "$(cat "$T/got")" = "hello" ]
}

@test "tcp-connect: --recv-only neither reads stdin nor half-closes" {
	start_peer "$T/peer" server.py sendwait "data" 0.5 "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --recv-only \
	    127.0.0.1 "$PORT" <"$T/hello"
	[ "$output" = "data" ]
	[ -z "$stderr" ]
	wait_file "$T/got" "$PEER_PID"
	[ "$(cat "$T/got")" = "0 no-eof" ]
}

@test "tcp-connect: --send-only delivers every byte though the peer talks" {
	# The peer sends one byte sockkit never reads, and reads slowly, so
	# sockkit's last bytes still sit in its send queue when it is done
	# with stdin: closing then must not reset the connection.
	head -c 16M /dev/zero >"$T/16m"
	start_peer "$T/peer" server.py slowrecord 0.5 "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --send-only \
	    127.0.0.1 "$PORT" <"$T/16m"
	[ -z "$output" ]
	wait_file "$T/got" "$PEER_PID"
	same "$(cat "$T/got")" "16777216 eof"
}

@test "tcp-connect: writes data to stdout as it arrives" {
	# The server sends a line and waits for our EOF: the line must show
	# while the session is still open, not when it ends.
	start_peer "$T/peer" server.py record "$T/got" "first line"$'\n'
	exec 5<>"$T/fifo"
	bg_run "$T/fifo" "$T/out" "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	local pid=$BG_PID
	wait_grep '^first line$' "$T/out"
	running "$pid"
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
}

# --- tcp-serve ----------------------------------------------------------

@test "tcp-serve: stdin EOF half-closes and data still comes in" {
	IN=$T/hello start_server "$T/out" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr client 127.0.0.1 "$PORT" readsend "after"
	[ "$output" = "hello" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ "$(cat "$T/out")" = "after" ]
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: --no-shutdown keeps the write side open at stdin EOF" {
	IN=$T/hello start_server "$T/out" tcp-serve --no-shutdown 127.0.0.1 0
	run -0 --separate-stderr client 127.0.0.1 "$PORT" eofcheck 0.5
	[ "$output" = "hellono-eof" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
}

@test "tcp-serve: peer EOF ends the session when stdin is a terminal" {
	bg_run /dev/null "$T/out" "$T/out.err" "$PYTHON" "$PEERS/ptyrun.py" \
	    "$SK" tcp-serve --port-file "$T/pf" 127.0.0.1 0
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	run -0 --separate-stderr client 127.0.0.1 "$(cat "$T/pf")" sendclose "bye"
	[ -z "$output" ]
	expect_exit 0 "$spid" "$T/out.err"
	[ "$(cat "$T/out")" = "bye" ]
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: --keep-sending sends stdin after the peer's EOF" {
	seq 1 5000 >"$T/payload"
	exec 5<>"$T/fifo"
	IN=$T/fifo start_server "$T/out" tcp-serve --keep-sending 127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" sendclose "hi"
	local cpid=$BG_PID
	wait_grep '^hi$' "$T/out"
	cat "$T/payload" >&5
	exec 5>&-
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	expect_exit 0 "$cpid" "$T/client.err"
	cmp "$T/payload" "$T/got"
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: no traffic for -w ends the session with status 1" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -w 500ms 127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	local cpid=$BG_PID
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "* ]]
	[[ $(cat "$T/out.err") =~ no\ traffic|time(d)?\ ?out ]]
	# The client saw the connection closed.
	expect_exit 0 "$cpid" "$T/client.err"
	[ ! -s "$T/out" ]
}

@test "tcp-serve: serves exactly one connection" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -v 127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	wait_grep "connection from" "$T/out.err"
	# The listening socket was closed when the first one was accepted.
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" </dev/null
	[[ $stderr == *"Connection refused" ]]
	running "$SERVER_PID"
}

@test "tcp-serve: --port-file holds the bound port and a newline" {
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-serve --recv-only --port-file "$T/pf" 127.0.0.1 0
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	[ "$(wc -l <"$T/pf")" -eq 1 ]
	grep -qxE '[1-9][0-9]*' "$T/pf"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$(cat "$T/pf")" <"$T/hello"
	expect_exit 0 "$spid" "$T/err"
	[ "$(cat "$T/out")" = "hello" ]
}

@test "tcp-serve: -w with no client exits 1 with a timeout message" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -w 300ms 127.0.0.1 0
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "* ]]
	[[ $(cat "$T/out.err") =~ time(d)?\ ?out ]]
	[ ! -s "$T/out" ]
}

@test "tcp-serve: a peer reset is an error with status 1" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr client 127.0.0.1 "$PORT" reset
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "*"reset"* ]]
	[ ! -s "$T/out" ]
}

@test "tcp-serve: --send-only sends stdin and ignores the peer's data" {
	IN=$T/hello start_server "$T/out" tcp-serve --send-only 127.0.0.1 0
	run -0 --separate-stderr client 127.0.0.1 "$PORT" sendclose "ignored"
	[[ $output == *hello ]]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: --recv-only neither reads stdin nor half-closes" {
	IN=$T/hello start_server "$T/out" tcp-serve --recv-only 127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" sendpeek "data" 0.5
	local cpid=$BG_PID
	# The client keeps its side open for 0.5 s: no data, no EOF may come.
	expect_exit 0 "$cpid" "$T/client.err"
	[ "$(cat "$T/got")" = "0 no-eof" ]
	# Then it closed, which ends the server's session.
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ "$(cat "$T/out")" = "data" ]
	[ ! -s "$T/out.err" ]
}
