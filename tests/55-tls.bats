#!/usr/bin/env bats
# TLS (SPEC.md, "TLS (--tls)"; issue 12) against real peers: openssl
# s_server and s_client, ncat --ssl, socat OPENSSL, curl, the Python ssl
# peer tests/peers/tlspeer.py, and sockkit itself.  The certificates (a
# test CA, server certificates for 127.0.0.1 and for localhost, a
# wrong-name, an expired and a self-signed one, client certificates) are
# made once per run by tests/peers/tlscerts.sh with the openssl CLI.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	local d=$BATS_FILE_TMPDIR
	sh "$BATS_TEST_DIRNAME/peers/tlscerts.sh" "$d/certs"
	head -c 1M /dev/urandom >"$d/small"
	head -c 1M /dev/urandom >"$d/small2"
	head -c 32M /dev/urandom >"$d/med"
	head -c 32M /dev/urandom >"$d/med2"
	export C=$d/certs SMALL=$d/small SMALL2=$d/small2
	export MED=$d/med MED2=$d/med2
}

setup() {
	T=$BATS_TEST_TMPDIR
	CA=$C/ca.pem
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed"
}

# digest FILE: "SIZE SHA256" of FILE.
digest() {
	local sum
	sum=$(sha256sum <"$1")
	printf '%s %s\n' "$(stat -c %s "$1")" "${sum%% *}"
}

# same_file ACTUAL EXPECTED: the two files have the same size and sha256.
same_file() {
	same "$(digest "$1")" "$(digest "$2")"
}

# runf STATUS OUT ERR CMD...: run CMD with stdout to OUT and stderr to
# ERR (bats' run would keep its stdout); fail, showing ERR, unless it
# exits STATUS.
runf() {
	local want=$1 out=$2 err=$3 rc=0
	shift 3
	"$@" >"$out" 2>"$err" || rc=$?
	if [[ $rc != "$want" ]]; then
		echo "# $1 exited $rc, expected $want" >&2
		sed 's/^/# stderr: /' "$err" >&2
		return 1
	fi
}

# has_line REGEX FILE: FILE has a line matching REGEX (grep -x); if not,
# show FILE.
has_line() {
	grep -qx -- "$1" "$2" && return 0
	printf '# no line /%s/ in:\n' "$1" >&2
	sed 's/^/#   /' "$2" >&2
	return 1
}

# pin_of ERRFILE: the SHA256:<hex> pin a server printed in ERRFILE.
pin_of() {
	grep -o 'SHA256:[0-9a-f]\{64\}' "$1" | head -n 1
}

# cert_opts NAME: --tls-cert and --tls-key of certificate NAME.
cert_opts() {
	CERT_OPTS=(--tls-cert "$C/$1.pem" --tls-key "$C/$1.key")
}

# tls_echo ARGS...: start_server "tcp-serve -k --tls --echo ARGS" (ARGS
# end in ADDRESS 0), stdout to $T/srv, stderr to $T/srv.err.
tls_echo() {
	start_server "$T/srv" tcp-serve -k --tls --echo "$@"
}

# echo_ok ARGS...: 'hello' through "tcp-connect --tls ARGS" comes back
# as it was, exit 0.
echo_ok() {
	run --separate-stderr timeout 10 "$SK" tcp-connect --tls "$@" \
	    <<<hello
	if [[ $status != 0 || $output != hello ]]; then
		printf '# status %s, output %q\n# stderr: %s\n' "$status" \
		    "$output" "$stderr" >&2
		return 1
	fi
}

# ext_listen OUT IN CMD...: start a listener that takes no port 0 (an
# @PORT@ in its arguments becomes a port that was just free), with stdin
# IN (as bg_run), stdout OUT, stderr OUT.err; wait until the port
# listens; if CMD exits first (the port was taken meanwhile), try
# another.  Sets PORT and LPID.
ext_listen() {
	local out=$1 in=$2 try i a
	local -a argv
	shift 2
	for ((try = 0; try < 5; try++)); do
		PORT=$(free_port)
		argv=()
		for a in "$@"; do
			argv+=("${a//@PORT@/$PORT}")
		done
		bg_run "$in" "$out" "$out.err" "${argv[@]}"
		LPID=$BG_PID
		for ((i = 0; i < WAIT_SECS * 50; i++)); do
			running "$LPID" || break
			[[ -n $(ss -Hltn "( sport = :$PORT )") ]] && return 0
			sleep 0.02
		done
		if running "$LPID"; then
			echo "# listener on $PORT not up in time" >&2
			return 1
		fi
		wait "$LPID" 2>/dev/null
		forget "$LPID"
		sed 's/^/# listener: /' "$out.err" >&2
	done
	return 1
}

# s_server OUT IN ARGS...: openssl s_server -quiet (no commands from
# stdin, no chatter on stdout) -naccept 1 on 127.0.0.1, a free port.
s_server() {
	local out=$1 in=$2
	shift 2
	need openssl
	ext_listen "$out" "$in" openssl s_server -quiet -naccept 1 \
	    -accept 127.0.0.1:@PORT@ "$@"
}

# tlspeer_server ARGS...: tlspeer.py server PORTFILE ARGS, started with
# start_role_peer (stdout $T/peer, stderr $T/peer.err); sets $PORT and
# $PEER_PID.
tlspeer_server() {
	start_role_peer "$T/peer" tlspeer.py server "$@"
}

# ======================================================================
# openssl s_server and s_client

@test "tcp-connect --tls --tls-ca: openssl s_server receives the upload whole, both exit 0" {
	mkfifo "$T/fifo"
	# s_server ends the session on our close_notify; its stdin stays
	# open so that it is not what ends it.
	s_server "$T/ss" "rw:$T/fifo" -cert "$C/ip.pem" -key "$C/ip.key"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$SMALL"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/ss.err"
	same_file "$T/ss" "$SMALL"
}

@test "tcp-connect --tls --recv-only: the download from openssl s_server arrives whole, exit 0" {
	mkfifo "$T/fifo"
	exec 5<>"$T/fifo"
	s_server "$T/ss" "$T/fifo" -cert "$C/ip.pem" -key "$C/ip.key"
	bg_run /dev/null "$T/out" "$T/err" "$SK" tcp-connect -v --tls \
	    --recv-only --tls-ca "$CA" 127.0.0.1 "$PORT"
	local pid=$BG_PID
	# s_server's stdin gets its data only after the handshake: with
	# stdin and the socket readable at once, s_server (3.0) sends a
	# record, then blocks in a read of the socket for good.  A second
	# after the data, its stdin's EOF makes it send close_notify.
	wait_grep "TLSv1.3" "$T/err"
	timeout 10 cat "$SMALL" >&5
	sleep 1
	exec 5>&-
	expect_exit 0 "$pid" "$T/err"
	same_file "$T/out" "$SMALL"
	run ! grep -v "^sockkit: tcp-connect: \(connected\|127.0.0.1 port $PORT: TLSv1.3\|sent\)" "$T/err"
	expect_exit 0 "$LPID" "$T/ss.err"
}

