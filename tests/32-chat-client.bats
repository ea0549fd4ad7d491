#!/usr/bin/env bats
# chat HOST PORT: the client as a line filter, with nc in the same room,
# its exit status, and interactively in tmux.

bats_require_minimum_version 1.5.0
load helpers

room() {
	start_server "$BATS_TEST_TMPDIR/host" chat -l "$@" 127.0.0.1 0
}

# A failed test's tmux servers (on this test's own sockets) go too.
eval "helpers_$(declare -f teardown)"
teardown() {
	local s
	for s in "$BATS_TEST_TMPDIR"/tmux*; do
		[[ -S $s ]] && tmux -S "$s" kill-server 2>/dev/null
	done
	helpers_teardown
}

@test "chat client: sends /nick, relays lines, exits 0 after /quit" {
	room
	run --separate-stderr timeout 10 "$SK" chat --nick cli 127.0.0.1 \
	    "$PORT" < <(printf 'hi all\n/who\n/quit\n')
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "* welcome, guest1: 2 online; /help lists the commands" ]
	[ "${lines[1]}" = "* guest1 is now known as cli" ]
	[ "${lines[2]}" = "* online: cli, host" ]
	wait_grep "cli has left" "$BATS_TEST_TMPDIR/host"
	run cat "$BATS_TEST_TMPDIR/host"
	[[ $output == *"<cli> hi all"* ]]
}

@test "chat client: the nick defaults to the login name" {
	room
	run --separate-stderr timeout 10 "$SK" chat 127.0.0.1 "$PORT" \
	    </dev/null
	[ "$status" -eq 0 ]
	me=$(id -un | tr -cd 'A-Za-z0-9_.-')
	[ "${lines[1]}" = "* guest1 is now known as $me" ]
}

@test "chat client: nc and the sockkit client share a room" {
	command -v nc >/dev/null || skip "nc is not installed"
	mkfifo "$BATS_TEST_TMPDIR/cin" "$BATS_TEST_TMPDIR/nin"
	room
	bg_run "rw:$BATS_TEST_TMPDIR/cin" "$BATS_TEST_TMPDIR/cout" \
	    "$BATS_TEST_TMPDIR/cerr" "$SK" chat --nick sk 127.0.0.1 "$PORT"
	client=$BG_PID
	wait_grep "is now known as sk" "$BATS_TEST_TMPDIR/host"
	bg_run "rw:$BATS_TEST_TMPDIR/nin" "$BATS_TEST_TMPDIR/nout" /dev/null \
	    nc 127.0.0.1 "$PORT"
	wait_grep "guest2 has joined" "$BATS_TEST_TMPDIR/cout"
	printf '/nick netcat\nhello from nc\n' >"$BATS_TEST_TMPDIR/nin"
	wait_grep "<netcat> hello from nc" "$BATS_TEST_TMPDIR/cout"
	printf 'hello from sockkit\n' >"$BATS_TEST_TMPDIR/cin"
	wait_grep "<sk> hello from sockkit" "$BATS_TEST_TMPDIR/nout"
	printf '/quit\n' >"$BATS_TEST_TMPDIR/cin"
	expect_exit 0 "$client" "$BATS_TEST_TMPDIR/cerr"
	wait_grep "sk has left" "$BATS_TEST_TMPDIR/nout"
}

@test "chat client: exits 0 when the room closes, 1 when the connection is lost" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	IN=rw:$BATS_TEST_TMPDIR/in room
	bg_run /dev/null "$BATS_TEST_TMPDIR/cout" "$BATS_TEST_TMPDIR/cerr" \
	    "$SK" chat --nick sk 127.0.0.1 "$PORT"
	client=$BG_PID
	wait_grep "is now known as sk" "$BATS_TEST_TMPDIR/host"
	printf '/quit\n' >"$BATS_TEST_TMPDIR/in"
	expect_exit 0 "$SERVER_PID" "$BATS_TEST_TMPDIR/host.err"
	expect_exit 0 "$client" "$BATS_TEST_TMPDIR/cerr"
	start_peer "$BATS_TEST_TMPDIR/peer" server.py reset
	run --separate-stderr timeout 10 "$SK" chat --nick sk 127.0.0.1 \
	    "$PORT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == "sockkit: chat: "*"reset by peer"* ]]
}

@test "chat client: on a terminal, an incoming line shows above a half-typed one" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	room
	sock=$BATS_TEST_TMPDIR/tmux
	tmux -S "$sock" new-session -d -x 100 -y 12 \
	    "TERM=screen $SK chat --nick tt 127.0.0.1 $PORT; sleep 30"
	wait_grep "is now known as tt" "$BATS_TEST_TMPDIR/host"
	tmux -S "$sock" send-keys "half typ"
	for ((i = 0; i < 250; i++)); do
		tmux -S "$sock" capture-pane -p | grep -q '^> half typ$' && break
		sleep 0.02
	done
	timeout 10 "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" script \
	    ">/nick other" ">incoming line" shut
	for ((i = 0; i < 250; i++)); do
		tmux -S "$sock" capture-pane -p >"$BATS_TEST_TMPDIR/pane"
		grep -q "other has left" "$BATS_TEST_TMPDIR/pane" && break
		sleep 0.02
	done
	tmux -S "$sock" send-keys "ed" Enter
	wait_grep "<tt> half typed" "$BATS_TEST_TMPDIR/host"
	tmux -S "$sock" kill-server
	run cat "$BATS_TEST_TMPDIR/pane"
	[[ $output == *"<other> incoming line"$'\n'"* other has left"$'\n'"> half typ"* ]]
}

