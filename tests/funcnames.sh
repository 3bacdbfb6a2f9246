#!/bin/sh
# One function per name in the tree, static ones included: a second
# definition of a name is a copy to merge or a name to make precise
# (ca_key in conf/ beside ca_key in ca/ misleads a reader and a debugger
# alike). Definitions are read with universal-ctags over every C file of
# the parts, cmd/, bench/ and tests/. Allowed more than once: each
# program's main and usage, each fuzz target's LLVMFuzzerTestOneInput.
# Speaks TAP.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top_srcdir" || exit 1

if ! command -v ctags >/dev/null 2>&1; then
	# quickstart installs it (universal-ctags): missing is a failure.
	echo "not ok 1 - ctags is installed (universal-ctags)"
	echo "1..1"
	exit 0
fi
dups=$(find ca cmd conf crl enroll hsm ocsp util web bench tests \
    -name '*.[ch]' 2>/dev/null | sort | xargs ctags -x --c-kinds=f 2>/dev/null |
    awk '$1 !~ /^[A-Z_]+$/ && $1 != "main" && $1 != "usage" &&
	$1 != "LLVMFuzzerTestOneInput" { n[$1]++; w[$1] = w[$1] " " $4 ":" $3 }
	END { for (f in n) if (n[f] > 1) print f ":" w[f] }' | sort)
if [ -z "$dups" ]; then
	echo "ok 1 - no two functions share a name"
else
	echo "not ok 1 - no two functions share a name"
	echo "$dups" | sed 's/^/# /'
fi
echo "1..1"
