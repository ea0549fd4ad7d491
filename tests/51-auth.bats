#!/usr/bin/env bats
# --auth-key: the SKAUTH1 handshake against an independent Python
# implementation (tests/peers/skauth.py) in both roles, sockkit against
# itself, timeouts and garbage, key file rules, and --frame after it.

bats_require_minimum_version 1.5.0
load helpers

KEY=sk-test-key-5d1e0b7c

setup() {
	T=$BATS_TEST_TMPDIR
	# sockkit drops one trailing newline; the Python peer does too.
	printf '%s\n' "$KEY" >"$T/key"
	printf '%s' "$KEY" >"$T/pykey"
	printf 'wrong\n' >"$T/bad"
}

# skclient ARGS...: the Python SKAUTH1 client on $PORT, bounded.
skclient() {
	timeout 15 "$PYTHON" "$PEERS/skauth.py" client 127.0.0.1 "$PORT" "$@"
}

# now_ms: the clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# within MS LO HI: LO <= MS <= HI, said if not.
within() {
	(($2 <= $1 && $1 <= $3)) && return 0
	echo "# took $1 ms, expected $2 to $3" >&2
	return 1
}

# --- against the Python implementation ---------------------------------

@test "tcp-connect: authenticates to the Python SKAUTH1 server" {
	echo from-server >"$T/sin"
	IN=$T/sin start_role_peer "$T/peer" skauth.py server "$T/pykey"
	echo from-client >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --keep-sending \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" <"$T/in"
	same "$output" from-server
	[ -z "$stderr" ]
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" from-client
}

@test "tcp-serve: authenticates the Python SKAUTH1 client" {
	echo from-server >"$T/sin"
	IN=$T/sin start_server "$T/out" tcp-serve --keep-sending \
	    --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr skclient "$T/pykey" <<<from-client
	same "$output" from-server
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" from-client
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve -k: authenticates Python SKAUTH1 clients one after another" {
	start_server "$T/out" tcp-serve -k -v --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr skclient "$T/pykey" <<<one
	run -0 --separate-stderr skclient "$T/pykey" <<<two
	wait_grep '^two$' "$T/out"
	expect_out_lines "$T/out" one two
	same "$(grep -c ': authenticated$' "$T/out.err")" 2
	running "$SERVER_PID"
}

@test "tcp-connect: a wrong key fails with exit 1" {
	start_role_peer "$T/peer" skauth.py server "$T/pykey"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/bad" 127.0.0.1 "$PORT" </dev/null
	[ -z "$output" ]
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	expect_exit 1 "$PEER_PID" "$T/peer.err"
	[ ! -s "$T/peer" ]
}

@test "tcp-serve: a wrong key fails with exit 1 and names the peer once" {
	start_server "$T/out" tcp-serve -v --auth-key "$T/key" 127.0.0.1 0
	run -1 --separate-stderr skclient "$T/bad" <<<secret-data
	same "$stderr" "authentication failed"
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
	same "$(grep -c 'authentication failed' "$T/out.err")" 1
	grep -Eqx 'sockkit: tcp-serve: 127\.0\.0\.1 port [0-9]+: authentication failed' \
	    "$T/out.err"
}

@test "tcp-serve -k -v: logs a wrong key and serves on" {
	start_server "$T/out" tcp-serve -k -v --auth-key "$T/key" 127.0.0.1 0
	run -1 --separate-stderr skclient "$T/bad" <<<secret-data
	run -0 --separate-stderr skclient "$T/pykey" <<<welcome
	wait_grep '^welcome$' "$T/out"
	expect_out_lines "$T/out" welcome
	grep -Eqx 'sockkit: tcp-serve: 127\.0\.0\.1:[0-9]+: authentication failed' \
	    "$T/out.err"
	running "$SERVER_PID"
}

@test "tcp-serve -k: a wrong key is not logged without -v" {
	start_server "$T/out" tcp-serve -k --auth-key "$T/key" 127.0.0.1 0
	run -1 --separate-stderr skclient "$T/bad" </dev/null
	run -0 --separate-stderr skclient "$T/pykey" <<<welcome
	wait_grep '^welcome$' "$T/out"
	[ ! -s "$T/out.err" ]
}

@test "tcp-connect: a wrong server proof fails with exit 1" {
	start_role_peer "$T/peer" skauth.py server "$T/pykey" --bad-proof
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" <<<secret-data
	[ -z "$output" ]
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	# 1: the peer saw sockkit close (2 would mean it did not).
	expect_exit 1 "$PEER_PID" "$T/peer.err"
	[ ! -s "$T/peer" ]
}

@test "tcp-serve: a wrong client proof is refused" {
	start_server "$T/out" tcp-serve --auth-key "$T/key" 127.0.0.1 0
	run -1 --separate-stderr skclient "$T/pykey" --bad-proof
	same "$stderr" "authentication failed"
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	grep -q 'authentication failed$' "$T/out.err"
}

