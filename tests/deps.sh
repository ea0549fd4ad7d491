#!/bin/sh
# Make sure every Debian package the build and the tests need is installed.
# As root, install what is missing; otherwise print the one command needed.
#
# chrony is installed only when CI=true: on Debian, installing it removes
# systemd-timesyncd, and a test command must not replace the machine's
# time daemon.  Elsewhere its interop test runs if chronyd is present and
# skips with the reason otherwise.
set -u
pkgs="make gcc pkg-config libbsd-dev libssl-dev bats mandoc netcat-openbsd
socat ncat curl python3 tmux rdate sntp clang libclang-rt-14-dev libedit-dev
microsocks openssh-client"
[ "${CI:-}" = true ] && pkgs="$pkgs chrony"
# The proxies and sshd of tests/70-proxy.bats, too, only when CI=true: on
# a machine with systemd their packages start and enable a service
# (tinyproxy on 8888, danted, sshd on 22).  The tests run their own on
# loopback from a config of their own, and skip with the reason where the
# program is missing.  Even in CI no service is started: see policy-rc.d
# below.
[ "${CI:-}" = true ] && pkgs="$pkgs tinyproxy dante-server openssh-server"
# man(1) and col(1): tests/01-cli.bats renders the man page as users see it.
pkgs="$pkgs man-db bsdextrautils"
# strace: tests/60-relay.bats counts the relay's splice(2) calls.
pkgs="$pkgs strace"

missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case $s in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "sockkit: missing packages; as root, run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt and dpkg print pages; keep them in a log and print a summary line.
log=$(mktemp "${TMPDIR:-/tmp}/sockkit-deps.XXXXXX") || exit 1
if ! apt-get update -qq </dev/null >"$log" 2>&1; then
	echo "sockkit: apt-get update failed; see $log" >&2
	exit 1
fi
# Debian's way to install a daemon without starting it: invoke-rc.d and
# deb-systemd-invoke ask /usr/sbin/policy-rc.d, and 101 means "forbidden".
# Ours is there only during the install, and only if there was none.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	trap 'rm -f "$policy"' EXIT INT TERM HUP
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
fi
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $missing </dev/null \
    >>"$log" 2>&1; then
	echo "sockkit: apt-get install failed; see $log" >&2
	exit 1
fi
[ -n "$policy" ] && rm -f "$policy"
set -- $missing
echo "installed $# packages" >&2
rm -f "$log"
