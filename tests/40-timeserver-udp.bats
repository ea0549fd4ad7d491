#!/usr/bin/env bats
# timeserver over UDP: each protocol, each address family, Python peers.

bats_require_minimum_version 1.5.0
load helpers

TS=$BATS_TEST_DIRNAME/peers/tsclient.py

# ts_start ARGS...: start timeserver ARGS in the background on port 0.
ts_start() {
	start_server "$BATS_TEST_TMPDIR/srv" timeserver "$@"
}

@test "timeserver: the textbook Python UDP client gets the formatted time" {
	ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" \
	    "$PEERS/textbook_time.py" 127.0.0.1 "$PORT" '%s'
	[[ $output =~ ^[0-9]+$ ]]
	(( output - $(date +%s) <= 2 && $(date +%s) - output <= 2 ))
	[ -z "$stderr" ]
}

@test "timeserver: an empty format means %Y-%m-%d %X; CR and LF are ignored" {
	ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" \
	    '' '\n' '%Y\n' '%Y\r\n' 'at %H:%M'
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[0]} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]
	[[ ${lines[1]} =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]
	[[ ${lines[2]} =~ ^20[0-9]{2}$ ]]
	same "${lines[3]}" "${lines[2]}"
	[[ ${lines[4]} =~ ^at\ [0-9]{2}:[0-9]{2}$ ]]
	[ -z "$stderr" ]
}

@test "timeserver: local time by default, UTC with --utc" {
	# A zone 5.5 hours east of UTC that needs no tzdata.
	TZ=XST-5:30 ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" timecheck \
	    "$PORT" 19800
	same "$output" ok
	TZ=XST-5:30 ts_start --utc 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" timecheck \
	    "$PORT" 0
	same "$output" ok
}

@test "timeserver: daytime over UDP answers any datagram with a CRLF line" {
	ts_start --proto daytime --utc 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp --repr \
	    "$PORT" 'anything'
	[[ $output =~ ^b\'[A-Z][a-z]+day,\ [A-Z][a-z]+\ [0-9]{2},\ [0-9]{4}\ [0-9:]{8}-UTC\\r\\n\'$ ]]
}

@test "timeserver: time over UDP is 4 bytes of seconds since 1900" {
	ts_start --proto time 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" rfc868 "$PORT"
	same "$output" ok
}

@test "timeserver: ntp answers an SNTP request, echoing its version" {
	ts_start --proto ntp 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" ntp "$PORT"
	same "$output" "stratum=10 version=4 refid=LOCL offset=small"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" ntp --version 3 \
	    "$PORT"
	same "$output" "stratum=10 version=3 refid=LOCL offset=small"
}

@test "timeserver: --stratum sets the NTP stratum" {
	ts_start --proto ntp --stratum 2 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" ntp "$PORT"
	same "$output" "stratum=2 version=4 refid=LOCL offset=small"
}

@test "timeserver: -6 serves IPv6 on ::1" {
	have_ipv6 || skip "no IPv6 on this host"
	ts_start -6 --proto ntp ::1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" ntp --host ::1 \
	    "$PORT"
	[[ $output == stratum=10* ]]
}

@test "timeserver: a wildcard socket answers from the address asked" {
	# A connected client takes replies only from 127.0.0.2, the address
	# it sent to; the default socket is bound to every address.
	ts_start 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp --connect \
	    --host 127.0.0.2 "$PORT" '%Y'
	[[ $output =~ ^20[0-9]{2}$ ]]
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp --connect \
	    --host ::ffff:127.0.0.3 "$PORT" '%Y'
	[[ $output =~ ^20[0-9]{2}$ ]]
}

@test "timeserver: -U serves a Unix datagram socket" {
	local sock=$BATS_TEST_TMPDIR/time.sock
	bg_run /dev/null "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" \
	    "$SK" timeserver -U "$sock"
	wait_socket "$sock" "$BG_PID"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp \
	    --unix "$sock" 0 '%Y' ''
	[[ ${lines[0]} =~ ^20[0-9]{2}$ ]]
	[[ ${lines[1]} =~ ^20[0-9]{2}- ]]
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
}

@test "timeserver: an address alone is ADDRESS on the protocol's default port" {
	[[ $(id -u) == 0 ]] || skip "unshare -n needs root"
	command -v ip >/dev/null || skip "ip is not installed"
	# A network namespace of its own: the default port 9000 is free there.
	# shellcheck disable=SC2016
	run -0 --separate-stderr timeout 20 unshare -n bash -c '
ip link set lo up || exit 3
"$1" timeserver --port-file "$2" 127.0.0.1 2>"$2.err" &
pid=$!
for ((i = 0; i < 200; i++)); do [[ -s $2 ]] && break; sleep 0.05; done
cat "$2"
"$3" "$4" udp 9000 "%Y"
kill "$pid"
' _ "$SK" "$BATS_TEST_TMPDIR/port" "$PYTHON" "$TS"
	[ "${lines[0]}" = 9000 ]
	[[ ${lines[1]} =~ ^20[0-9]{2}$ ]]
	[ ! -s "$BATS_TEST_TMPDIR/port.err" ]
}

@test "timeserver: a one-argument bad port number stays a usage error" {
	run -2 --separate-stderr "$SK" timeserver 70000
	same "$stderr" "sockkit: timeserver: port 70000: invalid port"
}
