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
	command -v chronyd >/dev/null ||
	    skip "chronyd is not installed (tests/deps.sh installs chrony only when CI=true: it would replace systemd-timesyncd)"
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

# deps_stub DIR: fake dpkg-query (nothing installed), id (root) and apt-get
# (logs its arguments to DIR/apt.log and prints pages, as dpkg does).
deps_stub() {
	mkdir -p "$1/bin"
	printf '#!/bin/sh\nexit 1\n' >"$1/bin/dpkg-query"
	printf '#!/bin/sh\necho 0\n' >"$1/bin/id"
	printf '#!/bin/sh\necho "$*" >>%s/apt.log\nseq 200\n' "$1" \
	    >"$1/bin/apt-get"
	chmod +x "$1/bin/"*
}

@test "deps.sh: without CI=true it does not install chrony (no daemon swap)" {
	deps_stub "$BATS_TEST_TMPDIR"
	CI= PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 --separate-stderr \
	    sh "$BATS_TEST_DIRNAME/deps.sh"
	grep -q 'install.* rdate' "$BATS_TEST_TMPDIR/apt.log"
	run -1 grep -w chrony "$BATS_TEST_TMPDIR/apt.log"
}

@test "deps.sh: with CI=true it installs chrony" {
	deps_stub "$BATS_TEST_TMPDIR"
	CI=true PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 --separate-stderr \
	    sh "$BATS_TEST_DIRNAME/deps.sh"
	grep -q 'install.* chrony' "$BATS_TEST_TMPDIR/apt.log"
}

@test "deps.sh: apt's output is kept to a summary (at most 3 lines)" {
	deps_stub "$BATS_TEST_TMPDIR"
	CI=true PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 --separate-stderr \
	    sh "$BATS_TEST_DIRNAME/deps.sh"
	[ -z "$output" ]
	(( ${#stderr_lines[@]} <= 3 ))
	[[ $stderr == *"installed "*" packages"* ]]
}
