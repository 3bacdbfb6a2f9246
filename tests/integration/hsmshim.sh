#!/bin/sh
# Signing faults through the PKCS#11 shim (tests/shim/p11shim.c), which
# wraps the instance's SoftHSM2 and injects faults named in a file: in
# ca-server, CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID and
# CKR_USER_NOT_LOGGED_IN from C_Sign are recovered by reopening the
# session (the enrollment succeeds, /metrics counts the reopen); a
# corrupted signature is refused, logged and counted: no certificate is
# stored (the token stays usable), no OCSP response is sent (tryLater
# instead), no CRL is published (ca-admin), and /healthz reports it.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

must "the PKCS#11 shim is built (make check builds it)" test -r "${P11SHIM:-}"
instance
PUB="$T/ca/publish"

# From here on every process of the instance goes through the shim.
SHIM_MODULE=$(softhsm_module)
SHIM_FAULT_FILE="$T/faults"
export SHIM_MODULE SHIM_FAULT_FILE
sed -i "s|^module = .*|module = $P11SHIM|" "$T/ca/ca.conf"
: >"$SHIM_FAULT_FILE"
faults() { printf '%s' "$1" >"$SHIM_FAULT_FILE"; }

csr pre
check "ca-admin issues through the shim" admin issue --profile client \
    --csr "$T/pre.csr" --identity '{"userId":1}' --out "$T/pre.crt"
csr dev
must "ca-server starts with HTTPS" start_server_https
# Let the start-up signing (OCSP responses) finish before faults are set.
i=0
while [ $i -lt 100 ] && ! grep -q "responses re-signed" "$SERVER_LOG"; do
	sleep 0.1; i=$((i + 1))
done

# token NAME: a one-time token in $T/NAME.tok, its id in $T/NAME.id.
token() {
	admin token create --profile client --identity "{\"userId\":$2}" --ttl 1h \
	    >"$T/$1.out" 2>>"$LOG"
	sed -n 's/^token: //p' "$T/$1.out" >"$T/$1.tok"
	sed -n 's/^id: //p' "$T/$1.out" >"$T/$1.id"
}
# enroll NAME: POST /api/v1/enroll with NAME's token; prints the status,
# body in $T/NAME.body, headers in $T/NAME.hdr.
enroll() {
	jq -n --rawfile t "$T/$1.tok" --rawfile c "$T/dev.csr" \
	    '{token: ($t | rtrimstr("\n")), csr: $c}' >"$T/$1.json"
	curl -sS --max-time 20 --cacert "$ROOT" -D "$T/$1.hdr" -o "$T/$1.body" \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @"$T/$1.json" "$SBASE/api/v1/enroll" 2>>"$LOG"
}
verifies() { # NAME: the certificate of NAME's answer verifies with the chain
	jq -r .certificate "$T/$1.body" >"$T/$1.crt"
	openssl verify -CAfile "$ROOT" -untrusted "$CA/issuing.crt" "$T/$1.crt" \
	    >"$T/$1.verify" 2>&1 && grep -q "$T/$1.crt: OK" "$T/$1.verify"
}
metric() { # NAME: its value in a fresh /metrics
	curl -sS --max-time 10 "$BASE/metrics" 2>>"$LOG" | sed -n "s/^$1 //p"
}
ncerts() { admin list --status valid --json 2>>"$LOG" | jq length; }

token base 10
eq "enrollment through the shim" "$(enroll base)" 200
check "... its certificate verifies" verifies base

# ---- errors from C_Sign: reopen the session -------------------------------------
# Two in a row: pkcs11-helper's own retry fails too, so Lanyard reopens.
k=0
for code in CKR_DEVICE_ERROR CKR_SESSION_HANDLE_INVALID CKR_USER_NOT_LOGGED_IN; do
	k=$((k + 1))
	token "e$k" $((20 + k))
	faults "sign:$code:2"
	eq "$code twice: the enrollment is 200" "$(enroll "e$k")" 200
	check "... its certificate verifies" verifies "e$k"
	eq "... both faults were hit" "$(cat "$SHIM_FAULT_FILE")" "sign:$code:0"
	eq "... one more session reopened" "$(metric lanyard_hsm_session_reopens_total)" $k
done
has "the reopens are logged" "$SERVER_LOG" "signing failed; reopening the session"
eq "no module re-initialisation was needed" "$(metric lanyard_hsm_module_reinits_total)" 0
eq "no bad signature" "$(metric lanyard_hsm_bad_signatures_total)" 0

