#!/bin/bash
# A catalogue of hostile input against a running ca-server, over HTTPS
# and HTTP: JSON and EST enrollment bodies, CSRs, tokens, the admin API's
# identities, OCSP requests, headers, paths, slow and greedy clients, and
# broken configuration files. Each must get its documented answer; the
# server must keep serving; and the store must be byte for byte what it
# was, but for the audit log (refused attempts may be audited).
#
# Token failures are rate limited per client address (10 a minute), so
# each request that spends a failure comes from its own loopback address
# (curl --interface 127.0.0.N), still to 127.0.0.1. Servers are stopped
# by PID; every request is bounded. bash for /dev/tcp.
. "$(dirname "$0")/lib.sh"

need openssl curl jq mdb_dump

instance
STORE="$T/ca/store"
sed -i -e 's/^connection_timeout = .*/connection_timeout = 2/' \
    -e 's/^max_connections_per_ip = .*/max_connections_per_ip = 8/' "$T/ca/ca.conf"

# ---- what the attacker has -------------------------------------------------
csr dev
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":5}' \
    --out "$T/dev.crt" >>"$LOG" 2>&1
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1
mktok() {
	admin token create --profile client --identity "$1" --ttl "${2:-1h}" 2>>"$LOG" |
	    sed -n 's/^token: *//p'
}
GOOD=$(mktok '{"platform":"linux","userId":100}')
USED=$(mktok '{"platform":"linux","userId":101}')
EXPIRED=$(mktok '{"platform":"linux","userId":102}' 1s)
DEVJ=$(jq -Rs . <"$T/dev.csr")

must "ca-server starts" start_server_https
# Spend USED now; from here on nothing may change but the audit log.
c=$(curl -sS --max-time 20 --cacert "$ROOT" -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' -d "{\"token\":\"$USED\",\"csr\":$DEVJ}" \
    "$SBASE/api/v1/enroll" 2>>"$LOG")
eq "setup: a token is used once" "$c" 200
for i in $(seq 50); do
	[ "$(admin token list --json 2>/dev/null | jq -r '.[] | select(.identity | test("\"userId\":102")) | .state')" = expired ] && break
	sleep 0.1
done

# The store but the audit log (and its head in meta), as text.
snapshot() {
	for db in certs expiry identity ocsp revoked tokens; do
		mdb_dump -p -s "$db" "$STORE" 2>&1 | grep -v '^mapsize='
	done
	mdb_dump -p -s meta "$STORE" 2>&1 | grep -v '^mapsize=' |
	    awk '/^ audit_head$/ { skip = 2 } skip > 0 { skip--; next } { print }'
}
# The server regenerates nothing it does not have to; let its start-up
# work settle before the picture is taken.
sleep 1
snapshot >"$T/before.txt"

n_in=0
SRC=10
# verdict DESC WANT GOT: one catalogue entry.
verdict() {
	n_in=$((n_in + 1))
	eq "#$n_in $1" "$3" "$2"
}
# req PATH [curl options...]: "STATUS ERROR" of an HTTPS request from a
# fresh loopback address; the body in $T/body.
req() {
	p=$1; shift
	SRC=$((SRC + 1))
	c=$(curl -sS --max-time 10 --cacert "$ROOT" --interface "127.0.0.$SRC" \
	    -o "$T/body" -w '%{http_code}' "$@" "$SBASE$p" 2>>"$LOG")
	e=$(jq -r '.error // empty' "$T/body" 2>/dev/null)
	echo "$c${e:+ $e}"
}
enroll() { req /api/v1/enroll -H 'Content-Type: application/json' --data-binary "$1"; }
enroll_csr() { enroll "{\"token\":\"$GOOD\",\"csr\":$(jq -Rs . <"$1")}"; }
est() { req /.well-known/est/simpleenroll -u "dev:$GOOD" -H 'Content-Type: application/pkcs10' --data-binary "$1"; }
admin_tok() {
	req /api/v1/tokens --cert "$T/adm.crt" --key "$T/adm.key" \
	    -H 'Content-Type: application/json' --data-binary "$1"
}
ocsp_post() {
	c=$(curl -sS --max-time 10 -o "$T/body" -w '%{http_code}' \
	    -H 'Content-Type: application/ocsp-request' --data-binary @"$1" "$BASE/ocsp" 2>>"$LOG")
	s=$(openssl ocsp -respin "$T/body" -resp_text 2>&1 | sed -n 's/^ *OCSP Response Status: \([a-zA-Z]*\).*/\1/p; s/^Responder Error: \([a-zA-Z]*\).*/\1/p' | head -n 1)
	echo "$c $s"
}
ocsp_get() {
	c=$(curl -sS --max-time 10 --path-as-is -o "$T/body" -w '%{http_code}' "$BASE/ocsp/$1" 2>>"$LOG")
	s=$(openssl ocsp -respin "$T/body" -resp_text 2>&1 | sed -n 's/^ *OCSP Response Status: \([a-zA-Z]*\).*/\1/p; s/^Responder Error: \([a-zA-Z]*\).*/\1/p' | head -n 1)
	echo "$c $s"
}
path() { curl -sS --max-time 10 --path-as-is -o /dev/null -w '%{http_code}' "$BASE$1" 2>>"$LOG"; }

