#!/usr/bin/env bats
# Unix socket paths sockkit binds (servers, and udp-send's own address)
# exist while it runs and are gone when it ends: by a normal exit, an
# error exit, SIGINT, SIGTERM or SIGHUP.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# gone_after_signal SIG STATUS CMD ARGS...: run CMD ARGS (a server on
# $T/s.sock), wait for its socket, send SIG, expect STATUS and the path
# removed.
gone_after_signal() {
	local sig=$1 want=$2 pid
	shift 2
	rm -f "$T/s.sock"
	mkfifo "$T/fifo.$sig.$1" 2>/dev/null || true
	bg_run "rw:$T/fifo.$sig.$1" "$T/out" "$T/err" "$SK" "$@"
	pid=$BG_PID
	wait_socket "$T/s.sock" "$pid"
	kill "-$sig" "$pid"
	expect_exit "$want" "$pid" "$T/err"
	[ ! -e "$T/s.sock" ] || { echo "# $* left $T/s.sock after SIG$sig" >&2
	    return 1; }
}

@test "unix paths: every server removes its socket on SIGINT, SIGTERM and SIGHUP" {
	local sig want
	for sig in INT:130 TERM:143 HUP:129; do
		want=${sig#*:}
		sig=${sig%:*}
		gone_after_signal "$sig" "$want" tcp-serve -U "$T/s.sock"
		gone_after_signal "$sig" "$want" tcp-serve -k -U "$T/s.sock"
		gone_after_signal "$sig" "$want" udp-listen -U "$T/s.sock"
		gone_after_signal "$sig" "$want" chat -l -U "$T/s.sock"
		gone_after_signal "$sig" "$want" timeserver -U "$T/s.sock"
	done
}

@test "unix paths: tcp-serve and udp-listen remove their socket when they end by themselves" {
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-serve -U "$T/t.sock"
	local pid=$BG_PID
	wait_socket "$T/t.sock" "$pid"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -U "$T/t.sock" \
	    </dev/null
	expect_exit 0 "$pid" "$T/err"
	[ ! -e "$T/t.sock" ]
	bg_run /dev/null "$T/out" "$T/err" "$SK" udp-listen -W 1 -U "$T/u.sock"
	pid=$BG_PID
	wait_socket "$T/u.sock" "$pid"
	run -0 --separate-stderr timeout 10 "$SK" udp-send -w 0 -U "$T/u.sock" hi
	expect_exit 0 "$pid" "$T/err"
	same "$(<"$T/out")" hi
	[ ! -e "$T/u.sock" ]
}

@test "unix paths: a server that fails after binding removes its socket" {
	run -1 --separate-stderr timeout 10 "$SK" udp-listen -U \
	    --port-file "$T/nodir/port" "$T/f.sock" </dev/null
	[[ $stderr == "sockkit: udp-listen: port file $T/nodir/port: "* ]]
	[ ! -e "$T/f.sock" ]
}

@test "unix paths: udp-send -U binds its own address in TMPDIR and removes it" {
	mkdir "$T/tmp"
	bg_run /dev/null "$T/out" "$T/err" "$SK" udp-listen --echo -U "$T/e.sock"
	local pid=$BG_PID
	wait_socket "$T/e.sock" "$pid"
	TMPDIR=$T/tmp run -0 --separate-stderr timeout 10 "$SK" udp-send \
	    -r 1 -U "$T/e.sock" ping
	same "$output" ping
	run -0 ls -A "$T/tmp"
	same "$output" ""
	# Killed while it waits for replies: removed too.
	TMPDIR=$T/tmp bg_run /dev/null "$T/out2" "$T/err2" "$SK" udp-send \
	    -w 30 -U "$T/e.sock" ping
	local spid=$BG_PID
	wait_grep ping "$T/out2"
	run -0 ls -A "$T/tmp"
	[[ $output == sockkit.* ]]
	kill -TERM "$spid"
	expect_exit 143 "$spid" "$T/err2"
	run -0 ls -A "$T/tmp"
	same "$output" ""
}
