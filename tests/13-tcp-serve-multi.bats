#!/usr/bin/env bats
# tcp-serve -k and friends: many clients at once, stdin to all, framing
# without mixing, --tag, --echo, --exec, --sh-exec, -m, --allow/--deny,
# slow clients, slow stdout, churn, 2000 connections, signals.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	M=$PEERS/multi.py
	mkfifo "$T/fifo"
}

# multi ARGS...: the many-connection peer.
multi() {
	"$PYTHON" "$M" "$@"
}

# wait_count N PATTERN FILE: wait until N lines of FILE match PATTERN.
wait_count() {
	local i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		[[ $(grep -c -- "$2" "$3" 2>/dev/null) -ge $1 ]] && return 0
		sleep 0.02
	done
	echo "# timed out waiting for $1 lines '$2' in $3" >&2
	return 1
}

# wait_size BYTES FILE [SECS]: wait until FILE holds BYTES bytes.
wait_size() {
	local i secs=${3:-$WAIT_SECS}
	for ((i = 0; i < secs * 50; i++)); do
		[[ $(stat -c %s "$2" 2>/dev/null) == "$1" ]] && return 0
		sleep 0.02
	done
	echo "# $2 has $(stat -c %s "$2") bytes, not $1" >&2
	return 1
}

# start_recv N NBYTES SECS: start N clients that each read NBYTES (at
# most SECS) and print "COUNT SHA256"; their PIDs go in RECV_PIDS.
start_recv() {
	local i
	RECV_PIDS=()
	for ((i = 1; i <= $1; i++)); do
		bg_run /dev/null "$T/c$i" "$T/c$i.err" \
		    "$PYTHON" "$M" recv 127.0.0.1 "$PORT" "$2" "$3"
		RECV_PIDS+=("$BG_PID")
	done
}

