#!/usr/bin/env bats
# The command line: help, version, usage errors, and the man page.

bats_require_minimum_version 1.5.0
load helpers

MAN=$BATS_TEST_DIRNAME/../man/sockkit.1

# The commands "sockkit --help" lists, one a line.
commands() {
	"$SK" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

@test "sockkit: --help lists the commands on stdout" {
	run -0 --separate-stderr "$SK" --help
	[[ $output == "usage: sockkit "* ]]
	[[ $output == *$'\n  tcp-connect '* ]]
	[[ $output == *$'\n  tcp-serve '* ]]
	[ -z "$stderr" ]
}

@test "sockkit: -h and help print the same as --help" {
	run -0 --separate-stderr "$SK" --help
	local want=$output
	run -0 --separate-stderr "$SK" -h
	[ "$output" = "$want" ]
	run -0 --separate-stderr "$SK" help
	[ "$output" = "$want" ]
}

@test "sockkit: --version and -V print the version" {
	run -0 --separate-stderr "$SK" --version
	[[ $output =~ ^sockkit\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	[ -z "$stderr" ]
	local want=$output
	run -0 --separate-stderr "$SK" -V
	[ "$output" = "$want" ]
}

@test "sockkit: no arguments is a usage error" {
	run -2 --separate-stderr "$SK"
	[ -z "$output" ]
	[[ $stderr == "usage: sockkit "* ]]
}

@test "tcp-connect: --help prints its usage on stdout" {
	run -0 --separate-stderr "$SK" tcp-connect --help
	[ "${lines[0]}" = "usage: sockkit tcp-connect [OPTIONS] HOST PORT" ]
	[[ $output == *--keep-sending* ]]
	[ -z "$stderr" ]
}

@test "tcp-connect: help tcp-connect is tcp-connect --help" {
	run -0 --separate-stderr "$SK" tcp-connect --help
	local want=$output
	[[ $want == "usage: sockkit tcp-connect "* ]]
	run -0 --separate-stderr "$SK" help tcp-connect
	[ "$output" = "$want" ]
	[ -z "$stderr" ]
}

@test "tcp-serve: --help prints its usage on stdout" {
	run -0 --separate-stderr "$SK" tcp-serve -h
	[ "${lines[0]}" = "usage: sockkit tcp-serve [OPTIONS] [ADDRESS] PORT" ]
	[ -z "$stderr" ]
}

@test "sockkit: an unknown command is a one-line error and a hint" {
	run -2 --separate-stderr "$SK" frobnicate 127.0.0.1 1
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 2 ]
	[ "${stderr_lines[0]}" = "sockkit: unknown command 'frobnicate'" ]
	[[ ${stderr_lines[1]} == *"sockkit --help"* ]]
}

@test "sockkit: help for an unknown command is a usage error" {
	run -2 --separate-stderr "$SK" help frobnicate
	[ -z "$output" ]
	[[ $stderr == "sockkit: help: unknown command 'frobnicate'"* ]]
}

@test "sockkit: help with two arguments says there are too many" {
	run -2 --separate-stderr "$SK" help tcp-connect extra
	[ -z "$output" ]
	[ "$stderr" = "sockkit: help: too many arguments; usage: sockkit help [COMMAND]" ]
}

@test "tcp-connect: an unknown option is an error naming it, and a hint" {
	run -2 --separate-stderr "$SK" tcp-connect --frobnicate 127.0.0.1 1
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "sockkit: tcp-connect: "*"--frobnicate"* ]]
	[[ $stderr == *"sockkit tcp-connect --help"* ]]
}

@test "tcp-serve: an unknown short option is an error naming it" {
	run -2 --separate-stderr "$SK" tcp-serve -Y 0
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "sockkit: tcp-serve: "*"'Y'"* ]]
	[[ $stderr == *"sockkit tcp-serve --help"* ]]
}

# args_error CMD ARGS... MESSAGE: expect exit 2, nothing on stdout, and
# on stderr "sockkit: CMD: MESSAGE", then the usage line and the hint.
args_error() {
	local msg=${*: -1}
	run -2 --separate-stderr timeout 10 "$SK" "${@:1:$#-1}" </dev/null
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 3 ] &&
	    [ "${stderr_lines[0]}" = "sockkit: $1: $msg" ] &&
	    [[ ${stderr_lines[1]} == "usage: sockkit $1 "* ]] &&
	    [ "${stderr_lines[2]}" = "Try 'sockkit $1 --help' for more." ] ||
	    { echo "# stderr: $stderr" >&2; return 1; }
}

# habit_error CMD ARGS... HINT: as args_error, after getopt's own line
# naming the option.
habit_error() {
	local msg=${*: -1}
	run -2 --separate-stderr timeout 10 "$SK" "${@:1:$#-1}" </dev/null
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 4 ] &&
	    [[ ${stderr_lines[0]} == "sockkit: $1: invalid option"* ]] &&
	    [ "${stderr_lines[1]}" = "sockkit: $1: $msg" ] &&
	    [[ ${stderr_lines[2]} == "usage: sockkit $1 "* ]] ||
	    { echo "# stderr: $stderr" >&2; return 1; }
}

