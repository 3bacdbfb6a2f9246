#!/bin/sh
# HSM faults under load: ca-server with HTTPS answers a few loops of
# enrollments (pre-made tokens) and OCSP GETs (a pre-issued certificate)
# while its SoftHSM token directory is moved away and back. During the
# outage enrollment answers 503 with Retry-After and {"error":
# "hsm_unavailable"}, OCSP GETs go on getting the pre-signed response,
# /healthz says the HSM is unavailable and why; afterwards the same
# server process recovers by itself (the PKCS#11 module is initialised
# again): enrollment succeeds and /healthz is ok, within a bounded time.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

instance
TOKENS="$T/ca/hsm/tokens"
must "the instance has a SoftHSM2 token" grep -q '^softhsm2_conf' "$T/ca/ca.conf"
# Loops per enrolling client, tokens per loop, requests per loop at most.
NLOOPS=2
NTOK=40
MAXREQ=600

# A certificate issued before the server starts: its OCSP response is
# pre-signed, so it is served without the HSM.
csr pre
admin issue --profile client --csr "$T/pre.csr" --identity '{"userId":1}' \
    --out "$T/pre.crt" >>"$LOG" 2>&1
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/pre.crt" -no_nonce \
    -reqout "$T/pre.req" >>"$LOG" 2>&1
OCSP_PATH="/ocsp/$(ocsp_get_path "$T/pre.req")"
csr dev
i=0
while [ $i -lt $((NLOOPS * NTOK + 4)) ]; do
	admin token create --profile client --identity "{\"userId\":$((100 + i))}" \
	    --ttl 1h 2>>"$LOG" | sed -n 's/^token: //p' >>"$T/tokens.all"
	i=$((i + 1))
done
eq "tokens made" "$(wc -l <"$T/tokens.all" | tr -d ' ')" $((NLOOPS * NTOK + 4))
# The first few are for this script's own requests, the rest for the loops.
head -n 4 "$T/tokens.all" >"$T/tokens.main"
l=0
while [ $l -lt $NLOOPS ]; do
	sed -n "$((5 + l * NTOK)),$((4 + (l + 1) * NTOK))p" "$T/tokens.all" >"$T/tokens.$l"
	l=$((l + 1))
done

must "ca-server starts with HTTPS" start_server_https
PID0=$SERVER_PID

# enroll TOKEN OUT: POST /api/v1/enroll; prints the status, body in OUT,
# headers in OUT.hdr.
enroll() {
	jq -n --arg t "$1" --rawfile c "$T/dev.csr" '{token: $t, csr: $c}' >"$2.json"
	curl -sS --max-time 10 --cacert "$ROOT" -D "$2.hdr" -o "$2" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$2.json" \
	    "$SBASE/api/v1/enroll" 2>>"$LOG"
}
healthz() { # OUT: the status of GET /healthz, body in OUT
	curl -sS --max-time 10 -o "$1" -w '%{http_code}' "$BASE/healthz" 2>>"$LOG"
}
maintok() { sed -n "${1}p" "$T/tokens.main"; }

# ---- before -----------------------------------------------------------------
eq "enrollment works" "$(enroll "$(maintok 1)" "$T/e1")" 200
eq "/healthz is 200" "$(healthz "$T/h1")" 200
eq "... and says the HSM is ok" "$(jq -r .hsm "$T/h1")" ok
curl -sS --max-time 10 -o "$T/ocsp0.der" "$BASE$OCSP_PATH" 2>>"$LOG"
openssl ocsp -respin "$T/ocsp0.der" -issuer "$CA/issuing.crt" -cert "$T/pre.crt" \
    -CAfile "$ROOT" >"$T/ocsp0.txt" 2>&1
has "OCSP GET: the pre-issued certificate is good" "$T/ocsp0.txt" "$T/pre.crt: good"

