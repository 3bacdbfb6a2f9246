#!/bin/sh
# The OCSP responder with real clients: openssl ocsp over POST and GET,
# GnuTLS ocsptool, good / revoked / unknown / unauthorized / malformed,
# RFC 5019 caching headers, and responses that verify against the CA.
. "$(dirname "$0")/lib.sh"

need openssl curl ocsptool

instance
csr c1
admin issue --profile client --csr "$T/c1.csr" --identity '{"userId":1}' --out "$T/c1.crt" 2>>"$LOG"
csr c2
admin issue --profile client --csr "$T/c2.csr" --identity '{"userId":2}' --out "$T/c2.crt" 2>>"$LOG"
must "ca-server starts" start_server
ok "ca-server started at $BASE"

ocsp_ask() { # CERT OUT [extra openssl ocsp options]: POST to the responder
	cert=$1 out=$2; shift 2
	openssl ocsp -issuer "$CA/issuing.crt" -cert "$cert" -url "$BASE/ocsp" \
	    -CAfile "$CA/root.crt" -resp_text "$@" >"$out" 2>&1
}

# POST, good.
ocsp_ask "$T/c1.crt" "$T/good.txt"
has "POST: a valid certificate is good" "$T/good.txt" "$T/c1.crt: good"
has "the response verifies against the CA" "$T/good.txt" "Response verify OK"
has "responder ID by key hash" "$T/good.txt" "Responder Id: "
has "signed by the delegated OCSP signer" "$T/good.txt" "OCSP Signing"
has "the signer carries ocsp-nocheck" "$T/good.txt" "OCSP No Check"
has "openssl's nonce is echoed" "$T/good.txt" "OCSP Nonce"
lacks "no nonce warning" "$T/good.txt" "WARNING: no nonce"
has "thisUpdate and nextUpdate" "$T/good.txt" "Next Update:"

# GET (RFC 5019), good, with caching headers.
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/c1.crt" -no_nonce -reqout "$T/req1.der" >>"$LOG" 2>&1
curl -sS -D "$T/get.hdr" -o "$T/get1.der" "$BASE/ocsp/$(ocsp_get_path "$T/req1.der")" 2>>"$LOG"
openssl ocsp -respin "$T/get1.der" -issuer "$CA/issuing.crt" -cert "$T/c1.crt" \
    -CAfile "$CA/root.crt" -resp_text >"$T/get.txt" 2>&1
has "GET: good" "$T/get.txt" "$T/c1.crt: good"
has "GET: verifies" "$T/get.txt" "Response verify OK"
has "GET: content type" "$T/get.hdr" "application/ocsp-response"
has "GET: Cache-Control max-age" "$T/get.hdr" "max-age="
has "GET: ETag" "$T/get.hdr" "ETag: \""
has "GET: Last-Modified" "$T/get.hdr" "Last-Modified: "
has "GET: Expires" "$T/get.hdr" "Expires: "
curl -sS -o "$T/get1b.der" "$BASE/ocsp/$(ocsp_get_path "$T/req1.der")" 2>>"$LOG"
cmp -s "$T/get1.der" "$T/get1b.der" && ok "GET twice: the same pre-signed bytes" \
    || not_ok "GET twice: the same pre-signed bytes"
# The same request, base64 not percent-encoded, as some clients send it.
raw=$(openssl base64 -A <"$T/req1.der")
curl -sS -o "$T/get1c.der" "$BASE/ocsp/$raw" 2>>"$LOG"
cmp -s "$T/get1.der" "$T/get1c.der" && ok "GET with raw base64 in the path" \
    || not_ok "GET with raw base64 in the path"

# GnuTLS agrees.
# The delegated signer is the issuing CA's: trust the chain, as a relying party does.
ocsptool --ask="$BASE/ocsp" --load-issuer "$CA/issuing.crt" --load-cert "$T/c1.crt" \
    --load-trust "$CA/chain.pem" --outfile "$T/gnutls.der" >"$T/gnutls.txt" 2>&1
