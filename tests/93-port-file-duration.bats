#!/usr/bin/env bats
# --port-file never writes through a planted symlink; DURATION values are
# bounded where they are parsed (at most 24 days), never wrapped.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# plant_and_serve PF: start a udp-listen server whose PID is known before
# it runs (sh execs it), with symlinks to $T/victim planted at PF and at
# PF.PID.tmp, the temporary name sockkit once used; wait for PF.
plant_and_serve() {
	local pf=$1
	printf 'precious\n' >"$T/victim"
	bg_run /dev/null "$T/out" "$T/out.err" sh -c \
	    'ln -s "$1" "$2.$$.tmp" && ln -s "$1" "$2" &&
	    exec "$3" udp-listen --port-file "$2" 127.0.0.1 0' \
	    _ "$T/victim" "$pf" "$SK"
	SERVER_PID=$BG_PID
	# PF is a symlink to a non-empty file from the start: wait for the
	# rename that replaces it by a regular file (or for the victim to be
	# overwritten, which the caller then reports).
	local i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		[[ -f $pf && ! -L $pf ]] && return 0
		[[ $(<"$T/victim") != precious ]] && return 0
		running "$SERVER_PID" || break
		sleep 0.02
	done
	sed 's/^/# server: /' "$T/out.err" >&2
	return 1
}

@test "port-file: symlinks planted at the file and its old temporary name are not followed" {
	mkdir "$T/d"
	plant_and_serve "$T/d/port"
	same "$(cat "$T/victim")" precious
	[[ $(<"$T/d/port") =~ ^[1-9][0-9]*$ ]]
	# The planted temporary-name symlink is left alone, nothing else.
	run -0 ls -A "$T/d"
	same "$output" "port"$'\n'"port.$SERVER_PID.tmp"
	[ -L "$T/d/port.$SERVER_PID.tmp" ]
	[ -z "$(cat "$T/out.err")" ]
}

@test "port-file: a file in a missing directory is an error naming it" {
	run -1 --separate-stderr timeout 10 "$SK" udp-listen \
	    --port-file "$T/nodir/port" 127.0.0.1 0 </dev/null
	same "$stderr" \
	    "sockkit: udp-listen: port file $T/nodir/port: No such file or directory"
	[ -z "$output" ]
}

# accepted DUR: tcp-connect -w DUR to a closed port is refused (exit 1),
# not a usage error: the duration was taken.
accepted() {
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -w "$1" \
	    127.0.0.1 "$CLOSED" </dev/null
	[[ $stderr == "sockkit: tcp-connect: connect to 127.0.0.1 port $CLOSED: "* ]] ||
	    { echo "# -w $1: $stderr" >&2; return 1; }
}

# rejected DUR WHY: -w DUR is a usage error with message WHY.
rejected() {
	run -2 --separate-stderr timeout 10 "$SK" tcp-connect -w "$1" \
	    127.0.0.1 "$CLOSED" </dev/null
	[ -z "$output" ]
	same "$stderr" "sockkit: tcp-connect: timeout $1: $2"
}

closed_port() {
	CLOSED=$("$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
}

@test "durations: 0 and the maximum, 24 days, are taken in every unit" {
	closed_port
	local d
	for d in 0 0ms 0s 0m 0h 0.0 2073600000ms 2073600s 2073600 34560m \
	    576h 575.99h 2073599999.5ms; do
		accepted "$d"
	done
}

@test "durations: one past the maximum, in every unit, is a usage error" {
	closed_port
	local d too="too large (at most 576h, 24 days)"
	for d in 2073600001ms 2073600.001s 2073601 34560.0001m 34561m \
	    576.001h 577h; do
		rejected "$d" "$too"
	done
}

@test "durations: -w 4294968s is a usage error, not a timeout that wraps to 0.7s" {
	closed_port
	rejected 4294968s "too large (at most 576h, 24 days)"
	run -2 --separate-stderr timeout 10 "$SK" udp-listen -w 4294968s \
	    127.0.0.1 0 </dev/null
	same "$stderr" \
	    "sockkit: udp-listen: timeout 4294968s: too large (at most 576h, 24 days)"
}

@test "durations: overflowing numbers are too large, never wrapped" {
	closed_port
	local d too="too large (at most 576h, 24 days)"
	for d in 99999999999999h 99999999999999999999999999ms \
	    18446744073709551617 9223372036854775808ms 2147483648ms; do
		rejected "$d" "$too"
	done
}

@test "durations: malformed values are invalid durations" {
	closed_port
	local d
	for d in '' -1 +1 .5 1. 1e3 0x10 inf nan 5x 1sec '1 s' 1.5.2 1ms2; do
		rejected "$d" "invalid duration"
	done
}

@test "durations: units and fractions are exact to the millisecond" {
	local d want
	for d in 250ms:250 0.25:250 0.25s:250 0.0042m:252 0.00007h:252 \
	    1.5ms:2 0.4ms:0; do
		want=${d#*:}
		run -0 --separate-stderr timeout 10 "$SK" udp-listen -v \
		    -w "${d%%:*}" 127.0.0.1 0 </dev/null
		[[ $stderr == *"no traffic for $want ms: done"* ]] ||
		    { echo "# -w ${d%%:*}: $stderr" >&2; return 1; }
	done
}

@test "durations: --retry and -i are bounded alike" {
	run -2 --separate-stderr timeout 10 "$SK" tcp-connect --retry 577h \
	    127.0.0.1 1 </dev/null
	[[ $stderr == *"577h: too large (at most 576h, 24 days)" ]]
	run -2 --separate-stderr timeout 10 "$SK" udp-send -i 2073600001ms \
	    127.0.0.1 1 x </dev/null
	[[ $stderr == *"2073600001ms: too large (at most 576h, 24 days)" ]]
}