# check_recv LINE [SECS]: each client of start_recv exits 0 printing LINE.
check_recv() {
	local i
	for ((i = 1; i <= ${#RECV_PIDS[@]}; i++)); do
		expect_exit 0 "${RECV_PIDS[i - 1]}" "$T/c$i.err" "${2:-10}"
		same "$(cat "$T/c$i")" "$1"
	done
}

# sha STRING: the SHA-256 of STRING.
sha() {
	local s
	s=$(printf %s "$1" | sha256sum)
	echo "${s%% *}"
}

@test "tcp-serve: -k serves three clients at once, each one's data to stdout" {
	start_server "$T/out" tcp-serve -k -v 127.0.0.1 0
	local i pids=()
	for i in 1 2 3; do
		mkfifo "$T/in$i"
		bg_run "rw:$T/in$i" "$T/c$i" "$T/c$i.err" \
		    "$SK" tcp-connect 127.0.0.1 "$PORT"
		pids+=("$BG_PID")
	done
	wait_count 3 'connection from 127\.0\.0\.1:' "$T/out.err"
	# All three are connected now; each sends while the others stay open.
	echo one >"$T/in1"
	wait_grep '^one$' "$T/out"
	echo two >"$T/in2"
	wait_grep '^two$' "$T/out"
	echo three >"$T/in3"
	wait_grep '^three$' "$T/out"
	same "$(cat "$T/out")" $'one\ntwo\nthree'
	running "$SERVER_PID"
	for i in 0 1 2; do
		running "${pids[i]}"
	done
}

@test "tcp-serve: -k sends each stdin line to every client" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v 127.0.0.1 0
	start_recv 3 17 10
	wait_count 3 'connection from' "$T/out.err"
	printf 'hello all\nsecond\n' >"$T/fifo"
	check_recv "17 $(sha $'hello all\nsecond\n')"
	[ ! -s "$T/out" ]
}

@test "tcp-serve: -k --frame len32 sends each stdin line as one frame to all" {
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v --frame len32 \
	    127.0.0.1 0
	start_recv 2 9 10
	wait_count 2 'connection from' "$T/out.err"
	echo hello >"$T/fifo"
	check_recv "9 $(printf '\0\0\0\5hello' | sha256sum | cut -d' ' -f1)"
}

@test "tcp-serve: -k stdin EOF leaves the clients open" {
	start_server "$T/out" tcp-serve -k --frame line 127.0.0.1 0
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" sendpeek $'ping\n' 1
	same "$output" "0 no-eof"
	wait_grep '^ping$' "$T/out"
}

@test "tcp-serve: -k --frame line never mixes two clients inside a line" {
	start_server "$T/out" tcp-serve -k --frame line 127.0.0.1 0
	run -0 --separate-stderr timeout 30 "$PYTHON" "$M" \
	    interleave 127.0.0.1 "$PORT" 20 3000 100
	wait_count 40 '' "$T/out"
	same "$(grep -cxE 'a{3000}' "$T/out")" 20
	same "$(grep -cxE 'b{3000}' "$T/out")" 20
	same "$(wc -l <"$T/out")" 40
}

@test "tcp-serve: --tag prefixes each line with its client's HOST:PORT" {
	start_server "$T/out" tcp-serve -k --frame line --tag 127.0.0.1 0
	run -0 multi send 127.0.0.1 "$PORT" $'hello\nworld\n'
	local a=$output
	run -0 multi send 127.0.0.1 "$PORT" 'no newline'
	local b=$output
	[[ $a == 127.0.0.1:* && $b == 127.0.0.1:* && $a != "$b" ]]
	wait_count 3 '' "$T/out"
	same "$(cat "$T/out")" "$a hello"$'\n'"$a world"$'\n'"$b no newline"
}

@test "tcp-serve: --tag writes an IPv6 client as [v6]:PORT" {
	have_ipv6 || skip "no IPv6 loopback"
	start_server "$T/out" tcp-serve -k --frame line --tag ::1 0
	run -0 multi send ::1 "$PORT" $'hi\n'
	[[ $output == '[::1]:'* ]]
	wait_count 1 '' "$T/out"
	same "$(cat "$T/out")" "$output hi"
}

@test "tcp-serve: --tag without --frame line or len32 is a usage error" {
	run -2 --separate-stderr "$SK" tcp-serve -k --tag 127.0.0.1 0
	[ -z "$output" ]
	same "$stderr" \
	    "sockkit: tcp-serve: cannot use --tag without --frame line or len32"
}

@test "tcp-serve: --echo without -k echoes one client, then exits 0" {
	start_server "$T/out" tcp-serve --echo 127.0.0.1 0
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" sendclose $'hello\necho\n'
	same "$output" $'hello\necho'
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: -k --echo echoes many clients and writes nothing to stdout" {
	start_server "$T/out" tcp-serve -k --echo 127.0.0.1 0
	run -0 multi echo 127.0.0.1 "$PORT" 5 10
	same "$output" "5 connected 5 echoed"
	run -0 multi echo 127.0.0.1 "$PORT" 3 10
	same "$output" "3 connected 3 echoed"
	running "$SERVER_PID"
	[ ! -s "$T/out" ]
}

@test "tcp-serve: --echo pauses a client that does not read, loses nothing" {
	start_server "$T/out" tcp-serve -k -v --echo 127.0.0.1 0
	run -0 --separate-stderr timeout 60 "$PYTHON" "$M" \
	    echobig 127.0.0.1 "$PORT" 25165824
	same "$output" "25165824 same"
	# The server stopped taking data before all of it was sent.
	[[ $stderr =~ ^stalled\ after\ ([0-9]+)$ ]]
	((BASH_REMATCH[1] < 25165824))
	run -1 grep 'too slow' "$T/out.err"
}

@test "tcp-serve: -k --exec runs a program per client, logs its status" {
	start_server "$T/out" tcp-serve -k -v --exec 'tr a-z A-Z' 127.0.0.1 0
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" sendclose $'hello\n'
	same "$output" HELLO
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" sendclose $'again\n'
	same "$output" AGAIN
	wait_count 2 'process [0-9]* exited 0$' "$T/out.err"
	same "$(grep -c 'started process' "$T/out.err")" 2
	running "$SERVER_PID"
	[ ! -s "$T/out" ]
}

@test "tcp-serve: --sh-exec without -k serves one client, exits 0" {
	start_server "$T/out" tcp-serve --sh-exec 'tr a-z A-Z; echo done' \
	    127.0.0.1 0
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" sendclose $'shell\n'
	same "$output" $'SHELL\ndone'
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: -k --exec of a missing program closes the client, serves on" {
	start_server "$T/out" tcp-serve -k -v --exec /nonexistent/prog \
	    127.0.0.1 0
	local i
	for i in 1 2; do
		run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" \
		    127.0.0.1 "$PORT" sendclose ''
		same "$output" ""
	done
	wait_count 2 'process [0-9]* exited 127$' "$T/out.err"
	grep -q '^sockkit: tcp-serve: exec /nonexistent/prog: No such file' \
	    "$T/out.err"
	running "$SERVER_PID"
}

@test "tcp-serve: -m 2 turns away a third client, takes one when one leaves" {
	start_server "$T/out" tcp-serve -k -v --echo -m 2 127.0.0.1 0
	bg_run /dev/null "$T/hold" "$T/hold.err" \
	    "$PYTHON" "$M" hold 127.0.0.1 "$PORT" 2 30
	local hold=$BG_PID
	wait_grep '^ready 2$' "$T/hold"
	run -0 --separate-stderr "$PYTHON" "$PEERS/client.py" 127.0.0.1 \
	    "$PORT" eofcheck 5
	same "$output" eof
	wait_grep 'refused: too many connections' "$T/out.err"
	kill "$hold"
	wait_exit "$hold" || true
	wait_count 2 ': closed$' "$T/out.err"
	run -0 multi echo 127.0.0.1 "$PORT" 1 10
	same "$output" "1 connected 1 echoed"
}

# acl_case EXPECT ADDRESS CONNECT-TO ACL...: start an echo server on
# ADDRESS with the ACL options and check that a client of CONNECT-TO is
# served (EXPECT ok) or closed at once and logged (EXPECT refused).
acl_case() {
	local want=$1 addr=$2 to=$3
	shift 3
	start_server "$T/out" tcp-serve -k -v --echo "$@" "$addr" 0
	if [[ $want == ok ]]; then
		run -0 multi echo "$to" "$PORT" 1 10
		same "$output" "1 connected 1 echoed"
		run -1 grep refused "$T/out.err"
	else
		run -0 "$PYTHON" "$PEERS/client.py" "$to" "$PORT" eofcheck 5
		same "$output" eof
		wait_grep ': refused by the access list$' "$T/out.err"
	fi
	kill "$SERVER_PID"
	wait_exit "$SERVER_PID" || true
}

@test "tcp-serve: --allow and --deny with IPv4 clients" {
	acl_case ok 127.0.0.1 127.0.0.1 --allow 127.0.0.1
	acl_case ok 127.0.0.1 127.0.0.1 --allow 10.0.0.0/8 --allow 127.0.0.0/8
	acl_case refused 127.0.0.1 127.0.0.1 --allow 10.0.0.0/8
	acl_case refused 127.0.0.1 127.0.0.1 --deny 127.0.0.1
	acl_case refused 127.0.0.1 127.0.0.1 --allow 127.0.0.0/8 \
	    --deny 127.0.0.1/32
	acl_case ok 127.0.0.1 127.0.0.1 --deny 127.0.0.2 --deny ::1
}

@test "tcp-serve: --allow and --deny with IPv6 and IPv4-mapped clients" {
	have_ipv6 || skip "no IPv6 loopback"
	acl_case ok ::1 ::1 --allow ::1
	acl_case ok ::1 ::1 --allow ::/0 --deny 127.0.0.1
	acl_case refused ::1 ::1 --deny ::1/128
	acl_case refused ::1 ::1 --allow 127.0.0.1
	# An IPv6 socket on ::ffff:127.0.0.1 sees IPv4 peers as mapped.
	acl_case ok ::ffff:127.0.0.1 127.0.0.1 --allow 127.0.0.0/8
	acl_case refused ::ffff:127.0.0.1 127.0.0.1 --deny 127.0.0.1
}

@test "tcp-serve: a client that never reads is dropped, the others get all" {
	head -c 8M /dev/urandom >"$T/big"
	local want
	want=$(sha256sum <"$T/big")
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v --max-queue 4M \
	    127.0.0.1 0
	bg_run /dev/null "$T/slow" "$T/slow.err" \
	    "$PYTHON" "$M" noread 127.0.0.1 "$PORT" 60
	wait_count 1 'connection from' "$T/out.err"
	start_recv 2 8388608 40
	wait_count 3 'connection from' "$T/out.err"
	bg_run /dev/null "$T/fifo" "$T/feed.err" \
	    "$PYTHON" "$M" feed "$T/big" 65536 0.008
	check_recv "8388608 ${want%% *}" 45
	same "$(grep -c 'too slow: out-queue full' "$T/out.err")" 1
	running "$SERVER_PID"
}

@test "tcp-serve: slow stdout pauses the clients, every byte arrives" {
	bg_run "$T/fifo" "$T/out" "$T/cat.err" "$PYTHON" "$M" slowcat 16384 0.005
	start_server "$T/fifo" tcp-serve -k -v --frame line 127.0.0.1 0
	local pa pb
	bg_run /dev/null "$T/a" "$T/a.err" \
	    "$PYTHON" "$M" lines 127.0.0.1 "$PORT" A 2097152
	pa=$BG_PID
	bg_run /dev/null "$T/b" "$T/b.err" \
	    "$PYTHON" "$M" lines 127.0.0.1 "$PORT" B 2097152
	pb=$BG_PID
	expect_exit 0 "$pa" "$T/a.err" 30
	expect_exit 0 "$pb" "$T/b.err" 30
	read -r suma lena <"$T/a"
	read -r sumb lenb <"$T/b"
	wait_size $((lena + lenb)) "$T/out" 30
	same "$(grep '^A:' "$T/out" | sha256sum)" "$suma  -"
	same "$(grep '^B:' "$T/out" | sha256sum)" "$sumb  -"
	run -1 grep 'too slow' "$T/fifo.err"
}

@test "tcp-serve: 200 rapid connect/disconnect cycles leave it serving" {
	start_server "$T/out" tcp-serve -k --frame line 127.0.0.1 0
	local fds i
	fds=$(ls "/proc/$SERVER_PID/fd" | wc -l)
	run -0 --separate-stderr timeout 60 "$PYTHON" "$M" \
	    cycles 127.0.0.1 "$PORT" 200
	run -0 multi send 127.0.0.1 "$PORT" $'last\n'
	wait_grep '^last$' "$T/out"
	same "$(grep -c '^cycle' "$T/out")" 134
	same "$(sort "$T/out" | tr '\n' ' ')" \
	    "$( (for ((i = 0; i < 200; i++)); do
		((i % 3 == 2)) || echo "cycle $i"; done; echo last) |
		sort | tr '\n' ' ')"
	# Every client's descriptor is closed again.
	for ((i = 0; i < 500; i++)); do
		[[ $(ls "/proc/$SERVER_PID/fd" | wc -l) == "$fds" ]] && break
		sleep 0.02
	done
	same "$(ls "/proc/$SERVER_PID/fd" | wc -l)" "$fds"
	running "$SERVER_PID"
}