# ---- JSON bodies --------------------------------------------------------------
verdict "JSON: not JSON at all" "400 bad_request" "$(enroll '{"token":')"
verdict "JSON: an array" "400 bad_request" "$(enroll '["token","csr"]')"
verdict "JSON: duplicate keys" "400 bad_request" "$(enroll "{\"token\":\"$GOOD\",\"token\":\"x\",\"csr\":$DEVJ}")"
verdict "JSON: a nested object for the token" "400 bad_request" "$(enroll "{\"token\":{\"a\":1},\"csr\":$DEVJ}")"
verdict "JSON: an unknown field" "400 bad_request" "$(enroll "{\"token\":\"$GOOD\",\"csr\":$DEVJ,\"identity\":\"{}\"}")"
verdict "JSON: a number for the CSR" "400 bad_request" "$(enroll "{\"token\":\"$GOOD\",\"csr\":42}")"
verdict "JSON: invalid UTF-8" "400 bad_request" "$(enroll "$(printf '{"token":"\377\376","csr":"x"}')")"
verdict "JSON: a NUL escaped in a string" "400 bad_request" "$(enroll "{\"token\":\"a\\u0000b\",\"csr\":$DEVJ}")"
verdict "JSON: nesting 10000 deep" "400 bad_request" "$(enroll "$(printf '%.0s[' $(seq 10000))")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
verdict "JSON: a body over the limit" "413" "$(req /api/v1/enroll -H 'Content-Type: application/json' \
    -H 'Expect: 100-continue' --expect100-timeout 10 --data-binary @"$T/big.json" | cut -d' ' -f1)"
verdict "JSON: a text/plain body" "400 bad_request" "$(req /api/v1/enroll -H 'Content-Type: text/plain' --data-binary "{\"token\":\"$GOOD\"}")"

# ---- CSRs through JSON and EST ------------------------------------------------
openssl req -in "$T/dev.csr" -outform DER -out "$T/dev.der" 2>>"$LOG"
len=$(wc -c <"$T/dev.der")
head -c 60 "$T/dev.der" >"$T/trunc.der"
{ cat "$T/dev.der"; printf 'JUNK'; } >"$T/trail.der"
{ head -c $((len - 5)) "$T/dev.der"; printf '\001'; tail -c 4 "$T/dev.der"; } >"$T/badsig.der"
pem() { { echo "-----BEGIN CERTIFICATE REQUEST-----"; openssl base64 <"$1"; echo "-----END CERTIFICATE REQUEST-----"; } >"$2"; }
pem "$T/trunc.der" "$T/trunc.pem"; pem "$T/trail.der" "$T/trail.pem"; pem "$T/badsig.der" "$T/badsig.pem"
sed 's/CERTIFICATE REQUEST/CERTIFICATE/' "$T/dev.csr" >"$T/label.pem"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/r1.key" -out "$T/rsa1024.pem" -subj /CN=x 2>>"$LOG"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout "$T/k1.key" \
    -out "$T/k1.pem" -subj /CN=x 2>>"$LOG"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -keyout "$T/bp.key" \
    -out "$T/bp.pem" -subj /CN=x 2>>"$LOG"
