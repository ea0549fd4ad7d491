#!/usr/bin/env bats
# timeserver against bad input and abuse: garbage and oversize requests,
# bad NTP packets, --rate-limit, --user, usage errors, -v logs.

bats_require_minimum_version 1.5.0
load helpers

TS=$BATS_TEST_DIRNAME/peers/tsclient.py

ts_start() {
	start_server "$BATS_TEST_TMPDIR/srv" timeserver "$@"
}

@test "timeserver: oversize and garbage formats get error: replies, then a good one is answered" {
	ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" \
	    "$(printf 'A%.0s' {1..257})" "$(printf '%%c%.0s' {1..100})" \
	    '%' '%5' '%Q' 'a\x00b' '%10000Y' '\xff\xfe%' \
	    "$(printf 'B%.0s' {1..3000})" '%Y'
	[ "${#lines[@]}" -eq 10 ]
	same "${lines[0]}" "error: format too long"
	same "${lines[1]}" "error: output too long"
	same "${lines[2]}" "error: invalid conversion"
	same "${lines[3]}" "error: invalid conversion"
	same "${lines[4]}" "error: invalid conversion"
	same "${lines[5]}" "error: format contains a NUL byte"
	same "${lines[6]}" "error: field width too large"
	same "${lines[7]}" "error: invalid conversion"
	same "${lines[8]}" "error: format too long"
	[[ ${lines[9]} =~ ^20[0-9]{2}$ ]]
	running "$SERVER_PID"
}

@test "timeserver: a 256-byte format is answered, 512 bytes of output too" {
	ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" \
	    "$(printf 'x%.0s' {1..256})" "$(printf '%%Y%.0s' {1..128})"
	[ "${#lines[0]}" -eq 256 ]
	[ "${#lines[1]}" -eq 512 ]
}

@test "timeserver: bad NTP packets are dropped and a good one is answered" {
	ts_start --proto ntp -v 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" ntp-garbage "$PORT"
	same "${lines[0]}" "stratum=10 version=4 refid=LOCL offset=small"
	same "${lines[1]}" "extra=0"
	wait_grep ': short packet$' "$BATS_TEST_TMPDIR/srv.err"
	grep -q ': not a client request$' "$BATS_TEST_TMPDIR/srv.err"
	grep -q ': unsupported version$' "$BATS_TEST_TMPDIR/srv.err"
}

@test "timeserver: --rate-limit drops the excess from one source, serves another" {
	ts_start --rate-limit 5 -v 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 50
	(( output >= 5 && output <= 7 ))
	wait_grep '^sockkit: timeserver: [^ ]*127.0.0.1\]*:[0-9]*: over the rate limit: dropped$' \
	    "$BATS_TEST_TMPDIR/srv.err"
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp --bind 127.0.0.2 \
	    --host 127.0.0.2 "$PORT" '%Y'
	[[ $output =~ ^20[0-9]{2}$ ]]
}

@test "timeserver: --rate-limit 0 answers a whole burst from one source" {
	ts_start --rate-limit 0 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 50
	same "$output" 50
}

@test "timeserver: strftime over UDP is rate-limited per source by default (20/s)" {
	ts_start -v 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 50
	(( output >= 20 && output <= 22 )) || { echo "# answered $output" >&2; false; }
	wait_grep 'over the rate limit: dropped$' "$BATS_TEST_TMPDIR/srv.err"
	grep -q '^sockkit: timeserver: rate limit 20 requests a second per source (the default for strftime over UDP)$' \
	    "$BATS_TEST_TMPDIR/srv.err"
	# Another source has a bucket of its own.
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp --bind 127.0.0.2 \
	    --host 127.0.0.2 "$PORT" '%Y'
	[[ $output =~ ^20[0-9]{2}$ ]]
}

@test "timeserver: daytime over UDP is rate-limited per source by default" {
	ts_start --proto daytime 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 50
	(( output >= 20 && output <= 22 )) || { echo "# answered $output" >&2; false; }
}

@test "timeserver: RFC 868 time over UDP and strftime over TCP are not limited by default" {
	ts_start --proto time 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 50
	same "$output" 50
	start_server "$BATS_TEST_TMPDIR/tcp" timeserver --tcp 127.0.0.1 0
	local n out
	for ((n = 0; n < 30; n++)); do
		out=$(timeout 10 "$PYTHON" "$TS" tcp "$PORT" '%Y')
		[[ $out =~ ^20[0-9]{2}$ ]] || { echo "# request $n: $out" >&2; false; }
	done
}

# ts_logs NAME ARGS...: start a rate-limited (3/s) server with ARGS,
# stderr to $BATS_TEST_TMPDIR/NAME.err; ask it for '%Q' (an error) and
# '%Y' (good), then send a burst of 20 that it must partly drop; set
# $ANSWERED to how many of the burst were answered.
ts_logs() {
	local name=$1
	shift
	start_server "$BATS_TEST_TMPDIR/$name" timeserver --rate-limit 3 "$@" \
	    127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" '%Q' '%Y'
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" count "$PORT" 20
	ANSWERED=$output
	(( ANSWERED < 20 ))
}