@test "tcp-serve: -k --echo holds 2000 connections at once, echoes on each" {
	start_server "$T/out" tcp-serve -k --echo 127.0.0.1 0
	run -0 --separate-stderr timeout 60 "$PYTHON" "$M" \
	    echo 127.0.0.1 "$PORT" 2000 50
	same "$output" "2000 connected 2000 echoed"
	running "$SERVER_PID"
}

@test "tcp-serve: -w closes an idle client, not the busy server" {
	start_server "$T/out" tcp-serve -k -v --echo -w 500ms 127.0.0.1 0
	run -0 "$PYTHON" "$PEERS/client.py" 127.0.0.1 "$PORT" eofcheck 8
	same "$output" eof
	wait_grep ': idle timeout$' "$T/out.err"
	run -0 multi echo 127.0.0.1 "$PORT" 1 10
	same "$output" "1 connected 1 echoed"
}

@test "tcp-serve: SIGTERM with clients connected exits 143, clients see EOF" {
	start_server "$T/out" tcp-serve -k -v 127.0.0.1 0
	start_recv 2 100 10
	wait_count 2 'connection from' "$T/out.err"
	kill -TERM "$SERVER_PID"
	expect_exit 143 "$SERVER_PID" "$T/out.err"
	check_recv "0 $(sha '')"
}

