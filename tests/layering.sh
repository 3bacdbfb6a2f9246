#!/bin/sh
# The layering of DESIGN.md section 2, checked on the sources: only ca/
# calls hsm/ (no other part includes hsm/hsm.h or hsm/extern.h, or calls
# an hsm_ function), and the engine reads PINs in one place
# (ca_pin_load() in ca/sign.c). bench/ measures hsm/ directly and tests/
# test it: both are left out. Speaks TAP.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top_srcdir" || exit 1
n=0
nfail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"; }

PARTS="conf util crl ocsp enroll web ipc cmd"
# What hsm/ exports: its functions and struct tags, from its headers.
API=$(grep -ohE '(hsm_[a-z0-9_]+[[:space:]]*\(|struct[[:space:]]+hsm_[a-z0-9_]+)' \
    hsm/hsm.h hsm/extern.h | sed 's/[[:space:]]*($//; s/struct[[:space:]]*//' | sort -u |
    paste -sd'|' -)
[ -n "$API" ] && ok "hsm/'s interface read from its headers" ||
    not_ok "hsm/'s interface read from its headers"
for d in $PARTS; do
	[ -d "$d" ] || { not_ok "$d/ exists"; continue; }
	hits=$(grep -n '#[[:space:]]*include[[:space:]]*"hsm/' "$d"/*.c "$d"/*.h 2>/dev/null)
	if [ -z "$hits" ]; then ok "$d/ includes nothing of hsm/"
	else not_ok "$d/ includes nothing of hsm/"; echo "$hits" | sed 's/^/# /'; fi
	# hsm/'s functions and types, not words like web_hsm_lock.
	hits=$(grep -nwE "$API" "$d"/*.c "$d"/*.h 2>/dev/null |
	    grep -v '^[^:]*:[0-9]*:[[:space:]]*/\?\*')
	if [ -z "$hits" ]; then ok "$d/ calls no hsm_ function"
	else not_ok "$d/ calls no hsm_ function"; echo "$hits" | sed 's/^/# /'; fi
done

# PINs: hsm_pin_load() outside hsm/ only in ca_pin_load().
hits=$(grep -ln 'hsm_pin_load[[:space:]]*(' ca/*.c $(for d in $PARTS; do echo "$d"/*.c; done) 2>/dev/null)
if [ "$hits" = "ca/sign.c" ] && [ "$(grep -c 'hsm_pin_load[[:space:]]*(' ca/sign.c)" = 1 ]; then
	ok "PINs are read in one place (ca_pin_load, ca/sign.c)"
else
	not_ok "PINs are read in one place (ca_pin_load, ca/sign.c): $hits"
fi
# The check can fail: a file that breaks the rule is caught.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/layering.XXXXXX")
printf '#include "hsm/hsm.h"\nint f(void) { return hsm_init(0, 0); }\n' >"$tmp/bad.c"
if grep -q '#[[:space:]]*include[[:space:]]*"hsm/' "$tmp/bad.c" &&
    grep -qwE "$API" "$tmp/bad.c"; then
	ok "the checks catch a file that includes and calls hsm/"
else
	not_ok "the checks catch a file that includes and calls hsm/"
fi
rm -rf "$tmp"
echo "1..$n"
[ "$nfail" -eq 0 ]
