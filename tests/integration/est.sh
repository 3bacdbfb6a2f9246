#!/bin/sh
# EST (RFC 7030, base64 per RFC 8951) with real clients, curl and openssl
# only: cacerts is a certs-only PKCS#7 of the instance's issuing and root
# CAs; simpleenroll takes the one-time token as the HTTP Basic password and
# gives the token's identity, never the CSR's wishes; refused credentials
# are 401 with WWW-Authenticate and bad bodies 400, neither using the token;
# simplereenroll authenticates with the client certificate, keeps the
# identity, records the old certificate as superseded, and refuses a
# superseded or revoked one without issuing anything.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

instance
ID='{"userId":42,"platform":"linux"}'
CANON='{"platform":"linux","userId":42}'

# A profile whose certificates may be reissued at once (the client
# profile's 7-day window would make simplereenroll 409 for a new one).
cat >>"$T/ca/ca.conf" <<'CONF'

[profile device]
reissue_threshold = 100%
CONF
must "ca-server starts with HTTPS" start_server_https

# est OP [curl options...]: the status of an EST request; the body in
# $T/body, the response headers in $T/hdr.
est() {
	op=$1; shift
	rm -f "$T/body" "$T/hdr"
	curl -sS --max-time 20 --cacert "$ROOT" -D "$T/hdr" -o "$T/body" \
	    -w '%{http_code}' "$@" "$SBASE/.well-known/est/$op" 2>>"$LOG"
}
# hdr NAME: the value of a response header of the last est.
hdr() { sed -n "s/^$1: *//Ip" "$T/hdr" | tr -d '\r' | tail -n 1; }
# json_error: the "error" of a JSON error body.
json_error() { sed -n 's/.*"error":"\([a-z_]*\)".*/\1/p' "$T/body"; }
# p7certs OUT: the certificates of the base64 PKCS#7 body, PEM, in OUT;
# prints how many there are. The body is one line (RFC 8951): -A.
p7certs() {
	tr -d '\r\n' <"$T/body" | openssl base64 -d -A >"$1.p7" 2>>"$LOG" &&
	    openssl pkcs7 -inform DER -in "$1.p7" -print_certs -out "$1" \
	    >>"$LOG" 2>&1 || { echo 0; return; }
	grep -c 'BEGIN CERTIFICATE' "$1"
}
# fps FILE: the SHA-256 fingerprint of each certificate in FILE, in order.
fps() {
	awk '/-----BEGIN CERTIFICATE-----/ { pem = "" } { pem = pem $0 "\n" }
	    /-----END CERTIFICATE-----/ {
		cmd = "openssl x509 -noout -fingerprint -sha256"
		printf "%s", pem | cmd; close(cmd) }' "$1"
}
# san CERT: the subjectAltName entries on one line.
san() {
	openssl x509 -in "$1" -noout -ext subjectAltName 2>>"$LOG" | sed 1d |
	    sed 's/^ *//'
}
pubkey_of() { openssl x509 -in "$1" -noout -pubkey; }
ncerts() { admin list --status all --json 2>>"$LOG" | grep -c '"serial"'; }

# ---- cacerts, csrattrs ------------------------------------------------------
eq "cacerts is 200" "$(est cacerts)" 200
ct=$(hdr Content-Type)
case $ct in
application/pkcs7-mime*) ok "cacerts is application/pkcs7-mime ($ct)" ;;
*) echo "Content-Type: $ct" >>"$LOG"; not_ok "cacerts is application/pkcs7-mime" ;;
esac
eq "cacerts has Content-Transfer-Encoding: base64" \
    "$(hdr Content-Transfer-Encoding)" base64
eq "cacerts decodes to a PKCS#7 of two certificates" "$(p7certs "$T/cacerts.pem")" 2
openssl pkcs7 -inform DER -in "$T/cacerts.pem.p7" -print -noout >"$T/p7.txt" 2>>"$LOG"
eq "cacerts is certs-only: no signers" \
    "$(awk '/signer_info:/ { getline; print $1 }' "$T/p7.txt")" "<EMPTY>"
fps "$T/cacerts.pem" >"$T/cacerts.fp"
eq "the first certificate is the instance's issuing CA" \
    "$(sed -n 1p "$T/cacerts.fp")" "$(fps "$CA/issuing.crt")"
eq "the second certificate is the instance's root" \
    "$(sed -n 2p "$T/cacerts.fp")" "$(fps "$ROOT")"

eq "csrattrs is 204 (no attributes asked for)" "$(est csrattrs)" 204
eq "... with no body" "$(wc -c <"$T/body" | tr -d ' ')" 0

