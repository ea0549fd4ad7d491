# Helpers for the sockkit bats tests: "load helpers" first in each file.
#
# Background processes are started with bg_run (or start_server,
# start_peer), which records their PIDs; teardown() kills only those.
# Every wait is bounded (WAIT_SECS, 10 s).  Nothing listens on a fixed
# port: servers take port 0 and report it through a port file.

: "${SK:?set SK to the sockkit binary under test}"
PEERS=$BATS_TEST_DIRNAME/peers
# The system python starts faster than a pyenv shim; PYTHON overrides.
if [[ -z ${PYTHON:-} ]]; then
	PYTHON=python3
	[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
fi
WAIT_SECS=10
_PIDS=()

# bg_run IN OUT ERR CMD...: run CMD in the background (fds 3-9 closed,
# so bats and FIFOs the test holds are not inherited) with stdin from IN
# ("rw:PATH" opens PATH read-write, so a FIFO never reaches EOF), stdout
# to OUT and stderr to ERR.  The PID is CMD's own (bash execs a simple
# command in the forked child); it is left in $BG_PID.
bg_run() {
	local in=$1 out=$2 err=$3
	shift 3
	case $in in
	rw:*)	"$@" <>"${in#rw:}" >"$out" 2>"$err" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- & ;;
	*)	"$@" <"$in" >"$out" 2>"$err" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- & ;;
	esac
	BG_PID=$!
	_PIDS+=("$BG_PID")
}

# running PID: true while PID, a child of this shell, has not exited (a
# zombie has exited; a PID reused by someone else's process is not ours).
running() {
	local stat state ppid
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	read -r state ppid _ <<<"$stat"
	[[ $state != Z && $ppid == "$BASHPID" ]]
}

# forget PID: drop a reaped PID from the teardown list.
forget() {
	local i
	for i in "${!_PIDS[@]}"; do
		[[ ${_PIDS[i]} == "$1" ]] && unset '_PIDS[i]'
	done
}

# wait_file FILE [PID]: wait until FILE exists and is not empty; fail at
# once if PID (a process that should write it) exits first.
wait_file() {
	local f=$1 pid=${2:-} i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		[[ -s $f ]] && return 0
		if [[ -n $pid ]] && ! running "$pid"; then
			[[ -s $f ]] && return 0
			echo "# process $pid exited before writing $f" >&2
			return 1
		fi
		sleep 0.02
	done
	echo "# timed out waiting for $f" >&2
	return 1
}

# wait_socket PATH [PID]: wait until the Unix socket PATH exists.
wait_socket() {
	local f=$1 pid=${2:-} i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		[[ -S $f ]] && return 0
		if [[ -n $pid ]] && ! running "$pid"; then
			echo "# process $pid exited before creating $f" >&2
			return 1
		fi
		sleep 0.02
	done
	echo "# timed out waiting for socket $f" >&2
	return 1
}

# wait_grep PATTERN FILE: wait until FILE has a line matching PATTERN.
wait_grep() {
	local i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		grep -q -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "# timed out waiting for '$1' in $2" >&2
	return 1
}

# wait_exit PID [SECS]: wait (bounded) for a background PID to exit and
# return its exit status; if it does not, kill it and return 124.
wait_exit() {
	local pid=$1 secs=${2:-$WAIT_SECS} i
	for ((i = 0; i < secs * 50; i++)); do
		running "$pid" || break
		sleep 0.02
	done
	if running "$pid"; then
		echo "# process $pid did not exit within $secs s" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		forget "$pid"
		return 124
	fi
	local rc=0
	wait "$pid" || rc=$?
	forget "$pid"
	return "$rc"
}

# start_server OUT ARGS...: start "$SK" ARGS --port-file F in the
# background, stdout to OUT and stderr to OUT.err, stdin from $IN
# (default /dev/null; "rw:FIFO" keeps it open); wait for the port and
# set $PORT and $SERVER_PID.
start_server() {
	local out=$1 pf
	shift
	pf=$(mktemp -u "$BATS_TEST_TMPDIR/port.XXXXXX")
	bg_run "${IN:-/dev/null}" "$out" "$out.err" "$SK" "$@" --port-file "$pf"
	SERVER_PID=$BG_PID
	if ! wait_file "$pf" "$SERVER_PID"; then
		sed 's/^/# server: /' "$out.err" >&2
		return 1
	fi
	PORT=$(<"$pf")
}

# start_peer OUT SCRIPT ARGS...: start tests/peers/SCRIPT with a fresh
# port file as its first argument (server.py takes --host before it, in
# ARGS: use PEER_HOST); stdout to OUT, stderr to OUT.err; wait for the
# port; set $PORT and $PEER_PID.
start_peer() {
	local out=$1 script=$2 pf
	shift 2
	pf=$(mktemp -u "$BATS_TEST_TMPDIR/port.XXXXXX")
	bg_run /dev/null "$out" "$out.err" "$PYTHON" "$PEERS/$script" \
	    ${PEER_HOST:+--host "$PEER_HOST"} "$pf" "$@"
	PEER_PID=$BG_PID
	if ! wait_file "$pf" "$PEER_PID"; then
		sed 's/^/# peer: /' "$out.err" >&2
		return 1
	fi
	PORT=$(<"$pf")
}

# start_role_peer OUT SCRIPT ROLE ARGS...: as start_peer, for the peers
# that take a role before the port file (skauth.py server PORTFILE ...,
# frames.py server PORTFILE ...); stdin from $IN (default /dev/null).
start_role_peer() {
	local out=$1 script=$2 role=$3 pf
	shift 3
	pf=$(mktemp -u "$BATS_TEST_TMPDIR/port.XXXXXX")
	bg_run "${IN:-/dev/null}" "$out" "$out.err" "$PYTHON" "$PEERS/$script" \
	    "$role" "$pf" "$@"
	PEER_PID=$BG_PID
	if ! wait_file "$pf" "$PEER_PID"; then
		sed 's/^/# peer: /' "$out.err" >&2
		return 1
	fi
	PORT=$(<"$pf")
}

# free_port: print a port the kernel just handed out and released.
free_port() {
	"$PYTHON" "$PEERS/ports.py" free
}

# have_ipv6: true if ::1 can be bound.
have_ipv6() {
	"$PYTHON" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
	    2>/dev/null
}

# Kill what this test started, by PID only, and their children.
teardown() {
	local pid i
	for pid in "${_PIDS[@]}"; do
		running "$pid" || continue
		pkill -TERM -P "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_PIDS[@]}"; do
		for ((i = 0; i < 100; i++)); do
			running "$pid" || break
			sleep 0.02
		done
		running "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	_PIDS=()
	return 0
}

# expect_exit STATUS PID [ERRFILE [SECS]]: wait for PID (at most SECS,
# default 10) and fail, showing ERRFILE, unless it exits with STATUS.
expect_exit() {
	local rc=0
	wait_exit "$2" "${4:-$WAIT_SECS}" || rc=$?
	if [[ $rc != "$1" ]]; then
		echo "# pid $2 exited $rc, expected $1" >&2
		[[ -n ${3:-} ]] && sed 's/^/# stderr: /' "$3" >&2
		return 1
	fi
}

# same ACTUAL EXPECTED: fail, showing both, unless they are equal.
same() {
	[[ $1 == "$2" ]] && return 0
	printf '# expected: %q\n# actual:   %q\n' "$2" "$1" >&2
	return 1
}