@test "tcp-serve: SIGINT with --exec children running exits 130" {
	start_server "$T/out" tcp-serve -k -v --sh-exec 'cat' 127.0.0.1 0
	bg_run /dev/null "$T/c" "$T/c.err" \
	    "$PYTHON" "$M" recv 127.0.0.1 "$PORT" 100 10
	wait_grep 'started process' "$T/out.err"
	kill -INT "$SERVER_PID"
	expect_exit 130 "$SERVER_PID" "$T/out.err"
}

# partial N MIB: N clients each send MIB MiB with no newline (a client
# the server closes meanwhile is passed over); print "sent".
partial() {
	timeout 60 "$PYTHON" -c '
import socket, sys
port, n, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ss = [socket.create_connection(("127.0.0.1", port), timeout=10)
      for _ in range(n)]
for s in ss:
    try:
        s.sendall(b"x" * (mib << 20))
    except OSError:
        pass
print("sent")
' "$PORT" "$@"
}

# hwm PID: the peak resident set of PID in KiB.
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

@test "tcp-serve: -k past --max-memory drops the client holding the most, reported with -v" {
	start_server "$T/out" tcp-serve -k -v --frame line --max-memory 4M \
	    127.0.0.1 0
	run -0 partial 1 6
	wait_grep "memory budget reached: dropped, holding" "$T/out.err"
	run -0 multi send 127.0.0.1 "$PORT" $'hello\n'
	wait_grep "^hello$" "$T/out"
	running "$SERVER_PID"
}