@test "tcp-serve --tls --tls-cert: openssl s_client -verify_return_error receives the server's stdin whole, both exit 0" {
	need openssl
	cert_opts ip
	IN=$SMALL start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/cerr" timeout 10 openssl s_client -quiet \
	    -nocommands -CAfile "$CA" -verify_ip 127.0.0.1 \
	    -verify_return_error -connect "127.0.0.1:$PORT" </dev/null
	same_file "$T/out" "$SMALL"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	[ ! -s "$T/srv" ]
	[ ! -s "$T/srv.err" ]
}

@test "tcp-serve --tls --recv-only: the upload of openssl s_client -no_ign_eof arrives whole, both exit 0" {
	need openssl
	cert_opts ip
	start_server "$T/srv" tcp-serve --tls --recv-only "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/cerr" timeout 10 openssl s_client -quiet \
	    -no_ign_eof -nocommands -CAfile "$CA" -verify_return_error \
	    -connect "127.0.0.1:$PORT" <"$SMALL"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$SMALL"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-connect --tls: a TLS 1.2-only openssl s_server is accepted by default, -v says TLSv1.2" {
	mkfifo "$T/fifo"
	s_server "$T/ss" "rw:$T/fifo" -tls1_2 -cert "$C/ip.pem" \
	    -key "$C/ip.key"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -v --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <<<hello
	[[ $stderr == *"127.0.0.1 port $PORT: TLSv1.2, "* ]]
	expect_exit 0 "$LPID" "$T/ss.err"
	same "$(cat "$T/ss")" hello
}

# ======================================================================
# The ephemeral certificate and pins

@test "tcp-serve --tls -q: the ephemeral certificate (ECDSA P-256) has its pin printed before the port file, the SHA-256 of the certificate openssl s_client sees" {
	need openssl
	tls_echo -q 127.0.0.1 0
	local pin
	pin=$(pin_of "$T/srv.err")
	[ -n "$pin" ]
	same "$(cat "$T/srv.err")" "sockkit: tcp-serve: TLS certificate $pin"
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" </dev/null \
	    >"$T/sc" 2>/dev/null || true
	run -0 openssl x509 -in "$T/sc" -noout -fingerprint -sha256
	local fp=${output#*=}
	fp=${fp//:/}
	same "$pin" "SHA256:${fp,,}"
	run -0 openssl x509 -in "$T/sc" -noout -text
	[[ $output == *"ASN1 OID: prime256v1"* ]]
}

@test "tcp-connect --tls: a self-signed (ephemeral) server is refused by default: exit 1, certificate verify failed: self-signed certificate" {
	tls_echo 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"TLS: certificate verify failed: self-signed certificate"* ]]
}

@test "tcp-connect --tls-pin: the pin the server printed is accepted, the echo comes back, exit 0" {
	tls_echo 127.0.0.1 0
	echo_ok --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT"
	[ -z "$stderr" ]
}

@test "tcp-connect --tls-pin: the pin in uppercase hex and in openssl's AB:CD:... form is accepted" {
	tls_echo 127.0.0.1 0
	local pin hex colons
	pin=$(pin_of "$T/srv.err")
	hex=${pin#SHA256:}
	echo_ok --tls-pin "SHA256:${hex^^}" 127.0.0.1 "$PORT"
	colons=$(sed 's/../&:/g; s/:$//' <<<"${hex^^}")
	echo_ok --tls-pin "SHA256:$colons" 127.0.0.1 "$PORT"
	echo_ok --tls-pin "SHA256:${colons,,}" 127.0.0.1 "$PORT"
}

@test "tcp-connect --tls-pin: repeatable, one matching pin among others is enough" {
	tls_echo 127.0.0.1 0
	echo_ok --tls-pin "SHA256:$(printf '%064d' 0)" \
	    --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT"
}

@test "tcp-connect --tls-pin: a wrong pin is refused, exit 1, the message names the peer's real pin in lowercase" {
	tls_echo 127.0.0.1 0
	local pin
	pin=$(pin_of "$T/srv.err")
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-pin "$(cat "$C/self.sha256")" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: pin mismatch: peer is $pin"* ]]
}

@test "tcp-connect --tls-pin: a malformed pin is a usage error, exit 2, nothing connects" {
	tls_echo -v 127.0.0.1 0
	local bad
	for bad in SHA256:abc "SHA256:$(printf '%063dg' 0)" \
	    "MD5:$(printf '%064d' 0)" "SHA256:$(printf '%066d' 0)" \
	    "SHA256:12:34"; do
		run -2 --separate-stderr "$SK" tcp-connect --tls \
		    --tls-pin "$bad" 127.0.0.1 "$PORT" </dev/null
		[[ $stderr == "sockkit: tcp-connect: "*"$bad"* ]]
	done
	run ! grep -q 'connection from' "$T/srv.err"
}

@test "tcp-connect --tls-pin with --tls-ca: the pin no longer replaces the chain (a pinned self-signed server is refused; pin and CA both right is accepted)" {
	cert_opts self
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-pin "$(cat "$C/self.sha256")" --tls-ca "$CA" 127.0.0.1 \
	    "$PORT" <<<hello
	[[ $stderr == *"TLS: certificate verify failed: self-signed certificate"* ]]
	echo_ok --tls-pin "$(cat "$C/self.sha256")" 127.0.0.1 "$PORT"
	cert_opts ip
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	echo_ok --tls-pin "$(cat "$C/ip.sha256")" --tls-ca "$CA" 127.0.0.1 \
	    "$PORT"
}

@test "tcp-connect --tls-insecure: connects to a self-signed server and says so on stderr" {
	tls_echo 127.0.0.1 0
	echo_ok --tls-insecure 127.0.0.1 "$PORT"
	[[ $stderr == "sockkit: tcp-connect: "*"not verifying"*"--tls-insecure"* ]]
}

# ======================================================================
# Names and chains

@test "tcp-connect --tls --tls-ca: a certificate for localhost is accepted with HOST localhost" {
	cert_opts name
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	echo_ok --tls-ca "$CA" localhost "$PORT"
}

@test "tcp-connect --tls --tls-name localhost: a certificate for localhost is accepted at 127.0.0.1" {
	cert_opts name
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	echo_ok --tls-ca "$CA" --tls-name localhost 127.0.0.1 "$PORT"
}

@test "tcp-connect --tls: a certificate for localhost is refused at 127.0.0.1 (an address is checked as an IP SAN): certificate does not match 127.0.0.1" {
	cert_opts name
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: certificate does not match 127.0.0.1"* ]]
}

@test "tcp-connect --tls: a wrong-name certificate is refused: exit 1, certificate does not match localhost" {
	cert_opts wrong
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" localhost "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: certificate does not match localhost"* ]]
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" --tls-name localhost 127.0.0.1 "$PORT" <<<hello
	[[ $stderr == *"TLS: certificate does not match localhost"* ]]
}

@test "tcp-connect --tls: an IP SAN certificate is accepted for 127.0.0.1 (from openssl s_server) and for ::1" {
	mkfifo "$T/fifo"
	s_server "$T/ss" "rw:$T/fifo" -cert "$C/ip.pem" -key "$C/ip.key"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <<<over-ip
	expect_exit 0 "$LPID" "$T/ss.err"
	same "$(cat "$T/ss")" over-ip
	have_ipv6 || skip "no IPv6 loopback"
	cert_opts ip
	tls_echo "${CERT_OPTS[@]}" ::1 0
	echo_ok --tls-ca "$CA" ::1 "$PORT"
}

@test "tcp-connect --tls: an expired certificate is refused: exit 1, certificate has expired" {
	cert_opts expired
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" localhost "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: certificate verify failed: certificate has expired"* ]]
}

@test "tcp-connect --tls: without --tls-ca the system store is used, so the test CA's certificate is refused" {
	cert_opts ip
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: certificate verify failed: unable to get local issuer certificate"* ]]
}

@test "tcp-connect --tls -v: protocol, cipher, peer subject and pin" {
	cert_opts ip
	tls_echo "${CERT_OPTS[@]}" 127.0.0.1 0
	echo_ok -v --tls-ca "$CA" 127.0.0.1 "$PORT"
	local re
	re="127\.0\.0\.1 port $PORT: TLSv1\.3, TLS_[A-Z0-9_]+, peer [^ ]*CN ?= ?127\.0\.0\.1 $(cat "$C/ip.sha256")"
	[[ $stderr =~ $re ]]
}

@test "tcp-connect --tls -v says kernel TLS exactly when the kernel offers the tls ULP" {
	tls_echo 127.0.0.1 0
	echo_ok -v --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT"
	# Read after the connection: a setsockopt(TCP_ULP) that loaded the
	# tls module has added it to the list.
	if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
		[[ $stderr == *"kernel TLS"* ]]
	else
		[[ $stderr != *"kernel TLS"* ]]
		[[ $stderr == *"TLSv1.3, "* ]]
	fi
}

@test "tcp-serve --tls-cert: the key may be in the certificate file (--tls-key's default)" {
	cat "$C/name.pem" "$C/name.key" >"$T/both.pem"
	tls_echo --tls-cert "$T/both.pem" 127.0.0.1 0
	echo_ok --tls-ca "$CA" localhost "$PORT"
}

# ======================================================================
# SNI (Python ssl records what the client sent)

@test "tcp-connect --tls: SNI is localhost for HOST localhost, none for 127.0.0.1, the --tls-name for --tls-name" {
	local host sni
	for host in localhost 127.0.0.1 name; do
		rm -f "$T/sni" "$T/got"
		tlspeer_server --cert "$C/self.pem" --key "$C/self.key" \
		    --sni "$T/sni" recv:"$T/got" notify drain
		if [[ $host == name ]]; then
			run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
			    --tls --tls-insecure --tls-name localhost 127.0.0.1 \
			    "$PORT" <<<hi
			sni=localhost
		else
			run -0 --separate-stderr timeout 10 "$SK" tcp-connect \
			    --tls --tls-insecure "$host" "$PORT" <<<hi
			sni=$host
			[[ $host == 127.0.0.1 ]] && sni=none
		fi
		expect_exit 0 "$PEER_PID" "$T/peer.err"
		same "$(cat "$T/sni")" "$sni"
	done
}

# ======================================================================
# End of stream over TLS, exactly (Python ssl peers)

@test "tcp-connect --tls: stdin EOF sends close_notify after every byte; the server's data after it (TLS 1.3 half-close) arrives whole, exit 0" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" \
	    --result "$T/hs" recv:"$T/got" send:"$SMALL2" notify drain
	runf 0 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$SMALL"
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(cat "$T/hs")" "handshake ok TLSv1.3"
	same "$(cat "$T/got")" "$(digest "$SMALL") close_notify"
	same_file "$T/out" "$SMALL2"
	[ ! -s "$T/err" ]
}

@test "tcp-connect --tls: a server that closes TCP without close_notify: its bytes are written, then exit 1, without close_notify after N bytes" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" \
	    send:"$SMALL2" fin drain
	runf 1 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" </dev/null
	same_file "$T/out" "$SMALL2"
	same "$(cat "$T/err")" "sockkit: tcp-connect: 127.0.0.1 port $PORT: TLS: connection closed without close_notify after $(stat -c %s "$SMALL2") bytes"
}

