#!/bin/sh
# Run the C unit tests and the bats suite, all as TAP, and end with the
# one line "N passed, N failed".
set -u
: "${SK:?}" "${UNITDIR:?}"
export SK
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$UNITDIR"/t_*; do
	[ -x "$t" ] || continue
	echo "# unit: ${t##*/}"
	"$t" || echo "not ok - ${t##*/} exited non-zero"
done 2>&1 | tee -a "$log"

# A fuzz smoke run belongs to the suite when clang can build it.
if [ -f "$top/tests/fuzz.sh" ]; then
	{ sh "$top/tests/fuzz.sh" 2>&1 || echo "not ok - fuzz.sh exited $?"; } |
	    tee -a "$log"
fi

# A bats run that dies (a syntax error, a missing file) counts as a failure.
# Peak resident memory means nothing under AddressSanitizer (shadow memory,
# quarantine): the tests tagged rss run on the default build only.
filter=
if grep -qa __asan_init "$SK"; then
	filter='--filter-tags !rss'
	echo "# AddressSanitizer build: the rss-tagged tests run on the default build"
fi
# shellcheck disable=SC2086
{ bats --tap $filter "$top"/tests/*.bats 2>&1 ||
    echo "not ok - bats exited $?"; } |
    tee -a "$log"

skipped=$(grep -c '^ok .* # skip' "$log")
passed=$(grep '^ok ' "$log" | grep -vc ' # skip')
failed=$(grep -c '^not ok' "$log")
if [ "$skipped" -gt 0 ]; then
	echo "skipped tests:"
	grep '^ok .* # skip' "$log"
	# CI installs every peer, so nothing may be skipped there.
	if [ "${CI:-}" = true ]; then
		failed=$((failed + skipped))
	fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