@test "tcp-connect: a silent server is dropped at -w" {
	start_role_peer "$T/peer" skauth.py server "$T/pykey" --silence
	local t0
	t0=$(now_ms)
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -w 1 \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" </dev/null
	within $(($(now_ms) - t0)) 900 4000
	same "$stderr" "sockkit: tcp-connect: authentication timed out"
	expect_exit 1 "$PEER_PID" "$T/peer.err"
}

@test "tcp-serve: a silent client is dropped at -w" {
	start_server "$T/out" tcp-serve -w 1 --auth-key "$T/key" 127.0.0.1 0
	local t0
	t0=$(now_ms)
	run -1 --separate-stderr skclient "$T/pykey" --silence
	within $(($(now_ms) - t0)) 900 4000
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	grep -Eqx 'sockkit: tcp-serve: 127\.0\.0\.1 port [0-9]+: authentication timed out' \
	    "$T/out.err"
}

@test "tcp-serve -k: a pending handshake never blocks other clients" {
	start_server "$T/out" tcp-serve -k -v -w 3 --auth-key "$T/key" \
	    127.0.0.1 0
	bg_run /dev/null /dev/null "$T/silent.err" "$PYTHON" \
	    "$PEERS/skauth.py" client 127.0.0.1 "$PORT" "$T/pykey" --silence
	local spid=$BG_PID
	wait_grep 'connection from' "$T/out.err"
	run -0 --separate-stderr skclient "$T/pykey" <<<served
	wait_grep '^served$' "$T/out"
	# Served while the silent one still waits for its handshake.
	running "$spid"
	expect_exit 1 "$spid" "$T/silent.err"
	grep -q 'authentication timed out$' "$T/out.err"
	running "$SERVER_PID"
}

@test "tcp-serve -k: clients that reset right after their proof do no harm" {
	start_server "$T/out" tcp-serve -k --auth-key "$T/key" 127.0.0.1 0
	local i
	# The server's proof meets a reset socket: a failed write there
	# must not touch the client it has just freed.
	for ((i = 0; i < 20; i++)); do
		skclient "$T/pykey" --reset
	done
	run -0 --separate-stderr skclient "$T/pykey" <<<still-here
	wait_grep '^still-here$' "$T/out"
	running "$SERVER_PID"
	expect_out_lines "$T/out" still-here
}

@test "tcp-serve: -w bounds the wait for the one client" {
	local t0
	t0=$(now_ms)
	run -1 --separate-stderr timeout 10 "$SK" tcp-serve -w 1 \
	    --auth-key "$T/key" 127.0.0.1 0
	within $(($(now_ms) - t0)) 900 4000
	same "$stderr" "sockkit: tcp-serve: timed out waiting for a connection"
}

@test "tcp-serve: garbage instead of a handshake is dropped at once" {
	start_server "$T/out" tcp-serve -k -v --auth-key "$T/key" 127.0.0.1 0
	local t0
	t0=$(now_ms)
	run -1 --separate-stderr skclient "$T/pykey" --garbage
	within $(($(now_ms) - t0)) 0 3000
	grep -q 'authentication failed$' "$T/out.err"
	[ ! -s "$T/out" ]
	running "$SERVER_PID"
}

@test "tcp-connect: garbage instead of a handshake fails with exit 1" {
	start_role_peer "$T/peer" skauth.py server "$T/pykey" --garbage
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" </dev/null
	[ -z "$output" ]
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	expect_exit 1 "$PEER_PID" "$T/peer.err"
}

# --- sockkit against itself ---------------------------------------------

@test "tcp-connect to tcp-serve: matching keys exchange data" {
	cp "$T/key" "$T/key2"
	echo to-client >"$T/sin"
	IN=$T/sin start_server "$T/out" tcp-serve --keep-sending \
	    --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --keep-sending \
	    --auth-key "$T/key2" 127.0.0.1 "$PORT" <<<to-server
	same "$output" to-client
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	same "$(<"$T/out")" to-server
}

@test "tcp-connect to tcp-serve -k: matching keys served, a wrong one refused" {
	start_server "$T/out" tcp-serve -k --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" <<<one
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/bad" 127.0.0.1 "$PORT" <<<intruder
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" <<<two
	wait_grep '^two$' "$T/out"
	expect_out_lines "$T/out" one two
	running "$SERVER_PID"
}

@test "tcp-connect to tcp-serve: different keys fail on both sides" {
	start_server "$T/out" tcp-serve --auth-key "$T/key" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/bad" 127.0.0.1 "$PORT" <<<intruder
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
}

# --- the key file -------------------------------------------------------

