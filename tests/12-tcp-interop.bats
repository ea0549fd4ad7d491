#!/usr/bin/env bats
# sockkit against the peers a user would have: nc.openbsd, socat and
# Python's socket module; IPv6, Unix sockets, --retry, -z, -s and -p.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	seq 1 20000 >"$T/in"
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

need_ipv6() {
	have_ipv6 || skip "::1 is not available"
}

# Servers that cannot report a port (nc, socat) get one the kernel just
# released; sockkit connects with --retry until they listen.

# --- nc.openbsd ---------------------------------------------------------

@test "tcp-serve: receives from nc.openbsd -N" {
	need nc.openbsd
	start_server "$T/out" tcp-serve --recv-only 127.0.0.1 0
	run -0 --separate-stderr timeout 10 nc.openbsd -N 127.0.0.1 "$PORT" \
	    <"$T/in"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$T/in" "$T/out"
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: sends to nc.openbsd" {
	need nc.openbsd
	IN=$T/in start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" nc.openbsd -d 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$T/in" "$T/out"
	[ ! -s "$T/srv" ]
}

@test "tcp-connect: sends to nc.openbsd -l" {
	need nc.openbsd
	local port
	port=$(free_port)
	bg_run /dev/null "$T/out" "$T/nc.err" nc.openbsd -d -l 127.0.0.1 "$port"
	local ncpid=$BG_PID
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --retry 5s \
	    127.0.0.1 "$port" <"$T/in"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$ncpid" "$T/nc.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-connect: receives from nc.openbsd -l -N" {
	need nc.openbsd
	local port
	port=$(free_port)
	bg_run "$T/in" /dev/null "$T/nc.err" nc.openbsd -N -l 127.0.0.1 "$port"
	local ncpid=$BG_PID
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only --retry 5s 127.0.0.1 "$port"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$ncpid" "$T/nc.err"
	cmp "$T/in" "$T/out"
	[ ! -s "$T/err" ]
}

# --- socat --------------------------------------------------------------

@test "tcp-serve: receives from socat" {
	need socat
	start_server "$T/out" tcp-serve --recv-only 127.0.0.1 0
	run -0 --separate-stderr timeout 10 socat -u - "TCP:127.0.0.1:$PORT" \
	    <"$T/in"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$T/in" "$T/out"
	[ ! -s "$T/out.err" ]
}