openssl ecparam -name prime256v1 -param_enc explicit -genkey -noout -out "$T/expl.key" 2>>"$LOG"
openssl req -new -key "$T/expl.key" -out "$T/expl.pem" -subj /CN=x 2>>"$LOG"
csr ca -addext "basicConstraints=critical,CA:TRUE"
csr kcs -addext "keyUsage=critical,keyCertSign"
csr eku -addext "extendedKeyUsage=clientAuth,codeSigning"
printf '[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n[dn]\nCN=d\n[ext]\nsubjectAltName=DNS:a.example\n2.5.29.17=DER:300b8209622e6578616d706c65\n' >"$T/dup.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dup.key" \
    -out "$T/dup.csr" -config "$T/dup.cnf" >>"$LOG" 2>&1
verdict "CSR: empty" "400 bad_csr" "$(enroll "{\"token\":\"$GOOD\",\"csr\":\"\"}")"
verdict "CSR: PEM of truncated DER" "400 bad_csr" "$(enroll_csr "$T/trunc.pem")"
verdict "CSR: DER with trailing garbage" "400 bad_csr" "$(enroll_csr "$T/trail.pem")"
verdict "CSR: a wrong signature" "400 bad_csr" "$(enroll_csr "$T/badsig.pem")"
verdict "CSR: the wrong PEM label" "400 bad_csr" "$(enroll_csr "$T/label.pem")"
verdict "CSR: RSA-1024" "400 key_policy" "$(enroll_csr "$T/rsa1024.pem")"
verdict "CSR: secp256k1" "400 key_policy" "$(enroll_csr "$T/k1.pem")"
verdict "CSR: brainpoolP256r1" "400 key_policy" "$(enroll_csr "$T/bp.pem")"
start=$(date +%s)
r=$(enroll_csr "$T/expl.pem")
case $r in "400 bad_csr"|"400 key_policy") verdict "CSR: explicit EC parameters (CVE-2022-0778 class)" ok ok ;;
*) verdict "CSR: explicit EC parameters (CVE-2022-0778 class)" "400 bad_csr|key_policy" "$r" ;; esac
[ $(($(date +%s) - start)) -le 2 ] && ok "... answered at once" || not_ok "... answered at once"
verdict "CSR: asks to be a CA" "400 bad_request" "$(enroll_csr "$T/ca.csr")"
verdict "CSR: asks for keyCertSign" "400 bad_request" "$(enroll_csr "$T/kcs.csr")"
verdict "CSR: asks for codeSigning" "400 bad_request" "$(enroll_csr "$T/eku.csr")"
verdict "CSR: one extension twice" "400 bad_csr" "$(enroll_csr "$T/dup.csr")"
verdict "CSR: 60 kB of PEM garbage" "400 bad_csr" "$(enroll "{\"token\":\"$GOOD\",\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n$(head -c 45000 /dev/urandom | base64 -w 64 | sed 's/$/\\n/' | tr -d '\n')-----END CERTIFICATE REQUEST-----\\n\"}")"

# EST bodies.
verdict "EST: base64 with bad characters" "400 bad_csr" "$(est 'MIIB*&^%$#@!')"
verdict "EST: base64 with bad padding" "400 bad_csr" "$(est 'MIIBIjAN=BgkqhkiG9w0BAQEFAAOC')"
verdict "EST: base64 of random bytes" "400 bad_csr" "$(est "$(head -c 300 /dev/urandom | base64 -w0)")"
verdict "EST: base64 of truncated DER" "400 bad_csr" "$(est "$(base64 -w0 <"$T/trunc.der")")"
verdict "EST: base64 of a wrong signature" "400 bad_csr" "$(est "$(base64 -w0 <"$T/badsig.der")")"
verdict "EST: an empty body" "400 bad_csr" "$(est '')"
verdict "EST: a JSON content type" "415 unsupported_media_type" "$(req /.well-known/est/simpleenroll -u "dev:$GOOD" \
    -H 'Content-Type: application/json' --data-binary "$(base64 -w0 <"$T/dev.der")")"
