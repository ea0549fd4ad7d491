#!/usr/bin/env bats
# The revised End-of-stream table of SPEC.md ("exit 0 means every byte
# arrived"), row by row, in both roles, raw and with --frame line and
# len32, against real peers: sockkit itself, nc.openbsd, ncat, socat,
# curl and the Python peers of tests/peers/eospeer.py.  Also the --exec
# and tcp-serve -k cases of issue 10.

bats_require_minimum_version 1.5.0
load helpers

# helpers.bash's teardown, kept to be called after ours.
eval "helpers_teardown() $(declare -f teardown | tail -n +2)"

# Files shared by the tests, made once: 100 MiB of random bytes, a 32
# MiB and a 50 MB prefix of it, and 20 MB of 101-byte text lines.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	head -c 100M /dev/urandom >"$d/big"
	head -c 32M "$d/big" >"$d/med"
	head -c 50000000 "$d/big" >"$d/f50"
	base64 -w 100 "$d/big" | head -n 200000 >"$d/lines"
	export BIG=$d/big MED=$d/med F50=$d/f50 LINES=$d/lines
	BIG_SUM=$(digest "$BIG")
	F50_SUM=$(digest "$F50")
	export BIG_SUM F50_SUM
}

setup() {
	T=$BATS_TEST_TMPDIR
	mkfifo "$T/fifo"
	seq -f 'peer line %g' 1 1000 >"$T/peerdata"
	EXTRA_PIDS=()
}

# Processes that are not our children (an --exec program whose server
# is gone) are killed here by PID, if still there.
teardown() {
	local pid
	for pid in "${EXTRA_PIDS[@]}"; do
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	done
	helpers_teardown
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# digest FILE: print "SIZE SHA256" of FILE (what eospeer.py sink records).
digest() {
	local sum
	sum=$(sha256sum <"$1")
	printf '%s %s\n' "$(stat -c %s "$1")" "${sum%% *}"
}

# same_sum FILE EXPECTED: FILE's digest is EXPECTED.
same_sum() {
	same "$(digest "$1")" "$2"
}

# got_all RESULT FILE: eospeer.py recorded FILE whole, then an EOF.
got_all() {
	wait_file "$1" || return 1
	same "$(cat "$1")" "$(digest "$2") eof"
}

# eosserver MODE ARGS...: start eospeer.py as a server (start_role_peer);
# set $PORT and $PEER_PID.
eosserver() {
	start_role_peer "$T/peer" eospeer.py server "$@"
}

# eosclient ARGS...: run eospeer.py as a client of 127.0.0.1 $PORT in
# the background; its PID is $CLIENT_PID.
eosclient() {
	bg_run /dev/null "$T/client" "$T/client.err" \
	    "$PYTHON" "$PEERS/eospeer.py" client 127.0.0.1 "$PORT" "$@"
	CLIENT_PID=$BG_PID
}

# with_tty ARGS...: eospeer.py tty ARGS: a command with a terminal as
# stdin.
with_tty() {
	"$PYTHON" "$PEERS/eospeer.py" tty "$@"
}

# len32 FILE: FILE's lines (each ending in a newline) as len32 frames.
len32() {
	"$PYTHON" -c 'import struct, sys
out = sys.stdout.buffer
for l in open(sys.argv[1], "rb").read().split(b"\n")[:-1]:
    out.write(struct.pack(">I", len(l)) + l)' "$1"
}

# alive PID: PID is a process that has not exited (any parent).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# reset_msg CMD STDERR MAX: STDERR has the reset message of CMD with a
# count of undelivered bytes of stdin that is at most MAX; the count is
# left in $UNDELIVERED.
reset_msg() {
	local re="^sockkit: $1: .*connection reset by peer; (at least )?([0-9]+) bytes of standard input not delivered\$"
	local line
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			UNDELIVERED=${BASH_REMATCH[2]}
			[[ $UNDELIVERED -le $3 ]] && return 0
			echo "# $UNDELIVERED bytes undelivered, at most $3 expected" >&2
			return 1
		fi
	done <<<"$2"
	printf '# no reset message in: %s\n' "$2" >&2
	return 1
}

# start_listener OUT IN CMD...: start nc or ncat listening on a fresh
# port (CMD gets it as its last argument) with stdin IN, stdout to OUT
# and stderr to $T/listener.err; set $PORT and $LPID.  sockkit reaches
# it with --retry.
start_listener() {
	local out=$1 in=$2
	shift 2
	PORT=$(free_port)
	bg_run "$in" "$out" "$T/listener.err" "$@" "$PORT"
	LPID=$BG_PID
}

# --- EOF on stdin: half-close, keep receiving (--frame) -------------------

# send_to_server FILE [OPTION...]: tcp-connect OPTIONS sends FILE to a
# tcp-serve OPTIONS whose stdin is /dev/null; both exit 0, the server
# wrote FILE exactly, and nothing else was said.
send_to_server() {
	local file=$1
	shift
	start_server "$T/out" tcp-serve "$@" 127.0.0.1 0
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect "$@" \
	    127.0.0.1 "$PORT" <"$file"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$file" "$T/out"
}

# send_to_client FILE [OPTION...]: the mirror: tcp-serve OPTIONS sends
# FILE to a tcp-connect OPTIONS whose stdin is /dev/null.
send_to_client() {
	local file=$1
	shift
	IN=$file start_server "$T/srv" tcp-serve "$@" 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect "$@" \
	    127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err" 20
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$file" "$T/out"
	[ ! -s "$T/srv" ]
	[ ! -s "$T/err" ]
}

@test "tcp-connect --frame line: stdin EOF half-closes and the reply still arrives" {
	start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT" <"$T/peerdata"
	same "$output" "got $(stat -c %s "$T/peerdata")"
	[ -z "$stderr" ]
}

@test "tcp-serve --frame line: stdin EOF half-closes and the reply still arrives" {
	IN=$T/peerdata start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/client.py" \
	    127.0.0.1 "$PORT" readsend $'after\n'
	same "$output" "$(cat "$T/peerdata")"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(cat "$T/out")" after
	[ ! -s "$T/out.err" ]
}

@test "tcp-connect --frame line --no-shutdown: stdin EOF keeps the write side open" {
	start_peer "$T/peer" server.py eofcheck 0.5
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame line \
	    --no-shutdown 127.0.0.1 "$PORT" <"$T/peerdata"
	same "$output" "no-eof $(stat -c %s "$T/peerdata")"
	[ -z "$stderr" ]
}

# --- EOF from the peer, stdin not a terminal: keep sending ---------------

# The peer's EOF closes stdout at once, though the session goes on.

@test "tcp-connect: the peer's EOF closes stdout; stdin (a FIFO) is still sent until it ends, exit 0" {
	start_peer "$T/peer" server.py halfclose "$T/got"
	mkfifo "$T/ofifo"
	exec 5<>"$T/fifo"
	bg_run "$T/ofifo" "$T/out" "$T/cat.err" cat
	local catpid=$BG_PID
	bg_run "$T/fifo" "$T/ofifo" "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	local pid=$BG_PID
	# stdout's reader sees EOF while sockkit still runs.
	expect_exit 0 "$catpid"
	same "$(cat "$T/out")" hi
	running "$pid"
	cat "$T/peerdata" >&5
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
	wait_file "$T/got" "$PEER_PID"
	cmp "$T/peerdata" "$T/got"
}

@test "tcp-serve: the client's EOF closes stdout; stdin (a FIFO) is still sent until it ends, exit 0" {
	mkfifo "$T/ofifo"
	exec 5<>"$T/fifo"
	bg_run "$T/ofifo" "$T/out" "$T/cat.err" cat
	local catpid=$BG_PID
	bg_run "$T/fifo" "$T/ofifo" "$T/err" \
	    "$SK" tcp-serve --port-file "$T/pf" 127.0.0.1 0
	local pid=$BG_PID
	wait_file "$T/pf" "$pid"
	PORT=$(<"$T/pf")
	eosclient sink "$T/got" --send "$T/peerdata" --halfclose
	expect_exit 0 "$catpid"
	cmp "$T/peerdata" "$T/out"
	running "$pid"
	cat "$T/peerdata" >&5
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$T/peerdata"
}


@test "tcp-connect: a tcp-serve with stdin /dev/null receives all 100 MiB from a pipe, both exit 0" {
	start_server "$T/out" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    'cat "$2" | "$SK" tcp-connect 127.0.0.1 "$1"' _ "$PORT" "$BIG"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same_sum "$T/out" "$BIG_SUM"
}

@test "tcp-serve: a tcp-connect with stdin /dev/null receives all 100 MiB from a pipe, both exit 0" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    'cat "$2" | "$SK" tcp-serve --port-file "$1" 127.0.0.1 0' \
	    _ "$T/pf" "$BIG"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect 127.0.0.1 "$(<"$T/pf")"
	expect_exit 0 "$BG_PID" "$T/err" 20
	expect_exit 0 "$spid" "$T/srv.err"
	same_sum "$T/out" "$BIG_SUM"
	[ ! -s "$T/srv" ]
	[ ! -s "$T/err" ]
}