# ---- a corrupted signature: refused, nothing stored ------------------------------
token bad 30
n0=$(ncerts)
faults "sign:corrupt:1"
eq "a corrupted certificate signature: 503" "$(enroll bad)" 503
eq "... hsm_unavailable" "$(jq -r .error "$T/bad.body")" hsm_unavailable
eq "... with Retry-After" "$(sed -n 's/^retry-after: *//Ip' "$T/bad.hdr" | tr -d '\r')" 5
eq "... the fault was hit once" "$(cat "$SHIM_FAULT_FILE")" "sign:corrupt:0"
eq "... no certificate was stored (the serial stays reserved)" "$(ncerts)" "$n0"
has "... it is logged" "$SERVER_LOG" "bad signature refused"
eq "... and counted" "$(metric lanyard_hsm_bad_signatures_total)" 1
[ "$(token_state "$(cat "$T/bad.id")")" != used ] && ok "... the token is not used up" \
    || not_ok "... the token is not used up"
eq "the same token afterwards: 200" "$(enroll bad)" 200
check "... its certificate verifies" verifies bad
eq "... one certificate more" "$(ncerts)" $((n0 + 1))

# An OCSP request with a nonce is signed on demand: a bad signature is not sent.
ocsp_ask() { # OUT: POST with a nonce
	openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/pre.crt" -url "$BASE/ocsp" \
	    -CAfile "$ROOT" -resp_text >"$1" 2>&1
}
faults "sign:corrupt:1"
ocsp_ask "$T/ocsp.bad"
has "a corrupted OCSP signature: the answer is tryLater" "$T/ocsp.bad" "trylater"
lacks "... no signed response" "$T/ocsp.bad" "Response verify OK"
eq "... the fault was hit once" "$(cat "$SHIM_FAULT_FILE")" "sign:corrupt:0"
eq "... counted" "$(metric lanyard_hsm_bad_signatures_total)" 2
ocsp_ask "$T/ocsp.good"
has "then the OCSP answer is good" "$T/ocsp.good" "$T/pre.crt: good"
has "... and verifies" "$T/ocsp.good" "Response verify OK"

# /healthz signs a probe: a token that signs wrongly is not healthy.
hz() { curl -sS --max-time 10 -o "$T/hz" -w '%{http_code}' "$BASE/healthz" 2>>"$LOG"; }
faults "sign:corrupt:*"
wait_hz() { # STATUS: polls /healthz (probes run every 2 s) for STATUS
	i=0
	while [ $i -lt 50 ]; do
		[ "$(hz)" = "$1" ] && return 0
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
check "/healthz: 503 while the token signs wrongly" wait_hz 503
has "... the HSM is unavailable: its signature does not verify" "$T/hz" \
    '"hsm":"unavailable: key pkcs11:'
has "... says why" "$T/hz" "does not verify"
faults ""
check "/healthz: 200 again once it signs well" wait_hz 200
eq "... hsm ok" "$(jq -r .hsm "$T/hz")" ok
stop_server

# ---- CRLs (ca-admin, a process of its own) -----------------------------------
cp "$PUB/issuing.crl" "$T/issuing.before"
cp "$PUB/root.crl" "$T/root.before"
faults "sign:corrupt:*"
refuse "crl publish with every signature corrupted fails" admin crl publish
has "... says the signature does not verify" "$T/refuse.err" "does not verify"
check "... no issuing CRL was published" cmp -s "$PUB/issuing.crl" "$T/issuing.before"
check "... no root CRL was published" cmp -s "$PUB/root.crl" "$T/root.before"
# The signatures of one publish: root template, root CRL, issuing template,
# issuing CRL, issuing delta. The fourth is checked by crl/ itself.
faults "sign:CKR_OK:3
sign:corrupt:1
"
refuse "crl publish with the issuing CRL's signature corrupted fails" admin crl publish
has "... the CRL's own check refused it" "$T/refuse.err" \
    "CRL signature that does not verify with the issuing CA key"
check "... no issuing CRL was published" cmp -s "$PUB/issuing.crl" "$T/issuing.before"
faults ""
check "crl publish without faults" admin crl publish
fails "... a new issuing CRL" cmp -s "$PUB/issuing.crl" "$T/issuing.before"
openssl crl -inform DER -in "$PUB/issuing.crl" -out "$T/issuing.pem" 2>>"$LOG"
openssl crl -in "$T/issuing.pem" -CAfile "$CA/chain.pem" -noout >"$T/crlv.txt" 2>&1
has "... that verifies" "$T/crlv.txt" "verify OK"
done_testing