# ---- the load ---------------------------------------------------------------
# enroll_loop N: enrolls with tokens.N until they run out, the stop file
# appears or MAXREQ requests were made. A token is used up only by a 200;
# after an error the same token is tried again. One line per request:
# "status error", to enroll.N.log.
enroll_loop() {
	n=0 k=1
	tok=$(sed -n "${k}p" "$T/tokens.$1")
	while [ -n "$tok" ] && [ ! -e "$T/stop" ] && [ $n -lt $MAXREQ ]; do
		code=$(enroll "$tok" "$T/loop.$1")
		err=$(jq -r '.error // "-"' "$T/loop.$1" 2>/dev/null)
		echo "$code $err" >>"$T/enroll.$1.log"
		if [ "$code" = 200 ]; then
			k=$((k + 1))
			tok=$(sed -n "${k}p" "$T/tokens.$1")
		fi
		n=$((n + 1))
		sleep 0.2
	done
}
# ocsp_loop: GETs the pre-issued certificate's OCSP response; one line per
# request, "status bytes", to ocsp.log; keeps the body of each request
# made while the tokens are away (the "away" file exists).
ocsp_loop() {
	n=0
	while [ ! -e "$T/stop" ] && [ $n -lt $MAXREQ ]; do
		out="$T/ocsp.cur"
		[ -e "$T/away" ] && out="$T/ocsp.away.$n"
		curl -sS --max-time 10 -o "$out" -w '%{http_code} %{size_download}\n' \
		    "$BASE$OCSP_PATH" >>"$T/ocsp.log" 2>>"$LOG"
		n=$((n + 1))
		sleep 0.1
	done
}
LOOP_PIDS=
l=0
while [ $l -lt $NLOOPS ]; do
	enroll_loop $l &
	LOOP_PIDS="$LOOP_PIDS $!"
	l=$((l + 1))
