#!/usr/bin/env bats
# --proxy (SPEC.md, Proxies) against real proxies started on loopback
# from one-file configs in the test's directory: tinyproxy (HTTP
# CONNECT, BasicAuth), microsocks (SOCKS5, -u/-P), danted (SOCKS5 and
# SOCKS4, passes a half-close), ssh -D (SOCKS5 and SOCKS4A by name,
# passes a half-close) against an sshd of the test's own, ncat
# --proxy-type http, a chain of two, refusals, a silent proxy, --retry,
# TLS through the tunnel, and ssh's ProxyCommand.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	head -c 1M /dev/urandom >"$BATS_FILE_TMPDIR/up"
	head -c 1M /dev/urandom >"$BATS_FILE_TMPDIR/down"
	export UP=$BATS_FILE_TMPDIR/up DOWN=$BATS_FILE_TMPDIR/down
}

setup() {
	T=$BATS_TEST_TMPDIR
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# sk OUT ARGS...: run sockkit with stdout to OUT (for run, which would
# take a redirection as its own).
sk() {
	local out=$1
	shift
	"$SK" "$@" >"$out"
}

# digest FILE: "SIZE SHA256" of FILE, as proxypeer.py exchange writes.
digest() {
	local sum
	sum=$(sha256sum <"$1")
	printf '%s %s\n' "$(stat -c %s "$1")" "${sum%% *}"
}

# listening PORT: something listens on 127.0.0.1 (or any address) PORT
# (/proc/net/tcp).
listening() {
	grep -Eq "(0100007F|00000000):$(printf %04X "$1") 00000000:0000 0A" \
	    /proc/net/tcp
}

# wait_listen PORT PID: wait until PORT listens; fail if PID exits.
wait_listen() {
	local i
	for ((i = 0; i < WAIT_SECS * 50; i++)); do
		listening "$1" && return 0
		running "$2" || return 1
		sleep 0.02
	done
	return 1
}

# start_fixed NAME MAKECONF CMD...: pick a free port (the proxies below
# take no port 0), write the config with MAKECONF PORT, start CMD in the
# background and wait until it listens; retry on a port collision.  Set
# $PPORT and $PPID_.
start_fixed() {
	local name=$1 makeconf=$2 try
	shift 2
	for try in 1 2 3 4 5; do
		PPORT=$(free_port)
		"$makeconf" "$PPORT"
		bg_run /dev/null "$T/$name.out" "$T/$name.err" "$@"
		PPID_=$BG_PID
		wait_listen "$PPORT" "$PPID_" && return 0
		running "$PPID_" && kill "$PPID_"
		wait_exit "$PPID_" 5 || true
	done
	sed 's/^/# proxy: /' "$T/$name.err" >&2
	return 1
}

tinyproxy_conf() {
	{
		echo "Port $1"
		echo "Listen 127.0.0.1"
		echo "Timeout 30"
		echo "MaxClients 20"
		echo "LogLevel Info"
		echo "LogFile \"$T/tinyproxy.log\""
		echo "Allow 127.0.0.1"
		if [[ -n ${TP_AUTH:-} ]]; then
			echo "BasicAuth $TP_AUTH"
		fi
	} >"$T/tinyproxy.conf"
}

# start_tinyproxy [USER PASS]: tinyproxy in the foreground on $PPORT.
start_tinyproxy() {
	need tinyproxy
	TP_AUTH=${1:+$1 $2}
	start_fixed tinyproxy tinyproxy_conf tinyproxy -d -c "$T/tinyproxy.conf"
}

# microsocks and ncat take their port on the command line: through a
# file, so that start_fixed can choose it.
mport_conf() {
	echo "$1" >"$T/mport"
}

danted_conf() {
	local u
	u=$(id -un)
	cat >"$T/danted.conf" <<-EOF
	logoutput: $T/danted.log
	internal: 127.0.0.1 port = $1
	external: 127.0.0.1
	clientmethod: none
	socksmethod: none
	user.privileged: $u
	user.unprivileged: $u
	client pass {
		from: 127.0.0.0/8 to: 0.0.0.0/0
	}
	socks pass {
		from: 127.0.0.0/8 to: 0.0.0.0/0
		command: connect
		log: connect disconnect error
	}
	EOF
}

# start_danted: danted as the current user, in the foreground, one
# process, with its own config and pid file.
start_danted() {
	[[ -x /usr/sbin/danted ]] || skip "danted (dante-server) is not installed"
	start_fixed danted danted_conf /usr/sbin/danted -f "$T/danted.conf" \
	    -p "$T/danted.pid" -N 1
}

# start_exchange: a backend that reads 1 MiB while sending 1 MiB, then
# closes (proxies that end the tunnel at a half-close need this).
start_exchange() {
	start_peer "$T/peer" proxypeer.py exchange 1048576 "$DOWN" "$T/result"
	BACKEND=$PORT
}

# exchange_ok: both MiB arrived whole, and nothing else reached stdout.
exchange_ok() {
	wait_file "$T/result" || return 1
	same "$(cat "$T/result")" "$(digest "$UP")" &&
	    same "$(digest "$T/out")" "$(digest "$DOWN")"
}

@test "tcp-connect --proxy http: 1 MiB each way through tinyproxy" {
	start_tinyproxy
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy "http://127.0.0.1:$PPORT" 127.0.0.1 "$BACKEND" \
	    <"$UP"
	exchange_ok
}

@test "tcp-connect --proxy http: tinyproxy BasicAuth with USER:PASS in the URL" {
	start_tinyproxy bob 's3cret'
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect -v --no-shutdown -w 10 \
	    --proxy "http://bob:s3cret@127.0.0.1:$PPORT" 127.0.0.1 "$BACKEND" \
	    <"$UP"
	exchange_ok
	[[ $stderr == *"http://127.0.0.1:$PPORT: tunnel to 127.0.0.1 port $BACKEND"* ]]
	[[ $stderr != *s3cret* ]]
}

@test "tcp-connect --proxy-auth: tinyproxy BasicAuth from a file" {
	start_tinyproxy bob 's3cret'
	start_exchange
	printf 'bob:s3cret\n' >"$T/auth"
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy-auth "$T/auth" --proxy "http://127.0.0.1:$PPORT" \
	    127.0.0.1 "$BACKEND" <"$UP"
	exchange_ok
}

@test "tcp-connect --proxy http: tinyproxy's refusal of a bad password is quoted" {
	start_tinyproxy bob 's3cret'
	run -1 --separate-stderr "$SK" tcp-connect -v -w 5 \
	    --proxy "http://bob:wrong@127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	same "$output" ""
	[[ $stderr =~ "through http://127.0.0.1:$PPORT: proxy refused: HTTP/1."[01]" 40"[17] ]]
	[[ $stderr != *wrong* ]]
}

@test "tcp-connect --proxy http: tinyproxy without credentials is refused" {
	start_tinyproxy bob 's3cret'
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "http://127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	[[ $stderr == *"proxy refused: HTTP/1."* ]]
}

@test "tcp-connect --proxy socks5: 1 MiB each way through microsocks" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy "socks5://127.0.0.1:$PPORT" localhost "$BACKEND" \
	    <"$UP"
	exchange_ok
}

