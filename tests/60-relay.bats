#!/usr/bin/env bats
# tcp-serve --to TARGET (SPEC.md, Relaying): TCP->TCP, Unix<->TCP, with
# real peers (curl, sockkit, nc, the Python peers of
# tests/peers/relaypeer.py): bytes both ways, half-close and resets passed
# through, an unreachable target, backpressure, --idle, -m, --deny, the
# usage errors, and splice doing the copying.

bats_require_minimum_version 1.5.0
load helpers

# 64 MiB each way, made once.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	head -c 64M /dev/urandom >"$d/a"
	head -c 64M /dev/urandom >"$d/b"
	head -c 100000 /dev/urandom | base64 >"$d/body"
	export A=$d/a B=$d/b BODY=$d/body
	A_SUM=$(digest "$A")
	B_SUM=$(digest "$B")
	export A_SUM B_SUM
}

setup() {
	T=$BATS_TEST_TMPDIR
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# digest FILE: "SIZE SHA256", as relaypeer.py writes it.
digest() {
	local sum
	sum=$(sha256sum <"$1")
	printf '%s %s\n' "$(stat -c %s "$1")" "${sum%% *}"
}

# backend ADDR MODE ARGS...: start relaypeer.py as a server on ADDR (a port
# file, or unix:PATH) and wait for it; set $BACKEND_PID, and $BPORT for TCP.
backend() {
	local addr=$1
	bg_run /dev/null "$T/backend.out" "$T/backend.err" \
	    "$PYTHON" "$PEERS/relaypeer.py" server "$@"
	BACKEND_PID=$BG_PID
	case $addr in
	unix:*) wait_socket "${addr#unix:}" "$BACKEND_PID" ;;
	-6) addr=$2; wait_file "$addr" "$BACKEND_PID" && BPORT=$(<"$addr") ;;
	*) wait_file "$addr" "$BACKEND_PID" && BPORT=$(<"$addr") ;;
	esac
}

# relay ARGS...: start "$SK tcp-serve -v ARGS 127.0.0.1 0"; set $PORT,
# $RELAY_PID; its stderr goes to $T/relay.out.err.
relay() {
	start_server "$T/relay.out" tcp-serve -v "$@" 127.0.0.1 0 || return 1
	RELAY_PID=$SERVER_PID
	echo "$PORT" >"$T/rport"
}

# relay_unix PATH ARGS...: a relay listening on the Unix socket PATH.
relay_unix() {
	local path=$1
	shift
	bg_run /dev/null "$T/relay.out" "$T/relay.out.err" \
	    "$SK" tcp-serve -v "$@" -U "$path"
	RELAY_PID=$BG_PID
	wait_socket "$path" "$RELAY_PID"
}

# client ADDR MODE ARGS...: run relaypeer.py as a client, bounded.
client() {
	timeout 30 "$PYTHON" "$PEERS/relaypeer.py" client "$@"
}

# both_ways ADDR: 64 MiB each way through the relay at ADDR, both whole.
both_ways() {
	client "$1" both "$A" "$T/client.res"
	wait_file "$T/backend.res"
	same "$(cat "$T/client.res")" "$B_SUM eof"
	same "$(cat "$T/backend.res")" "$A_SUM eof"
}

@test "tcp-serve --to: 64 MiB each way, TCP to TCP, intact" {
	backend "$T/bp" both "$B" "$T/backend.res"
	relay --to "127.0.0.1:$BPORT"
	both_ways "$T/rport"
	wait_grep "64.0 MiB in, 64.0 MiB out, .*s, closed by the" \
	    "$T/relay.out.err"
}

@test "tcp-serve --to: 64 MiB each way, a -U listener to a TCP target" {
	backend "$T/bp" both "$B" "$T/backend.res"
	relay_unix "$T/r.sock" --to "127.0.0.1:$BPORT"
	both_ways "unix:$T/r.sock"
}

@test "tcp-serve --to: 64 MiB each way, a TCP listener to a unix: target" {
	backend "unix:$T/b.sock" both "$B" "$T/backend.res"
	relay --to "unix:$T/b.sock"
	both_ways "$T/rport"
}