# Peak RSS means nothing under ASan: tests/run.sh leaves it out there.
# bats test_tags=rss
@test "tcp-serve: -k unfinished long lines from many clients stay within --max-memory" {
	start_server "$T/out" tcp-serve -k -v --frame line --max-memory 16M \
	    127.0.0.1 0
	run -0 partial 10 8
	wait_count 6 "memory budget reached" "$T/out.err"
	echo "# peak $(hwm "$SERVER_PID") KiB" >&2
	[ "$(hwm "$SERVER_PID")" -lt $((40 * 1024)) ]
	running "$SERVER_PID"
}

# Peak RSS means nothing under ASan: tests/run.sh leaves it out there.
# bats test_tags=rss
@test "tcp-serve: -k --frame line, endless stdin: clients that never read are dropped at --max-queue in real bytes while one reads" {
	bg_run /dev/null "$T/fifo" /dev/null yes
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v --frame line \
	    127.0.0.1 0
	local i
	# One client reads, so stdin goes on at its pace.
	bg_run /dev/null /dev/null /dev/null \
	    "$PYTHON" "$M" recv 127.0.0.1 "$PORT" 999999999999 60
	for ((i = 0; i < 10; i++)); do
		bg_run /dev/null /dev/null /dev/null \
		    "$PYTHON" "$M" noread 127.0.0.1 "$PORT" 60
	done
	wait_count 10 "too slow: out-queue full" "$T/out.err"
	echo "# peak $(hwm "$SERVER_PID") KiB" >&2
	[ "$(hwm "$SERVER_PID")" -lt $((48 * 1024)) ]
	running "$SERVER_PID"
}

@test "tcp-serve: -k stdout on a terminal never read does not stall the clients" {
	run --separate-stderr timeout 60 "$PYTHON" -c '
import os, pty, socket, subprocess, sys, tempfile, time, tty
master, slave = pty.openpty()
tty.setraw(slave)
pf = os.path.join(tempfile.mkdtemp(), "port")
p = subprocess.Popen([sys.argv[1], "tcp-serve", "-k", "--frame", "line",
                      "127.0.0.1", "0", "--port-file", pf],
                     stdin=subprocess.DEVNULL, stdout=slave)
os.close(slave)
try:
    t = time.monotonic()
    while not os.path.exists(pf) or not os.path.getsize(pf):
        assert time.monotonic() - t < 10 and p.poll() is None
        time.sleep(0.02)
    port = int(open(pf).read())
    # 400 KiB for a terminal no one reads, then a second client must
    # still be served.
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    a.sendall((b"z" * 1023 + b"\n") * 400)
    time.sleep(0.5)
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    b.sendall(b"second client\n")
    b.shutdown(socket.SHUT_WR)
    # The server closes b once it has its EOF: it was not stalled.
    b.settimeout(5)
    print("closed" if b.recv(1) == b"" else "data")
finally:
    p.kill()
    p.wait()
' "$SK"
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = closed ]
}

# Peak RSS means nothing under ASan: tests/run.sh leaves it out there.
# bats test_tags=rss
@test "tcp-serve: -k stdin goes at the pace of the fastest client: the last one left is never dropped" {
	bg_run /dev/null "$T/fifo" /dev/null yes
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v --frame line \
	    127.0.0.1 0
	local i
	for ((i = 0; i < 3; i++)); do
		bg_run /dev/null /dev/null /dev/null \
		    "$PYTHON" "$M" noread 127.0.0.1 "$PORT" 60
	done
	wait_count 3 "connection from" "$T/out.err"
	# Clients that fall a whole bound behind the fastest are dropped;
	# the fastest is not, and stdin then waits for it.
	sleep 3
	[ "$(grep -c "too slow" "$T/out.err")" -le 2 ]
	running "$SERVER_PID"
	[ "$(hwm "$SERVER_PID")" -lt $((24 * 1024)) ]
}

@test "tcp-serve: -k a client that arrives while stdin waits on clients that never read gets stdin" {
	bg_run /dev/null "$T/fifo" /dev/null yes
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v 127.0.0.1 0
	bg_run /dev/null /dev/null /dev/null \
	    "$PYTHON" "$M" noread 127.0.0.1 "$PORT" 60
	wait_count 1 "connection from" "$T/out.err"
	# Give stdin time to fill what the first client holds, and stop.
	sleep 1
	run -0 --separate-stderr bash -c 'timeout 3 "$1" tcp-connect \
	    --recv-only 127.0.0.1 "$2" | wc -c' _ "$SK" "$PORT"
	[ "$output" -gt 1000000 ]
}
