# tests/integration/lib.sh — TAP helpers and a throw-away instance for the
# integration tests. Sourced, not run. Every check prints "ok N - ..." or
# "not ok N - ..."; done_testing prints the plan and cleans up.
#
# Each test makes its own temp dir (T) with its own SoftHSM2 tokens; no
# state is shared between tests or left behind. A test starts
#
#	. "$(dirname "$0")/lib.sh"
#	need openssl curl	# every outside tool it runs: missing = failed
#	instance		# $T/ca, its certificates in $CA ($ROOT the root)
#	must "ca-server starts" start_server_https
#
# and ends with done_testing; a set-up step that fails ends it with bail.

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
	# Servers a test started are stopped by PID, whatever happened.
	type stop_nginx >/dev/null 2>&1 && stop_nginx
	type stop_server >/dev/null 2>&1 && stop_server
	[ "${KEEP_TMP:-}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
	n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"
	# The last lines of the log say why, in the test's .log file.
	tail -n 5 "$LOG" | awk '{ print "# " $0 }'
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

# bail DESC: a failed check DESC, and the test ends here: what follows
# depends on a step that did not happen. The plan counts what ran.
bail() { not_ok "$1"; done_testing; exit 0; }

# must DESC CMD...: a set-up step; CMD (a function may set variables)
# must succeed, else bail DESC.
must() {
	must_desc=$1; shift
	"$@" || bail "$must_desc"
}

# have TOOL: TOOL is on PATH. A predicate for lib.sh; tests call need.
have() { command -v "$1" >/dev/null 2>&1; }

# need TOOL...: every TOOL the test runs must be installed, else the test
# fails here. Never a skip: quickstart's PKGS installs every tool the
# suite uses, so a missing one is a broken machine, and a silent skip
# would pass checks that never ran.
need() {
	need_missing=
	for need_tool in "$@"; do
		have "$need_tool" || need_missing="$need_missing $need_tool"
	done
	[ -z "$need_missing" ] ||
	    bail "tools installed (missing:$need_missing; see quickstart's PKGS)"
}

# admin ARGS...: ca-admin on the test instance.
admin() { "$CA_ADMIN" --dir "$T/ca" "$@"; }

# The test instance's CA certificates, once new_instance or instance made them.
CA="$T/ca/certs"
ROOT="$CA/root.crt"

# new_instance [KEYTYPE]: a fresh instance in $T/ca.
new_instance() {
	"$CA_ADMIN" --dir "$T/ca" init ${1:+--key-type "$1"} >>"$LOG" 2>&1
}

# instance [KEYTYPE]: new_instance, or the test ends with "init" failed.
instance() { must "init" new_instance "$@"; }

# serial_of CERT: the serial of the PEM certificate CERT, in hex.
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# token_state ID: the state of the one-time token ID (ca-admin token list).
token_state() {
	admin token list --json 2>>"$LOG" | jq -r --arg id "$1" \
	    '.[] | select(.id == $id) | .state'
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

# ---- nginx, as the mTLS gateway and the static scale-out server --------

# start_nginx BODY: runs nginx on a free 127.0.0.1 port with BODY (server
# blocks; @PORT@ is replaced by the port) in $T/nginx. Sets NGINX_PORT and
# NGINX_PID. Returns non-zero if nginx would not start.
start_nginx() {
	body=$1
	mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
	tries=0
	while [ $tries -lt 8 ]; do
		tries=$((tries + 1))
		NGINX_PORT=$(( ($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000) + 20000 ))
		{
			echo "worker_processes 1;"
			[ "$(id -u)" -eq 0 ] && echo "user root;"
			echo "pid $T/nginx/nginx.pid;"
			echo "error_log $T/nginx/logs/error.log info;"
			echo "events { worker_connections 256; }"
			echo "http {"
			echo "  access_log off;"
			echo "  client_body_temp_path $T/nginx/tmp/body;"
			echo "  proxy_temp_path $T/nginx/tmp/proxy;"
			echo "  fastcgi_temp_path $T/nginx/tmp/fcgi;"
			echo "  uwsgi_temp_path $T/nginx/tmp/uwsgi;"
			echo "  scgi_temp_path $T/nginx/tmp/scgi;"
			echo "$body" | sed "s/@PORT@/$NGINX_PORT/g"
			echo "}"
		} >"$T/nginx/nginx.conf"
		nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;' \
		    >>"$T/nginx/logs/stdout" 2>&1 &
		NGINX_PID=$!
		# A loaded machine (both builds' suites at once) may take
		# seconds: wait while nginx lives; a port taken makes it exit.
		i=0
		while [ $i -lt 200 ]; do
			if ! kill -0 "$NGINX_PID" 2>/dev/null; then
				break
			fi
			if grep -q "start worker process" "$T/nginx/logs/error.log" 2>/dev/null; then
				return 0
			fi
			sleep 0.1
			i=$((i + 1))
		done
		stop_nginx
	done
	# Why, for the log of the test that failed.
	sed 's/^/# nginx: /' "$T/nginx/logs/error.log" "$T/nginx/logs/stdout" 2>/dev/null | tail -n 20
	return 1
}

reload_nginx() {
	: >"$T/nginx/logs/error.log"
	kill -HUP "$NGINX_PID"
	i=0
	# Reloaded when the new worker has started and the old one has gone:
	# until then the old worker, with the old CRL, may take a connection.
	while [ $i -lt 100 ] && ! { grep -q "start worker process" "$T/nginx/logs/error.log" &&
	    grep -q "exited with code" "$T/nginx/logs/error.log"; }; do
		sleep 0.1
		i=$((i + 1))
	done
}

stop_nginx() {
	if [ -n "${NGINX_PID:-}" ]; then
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
		NGINX_PID=
	fi
}

# The RFC 5019 GET path of a DER OCSP request: base64, percent-encoded.
ocsp_get_path() {
	openssl base64 -A <"$1" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g'
}

# ---- ca-server -----------------------------------------------------------

CA_SERVER="$top_builddir/ca-server"
SERVER_PID=

# start_server [ARGS...]: runs ca-server on the test instance on
# 127.0.0.1 with a port the kernel chooses, logging to $SERVER_LOG ($T/server.N.log), and
# waits (at most 20 s) for its "listening on" line. Sets SERVER_PID,
# SERVER_PORT and BASE (http://127.0.0.1:PORT). Returns non-zero if it
# did not come up. HTTPS is off unless ARGS say otherwise (--https
# 127.0.0.1:0, or start_server_https): then HTTPS_PORT and SBASE
# (https://127.0.0.1:PORT) are set too, else they are empty.
start_server() {
	# A log per start: a restart must not read the old port from the old log.
	SERVER_STARTS=$(( ${SERVER_STARTS:-0} + 1 ))
	SERVER_LOG="$T/server.$SERVER_STARTS.log"
	HTTPS_PORT=
	SBASE=
	: >"$SERVER_LOG"
	"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https off "$@" >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	tries=0
	while [ $tries -lt 200 ]; do
		SERVER_PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
		    "$SERVER_LOG" | tail -n 1)
		if [ -n "$SERVER_PORT" ]; then
			BASE="http://127.0.0.1:$SERVER_PORT"
			# ca-server logs its HTTPS listener before the HTTP one.
			HTTPS_PORT=$(sed -n 's|.*listening on https://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
			    "$SERVER_LOG" | tail -n 1)
			[ -z "$HTTPS_PORT" ] || SBASE="https://127.0.0.1:$HTTPS_PORT"
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		tries=$((tries + 1))
		sleep 0.1
	done
	tail -n 5 "$SERVER_LOG" >>"$LOG" 2>/dev/null
	stop_server
	return 1
}

# start_server_https [ARGS...]: start_server with HTTPS on a port the
# kernel chooses; fails if no HTTPS port was logged.
start_server_https() {
	start_server --https 127.0.0.1:0 "$@" && [ -n "$HTTPS_PORT" ]
}

# stop_server: SIGTERM to the server this test started, SIGKILL after
# 10 s. SERVER_STATUS is its exit status (143 and the like if killed).
stop_server() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	tries=0
	while kill -0 "$SERVER_PID" 2>/dev/null && [ $tries -lt 100 ]; do
		tries=$((tries + 1))
		sleep 0.1
	done
	kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_STATUS=$?
	SERVER_PID=
}
