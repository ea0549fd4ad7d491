#!/usr/bin/env bats
# --frame line|len32 and --max-frame on tcp-connect and tcp-serve: the
# bytes on the wire, frames split byte by byte or coalesced, whole lines,
# the size limit and truncated streams, checked with a raw Python peer
# (tests/peers/frames.py).

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# frames ARGS...: run the frames.py client (bounded); it prints in hex
# what the server sent.
frames() {
	timeout 15 "$PYTHON" "$PEERS/frames.py" client 127.0.0.1 "$PORT" "$@"
}

# expect_out FILE FORMAT [ARG...]: FILE holds exactly printf FORMAT ARG.
expect_out() {
	local f=$1
	shift
	# shellcheck disable=SC2059
	printf -- "$@" >"$f.want"
	diff -u "$f.want" "$f" >&2
}

# --- bytes on the wire --------------------------------------------------

@test "tcp-connect: --frame len32 sends each stdin line as a frame" {
	start_role_peer "$T/peer" frames.py server --hold
	printf 'a\n\nbcd\n' >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT" <"$T/in"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" 00000001610000000000000003626364
}

@test "tcp-connect: --frame len32 frames a last line without newline, keeps CR" {
	start_role_peer "$T/peer" frames.py server --hold
	printf 'a\r\nxy' >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT" <"$T/in"
	[ -z "$stderr" ]
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" 00000002610d000000027879
}

@test "tcp-connect: --frame line sends the lines as they are" {
	start_role_peer "$T/peer" frames.py server --hold
	printf 'one\r\ntwo\n\nlast' >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame line \
	    127.0.0.1 "$PORT" <"$T/in"
	[ -z "$stderr" ]
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" 6f6e650d0a74776f0a0a6c617374
}

@test "tcp-serve: --frame len32 sends stdin lines, read before the client came" {
	printf 'x\n\nyz' >"$T/in"
	IN=$T/in start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
	# The server has read its stdin before anyone connects; none of it
	# may be lost.
	run -0 --separate-stderr frames --hold
	same "$output" 00000001780000000000000002797a
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out" ]
	[ ! -s "$T/out.err" ]
}

# --- receiving frames ---------------------------------------------------

@test "tcp-serve: --frame len32 writes one line per frame sent byte by byte" {
	start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
	run -0 --separate-stderr frames --bytewise frame:hello frame: \
	    'frame:two words' 'frame:x*20' frame:end
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	expect_out "$T/out" 'hello\n\ntwo words\n%s\nend\n' \
	    xxxxxxxxxxxxxxxxxxxx
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: --frame len32 splits frames coalesced in one segment" {
	start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
	run -0 --separate-stderr frames frame:one frame: frame:three \
	    'frame:x*70000' frame:last
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	head -3 "$T/out" >"$T/head"
	expect_out "$T/head" 'one\n\nthree\n'
	same "$(sed -n 4p "$T/out" | tr -d '\n' | wc -c)" 70000
	same "$(tail -n +5 "$T/out")" last
	same "$(wc -l <"$T/out")" 5
}

@test "tcp-connect: --frame len32 writes one line per frame sent byte by byte" {
	start_role_peer "$T/peer" frames.py server --bytewise frame:ab \
	    frame: 'frame:c d'
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --frame len32 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	expect_out "$T/out" 'ab\n\nc d\n'
	[ ! -s "$T/err" ]
}

@test "tcp-serve: --frame line writes whole lines, keeps CRLF, ends the last" {
	start_server "$T/out" tcp-serve --frame line 127.0.0.1 0
	run -0 --separate-stderr frames --bytewise 'raw:one\r\ntwo\n\nlast'
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	expect_out "$T/out" 'one\r\ntwo\n\nlast\n'
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve -k: --frame line never writes part of a line" {
	start_server "$T/out" tcp-serve -k -v --frame line 127.0.0.1 0
	# The first client sends half a line and holds its connection open.
	bg_run /dev/null /dev/null "$T/a.err" "$PYTHON" "$PEERS/frames.py" \
	    client 127.0.0.1 "$PORT" --hold raw:hel
	local apid=$BG_PID
	# Under load the client may not have connected yet: wait for it.
	wait_grep 'connection from' "$T/out.err"
	sleep 0.2
	run -0 --separate-stderr frames 'raw:world\n'
	wait_grep '^world$' "$T/out"
	expect_out "$T/out" 'world\n'
	# Its end of stream completes the line.
	kill -TERM "$apid"
	wait_exit "$apid" || true
	wait_grep '^hel$' "$T/out"
	expect_out "$T/out" 'world\nhel\n'
	running "$SERVER_PID"
}

@test "tcp-connect: --frame --keep-sending ends when stdin ended first" {
	start_role_peer "$T/peer" frames.py server --hold 'raw:hi\n'
	printf 'a\n' >"$T/in"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --frame line \
	    --keep-sending 127.0.0.1 "$PORT" <"$T/in"
	same "$output" hi
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" 610a
}

# --- limits and truncation ----------------------------------------------

@test "tcp-serve: a len32 header over --max-frame closes it, names the peer, exit 1" {
	start_server "$T/out" tcp-serve --frame len32 --max-frame 16 \
	    127.0.0.1 0
	# The peer holds its side open: only the header can make the server
	# close. A frame of exactly 16 bytes is still fine.
	run -0 --separate-stderr frames --hold --name "$T/name" \
	    'frame:x*16' hdr:17 raw:abc
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	expect_out "$T/out" '%s\n' xxxxxxxxxxxxxxxx
	same "$(<"$T/out.err")" \
	    "sockkit: tcp-serve: $(sed "s/:/ port /" "$T/name"): frame too long"
}

