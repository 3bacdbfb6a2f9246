#!/bin/sh
# tests/fuzz/smoke.sh — make check's short run of every libFuzzer target
# (tests/fuzz/fuzz_*.c): tests/fuzz/run builds them with clang
# (-fsanitize=fuzzer,address,undefined) and runs each over its corpus for
# FUZZ_SMOKE_SECONDS (default 4). One TAP check per target: it built,
# and it neither crashed nor tripped a sanitizer or one of its asserts.
# `make fuzz` is the long run. Without clang the test is skipped, except
# in CI (CI=true), where that is a failure: quickstart installs clang.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "not ok 1 - $CLANG is installed (quickstart's PKGS)"
	else
		echo "ok 1 - fuzz smoke # SKIP $CLANG not installed"
	fi
	echo "1..1"
	exit 0
fi
if [ -z "${FUZZ_CPPFLAGS:-}" ] || [ -z "${FUZZ_SOURCES:-}" ]; then
	echo "not ok 1 - fuzz smoke: run me through make check (FUZZ_* unset)"
	echo "1..1"
	exit 0
fi

out=$(srcdir="$top_srcdir" builddir="$top_builddir" \
    FUZZ_SECONDS="${FUZZ_SMOKE_SECONDS:-4}" FUZZ_TARGETS="${FUZZ_TARGETS:-}" \
    nice "${SHELL:-/bin/sh}" "$top_srcdir/tests/fuzz/run" 2>&1)
rc=$?
n=0
echo "$out" | sed 's/^/# /'
# The rows of run's table: target executions exec/s result.
rows=$(echo "$out" | awk '$1 != "target" && NF >= 4 && ($4 == "no" ||
    $4 == "CRASH" || $4 == "BUILD") { print }')
for t in $(echo "$rows" | awk '{ print $1 }'); do
	n=$((n + 1))
	row=$(echo "$rows" | awk -v t="$t" '$1 == t')
	set -- $row
	if [ "$4 $5" = "no crash" ] && [ "$2" != "?" ] && [ "$2" -gt 0 ]; then
		echo "ok $n - fuzz_$t: $2 executions, $3 exec/s, no crash"
	else
		echo "not ok $n - fuzz_$t: $row"
	fi
done
if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && ! echo "$rows" | grep -qv 'no crash'; }; then
	n=$((n + 1))
	echo "not ok $n - tests/fuzz/run failed (exit status $rc)"
fi
echo "1..$n"