# ---- simpleenroll -------------------------------------------------------------
admin token create --profile device --identity "$ID" --ttl 1h >"$T/tok.out" 2>>"$LOG"
TOKEN=$(sed -n 's/^token: //p' "$T/tok.out")
TID=$(sed -n 's/^id: //p' "$T/tok.out")
[ -n "$TOKEN" ] && ok "a token for the device profile" || not_ok "a token for the device profile"
# A CSR that asks for another name and other SANs: all of it is ignored.
csr dev -subj /CN=admin \
    -addext 'subjectAltName=URI:spiffe://evil/x,DNS:evil.example'
openssl req -in "$T/dev.csr" -outform DER -out "$T/dev.der" 2>>"$LOG"
openssl base64 -in "$T/dev.der" -out "$T/dev.b64"
EST_CSR="-H Content-Type:application/pkcs10 --data-binary @$T/dev.b64"
n0=$(ncerts)

# shellcheck disable=SC2086
eq "simpleenroll without credentials is 401" "$(est simpleenroll $EST_CSR)" 401
case $(hdr WWW-Authenticate) in
Basic*) ok "... with WWW-Authenticate: Basic" ;;
*) not_ok "... with WWW-Authenticate: Basic" ;;
esac
eq "... and says unauthorized" "$(json_error)" unauthorized
# shellcheck disable=SC2086
eq "a bad token is 401" "$(est simpleenroll -u "dev:nosuchtoken" $EST_CSR)" 401
case $(hdr WWW-Authenticate) in
Basic*) ok "... with WWW-Authenticate: Basic" ;;
*) not_ok "... with WWW-Authenticate: Basic" ;;
esac
eq "... and says token_invalid" "$(json_error)" token_invalid
eq "base64 garbage is 400" "$(est simpleenroll -u "dev:$TOKEN" \
    -H Content-Type:application/pkcs10 --data-binary 'not*base64!')" 400
eq "... bad_csr" "$(json_error)" bad_csr
eq "a CSR that is not application/pkcs10 is 415" "$(est simpleenroll -u "dev:$TOKEN" \
    -H Content-Type:application/json --data-binary @"$T/dev.b64")" 415
eq "... unsupported_media_type" "$(json_error)" unsupported_media_type
eq "GET simpleenroll is 405" "$(est simpleenroll)" 405
eq "... Allow: POST" "$(hdr Allow)" POST
eq "... method_not_allowed" "$(json_error)" method_not_allowed
printf 'hello, this is not a CSR\n' | openssl base64 >"$T/notcsr.b64"
eq "base64 of something that is not a CSR is 400" "$(est simpleenroll \
    -u "dev:$TOKEN" -H Content-Type:application/pkcs10 \
    --data-binary @"$T/notcsr.b64")" 400
eq "... bad_csr" "$(json_error)" bad_csr
# An admin's client certificate does not stand in for a token.
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":7}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1
n0=$((n0 + 1))
# shellcheck disable=SC2086
eq "a client certificate alone (an admin's) is 401" "$(est simpleenroll \
    --cert "$T/adm.crt" --key "$T/adm.key" $EST_CSR)" 401
eq "the refusals issued nothing" "$(ncerts)" "$n0"
eq "... and left the token unused" "$(token_state "$TID")" unused

# shellcheck disable=SC2086
eq "simpleenroll with the token is 200" "$(est simpleenroll -u "dev:$TOKEN" $EST_CSR)" 200
ct=$(hdr Content-Type)
case $ct in
application/pkcs7-mime*) ok "... application/pkcs7-mime" ;;
*) echo "Content-Type: $ct" >>"$LOG"; not_ok "... application/pkcs7-mime" ;;
esac
eq "... Content-Transfer-Encoding: base64" "$(hdr Content-Transfer-Encoding)" base64
eq "... a PKCS#7 of the certificate and its issuer" "$(p7certs "$T/p7.pem")" 2
eq "... the second is the issuing CA that signed it" \
    "$(fps "$T/p7.pem" | sed -n 2p)" "$(fps "$CA/issuing.crt")"
openssl x509 -in "$T/p7.pem" -out "$T/dev.crt" 2>>"$LOG"
eq "its only SAN is the token's canonical identity" "$(san "$T/dev.crt")" "URI:$CANON"
openssl x509 -in "$T/dev.crt" -noout -text >"$T/dev.txt" 2>>"$LOG"
lacks "none of the CSR's SANs (DNS)" "$T/dev.txt" "evil.example"
lacks "none of the CSR's SANs (URI)" "$T/dev.txt" "spiffe://evil"
lacks "not the CSR's subject" "$T/dev.txt" "CN = admin"
eq "the certificate is for the CSR's key" "$(pubkey_of "$T/dev.crt")" \
    "$(openssl req -in "$T/dev.csr" -noout -pubkey)"
openssl verify -CAfile "$ROOT" -untrusted "$CA/issuing.crt" "$T/dev.crt" \
    >"$T/verify.out" 2>&1