has "ocsptool --ask: good" "$T/gnutls.txt" "Certificate Status: good"
has "ocsptool --ask: the signature verifies" "$T/gnutls.txt" "Verifying OCSP Response: Success"
ocsptool --response-info --load-response "$T/get1.der" >"$T/gnutls-info.txt" 2>&1
has "ocsptool --response-info reads our GET response" "$T/gnutls-info.txt" "Certificate Status: good"

# Revoked, with reason and time, visible at once (no CRL run needed).
s2=$(openssl x509 -in "$T/c2.crt" -noout -serial | cut -d= -f2)
admin revoke --serial "$s2" --reason keyCompromise >>"$LOG" 2>&1
ocsp_ask "$T/c2.crt" "$T/rev.txt"
has "after revoke: revoked" "$T/rev.txt" "$T/c2.crt: revoked"
has "with the reason" "$T/rev.txt" "Reason: keyCompromise"
has "with the revocation time" "$T/rev.txt" "Revocation Time:"
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/c2.crt" -no_nonce -reqout "$T/req2.der" >>"$LOG" 2>&1
curl -sS -o "$T/get2.der" "$BASE/ocsp/$(ocsp_get_path "$T/req2.der")" 2>>"$LOG"
openssl ocsp -respin "$T/get2.der" -issuer "$CA/issuing.crt" -cert "$T/c2.crt" \
    -CAfile "$CA/root.crt" >"$T/get2.txt" 2>&1
has "GET after revoke: revoked" "$T/get2.txt" "$T/c2.crt: revoked"
ocsptool --ask="$BASE/ocsp" --load-issuer "$CA/issuing.crt" --load-cert "$T/c2.crt" \
    --load-trust "$CA/chain.pem" >"$T/gnutls2.txt" 2>&1
has "ocsptool: revoked" "$T/gnutls2.txt" "Certificate Status: revoked"

# Unknown: a serial never issued.
openssl ocsp -issuer "$CA/issuing.crt" -serial 0x0123456789ABCDEF -url "$BASE/ocsp" \
    -CAfile "$CA/root.crt" -resp_text >"$T/unknown.txt" 2>&1
has "a serial never issued is unknown" "$T/unknown.txt" ": unknown"

# Unauthorized: an issuer this responder does not serve.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/o.key" \
    -out "$T/other.crt" -subj /CN=other -days 1 >>"$LOG" 2>&1
openssl ocsp -issuer "$T/other.crt" -serial 0x01 -url "$BASE/ocsp" >"$T/unauth.txt" 2>&1
has "another CA's certificate: unauthorized" "$T/unauth.txt" "unauthorized"

# Malformed POST and GET bodies get malformedRequest, and the server goes on.
printf 'garbage' >"$T/garbage"
curl -sS -o "$T/mal.der" -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/garbage" "$BASE/ocsp" 2>>"$LOG"
openssl ocsp -respin "$T/mal.der" -resp_text >"$T/mal.txt" 2>&1
has "malformed POST: malformedRequest" "$T/mal.txt" "malformedrequest"
head -c 20 "$T/req1.der" >"$T/trunc.der"
curl -sS -o "$T/mal2.der" -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/trunc.der" "$BASE/ocsp" 2>>"$LOG"
openssl ocsp -respin "$T/mal2.der" -resp_text >"$T/mal2.txt" 2>&1
has "truncated request: malformedRequest" "$T/mal2.txt" "malformedrequest"
curl -sS -o "$T/mal3.der" "$BASE/ocsp/!!!not-base64" 2>>"$LOG"
openssl ocsp -respin "$T/mal3.der" -resp_text >"$T/mal3.txt" 2>&1
has "bad base64 in GET: malformedRequest" "$T/mal3.txt" "malformedrequest"
head -c 100000 /dev/zero >"$T/big"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/big" "$BASE/ocsp" 2>>"$LOG")
eq "an oversized body is refused with 413" "$code" 413
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/healthz" 2>>"$LOG")
eq "the server keeps serving" "$code" 200

# ocsp refresh re-signs nothing that is fresh.
admin ocsp refresh >"$T/refresh.txt" 2>>"$LOG"
has "ocsp refresh runs" "$T/refresh.txt" "re-signed"

stop_server
done_testing
