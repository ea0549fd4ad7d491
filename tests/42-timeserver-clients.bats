#!/usr/bin/env bats
# timeserver with real clients, unchanged: rdate (RFC 868 over TCP and
# UDP, SNTP), sntp (ntpdig), chronyd as a one-shot NTP client, nc.

bats_require_minimum_version 1.5.0
load helpers

ts_start() {
	start_server "$BATS_TEST_TMPDIR/srv" timeserver "$@"
}

# near DATE: true if DATE (as date(1) reads it) is within 3 s of now.
near() {
	local t now
	t=$(date -d "$1" +%s) || return 1
	now=$(date +%s)
	(( t - now <= 3 && now - t <= 3 )) ||
	    { echo "# $1 is $((t - now)) s from now" >&2; return 1; }
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

@test "timeserver: rdate reads RFC 868 time over TCP" {
	need rdate
	ts_start --tcp --proto time 127.0.0.1 0
	run -0 --separate-stderr timeout 10 rdate -p -o "$PORT" 127.0.0.1
	near "${output#*]}"
}

@test "timeserver: rdate -u reads RFC 868 time over UDP" {
	need rdate
	ts_start --proto time 127.0.0.1 0
	run -0 --separate-stderr timeout 10 rdate -u -p -o "$PORT" 127.0.0.1
	near "${output#*]}"
}

@test "timeserver: rdate -n reads SNTP" {
	need rdate
	ts_start --proto ntp 127.0.0.1 0
	run -0 --separate-stderr timeout 10 rdate -n -p -o "$PORT" 127.0.0.1
	near "${output#*]}"
}

@test "timeserver: chronyd -Q takes a sample from --proto ntp on a port" {
	need chronyd
	[[ $(id -u) == 0 ]] || skip "chronyd -Q must start as root"
	ts_start --proto ntp 127.0.0.1 0
	run -0 --separate-stderr timeout 20 chronyd -Q -t 10 \
	    "pidfile $BATS_TEST_TMPDIR/chronyd.pid" \
	    "server 127.0.0.1 port $PORT iburst maxsamples 1"
	[[ $stderr == *"System clock wrong by "*" seconds (ignored)"* ]]
}

@test "timeserver: sntp queries --proto ntp on port 123" {
	need sntp
	# ntpdig (Debian's sntp) has no port option: only port 123 will do.
	[[ $(id -u) == 0 ]] ||
	    skip "sntp (ntpdig) cannot use another port than 123, and binding 123 needs root"
	ss -Hlun 'sport = :123' | grep -q . &&
	    skip "port 123 is in use on this host"
	ts_start --proto ntp --stratum 3 127.0.0.1 123
	same "$PORT" 123
	run -0 --separate-stderr timeout 20 sntp -t 5 127.0.0.1
	[[ $output == *" 127.0.0.1 s3 no-leap"* ]]
}

@test "timeserver: nc reads daytime over TCP and nc -u over UDP" {
	need nc.openbsd
	ts_start --tcp --proto daytime 127.0.0.1 0
	run -0 --separate-stderr timeout 10 nc.openbsd 127.0.0.1 "$PORT" \
	    </dev/null
	[[ $output =~ ^[A-Z][a-z]+day,\ .*$'\r'$ ]]
	ts_start --proto daytime 127.0.0.1 0
	run -0 --separate-stderr bash -c 'echo |
	    timeout 10 nc.openbsd -u -w 1 127.0.0.1 "$1"' _ "$PORT"
	[[ $output =~ ^[A-Z][a-z]+day,\ .*$'\r'$ ]]
}