@test "tcp-connect --tls --recv-only: a server that closes TCP without close_notify: its bytes are written, then exit 1, without close_notify after N bytes" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" \
	    send:"$SMALL2" fin drain
	runf 1 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --recv-only --tls-ca "$CA" 127.0.0.1 "$PORT" </dev/null
	same_file "$T/out" "$SMALL2"
	same "$(cat "$T/err")" "sockkit: tcp-connect: 127.0.0.1 port $PORT: TLS: connection closed without close_notify after $(stat -c %s "$SMALL2") bytes"
}

@test "tcp-connect --tls --recv-only: a server that closes right after its close_notify (our close_notify meets a reset) is still exit 0, the data whole" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" \
	    send:"$SMALL2" notify
	runf 0 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --recv-only --tls-ca "$CA" 127.0.0.1 "$PORT" </dev/null
	same_file "$T/out" "$SMALL2"
	[ ! -s "$T/err" ]
}

@test "tcp-connect --tls: the server's close_notify ends its data; with stdin /dev/null both ends close cleanly, exit 0" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" \
	    send:"$SMALL2" recv:"$T/got" notify drain
	runf 0 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" </dev/null
	expect_exit 0 "$PEER_PID" "$T/peer.err"
	same "$(cat "$T/got")" "0 $(sha256sum </dev/null | cut -d' ' -f1) close_notify"
	same_file "$T/out" "$SMALL2"
	[ ! -s "$T/err" ]
}

@test "tcp-serve --tls: stdin EOF sends close_notify after every byte; the client's data after it arrives whole, both exit 0" {
	IN=$SMALL start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" recv:"$T/got" send:"$SMALL2" notify drain
	same "$(cat "$T/got")" "$(digest "$SMALL") close_notify"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$SMALL2"
	same "$(cat "$T/srv.err")" "sockkit: tcp-serve: TLS certificate $(pin_of "$T/srv.err")"
}

@test "tcp-serve --tls: a client that closes TCP without close_notify: its bytes are written, then exit 1, without close_notify after N bytes" {
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" send:"$SMALL2" fin drain
	expect_exit 1 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$SMALL2"
	has_line "sockkit: tcp-serve: 127.0.0.1 port [0-9]*: TLS: connection closed without close_notify after $(stat -c %s "$SMALL2") bytes" "$T/srv.err"
}

@test "tcp-serve --tls issues no TLS 1.3 session tickets (a Python server's would be seen)" {
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" recv:"$T/got" ticket:"$T/ticket" notify fin drain
	same "$(cat "$T/ticket")" "ticket no"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	# The check itself sees tickets where there are some.
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" --tickets 2 \
	    notify drain
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" recv:"$T/got" ticket:"$T/ticket" notify fin drain
	same "$(cat "$T/ticket")" "ticket yes"
}

@test "tcp-connect --tls -w 1: a server that goes quiet after the handshake: exit 1, timed out" {
	tlspeer_server --cert "$C/ip.pem" --key "$C/ip.key" sleep:5
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls -w 1 \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" < <(echo hi; sleep 4)
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"timed out"* ]]
}

# ======================================================================
# Mutual TLS

