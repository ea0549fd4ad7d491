#!/usr/bin/env bats
# chat --listen under load: slow members, thousands of members, churn
# and garbage.

bats_require_minimum_version 1.5.0
load helpers

chatpeer() {
	timeout 60 "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" "$@"
}

@test "chat: a member that never reads is dropped as too slow; the others keep receiving" {
	start_server "$BATS_TEST_TMPDIR/host" chat -l 127.0.0.1 0
	bg_run /dev/null "$BATS_TEST_TMPDIR/mute" /dev/null \
	    "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" mute
	wait_grep muted "$BATS_TEST_TMPDIR/mute"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	bg_run /dev/null "$BATS_TEST_TMPDIR/obs" "$BATS_TEST_TMPDIR/obs.err" \
	    timeout 60 "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" \
	    script "?* guest1 has left (too slow)" "?<guest3> done"
	obs=$BG_PID
	wait_grep "guest2 has joined" "$BATS_TEST_TMPDIR/host"
	run chatpeer flood 50
	[ "$status" -eq 0 ]
	[ "$output" = "sent 52428805" ]
	expect_exit 0 "$obs" "$BATS_TEST_TMPDIR/obs.err" 30
	wait_grep "<guest3> done" "$BATS_TEST_TMPDIR/host"
	run grep -c "^<guest3> x" "$BATS_TEST_TMPDIR/host"
	[ "$output" = 51200 ]
	running "$SERVER_PID"
}

@test "chat: 2000 members join and one line reaches all of them" {
	start_server "$BATS_TEST_TMPDIR/host" chat -l 127.0.0.1 0 \
	    </dev/null
	run --separate-stderr chatpeer many 2000
	[ "$status" -eq 0 ]
	[ "$output" = $'2000 joined\n1999 received' ]
}

@test "chat: quick connects and closes, resets and garbage never stop the room" {
	start_server "$BATS_TEST_TMPDIR/host" chat -l --max-line 64 \
	    127.0.0.1 0
	run chatpeer churn 60
	[ "$status" -eq 0 ]
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/junk"
	timeout 10 nc -N 127.0.0.1 "$PORT" <"$BATS_TEST_TMPDIR/junk" \
	    >/dev/null
	run chatpeer script ">/who" "~online" ">still here" shut
	[ "$status" -eq 0 ]
	[[ $output == *"* online: guest"*", host"* ]]
	[[ $output != *"* online: "*", "*", "* ]]
	wait_grep "<guest[0-9]*> still here" "$BATS_TEST_TMPDIR/host"
	run grep -c "^<guest[0-9]*> half a line$" "$BATS_TEST_TMPDIR/host"
	[ "$output" = 20 ]
	run grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$BATS_TEST_TMPDIR/host"
	[ "$output" = 0 ]
	running "$SERVER_PID"
}

@test "chat: -v reports the descriptor limit and members" {
	start_server "$BATS_TEST_TMPDIR/host" chat -l -v 127.0.0.1 0
	run chatpeer script ">/nick vee" shut
	[ "$status" -eq 0 ]
	wait_grep "left: vee" "$BATS_TEST_TMPDIR/host.err"
	run cat "$BATS_TEST_TMPDIR/host.err"
	[[ ${lines[0]} == "sockkit: chat: listening on 127.0.0.1:"* ]]
	[[ ${lines[1]} == "sockkit: chat: descriptor limit "[0-9]* ]]
	[[ $output == *"joined as guest1"* ]]
}

@test "chat: members joining and leaving at once each get the room's lines between their own join and leave notices" {
	start_server "$BATS_TEST_TMPDIR/host" chat -l --history 3 \
	    127.0.0.1 0 </dev/null
	run --separate-stderr chatpeer storm 50 3
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "61 views agree" ]
	# The observer guest1 sees what the host sees, and private lines.
	wait_grep "^\* guest1 has left$" "$BATS_TEST_TMPDIR/host"
	diff <(printf '%s\n' "${lines[@]:2}" | grep -v "> (private) p ") \
	    <(sed '1d;$d' "$BATS_TEST_TMPDIR/host")
	run grep -c "^\* guest[0-9]* has joined$" "$BATS_TEST_TMPDIR/host"
	[ "$output" = 61 ]
	run grep -c "^<guest[0-9]*> bye from guest[0-9]*$" \
	    "$BATS_TEST_TMPDIR/host"
	[ "$output" = 60 ]
}
