#!/usr/bin/env bats
# chat --listen: line formats, commands, nicks, the host console, options.

bats_require_minimum_version 1.5.0
load helpers

# member OUT STEP...: a chatpeer.py member in the background.
member() {
	local out=$1
	shift
	bg_run /dev/null "$out" "$out.err" timeout 20 "$PYTHON" \
	    "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" script "$@"
	MEMBER_PID=$BG_PID
}

# chatter STEP...: a chatpeer.py member in the foreground, via run.
chatter() {
	run --separate-stderr timeout 20 "$PYTHON" "$PEERS/chatpeer.py" \
	    127.0.0.1 "$PORT" script "$@"
}

room() {
	start_server "$BATS_TEST_TMPDIR/host" chat -l "$@" 127.0.0.1 0
}

@test "chat: a line goes to every other member as <NICK> TEXT" {
	room
	member "$BATS_TEST_TMPDIR/a" ">/nick alice" \
	    "?* guest2 is now known as bob" "?<bob> hello" ">hi bob" \
	    "?* bob has left"
	wait_grep "is now known as alice" "$BATS_TEST_TMPDIR/host"
	chatter ">/nick bob" ">hello" "?<alice> hi bob"
	[ "$status" -eq 0 ]
	[[ $output == *"* welcome, guest2: 3 online; /help lists the commands"* ]]
	[[ $output != *"<bob> hello"* ]]
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *"* guest2 has joined"* ]]
	[[ $output == *"* guest2 is now known as bob"* ]]
	[[ $output == *"<bob> hello"* ]]
	[[ $output != *"<alice> hi bob"* ]]
	run cat "$BATS_TEST_TMPDIR/host"
	[[ $output == *"<bob> hello"* && $output == *"<alice> hi bob"* ]]
}

@test "chat: default nicks are guestN and nicks are unique" {
	room --nick boss
	member "$BATS_TEST_TMPDIR/a" ">/nick taken" "?* guest2 has left"
	wait_grep "is now known as taken" "$BATS_TEST_TMPDIR/host"
	chatter ">/nick taken" "~is taken" ">/nick TAKEN" "~is taken" \
	    ">/nick boss" "~is taken" ">/nick b@d" "~invalid nick" \
	    ">/nick 0123456789012345678901234567890xy" "~invalid nick" \
	    ">/nick" "~usage"
	[ "$status" -eq 0 ]
	[[ $output == *"* welcome, guest2:"* ]]
	[[ $output == *"* nick taken is taken"* ]]
	[[ $output == *"* invalid nick b@d: use 1-32 letters, digits, '_', '-' or '.'"* ]]
	[[ $output == *"* usage: /nick NAME"* ]]
	[[ $output != *"is now known as"* ]]
}

@test "chat: /who lists the members" {
	room
	member "$BATS_TEST_TMPDIR/a" ">/nick zed" "?* guest2 has left"
	wait_grep "is now known as zed" "$BATS_TEST_TMPDIR/host"
	chatter ">/nick amy" "?* guest2 is now known as amy" ">/who" "~online"
	[ "$status" -eq 0 ]
	[[ $output == *"* online: amy, host, zed"* ]]
}

@test "chat: /me is an action, /msg a private line to one member" {
	room
	member "$BATS_TEST_TMPDIR/a" ">/nick ann" "?* bo left soon" \
	    "~(private)" "?* bo has left"
	wait_grep "is now known as ann" "$BATS_TEST_TMPDIR/host"
	chatter ">/nick bo" ">/me left soon" ">/msg ann just for you" \
	    ">/msg nobody hi" "~no such nick" ">/msg ann" "~usage"
	[ "$status" -eq 0 ]
	[[ $output == *"* no such nick: nobody"* ]]
	[[ $output == *"* usage: /msg NICK TEXT"* ]]
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *"<bo> (private) just for you"* ]]
	run cat "$BATS_TEST_TMPDIR/host"
	[[ $output == *"* bo left soon"* ]]
	[[ $output != *"just for you"* ]]
}

