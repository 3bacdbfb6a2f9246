# tests/integration/lib.sh — TAP helpers and a throw-away instance for the
# integration tests. Sourced, not run. Every check prints "ok N - ..." or
# "not ok N - ..."; done_testing prints the plan and cleans up.
#
# Each test makes its own temp dir (T) with its own SoftHSM2 tokens; no
# state is shared between tests or left behind.

set -u

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
CA_ADMIN="$top_builddir/ca-admin"
T=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-it.XXXXXX")
LOG="$T/log"
: >"$LOG"
n=0
nfail=0

cleanup() {
	[ "${KEEP_TMP:-}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
	n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"
	# The last lines of the log say why, in the test's .log file.
	tail -n 5 "$LOG" | sed 's/^/# /'
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# check DESC CMD...: CMD must succeed.
check() {
	desc=$1; shift
	if "$@" >>"$LOG" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}

# refuse DESC CMD...: CMD must fail with exit status 1 (not crash, not usage).
refuse() {
	desc=$1; shift
	"$@" >"$T/refuse.out" 2>"$T/refuse.err"
	rc=$?
	cat "$T/refuse.out" "$T/refuse.err" >>"$LOG"
	if [ "$rc" -eq 1 ] && [ -s "$T/refuse.err" ]; then ok "$desc"
	else echo "exit status $rc" >>"$LOG"; not_ok "$desc"; fi
}

# fails DESC CMD...: CMD (an outside tool) must fail, whatever its status.
fails() {
	desc=$1; shift
	if "$@" >>"$LOG" 2>&1; then not_ok "$desc"; else ok "$desc"; fi
}

# has DESC FILE PATTERN: FILE must contain the fixed string PATTERN.
has() {
	if grep -qF -- "$3" "$2"; then ok "$1"
	else echo "'$3' not in $2:" >>"$LOG"; head -c 2000 "$2" >>"$LOG"; not_ok "$1"; fi
}
# lacks DESC FILE PATTERN: FILE must not contain PATTERN.
lacks() {
	if grep -qF -- "$3" "$2"; then echo "'$3' found in $2" >>"$LOG"; not_ok "$1"
	else ok "$1"; fi
}
# eq DESC GOT WANT
eq() {
	if [ "$2" = "$3" ]; then ok "$1"
	else echo "got '$2', want '$3'" >>"$LOG"; not_ok "$1"; fi
}

done_testing() { echo "1..$n"; }

need() {
	command -v "$1" >/dev/null 2>&1
}

# admin ARGS...: ca-admin on the test instance.
admin() { "$CA_ADMIN" --dir "$T/ca" "$@"; }

# new_instance [KEYTYPE]: a fresh instance in $T/ca.
new_instance() {
	"$CA_ADMIN" --dir "$T/ca" init ${1:+--key-type "$1"} >>"$LOG" 2>&1
}

# csr NAME [openssl req options...]: key and CSR in $T/NAME.{key,csr}; EC P-256 by default.
csr() {
	name=$1; shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$name.key" -out "$T/$name.csr" -subj "/CN=$name" \
	    "$@" >>"$LOG" 2>&1
}

# The SoftHSM2 module and configuration of the test instance.
softhsm_module() {
	sed -n 's/^module = //p' "$T/ca/ca.conf"
}
