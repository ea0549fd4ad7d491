#!/usr/bin/env bats
# tcp-connect -z: every address of a name, -v per address, --retry as
# wait-for-it.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
}

# in_dual_hosts CMD...: run CMD where the name "skdual" resolves to ::1
# first and 127.0.0.1 second (as Debian's localhost), through a hosts file
# bind-mounted over /etc/hosts in a private mount namespace.
in_dual_hosts() {
	printf '::1 skdual\n127.0.0.1 skdual\n' >"$T/hosts"
	# shellcheck disable=SC2016
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
	    "$T/hosts" "$@"
}

need_dual() {
	[[ $(id -u) == 0 ]] || skip "unshare -m and mount --bind need root"
	command -v unshare >/dev/null || skip "unshare is not installed"
	have_ipv6 || skip "::1 cannot be bound"
	# The order the resolver gives is what the test is about.
	run -0 in_dual_hosts getent ahostsv6 skdual
	[[ ${lines[0]} == "::1 "* ]] || skip "skdual does not resolve to ::1 first"
}

# listen_v4 PORTFILE: a TCP listener on 127.0.0.1 only (port from the
# kernel), with nothing on ::1 at that port.
listen_v4() {
	start_peer "$T/peer" server.py hold
}

@test "tcp-connect: -z finds a port open on 127.0.0.1 when the name gives ::1 first" {
	need_dual
	listen_v4
	run -0 --separate-stderr in_dual_hosts timeout 10 "$SK" tcp-connect \
	    -z skdual "$PORT"
	[ "$output" = "skdual $PORT open" ]
}

@test "tcp-connect: -z -v names the address of each result" {
	need_dual
	listen_v4
	run -0 --separate-stderr in_dual_hosts timeout 10 "$SK" tcp-connect \
	    -z -v skdual "$PORT"
	[ "$output" = "skdual $PORT open" ]
	[[ $stderr == *"skdual (::1) port $PORT: Connection refused"* ]]
	[[ $stderr == *"skdual (127.0.0.1) port $PORT: open"* ]]
}

@test "tcp-connect: -z -v on a closed port names every address tried" {
	need_dual
	local port
	port=$(free_port)
	run -1 --separate-stderr in_dual_hosts timeout 10 "$SK" tcp-connect \
	    -z -v skdual "$port"
	[ -z "$output" ]
	[[ $stderr == *"skdual (::1) port $port: Connection refused"* ]]
	[[ $stderr == *"skdual (127.0.0.1) port $port: Connection refused"* ]]
}

@test "tcp-connect: -z --retry waits for a port that opens later" {
	local port t0 ms
	port=$(free_port)
	bg_run /dev/null "$T/late.out" "$T/late.err" "$PYTHON" -c '
import socket, sys, time
time.sleep(1.5)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(10)
' "$port"
	t0=$(date +%s%N)
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect -z --retry 10s \
	    127.0.0.1 "$port"
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$output" = "127.0.0.1 $port open" ]
	(( ms >= 1400 && ms < 9000 )) || { echo "# took $ms ms" >&2; false; }
}

@test "tcp-connect: -z --retry gives up after DURATION with a message" {
	local port t0 ms
	port=$(free_port)
	t0=$(date +%s%N)
	run -1 --separate-stderr timeout 20 "$SK" tcp-connect -z --retry 1s \
	    127.0.0.1 "$port"
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: 127.0.0.1 port $port: nothing open after 1 s" ]]
	(( ms >= 950 && ms < 5000 )) || { echo "# took $ms ms" >&2; false; }
}

@test "tcp-connect: -z --retry returns at once for a port already open" {
	start_peer "$T/peer" server.py hold
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -z --retry 30s \
	    127.0.0.1 "$PORT"
	[ "$output" = "127.0.0.1 $PORT open" ]
}

@test "README and man page: the wait recipe is the -z --retry probe" {
	grep -q 'sockkit tcp-connect -z --retry 30s' \
	    "$BATS_TEST_DIRNAME/../README.md"
	grep -q 'tcp-connect \\-z \\-\\-retry 30s\|tcp-connect -z --retry 30s\|Fl z Fl \\-retry Ar 30s\|Fl z \\-\\-retry 30s\|-z --retry 30s' \
	    "$BATS_TEST_DIRNAME/../man/sockkit.1"
	run -1 grep -n 'q --retry 30s' "$BATS_TEST_DIRNAME/../README.md"
}