@test "tcp-connect --proxy socks5: microsocks -u/-P, credentials in the URL and by file" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")" -u bob -P s3cret' \
	    "$T/mport"
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy "socks5://bob:s3cret@127.0.0.1:$PPORT" 127.0.0.1 \
	    "$BACKEND" <"$UP"
	exchange_ok
	rm -f "$T/result"
	start_exchange
	printf 'bob:s3cret' >"$T/auth"
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy "socks5://127.0.0.1:$PPORT" --proxy-auth "$T/auth" \
	    127.0.0.1 "$BACKEND" <"$UP"
	exchange_ok
}

@test "tcp-connect --proxy socks5: microsocks refuses a wrong password, and no password" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")" -u bob -P s3cret' \
	    "$T/mport"
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks5://bob:wrong@127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port 9 through socks5://127.0.0.1:$PPORT: SOCKS5: user/password authentication failed"
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks5://127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port 9 through socks5://127.0.0.1:$PPORT: SOCKS5: the proxy requires a user and password"
}

@test "tcp-connect --proxy socks5: microsocks's refused target is quoted" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	port=$(free_port)
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks5://127.0.0.1:$PPORT" 127.0.0.1 "$port" </dev/null
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port $port through socks5://127.0.0.1:$PPORT: SOCKS5: connection refused"
}

