#!/usr/bin/env bats
# The habits of nc, ncat and socat users (SPEC "Habits of nc, ncat and
# socat users"): -C/--crlf, --hexdump, --keepalive and --nodelay,
# tcp-connect -e/-c and --log json, each against a real peer.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# client ARGS...: run the Python client, bounded.
client() {
	timeout 10 "$PYTHON" "$PEERS/client.py" "$@"
}

# hexbytes FILE DIR [PEER]: the bytes a --hexdump FILE shows going DIR,
# once the whole dump has been checked.
hexbytes() {
	"$PYTHON" "$PEERS/hexdump.py" "$@"
}

# --- -C, --crlf ---------------------------------------------------------

@test "tcp-connect: -C sends CRLF line ends; an SMTP-style server accepts them" {
	start_peer "$T/smtp" smtp.py "$T/got"
	printf 'HELO x\nMAIL FROM:<a@b>\r\nQUIT\n' >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -C 127.0.0.1 \
	    "$PORT" <"$T/in"
	[ "$output" = $'220 ready\r\n250 ok\r\n250 ok\r\n221 bye\r' ]
	[ -z "$stderr" ]
	wait_exit "$PEER_PID"
	printf 'HELO x\r\nMAIL FROM:<a@b>\r\nQUIT\r\n' >"$T/want"
	cmp "$T/want" "$T/got"
}

@test "tcp-connect: without -C the SMTP-style server answers 500 bare LF" {
	start_peer "$T/smtp" smtp.py
	run -0 --separate-stderr timeout 10 bash -c \
	    'printf "HELO x\n" | "$SK" tcp-connect 127.0.0.1 "$1"' _ "$PORT"
	[ "$output" = $'220 ready\r\n500 bare LF\r' ]
}

@test "tcp-connect: --crlf through a pipe and with --frame line sends CRLF" {
	start_peer "$T/smtp" smtp.py "$T/got"
	run -0 --separate-stderr timeout 10 bash -c \
	    'printf "HELO x\nQUIT\n" | "$SK" tcp-connect --crlf --frame line \
	    127.0.0.1 "$1"' _ "$PORT"
	[ "$output" = $'220 ready\r\n250 ok\r\n221 bye\r' ]
	wait_exit "$PEER_PID"
	printf 'HELO x\r\nQUIT\r\n' >"$T/want"
	cmp "$T/want" "$T/got"
}

@test "tcp-serve: -C sends each line of stdin with CRLF, CRLF kept once" {
	printf 'a\nb\r\nc' >"$T/in"
	IN=$T/in start_server "$T/out" tcp-serve -C 127.0.0.1 0
	client 127.0.0.1 "$PORT" sendclose "" >"$T/got"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	printf 'a\r\nb\r\nc' >"$T/want"
	cmp "$T/want" "$T/got"
}

# --- --keepalive, --nodelay ---------------------------------------------