@test "tcp-serve --tls-verify-client: a client with a CA-signed certificate is accepted (sockkit and openssl s_client), -v names it" {
	cert_opts ip
	tls_echo -v "${CERT_OPTS[@]}" --tls-ca "$CA" --tls-verify-client \
	    127.0.0.1 0
	echo_ok --tls-ca "$CA" --tls-cert "$C/client.pem" \
	    --tls-key "$C/client.key" 127.0.0.1 "$PORT"
	wait_grep "peer [^ ]*CN *= *sockkit-client" "$T/srv.err"
	need openssl
	run -0 --separate-stderr timeout 10 openssl s_client -quiet \
	    -no_ign_eof -nocommands -CAfile "$CA" -verify_return_error \
	    -cert "$C/client.pem" -key "$C/client.key" \
	    -connect "127.0.0.1:$PORT" < <(echo from-s_client; sleep 1)
	same "$output" from-s_client
}

@test "tcp-serve --tls-verify-client: a client without a certificate is refused: the server logs it, the client exits 1" {
	cert_opts ip
	tls_echo -v "${CERT_OPTS[@]}" --tls-ca "$CA" --tls-verify-client \
	    127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"TLS: "* ]]
	wait_grep "TLS: .*certificate" "$T/srv.err"
	# ... and the server serves the next client.
	echo_ok --tls-ca "$CA" --tls-cert "$C/client.pem" \
	    --tls-key "$C/client.key" 127.0.0.1 "$PORT"
}

@test "tcp-serve --tls-verify-client: a client certificate from another CA is refused, the client exits 1" {
	cert_opts ip
	tls_echo -v "${CERT_OPTS[@]}" --tls-ca "$CA" --tls-verify-client \
	    127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" --tls-cert "$C/stranger.pem" \
	    --tls-key "$C/stranger.key" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"TLS: "* ]]
	wait_grep "TLS: .*certificate" "$T/srv.err"
}

@test "tcp-serve --tls-verify-client without --tls-ca is a usage error: exit 2" {
	run -2 --separate-stderr "$SK" tcp-serve --tls --tls-verify-client \
	    127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"--tls-verify-client"*"--tls-ca"* ]]
}

# ======================================================================
# --tls-min

@test "tcp-serve --tls-min 1.3 refuses openssl s_client -tls1_2 and accepts -tls1_3" {
	need openssl
	tls_echo -v --tls-min 1.3 127.0.0.1 0
	run -1 --separate-stderr timeout 10 openssl s_client -quiet \
	    -nocommands -tls1_2 -connect "127.0.0.1:$PORT" </dev/null
	[ -z "$output" ]
	[[ $stderr == *"protocol version"* ]]
	run -0 --separate-stderr timeout 10 openssl s_client -quiet \
	    -no_ign_eof -nocommands -tls1_3 -connect "127.0.0.1:$PORT" \
	    < <(echo thirteen; sleep 1)
	same "$output" thirteen
}

@test "tcp-connect --tls-min 1.3 refuses openssl s_server -tls1_2: exit 1" {
	mkfifo "$T/fifo"
	s_server "$T/ss" "rw:$T/fifo" -tls1_2 -cert "$C/ip.pem" \
	    -key "$C/ip.key"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-min 1.3 --tls-ca "$CA" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: 127.0.0.1 port $PORT: TLS: "* ]]
	[ ! -s "$T/ss" ]
}

@test "--tls-min other than 1.2 or 1.3 is a usage error: exit 2" {
	run -2 --separate-stderr "$SK" tcp-connect --tls --tls-min 1.1 \
	    127.0.0.1 1
	[[ $stderr == "sockkit: tcp-connect: "*"1.1"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --tls --tls-min 1.4 \
	    127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"1.4"* ]]
}

# ======================================================================
# ALPN

@test "tcp-serve --tls-alpn h2,http/1.1: openssl s_client -alpn http/1.1 negotiates http/1.1" {
	need openssl
	tls_echo --tls-alpn h2,http/1.1 127.0.0.1 0
	run -0 --separate-stderr timeout 10 openssl s_client -nocommands \
	    -alpn http/1.1 -connect "127.0.0.1:$PORT" \
	    < <(echo alpn-data; sleep 1)
	[[ $output == *"ALPN protocol: http/1.1"* ]]
	[[ $output == *alpn-data* ]]
}

@test "tcp-serve --tls-alpn h2,http/1.1: a client offering only foo is refused with no_application_protocol" {
	need openssl
	tls_echo -v --tls-alpn h2,http/1.1 127.0.0.1 0
	run -1 --separate-stderr timeout 10 openssl s_client -quiet \
	    -nocommands -alpn foo -connect "127.0.0.1:$PORT" </dev/null
	[[ $stderr == *"no application protocol"* ]]
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-insecure --tls-alpn foo 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"TLS: "*"no application protocol"* ]]
	wait_grep "no application protocol" "$T/srv.err"
}

@test "tcp-connect --tls-alpn: openssl s_server -alpn picks from the offered list, -v says which" {
	mkfifo "$T/fifo"
	s_server "$T/ss" "rw:$T/fifo" -alpn http/1.1 -cert "$C/ip.pem" \
	    -key "$C/ip.key"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -v --tls \
	    --tls-alpn h2,http/1.1 --tls-ca "$CA" 127.0.0.1 "$PORT" <<<hello
	[[ $stderr == *"ALPN http/1.1"* ]]
}