@test "tcp-connect --proxy socks5: danted passes a half-close, 1 MiB each way" {
	start_danted
	bg_run "$DOWN" "$T/srv.got" "$T/srv.err2" "$SK" tcp-serve \
	    --port-file "$T/pf2" 127.0.0.1 0
	srv=$BG_PID
	wait_file "$T/pf2" "$srv"
	run -0 --separate-stderr sk "$T/out" tcp-connect -w 10 \
	    --proxy "socks5://127.0.0.1:$PPORT" localhost "$(cat "$T/pf2")" \
	    <"$UP"
	expect_exit 0 "$srv" "$T/srv.err2"
	same "$(digest "$T/srv.got")" "$(digest "$UP")"
	same "$(digest "$T/out")" "$(digest "$DOWN")"
}

@test "tcp-connect --proxy --tls: TLS end to end through danted, 1 MiB each way" {
	start_danted
	bg_run "$DOWN" "$T/srv.got" "$T/srv.err" "$SK" tcp-serve --tls \
	    --port-file "$T/pf" 127.0.0.1 0
	srv=$BG_PID
	wait_file "$T/pf" "$srv"
	wait_grep 'SHA256:' "$T/srv.err"
	pin=$(grep -o 'SHA256:[0-9a-f]*' "$T/srv.err")
	run -0 --separate-stderr sk "$T/out" tcp-connect -v -w 10 --tls \
	    --tls-pin "$pin" --proxy "socks5://127.0.0.1:$PPORT" localhost \
	    "$(cat "$T/pf")" <"$UP"
	expect_exit 0 "$srv" "$T/srv.err"
	same "$(digest "$T/srv.got")" "$(digest "$UP")"
	same "$(digest "$T/out")" "$(digest "$DOWN")"
	[[ $stderr == *"tunnel to localhost port"*"TLSv1."* ]]
}

@test "tcp-connect --proxy socks4a: danted, an IPv4 target, half-close passed" {
	start_danted
	bg_run "$DOWN" "$T/srv.got" "$T/srv.err" "$SK" tcp-serve \
	    --port-file "$T/pf" 127.0.0.1 0
	srv=$BG_PID
	wait_file "$T/pf" "$srv"
	run -0 --separate-stderr sk "$T/out" tcp-connect -v -w 10 \
	    --proxy "socks4a://127.0.0.1:$PPORT" 127.0.0.1 "$(cat "$T/pf")" \
	    <"$UP"
	expect_exit 0 "$srv" "$T/srv.err"
	same "$(digest "$T/srv.got")" "$(digest "$UP")"
	same "$(digest "$T/out")" "$(digest "$DOWN")"
	[[ $stderr == *"socks4a://127.0.0.1:$PPORT: tunnel to 127.0.0.1 port"* ]]
}

@test "tcp-connect --proxy socks4a: danted's refusal is quoted" {
	start_danted
	port=$(free_port)
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks4a://127.0.0.1:$PPORT" 127.0.0.1 "$port" </dev/null
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port $port through socks4a://127.0.0.1:$PPORT: SOCKS4: request rejected or failed"
}

@test "tcp-connect --proxy http: ncat -l --proxy-type http" {
	need ncat
	# ncat's proxy mode binds every address whatever -l is given: only
	# loopback clients are let in.
	start_fixed ncat mport_conf sh -c \
	    'exec ncat -l 127.0.0.1 "$(cat "$0")" --proxy-type http --allow 127.0.0.1' \
	    "$T/mport"
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy "http://127.0.0.1:$PPORT" 127.0.0.1 "$BACKEND" \
	    <"$UP"
	exchange_ok
}

@test "tcp-connect --proxy http: ncat -l --proxy-type http --proxy-auth, right and wrong" {
	need ncat
	start_fixed ncat mport_conf sh -c \
	    'exec ncat -l 127.0.0.1 "$(cat "$0")" --proxy-type http --allow 127.0.0.1 --proxy-auth bob:s3cret' \
	    "$T/mport"
	start_exchange
	printf 'bob:s3cret\n' >"$T/auth"
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    --proxy-auth "$T/auth" --proxy "http://127.0.0.1:$PPORT" \
	    127.0.0.1 "$BACKEND" <"$UP"
	exchange_ok
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "http://bob:wrong@127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	[[ $stderr == *"through http://127.0.0.1:$PPORT: proxy refused: HTTP/1.0 407 "* ]]
	[[ $stderr != *wrong* ]]
}