# tcpopts PID: set $TCPOPTS to the TCP options of PID's connected socket,
# waiting (bounded) for it to connect; skip if it cannot be looked at.
tcpopts() {
	local rc i
	for ((i = 0; i < WAIT_SECS * 10; i++)); do
		if ! running "$1"; then
			echo "# process $1 exited" >&2
			return 1
		fi
		rc=0
		TCPOPTS=$(timeout 10 "$PYTHON" "$PEERS/tcpopts.py" "$1") || rc=$?
		[[ $rc == 77 ]] && skip "cannot take another process's sockets here"
		[[ $rc == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}

@test "tcp-connect: --keepalive=30,5,3 --nodelay set the socket's options" {
	start_peer "$T/peer" server.py hold
	mkfifo "$T/fifo"
	bg_run "rw:$T/fifo" "$T/out" "$T/err" "$SK" tcp-connect \
	    --keepalive=30,5,3 --nodelay 127.0.0.1 "$PORT"
	tcpopts "$BG_PID"
	[ "$TCPOPTS" = "keepalive=1 idle=30 intvl=5 cnt=3 nodelay=1" ]
}

@test "tcp-connect: without --keepalive and --nodelay both are off" {
	start_peer "$T/peer" server.py hold
	mkfifo "$T/fifo"
	bg_run "rw:$T/fifo" "$T/out" "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	tcpopts "$BG_PID"
	[[ $TCPOPTS == "keepalive=0 "*" nodelay=0" ]]
}

@test "tcp-serve: --keepalive=45 --nodelay apply to the accepted connection" {
	mkfifo "$T/fifo"
	IN=rw:$T/fifo start_server "$T/out" tcp-serve --keepalive=45 --nodelay \
	    127.0.0.1 0
	exec 5<>"$T/fifo"
	"$PYTHON" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(10)' "$PORT" &
	_PIDS+=("$!")
	tcpopts "$SERVER_PID"
	exec 5>&-
	[[ $TCPOPTS == "keepalive=1 idle=45 "*" nodelay=1" ]]
}

@test "tcp-connect: --keepalive with a bad IDLE,INTVL,CNT is a usage error" {
	run -2 --separate-stderr "$SK" tcp-connect --keepalive=30,5 127.0.0.1 9
	[[ $stderr == *"keepalive 30,5: use IDLE or IDLE,INTVL,CNT"* ]]
	run -2 --separate-stderr "$SK" tcp-connect --keepalive=0 127.0.0.1 9
	[[ $stderr == *"keepalive idle 0:"* ]]
}

# --- tcp-connect -e, -c -------------------------------------------------

@test "tcp-connect -c: a reverse shell's output all arrives, its status is ours" {
	start_peer "$T/peer" server.py record "$T/got" \
	    $'echo hello\nseq 1 100000\nexit 3\n'
	run -3 --separate-stderr timeout 10 "$SK" tcp-connect -c sh \
	    127.0.0.1 "$PORT" </dev/null
	[ -z "$output" ]
	[ -z "$stderr" ]
	wait_exit "$PEER_PID"
	{ echo hello; seq 1 100000; } >"$T/want"
	cmp "$T/want" "$T/got"
}

@test "tcp-connect -e: the program sees the peer's EOF and its output arrives" {
	start_peer "$T/peer" server.py halfclose "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -e 'tr a-z A-Z' \
	    127.0.0.1 "$PORT" </dev/null
	[ -z "$stderr" ]
	wait_exit "$PEER_PID"
	[ "$(cat "$T/got")" = "HI" ]
}

@test "tcp-connect -e: driven by nc -l, a shell runs the commands sent" {
	command -v nc >/dev/null || skip "nc is not installed"
	local port
	port=$(free_port)
	printf 'echo from-shell\nexit 0\n' >"$T/cmds"
	bg_run "$T/cmds" "$T/nc.out" "$T/nc.err" timeout 10 nc -l 127.0.0.1 "$port"
	local nc=$BG_PID
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --retry 5s \
	    -e '/bin/sh' 127.0.0.1 "$port" </dev/null
	wait_exit "$nc" || true
	[ "$(cat "$T/nc.out")" = "from-shell" ]
}

@test "tcp-connect: -e with --sh-exec, --frame or --send-only is a usage error" {
	run -2 --separate-stderr "$SK" tcp-connect -e cat -c cat 127.0.0.1 9
	[[ $stderr == *"cannot use --exec with --sh-exec"* ]]
	run -2 --separate-stderr "$SK" tcp-connect -e cat --frame line 127.0.0.1 9
	[[ $stderr == *"with --exec"* ]]
	run -2 --separate-stderr "$SK" tcp-connect -c cat --send-only 127.0.0.1 9
	[[ $stderr == *"with --exec"* ]]
}

# --- --hexdump ----------------------------------------------------------

@test "tcp-connect: --hexdump FILE shows every byte each way, timed and tagged" {
	start_peer "$T/peer" server.py record "$T/got" "welcome"
	head -c 70000 /dev/urandom >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --hexdump "$T/dump" \
	    127.0.0.1 "$PORT" <"$T/in"
	[ "$output" = "welcome" ]
	wait_exit "$PEER_PID"
	hexbytes "$T/dump" '>' "127.0.0.1 port $PORT" >"$T/sent"
	hexbytes "$T/dump" '<' "127.0.0.1 port $PORT" >"$T/rcvd"
	cmp "$T/in" "$T/sent"
	cmp "$T/in" "$T/got"
	[ "$(cat "$T/rcvd")" = "welcome" ]
	grep -Eq '^20[0-9-]{8}T[0-9:]{8}\.[0-9]{6}Z > 127\.0\.0\.1 port [0-9]+: [0-9]+ bytes at 0$' \
	    "$T/dump"
}

@test "tcp-serve: --hexdump - writes the dump to stderr, CRLF as sent" {
	printf 'hi\n' >"$T/in"
	IN=$T/in start_server "$T/out" tcp-serve -C --hexdump - 127.0.0.1 0
	client 127.0.0.1 "$PORT" sendclose "ping" >"$T/got"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ "$(cat "$T/out")" = "ping" ]
	hexbytes "$T/out.err" '>' >"$T/sent"
	hexbytes "$T/out.err" '<' >"$T/rcvd"
	printf 'hi\r\n' >"$T/want"
	cmp "$T/want" "$T/sent"
	[ "$(cat "$T/rcvd")" = "ping" ]
}

@test "tcp-serve --exec: --hexdump shows the program's bytes each way" {
	start_server "$T/out" tcp-serve --hexdump "$T/dump" -e 'tr a-z A-Z' \
	    127.0.0.1 0
	[ "$(client 127.0.0.1 "$PORT" sendclose "abc")" = "ABC" ]
	sleep 0.2
	[ "$(hexbytes "$T/dump" '<')" = "abc" ]
	[ "$(hexbytes "$T/dump" '>')" = "ABC" ]
}

@test "tcp-serve -k --echo: --hexdump shows each client's bytes by its address" {
	start_server "$T/out" tcp-serve -k --echo --hexdump "$T/dump" 127.0.0.1 0
	[ "$(client 127.0.0.1 "$PORT" sendclose "one")" = "one" ]
	[ "$(client 127.0.0.1 "$PORT" sendclose "two!")" = "two!" ]
	wait_grep '> 127.0.0.1:[0-9]*: 4 bytes at 0' "$T/dump"
	[ "$(hexbytes "$T/dump" '<')" = "onetwo!" ]
	[ "$(hexbytes "$T/dump" '>')" = "onetwo!" ]
	[ "$(grep -c ' bytes at 0$' "$T/dump")" = 4 ]
}

@test "tcp-serve -k: -C sends stdin's lines to every client with CRLF" {
	printf 'x\r\ny\nz\n' >"$T/in"
	IN=$T/in start_server "$T/out" tcp-serve -k -C 127.0.0.1 0
	timeout 10 "$PYTHON" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
b = b""
while len(b) < 9:
    c = s.recv(100)
    if not c:
        break
    b += c
sys.stdout.write(repr(b))' "$PORT" >"$T/got"
	[ "$(cat "$T/got")" = "b'x\\r\\ny\\r\\nz\\r\\n'" ]
}

# --- --log json ---------------------------------------------------------

# jsonlog FILE: the --log json events of FILE, checked, one line each.
jsonlog() {
	"$PYTHON" "$PEERS/jsonlog.py" "$1"
}

@test "tcp-serve: --log json writes open and close as JSON lines with bytes" {
	printf 'hi\n' >"$T/in"
	IN=$T/in start_server "$T/out" tcp-serve --log json 127.0.0.1 0
	[ "$(client 127.0.0.1 "$PORT" sendclose "abcd")" = "hi" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	run -0 jsonlog "$T/out.err"
	[ "$output" = $'open 127.0.0.1 - - - - -\nclose 127.0.0.1 3 4 closed - -' ]
}

@test "tcp-serve -k --echo: --log json logs each client's close with its bytes" {
	start_server "$T/out" tcp-serve -k --echo --log json 127.0.0.1 0
	[ "$(client 127.0.0.1 "$PORT" sendclose "one")" = "one" ]
	[ "$(client 127.0.0.1 "$PORT" sendclose "three")" = "three" ]
	wait_grep '"sent":5' "$T/out.err"
	run -0 jsonlog "$T/out.err"
	[ "$output" = "open 127.0.0.1 - - - - -
close 127.0.0.1 3 3 closed - -
open 127.0.0.1 - - - - -
close 127.0.0.1 5 5 closed - -" ]
}

@test "tcp-serve -k --exec: --log json logs the program's bytes and status" {
	start_server "$T/out" tcp-serve -k --log json -c 'tr a-z A-Z; exit 4' \
	    127.0.0.1 0
	[ "$(client 127.0.0.1 "$PORT" sendclose "abc")" = "ABC" ]
	wait_grep '"event":"close"' "$T/out.err"
	run -0 jsonlog "$T/out.err"
	[ "$output" = $'open 127.0.0.1 - - - - -\nclose 127.0.0.1 3 3 closed 4 -' ]
}

@test "tcp-serve -k: --log json logs a client the access list refuses" {
	start_server "$T/out" tcp-serve -k --echo --deny 127.0.0.0/8 --log json \
	    127.0.0.1 0
	client 127.0.0.1 "$PORT" sendclose "x" >/dev/null || true
	wait_grep '"event":"refused"' "$T/out.err"
	run -0 jsonlog "$T/out.err"
	[ "$output" = "refused 127.0.0.1 - - refused by the access list - -" ]
}

@test "tcp-serve: --log with another format than json is a usage error" {
	run -2 --separate-stderr "$SK" tcp-serve --log text 127.0.0.1 0
	[[ $stderr == *"log text: unknown format (json)"* ]]
}

@test "tcp-serve: one connection: --log json logs a client the access list refuses" {
	mkfifo "$T/fifo"
	IN=rw:$T/fifo start_server "$T/out" tcp-serve --log json \
	    --allow 127.0.0.2/32 127.0.0.1 0
	exec 5<>"$T/fifo"
	client 127.0.0.1 "$PORT" sendclose "x" >/dev/null || true
	wait_grep '"event":"refused"' "$T/out.err"
	exec 5>&-
	run -0 jsonlog "$T/out.err"
	[ "$output" = "refused 127.0.0.1 - - refused by the access list - -" ]
}