@test "tcp-connect: a tcp-serve with stdin /dev/null receives the whole file, both exit 0" {
	send_to_server "$MED"
}

@test "tcp-serve: a tcp-connect with stdin /dev/null receives the whole file, both exit 0" {
	send_to_client "$MED"
}

@test "tcp-connect: nc.openbsd -N -l with stdin /dev/null receives the whole file" {
	need nc.openbsd
	start_listener "$T/out" /dev/null nc.openbsd -N -l 127.0.0.1
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --retry 5s \
	    127.0.0.1 "$PORT" <"$MED"
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$MED" "$T/out"
}

@test "tcp-connect: ncat -l with stdin /dev/null receives the whole file" {
	need ncat
	start_listener "$T/out" /dev/null ncat -l 127.0.0.1
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --retry 5s \
	    127.0.0.1 "$PORT" <"$MED"
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$MED" "$T/out"
}

@test "tcp-serve: nc.openbsd -N with stdin /dev/null receives the whole file" {
	need nc.openbsd
	IN=$MED start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" nc.openbsd -N 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$MED" "$T/out"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-serve: ncat with stdin /dev/null receives the whole file" {
	need ncat
	IN=$MED start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" ncat 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$MED" "$T/out"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-connect: a slow producer on a pipe reaches a tcp-serve with stdin /dev/null whole" {
	start_server "$T/out" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    '{ sleep 1; cat "$2"; } | "$SK" tcp-connect 127.0.0.1 "$1"' \
	    _ "$PORT" "$MED"
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$MED" "$T/out"
}

@test "tcp-serve: a slow producer on a pipe reaches a tcp-connect with stdin /dev/null whole" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    '{ sleep 1; cat "$2"; } | "$SK" tcp-serve --port-file "$1" 127.0.0.1 0' \
	    _ "$T/pf" "$MED"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect 127.0.0.1 "$(<"$T/pf")"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$MED" "$T/out"
	[ ! -s "$T/err" ]
}