@test "tcp-connect --proxy: a chain, microsocks then tinyproxy, -v names each hop" {
	need microsocks
	start_tinyproxy
	tport=$PPORT
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")" -u bob -P s3cret' \
	    "$T/mport"
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect -v --no-shutdown -w 10 \
	    --proxy "socks5://bob:s3cret@127.0.0.1:$PPORT,http://127.0.0.1:$tport" \
	    127.0.0.1 "$BACKEND" <"$UP"
	exchange_ok
	[[ $stderr == *"socks5://127.0.0.1:$PPORT: tunnel to 127.0.0.1 port $tport"* ]]
	[[ $stderr == *"http://127.0.0.1:$tport: tunnel to 127.0.0.1 port $BACKEND"* ]]
	[[ $stderr != *s3cret* ]]
}

@test "tcp-connect --proxy --retry: waits out a target the proxy finds down" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	port=$(free_port)
	echo "up at last" >"$T/hello"
	bg_run "$T/hello" "$T/srv.got" "$T/srv.err" sh -c \
	    'sleep 1; exec "$0" tcp-serve 127.0.0.1 "$1"' "$SK" "$port"
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --recv-only \
	    --retry 10s -w 5 --proxy "socks5://127.0.0.1:$PPORT" 127.0.0.1 \
	    "$port"
	same "$output" "up at last"
}

@test "tcp-connect --proxy --retry: a proxy's own refusal is not retried" {
	start_tinyproxy bob 's3cret'
	start=$SECONDS
	run -1 --separate-stderr "$SK" tcp-connect --retry 10s -w 5 \
	    --proxy "http://127.0.0.1:$PPORT" 127.0.0.1 9 </dev/null
	((SECONDS - start < 3))
	[[ $stderr == *"proxy refused: HTTP/1."* ]]
}

@test "tcp-connect --proxy: a silent proxy is bounded by -w" {
	start_peer "$T/silent" proxypeer.py silent
	start=$SECONDS
	run -1 --separate-stderr "$SK" tcp-connect -w 1 \
	    --proxy "socks5://127.0.0.1:$PORT" 127.0.0.1 9 </dev/null
	((SECONDS - start <= 4))
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port 9 through socks5://127.0.0.1:$PORT: timed out"
	run -1 --separate-stderr "$SK" tcp-connect -w 500ms \
	    --proxy "http://127.0.0.1:$PORT" 127.0.0.1 9 </dev/null
	[[ $stderr == *"through http://127.0.0.1:$PORT: timed out" ]]
}

@test "tcp-connect --proxy: -w is one deadline for the whole chain" {
	start_peer "$T/silent" proxypeer.py silent
	silent=$PORT
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	start=$SECONDS
	run -1 --separate-stderr "$SK" tcp-connect -w 1 --proxy \
	    "socks5://127.0.0.1:$PPORT,http://127.0.0.1:$silent" 127.0.0.1 9 \
	    </dev/null
	((SECONDS - start <= 4))
	[[ $stderr == *"through http://127.0.0.1:$silent: timed out" ]]
}

@test "tcp-connect --proxy: garbage where the proxy's reply belongs" {
	start_peer "$T/banner" proxypeer.py banner "SSH-2.0-not_a_proxy"
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks5://127.0.0.1:$PORT" 127.0.0.1 9 </dev/null
	same "$output" ""
	same "$stderr" "sockkit: tcp-connect: 127.0.0.1 port 9 through socks5://127.0.0.1:$PORT: SOCKS5: not a SOCKS5 proxy"
	start_peer "$T/banner2" proxypeer.py banner "SSH-2.0-not_a_proxy"
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks4a://127.0.0.1:$PORT" 127.0.0.1 9 </dev/null
	[[ $stderr == *": SOCKS4: not a SOCKS4 proxy" ]]
}

@test "tcp-connect --proxy: a closed proxy port" {
	port=$(free_port)
	run -1 --separate-stderr "$SK" tcp-connect -w 5 \
	    --proxy "socks5://127.0.0.1:$port" 127.0.0.1 9 </dev/null
	same "$stderr" "sockkit: tcp-connect: connect to proxy 127.0.0.1 port $port: Connection refused"
}