@test "--tls-alpn with an empty name or a name over 255 bytes is a usage error: exit 2" {
	run -2 --separate-stderr "$SK" tcp-connect --tls --tls-alpn h2,,x \
	    127.0.0.1 1
	[[ $stderr == "sockkit: tcp-connect: "*"h2,,x"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --tls \
	    --tls-alpn "$(printf 'a%.0s' {1..256})" 127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "* ]]
}

# ======================================================================
# ncat --ssl

@test "tcp-connect --tls: ncat --ssl -l (stdin kept open) receives the upload whole, both exit 0" {
	need ncat
	mkfifo "$T/fifo"
	ext_listen "$T/nc" "rw:$T/fifo" ncat --ssl --ssl-cert "$C/ip.pem" \
	    --ssl-key "$C/ip.key" -l 127.0.0.1 @PORT@
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$SMALL"
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/nc.err"
	same_file "$T/nc" "$SMALL"
}

@test "tcp-connect --tls --recv-only: ncat --ssl -l's bare FIN after its data (no close_notify) is exit 1 with the byte count, the data written whole" {
	need ncat
	ext_listen "$T/nc" "$SMALL" ncat --ssl --ssl-cert "$C/ip.pem" \
	    --ssl-key "$C/ip.key" -l 127.0.0.1 @PORT@
	runf 1 "$T/out" "$T/err" timeout 10 "$SK" tcp-connect --tls \
	    --recv-only --tls-ca "$CA" 127.0.0.1 "$PORT"
	same_file "$T/out" "$SMALL"
	same "$(cat "$T/err")" "sockkit: tcp-connect: 127.0.0.1 port $PORT: TLS: connection closed without close_notify after $(stat -c %s "$SMALL") bytes"
}

@test "tcp-serve --tls: ncat --ssl's upload arrives whole; ncat's bare-FIN half-close is exit 1 with the byte count" {
	need ncat
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 10 ncat --ssl 127.0.0.1 "$PORT" <"$SMALL"
	expect_exit 1 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$SMALL"
	has_line "sockkit: tcp-serve: 127.0.0.1 port [0-9]*: TLS: connection closed without close_notify after $(stat -c %s "$SMALL") bytes" "$T/srv.err"
}

@test "tcp-serve --tls: ncat --ssl --recv-only receives the server's stdin whole, both exit 0" {
	need ncat
	cert_opts ip
	IN=$SMALL start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 10 ncat --ssl --recv-only 127.0.0.1 \
	    "$PORT" </dev/null
	same_file "$T/out" "$SMALL"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-serve --tls: ncat --ssl-verify --ssl-trustfile verifies the server's certificate and receives its data" {
	need ncat
	cert_opts ip
	IN=$SMALL start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 10 ncat --ssl --ssl-verify \
	    --ssl-trustfile "$CA" --recv-only 127.0.0.1 "$PORT" </dev/null
	same_file "$T/out" "$SMALL"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

# ======================================================================
# socat OPENSSL

@test "tcp-connect --tls: socat -u OPENSSL-LISTEN (cert, verify=0) receives the upload whole (sha256), both exit 0" {
	need socat
	ext_listen "$T/so" /dev/null socat -u \
	    "OPENSSL-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,cert=$C/ip.pem,key=$C/ip.key,verify=0" \
	    STDOUT
	run -0 --separate-stderr timeout 20 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$MED"
	[ -z "$stderr" ]
	expect_exit 0 "$LPID" "$T/so.err"
	same_file "$T/so" "$MED"
}

@test "tcp-connect --tls --recv-only: the download from socat -u FILE OPENSSL-LISTEN arrives whole (sha256), both exit 0" {
	need socat
	ext_listen "$T/so" /dev/null socat -u "FILE:$MED" \
	    "OPENSSL-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,cert=$C/ip.pem,key=$C/ip.key,verify=0"
	runf 0 "$T/out" "$T/err" timeout 20 "$SK" tcp-connect --tls \
	    --recv-only --tls-ca "$CA" 127.0.0.1 "$PORT"
	[ ! -s "$T/err" ]
	expect_exit 0 "$LPID" "$T/so.err"
	same_file "$T/out" "$MED"
}

@test "tcp-serve --tls: socat -u OPENSSL (cafile) receives the server's stdin whole (sha256), both exit 0" {
	need socat
	cert_opts ip
	IN=$MED start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 20 socat -u \
	    "OPENSSL:127.0.0.1:$PORT,cafile=$CA" STDOUT
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/out" "$MED"
	[ ! -s "$T/srv.err" ]
}

@test "tcp-serve --tls: the upload of socat -u FILE OPENSSL (verify=0), which closes right after its close_notify, arrives whole (sha256), both exit 0" {
	need socat
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 20 socat -u "FILE:$MED" \
	    "OPENSSL:127.0.0.1:$PORT,verify=0"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$MED"
}

# ======================================================================
# curl

@test "tcp-serve -k --tls --sh-exec: curl --cacert gets the canned HTTP response, exit 0, twice" {
	need curl
	cert_opts name
	start_server "$T/srv" tcp-serve -k --tls "${CERT_OPTS[@]}" \
	    --sh-exec 'printf "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"' \
	    127.0.0.1 0
	local i
	for i in 1 2; do
		run -0 --separate-stderr timeout 10 curl -sS --cacert "$CA" \
		    --resolve "localhost:$PORT:127.0.0.1" \
		    "https://localhost:$PORT/"
		same "$output" hello
		[ -z "$stderr" ]
	done
}

@test "tcp-serve --tls --exec (one connection): curl --cacert gets the program's response, both exit 0" {
	need curl
	cert_opts ip
	printf '#!/bin/sh\nprintf "HTTP/1.0 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhello"\n' \
	    >"$T/http"
	chmod +x "$T/http"
	start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    --exec "$T/http" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 curl -sS --cacert "$CA" \
	    "https://127.0.0.1:$PORT/"
	same "$output" hello
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

# ======================================================================
# 32 MiB, sockkit to sockkit

@test "32 MiB: tcp-connect --tls to a tcp-serve --tls with stdin /dev/null arrives whole (sha256), both exit 0" {
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 --separate-stderr timeout 30 "$SK" tcp-connect --tls \
	    --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT" <"$MED"
	[ -z "$output" ]
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$MED"
}

@test "32 MiB: tcp-serve --tls to a tcp-connect --tls with stdin /dev/null arrives whole (sha256), both exit 0" {
	IN=$MED start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 30 "$SK" tcp-connect --tls \
	    --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT" \
	    </dev/null
	[ ! -s "$T/err" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/out" "$MED"
	[ ! -s "$T/srv" ]
}

@test "32 MiB each way at once between tcp-connect --tls and tcp-serve --tls (sha256), both exit 0" {
	IN=$MED2 start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 30 "$SK" tcp-connect --tls \
	    --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT" \
	    <"$MED"
	[ ! -s "$T/err" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err" 30
	same_file "$T/srv" "$MED"
	same_file "$T/out" "$MED2"
}

@test "32 MiB: a client that exits right after its upload (--send-only, and < file) leaves all bytes with the server, 5 runs each" {
	local i mode
	for mode in --send-only plain; do
		for i in 1 2 3 4 5; do
			start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
			local args=(--tls --tls-pin "$(pin_of "$T/srv.err")")
			[[ $mode == --send-only ]] && args+=(--send-only)
			run -0 --separate-stderr timeout 30 "$SK" tcp-connect \
			    "${args[@]}" 127.0.0.1 "$PORT" <"$MED"
			[ -z "$stderr" ]
			expect_exit 0 "$SERVER_PID" "$T/srv.err" 20
			same_file "$T/srv" "$MED" || {
				echo "# $mode run $i" >&2
				false
			}
		done
	done
}

# ======================================================================
# Server robustness: handshakes in the loop, bounded by -w

@test "tcp-serve -k --tls --echo -w 2: a client that never sends a ClientHello does not block 50 TLS clients and is dropped after -w" {
	tls_echo -v -w 2 127.0.0.1 0
	local pin
	pin=$(pin_of "$T/srv.err")
	bg_run /dev/null "$T/silent.out" "$T/silent.err" "$PYTHON" \
	    "$PEERS/tlspeer.py" raw 127.0.0.1 "$PORT" "$T/silent"
	local silent=$BG_PID
	wait_grep "connection from" "$T/srv.err"
	run -0 timeout 20 bash -c '
		for i in $(seq 1 50); do
			echo "client $i" | "$SK" tcp-connect --tls --tls-pin "$3" \
			    127.0.0.1 "$1" >"$2/echo.$i" 2>"$2/echo.$i.err" &
		done
		wait' _ "$PORT" "$T" "$pin"
	# All 50 were served while the silent one still waited.
	running "$silent"
	local i
	for i in $(seq 1 50); do
		same "$(cat "$T/echo.$i")" "client $i"
		[ ! -s "$T/echo.$i.err" ]
	done
	expect_exit 0 "$silent" "$T/silent.err"
	local how secs n
	read -r how secs n <"$T/silent"
	[[ $how == eof || $how == reset ]]
	[ "$n" -eq 0 ]
	echo "# silent client dropped after $secs s" >&3
	awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s < 6) }'
	grep -q "TLS handshake timed out" "$T/srv.err"
}

@test "tcp-serve -k --tls --echo: garbage instead of a ClientHello (an HTTP request from nc, a bogus handshake record) is closed at once; the next TLS client is served" {
	need nc
	tls_echo -v 127.0.0.1 0
	run -0 timeout 5 bash -c \
	    'printf "GET / HTTP/1.0\r\n\r\n" | nc 127.0.0.1 "$1"' _ "$PORT"
	[[ $output != *HTTP* ]]
	"$PYTHON" "$PEERS/tlspeer.py" raw 127.0.0.1 "$PORT" "$T/garbage" \
	    '\x16\x03\x01\x00\x05hello'
	local how secs n
	read -r how secs n <"$T/garbage"
	[[ $how == eof || $how == reset ]]
	awk -v s="$secs" 'BEGIN { exit !(s < 5) }'
	echo_ok --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 "$PORT"
	running "$SERVER_PID"
}

@test "tcp-serve --tls (one connection): garbage instead of a ClientHello: exit 1 with a TLS message" {
	need nc
	start_server "$T/srv" tcp-serve --tls 127.0.0.1 0
	run -0 timeout 5 bash -c \
	    'printf "GET / HTTP/1.0\r\n\r\n" | nc 127.0.0.1 "$1"' _ "$PORT"
	expect_exit 1 "$SERVER_PID" "$T/srv.err"
	grep -q "^sockkit: tcp-serve: .*TLS: " "$T/srv.err"
	[ ! -s "$T/srv" ]
}

@test "tcp-connect --tls to a plain TCP server that answers with a non-TLS banner: exit 1 with a TLS message at once" {
	start_peer "$T/peer" server.py record "$T/rec" $'SSH-2.0-OpenSSH_9.2\r\n'
	run -1 --separate-stderr timeout 5 "$SK" tcp-connect --tls -w 8 \
	    127.0.0.1 "$PORT" </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: 127.0.0.1 port $PORT: TLS: "* ]]
}

@test "tcp-connect --tls -w 1 to a server that never answers the ClientHello: exit 1, timed out" {
	start_peer "$T/peer" server.py hold
	run -1 --separate-stderr timeout 5 "$SK" tcp-connect --tls -w 1 \
	    127.0.0.1 "$PORT" < <(sleep 4)
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*"timed out"* ]]
}

# ======================================================================
# --frame, --auth-key, chat and --exec inside TLS

@test "--frame line inside TLS: every line arrives whole both ways between tcp-serve and tcp-connect" {
	base64 -w 100 "$SMALL" >"$T/lines1"
	base64 -w 77 "$SMALL2" >"$T/lines2"
	IN=$T/lines2 start_server "$T/srv" tcp-serve --tls --frame line \
	    127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 20 "$SK" tcp-connect --tls \
	    --frame line --tls-pin "$(pin_of "$T/srv.err")" 127.0.0.1 \
	    "$PORT" <"$T/lines1"
	[ ! -s "$T/err" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
	same_file "$T/srv" "$T/lines1"
	same_file "$T/out" "$T/lines2"
}

@test "--frame len32 inside TLS: a Python TLS client reads the 4-byte length and the payload inside the TLS stream" {
	printf 'first\nsecond\n' >"$T/lines"
	IN=$T/lines start_server "$T/srv" tcp-serve --tls --frame len32 \
	    127.0.0.1 0
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" readn:19:"$T/frames" recv:"$T/rest" notify drain
	same "$(od -An -c "$T/frames" | tr -s ' ')" \
	    "$(printf '\0\0\0\005first\0\0\0\006second' | od -An -c | tr -s ' ')"
	same "$(cat "$T/rest")" "0 $(sha256sum </dev/null | cut -d' ' -f1) close_notify"
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

@test "--auth-key inside TLS: the same key passes (exit 0, data through); the handshake's SKAUTH1 greeting is inside TLS; another key fails, exit 1" {
	printf 'sekrit\n' >"$T/key"
	printf 'other\n' >"$T/key2"
	tls_echo --auth-key "$T/key" 127.0.0.1 0
	local pin
	pin=$(pin_of "$T/srv.err")
	echo_ok --auth-key "$T/key" --tls-pin "$pin" 127.0.0.1 "$PORT"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --auth-key "$T/key2" --tls-pin "$pin" 127.0.0.1 "$PORT" <<<hello
	[ -z "$output" ]
	[[ $stderr == *"authentication failed"* ]]
	run -0 timeout 10 "$PYTHON" "$PEERS/tlspeer.py" client 127.0.0.1 \
	    "$PORT" readn:8:"$T/greeting"
	same "$(cat "$T/greeting")" SKAUTH1
}

@test "chat -l --tls: two chat --tls clients (line filters, pinned) exchange a line" {
	mkfifo "$T/hin" "$T/ain" "$T/bin"
	IN=rw:$T/hin start_server "$T/host" chat -l --tls 127.0.0.1 0
	local pin
	pin=$(pin_of "$T/host.err")
	[ -n "$pin" ]
	bg_run "rw:$T/ain" "$T/aout" "$T/aerr" "$SK" chat --tls \
	    --tls-pin "$pin" --nick alice 127.0.0.1 "$PORT"
	local a=$BG_PID
	wait_grep "is now known as alice" "$T/host"
	bg_run "rw:$T/bin" "$T/bout" "$T/berr" "$SK" chat --tls \
	    --tls-pin "$pin" --nick bob 127.0.0.1 "$PORT"
	local b=$BG_PID
	wait_grep "is now known as bob" "$T/aout"
	printf 'hello bob\n' >"$T/ain"
	wait_grep "<alice> hello bob" "$T/bout"
	printf 'hi alice\n' >"$T/bin"
	wait_grep "<bob> hi alice" "$T/aout"
	wait_grep "<bob> hi alice" "$T/host"
	printf '/quit\n' >"$T/ain"
	printf '/quit\n' >"$T/bin"
	expect_exit 0 "$a" "$T/aerr"
	expect_exit 0 "$b" "$T/berr"
}

@test "chat -l --tls: openssl s_client joins the room, its line reaches the host" {
	need openssl
	mkfifo "$T/hin"
	IN=rw:$T/hin start_server "$T/host" chat -l --tls 127.0.0.1 0
	run -0 --separate-stderr timeout 10 openssl s_client -quiet \
	    -no_ign_eof -nocommands -connect "127.0.0.1:$PORT" \
	    < <(printf '/nick ossl\nhello over tls\n'; sleep 1;
		printf '/quit\n'; sleep 1)
	[[ $output == *"* welcome"* ]]
	wait_grep "<ossl> hello over tls" "$T/host"
}

@test "chat --tls --tls-ca: a room with a CA-signed certificate for localhost is joined by name; -v says TLS" {
	mkfifo "$T/hin"
	cert_opts name
	IN=rw:$T/hin start_server "$T/host" chat -l --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" chat -v --tls \
	    --tls-ca "$CA" --nick carol localhost "$PORT" \
	    < <(printf 'hi from carol\n/quit\n')
	[[ $stderr == *"TLSv1.3, "*"peer "*"CN"*"localhost"* ]]
	wait_grep "<carol> hi from carol" "$T/host"
}

@test "chat --tls: a self-signed room is refused by default, exit 1 with the reason" {
	mkfifo "$T/hin"
	IN=rw:$T/hin start_server "$T/host" chat -l --tls 127.0.0.1 0
	run -1 --separate-stderr timeout 10 "$SK" chat --tls --nick x \
	    127.0.0.1 "$PORT" </dev/null
	[[ $stderr == "sockkit: chat: "*"certificate verify failed: self-signed certificate"* ]]
}

@test "tcp-serve --tls --exec: the program gets the client's data and its output reaches a sockkit client, both exit 0" {
	cert_opts ip
	start_server "$T/srv" tcp-serve --tls "${CERT_OPTS[@]}" \
	    --sh-exec 'sha256sum | cut -d" " -f1' 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$SMALL"
	same "$output" "$(sha256sum <"$SMALL" | cut -d' ' -f1)"
	[ -z "$stderr" ]
	expect_exit 0 "$SERVER_PID" "$T/srv.err"
}

@test "tcp-serve -k --tls --exec: several sockkit clients at once each get their program's answer" {
	start_server "$T/srv" tcp-serve -k --tls --sh-exec 'wc -c' 127.0.0.1 0
	run -0 timeout 20 bash -c '
		for i in 1 2 3 4 5; do
			head -c $((i * 1000)) "$4" | "$SK" tcp-connect --tls \
			    --tls-pin "$3" 127.0.0.1 "$1" >"$2/wc.$i" &
		done
		wait' _ "$PORT" "$T" "$(pin_of "$T/srv.err")" "$SMALL"
	local i
	for i in 1 2 3 4 5; do
		same "$(tr -d ' ' <"$T/wc.$i")" "$((i * 1000))"
	done
}

@test "tcp-serve -U --tls and tcp-connect -U --tls --tls-pin: a file arrives whole over TLS on a Unix socket; without a name, pin or --tls-insecure it is a usage error" {
	bg_run /dev/null "$T/out" "$T/srv.err" "$SK" tcp-serve -U --tls \
	    "$T/sock"
	local spid=$BG_PID
	wait_socket "$T/sock" "$spid"
	wait_grep "TLS certificate SHA256:" "$T/srv.err"
	run -2 --separate-stderr "$SK" tcp-connect -U --tls "$T/sock" \
	    </dev/null
	[[ $stderr == "sockkit: tcp-connect: "*"--tls-pin"* ]]
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect -U --tls \
	    --tls-pin "$(pin_of "$T/srv.err")" "$T/sock" <"$SMALL"
	[ -z "$stderr" ]
	expect_exit 0 "$spid" "$T/srv.err"
	same_file "$T/out" "$SMALL"
}

# ======================================================================
# Usage and file errors

@test "--tls-pin (and the other --tls-* options) without --tls is a usage error: exit 2" {
	run -2 --separate-stderr "$SK" tcp-connect \
	    --tls-pin "SHA256:$(printf '%064d' 0)" 127.0.0.1 1
	[[ $stderr == "sockkit: tcp-connect: "*"--tls"* ]]
	run -2 --separate-stderr "$SK" tcp-serve --tls-cert "$C/ip.pem" \
	    127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"--tls"* ]]
}

@test "--tls-insecure and --tls-name on tcp-serve, --tls-verify-client on tcp-connect: usage errors, exit 2, one clean message" {
	run -2 --separate-stderr "$SK" tcp-serve --tls --tls-insecure \
	    127.0.0.1 0
	[[ $stderr =~ ^sockkit:\ tcp-serve:\ [^:]*--tls-insecure ]]
	run -2 --separate-stderr "$SK" tcp-serve --tls --tls-name x \
	    127.0.0.1 0
	[[ $stderr =~ ^sockkit:\ tcp-serve:\ [^:]*--tls-name ]]
	run -2 --separate-stderr "$SK" tcp-connect --tls --tls-verify-client \
	    --tls-ca "$CA" 127.0.0.1 1
	[[ $stderr =~ ^sockkit:\ tcp-connect:\ [^:]*--tls-verify-client ]]
}

@test "tcp-serve --tls-cert: a missing file is exit 1 naming the file and the reason" {
	run -1 --separate-stderr "$SK" tcp-serve --tls \
	    --tls-cert "$T/nonexistent.pem" 127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"$T/nonexistent.pem"* ]]
	[[ $stderr == *"No such file or directory"* ]]
}