@test "chat: a /me that reads as a room notice is refused with a reply; reply words are reserved nicks" {
	room
	member "$BATS_TEST_TMPDIR/a" ">/nick ann" "?* bo waves" "?* bo has left"
	wait_grep "is now known as ann" "$BATS_TEST_TMPDIR/host"
	chatter ">/nick bo" ">/me has left" "~reads as a room notice" \
	    ">/me  Has   joined" "~Has   joined: reads as" \
	    ">/me is now known as ann" "~ann: reads as" \
	    ">/nick No" "~reserved" ">/me waves" shut
	[ "$status" -eq 0 ]
	[[ $output == *"* /me has left: reads as a room notice, not sent"* ]]
	[[ $output == *"* nick No is reserved: the room's replies start with it"* ]]
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run grep -c '^\* bo ' "$BATS_TEST_TMPDIR/a"
	[ "$output" = 2 ]
	run grep -c '^\* bo \(has\|Has\|is\)' "$BATS_TEST_TMPDIR/host"
	[ "$output" = 1 ]
	run --separate-stderr "$SK" chat -l --nick usage 127.0.0.1 0
	[ "$status" -eq 2 ]
	[ "$stderr" = "sockkit: chat: nick usage is reserved: the room's replies start with it" ]
}

@test "chat: /help, unknown commands, and // for a line starting with /" {
	room
	chatter ">/help" "~/who" ">/frob x" "~unknown" ">//etc/passwd" \
	    ">/quit" "shut"
	[ "$status" -eq 0 ]
	[[ $output == *"*   /nick NAME"* && $output == *"*   /msg NICK TEXT"* ]]
	[[ $output == *"* unknown command /frob; /help lists the commands"* ]]
	wait_grep "guest1 has left" "$BATS_TEST_TMPDIR/host"
	run cat "$BATS_TEST_TMPDIR/host"
	[[ $output == *"<guest1> /etc/passwd"* ]]
}

@test "chat: /quit and end of stream leave with a notice; a last line without newline arrives" {
	room
	member "$BATS_TEST_TMPDIR/a" "?* guest2 has left" "?* guest3 has left"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	chatter ">/quit" "shut"
	[ "$status" -eq 0 ]
	run timeout 10 "$PYTHON" "$PEERS/chatpeer.py" 127.0.0.1 "$PORT" \
	    script "!no newline" shut
	[ "$status" -eq 0 ]
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *"<guest3> no newline"* ]]
}

@test "chat: control bytes arrive visible, CR LF is accepted" {
	room
	member "$BATS_TEST_TMPDIR/a" "?* guest2 has left"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	chatter '!\x1b[2Jred\x07\x00 caf\xc3\xa9\r\n' '!crlf\r\n' shut
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *'<guest2> ^[[2Jred^G\000 café'* ]]
	[[ $output == *'<guest2> crlf'* ]]
	run grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$BATS_TEST_TMPDIR/a" \
	    "$BATS_TEST_TMPDIR/host"
	[[ $output == *":0"*":0" ]]
}

@test "chat: bidi controls and zero-width characters arrive visible as \\u{XXXX}" {
	room
	member "$BATS_TEST_TMPDIR/a" "?* guest2 has left"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	chatter '!cost \xe2\x80\xae01$\xe2\x80\xac a\xe2\x80\x8bb \xe2\x81\xa6x\xe2\x81\xa9\xef\xbb\xbf\n' \
	    '!/me \xe2\x80\x8fwaves\n' shut
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *'<guest2> cost \u{202E}01$\u{202C} a\u{200B}b \u{2066}x\u{2069}\u{FEFF}'* ]]
	[[ $output == *'* guest2 \u{200F}waves'* ]]
	run grep -c $'\xe2\x80\xae\|\xe2\x80\x8b\|\xe2\x81\xa6\|\xef\xbb\xbf\|\xe2\x80\x8f' \
	    "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/host"
	[[ $output == *":0"*":0" ]]
}