@test "tcp-connect --proxy: -n applies to the proxy's address, not to HOST" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect -n --no-shutdown \
	    -w 10 --proxy "socks5://127.0.0.1:$PPORT" localhost "$BACKEND" \
	    <"$UP"
	exchange_ok
	run -1 --separate-stderr "$SK" tcp-connect -n -w 5 \
	    --proxy "socks5://localhost:$PPORT" 127.0.0.1 9 </dev/null
	[[ $stderr == "sockkit: tcp-connect: proxy localhost port $PPORT: "* ]]
}

@test "tcp-connect --proxy: an IPv6 proxy address in brackets" {
	need microsocks
	have_ipv6 || skip "no IPv6 loopback"
	mport_conf "$(free_port)"
	PPORT=$(cat "$T/mport")
	bg_run /dev/null "$T/m.out" "$T/m.err" microsocks -i ::1 -p "$PPORT"
	for ((i = 0; i < 250; i++)); do
		grep -q ":$(printf %04X "$PPORT") 0\{32\}:0000 0A" /proc/net/tcp6 &&
		    break
		sleep 0.02
	done
	start_exchange
	run -0 --separate-stderr sk "$T/out" tcp-connect -v --no-shutdown \
	    -w 10 --proxy "socks5://[::1]:$PPORT" 127.0.0.1 "$BACKEND" <"$UP"
	exchange_ok
	[[ $stderr == *"socks5://[::1]:$PPORT: tunnel to 127.0.0.1 port $BACKEND"* ]]
}

@test "tcp-connect --proxy: bad URLs are usage errors, the password hidden" {
	run -2 --separate-stderr "$SK" tcp-connect --proxy 127.0.0.1:1080 h 1
	same "$stderr" 'sockkit: tcp-connect: bad proxy URL "127.0.0.1:1080": no scheme: use socks5://, socks4a:// or http://'
	run -2 --separate-stderr "$SK" tcp-connect \
	    --proxy socks5://u:hunter2@h:70000 h 1
	same "$stderr" 'sockkit: tcp-connect: bad proxy URL "socks5://u:***@h:70000": port must be 1-65535'
	run -2 --separate-stderr "$SK" tcp-connect --proxy socks4://h h 1
	[[ $stderr == *"use socks4a://"* ]]
	run -2 --separate-stderr "$SK" tcp-connect --proxy 'http://::1:3128' h 1
	[[ $stderr == *"brackets"* ]]
	run -2 --separate-stderr "$SK" tcp-connect --proxy 'socks5://h,' h 1
	[[ $stderr == *"empty URL"* ]]
}

@test "tcp-connect --proxy-auth: unreadable, empty, malformed, or without --proxy" {
	run -2 --separate-stderr "$SK" tcp-connect --proxy socks5://h \
	    --proxy-auth "$T/none" h 1
	same "$stderr" "sockkit: tcp-connect: proxy-auth $T/none: No such file or directory"
	: >"$T/empty"
	run -2 --separate-stderr "$SK" tcp-connect --proxy socks5://h \
	    --proxy-auth "$T/empty" h 1
	same "$stderr" "sockkit: tcp-connect: proxy-auth $T/empty: empty file"
	echo nocolon >"$T/bad"
	run -2 --separate-stderr "$SK" tcp-connect --proxy socks5://h \
	    --proxy-auth "$T/bad" h 1
	same "$stderr" "sockkit: tcp-connect: proxy-auth $T/bad: expected USER:PASS"
	run -2 --separate-stderr "$SK" tcp-connect --proxy-auth "$T/bad" h 1
	same "$stderr" "sockkit: tcp-connect: cannot use --proxy-auth without --proxy"
}

@test "tcp-connect --proxy: with -U, with -z, and on a chat room are usage errors" {
	run -2 --separate-stderr "$SK" tcp-connect -U --proxy socks5://h "$T/s"
	same "$stderr" "sockkit: tcp-connect: cannot use --proxy with --unix"
	run -2 --separate-stderr "$SK" tcp-connect -z --proxy socks5://h h 1-2
	same "$stderr" "sockkit: tcp-connect: cannot use --scan with --proxy"
	run -2 --separate-stderr "$SK" chat -l --proxy socks5://h 0
	same "$stderr" "sockkit: chat: cannot use --proxy or --proxy-auth with --listen"
}

