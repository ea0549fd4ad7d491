#!/bin/sh
# Benchmarks: sockkit against nc.openbsd, ncat and socat on this machine.
#
#   sh bench/run.sh [SCENARIO...]     (make bench runs it with no arguments)
#   sh bench/run.sh -l                list the scenarios
#
# Every scenario is one script beside this one, bench/NAME.py (run with
# python3) or bench/NAME.sh (run with sh); with no arguments all of them run
# in name order.  Files whose name starts with "_" are helpers, not
# scenarios.  Each script prints its own tables and a machine-readable
# summary on stdout, skips tools that are not installed, and exits non-zero
# only when a run failed.
#
# Environment (passed on to every scenario):
#   SK             sockkit binary, default ./sockkit relative to the repo root
#   BENCH_BYTES    bytes per bulk transfer (default 2G; e.g. 256M for a quick run)
#   BENCH_RUNS     rounds, each tool once per round (default 5)
#   BENCH_TIMEOUT  seconds before one run is killed and reported (default 120)
#   BENCH_TOOLS    comma-separated subset: sockkit,nc.openbsd,ncat,socat
#                  (relay: sockkit,socat-8k,socat-128k,haproxy; haproxy is
#                  not in tests/deps.sh: install it to compare, else skipped)
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 1
root=$(dirname "$here")
cd "$root" || exit 1

: "${SK:=./sockkit}"
case $SK in
/*) ;;
*) SK=$root/${SK#./} ;;
esac
export SK

scenarios() {
	for f in "$here"/*.py "$here"/*.sh; do
		[ -f "$f" ] || continue
		n=${f##*/}
		n=${n%.*}
		case $n in run | _*) continue ;; esac
		echo "$n"
	done | sort -u
}

usage() {
	echo "usage: sh bench/run.sh [-l] [SCENARIO...]"
	echo "scenarios: $(scenarios | tr '\n' ' ')"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
-l | --list) scenarios; exit 0 ;;
-*) usage >&2; exit 2 ;;
esac

if [ $# -eq 0 ]; then
	# Scenario names are file names without blanks: split on purpose.
	# shellcheck disable=SC2046
	set -- $(scenarios)
fi
for s in "$@"; do
	if [ ! -f "$here/$s.py" ] && [ ! -f "$here/$s.sh" ]; then
		echo "bench: unknown scenario '$s'" >&2
		usage >&2
		exit 2
	fi
done

if ! command -v python3 >/dev/null 2>&1; then
	echo "bench: python3 is needed" >&2
	exit 1
fi

echo "sockkit benchmarks: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -srm)," \
	"$(nproc 2>/dev/null || echo '?') CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "SK=$SK"

failed=
for s in "$@"; do
	echo
	if [ -f "$here/$s.py" ]; then
		python3 "$here/$s.py"
	else
		sh "$here/$s.sh"
	fi
	rc=$?
	[ $rc -eq 0 ] || failed="$failed $s"
	# Interrupted: stop here rather than start the next scenario.
	[ $rc -eq 130 ] || [ $rc -eq 143 ] && break
done

echo
if [ -n "$failed" ]; then
	echo "bench: failed:$failed"
	exit 1
fi
echo "bench: done"
