#!/bin/sh
# Secrets stay secret: after a run that touches every path that handles
# one — init (PINs), token create/enroll (one-time tokens, by JSON and by
# EST Basic auth, good, reused and wrong), the agent (its private key),
# the server's TLS key, reissue, revocation — no PIN, token or private key
# appears in the server's log, in any ca-admin or ca-enroll message, in
# the audit log or in a process's argv; core dumps are off in ca-server.
. "$(dirname "$0")/lib.sh"

need openssl curl

instance
OUT="$T/messages"	# every message a command printed but the token itself
: >"$OUT"
# -v: the server logs at debug level, the most it ever says.
must "ca-server starts" start_server_https -v

mktoken() {
	admin token create --profile client --identity "$1" --ttl 1h \
	    2>>"$OUT" | sed -n 's/^token: *//p'
}
t1=$(mktoken '{"platform":"linux","userId":7001}')
t2=$(mktoken '{"platform":"linux","userId":7002}')
t3=$(mktoken '{"platform":"linux","userId":7003}')
printf '%s\n%s\n%s\n' "$t1" "$t2" "$t3" >"$T/tokens"

# JSON enrollment, then the same token again (refused).
csr d1
body=$(printf '{"token":"%s","csr":"%s"}' "$t1" "$(awk '{printf "%s\\n", $0}' "$T/d1.csr")")
for i in 1 2; do
	curl -sS --max-time 10 --cacert "$CA/root.crt" -H 'Content-Type: application/json' \
	    -d "$body" "$SBASE/api/v1/enroll" >>"$T/responses" 2>>"$OUT"
done
# EST with the token as the Basic password, and a wrong one.
csr d2
openssl req -in "$T/d2.csr" -outform DER | openssl base64 >"$T/d2.b64"
curl -sS --max-time 10 --cacert "$CA/root.crt" --user "dev:$t2" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/d2.b64" \
    "$SBASE/.well-known/est/simpleenroll" >"$T/est.b64" 2>>"$OUT"
curl -sS --max-time 10 --cacert "$CA/root.crt" --user "dev:${t2}x" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/d2.b64" \
    "$SBASE/.well-known/est/simpleenroll" >>"$T/responses" 2>>"$OUT"
# The agent: a key made on the device, enrollment, a renewal attempt.
printf '%s\n' "$t3" >"$T/t3"
"$top_builddir/ca-enroll" --server "$SBASE" --ca-file "$CA/root.crt" \
    --token-file "$T/t3" --identity-dir "$T/id" >>"$OUT" 2>&1
"$top_builddir/ca-enroll" renew --identity-dir "$T/id" >>"$OUT" 2>&1
# Revocation and the audit log.
serial=$(openssl x509 -in "$T/id/cert.pem" -noout -serial 2>/dev/null | cut -d= -f2)
admin revoke --serial "$serial" --reason keyCompromise >>"$OUT" 2>&1
admin audit list --json >"$T/audit.json" 2>>"$OUT"
check "the run enrolled by JSON, EST and the agent" test -s "$T/id/cert.pem" -a -s "$T/est.b64"
grep -q '"certificate"' "$T/responses" && ok "... and JSON" || not_ok "... and JSON"
ps -o args= -p "$SERVER_PID" >"$T/argv" 2>/dev/null
stop_server

# What must not appear anywhere. Keys: a line of each PEM body is enough.
: >"$T/secrets"
for p in "$T"/ca/hsm/*.pin; do
	# PIN files have no newline at the end.
	[ -e "$p" ] && { head -n 1 "$p"; echo; } >>"$T/secrets"
done
cat "$T/tokens" >>"$T/secrets"
for k in "$T/ca/tls/server.key" "$T/id/key.pem" "$T/d1.key" "$T/d2.key"; do
	[ -e "$k" ] && sed -n 2p "$k" >>"$T/secrets"
done
n_secrets=$(grep -c . "$T/secrets")
[ "$n_secrets" -ge 10 ] && ok "secrets to look for: $n_secrets" ||
    not_ok "secrets to look for: $n_secrets"
cat "$T"/server.*.log >"$T/serverlog"
grep -c . "$T/serverlog" >/dev/null && ok "the server logged ($(wc -l <"$T/serverlog") lines)" ||
    not_ok "the server logged"
for f in serverlog messages audit.json argv responses; do
	if grep -F -f "$T/secrets" "$T/$f" >"$T/found" 2>/dev/null; then
		not_ok "no secret in $f"
		head -n 3 "$T/found" >>"$LOG"
	else
		ok "no secret in $f"
	fi
done
# Core dumps: the server turns them off for itself at start.
must "ca-server starts again" start_server
eq "ca-server's core file limit is 0" \
    "$(sed -n 's/^Max core file size *\([0-9a-z]*\).*/\1/p' /proc/"$SERVER_PID"/limits)" 0
stop_server

done_testing
