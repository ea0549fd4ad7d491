#!/usr/bin/env bats
# The habits of nc users in chat: the client's -C, the room's --log json.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "chat: the client's -C sends every line with CRLF" {
	start_peer "$T/peer" server.py record "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" chat -C --nick bob \
	    127.0.0.1 "$PORT" <<<$'hello\r\nworld'
	wait_exit "$PEER_PID"
	printf '/nick bob\r\nhello\r\nworld\r\n' >"$T/want"
	cmp "$T/want" "$T/got"
}

@test "chat --listen: --log json logs join and leave with nick and bytes" {
	start_server "$T/out" chat --listen --log json 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" chat --nick bob 127.0.0.1 \
	    "$PORT" <<<"hello"
	wait_grep '"event":"leave"' "$T/out.err"
	run -0 "$PYTHON" "$PEERS/jsonlog.py" "$T/out.err"
	[[ ${lines[0]} == "join 127.0.0.1 - - - - guest"* ]]
	[[ ${lines[1]} =~ ^leave\ 127\.0\.0\.1\ [0-9]+\ 16\ closed\ -\ bob$ ]]
	[ "${#lines[@]}" = 2 ]
}

@test "chat: --log json without --listen is a usage error" {
	run -2 --separate-stderr "$SK" chat --log json 127.0.0.1 9
	[[ $stderr == *"cannot use room options without --listen"* ]]
}
