#!/bin/sh
# Build the libFuzzer targets into build/fuzz/ and run each for
# FUZZ_SECONDS seconds (default 30), one TAP line a target. Without clang
# or libFuzzer the targets are skipped. Corpora stay in build/fuzz/.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/fuzz
secs=${FUZZ_SECONDS:-30}
targets="frame auth tls"
n=0

skip() {
	for t in $targets; do
		n=$((n + 1))
		echo "ok $n - fuzz $t # skip $1"
	done
	exit 0
}

command -v clang >/dev/null 2>&1 || skip "clang not installed"
mkdir -p "$out"
cflags="-std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -g -O1
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
    -I$top/src $(pkg-config --cflags libbsd-overlay libssl libcrypto)"
libs=$(pkg-config --libs libbsd-overlay libssl libcrypto)
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ return d == NULL && n > 0; }' >"$out/probe.c"
# shellcheck disable=SC2086
clang $cflags -o "$out/probe" "$out/probe.c" 2>/dev/null ||
    skip "clang cannot build libFuzzer targets"

for t in $targets; do
	n=$((n + 1))
	bin=$out/fuzz_$t
	# auth.c's blocking driver runs over TLS too.
	extra=
	[ "$t" = auth ] && extra=$top/src/tls.c
	log=$out/$t.log
	# shellcheck disable=SC2086
	if ! clang $cflags -o "$bin" "$top/tests/fuzz/fuzz_$t.c" \
	    "$top/src/$t.c" "$top/src/util.c" $extra $libs >"$log" 2>&1; then
		echo "not ok $n - fuzz $t: build failed"
		sed 's/^/# /' "$log"
		continue
	fi
	mkdir -p "$out/corpus-$t"
	if "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
	    -max_len=4096 -artifact_prefix="$out/$t-" "$out/corpus-$t" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $n - fuzz $t: ${execs:-?} execs, no crash"
	else
		echo "not ok $n - fuzz $t: crashed, see $log"
		grep -E '^(==|SUMMARY|artifact)' "$log" | head -20 | sed 's/^/# /'
	fi
done
