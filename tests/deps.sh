#!/bin/sh
# Make sure every Debian package the build and the tests need is installed.
# As root, install what is missing; otherwise print the one command needed.
set -u
pkgs="make gcc pkg-config libbsd-dev libssl-dev bats mandoc netcat-openbsd
socat ncat curl python3 tmux rdate sntp chrony clang libclang-rt-14-dev libedit-dev"
# man(1) and col(1): tests/01-cli.bats renders the man page as users see it.
pkgs="$pkgs man-db bsdextrautils"

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
apt-get update -qq </dev/null >&2 || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing </dev/null >&2