@test "tcp-serve --to: an IPv6 target in brackets" {
	have_ipv6 || skip "no IPv6 loopback"
	backend -6 "$T/bp" both "$B" "$T/backend.res"
	relay --to "[::1]:$BPORT"
	both_ways "$T/rport"
}

@test "tcp-serve --to: curl through the relay to an HTTP backend" {
	need curl
	backend "$T/bp" http "$BODY"
	relay --to "127.0.0.1:$BPORT"
	run --separate-stderr curl -sS --max-time 10 -o "$T/got" \
	    "http://127.0.0.1:$PORT/"
	[ "$status" -eq 0 ]
	cmp "$T/got" "$BODY"
}

@test "tcp-serve --to: curl --unix-socket through a -U relay" {
	need curl
	backend "$T/bp" http "$BODY"
	relay_unix "$T/r.sock" --to "127.0.0.1:$BPORT"
	run --separate-stderr curl -sS --max-time 10 --unix-socket \
	    "$T/r.sock" -o "$T/got" "http://localhost/"
	[ "$status" -eq 0 ]
	cmp "$T/got" "$BODY"
}

@test "tcp-serve --to: a half-close passes through; the reply after EOF arrives whole" {
	backend "$T/bp" replyeof
	relay --to "127.0.0.1:$BPORT"
	run --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$A"
	[ "$status" -eq 0 ]
	same "$output" "got $A_SUM"
	wait_grep "closed by the client" "$T/relay.out.err"
}

@test "tcp-serve --to: a half-close passes through to nc -N" {
	need nc.openbsd
	backend "$T/bp" replyeof
	relay --to "127.0.0.1:$BPORT"
	run --separate-stderr timeout 20 nc.openbsd -N 127.0.0.1 "$PORT" \
	    <"$BODY"
	[ "$status" -eq 0 ]
	same "$output" "got $(digest "$BODY")"
}

@test "tcp-serve --to: a reset by the target reaches the client as a reset" {
	backend "$T/bp" rst
	relay --to "127.0.0.1:$BPORT"
	run client "$T/rport" wait x
	[ "$status" -eq 0 ]
	same "$output" "reset 0"
	wait_grep "0s, reset by the target" "$T/relay.out.err"
}

@test "tcp-serve --to: a reset by the client reaches the target as a reset" {
	backend "$T/bp" sink "$T/backend.res"
	relay --to "127.0.0.1:$BPORT"
	client "$T/rport" rst hello
	wait_file "$T/backend.res"
	same "$(cat "$T/backend.res")" \
	    "5 $(printf hello | sha256sum | cut -d' ' -f1) reset"
	wait_grep "5 B in, .*reset by the client" "$T/relay.out.err" ||
	    { cat "$T/relay.out.err" >&2; false; }
}

@test "tcp-serve --to: a target that is down: the client is closed, -v says why" {
	local p
	p=$(free_port)
	relay --to "127.0.0.1:$p"
	run client "$T/rport" wait hello
	[ "$status" -eq 0 ]
	same "$output" "eof 0"
	# "in" counts what reached the target: nothing.
	wait_grep "-> 127.0.0.1:$p: 0 B in, 0 B out, .*s, target unreachable: Connection refused" \
	    "$T/relay.out.err"
	running "$RELAY_PID"
}

@test "tcp-serve --to: -w bounds the target connect" {
	# A listener whose backlog is full leaves a connect pending.
	backend "$T/bp" full
	relay -w 300ms --to "127.0.0.1:$BPORT"
	run client "$T/rport" wait
	[ "$status" -eq 0 ]
	same "$output" "eof 0"
	wait_grep "target unreachable: connection timed out" \
	    "$T/relay.out.err"
}