@test "tcp-connect --frame line: a tcp-serve --frame line with stdin /dev/null receives every line" {
	send_to_server "$LINES" --frame line
}

@test "tcp-serve --frame line: a tcp-connect --frame line with stdin /dev/null receives every line" {
	send_to_client "$LINES" --frame line
}

@test "tcp-connect --frame len32: a tcp-serve --frame len32 with stdin /dev/null receives every line" {
	send_to_server "$LINES" --frame len32
}

@test "tcp-serve --frame len32: a tcp-connect --frame len32 with stdin /dev/null receives every line" {
	send_to_client "$LINES" --frame len32
}

@test "tcp-connect --frame line: nc.openbsd -N -l with stdin /dev/null receives every line" {
	need nc.openbsd
	start_listener "$T/out" /dev/null nc.openbsd -N -l 127.0.0.1
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --frame line \
	    --retry 5s 127.0.0.1 "$PORT" <"$LINES"
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$LINES" "$T/out"
}

@test "tcp-serve --frame line: ncat with stdin /dev/null receives every line" {
	need ncat
	IN=$LINES start_server "$T/srv" tcp-serve --frame line 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" ncat 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$LINES" "$T/out"
}

@test "tcp-connect --frame line: a slow producer reaches a tcp-serve --frame line with stdin /dev/null whole" {
	start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    '{ sleep 1; cat "$2"; } | "$SK" tcp-connect --frame line 127.0.0.1 "$1"' \
	    _ "$PORT" "$LINES"
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$LINES" "$T/out"
}

@test "tcp-serve --frame len32: a slow producer reaches a tcp-connect --frame len32 with stdin /dev/null whole" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    '{ sleep 1; cat "$2"; } |
	    "$SK" tcp-serve --frame len32 --port-file "$1" 127.0.0.1 0' \
	    _ "$T/pf" "$LINES"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --frame len32 127.0.0.1 "$(<"$T/pf")"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$LINES" "$T/out"
}

@test "tcp-connect -U: a tcp-serve -U with stdin /dev/null receives the whole file, both exit 0" {
	bg_run /dev/null "$T/out" "$T/srv.err" "$SK" tcp-serve -U "$T/sock"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	run -0 --separate-stderr timeout 20 bash -c \
	    'cat "$2" | "$SK" tcp-connect -U "$1"' _ "$T/sock" "$MED"
	[ -z "$stderr" ]
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$MED" "$T/out"
}

@test "tcp-serve -U: a tcp-connect -U with stdin /dev/null receives the whole file, both exit 0" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    'cat "$2" | "$SK" tcp-serve -U "$1"' _ "$T/sock" "$MED"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect -U "$T/sock"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$MED" "$T/out"
}

@test "tcp-connect --auth-key: a tcp-serve --auth-key with stdin /dev/null receives the whole file, both exit 0" {
	echo secret >"$T/key"
	start_server "$T/out" tcp-serve --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    'cat "$2" | "$SK" tcp-connect --auth-key "$3" 127.0.0.1 "$1"' \
	    _ "$PORT" "$MED" "$T/key"
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$MED" "$T/out"
}

@test "tcp-serve --auth-key --frame line: a tcp-connect with stdin /dev/null receives every line, both exit 0" {
	echo secret >"$T/key"
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    'cat "$2" | "$SK" tcp-serve --auth-key "$3" --frame line \
	    --port-file "$1" 127.0.0.1 0' _ "$T/pf" "$LINES" "$T/key"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect --auth-key \
	    "$T/key" --frame line 127.0.0.1 "$(<"$T/pf")"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$LINES" "$T/out"
}

# --- a peer that half-closes first, then reads everything ----------------

@test "tcp-connect: a peer that half-closes first, then reads, gets all of stdin, exit 0" {
	eosserver sink "$T/got" --send "$T/peerdata" --halfclose
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$MED"
	same "$output" "$(cat "$T/peerdata")"
	[ -z "$stderr" ]
	got_all "$T/got" "$MED"
}

@test "tcp-serve: a client that half-closes first, then reads, gets all of stdin, exit 0" {
	IN=$MED start_server "$T/out" tcp-serve 127.0.0.1 0
	eosclient sink "$T/got" --send "$T/peerdata" --halfclose
	expect_exit 0 "$SERVER_PID" "$T/out.err" 20
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$MED"
	cmp "$T/peerdata" "$T/out"
	[ ! -s "$T/out.err" ]
}

@test "tcp-connect --frame line: a peer that half-closes first, then reads, gets every line, exit 0" {
	eosserver sink "$T/got" --send "$T/peerdata" --halfclose
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT" <"$LINES"
	same "$output" "$(cat "$T/peerdata")"
	[ -z "$stderr" ]
	got_all "$T/got" "$LINES"
}

@test "tcp-serve --frame line: a client that half-closes first, then reads, gets every line, exit 0" {
	IN=$LINES start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	eosclient sink "$T/got" --send "$T/peerdata" --halfclose
	expect_exit 0 "$SERVER_PID" "$T/out.err" 20
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$LINES"
	cmp "$T/peerdata" "$T/out"
	[ ! -s "$T/out.err" ]
}

@test "tcp-connect --frame len32: a peer that half-closes first, then reads, gets every frame, exit 0" {
	len32 "$LINES" >"$T/lines.l32"
	len32 "$T/peerdata" >"$T/peerdata.l32"
	eosserver sink "$T/got" --send "$T/peerdata.l32" --halfclose
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT" <"$LINES"
	same "$output" "$(cat "$T/peerdata")"
	[ -z "$stderr" ]
	got_all "$T/got" "$T/lines.l32"
}