@test "tcp-serve --tls-cert: an unreadable or non-PEM file, or a key that does not match, is exit 1 naming the file" {
	printf 'not a certificate\n' >"$T/junk.pem"
	run -1 --separate-stderr "$SK" tcp-serve --tls --tls-cert "$T/junk.pem" \
	    127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"$T/junk.pem"* ]]
	run -1 --separate-stderr "$SK" tcp-serve --tls \
	    --tls-cert "$C/name.pem" --tls-key "$C/ip.key" 127.0.0.1 0
	[[ $stderr == "sockkit: tcp-serve: "*"$C/ip.key"* ]]
	if [[ $(id -u) != 0 ]]; then
		cp "$C/ip.pem" "$T/locked.pem"
		chmod 000 "$T/locked.pem"
		run -1 --separate-stderr "$SK" tcp-serve --tls \
		    --tls-cert "$T/locked.pem" 127.0.0.1 0
		[[ $stderr == "sockkit: tcp-serve: "*"$T/locked.pem"* ]]
	fi
}

@test "tcp-connect --tls-ca: a missing CA file is exit 1 naming the file" {
	run -1 --separate-stderr "$SK" tcp-connect --tls \
	    --tls-ca "$T/nonexistent-ca.pem" 127.0.0.1 1
	[[ $stderr == "sockkit: tcp-connect: "*"$T/nonexistent-ca.pem"* ]]
}