@test "tcp-serve --to: a client that stops reading pauses its backend; another pair keeps flowing" {
	local s1 s2
	backend "$T/bp" mux "$T/status"
	relay --to "127.0.0.1:$BPORT"
	bg_run /dev/null /dev/null "$T/idle.err" "$PYTHON" \
	    "$PEERS/relaypeer.py" client "$T/rport" idle S 30
	wait_file "$T/status"
	# Once every buffer on the way is full, the backend sends no more.
	for ((i = 0; i < 100; i++)); do
		s1=$(<"$T/status")
		sleep 0.3
		s2=$(<"$T/status")
		[[ $s1 == "$s2" && $s1 -gt 0 ]] && break
	done
	same "$s2" "$s1"
	# Bounded: socket buffers and one pipe, not the whole stream.
	[ "$s1" -lt $((64 * 1024 * 1024)) ]
	# Meanwhile another pair of the same relay flows.
	printf E >"$T/e"
	cat "$B" >>"$T/e"
	run --separate-stderr bash -c "timeout 20 '$SK' tcp-connect 127.0.0.1 \
	    $PORT <'$T/e' | sha256sum"
	[ "$status" -eq 0 ]
	# The backend takes the E; the rest comes back.
	same "${output%% *}" "${B_SUM#* }"
	same "$(<"$T/status")" "$s1"
}

@test "tcp-serve --to: with no descriptor left for a pipe, a pair copies through a buffer" {
	local i n
	backend "$T/bp" mux "$T/status"
	# Descriptors 3-13 only: listener, epoll, signalfd, four pairs.
	bg_run /dev/null "$T/relay.out" "$T/relay.out.err" bash -c '
	    for f in /proc/$$/fd/*; do
		n=${f##*/}
		[ "$n" -gt 2 ] && eval "exec $n>&-"
	    done
	    ulimit -n 14
	    exec "$0" tcp-serve -v --to "$1" --port-file "$2" 127.0.0.1 0' \
	    "$SK" "127.0.0.1:$BPORT" "$T/rport"
	RELAY_PID=$BG_PID
	wait_file "$T/rport" "$RELAY_PID"
	for i in 1 2 3; do
		bg_run /dev/null /dev/null /dev/null "$PYTHON" \
		    "$PEERS/relaypeer.py" client "$T/rport" idle "" 30
	done
	# Three idle pairs hold six descriptors: 3 + 3 + 6 open.
	for ((i = 0; i < 500; i++)); do
		n=$(ls "/proc/$RELAY_PID/fd" | wc -l)
		((n >= 12)) && break
		sleep 0.02
	done
	same "$n" 12
	printf E >"$T/e"
	cat "$B" >>"$T/e"
	run --separate-stderr bash -c "timeout 30 '$SK' tcp-connect 127.0.0.1 \
	    $(<"$T/rport") <'$T/e' | sha256sum"
	[ "$status" -eq 0 ]
	same "${output%% *}" "${B_SUM#* }"
	wait_grep "64.0 MiB in, 64.0 MiB out, .*closed by the client" \
	    "$T/relay.out.err"
}

@test "tcp-serve --to: --idle closes a pair that carried nothing" {
	backend "$T/bp" replyeof
	relay --idle 300ms --to "127.0.0.1:$BPORT"
	run client "$T/rport" wait
	[ "$status" -eq 0 ]
	same "$output" "eof 0"
	wait_grep "0 B in, 0 B out, .*s, idle$" "$T/relay.out.err"
}

@test "tcp-serve --to: -m 1 refuses a second client while the first is relayed" {
	backend "$T/bp" replyeof
	relay -m 1 --to "127.0.0.1:$BPORT"
	bg_run /dev/null /dev/null "$T/idle.err" "$PYTHON" \
	    "$PEERS/relaypeer.py" client "$T/rport" idle x 20
	# The first pair is counted from its accept on.
	sleep 0.5
	run client "$T/rport" wait y
	[ "$status" -eq 0 ]
	[[ $output == "eof 0" || $output == "reset 0" ]]
	wait_grep "refused: too many connections" "$T/relay.out.err"
}

@test "tcp-serve --to: --deny closes the client; -v says refused by the access list" {
	backend "$T/bp" replyeof
	relay --deny 127.0.0.0/8 --to "127.0.0.1:$BPORT"
	run client "$T/rport" wait
	[ "$status" -eq 0 ]
	same "$output" "eof 0"
	wait_grep ": refused by the access list" "$T/relay.out.err"
}