@test "tcp-serve --frame len32: a client that half-closes first, then reads, gets every frame, exit 0" {
	len32 "$LINES" >"$T/lines.l32"
	len32 "$T/peerdata" >"$T/peerdata.l32"
	IN=$LINES start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
	eosclient sink "$T/got" --send "$T/peerdata.l32" --halfclose
	expect_exit 0 "$SERVER_PID" "$T/out.err" 20
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$T/lines.l32"
	cmp "$T/peerdata" "$T/out"
	[ ! -s "$T/out.err" ]
}

# --- exit 0 once our last byte is acknowledged ----------------------------

@test "tcp-connect: a peer that half-closes and reads only after 1 s gets all of stdin; exit 0 comes after" {
	eosserver sink "$T/got" --halfclose --sleep 1
	local t0=$EPOCHREALTIME
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$MED"
	[ -z "$stderr" ]
	# 32 MiB is more than the socket buffers hold: the exit waited.
	(( ${EPOCHREALTIME/./} - ${t0/./} >= 1000000 ))
	got_all "$T/got" "$MED"
}

@test "tcp-serve: a client that half-closes and reads only after 1 s gets all of stdin; exit 0 comes after" {
	IN=$MED start_server "$T/out" tcp-serve 127.0.0.1 0
	local t0=$EPOCHREALTIME
	eosclient sink "$T/got" --halfclose --sleep 1
	expect_exit 0 "$SERVER_PID" "$T/out.err" 20
	(( ${EPOCHREALTIME/./} - ${t0/./} >= 1000000 ))
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$MED"
	[ ! -s "$T/out.err" ]
}

@test "tcp-connect --frame line: a peer that half-closes and reads only after 1 s gets every line; exit 0 comes after" {
	eosserver sink "$T/got" --halfclose --sleep 1
	local t0=$EPOCHREALTIME
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT" <"$LINES"
	[ -z "$stderr" ]
	(( ${EPOCHREALTIME/./} - ${t0/./} >= 1000000 ))
	got_all "$T/got" "$LINES"
}

@test "tcp-serve --frame line: a client that half-closes and reads only after 1 s gets every line; exit 0 comes after" {
	IN=$LINES start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	local t0=$EPOCHREALTIME
	eosclient sink "$T/got" --halfclose --sleep 1
	expect_exit 0 "$SERVER_PID" "$T/out.err" 20
	(( ${EPOCHREALTIME/./} - ${t0/./} >= 1000000 ))
	expect_exit 0 "$CLIENT_PID" "$T/client.err"
	got_all "$T/got" "$LINES"
	[ ! -s "$T/out.err" ]
}

# --- EOF from the peer, stdin a terminal: the session ends ---------------

@test "tcp-connect: with a terminal as stdin, the peer's EOF ends the session at once, exit 0" {
	start_peer "$T/peer" server.py bye
	local t0=$SECONDS
	run -0 --separate-stderr with_tty 10 "$SK" tcp-connect 127.0.0.1 "$PORT"
	same "$output" bye
	[ -z "$stderr" ]
	[ "$((SECONDS - t0))" -lt 3 ]
}

@test "tcp-serve: with a terminal as stdin, the client's EOF ends the session at once, exit 0" {
	bg_run /dev/null "$T/out" "$T/err" "$PYTHON" "$PEERS/eospeer.py" tty 10 \
	    "$SK" tcp-serve --port-file "$T/pf" 127.0.0.1 0
	local pid=$BG_PID
	wait_file "$T/pf" "$pid"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/client.py" \
	    127.0.0.1 "$(<"$T/pf")" sendclose bye
	expect_exit 0 "$pid" "$T/err" 2
	same "$(cat "$T/out")" bye
	[ ! -s "$T/err" ]
}

@test "tcp-connect --frame line: with a terminal as stdin, the peer's EOF ends the session at once, exit 0" {
	start_peer "$T/peer" server.py bye
	local t0=$SECONDS
	run -0 --separate-stderr with_tty 10 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT"
	same "$output" bye
	[ -z "$stderr" ]
	[ "$((SECONDS - t0))" -lt 3 ]
}

@test "tcp-serve --frame line: with a terminal as stdin, the client's EOF ends the session at once, exit 0" {
	bg_run /dev/null "$T/out" "$T/err" "$PYTHON" "$PEERS/eospeer.py" tty 10 \
	    "$SK" tcp-serve --frame line --port-file "$T/pf" 127.0.0.1 0
	local pid=$BG_PID
	wait_file "$T/pf" "$pid"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/client.py" \
	    127.0.0.1 "$(<"$T/pf")" sendclose $'bye\n'
	expect_exit 0 "$pid" "$T/err" 2
	same "$(cat "$T/out")" bye
	[ ! -s "$T/err" ]
}

@test "tcp-connect --frame len32: with a terminal as stdin, the peer's EOF ends the session at once, exit 0" {
	printf 'bye\n' >"$T/bye"
	len32 "$T/bye" >"$T/bye.l32"
	eosserver sink "$T/got" --send "$T/bye.l32" --halfclose
	local t0=$SECONDS
	run -0 --separate-stderr with_tty 10 "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT"
	same "$output" bye
	[ -z "$stderr" ]
	[ "$((SECONDS - t0))" -lt 3 ]
}

@test "tcp-connect --keep-sending: with a terminal as stdin, a line typed after the peer's EOF is sent" {
	start_peer "$T/peer" server.py halfclose "$T/got"
	bg_run /dev/null "$T/out" "$T/err" "$PYTHON" "$PEERS/eospeer.py" tty \
	    --type 'typed line\n' --after "$T/out" 10 \
	    "$SK" tcp-connect --keep-sending 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	wait_file "$T/got" "$PEER_PID"
	same "$(cat "$T/got")" "typed line"
	same "$(cat "$T/out")" hi
}

