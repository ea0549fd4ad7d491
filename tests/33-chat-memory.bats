#!/usr/bin/env bats
# chat --listen memory bounds: bursts, history, the --max-memory budget,
# the host console's stdin and stdout.

bats_require_minimum_version 1.5.0
load helpers

room() {
	start_server "$BATS_TEST_TMPDIR/host" chat -l "$@" 127.0.0.1 0
}

memchat() {
	run --separate-stderr timeout 60 "$PYTHON" "$PEERS/memchat.py" \
	    127.0.0.1 "$PORT" "$@"
}

@test "chat: a burst of long lines drops no member that reads, nor the console" {
	room
	# Two senders, 256 KiB each of lines of 8191 NULs (32 KiB shown).
	memchat burst 3 2 256 8191
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "3 readers got all" ]
	run -1 grep -c "too slow" "$BATS_TEST_TMPDIR/host" \
	    "$BATS_TEST_TMPDIR/host.err"
	running "$SERVER_PID"
}

@test "chat: --history 40 of long lines does not drop a newcomer on join" {
	room --history 40
	memchat burst 1 1 321 8191
	[ "$status" -eq 0 ]
	memchat join 5
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "5 welcomed" ]
	run -1 grep "too slow" "$BATS_TEST_TMPDIR/host"
}

@test "chat: past --max-memory the member holding the most leaves with the reason" {
	room -v --max-queue 16M --max-memory 2M
	memchat hog 8
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "* guest1 has left (memory budget reached)" ]
	wait_grep "guest1 has left (memory budget reached)" \
	    "$BATS_TEST_TMPDIR/host"
	grep -q "memory budget reached: dropped, holding" \
	    "$BATS_TEST_TMPDIR/host.err"
	running "$SERVER_PID"
}

@test "chat: --max-memory is in the help and takes a size" {
	run -0 "$SK" chat --help
	[[ $output == *"--max-memory SIZE"*"(default 64M)"* ]]
	run -2 --separate-stderr "$SK" chat -l --max-memory 12Q 127.0.0.1 0
	[ "$stderr" = "sockkit: chat: max-memory 12Q: invalid" ]
}

@test "chat: an error reading stdin is reported; the room runs on and exits cleanly" {
	# A directory opens, but read(2) on it fails with EISDIR.
	IN=$BATS_TEST_TMPDIR start_server "$BATS_TEST_TMPDIR/host" chat -l \
	    127.0.0.1 0
	wait_grep "read stdin: Is a directory" "$BATS_TEST_TMPDIR/host.err"
	run --separate-stderr timeout 20 "$PYTHON" "$PEERS/chatpeer.py" \
	    127.0.0.1 "$PORT" script ">hello" close
	[ "$status" -eq 0 ]
	wait_grep "<guest1> hello" "$BATS_TEST_TMPDIR/host"
	kill -TERM "$SERVER_PID"
	expect_exit 143 "$SERVER_PID" "$BATS_TEST_TMPDIR/host.err"
	run -1 grep -E "AddressSanitizer|runtime error" \
	    "$BATS_TEST_TMPDIR/host.err"
}

@test "chat: stdout on a terminal never read does not stall the members; /quit ends the room" {
	run --separate-stderr timeout 60 "$PYTHON" "$PEERS/ptyroom.py" "$SK" \
	    400 1024
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = $'400 lines\nwelcome\nexit 0' ]
}

@test "chat: a console that fell behind on a terminal leaves, and /quit still ends the room" {
	run --separate-stderr timeout 60 "$PYTHON" "$PEERS/ptyroom.py" "$SK" \
	    2000 1024
	[ "$status" -eq 0 ]
	[ "$output" = $'2000 lines\nwelcome\nexit 0' ]
	[[ $stderr == *"stdout is too slow: the console has left the room"* ]]
}

# hwm PID: the peak resident set of PID in KiB.
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# Peak RSS means nothing under ASan: tests/run.sh leaves it out there.
# bats test_tags=rss
@test "chat: 256 KiB of one-character lines from one member: no reader dropped, the next line within 5 s, peak under 48 MiB" {
	room
	MEMCHAT_SECS=5 memchat flood 200 256 chars
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "200 readers got the ping" ]
	echo "# peak $(hwm "$SERVER_PID") KiB" >&2
	[ "$(hwm "$SERVER_PID")" -lt $((48 * 1024)) ]
}

# Peak RSS means nothing under ASan: tests/run.sh leaves it out there.
# bats test_tags=rss
@test "chat: a burst of /nick commands: no reader dropped, the next line within 5 s, peak under 48 MiB" {
	room
	MEMCHAT_SECS=5 memchat flood 200 256 nick
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "200 readers got the ping" ]
	echo "# peak $(hwm "$SERVER_PID") KiB" >&2
	[ "$(hwm "$SERVER_PID")" -lt $((48 * 1024)) ]
}

@test "chat: /quit on a terminal whose output is never read exits within 20 s" {
	run --separate-stderr timeout 60 "$PYTHON" "$PEERS/ptyroom.py" "$SK" \
	    400 1024 noread
	echo "# $stderr" >&2
	[ "$status" -eq 0 ]
	[ "$output" = $'400 lines\nwelcome\nexit 0' ]
}