@test "tcp-connect --help lists the --tls options" {
	run -0 "$SK" tcp-connect --help
	local o
	for o in --tls --tls-cert --tls-key --tls-ca --tls-name --tls-pin \
	    --tls-insecure --tls-alpn --tls-min; do
		[[ $output == *"  $o "* ]] || {
			echo "# $o missing" >&2
			false
		}
	done
}

# ======================================================================
# The relay: TLS termination (--tls) and origination (--to-tls)

@test "relay --tls: clients speak TLS to the relay, the target plain; 32 MiB each way (sha256), -v logs the pair" {
	start_server "$T/be" tcp-serve -k --echo 127.0.0.1 0
	local be=$PORT
	cert_opts ip
	start_server "$T/relay" tcp-serve -v --tls "${CERT_OPTS[@]}" \
	    --to "127.0.0.1:$be" 127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 30 "$SK" tcp-connect --tls \
	    --tls-ca "$CA" 127.0.0.1 "$PORT" <"$MED"
	[ ! -s "$T/err" ]
	same_file "$T/out" "$MED"
	wait_grep 'closed by the client' "$T/relay.err"
	grep -q '32.0 MiB in, 32.0 MiB out' "$T/relay.err"
}

@test "relay --to-tls: a plain client reaches a TLS target verified by --to-tls-ca (SNI and name from TARGET)" {
	cert_opts name
	start_server "$T/be" tcp-serve -k --echo --tls "${CERT_OPTS[@]}" \
	    127.0.0.1 0
	local be=$PORT
	start_server "$T/relay" tcp-serve --to "localhost:$be" -4 --to-tls \
	    --to-tls-ca "$CA" 127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 30 "$SK" tcp-connect 127.0.0.1 \
	    "$PORT" <"$SMALL"
	same_file "$T/out" "$SMALL"
}