@test "--auth-key: a missing, unreadable or empty key file exits 2" {
	local cmd f
	mkdir "$T/dir"
	: >"$T/empty"
	printf '\n' >"$T/nl"
	head -c 4097 /dev/zero | tr '\0' k >"$T/long"
	# A directory fails to read even for root, as CI runs.
	for cmd in tcp-connect tcp-serve; do
		for f in 'none:No such file or directory' 'dir:Is a directory' \
		    'empty:empty key' 'nl:empty key' \
		    'long:key longer than 4096 bytes'; do
			run -2 --separate-stderr "$SK" "$cmd" \
			    --auth-key "$T/${f%%:*}" 127.0.0.1 1
			same "$stderr" \
			    "sockkit: $cmd: auth-key $T/${f%%:*}: ${f#*:}"
			[ -z "$output" ]
		done
	done
}

@test "--auth-key: one trailing newline is dropped, not two" {
	printf 'k' >"$T/k"
	printf 'k\n' >"$T/k1"
	printf 'k\n\n' >"$T/k2"
	# The Python peer reads "k" from both "k" and "k\n".
	start_role_peer "$T/peer" skauth.py server "$T/k"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/k1" 127.0.0.1 "$PORT" </dev/null
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	start_role_peer "$T/peer" skauth.py server "$T/k1"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/k" 127.0.0.1 "$PORT" </dev/null
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	# "k\n\n" is the key "k\n".
	start_role_peer "$T/peer" skauth.py server "$T/k"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --auth-key "$T/k2" 127.0.0.1 "$PORT" </dev/null
	same "$stderr" "sockkit: tcp-connect: authentication failed"
	expect_exit 1 "$PEER_PID" "$T/peer.err"
}

@test "--auth-key: the key is never in argv or in messages" {
	local f
	mkfifo "$T/fifo"
	IN=rw:$T/fifo start_server "$T/out" tcp-serve -k -v -v \
	    --auth-key "$T/key" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -v -v \
	    --auth-key "$T/key" 127.0.0.1 "$PORT" <<<hello
	echo "$stderr" >"$T/c1.err"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -v -v \
	    --auth-key "$T/bad" 127.0.0.1 "$PORT" </dev/null
	echo "$stderr" >"$T/c2.err"
	run -1 --separate-stderr skclient "$T/bad" </dev/null
	wait_grep '^hello$' "$T/out"
	tr '\0' ' ' <"/proc/$SERVER_PID/cmdline" >"$T/cmdline"
	grep -q -- "--auth-key $T/key" "$T/cmdline"
	for f in "$T/cmdline" "$T/out" "$T/out.err" "$T/c1.err" "$T/c2.err"; do
		grep -q -- "$KEY" "$f" && { echo "# key in $f" >&2; return 1; }
	done
	grep -q 'authentication failed' "$T/out.err"
}

@test "--auth-key: a process that holds the key writes no core file" {
	ulimit -S -c "$(ulimit -H -c)"
	[[ $(ulimit -S -c) != 0 ]] || skip "core files are off (hard limit 0)"
	start_server "$T/out" tcp-serve -k --auth-key "$T/key" 127.0.0.1 0
	grep -Eq '^Max core file size +0 +0 ' "/proc/$SERVER_PID/limits"
	# Without a key the limit is left alone.
	start_server "$T/out2" tcp-serve -k 127.0.0.1 0
	run -1 grep -Eq '^Max core file size +0 +0 ' "/proc/$SERVER_PID/limits"
}

# --- with framing -------------------------------------------------------

@test "tcp-connect: --auth-key with --frame len32 frames after the handshake" {
	printf '\0\0\0\2hi\0\0\0\0' >"$T/sin"
	IN=$T/sin start_role_peer "$T/peer" skauth.py server "$T/pykey"
	printf 'a\n\nbcd\n' >"$T/in"
	bg_run "$T/in" "$T/out" "$T/err" "$SK" tcp-connect --keep-sending \
	    --frame len32 --auth-key "$T/key" 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	# The peer did the handshake; what follows is raw frames.
	same "$(od -An -v -tx1 <"$T/peer" | tr -d ' \n')" \
	    00000001610000000000000003626364
	expect_out_lines "$T/out" hi ''
	[ ! -s "$T/err" ]
}

@test "tcp-serve: --auth-key with --frame len32 frames after the handshake" {
	printf 'x\n' >"$T/sin"
	IN=$T/sin start_server "$T/out" tcp-serve --keep-sending \
	    --frame len32 --auth-key "$T/key" 127.0.0.1 0
	printf '\0\0\0\2hi\0\0\0\0\0\0\0\1z' >"$T/in"
	skclient "$T/pykey" <"$T/in" >"$T/cout"
	same "$(od -An -v -tx1 <"$T/cout" | tr -d ' \n')" 0000000178
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	expect_out_lines "$T/out" hi '' z
	[ ! -s "$T/out.err" ]
}

# expect_out_lines FILE LINE...: FILE holds exactly these lines.
expect_out_lines() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f.want"
	diff -u "$f.want" "$f" >&2
}
