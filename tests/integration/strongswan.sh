#!/bin/bash
# strongSwan's pki as an EST client (RFC 7030): --estca fetches the CA
# certificates, --est enrolls with a one-time token over HTTP Basic and
# re-enrolls with the certificate it got (TLS client authentication).
# pki parses base64 only without line breaks (RFC 8951 3, RFC 7030
# erratum 5904), so every answer must be one line; what clients send may
# still have line breaks. pki is strongswan-pki; its HTTPS fetcher is the
# curl plugin of libstrongswan-extra-plugins.
. "$(dirname "$0")/lib.sh"

need pki curl openssl
instance
# Re-enrollment at once needs a profile whose window is the whole life.
cat >>"$T/ca/ca.conf" <<'CONF'

[profile device]
reissue_threshold = 100%
CONF
TOK=$(admin token create --profile device --identity '{"userId":77}' 2>>"$LOG" |
    sed -n 's/^token: *//p')
must "ca-server starts" start_server_https
URL="https://127.0.0.1:$HTTPS_PORT"
# pki PKI-ARGS...: strongSwan's pki, its chatter in the log.
spki() { timeout 60 pki "$@" 2>>"$LOG"; }

# ---- every EST answer is base64 on one line ----------------------------------
oneline() {
	c=$(curl -sS --max-time 20 --cacert "$ROOT" -o "$T/body" -w '%{http_code}' "$@" 2>>"$LOG")
	if [ "$c" = 200 ] && [ "$(tr -d '\r' <"$T/body" | wc -l)" -le 1 ] &&
	    ! tr -d '\r\n' <"$T/body" | grep -q '[^A-Za-z0-9+/=]'; then echo yes
	else echo "no (HTTP $c, $(wc -l <"$T/body") lines)"; fi
}
eq "cacerts is base64 without line breaks" "$(oneline "$URL/.well-known/est/cacerts")" yes

# ---- pki --estca -----------------------------------------------------------------
(cd "$T" && spki --estca --url "$URL" --cacert "$ROOT" --caout "$T/estca.pem" \
    --outform pem --force) >>"$LOG"
check "pki --estca fetches the CA certificates" test -s "$T/estca.pem"
has "... the root, which it checks against the TLS root" "$T/estca.pem" "BEGIN CERTIFICATE"
check "... the root is the instance's" cmp -s \
    <(openssl x509 -in "$T/estca.pem" -outform DER) <(openssl x509 -in "$ROOT" -outform DER)
check "... and the issuing CA, as a second file" cmp -s \
    <(openssl x509 -in "$T/estca-1.pem" -outform DER 2>>"$LOG") \
    <(openssl x509 -in "$T/ca/certs/issuing.crt" -outform DER)

# ---- pki --est with the token -------------------------------------------------
spki --gen --type ecdsa --size 256 --outform pem >"$T/dev.key"
spki --req --in "$T/dev.key" --type priv --dn "CN=pki-device" --outform der >"$T/dev.csr"
spki --est --url "$URL" --cacert "$ROOT" --in "$T/dev.csr" \
    --userpass "device:$TOK" --outform pem >"$T/dev.crt"
check "pki --est enrolls with the token (HTTP Basic)" \
    openssl verify -CAfile "$ROOT" -untrusted "$T/ca/certs/issuing.crt" "$T/dev.crt"
check "... the certificate is for the CSR's key" cmp -s \
    <(openssl x509 -in "$T/dev.crt" -noout -pubkey) <(openssl pkey -in "$T/dev.key" -pubout)
openssl x509 -in "$T/dev.crt" -noout -ext subjectAltName >"$T/san.txt" 2>>"$LOG"
has "... with the token's identity" "$T/san.txt" '"userId":77'
spki --est --url "$URL" --cacert "$ROOT" --in "$T/dev.csr" \
    --userpass "device:$TOK" --outform pem >"$T/again.crt"
fails "pki --est with the used token is refused" test -s "$T/again.crt"

# ---- pki --est re-enrolls with its certificate -----------------------------------
spki --gen --type ecdsa --size 256 --outform pem >"$T/new.key"
spki --req --in "$T/new.key" --type priv --dn "CN=pki-device" --outform der >"$T/new.csr"
spki --est --url "$URL" --cacert "$ROOT" --in "$T/new.csr" \
    --cert "$T/dev.crt" --key "$T/dev.key" --outform pem >"$T/new.crt"
check "pki --est re-enrolls with the certificate (simplereenroll)" \
    openssl verify -CAfile "$ROOT" -untrusted "$T/ca/certs/issuing.crt" "$T/new.crt"
check "... for the new key" cmp -s \
    <(openssl x509 -in "$T/new.crt" -noout -pubkey) <(openssl pkey -in "$T/new.key" -pubout)
openssl x509 -in "$T/new.crt" -noout -ext subjectAltName >"$T/san2.txt" 2>>"$LOG"
has "... keeping the identity" "$T/san2.txt" '"userId":77'
old=$(openssl x509 -in "$T/dev.crt" -noout -serial | cut -d= -f2)
admin show --serial "$old" --json >"$T/old.json" 2>>"$LOG"
has "... the old certificate is superseded" "$T/old.json" superseded

# ---- what clients send may have line breaks (RFC 8951) ---------------------------
TOK2=$(admin token create --profile device --identity '{"userId":78}' 2>>"$LOG" |
    sed -n 's/^token: *//p')
base64 -w 64 <"$T/dev.csr" >"$T/dev.b64"
[ "$(wc -l <"$T/dev.b64")" -gt 1 ] || echo "the CSR's base64 is one line" >>"$LOG"
eq "simpleenroll with a body in 64-character lines is answered on one line" \
    "$(oneline -u "x:$TOK2" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/dev.b64" "$URL/.well-known/est/simpleenroll")" yes
eq "simplereenroll is answered on one line" \
    "$(oneline --cert "$T/new.crt" --key "$T/new.key" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/dev.b64" "$URL/.well-known/est/simplereenroll")" yes

stop_server
check "the audit chain verifies" admin audit verify
done_testing