@test "tcp-connect: a missing PORT says 'missing PORT'" {
	args_error tcp-connect 127.0.0.1 "missing PORT"
}

@test "tcp-connect: no arguments says 'missing HOST and PORT'" {
	args_error tcp-connect "missing HOST and PORT"
}

@test "tcp-connect: an extra argument says 'too many arguments'" {
	args_error tcp-connect 127.0.0.1 1 2 "too many arguments"
}

@test "tcp-connect: -U without PATH says 'missing PATH'" {
	args_error tcp-connect -U "missing PATH"
}

@test "tcp-serve: a missing PORT says 'missing PORT'" {
	args_error tcp-serve "missing PORT"
}

@test "every command: a missing argument says which, an extra one too many" {
	args_error tcp-serve 127.0.0.1 1 2 "too many arguments"
	args_error udp-send "missing HOST and PORT"
	args_error udp-send 127.0.0.1 "missing PORT"
	args_error udp-listen "missing PORT"
	args_error udp-listen 127.0.0.1 1 2 "too many arguments"
	args_error chat 127.0.0.1 "missing PORT"
	args_error chat 127.0.0.1 1 2 "too many arguments"
	args_error chat -l "missing PORT"
	args_error chat -l 127.0.0.1 1 2 "too many arguments"
	args_error timeserver 127.0.0.1 1 2 "too many arguments"
	args_error timeserver -U "missing PATH"
	args_error udp-listen -U /tmp/a /tmp/b "too many arguments"
}

@test "tcp-connect: HOST:PORT in one argument says they are two" {
	args_error tcp-connect example.com:80 \
	    "example.com:80: HOST and PORT are two arguments: 'example.com 80'"
}

@test "tcp-connect: [V6]:PORT in one argument says they are two" {
	args_error tcp-connect '[::1]:80' \
	    "[::1]:80: HOST and PORT are two arguments: '::1 80'"
}

@test "tcp-connect: an IPv6 address alone is a missing PORT, not HOST:PORT" {
	args_error tcp-connect ::1 "missing PORT"
}

@test "udp-send: HOST:PORT in one argument says they are two" {
	args_error udp-send 127.0.0.1:53 \
	    "127.0.0.1:53: HOST and PORT are two arguments: '127.0.0.1 53'"
}

@test "tcp-serve: ADDRESS:PORT in one argument says they are two" {
	args_error tcp-serve 127.0.0.1:9000 \
	    "127.0.0.1:9000: ADDRESS and PORT are two arguments: '127.0.0.1 9000'"
}

@test "tcp-connect: -l points to tcp-serve" {
	habit_error tcp-connect -l 9000 \
	    "-l: to listen, use tcp-serve: sockkit tcp-serve [OPTIONS] [ADDRESS] PORT"
}

@test "tcp-connect: -u points to udp-send" {
	habit_error tcp-connect -u 127.0.0.1 53 \
	    "-u: for UDP, use udp-send: sockkit udp-send [OPTIONS] HOST PORT"
}

@test "tcp-serve: -l says that tcp-serve listens already" {
	habit_error tcp-serve -l 9000 \
	    "-l: tcp-serve listens already; leave it out"
}

@test "tcp-serve: -u points to udp-listen" {
	habit_error tcp-serve -u 9000 \
	    "-u: for UDP, use udp-listen: sockkit udp-listen [OPTIONS] [ADDRESS] PORT"
}

@test "udp-send: -l points to udp-listen" {
	habit_error udp-send -l 9000 \
	    "-l: to listen, use udp-listen: sockkit udp-listen [OPTIONS] [ADDRESS] PORT"
}

@test "tcp-connect: --help does not offer --port-file, and it is unknown" {
	run -0 --separate-stderr "$SK" tcp-connect --help
	[[ $output != *--port-file* ]]
	run -2 --separate-stderr "$SK" tcp-connect --port-file f 127.0.0.1 1
	[[ ${stderr_lines[0]} == "sockkit: tcp-connect: unrecognized option '--port-file'" ]]
}

@test "tcp-serve: --help says -w waits for the client, then is an idle timeout" {
	run -0 --separate-stderr "$SK" tcp-serve --help
	[[ $output == *"-w, --timeout DUR    wait DUR for the client, then close it when idle"$'\n'* ]]
	[[ $output != *"connect timeout"* ]]
}

@test "udp-send: --help does not offer -P, and -P is unknown" {
	run -0 --separate-stderr "$SK" udp-send --help
	[[ $output != *--progress* && $output != *" -P"* ]]
	run -2 --separate-stderr "$SK" udp-send -P 127.0.0.1 9 x
	[ "${stderr_lines[0]}" = "sockkit: udp-send: invalid option -- 'P'" ]
}

@test "udp-listen: --help does not offer -P, and --progress is unknown" {
	run -0 --separate-stderr "$SK" udp-listen --help
	[[ $output != *--progress* && $output != *" -P"* ]]
	run -2 --separate-stderr "$SK" udp-listen --progress 127.0.0.1 0
	[ "${stderr_lines[0]}" = "sockkit: udp-listen: unrecognized option '--progress'" ]
}