@test "chat: the host console reads stdin and prints every room line" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	IN=rw:$BATS_TEST_TMPDIR/in room --nick boss
	member "$BATS_TEST_TMPDIR/a" ">/nick ann" "?<boss> hello room" \
	    ">hello boss" "~(private)" "?* boss is now known as chief"
	wait_grep "is now known as ann" "$BATS_TEST_TMPDIR/host"
	printf 'hello room\n' >"$BATS_TEST_TMPDIR/in"
	wait_grep "<ann> hello boss" "$BATS_TEST_TMPDIR/host"
	printf '/msg ann psst\n/nick chief\n/who\n' >"$BATS_TEST_TMPDIR/in"
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	wait_grep "online: ann, chief" "$BATS_TEST_TMPDIR/host"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *"<boss> (private) psst"* ]]
	printf '/quit\n' >"$BATS_TEST_TMPDIR/in"
	expect_exit 0 "$SERVER_PID" "$BATS_TEST_TMPDIR/host.err"
	run cat "$BATS_TEST_TMPDIR/host"
	[[ $output == *"* guest1 has joined"* ]]
	[[ $output != *"<boss> hello room"* ]]
}

@test "chat: --history N replays the last N lines to a newcomer" {
	room --history 3
	chatter ">one" ">two" ">three" ">/who" "~online"
	[ "$status" -eq 0 ]
	wait_grep "guest1 has left" "$BATS_TEST_TMPDIR/host"
	chatter "~welcome"
	[ "$status" -eq 0 ]
	[[ $output == *"<guest1> two"*"<guest1> three"*"* guest1 has left"*"* welcome"* ]]
	[[ $output != *"<guest1> one"* ]]
}

@test "chat: --max-line cuts longer lines" {
	room --max-line 10
	member "$BATS_TEST_TMPDIR/a" "?* guest2 has left"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	chatter ">0123456789abcdefghij" ">next" shut
	expect_exit 0 "$MEMBER_PID" "$BATS_TEST_TMPDIR/a.err"
	run cat "$BATS_TEST_TMPDIR/a"
	[[ $output == *"<guest2> 0123456789"$'\n'"<guest2> next"* ]]
	[[ $output != *abcdef* ]]
}

@test "chat: --max-clients refuses one more member" {
	room --max-clients 1
	member "$BATS_TEST_TMPDIR/a" "?* guest2 has joined"
	wait_grep "guest1 has joined" "$BATS_TEST_TMPDIR/host"
	chatter "~room is full" shut
	[ "$status" -eq 0 ]
	[ "$output" = "* the room is full" ]
}

@test "chat: --deny closes a client at once" {
	room --deny 127.0.0.0/8
	chatter shut
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

@test "chat: --auth-key admits the right key only" {
	printf 'sekrit\n' >"$BATS_TEST_TMPDIR/key"
	printf 'wrong\n' >"$BATS_TEST_TMPDIR/bad"
	room --auth-key "$BATS_TEST_TMPDIR/key"
	run --separate-stderr timeout 10 "$SK" chat --nick kay \
	    --auth-key "$BATS_TEST_TMPDIR/bad" 127.0.0.1 "$PORT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"authentication failed"* ]]
	printf 'hi\n' | timeout 10 "$SK" chat --nick kay \
	    --auth-key "$BATS_TEST_TMPDIR/key" 127.0.0.1 "$PORT"
	wait_grep "<kay> hi" "$BATS_TEST_TMPDIR/host"
	run grep -c "has joined" "$BATS_TEST_TMPDIR/host"
	[ "$output" = 1 ]
}

@test "chat: room options need --listen; a bad nick is a usage error" {
	run --separate-stderr "$SK" chat --history 3 127.0.0.1 1
	[ "$status" -eq 2 ]
	[ "$stderr" = "sockkit: chat: cannot use room options without --listen" ]
	run --separate-stderr "$SK" chat -l --nick 'a b' 0
	[ "$status" -eq 2 ]
	[[ $stderr == "sockkit: chat: nick a b: use 1-32 letters"* ]]
	run --separate-stderr "$SK" chat -l --max-line 0 0
	[ "$status" -eq 2 ]
	[[ $stderr == "sockkit: chat: max-line 0: too small" ]]
}