@test "tcp-serve: sends to socat" {
	need socat
	IN=$T/in start_server "$T/srv" tcp-serve 127.0.0.1 0
	bg_run /dev/null "$T/out" "$T/err" socat -u "TCP:127.0.0.1:$PORT" -
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-connect: sends to socat TCP-LISTEN" {
	need socat
	local port
	port=$(free_port)
	bg_run /dev/null "$T/out" "$T/socat.err" \
	    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" -
	local spid=$BG_PID
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --retry 5s \
	    127.0.0.1 "$port" <"$T/in"
	[ -z "$stderr" ]
	expect_exit 0 "$spid" "$T/socat.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-connect: receives from socat TCP-LISTEN" {
	need socat
	local port
	port=$(free_port)
	bg_run "$T/in" /dev/null "$T/socat.err" \
	    socat -u - "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr"
	local spid=$BG_PID
	bg_run /dev/null "$T/out" "$T/err" \
	    "$SK" tcp-connect --recv-only --retry 5s 127.0.0.1 "$port"
	expect_exit 0 "$BG_PID" "$T/err"
	expect_exit 0 "$spid" "$T/socat.err"
	cmp "$T/in" "$T/out"
}

# --- Python -------------------------------------------------------------

@test "tcp-connect: a Python echo server sends everything back" {
	start_peer "$T/peer" server.py echo
	bg_run "$T/in" "$T/out" "$T/err" "$SK" tcp-connect 127.0.0.1 "$PORT"
	expect_exit 0 "$BG_PID" "$T/err"
	cmp "$T/in" "$T/out"
	[ ! -s "$T/err" ]
}

@test "tcp-serve: talks both ways with a Python client" {
	IN=$T/in start_server "$T/out" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$PEERS/client.py" \
	    127.0.0.1 "$PORT" sendclose "from python"
	[ "$output" = "$(cat "$T/in")" ]
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	[ "$(cat "$T/out")" = "from python" ]
}

# --- IPv6 ---------------------------------------------------------------

@test "tcp-connect: reaches a server on ::1" {
	need_ipv6
	PEER_HOST=::1 start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect ::1 "$PORT" \
	    <"$T/in"
	[ "$output" = "got $(stat -c %s "$T/in")" ]
	[ -z "$stderr" ]
}

@test "tcp-connect: accepts [::1] as an IPv6 address" {
	need_ipv6
	PEER_HOST=::1 start_peer "$T/peer" server.py count
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -6 '[::1]' \
	    "$PORT" <"$T/in"
	[ "$output" = "got $(stat -c %s "$T/in")" ]
	[ -z "$stderr" ]
}

@test "tcp-serve: listens on ::1 for tcp-connect [::1]" {
	need_ipv6
	start_server "$T/out" tcp-serve --recv-only ::1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect '[::1]' "$PORT" \
	    <"$T/in"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-serve: without ADDRESS takes IPv6 clients" {
	need_ipv6
	start_server "$T/out" tcp-serve --recv-only 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect ::1 "$PORT" \
	    <"$T/in"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-serve: without ADDRESS takes IPv4 clients" {
	start_server "$T/out" tcp-serve --recv-only 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" <"$T/in"
	expect_exit 0 "$SERVER_PID" "$T/out.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-serve: -4 without ADDRESS refuses IPv6 clients" {
	need_ipv6
	start_server "$T/out" tcp-serve -4 --recv-only 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect ::1 "$PORT" \
	    </dev/null
	[[ $stderr == *"Connection refused"* ]]
}

# --- Unix-domain sockets ------------------------------------------------

@test "tcp-serve: -U and tcp-connect -U talk both ways" {
	printf 'to client\n' >"$T/down"
	bg_run "$T/down" "$T/out" "$T/srv.err" "$SK" tcp-serve -U "$T/sock"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -U "$T/sock" \
	    <"$T/in"
	[ "$output" = "to client" ]
	[ -z "$stderr" ]
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-serve: -U receives from socat UNIX-CONNECT" {
	need socat
	bg_run /dev/null "$T/out" "$T/srv.err" \
	    "$SK" tcp-serve --recv-only -U "$T/sock"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	run -0 --separate-stderr timeout 10 socat -u - "UNIX-CONNECT:$T/sock" \
	    <"$T/in"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$T/in" "$T/out"
}

@test "tcp-connect: -U sends to socat UNIX-LISTEN" {
	need socat
	bg_run /dev/null "$T/out" "$T/socat.err" \
	    socat -u "UNIX-LISTEN:$T/sock" -
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	# socat binds before it listens: --retry covers the gap.
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --retry 5s \
	    -U "$T/sock" <"$T/in"
	[ -z "$stderr" ]
	expect_exit 0 "$spid" "$T/socat.err"
	cmp "$T/in" "$T/out"
}

# --- --retry ------------------------------------------------------------

@test "tcp-connect: --retry waits for a server that starts late" {
	local port
	port=$(free_port)
	bg_run "$T/in" "$T/out" "$T/err" \
	    "$SK" tcp-connect --retry 5s 127.0.0.1 "$port"
	local cpid=$BG_PID
	# A deliberate delay: the server must come up after the first try.
	sleep 0.5
	running "$cpid"
	bg_run /dev/null "$T/srv" "$T/srv.err" \
	    "$SK" tcp-serve --recv-only 127.0.0.1 "$port"
	local spid=$BG_PID
	expect_exit 0 "$cpid" "$T/err"
	expect_exit 0 "$spid" "$T/srv.err"
	cmp "$T/in" "$T/srv"
	[ ! -s "$T/err" ]
}

@test "tcp-connect: --retry gives up when DURATION has passed" {
	local port t0
	port=$(free_port)
	t0=$(date +%s%N)
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --retry 600ms \
	    127.0.0.1 "$port" </dev/null
	[ "$stderr" = "sockkit: tcp-connect: connect to 127.0.0.1 port $port: Connection refused" ]
	# It kept trying for the whole 600 ms.
	[ $((($(date +%s%N) - t0) / 1000000)) -ge 550 ]
}

# --- -z -----------------------------------------------------------------

@test "tcp-connect: -z reports an open port and sends no data" {
	start_peer "$T/peer" server.py record "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$PORT" <"$T/in"
	[ "$output" = "127.0.0.1 $PORT open" ]
	[ -z "$stderr" ]
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	[ -e "$T/got" ]
	[ ! -s "$T/got" ]
}

@test "tcp-connect: -z finds a listening tcp-serve" {
	start_server "$T/srv" tcp-serve 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$PORT" </dev/null
	[ "$output" = "127.0.0.1 $PORT open" ]
}

@test "tcp-connect: -z on a closed port prints nothing and exits 1" {
	local port
	port=$(free_port)
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$port" </dev/null
	[ -z "$output" ]
}

@test "tcp-connect: -z scans a range" {
	# P and P+2 listen; P+1 is bound but not listening, so closed.
	start_peer "$T/peer" ports.py range
	local p=$PORT
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$p-$((p + 2))" </dev/null
	[ "$output" = "127.0.0.1 $p open"$'\n'"127.0.0.1 $((p + 2)) open" ]
}

@test "tcp-connect: -z scans a list, reporting in port order" {
	start_peer "$T/peer" ports.py range
	local p=$PORT
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$((p + 2)),$((p + 1)),$p" </dev/null
	[ "$output" = "127.0.0.1 $p open"$'\n'"127.0.0.1 $((p + 2)) open" ]
}

@test "tcp-connect: -z reads a service name with a dash as a service" {
	# http-alt is 8080/tcp in /etc/services; nothing need listen there,
	# so the scan exits 0 or 1 but never calls the name a bad range (2).
	run --separate-stderr timeout 10 "$SK" tcp-connect -w 200ms -z \
	    127.0.0.1 http-alt </dev/null
	[ "$status" -le 1 ]
	[[ $stderr != *"invalid"* ]]
}

@test "tcp-connect: -z exits 1 when no port of the list is open" {
	start_peer "$T/peer" ports.py range
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect -z 127.0.0.1 \
	    "$((PORT + 1)),$((PORT + 1))" </dev/null
	[ -z "$output" ]
}

# --- -s and -p ----------------------------------------------------------

@test "tcp-connect: -s and -p choose the source address and port" {
	local src
	src=$(free_port)
	start_peer "$T/peer" server.py peer "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -s 127.0.0.2 \
	    -p "$src" 127.0.0.1 "$PORT" </dev/null
	[ -z "$stderr" ]
	wait_file "$T/got" "$PEER_PID"
	same "$(cat "$T/got")" "127.0.0.2 $src"
}

@test "tcp-connect: --source-port alone chooses the source port" {
	local src
	src=$(free_port)
	start_peer "$T/peer" server.py peer "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --source-port "$src" 127.0.0.1 "$PORT" </dev/null
	wait_file "$T/got" "$PEER_PID"
	same "$(cat "$T/got")" "127.0.0.1 $src"
}

@test "tcp-connect: --source alone chooses the source address" {
	start_peer "$T/peer" server.py peer "$T/got"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
	    --source 127.0.0.3 127.0.0.1 "$PORT" </dev/null
	wait_file "$T/got" "$PEER_PID"
	[[ $(cat "$T/got") =~ ^127\.0\.0\.3\ [0-9]+$ ]]
}
