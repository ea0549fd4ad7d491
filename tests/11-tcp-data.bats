#!/usr/bin/env bats
# Bulk data: 100 MiB each way must arrive byte-identical, whether sockkit
# reads and writes files (sendfile, splice into a file) or pipes (splice).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	export BIG=$BATS_FILE_TMPDIR/big
	head -c 100M /dev/urandom >"$BIG"
	BIGSUM=$(sha256sum <"$BIG")
	export BIGSUM=${BIGSUM%% *}
}

setup() {
	T=$BATS_TEST_TMPDIR
	mkfifo "$T/fifo"
}

# sum FILE: its SHA-256.
sum() {
	local s
	s=$(sha256sum <"$1")
	echo "${s%% *}"
}

@test "tcp-connect: 100 MiB from a file reach tcp-serve's file intact" {
	start_server "$T/out" tcp-serve --recv-only 127.0.0.1 0
	run -0 --separate-stderr timeout 30 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" <"$BIG"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ ! -s "$T/out.err" ]
	same "$(stat -c %s "$T/out")" 104857600
	same "$(sum "$T/out")" "$BIGSUM"
}

@test "tcp-connect: 100 MiB through pipes reach tcp-serve intact" {
	bg_run "$T/fifo" "$T/sum" "$T/sum.err" sha256sum
	local spid=$BG_PID
	start_server "$T/fifo" tcp-serve --recv-only 127.0.0.1 0
	run -0 --separate-stderr timeout 30 bash -c \
	    'cat "$1" | "$SK" tcp-connect 127.0.0.1 "$2"' _ "$BIG" "$PORT"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/fifo.err"
	expect_exit 0 "$spid"
	same "$(cut -d' ' -f1 "$T/sum")" "$BIGSUM"
}

@test "tcp-serve: 100 MiB from a file reach tcp-connect's file intact" {
	IN=$BIG start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err" 30
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	[ ! -s "$T/err" ]
	[ ! -s "$T/srv" ]
	same "$(stat -c %s "$T/out")" 104857600
	same "$(sum "$T/out")" "$BIGSUM"
}

@test "tcp-serve: 100 MiB through pipes reach tcp-connect intact" {
	bg_run "$BIG" "$T/fifo" /dev/null cat
	IN=$T/fifo start_server "$T/srv" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 30 bash -c \
	    '"$SK" tcp-connect --recv-only 127.0.0.1 "$1" | sha256sum' _ "$PORT"
	same "${output%% *}" "$BIGSUM"
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-connect: 100 MiB both ways at once with --keep-sending" {
	IN=$BIG start_server "$T/srv" tcp-serve --keep-sending 127.0.0.1 0
	bg_run "$BIG" "$T/out" "$T/err" \
	    "$SK" tcp-connect --keep-sending 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err" 30
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	[ ! -s "$T/err" ]
	[ ! -s "$T/srv.err" ]
	same "$(sum "$T/out")" "$BIGSUM"
	same "$(sum "$T/srv")" "$BIGSUM"
}