@test "tcp-serve --to: --log json logs each pair's end" {
	backend "$T/bp" replyeof
	relay --log json --to "127.0.0.1:$BPORT"
	run --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <"$BODY"
	[ "$status" -eq 0 ]
	wait_grep '"event":"close"' "$T/relay.out.err"
	grep -q '"event":"open","peer":"127.0.0.1:' "$T/relay.out.err"
	grep -q "\"received\":$(stat -c %s "$BODY")," "$T/relay.out.err"
	grep -q '"reason":"closed by the client"' "$T/relay.out.err"
}

@test "tcp-serve --to: SIGTERM ends the relay with 143" {
	relay --to 127.0.0.1:9
	kill -TERM "$RELAY_PID"
	expect_exit 143 "$RELAY_PID" "$T/relay.out.err"
}

@test "tcp-serve --to: SIGINT ends a -U relay with 130 and removes its socket" {
	relay_unix "$T/r.sock" --to 127.0.0.1:9
	kill -INT "$RELAY_PID"
	expect_exit 130 "$RELAY_PID" "$T/relay.out.err"
	[ ! -e "$T/r.sock" ]
}

@test "tcp-serve --to: the payload moves by splice, not read and write" {
	need strace
	local sp rw
	backend "$T/bp" replyeof
	bg_run /dev/null /dev/null "$T/strace.err" strace -f -c -o "$T/st" \
	    "$SK" tcp-serve --to "127.0.0.1:$BPORT" --port-file "$T/pf" \
	    127.0.0.1 0
	wait_file "$T/pf" "$BG_PID"
	run --separate-stderr timeout 20 "$SK" tcp-connect 127.0.0.1 \
	    "$(<"$T/pf")" <"$A"
	[ "$status" -eq 0 ]
	same "$output" "got $A_SUM"
	pkill -TERM -P "$BG_PID"
	wait_exit "$BG_PID" || true
	# strace -c columns: % time, seconds, usecs/call, calls, [errors,] name.
	sp=$(awk '$NF == "splice" { print $4 }' "$T/st")
	rw=$(awk '$NF == "read" || $NF == "write" || $NF == "sendto" || \
	    $NF == "recvfrom" { n += $4 } END { print n + 0 }' "$T/st")
	echo "# splice $sp, read/write $rw" >&3
	# 64 MiB is at least 1024 pipes' worth, each in and out.
	[ "$sp" -ge 2048 ]
	# A few reads of its own (ASan reads more), none per chunk.
	[ "$rw" -lt 200 ]
}

@test "tcp-serve --to: usage errors name the conflict" {
	local o
	for o in --echo "-e cat" "-c cat" "--frame line" -C "--hexdump -" \
	    --send-only --recv-only --no-shutdown --keep-sending -P --tag; do
		# Word splitting on purpose: an option and its argument.
		# shellcheck disable=SC2086
		run -2 --separate-stderr timeout 10 "$SK" tcp-serve \
		    --to 127.0.0.1:9 $o 127.0.0.1 0
		[[ $stderr == *"cannot use --to with --"* ]]
	done
	run -2 --separate-stderr "$SK" tcp-serve --to 127.0.0.1:9 --echo 0
	same "$stderr" "sockkit: tcp-serve: cannot use --to with --echo"
	run -2 --separate-stderr "$SK" tcp-serve --idle 1s 0
	same "$stderr" "sockkit: tcp-serve: cannot use --idle without --to"
	run -2 --separate-stderr "$SK" tcp-serve --to nocolon 0
	[[ $stderr == "sockkit: tcp-serve: target nocolon: expected HOST:PORT"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --to ::1:80 0
	[[ $stderr == *"[V6]:PORT"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --to h:99999 0
	[[ $stderr == "sockkit: tcp-serve: target h:99999: "* ]]
	run -2 --separate-stderr "$SK" tcp-serve --to unix: 0
	[[ $stderr == *"no path after unix:"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --to 127.0.0.1:9 --idle x 0
	[[ $stderr == "sockkit: tcp-serve: idle x: "* ]]
}

@test "tcp-serve --to: an unresolvable target exits 1" {
	run -1 --separate-stderr "$SK" tcp-serve --to no.such.host.invalid:80 \
	    127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: target no.such.host.invalid:80: "* ]]
}