@test "tcp-serve --keep-sending: with a terminal as stdin, a line typed after the client's EOF is sent" {
	bg_run /dev/null "$T/out" "$T/err" "$PYTHON" "$PEERS/eospeer.py" tty \
	    --type 'typed line\n' --after "$T/out" 10 \
	    "$SK" tcp-serve --keep-sending --port-file "$T/pf" 127.0.0.1 0
	local pid=$BG_PID
	wait_file "$T/pf" "$pid"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/client.py" \
	    127.0.0.1 "$(<"$T/pf")" sendclose $'hi\n'
	same "$output" "typed line"
	expect_exit 0 "$pid" "$T/err"
	same "$(cat "$T/out")" hi
}

# --- --recv-only: download, whatever stdin is ------------------------------

@test "tcp-connect --recv-only: downloads from nc.openbsd -N -l and leaves stdin (a FIFO) unread" {
	need nc.openbsd
	start_listener /dev/null "$MED" nc.openbsd -N -l 127.0.0.1
	exec 5<>"$T/fifo"
	echo unread >&5
	bg_run "$T/fifo" "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only --retry 5s 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$MED" "$T/out"
	[ ! -s "$T/err" ]
	run -0 timeout 2 head -n 1 <&5
	same "$output" unread
}

@test "tcp-serve --recv-only: receives from nc.openbsd -N and leaves stdin (a FIFO) unread" {
	need nc.openbsd
	exec 5<>"$T/fifo"
	echo unread >&5
	IN=$T/fifo start_server "$T/out" tcp-serve --recv-only 127.0.0.1 0
	run -0 --separate-stderr timeout 20 nc.openbsd -N 127.0.0.1 "$PORT" \
	    <"$MED"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$MED" "$T/out"
	[ ! -s "$T/out.err" ]
	run -0 timeout 2 head -n 1 <&5
	same "$output" unread
}

@test "tcp-connect --recv-only --frame line: downloads every line and leaves stdin (a FIFO) unread" {
	need nc.openbsd
	start_listener /dev/null "$LINES" nc.openbsd -N -l 127.0.0.1
	exec 5<>"$T/fifo"
	echo unread >&5
	bg_run "$T/fifo" "$T/out" "$T/err" "$SK" tcp-connect --recv-only \
	    --frame line --retry 5s 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$LINES" "$T/out"
	run -0 timeout 2 head -n 1 <&5
	same "$output" unread
}

@test "tcp-serve --recv-only --frame line: receives every line from nc.openbsd -N and leaves stdin (a FIFO) unread" {
	need nc.openbsd
	exec 5<>"$T/fifo"
	echo unread >&5
	IN=$T/fifo start_server "$T/out" tcp-serve --recv-only --frame line \
	    127.0.0.1 0
	run -0 --separate-stderr timeout 20 nc.openbsd -N 127.0.0.1 "$PORT" \
	    <"$LINES"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$LINES" "$T/out"
	[ ! -s "$T/out.err" ]
	run -0 timeout 2 head -n 1 <&5
	same "$output" unread
}

@test "tcp-connect --recv-only: downloads with a terminal as stdin, exit 0" {
	need nc.openbsd
	start_listener /dev/null "$MED" nc.openbsd -N -l 127.0.0.1
	bg_run /dev/null "$T/out" "$T/err" "$PYTHON" "$PEERS/eospeer.py" tty 10 \
	    "$SK" tcp-connect --recv-only --retry 5s 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$LPID" "$T/listener.err"
	cmp "$MED" "$T/out"
}

# --- the peer resets, or closes while stdin has data for it ---------------