done
ocsp_loop &
LOOP_PIDS="$LOOP_PIDS $!"
stop_loops() {
	: >"$T/stop"
	for p in $LOOP_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	LOOP_PIDS=
}
# The loops go first, whatever happens.
trap 'stop_loops; cleanup' EXIT
# count FILE PATTERN: lines of FILE matching PATTERN (0 if none).
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
# wait_for SECONDS CMD...: polls CMD every 0.2 s; fails after SECONDS.
wait_for() {
	limit=$(($1 * 5)); shift
	i=0
	while [ $i -lt $limit ]; do
		"$@" && return 0
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
enrolled() { [ "$(cat "$T"/enroll.*.log 2>/dev/null | count /dev/stdin '^200 ')" -ge "$1" ]; }
check "the loops enroll under load" wait_for 20 enrolled 4

# ---- the outage ---------------------------------------------------------------
: >"$T/away"
mv "$TOKENS" "$TOKENS.away"
for l in $(seq 0 $((NLOOPS - 1))); do
	echo "mark" >>"$T/enroll.$l.log"
done
echo "mark" >>"$T/ocsp.log"
after_mark() { sed -n '/^mark$/,$p' "$1"; }
refused() {
	for f in "$T"/enroll.*.log; do
		after_mark "$f" | grep -q '^503 hsm_unavailable$' && return 0
	done
	return 1
}
check "enrollments under load get 503 hsm_unavailable" wait_for 15 refused
eq "an enrollment while the token is away is 503" "$(enroll "$(maintok 2)" "$T/e2")" 503
eq "... with Retry-After" "$(sed -n 's/^retry-after: *//Ip' "$T/e2.hdr" | tr -d '\r')" 5
eq "... and error hsm_unavailable" "$(jq -r .error "$T/e2")" hsm_unavailable
has "... and a detail" "$T/e2" '"detail":"'
unavailable() { [ "$(healthz "$T/h2")" = 503 ] && grep -q '"hsm":"unavailable: ' "$T/h2"; }
check "/healthz says 503, HSM unavailable" wait_for 15 unavailable
has "... and why" "$T/h2" "C_Initialize"
eq "... status failing" "$(jq -r .status "$T/h2")" failing
ocsp_served() { [ "$(after_mark "$T/ocsp.log" | count /dev/stdin '^200 ')" -ge "$1" ]; }
check "OCSP GETs go on while the token is away" wait_for 10 ocsp_served 5
sleep 1		# the token stays away a little longer, under load
rm -f "$T/away"
mv "$TOKENS.away" "$TOKENS"

# ---- the recovery ---------------------------------------------------------------
recovered() { [ "$(healthz "$T/h3")" = 200 ] && [ "$(jq -r .hsm "$T/h3")" = ok ]; }
check "/healthz is ok again, within a bounded time" wait_for 30 recovered
eq "an enrollment after the token came back is 200" "$(enroll "$(maintok 3)" "$T/e3")" 200
jq -r .certificate "$T/e3" >"$T/e3.crt"
jq -r '.chain[0]' "$T/e3" >"$T/e3.chain"
openssl verify -CAfile "$ROOT" -untrusted "$T/e3.chain" "$T/e3.crt" >"$T/e3.verify" 2>&1
has "... and its certificate verifies" "$T/e3.verify" "$T/e3.crt: OK"
loops_enroll() {
	for f in "$T"/enroll.*.log; do
		tail -n 1 "$f" | grep -q '^200 ' || return 1
	done
}
check "the loops enroll again" wait_for 15 loops_enroll
stop_loops

eq "the same server process all along" "$SERVER_PID" "$PID0"
kill -0 "$SERVER_PID" 2>/dev/null && ok "it is still running" || not_ok "it is still running"
eq "no OCSP GET failed" "$(grep -vc '^200 \|^mark$' "$T/ocsp.log" || true)" 0
n_away=$(ls "$T"/ocsp.away.* 2>/dev/null | wc -l | tr -d ' ')
[ "$n_away" -ge 3 ] && ok "OCSP GETs answered while away ($n_away)" \
    || not_ok "OCSP GETs answered while away ($n_away)"
last=$(ls "$T"/ocsp.away.* 2>/dev/null | tail -n 1)
openssl ocsp -respin "${last:-/dev/null}" -issuer "$CA/issuing.crt" -cert "$T/pre.crt" \
    -CAfile "$ROOT" >"$T/ocsp.away.txt" 2>&1
has "... with the pre-signed response: good" "$T/ocsp.away.txt" "$T/pre.crt: good"
has "... that verifies" "$T/ocsp.away.txt" "Response verify OK"
cmp -s "${last:-/dev/null}" "$T/ocsp0.der" && ok "... the same bytes as before" \
    || not_ok "... the same bytes as before"
eq "no enrollment answered anything but 200 or 503 hsm_unavailable" \
    "$(cat "$T"/enroll.*.log | grep -v '^mark$' | grep -vc '^200 -$\|^503 hsm_unavailable$' || true)" 0

curl -sS --max-time 10 -o "$T/metrics" "$BASE/metrics" 2>>"$LOG"
reinits=$(sed -n 's/^lanyard_hsm_module_reinits_total //p' "$T/metrics")
[ "${reinits:-0}" -ge 1 ] && ok "/metrics counts module re-initialisations ($reinits)" \
    || not_ok "/metrics counts module re-initialisations"
errs=$(sed -n 's/^lanyard_hsm_errors_total //p' "$T/metrics")
[ "${errs:-0}" -ge 1 ] && ok "/metrics counts HSM errors ($errs)" \
    || not_ok "/metrics counts HSM errors"
has "/metrics has no bad signature" "$T/metrics" "lanyard_hsm_bad_signatures_total 0"
has "the log says the module came back" "$SERVER_LOG" "PKCS#11 module re-initialised"

stop_server
eq "ca-server stops cleanly" "${SERVER_STATUS:-x}" 0
done_testing