verdict "EST: no credentials" "401 unauthorized" "$(req /.well-known/est/simpleenroll \
    -H 'Content-Type: application/pkcs10' --data-binary "$(base64 -w0 <"$T/dev.der")")"
verdict "EST: an Authorization header that is not base64" "401 unauthorized" "$(req /.well-known/est/simpleenroll \
    -H 'Authorization: Basic !!!' -H 'Content-Type: application/pkcs10' --data-binary "$(base64 -w0 <"$T/dev.der")")"
verdict "EST: reenroll without a client certificate" "401 unauthorized" "$(req /.well-known/est/simplereenroll \
    -H 'Content-Type: application/pkcs10' --data-binary "$(base64 -w0 <"$T/dev.der")")"

# ---- tokens ---------------------------------------------------------------------
tok() { enroll "{\"token\":\"$1\",\"csr\":$DEVJ}"; }
verdict "token: unknown" "403 token_invalid" "$(tok AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
verdict "token: wrong alphabet" "403 token_invalid" "$(tok '../../../../etc/passwd+/=AAAAAAAAAAAAAAAAAAA')"
verdict "token: empty" "403 token_invalid" "$(tok '')"
verdict "token: 10 kB" "403 token_invalid" "$(tok "$(head -c 10000 /dev/zero | tr '\0' A)")"
verdict "token: replayed" "403 token_used" "$(tok "$USED")"
verdict "token: expired" "403 token_expired" "$(tok "$EXPIRED")"
verdict "token: the good one with a character changed" "403 token_invalid" "$(tok "${GOOD%?}$( [ "${GOOD#"${GOOD%?}"}" = A ] && echo B || echo A)")"
verdict "token: replayed over EST" "401 token_used" "$(req /.well-known/est/simpleenroll -u "dev:$USED" \
    -H 'Content-Type: application/pkcs10' --data-binary "$(base64 -w0 <"$T/dev.der")")"
# Rate limit: eleven failures from one address, then even a good token waits.
for i in $(seq 11); do
	r=$(curl -sS --max-time 10 --cacert "$ROOT" --interface 127.0.0.250 -o /dev/null -w '%{http_code}' \
	    -H 'Content-Type: application/json' -d "{\"token\":\"nosuch$i\",\"csr\":$DEVJ}" \
	    "$SBASE/api/v1/enroll" 2>>"$LOG")
done
verdict "token: the 11th failure from one address" "429" "$r"

# ---- identities through the admin API (creating a token is a write) -------------
at() { admin_tok "{\"profile\":\"client\",\"identity\":$(jq -Rn --arg s "$1" '$s')}"; }
verdict "identity: duplicate keys" "400 bad_request" "$(at '{"userId":1,"userId":2}')"
verdict "identity: a nested object" "400 bad_request" "$(at '{"userId":{"a":1}}')"
verdict "identity: an array value" "400 bad_request" "$(at '{"userId":[1,2]}')"
verdict "identity: an escaped NUL" "400 bad_request" "$(at '{"platform":"a\u0000b","userId":1}')"
verdict "identity: invalid UTF-8" "400 bad_request" "$(admin_tok "$(printf '{"profile":"client","identity":"{\\"platform\\":\\"\377\\",\\"userId\\":1}"}')")"
verdict "identity: 5000 characters" "413 too_large" "$(at "{\"platform\":\"$(head -c 5000 /dev/zero | tr '\0' a)\",\"userId\":1}")"
verdict "identity: a key the schema does not know" "400 bad_request" "$(at '{"userId":1,"role":"admin"}')"
verdict "identity: not JSON" "400 bad_request" "$(at 'userId=1')"
verdict "identity: a SPIFFE ID of another trust domain" "400 bad_request" "$(at 'spiffe://evil.example/ns/x')"
verdict "identity: a SPIFFE ID with .." "400 bad_request" "$(at 'spiffe://example.org/ns/../x')"
verdict "identity: an unknown profile" "400 bad_request" "$(admin_tok '{"profile":"../admin","identity":"{\"userId\":1}"}')"
verdict "identity: a ttl of 99 days" "400 bad_request" "$(admin_tok '{"profile":"client","identity":"{\"userId\":1}","ttl":"99d"}')"
verdict "admin API without a certificate" "403 forbidden" "$(req /api/v1/tokens -H 'Content-Type: application/json' \
    --data-binary '{"profile":"admin","identity":"{\"userId\":2}"}')"