@test "tcp-serve: a truncated len32 frame or header is an error, exit 1" {
	local items
	for items in 'hdr:10 raw:abc' 'raw:\x00\x00'; do
		start_server "$T/out" tcp-serve --frame len32 127.0.0.1 0
		# shellcheck disable=SC2086
		run -0 --separate-stderr frames --name "$T/name" frame:ok $items
		expect_exit 1 "$SERVER_PID" "$T/out.err"
		expect_out "$T/out" 'ok\n'
		same "$(<"$T/out.err")" \
		    "sockkit: tcp-serve: $(sed "s/:/ port /" "$T/name"): truncated frame"
	done
}

@test "tcp-serve: --max-frame bounds a line in line mode" {
	start_server "$T/out" tcp-serve --frame line --max-frame 8 127.0.0.1 0
	run -0 --separate-stderr frames --hold --name "$T/name" \
	    'raw:12345678\n123456789\n'
	expect_exit 1 "$SERVER_PID" "$T/out.err"
	expect_out "$T/out" '12345678\n'
	same "$(<"$T/out.err")" \
	    "sockkit: tcp-serve: $(sed "s/:/ port /" "$T/name"): line too long"
}

@test "tcp-connect: a stdin line over --max-frame is not sent, exit 1" {
	start_role_peer "$T/peer" frames.py server --hold
	printf 'ok\n123456789\nmore\n' >"$T/in"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --frame len32 \
	    --max-frame 8 127.0.0.1 "$PORT" <"$T/in"
	same "$stderr" "sockkit: tcp-connect: standard input: line too long"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(<"$T/peer")" 000000026f6b
}

@test "tcp-serve -k: a protocol error drops only that client" {
	mkfifo "$T/fifo"
	start_server "$T/out" tcp-serve -k --frame len32 --max-frame 16 \
	    127.0.0.1 0
	# A sockkit client stays connected across the bad ones.
	bg_run "rw:$T/fifo" /dev/null "$T/good.err" \
	    "$SK" tcp-connect --frame len32 127.0.0.1 "$PORT"
	echo before >"$T/fifo"
	wait_grep '^before$' "$T/out"
	run -0 --separate-stderr frames --hold --name "$T/big" hdr:17 raw:abc
	run -0 --separate-stderr frames --name "$T/cut" hdr:10 raw:abc
	echo after >"$T/fifo"
	wait_grep '^after$' "$T/out"
	run -0 --separate-stderr frames frame:later
	wait_grep '^later$' "$T/out"
	expect_out "$T/out" 'before\nafter\nlater\n'
	grep -qx "sockkit: tcp-serve: $(<"$T/big"): frame too long" \
	    "$T/out.err"
	grep -qx "sockkit: tcp-serve: $(<"$T/cut"): truncated frame" \
	    "$T/out.err"
	# Once each, with -k and without -v too.
	same "$(wc -l <"$T/out.err")" 2
	running "$SERVER_PID"
	[ ! -s "$T/good.err" ]
}

@test "tcp-connect: a len32 header over --max-frame exits 1 naming the peer" {
	start_role_peer "$T/peer" frames.py server --hold frame:ok hdr:17 \
	    raw:abc
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect --recv-only \
	    --frame len32 --max-frame 16 127.0.0.1 "$PORT"
	expect_exit 1 "$BG_PID" "$T/err"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	expect_out "$T/out" 'ok\n'
	same "$(<"$T/err")" \
	    "sockkit: tcp-connect: 127.0.0.1 port $PORT: frame too long"
}

@test "tcp-connect: a truncated len32 frame exits 1 naming the peer" {
	start_role_peer "$T/peer" frames.py server frame:ok hdr:5 raw:ab
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect --frame len32 \
	    127.0.0.1 "$PORT"
	expect_exit 1 "$BG_PID" "$T/err"
	expect_out "$T/out" 'ok\n'
	same "$(<"$T/err")" \
	    "sockkit: tcp-connect: 127.0.0.1 port $PORT: truncated frame"
}

# --- option parsing -----------------------------------------------------

@test "tcp-connect: --max-frame takes K, M and G; a bad size exits 2" {
	local port size
	port=$(free_port)
	for size in 1 512 64K 64k 16M 1G 4G; do
		run -1 --separate-stderr "$SK" tcp-connect --frame len32 \
		    --max-frame "$size" 127.0.0.1 "$port" </dev/null
		[[ $stderr == *"Connection refused"* ]]
	done
	for size in abc:invalid 16X:invalid '':invalid -1:'too small' \
	    0:'too small' 5G:'too large' 99999999999:'too large'; do
		run -2 --separate-stderr "$SK" tcp-connect --max-frame \
		    "${size%%:*}" 127.0.0.1 "$port" </dev/null
		same "$stderr" \
		    "sockkit: tcp-connect: max-frame ${size%%:*}: ${size#*:}"
		[ -z "$output" ]
	done
}

@test "tcp-serve: a bad --max-frame or --frame exits 2" {
	run -2 --separate-stderr "$SK" tcp-serve --max-frame 0 127.0.0.1 0
	same "$stderr" "sockkit: tcp-serve: max-frame 0: too small"
	run -2 --separate-stderr "$SK" tcp-serve --frame len16 127.0.0.1 0
	same "$stderr" \
	    "sockkit: tcp-serve: frame len16: unknown mode (raw, line, len32)"
	run -2 --separate-stderr "$SK" tcp-connect --frame '' 127.0.0.1 1
	[[ $stderr == "sockkit: tcp-connect: frame : unknown mode"* ]]
}