has "it verifies against the chain" "$T/verify.out" "$T/dev.crt: OK"
S1=$(serial_of "$T/dev.crt")
admin show --serial "$S1" --json >"$T/show1.json" 2>>"$LOG"
has "the store has it under the device profile" "$T/show1.json" '"profile": "device"'
eq "the token is used" "$(token_state "$TID")" used
# shellcheck disable=SC2086
eq "the token a second time is 401" "$(est simpleenroll -u "dev:$TOKEN" $EST_CSR)" 401
eq "... token_used" "$(json_error)" token_used

# ---- simplereenroll -----------------------------------------------------------
csr dev2 -subj /CN=root -addext 'subjectAltName=DNS:evil.example'
# One line of base64 this time: RFC 8951 allows either.
openssl req -in "$T/dev2.csr" -outform DER | openssl base64 -A >"$T/dev2.b64"
RE_CSR="-H Content-Type:application/pkcs10 --data-binary @$T/dev2.b64"
n1=$(ncerts)
# shellcheck disable=SC2086
eq "simplereenroll without a client certificate is 401" \
    "$(est simplereenroll $RE_CSR)" 401
# shellcheck disable=SC2086
eq "simplereenroll with the enrolled certificate is 200" "$(est simplereenroll \
    --cert "$T/dev.crt" --key "$T/dev.key" $RE_CSR)" 200
eq "... a PKCS#7 of the certificate and its issuer" "$(p7certs "$T/p7b.pem")" 2
eq "... the second is the issuing CA that signed it" \
    "$(fps "$T/p7b.pem" | sed -n 2p)" "$(fps "$CA/issuing.crt")"
openssl x509 -in "$T/p7b.pem" -out "$T/dev2.crt" 2>>"$LOG"
S2=$(serial_of "$T/dev2.crt")
[ -n "$S2" ] && [ "$S2" != "$S1" ] && ok "the new certificate has a new serial" ||
    not_ok "the new certificate has a new serial"
eq "... the same identity" "$(san "$T/dev2.crt")" "URI:$CANON"
eq "... for the new CSR's key" "$(pubkey_of "$T/dev2.crt")" \
    "$(openssl req -in "$T/dev2.csr" -noout -pubkey)"
openssl verify -CAfile "$ROOT" -untrusted "$CA/issuing.crt" "$T/dev2.crt" \
    >"$T/verify2.out" 2>&1
has "... and verifies against the chain" "$T/verify2.out" "$T/dev2.crt: OK"
admin show --serial "$S1" --json >"$T/show1.json" 2>>"$LOG"
has "the old certificate is recorded as superseded by the new" \
    "$T/show1.json" "\"superseded_by\": \"$S2\""
admin show --serial "$S2" --json >"$T/show2.json" 2>>"$LOG"
has "the new one records what it supersedes" "$T/show2.json" "\"supersedes\": \"$S1\""
eq "one certificate more in the store" "$(ncerts)" $((n1 + 1))

# shellcheck disable=SC2086
eq "the superseded certificate asking again for the same key: 200" "$(est simplereenroll \
    --cert "$T/dev.crt" --key "$T/dev.key" $RE_CSR)" 200
p7certs "$T/p7c.pem" >/dev/null
openssl x509 -in "$T/p7c.pem" -out "$T/dev2again.crt" 2>>"$LOG"
eq "... gets the successor again" "$(serial_of "$T/dev2again.crt")" "$S2"
eq "... and nothing new is issued" "$(ncerts)" $((n1 + 1))
csr dev3
openssl req -in "$T/dev3.csr" -outform DER | openssl base64 -A >"$T/dev3.b64"
# shellcheck disable=SC2086
eq "the superseded certificate cannot reenroll for another key: 403" "$(est simplereenroll \
    --cert "$T/dev.crt" --key "$T/dev.key" -H Content-Type:application/pkcs10 \
    --data-binary @"$T/dev3.b64")" 403
eq "... forbidden" "$(json_error)" forbidden
check "revoke the new certificate" admin revoke --serial "$S2" --reason keyCompromise
# shellcheck disable=SC2086
eq "a revoked client certificate cannot reenroll: 403" "$(est simplereenroll \
    --cert "$T/dev2.crt" --key "$T/dev2.key" $RE_CSR)" 403
eq "... revoked" "$(json_error)" revoked
lacks "... and gets no certificate" "$T/body" "MII"
eq "neither refusal issued anything" "$(ncerts)" $((n1 + 1))

admin audit list >"$T/audit.txt" 2>>"$LOG"
has "the token use is audited" "$T/audit.txt" "token-use"
has "the reissue is audited" "$T/audit.txt" "reissue:$S1"
check "audit verifies" admin audit verify

stop_server
done_testing
