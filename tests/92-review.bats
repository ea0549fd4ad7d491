#!/usr/bin/env bats
# Failures found in review: a vanished stdout reader, a shared stdout
# left non-blocking, a handshake kept alive by trickled bytes.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "tcp-serve: -k exits 0 quietly when its stdout reader goes away" {
	local i
	{ "$SK" tcp-serve -k --port-file "$T/pf" 127.0.0.1 0 </dev/null \
	    2>"$T/err" | head -c 5 >/dev/null
	  echo "${PIPESTATUS[0]}" >"$T/status"; } 3>&- &
	_PIDS+=("$!")
	wait_file "$T/pf"
	for ((i = 0; i < 50; i++)); do
		[[ -s $T/status ]] && break
		echo "line $i" | timeout 5 "$SK" tcp-connect 127.0.0.1 \
		    "$(<"$T/pf")" >/dev/null 2>&1 || true
	done
	wait_file "$T/status"
	[ "$(<"$T/status")" = 0 ]
	[ ! -s "$T/err" ]
}

@test "tcp-connect: --frame exits 0 quietly when its stdout reader goes away" {
	start_server "$T/srv" tcp-serve -k --sh-exec yes 127.0.0.1 0
	run --separate-stderr bash -c '"$0" tcp-connect --frame line \
	    127.0.0.1 "$1" </dev/null | head -c 5; exit "${PIPESTATUS[0]}"' \
	    "$SK" "$PORT"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

# nonblock CMD...: run CMD with stdout on a pipe, then report whether
# that pipe (an open file shared with what runs next) is non-blocking.
nonblock() {
	{ "$@" 2>/dev/null </dev/null
	  "$PYTHON" -c 'import fcntl, os
print(fcntl.fcntl(1, fcntl.F_GETFL) & os.O_NONBLOCK)'; } | tail -n 1
}

@test "udp-send: leaves a shared stdout blocking when it exits" {
	run -0 nonblock timeout 10 "$SK" udp-send -w 100ms 127.0.0.1 9 hi
	[ "$output" = 0 ]
}

@test "chat: the room leaves a shared stdout blocking when it exits" {
	run -0 nonblock sh -c 'echo /quit | timeout 10 "$0" chat -l \
	    127.0.0.1 0' "$SK"
	[ "$output" = 0 ]
}

@test "tcp-serve: a handshake trickled a byte at a time still ends at -w" {
	echo key >"$T/key"
	start_server "$T/srv" tcp-serve -k -v -w 1 --auth-key "$T/key" \
	    127.0.0.1 0
	run -0 timeout 10 "$PYTHON" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(40)
t0 = time.monotonic()
try:
    while time.monotonic() - t0 < 6:
        s.send(b"x")
        time.sleep(0.2)
except OSError:
    pass
print("%.1f" % (time.monotonic() - t0))' "$PORT"
	# Dropped about 1 s after the accept, not 6 s of trickle later.
	[ "${output%.*}" -lt 4 ]
	wait_grep "authentication timed out" "$T/srv.err"
}