# pane_wait SOCK REGEX: wait until tmux's pane (saved in $BATS_TEST_TMPDIR/pane)
# has a line matching the extended REGEX.
pane_wait() {
	local i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		tmux -S "$1" capture-pane -p >"$BATS_TEST_TMPDIR/pane"
		grep -Eq -- "$2" "$BATS_TEST_TMPDIR/pane" && return 0
		sleep 0.02
	done
	echo "# timed out waiting for '$2' in the pane:" >&2
	sed 's/^/# /' "$BATS_TEST_TMPDIR/pane" >&2
	return 1
}

# second_line TERM: in tmux with TERM, send a line, type "abc", let a
# line arrive, type "def"; leave the last screen in $BATS_TEST_TMPDIR/pane.
second_line() {
	local sock=$BATS_TEST_TMPDIR/tmux-$1
	tmux -S "$sock" new-session -d -x 100 -y 14 \
	    "TERM=$1 timeout --foreground 20 $SK chat --nick tt 127.0.0.1 $PORT; sleep 20"
	pane_wait "$sock" 'is now known as tt'
	tmux -S "$sock" send-keys "first line from frank" Enter
	wait_grep "<tt> first line from frank" "$BATS_TEST_TMPDIR/host"
	tmux -S "$sock" send-keys "abc"
	pane_wait "$sock" '^> abc$'
	timeout 10 "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" script \
	    ">/nick other$1" ">incoming line" shut
	pane_wait "$sock" "other$1 has left"
	tmux -S "$sock" send-keys "def"
	pane_wait "$sock" 'def$'
	tmux -S "$sock" send-keys Enter
	wait_grep "<tt> abcdef" "$BATS_TEST_TMPDIR/host"
	tmux -S "$sock" send-keys C-d
	tmux -S "$sock" kill-server
}

@test "chat client: on a terminal, a line arriving after a sent one redraws what is being typed" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	room
	for term in xterm tmux-256color; do
		infocmp "$term" >/dev/null 2>&1 || continue
		second_line "$term"
		run cat "$BATS_TEST_TMPDIR/pane"
		[[ $output == *"<other$term> incoming line"$'\n'"* other$term has left"$'\n'"> abcdef"* ]]
		[[ $output != *"> first line from frankdef"* ]]
	done
}

@test "chat client: as a filter to a terminal, control characters are shown visibly" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	local in=$BATS_TEST_TMPDIR/in sock=$BATS_TEST_TMPDIR/tmux how cmd
	printf 'a\033[31mred\007 \033]0;title\007x\n* raw\n' >"$BATS_TEST_TMPDIR/room"
	printf 'hello\n' >"$in"
	# Standard input a file, then a pipe; standard output the pane.
	for how in file pipe; do
		IN=$BATS_TEST_TMPDIR/room start_server "$BATS_TEST_TMPDIR/peer" \
		    tcp-serve 127.0.0.1 0
		cmd="timeout --foreground 10 $SK chat --nick f 127.0.0.1 $PORT"
		[[ $how == file ]] && cmd="$cmd <$in" || cmd="cat $in | $cmd"
		tmux -S "$sock" new-session -d -x 100 -y 12 \
		    "TERM=xterm $cmd; echo status=\$?; sleep 20"
		pane_wait "$sock" '^status='
		tmux -S "$sock" kill-server
		run cat "$BATS_TEST_TMPDIR/pane"
		[[ $output == *'a^[[31mred^G ^[]0;title^Gx'$'\n''* raw'$'\n''status=0'* ]]
		expect_exit 0 "$SERVER_PID" "$BATS_TEST_TMPDIR/peer.err"
		run cat "$BATS_TEST_TMPDIR/peer"
		[ "$output" = $'/nick f\nhello' ]
	done
}

@test "chat client: a join with --auth-key gets its /nick reply in well under 40 ms (median of 7, no Nagle wait)" {
	printf 'key\n' >"$BATS_TEST_TMPDIR/key"
	room --auth-key "$BATS_TEST_TMPDIR/key"
	run --separate-stderr timeout 60 "$PYTHON" "$PEERS/chatpeer.py" \
	    127.0.0.1 "$PORT" jointime 7 "$SK" chat --auth-key \
	    "$BATS_TEST_TMPDIR/key"
	echo "# join times (ms): ${lines[0]}" >&3
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "median "* ]]
	ms=${lines[1]#median }
	(( ${ms%.*} < 25 ))
}

@test "chat client: --auth-key with the wrong key fails" {
	printf 'right\n' >"$BATS_TEST_TMPDIR/key"
	printf 'wrong\n' >"$BATS_TEST_TMPDIR/bad"
	room --auth-key "$BATS_TEST_TMPDIR/key"
	run --separate-stderr timeout 10 "$SK" chat \
	    --auth-key "$BATS_TEST_TMPDIR/bad" 127.0.0.1 "$PORT" </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "sockkit: chat: authentication failed" ]
	run --separate-stderr timeout 10 "$SK" chat --nick ok \
	    --auth-key "$BATS_TEST_TMPDIR/key" 127.0.0.1 "$PORT" </dev/null
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "* guest1 is now known as ok" ]
}