verdict "admin API with a client's certificate" "403 forbidden" "$(req /api/v1/tokens --cert "$T/dev.crt" --key "$T/dev.key" \
    -H 'Content-Type: application/json' --data-binary '{"profile":"admin","identity":"{\"userId\":2}"}')"

# ---- OCSP ----------------------------------------------------------------------
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/dev.crt" -no_nonce -reqout "$T/q.der" >>"$LOG" 2>&1
qlen=$(wc -c <"$T/q.der")
head -c $((qlen - 7)) "$T/q.der" >"$T/q-trunc.der"
{ cat "$T/q.der"; printf '\000\000'; } >"$T/q-trail.der"
head -c 200 /dev/urandom >"$T/q-random.der"
: >"$T/q-empty.der"
args=""
for i in $(seq 1000); do args="$args -serial $i"; done
# shellcheck disable=SC2086
openssl ocsp -issuer "$CA/issuing.crt" $args -no_nonce -reqout "$T/q-1000.der" >>"$LOG" 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/o.key" \
    -out "$T/other.crt" -subj /CN=other -days 2 2>>"$LOG"
openssl ocsp -issuer "$T/other.crt" -serial 0x1234 -no_nonce -reqout "$T/q-other.der" >>"$LOG" 2>&1
verdict "OCSP POST: truncated DER" "200 malformedrequest" "$(ocsp_post "$T/q-trunc.der")"
verdict "OCSP POST: trailing garbage" "200 malformedrequest" "$(ocsp_post "$T/q-trail.der")"
verdict "OCSP POST: random bytes" "200 malformedrequest" "$(ocsp_post "$T/q-random.der")"
verdict "OCSP POST: an empty body" "200 malformedrequest" "$(ocsp_post "$T/q-empty.der")"
verdict "OCSP POST: 1000 serials" "200 malformedrequest" "$(ocsp_post "$T/q-1000.der")"
verdict "OCSP POST: an issuer we do not serve" "200 unauthorized" "$(ocsp_post "$T/q-other.der")"
verdict "OCSP POST: text/plain" "415" "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: text/plain' --data-binary @"$T/q.der" "$BASE/ocsp" 2>>"$LOG")"
verdict "OCSP GET: base64 with bad characters" "200 malformedrequest" "$(ocsp_get 'MEMw*QTA~PzA9')"
verdict "OCSP GET: base64 with bad padding" "200 malformedrequest" "$(ocsp_get "$(base64 -w0 <"$T/q.der" | tr -d '=')%3D%3D%3D")"
verdict "OCSP GET: percent-encoded NUL" "200 malformedrequest" "$(ocsp_get 'MEMw%00QTA')"
verdict "OCSP GET: 1000 serials (a 33 kB URL)" "414" "$(ocsp_get "$(ocsp_get_path "$T/q-1000.der")" | cut -d' ' -f1)"