@test "every command: each option its --help lists is accepted" {
	local cmd opt bad=
	run -0 commands
	for cmd in "${lines[@]}"; do
		for opt in $("$SK" "$cmd" --help |
		    grep -oE -- '^  (-[a-zA-Z0-9], )?--[a-z][a-z0-9-]*' |
		    tr -d , ); do
			# "x x x": the option's argument, then arguments no
			# command takes, so that nothing starts serving.
			run timeout 5 "$SK" "$cmd" "$opt" x x x </dev/null
			[[ $output == *"unrecognized option"* ||
			    $output == *"invalid option"* ]] &&
			    bad+=" $cmd:$opt"
		done
	done
	[ -z "$bad" ] || { echo "# not accepted:$bad" >&2; false; }
}

@test "tcp-connect: --send-only with --recv-only is a usage error" {
	run -2 --separate-stderr "$SK" tcp-connect --send-only --recv-only \
	    127.0.0.1 1 </dev/null
	[ -z "$output" ]
	[[ $stderr == "sockkit: tcp-connect: "*--send-only*--recv-only* ]]
}

@test "tcp-connect: options may follow the arguments, and -- ends them" {
	# The usage error must come from the bad port after --, proving that
	# -w after the arguments was taken as an option.
	run -2 --separate-stderr "$SK" tcp-connect 127.0.0.1 -w 2x 80 </dev/null
	[[ $stderr == *"timeout 2x"* ]]
	run -2 --separate-stderr "$SK" tcp-connect -- 127.0.0.1 -w </dev/null
	[[ $stderr == *"port -w"* ]]
}

@test "sockkit: every command and its long options are in man/sockkit.1" {
	[ -f "$MAN" ] || { echo "# $MAN does not exist yet" >&2; return 1; }
	local text cmd opt missing=
	# Long options are written "Fl -name" or "Fl \-name" in mdoc, so
	# search the rendered page as well as the source.
	text=$(cat "$MAN"; mandoc -Tutf8 "$MAN" 2>/dev/null | col -b)
	run -0 commands
	[ "${#lines[@]}" -ge 2 ]
	for cmd in "${lines[@]}"; do
		grep -q -- "$cmd" <<<"$text" || missing+=" $cmd"
		for opt in $("$SK" "$cmd" --help |
		    grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
			grep -q -- "$opt" <<<"$text" || missing+=" $cmd:$opt"
		done
	done
	[ -z "$missing" ] || { echo "# not in the man page:$missing" >&2; false; }
}

# The man page as man(1) shows it in an 80-column terminal.
man80() {
	LC_ALL=C MANWIDTH=80 man -l "$MAN" 2>/dev/null | col -bx
}

@test "man page: man(1) renders it at 80 columns with no line wider" {
	run -0 man80
	[ "${#lines[@]}" -gt 500 ]
	local wide
	wide=$(awk 'length > 80' <<<"$output")
	[ -z "$wide" ] || { echo "# wider than 80: $wide" >&2; false; }
}

@test "man page: mandoc -Tlint -W warning is clean" {
	run -0 --separate-stderr mandoc -Tlint -W warning "$MAN"
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "man page: no synopsis line breaks between an option and its argument" {
	run -0 man80
	local split
	split=$(grep -E '\[--?[a-zA-Z0-9-]+$' <<<"$output" || true)
	[ -z "$split" ] || { echo "# split: $split" >&2; false; }
}

@test "man page: no section heading appears twice" {
	run -0 man80
	local dup
	dup=$(grep -E '^ {0,3}[A-Za-z]' <<<"$output" | sort | uniq -d)
	[ -z "$dup" ] || { echo "# twice: $dup" >&2; false; }
}

@test "README and man page: show the --to relay, and it forwards a client" {
	local readme=$BATS_TEST_DIRNAME/../README.md T=$BATS_TEST_TMPDIR bport
	local relay="sockkit tcp-serve -v --to backend:80 8080"
	grep -qF -- "$relay" "$readme"
	grep -qF -- "$relay" "$MAN"
	start_server "$T/backend" tcp-serve -k --echo 127.0.0.1 0
	bport=$PORT
	start_server "$T/relay" tcp-serve -v --to "127.0.0.1:$bport" 127.0.0.1 0
	run -0 --separate-stderr timeout 10 "$SK" tcp-connect 127.0.0.1 "$PORT" \
	    <<<"through the relay"
	same "$output" "through the relay"
}

@test "README and man page: nothing is left not yet; TLS, the relay and proxies are documented" {
	local readme=$BATS_TEST_DIRNAME/../README.md
	run -1 grep -n -i 'not yet' "$readme"
	run -0 man80
	[[ $output != *"Not yet"* && $output != *CAVEATS* ]]
	[[ $output == *RELAYING* && $output == *PROXIES* ]]
	run -0 sed -n '/^TLS/,/^[A-Z]/p' <<<"$output"
	[[ $output == *"--tls-pin"* && $output == *"close_notify"* ]]
	grep -qF -- "--tls-pin" "$readme"
	grep -qF -- "--proxy socks5://" "$readme"
	grep -qF -- "--to " "$readme"
}