@test "relay --to-tls: a target whose certificate fails verification is unreachable, the client closed, -v says why" {
	start_server "$T/be" tcp-serve -k --echo --tls 127.0.0.1 0
	local be=$PORT
	start_server "$T/relay" tcp-serve -v --to "127.0.0.1:$be" --to-tls \
	    --to-tls-ca "$CA" 127.0.0.1 0
	run --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <<<"lost"
	[ -z "$output" ]
	wait_grep 'target unreachable: TLS: certificate verify failed' \
	    "$T/relay.err"
	kill -0 "$SERVER_PID"
}

@test "relay --tls --to-tls --to-tls-pin: TLS on both sides, the ephemeral target pinned; a wrong pin names the target's" {
	start_server "$T/be" tcp-serve -k --echo --tls 127.0.0.1 0
	local be=$PORT bpin
	bpin=$(pin_of "$T/be.err")
	start_server "$T/relay" tcp-serve --tls --to "127.0.0.1:$be" \
	    --to-tls --to-tls-pin "$bpin" 127.0.0.1 0
	runf 0 "$T/out" "$T/err" timeout 30 "$SK" tcp-connect --tls \
	    --tls-pin "$(pin_of "$T/relay.err")" 127.0.0.1 "$PORT" <"$SMALL"
	same_file "$T/out" "$SMALL"
	start_server "$T/relay2" tcp-serve -v --to "127.0.0.1:$be" --to-tls \
	    --to-tls-pin "SHA256:$(printf '%064d' 0)" 127.0.0.1 0
	run timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" <<<"x"
	wait_grep "pin mismatch: peer is $bpin" "$T/relay2.err"
}

@test "relay --tls: a client that never sends a ClientHello is dropped after -w; the target is never connected for it" {
	start_server "$T/be" tcp-serve -k -v --echo 127.0.0.1 0
	local be=$PORT
	start_server "$T/relay" tcp-serve -v -w 1 --tls --to "127.0.0.1:$be" \
	    127.0.0.1 0
	local pin
	pin=$(pin_of "$T/relay.err")
	bg_run /dev/null "$T/silent" "$T/silent.err" "$PYTHON" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(4)' "$PORT"
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-pin "$pin" 127.0.0.1 "$PORT" <<<"still served"
	same "$output" "still served"
	wait_grep 'TLS handshake timed out' "$T/relay.err"
	[ "$(grep -c 'connection from' "$T/be.err")" = 1 ]
}

@test "relay: --to-tls without --to, --to-tls-pin without --to-tls, and --to-tls to unix: without a pin are usage errors" {
	run -2 "$SK" tcp-serve --to-tls 127.0.0.1 0
	[[ $output == *"cannot use --to-tls without --to"* ]]
	run -2 "$SK" tcp-serve --to 127.0.0.1:1 --to-tls-ca "$CA" 127.0.0.1 0
	[[ $output == *"need --to-tls"* ]]
	run -2 "$SK" tcp-serve --to unix:/tmp/x --to-tls 127.0.0.1 0
	[[ $output == *"needs --to-tls-pin"* ]]
	run -2 "$SK" tcp-serve --to 127.0.0.1:1 --to-tls-pin bad 127.0.0.1 0
	[[ $output == *"to-tls-pin bad"* ]]
}

# ======================================================================
# A record that arrives in parts, a reader that waits: nothing spins.

# cpu_ticks PID: user + system clock ticks PID has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

@test "tcp-serve -k --tls: a client stalled inside a record neither spins the server nor escapes -w; others are served" {
	tls_echo -v -w 1 127.0.0.1 0
	local pin before
	pin=$(pin_of "$T/srv.err")
	bg_run /dev/null "$T/part" "$T/part.err" "$PYTHON" -c '
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
t = ctx.wrap_bio(i, o)
while True:
    try:
        t.do_handshake()
        break
    except ssl.SSLWantReadError:
        s.sendall(o.read())
        i.write(s.recv(65536))
s.sendall(o.read())
t.write(b"half of a record\n")
s.sendall(o.read()[:10])
print("sent", flush=True)
time.sleep(4)' "$PORT"
	wait_grep sent "$T/part"
	before=$(cpu_ticks "$SERVER_PID")
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-pin "$pin" 127.0.0.1 "$PORT" <<<"still served"
	same "$output" "still served"
	wait_grep 'idle timeout' "$T/srv.err"
	# Spinning costs a tick every 10 ms; waiting, next to none.
	(($(cpu_ticks "$SERVER_PID") - before < 50))
}

@test "relay --tls: after a slow TLS reader has taken 16 MiB, the idle pair costs no CPU" {
	head -c 16M /dev/urandom >"$T/big"
	IN=$T/big start_server "$T/tgt" tcp-serve --no-shutdown 127.0.0.1 0
	local tgt=$PORT before i
	start_server "$T/relay" tcp-serve --tls --to "127.0.0.1:$tgt" \
	    127.0.0.1 0
	# The client reads nothing for 1.5 s, then all; stdin stays open.
	bg_run /dev/null "$T/cli" "$T/cli.err" sh -c '
	    sleep 6 | "$1" tcp-connect --tls --tls-pin "$2" 127.0.0.1 "$3" |
	    { sleep 1.5; cat >"$4"; }' sh "$SK" "$(pin_of "$T/relay.err")" \
	    "$PORT" "$T/got"
	for ((i = 0; i < 500; i++)); do
		[[ $(stat -c %s "$T/got" 2>/dev/null) == 16777216 ]] && break
		sleep 0.02
	done
	same_file "$T/got" "$T/big"
	before=$(cpu_ticks "$SERVER_PID")
	sleep 1
	# Woken for a write it no longer waits on, it spun at 60% of a core.
	(($(cpu_ticks "$SERVER_PID") - before < 20))
}

@test "tcp-connect --tls-insecure and --tls-pin: a server that demands a client certificate is named by its alert, not blamed on its certificate" {
	local pin
	pin=SHA256:$(openssl x509 -in "$C/self.pem" -outform der |
	    sha256sum | cut -d' ' -f1)
	mkfifo "$T/fifo"
	s_server "$T/ss" "rw:$T/fifo" -tls1_2 -Verify 1 -cert "$C/self.pem" \
	    -key "$C/self.key"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-insecure 127.0.0.1 "$PORT" </dev/null
	[[ $stderr == *"TLS: sslv3 alert handshake failure"* ]]
	[[ $stderr != *"certificate verify failed"* ]]
	mkfifo "$T/fifo2"
	s_server "$T/ss2" "rw:$T/fifo2" -tls1_2 -Verify 1 -cert "$C/self.pem" \
	    -key "$C/self.key"
	run -1 --separate-stderr timeout 10 "$SK" tcp-connect --tls \
	    --tls-pin "$pin" 127.0.0.1 "$PORT" </dev/null
	[[ $stderr == *"TLS: sslv3 alert handshake failure"* ]]
	[[ $stderr != *"does not match"* ]]
}