@test "timeserver: -v logs drops and errors, -vv every request, none without" {
	local e=$BATS_TEST_TMPDIR
	# None without -v: no drop, no error, no request.
	ts_logs quiet
	[ ! -s "$e/quiet.err" ] || { cat "$e/quiet.err" >&2; return 1; }
	# -v: the error reply and the drops, not the good requests.
	ts_logs v -v
	wait_grep ': over the rate limit: dropped$' "$e/v.err"
	run cat "$e/v.err"
	same "${lines[0]}" "sockkit: timeserver: strftime over UDP on 127.0.0.1:$PORT"
	[[ ${lines[1]} =~ ^sockkit:\ timeserver:\ 127\.0\.0\.1:[0-9]+:\ error:\ invalid\ conversion$ ]]
	run -0 grep -c ': over the rate limit: dropped$' "$e/v.err"
	same "$output" $((20 - ANSWERED))
	run -1 grep ': strftime$' "$e/v.err"
	# -vv: the error, every answered request (%Y and the burst's) and
	# the drops.
	ts_logs vv -vv
	wait_grep ': over the rate limit: dropped$' "$e/vv.err"
	run cat "$e/vv.err"
	same "${lines[0]}" "sockkit: timeserver: strftime over UDP on 127.0.0.1:$PORT"
	[[ ${lines[1]} =~ ^sockkit:\ timeserver:\ 127\.0\.0\.1:[0-9]+:\ error:\ invalid\ conversion$ ]]
	[[ ${lines[2]} =~ ^sockkit:\ timeserver:\ 127\.0\.0\.1:[0-9]+:\ strftime$ ]]
	run -0 grep -c ': strftime$' "$e/vv.err"
	same "$output" $((ANSWERED + 1))
	run -0 grep -c ': over the rate limit: dropped$' "$e/vv.err"
	same "$output" $((20 - ANSWERED))
	run -0 grep -Evc ': (strftime|over the rate limit: dropped)$' "$e/vv.err"
	same "$output" 2
}

@test "timeserver: -v logs an error reply but not a good request" {
	ts_start -v 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" '%Y' '%Q'
	wait_grep 'invalid conversion' "$BATS_TEST_TMPDIR/srv.err"
	# "strftime over UDP on ...", the default rate limit, the error.
	run cat "$BATS_TEST_TMPDIR/srv.err"
	[ "${#lines[@]}" -eq 3 ]
	ts_start 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" udp "$PORT" '%Q'
	[ ! -s "$BATS_TEST_TMPDIR/srv.err" ]
}

@test "timeserver: --tcp --proto ntp is a usage error" {
	run -2 --separate-stderr "$SK" timeserver --tcp --proto ntp 0
	[ -z "$output" ]
	same "$stderr" "sockkit: timeserver: cannot use --tcp with --proto ntp"
}

@test "timeserver: bad option values are usage errors" {
	run -2 --separate-stderr "$SK" timeserver --proto chargen 0
	same "$stderr" "sockkit: timeserver: proto chargen: unknown protocol (strftime, daytime, time, ntp)"
	run -2 --separate-stderr "$SK" timeserver --stratum 16 0
	same "$stderr" "sockkit: timeserver: stratum 16: too large"
	run -2 --separate-stderr "$SK" timeserver --stratum 0 0
	same "$stderr" "sockkit: timeserver: stratum 0: too small"
	run -2 --separate-stderr "$SK" timeserver --rate-limit -1 0
	same "$stderr" "sockkit: timeserver: rate-limit -1: too small"
	run -2 --separate-stderr "$SK" timeserver --user no-such-user-x 0
	same "$stderr" "sockkit: timeserver: user no-such-user-x: no such user"
	run -2 --separate-stderr "$SK" timeserver 65536
	same "$stderr" "sockkit: timeserver: port 65536: invalid port"
	run -2 --separate-stderr "$SK" timeserver 127.0.0.1 0 1
	same "${stderr_lines[0]}" "sockkit: timeserver: too many arguments"
	[[ ${stderr_lines[1]} == "usage: sockkit timeserver [OPTIONS] [[ADDRESS] PORT]" ]]
	run -2 --separate-stderr "$SK" timeserver -U
	same "${stderr_lines[0]}" "sockkit: timeserver: missing PATH"
	[[ ${stderr_lines[1]} == "usage: sockkit timeserver "* ]]
}

@test "timeserver: --help prints its usage on stdout" {
	run -0 --separate-stderr "$SK" timeserver --help
	same "${lines[0]}" "usage: sockkit timeserver [OPTIONS] [[ADDRESS] PORT]"
	[[ $output == *--rate-limit* ]]
	[ -z "$stderr" ]
}

@test "timeserver: a busy port is a runtime error" {
	ts_start --proto time 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" timeserver --proto time \
	    127.0.0.1 "$PORT"
	[[ $stderr == "sockkit: timeserver: bind 127.0.0.1 port $PORT: Address already in use" ]]
}

@test "timeserver: --user drops root after binding a privileged port" {
	[[ $(id -u) == 0 ]] || skip "--user needs root"
	ss -Hlun 'sport = :37' | grep -q . && skip "port 37 is in use on this host"
	# No PORT: the protocol's own, 37, which only root may bind.
	ts_start --proto time --user nobody
	same "$PORT" 37
	run -0 --separate-stderr timeout 10 "$PYTHON" "$TS" rfc868 "$PORT"
	same "$output" ok
	run grep -E '^(Uid|Gid):' "/proc/$SERVER_PID/status"
	[[ ${lines[0]} =~ ^Uid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$ ]]
	local gid
	gid=$(id -g nobody)
	[[ ${lines[1]} =~ ^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid$ ]]
	[[ $gid != 0 ]]
	run grep '^Groups:' "/proc/$SERVER_PID/status"
	[[ ! $output =~ [[:space:]]0([[:space:]]|$) ]]
}

@test "timeserver: --user as a user who cannot switch fails closed" {
	[[ $(id -u) == 0 ]] || skip "needs root to run a command as nobody"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	run -1 --separate-stderr setpriv --reuid=65534 --regid=65534 \
	    --clear-groups "$SK" timeserver --user root 127.0.0.1 0
	[[ $stderr == "sockkit: timeserver: user root: setgroups: Operation not permitted" ]]
}