# ---- paths, headers, greedy and slow clients --------------------------------------
verdict "path: /crl/../ca.conf" "404" "$(path /crl/../ca.conf)"
verdict "path: /crl/..%2Fca.conf" "404" "$(path /crl/..%2Fca.conf)"
verdict "path: /ca/..%2Fhsm%2Froot.pin" "404" "$(path /ca/..%2Fhsm%2Froot.pin)"
verdict "path: /crl/issuing.crl%00.pem" "404" "$(path /crl/issuing.crl%00.pem)"
verdict "path: a shard that does not exist" "404" "$(path /crl/issuing-7.crl)"
verdict "path: /ca/%2e%2e%2fca.conf" "404" "$(path /ca/%2e%2e%2fca.conf)"
verdict "header: 70 kB" "431" "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" "$BASE/healthz" 2>>"$LOG")"
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 2000000000\r\n\r\n' >&3
verdict "header: Content-Length of 2 GB" "413" "$(timeout 5 head -n 1 <&3 | cut -d' ' -f2)"
exec 3<&-
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n' >&3
verdict "header: a negative Content-Length" "400" "$(timeout 5 head -n 1 <&3 | cut -d' ' -f2)"
exec 3<&-
# Slowloris: a request that never ends is cut off by the 2 s timeout.
exec 4<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&4
start=$(date +%s)
timeout 8 cat <&4 >/dev/null
exec 4<&-
verdict "slowloris: cut off by the timeout" "yes" "$([ $(($(date +%s) - start)) -le 5 ] && echo yes || echo no)"
# More connections from one address than max_connections_per_ip (8).
for i in $(seq 12); do eval "exec $((i + 10))<>/dev/tcp/127.0.0.1/$SERVER_PORT"; done
c=$(curl -sS --max-time 3 -o /dev/null -w '%{http_code}' "$BASE/healthz" 2>/dev/null)
verdict "greedy client: a 13th connection from one address is refused" "000" "$c"
for i in $(seq 12); do eval "exec $((i + 10))<&-"; done

# ---- configuration files ----------------------------------------------------------
"$CA_ADMIN" config >"$T/good.conf" 2>>"$LOG"
badconf() {
	desc=$1 want=$2
	"$CA_ADMIN" --dir "$T/cfg$n_in" init --config "$T/bad.conf" >"$T/cfg.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$want" "$T/cfg.out" && [ ! -e "$T/cfg$n_in" ]; then
		verdict "config: $desc" ok ok
	else
		cat "$T/cfg.out" >>"$LOG"
		verdict "config: $desc" "exit 1, '$want', nothing made" "exit $rc"
	fi
}
{ cat "$T/good.conf"; echo "no_such_key = 1"; } >"$T/bad.conf"; badconf "an unknown key" "unknown key"
sed 's/^days = .*/days = 99999999999999999999/' "$T/good.conf" >"$T/bad.conf"; badconf "a number out of range" "days"
sed 's/^\[issuing\]/[issuing/' "$T/good.conf" >"$T/bad.conf"; badconf "a broken section line" "ca.conf:[0-9]*: syntax error"
{ printf '\000'; head -c 3000 /dev/urandom; } >"$T/bad.conf"; badconf "binary garbage" "contains a NUL byte"
{ cat "$T/good.conf"; head -c 1000 /dev/zero | tr '\0' a; echo; } >"$T/bad.conf"; badconf "a 1000-character line" "line longer than"
sed 's|^key = pkcs11:token=lanyard-issuing;|key = file:///etc/passwd;|' "$T/good.conf" >"$T/bad.conf"; badconf "a key that is not a PKCS#11 URI" "expected an RFC 7512 pkcs11: URI"
sed 's/^reissue_threshold = .*/reissue_threshold = 101%/' "$T/good.conf" >"$T/bad.conf"; badconf "a threshold over 100%" "reissue_threshold: share of 1% to 100%"
{ cat "$T/good.conf"; printf '[profile x]\nkey_types = ec-p256\n'; head -c 300000 /dev/zero | tr '\0' '#'; echo; } >"$T/bad.conf"; badconf "a 300 kB file" "larger than 262144 bytes"

# ---- the server kept serving, and the store did not move ----------------------------
eq "the server still answers" "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$BASE/healthz")" 200
kill -0 "$SERVER_PID" && ok "... the same process" || not_ok "... the same process"
stop_server
snapshot >"$T/after.txt"
if cmp -s "$T/before.txt" "$T/after.txt"; then
	ok "the store is byte for byte as it was, but for the audit log"
else
	diff "$T/before.txt" "$T/after.txt" | head -n 20 >>"$LOG"
	not_ok "the store is byte for byte as it was, but for the audit log"
fi
check "the audit chain verifies" admin audit verify
[ "$n_in" -ge 60 ] && ok "the catalogue has $n_in hostile inputs" || not_ok "the catalogue has $n_in hostile inputs (want 60)"

done_testing