@test "tcp-connect: a peer that reads 64 KiB and closes: its data reach stdout, exit 1 with the count of stdin not delivered" {
	eosserver readclose 65536 --send "$T/peerdata" --sleep 0.3
	run -1 --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$MED"
	same "$output" "$(cat "$T/peerdata")"
	reset_msg tcp-connect "$stderr" $(($(stat -c %s "$MED") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-serve: a client that reads 64 KiB and closes: its data reach stdout, exit 1 with the count of stdin not delivered" {
	IN=$MED start_server "$T/out" tcp-serve 127.0.0.1 0
	eosclient readclose 65536 --send "$T/peerdata" --sleep 0.3
	expect_exit 1 "$SERVER_PID"
	cmp "$T/peerdata" "$T/out"
	reset_msg tcp-serve "$(cat "$T/out.err")" \
	    $(($(stat -c %s "$MED") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-connect: a peer that resets (SO_LINGER 0): its data reach stdout, exit 1 with the count of stdin not delivered" {
	eosserver readclose 65536 --send "$T/peerdata" --sleep 0.3 --rst
	run -1 --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$MED"
	same "$output" "$(cat "$T/peerdata")"
	reset_msg tcp-connect "$stderr" $(($(stat -c %s "$MED") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-serve: a client that resets (SO_LINGER 0): its data reach stdout, exit 1 with the count of stdin not delivered" {
	IN=$MED start_server "$T/out" tcp-serve 127.0.0.1 0
	eosclient readclose 65536 --send "$T/peerdata" --sleep 0.3 --rst
	expect_exit 1 "$SERVER_PID"
	cmp "$T/peerdata" "$T/out"
	reset_msg tcp-serve "$(cat "$T/out.err")" \
	    $(($(stat -c %s "$MED") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-connect: stdin a pipe, a peer that reads 64 KiB and closes: its data reach stdout, exit 1 with the count of stdin not delivered" {
	eosserver readclose 65536 --send "$T/peerdata" --sleep 0.3
	run -1 --separate-stderr timeout 20 bash -c \
	    'cat "$2" | "$SK" tcp-connect 127.0.0.1 "$1"' _ "$PORT" "$MED"
	same "$output" "$(cat "$T/peerdata")"
	reset_msg tcp-connect "$stderr" $(($(stat -c %s "$MED") - 65536))
}

@test "tcp-connect --frame line: a peer that reads 64 KiB and closes: its lines reach stdout, exit 1 with the count of stdin not delivered" {
	eosserver readclose 65536 --send "$T/peerdata" --sleep 0.3
	run -1 --separate-stderr timeout 20 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT" <"$LINES"
	same "$output" "$(cat "$T/peerdata")"
	reset_msg tcp-connect "$stderr" $(($(stat -c %s "$LINES") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-serve --frame line: a client that resets (SO_LINGER 0): its lines reach stdout, exit 1 with the count of stdin not delivered" {
	IN=$LINES start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	eosclient readclose 65536 --send "$T/peerdata" --sleep 0.3 --rst
	expect_exit 1 "$SERVER_PID"
	cmp "$T/peerdata" "$T/out"
	reset_msg tcp-serve "$(cat "$T/out.err")" \
	    $(($(stat -c %s "$LINES") - 65536))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-connect --frame len32: a peer that reads 64 KiB and closes: its frames reach stdout, exit 1 with the count of stdin not delivered" {
	len32 "$T/peerdata" >"$T/peerdata.l32"
	eosserver readclose 65536 --send "$T/peerdata.l32" --sleep 0.3
	run -1 --separate-stderr timeout 20 "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT" <"$LINES"
	same "$output" "$(cat "$T/peerdata")"
	# 64 KiB on the wire hold 630 whole frames of 100 bytes and a header:
	# 630 lines of 101 bytes of stdin.
	reset_msg tcp-connect "$stderr" $(($(stat -c %s "$LINES") - 630 * 101))
	[ "$UNDELIVERED" -gt 0 ]
}

@test "tcp-serve --frame len32: a client that reads 64 KiB and closes: its frames reach stdout, exit 1 with the count of stdin not delivered" {
	len32 "$T/peerdata" >"$T/peerdata.l32"
	IN=$LINES start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
	eosclient readclose 65536 --send "$T/peerdata.l32" --sleep 0.3
	expect_exit 1 "$SERVER_PID"
	cmp "$T/peerdata" "$T/out"
	reset_msg tcp-serve "$(cat "$T/out.err")" \
	    $(($(stat -c %s "$LINES") - 630 * 101))
	[ "$UNDELIVERED" -gt 0 ]
}

# --- no traffic for -w ----------------------------------------------------

@test "tcp-connect -w 1: no traffic for 1 s is exit 1, 'timed out: no traffic for 1s'" {
	start_peer "$T/peer" server.py hold
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -w 1 \
	    127.0.0.1 "$PORT" <>"$T/fifo"
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"timed out: no traffic for 1s" ]]
}

@test "tcp-serve -w 1: no traffic for 1 s is exit 1, 'timed out: no traffic for 1s'" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -w 1 127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "*"timed out: no traffic for 1s" ]]
	[ ! -s "$T/out" ]
}

@test "tcp-connect --frame line -w 1: no traffic for 1 s is exit 1, 'timed out: no traffic for 1s'" {
	start_peer "$T/peer" server.py hold
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --frame line -w 1 \
	    127.0.0.1 "$PORT" <>"$T/fifo"
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"timed out: no traffic for 1s" ]]
}

@test "tcp-serve --frame line -w 1: no traffic for 1 s is exit 1, 'timed out: no traffic for 1s'" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve --frame line -w 1 \
	    127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "*"timed out: no traffic for 1s" ]]
	[ ! -s "$T/out" ]
}

@test "tcp-serve --frame len32 -w 1: no traffic for 1 s is exit 1, 'timed out: no traffic for 1s'" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve --frame len32 -w 1 \
	    127.0.0.1 0
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[[ $(cat "$T/out.err") == "sockkit: tcp-serve: "*"timed out: no traffic for 1s" ]]
	[ ! -s "$T/out" ]
}

# --- stdout's reader goes away --------------------------------------------

# Each peer sends 4 MiB (more than the pipe to head holds) while it reads.

# survived TEXT: TEXT, what 'CMD | head -c 10; echo " ${PIPESTATUS[0]}"'
# printed, is two "spew" lines and CMD's status, which is not that of a
# signal (141 would be SIGPIPE).
survived() {
	local re=$'^spew\nspew\n ([0-9]+)$'
	if [[ ! $1 =~ $re ]]; then
		printf '# unexpected: %q\n' "$1" >&2
		return 1
	fi
	if [[ ${BASH_REMATCH[1]} -ge 128 ]]; then
		echo "# killed by signal $((BASH_REMATCH[1] - 128))" >&2
		return 1
	fi
}

@test "tcp-connect: stdout's reader going away (| head -c 10): the peer still gets all of stdin, no SIGPIPE" {
	eosserver spew 4194304 "$T/got"
	run -0 --separate-stderr timeout 20 bash -c \
	    '"$SK" tcp-connect 127.0.0.1 "$1" <"$2" | head -c 10;
	    echo " ${PIPESTATUS[0]}"' _ "$PORT" "$MED"
	survived "$output"
	got_all "$T/got" "$MED"
}

@test "tcp-serve: stdout's reader going away (| head -c 10): the client still gets all of stdin, no SIGPIPE" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    '"$SK" tcp-serve --port-file "$1" 127.0.0.1 0 <"$2" | head -c 10;
	    echo " ${PIPESTATUS[0]}"' _ "$T/pf" "$MED"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	PORT=$(<"$T/pf")
	eosclient spew 4194304 "$T/got"
	expect_exit 0 "$spid" "$T/srv.err" 20
	survived "$(cat "$T/srv")"
	got_all "$T/got" "$MED"
}

@test "tcp-connect --frame line: stdout's reader going away (| head -c 10): the peer still gets every line, no SIGPIPE" {
	eosserver spew 4194304 "$T/got"
	run -0 --separate-stderr timeout 20 bash -c \
	    '"$SK" tcp-connect --frame line 127.0.0.1 "$1" <"$2" | head -c 10;
	    echo " ${PIPESTATUS[0]}"' _ "$PORT" "$LINES"
	survived "$output"
	got_all "$T/got" "$LINES"
}

@test "tcp-serve --frame line: stdout's reader going away (| head -c 10): the client still gets every line, no SIGPIPE" {
	bg_run /dev/null "$T/srv" "$T/srv.err" bash -c \
	    '"$SK" tcp-serve --frame line --port-file "$1" 127.0.0.1 0 <"$2" |
	    head -c 10; echo " ${PIPESTATUS[0]}"' _ "$T/pf" "$LINES"
	local spid=$BG_PID
	wait_file "$T/pf" "$spid"
	PORT=$(<"$T/pf")
	eosclient spew 4194304 "$T/got"
	expect_exit 0 "$spid" "$T/srv.err" 20
	survived "$(cat "$T/srv")"
	got_all "$T/got" "$LINES"
}

# --- --exec and --sh-exec: the program's output is never lost -------------

@test "tcp-serve -k -c: curl gets a one-line web server's whole answer, three times" {
	need curl
	start_server "$T/out" tcp-serve -k \
	    -c 'printf "HTTP/1.0 200 OK\r\n\r\nhello\n"' 127.0.0.1 0
	local i
	for i in 1 2 3; do
		run -0 --separate-stderr timeout 10 curl -sS \
		    "http://127.0.0.1:$PORT/"
		same "$output" hello
		[ -z "$stderr" ]
	done
}

@test "tcp-serve -k -c: a 50 MB answer reaches 'echo hi | nc.openbsd -N' whole" {
	need nc.openbsd
	start_server "$T/out" tcp-serve -k -c "cat '$F50'" 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    'echo hi | nc.openbsd -N 127.0.0.1 "$1" >"$2"' _ "$PORT" "$T/got"
	same_sum "$T/got" "$F50_SUM"
}

@test "tcp-serve -k -e: a 50 MB answer reaches 'echo hi | ncat' whole" {
	need ncat
	start_server "$T/out" tcp-serve -k -e "cat $F50" 127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    'echo hi | ncat 127.0.0.1 "$1" >"$2"' _ "$PORT" "$T/got"
	same_sum "$T/got" "$F50_SUM"
}

@test "tcp-serve -k -c: a 50 MB answer of head -c reaches 'echo hi | socat' whole" {
	need socat
	start_server "$T/out" tcp-serve -k -c 'head -c 50000000 /dev/zero' \
	    127.0.0.1 0
	run -0 --separate-stderr timeout 20 bash -c \
	    'echo hi | socat -t 10 - "TCP:127.0.0.1:$1" | wc -c' _ "$PORT"
	same "$output" 50000000
}

@test "tcp-serve -k -c: a 50 MB answer arrives whole though the client sent 1 MiB the program never read" {
	head -c 1M /dev/zero >"$T/1m"
	start_server "$T/out" tcp-serve -k -c "cat '$F50'" 127.0.0.1 0
	eosclient sink "$T/got" --send "$T/1m" --halfclose
	expect_exit 0 "$CLIENT_PID" "$T/client.err" 20
	same "$(cat "$T/got")" "$F50_SUM eof"
}

@test "tcp-serve -k -c -w 1: a client that never stops sending gets the answer and is closed within 10 s" {
	start_server "$T/out" tcp-serve -k -w 1 -c 'echo done' 127.0.0.1 0
	printf 'done\n' >"$T/done"
	eosclient trickle "$T/got"
	# sink gives up after 10 s ("timeout"); the drain is bounded by -w.
	wait_file "$T/got" "$CLIENT_PID"
	[[ $(cat "$T/got") == "$(digest "$T/done") "* ]]
	[[ $(cat "$T/got") != *timeout ]]
}

# signal_reaps SIG ARGS...: start tcp-serve -k ARGS (a program that runs
# "sleep 100"), connect a client, wait for the sleep among the server's
# descendants, send SIG to the server: it must exit 128 + SIG's number,
# and no descendant may be left running.
# The server starts with SIGINT at its default (a background job of a
# script inherits it ignored).
signal_reaps() {
	local sig=$1 kids="" i pid pids
	shift
	bg_run /dev/null "$T/out" "$T/out.err" env --default-signal=INT \
	    "$SK" tcp-serve -k "$@" --port-file "$T/pf" 127.0.0.1 0
	SERVER_PID=$BG_PID
	wait_file "$T/pf" "$SERVER_PID"
	PORT=$(<"$T/pf")
	bg_run /dev/null "$T/got" "$T/client.err" \
	    "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" hold
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		kids=$(descendants "$SERVER_PID")
		for pid in $kids; do
			[[ $(cat "/proc/$pid/comm" 2>/dev/null) == sleep ]] &&
			    break 2
		done
		sleep 0.02
	done
	mapfile -t pids <<<"$kids"
	EXTRA_PIDS+=("${pids[@]}")
	[[ -n $kids ]]
	kill -"$sig" "$SERVER_PID"
	expect_exit $((128 + $(kill -l "$sig"))) "$SERVER_PID" "$T/out.err"
	for pid in $kids; do
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.02
		done
		if alive "$pid"; then
			echo "# $pid ($(cat "/proc/$pid/comm")) still runs" >&2
			return 1
		fi
	done
}

# descendants PID: the PIDs of PID's children, theirs, and so on.
descendants() {
	local pid
	for pid in $(ps --ppid "$1" -o pid=); do
		echo "$pid"
		descendants "$pid"
	done
}

@test "tcp-serve -k -e: SIGTERM: the server exits 143, leaving no --exec child running" {
	signal_reaps TERM -e 'sleep 100'
}

@test "tcp-serve -k -c: SIGTERM: the server exits 143, leaving no process of the --sh-exec program running" {
	# "; :" keeps /bin/sh from exec'ing sleep: sleep is sh's child, and
	# must not outlive the server either.
	signal_reaps TERM -c 'sleep 100; :'
}

@test "tcp-serve -k -e: SIGINT: the server exits 130, leaving no --exec child running" {
	signal_reaps INT -e 'sleep 100'
}

@test "tcp-serve -k -c: SIGINT: the server exits 130, leaving no process of the --sh-exec program running" {
	signal_reaps INT -c 'sleep 100; :'
}

# --- tcp-serve -k: stdin waits for a client -------------------------------

# With -k the end of stdin does not close the clients (man page), so each
# client below reads until the whole of stdin has come; it is not waited
# for.

# wait_size FILE SIZE: wait (bounded) until FILE holds SIZE bytes.
wait_size() {
	local i n=0
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		n=$(stat -c %s "$1" 2>/dev/null || echo 0)
		[[ $n -ge $2 ]] && return 0
		sleep 0.02
	done
	echo "# $1 holds $n of $2 bytes after $WAIT_SECS s" >&2
	return 1
}

@test "tcp-serve -k: nc.openbsd connecting 0.5 s after the start receives all 100 MiB of stdin" {
	need nc.openbsd
	IN=$BIG start_server "$T/srv" tcp-serve -k 127.0.0.1 0
	sleep 0.5
	bg_run /dev/null "$T/out" "$T/err" nc.openbsd -d 127.0.0.1 "$PORT"
	wait_size "$T/out" "$(stat -c %s "$BIG")"
	same_sum "$T/out" "$BIG_SUM"
}

@test "tcp-serve -k: tcp-connect --recv-only connecting 0.5 s after the start receives the whole file" {
	IN=$MED start_server "$T/srv" tcp-serve -k 127.0.0.1 0
	sleep 0.5
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only 127.0.0.1 "$PORT"
	wait_size "$T/out" "$(stat -c %s "$MED")"
	cmp "$MED" "$T/out"
}

@test "tcp-serve -k: ncat connecting 0.5 s after the start receives the whole file" {
	need ncat
	IN=$MED start_server "$T/srv" tcp-serve -k 127.0.0.1 0
	sleep 0.5
	bg_run /dev/null "$T/out" "$T/err" ncat --recv-only 127.0.0.1 "$PORT"
	wait_size "$T/out" "$(stat -c %s "$MED")"
	cmp "$MED" "$T/out"
}

@test "tcp-serve -k --frame line: a client connecting 0.5 s after the start receives every line" {
	IN=$LINES start_server "$T/srv" tcp-serve -k --frame line 127.0.0.1 0
	sleep 0.5
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only --frame line 127.0.0.1 "$PORT"
	wait_size "$T/out" "$(stat -c %s "$LINES")"
	cmp "$LINES" "$T/out"
}

@test "tcp-serve --exec with --hexdump: 8 MiB through cat and back, nothing blocks" {
	start_server "$T/srv" tcp-serve --hexdump /dev/null --exec cat \
	    127.0.0.1 0
	run -0 --separate-stderr bash -c 'head -c 8M /dev/zero |
	    timeout 20 "$1" tcp-connect 127.0.0.1 "$2" | wc -c' _ "$SK" "$PORT"
	[ "$output" = 8388608 ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

@test "tcp-serve --sh-exec: -w bounds the session; the program is stopped with it" {
	start_server "$T/srv" tcp-serve -w 1 --sh-exec 'sleep 15' 127.0.0.1 0
	local t0=$SECONDS
	run --separate-stderr timeout 10 "$SK" tcp-connect --recv-only \
	    127.0.0.1 "$PORT"
	expect_exit 1 "$SERVER_PID" "$T/srv.err"
	[ "$((SECONDS - t0))" -lt 5 ]
	grep -q 'timed out: no traffic for 1s' "$T/srv.err"
}

@test "tcp-connect: when stdout's reader goes away the rest is drained, so the sender loses nothing and exits 0" {
	head -c 5000000 /dev/urandom >"$T/five"
	IN=$T/five start_server "$T/srv" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr bash -c 'timeout 10 "$1" tcp-connect \
	    --recv-only 127.0.0.1 "$2" | head -c 10 | wc -c' _ "$SK" "$PORT"
	[ "$output" = 10 ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

@test "timeserver: ADDRESS:PORT as one argument is a usage error that names the two" {
	run -2 --separate-stderr "$SK" timeserver 127.0.0.1:9000
	[[ ${stderr_lines[0]} == "sockkit: timeserver: 127.0.0.1:9000: ADDRESS and PORT are two arguments: '127.0.0.1 9000'" ]]
}