@test "chat: the client joins a room through danted" {
	start_danted
	mkfifo "$T/hostin"
	IN=rw:$T/hostin start_server "$T/room" chat -l 127.0.0.1 0
	printf 'hello through socks\n' >"$T/line"
	run -0 --separate-stderr "$SK" chat --nick bob -w 5 \
	    --proxy "socks5://127.0.0.1:$PPORT" 127.0.0.1 "$PORT" <"$T/line"
	wait_grep '<bob> hello through socks' "$T/room"
}

@test "tcp-connect --proxy: ssh ProxyCommand with %h %p through microsocks" {
	need ssh
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")"' "$T/mport"
	start_peer "$T/banner" proxypeer.py banner "SSH-2.0-sockkit_test_banner"
	run --separate-stderr timeout 20 ssh -v -F /dev/null \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 \
	    -o "ProxyCommand=$SK tcp-connect -w 10 --proxy socks5://127.0.0.1:$PPORT %h %p" \
	    -p "$PORT" nobody@127.0.0.1 true
	[[ $status -ne 0 && $status -ne 124 ]]
	[[ $stderr == *"Remote protocol version 2.0, remote software version sockkit_test_banner"* ]]
}

sshd_conf() {
	cat >"$T/sshd_config" <<-EOF
	Port $1
	ListenAddress 127.0.0.1
	HostKey $T/hostkey
	PidFile $T/sshd.pid
	AuthorizedKeysFile $T/authorized_keys
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	EOF
}

# start_sshd: a real sshd on loopback, as the current user, with its
# own host key and config.  As root it needs /run/sshd: if that is
# missing, it gets one in a mount namespace of its own (the machine's
# /run untouched).
start_sshd() {
	[[ -x /usr/sbin/sshd ]] || skip "sshd (openssh-server) is not installed"
	need ssh-keygen
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$T/id"
	cp "$T/id.pub" "$T/authorized_keys"
	if [[ $(id -u) != 0 || -d /run/sshd ]]; then
		start_fixed sshd sshd_conf /usr/sbin/sshd -D -e \
		    -f "$T/sshd_config"
	elif unshare -m true 2>/dev/null; then
		start_fixed sshd sshd_conf unshare -m sh -c \
		    'mount -t tmpfs tmpfs /run && mkdir /run/sshd &&
		    exec /usr/sbin/sshd -D -e -f "$0"' "$T/sshd_config"
	else
		skip "root without /run/sshd or unshare(1) for a private one"
	fi
}

@test "tcp-connect --proxy: a real ssh session through danted as ProxyCommand" {
	need ssh
	start_danted
	dport=$PPORT
	start_sshd
	run -0 --separate-stderr timeout 20 ssh -F /dev/null -i "$T/id" \
	    -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o "ProxyCommand=$SK tcp-connect -w 10 --proxy socks5://127.0.0.1:$dport %h %p" \
	    -p "$PPORT" "$(id -un)@127.0.0.1" \
	    'echo through the proxy; head -c 1048576 /dev/zero | sha256sum'
	same "$output" "through the proxy
$(head -c 1048576 /dev/zero | sha256sum)"
}

@test "tcp-connect --proxy: ssh -D as SOCKS5 and SOCKS4A (by name), half-close passed" {
	need ssh
	start_sshd
	sport=$PPORT
	start_fixed sshd mport_conf sh -c \
	    'exec ssh -N -F /dev/null -i "$1/id" -o IdentitiesOnly=yes \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
	    -D "127.0.0.1:$(cat "$0")" -p "$2" "$(id -un)@127.0.0.1"' \
	    "$T/mport" "$T" "$sport"
	for url in "socks5://127.0.0.1:$PPORT" "socks4a://127.0.0.1:$PPORT"; do
		rm -f "$T/pf"
		bg_run "$DOWN" "$T/srv.got" "$T/srv.err" "$SK" tcp-serve \
		    --port-file "$T/pf" 127.0.0.1 0
		srv=$BG_PID
		wait_file "$T/pf" "$srv"
		run -0 --separate-stderr sk "$T/out" tcp-connect -w 10 \
		    --proxy "$url" localhost "$(cat "$T/pf")" <"$UP"
		expect_exit 0 "$srv" "$T/srv.err"
		same "$(digest "$T/srv.got")" "$(digest "$UP")"
		same "$(digest "$T/out")" "$(digest "$DOWN")"
	done
}

