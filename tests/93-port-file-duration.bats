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