# ======================================================================
# The relay's target through a proxy (tcp-serve --to TARGET --proxy URL)

@test "tcp-serve --to --proxy: a chain, microsocks then tinyproxy, 1 MiB each way; -v logs the pair" {
	need microsocks
	start_tinyproxy
	tport=$PPORT
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")" -u bob -P s3cret' \
	    "$T/mport"
	start_exchange
	start_server "$T/relay" tcp-serve -v --to "127.0.0.1:$BACKEND" \
	    --proxy "socks5://bob:s3cret@127.0.0.1:$PPORT,http://127.0.0.1:$tport" \
	    127.0.0.1 0
	run -0 --separate-stderr sk "$T/out" tcp-connect --no-shutdown -w 10 \
	    127.0.0.1 "$PORT" <"$UP"
	exchange_ok
	wait_grep "1.0 MiB in, 1.0 MiB out" "$T/relay.err"
	! grep -q s3cret "$T/relay.err" || false
}

@test "tcp-serve --to --proxy: danted passes a half-close through the relay" {
	start_danted
	start_server "$T/be" tcp-serve -k --echo 127.0.0.1 0
	local be=$PORT
	start_server "$T/relay" tcp-serve --to "localhost:$be" \
	    --proxy "socks5://127.0.0.1:$PPORT" 127.0.0.1 0
	run -0 --separate-stderr sk "$T/out" tcp-connect -w 10 127.0.0.1 \
	    "$PORT" <"$UP"
	same "$(digest "$T/out")" "$(digest "$UP")"
}

@test "tcp-serve --to --proxy: a refusal is quoted in -v, a silent proxy is bounded by -w, and the client is closed" {
	need microsocks
	start_fixed microsocks mport_conf sh -c \
	    'exec microsocks -i 127.0.0.1 -p "$(cat "$0")" -u bob -P s3cret' \
	    "$T/mport"
	start_server "$T/relay" tcp-serve -v --to 127.0.0.1:9 \
	    --proxy "socks5://bob:wrong@127.0.0.1:$PPORT" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" </dev/null
	[ -z "$output" ]
	wait_grep "target unreachable: through socks5://127.0.0.1:$PPORT: SOCKS5: user/password authentication failed" \
	    "$T/relay.err"
	! grep -q wrong "$T/relay.err" || false
	start_peer "$T/silent" proxypeer.py silent
	start_server "$T/relay2" tcp-serve -v -w 1 --to 127.0.0.1:9 \
	    --proxy "http://127.0.0.1:$PORT" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" </dev/null
	wait_grep "target unreachable: the proxy did not open the tunnel in time" \
	    "$T/relay2.err"
}

@test "tcp-serve --to --proxy: without --to, and to a unix: target, are usage errors" {
	run -2 --separate-stderr "$SK" tcp-serve --proxy socks5://127.0.0.1 0
	same "$stderr" "sockkit: tcp-serve: cannot use --proxy without --to"
	run -2 --separate-stderr "$SK" tcp-serve --to unix:/tmp/x \
	    --proxy socks5://127.0.0.1 0
	same "$stderr" "sockkit: tcp-serve: cannot reach a unix: target through --proxy"
}

@test "tcp-serve --to: a real ssh session and an scp of 1 MiB through the relay" {
	need ssh
	need scp
	start_sshd
	local sport=$PPORT
	start_server "$T/relay" tcp-serve -v --to "127.0.0.1:$sport" 127.0.0.1 0
	local sshopts=(-F /dev/null -i "$T/id" -o IdentitiesOnly=yes
	    -o BatchMode=yes -o StrictHostKeyChecking=no
	    -o UserKnownHostsFile=/dev/null)
	run -0 --separate-stderr timeout 20 ssh "${sshopts[@]}" -p "$PORT" \
	    "$(id -un)@127.0.0.1" 'echo through the relay'
	same "$output" "through the relay"
	# -O: the scp protocol (this sshd has no sftp subsystem).
	run -0 --separate-stderr timeout 20 scp -O "${sshopts[@]}" -P "$PORT" \
	    "$UP" "$(id -un)@127.0.0.1:$T/copied"
	same "$(digest "$T/copied")" "$(digest "$UP")"
	wait_grep "closed by the" "$T/relay.err"
}
