#!/bin/sh
# CRLs with real clients: openssl crl -verify and verify -crl_check_all
# accept a valid certificate and refuse the revoked one; the CRL number
# grows across revocations and across a restart of ca-server; the delta CRL
# names the newest revocations; ca-server republishes on its own after a
# revocation; conditional GET answers 304.
. "$(dirname "$0")/lib.sh"

need openssl curl certtool

instance
# The deltas alone after a revocation (the default, full, makes every
# CRL again: test_crlslots, gateway.sh): what a delta lists is checked.
sed -i 's/^\[crl\]$/[crl]\non_revoke = delta/' "$T/ca/ca.conf"
PUB="$T/ca/publish"
csr v
admin issue --profile client --csr "$T/v.csr" --identity '{"userId":1}' --out "$T/valid.crt" 2>>"$LOG"
csr r
admin issue --profile client --csr "$T/r.csr" --identity '{"userId":2}' --out "$T/revoked.crt" 2>>"$LOG"
rs=$(openssl x509 -in "$T/revoked.crt" -noout -serial | cut -d= -f2)

crl_number() { openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed "s/^0x//"; }
check "init published the first CRLs" test -s "$PUB/issuing.crl"
n0=$(printf '%d' "0x$(crl_number "$PUB/issuing.crl")")

check "revoke" admin revoke --serial "$rs" --reason superseded
check "crl publish" admin crl publish
n1=$(printf '%d' "0x$(crl_number "$PUB/issuing.crl")")
[ "$n1" -gt "$n0" ] && ok "the CRL number grew ($n0 -> $n1)" || not_ok "the CRL number grew ($n0 -> $n1)"
openssl crl -inform DER -in "$PUB/issuing.crl" -noout -text >"$T/crl.txt" 2>&1
has "the revoked serial is listed" "$T/crl.txt" "Serial Number: $rs"
has "with its reason" "$T/crl.txt" "Superseded"
has "the CRL names its issuer" "$T/crl.txt" "Issuer: O = Lanyard Demo, CN = Lanyard Issuing CA 1"
has "AKI" "$T/crl.txt" "X509v3 Authority Key Identifier"
has "Freshest CRL points at the delta" "$T/crl.txt" "/crl/issuing-delta.crl"
openssl crl -inform DER -in "$PUB/issuing.crl" -out "$T/issuing.pem" 2>>"$LOG"
openssl crl -inform DER -in "$PUB/root.crl" -out "$T/root.pem" 2>>"$LOG"
openssl crl -in "$T/issuing.pem" -CAfile "$CA/chain.pem" -noout >"$T/crlv.txt" 2>&1
has "openssl crl -verify: the signature is the issuing CA's" "$T/crlv.txt" "verify OK"
openssl crl -in "$T/root.pem" -CAfile "$CA/root.crt" -noout >"$T/crlv2.txt" 2>&1
has "the root CRL verifies with the root" "$T/crlv2.txt" "verify OK"
check "verify -crl_check_all accepts the valid certificate" openssl verify -crl_check_all \
    -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" -CRLfile "$T/issuing.pem" \
    -CRLfile "$T/root.pem" "$T/valid.crt"
openssl verify -crl_check_all -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
    -CRLfile "$T/issuing.pem" -CRLfile "$T/root.pem" "$T/revoked.crt" >"$T/vr.txt" 2>&1
has "verify -crl_check_all refuses the revoked one" "$T/vr.txt" "certificate revoked"
certtool --crl-info --infile "$T/issuing.pem" >"$T/ct-crl.txt" 2>&1
has "GnuTLS reads the CRL" "$T/ct-crl.txt" "Revoked certificates (1)"
certtool --verify-crl --infile "$T/issuing.pem" --load-ca-certificate "$CA/issuing.crt" \
    >"$T/ct-crlv.txt" 2>&1
has "GnuTLS verifies the CRL signature" "$T/ct-crlv.txt" "Verification output: Verified"

# Delta CRL: only what changed since its base (RFC 5280 5.2.4).
openssl crl -inform DER -in "$PUB/issuing-delta.crl" -noout -text >"$T/delta.txt" 2>&1
has "the delta CRL has a Delta CRL Indicator" "$T/delta.txt" "Delta CRL Indicator: critical"
eq "the delta CRL names its base's number" \
    "$(grep -A1 'Delta CRL Indicator' "$T/delta.txt" | tail -n 1 | tr -d ' ')" "$n1"
lacks "the delta CRL does not repeat what its base lists" "$T/delta.txt" "Serial Number: $rs"
# Revoke B, then a delta alone against the same base: B only.
csr b
admin issue --profile client --csr "$T/b.csr" --identity '{"userId":5}' --out "$T/b.crt" 2>>"$LOG"
bs=$(openssl x509 -in "$T/b.crt" -noout -serial | cut -d= -f2)
check "revoke B" admin revoke --serial "$bs" --reason keyCompromise
# A second later, so the delta's thisUpdate is the newer one (below).
sleep 1
check "crl publish --delta" admin crl publish --delta
eq "the full CRL (the base) did not change" \
    "$(printf '%d' "0x$(crl_number "$PUB/issuing.crl")")" "$n1"
openssl crl -inform DER -in "$PUB/issuing-delta.crl" -noout -text >"$T/delta2.txt" 2>&1
has "the new delta lists B" "$T/delta2.txt" "Serial Number: $bs"
lacks "the new delta does not list A (in its base)" "$T/delta2.txt" "Serial Number: $rs"
eq "the new delta lists one certificate" "$(grep -c 'Serial Number:' "$T/delta2.txt")" 1
openssl crl -inform DER -in "$PUB/issuing-delta.crl" -out "$T/delta.pem" 2>>"$LOG"
# base + delta: OpenSSL finds both A (base) and B (delta) revoked. It
# needs -extended_crl too: without it OpenSSL 3.0 takes a newer delta CRL
# for the full CRL and never reads the base (docs/revocation.md).
for who in revoked b; do
	openssl verify -crl_check -use_deltas -extended_crl -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
	    -CRLfile "$T/issuing.pem" -CRLfile "$T/delta.pem" "$T/$who.crt" >"$T/vd.$who" 2>&1
	has "verify -crl_check -use_deltas -extended_crl (base + delta) refuses $who" "$T/vd.$who" "certificate revoked"
done
check "verify -crl_check -use_deltas accepts the valid certificate" openssl verify -crl_check \
    -use_deltas -extended_crl -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" -CRLfile "$T/issuing.pem" \
    -CRLfile "$T/delta.pem" "$T/valid.crt"
fails "without the delta, B still passes the base alone (the delta is what lists it)" \
    sh -c "openssl verify -crl_check -CAfile '$CA/root.crt' -untrusted '$CA/issuing.crt' \
    -CRLfile '$T/issuing.pem' '$T/b.crt' | grep -q 'certificate revoked'"

# ca-server publishes on its own after a revocation, and answers HTTP.
must "ca-server starts" start_server
ok "ca-server started"
curl -sS -D "$T/h1" -o "$T/s1.crl" "$BASE/crl/issuing.crl" 2>>"$LOG"
has "GET /crl/issuing.crl: content type" "$T/h1" "application/pkix-crl"
ns=$(printf '%d' "0x$(crl_number "$T/s1.crl")")
[ "$ns" -ge "$n1" ] && ok "ca-server serves the current CRL" || not_ok "ca-server serves the current CRL"
etag=$(sed -n 's/^[Ee][Tt]ag: *//p' "$T/h1" | tr -d '\r')
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/crl/issuing.crl")
eq "If-None-Match gives 304" "$code" 304
lm=$(sed -n 's/^[Ll]ast-[Mm]odified: *//p' "$T/h1" | tr -d '\r')
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$BASE/crl/issuing.crl")
eq "If-Modified-Since gives 304" "$code" 304
curl -sS "$BASE/crl/issuing.crl?pem" >"$T/s1.pem" 2>>"$LOG"
has "?pem gives PEM" "$T/s1.pem" "BEGIN X509 CRL"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/crl/nosuch.crl")
eq "an unknown CRL is 404" "$code" 404
code=$(curl -sS -o /dev/null -w '%{http_code}' --path-as-is "$BASE/crl/../ca.conf")
[ "$code" = 404 ] || [ "$code" = 400 ] && ok "path traversal is refused ($code)" || not_ok "path traversal is refused ($code)"

curl -sS -o "$T/root1.crl" "$BASE/crl/root.crl" 2>>"$LOG"
csr x
admin issue --profile client --csr "$T/x.csr" --identity '{"userId":3}' --out "$T/x.crt" 2>>"$LOG"
xs=$(openssl x509 -in "$T/x.crt" -noout -serial | cut -d= -f2)
curl -sS -o "$T/full1.crl" "$BASE/crl/issuing.crl" 2>>"$LOG"
admin revoke --serial "$xs" --reason keyCompromise >>"$LOG" 2>&1
# The server polls the store each second and waits [crl] debounce (2 s).
# After a revocation it makes the delta alone (the full CRL when due):
# the delta lists what changed since its base.
i=0
while [ $i -lt 100 ]; do
	curl -sS -o "$T/s2.crl" "$BASE/crl/issuing-delta.crl" 2>>"$LOG"
	openssl crl -inform DER -in "$T/s2.crl" -noout -text 2>/dev/null | grep -q "$xs" && break
	sleep 0.2
	i=$((i + 1))
done
openssl crl -inform DER -in "$T/s2.crl" -noout -text >"$T/s2.txt" 2>&1
has "ca-server republished the delta CRL after the revocation" "$T/s2.txt" "Serial Number: $xs"
has "... and B, revoked since its base too" "$T/s2.txt" "Serial Number: $bs"
lacks "... but not A, which its base lists" "$T/s2.txt" "Serial Number: $rs"
openssl crl -inform DER -in "$PUB/issuing-delta.crl" -noout -text >"$T/pubfile.txt" 2>&1
has "... and wrote it to the publish directory" "$T/pubfile.txt" "$xs"
curl -sS -o "$T/full2.crl" "$BASE/crl/issuing.crl" 2>>"$LOG"
check "the full CRL, not due, did not move for it" cmp "$T/full1.crl" "$T/full2.crl"
eq "the delta names the served full CRL as its base" \
    "$(grep -A1 'Delta CRL Indicator' "$T/s2.txt" | tail -n 1 | tr -d ' ')" \
    "$(printf '%d' "0x$(crl_number "$T/full2.crl")")"
openssl crl -inform DER -in "$T/full2.crl" -out "$T/full2.pem" 2>>"$LOG"
openssl crl -inform DER -in "$T/s2.crl" -out "$T/s2.pem" 2>>"$LOG"
openssl verify -crl_check -use_deltas -extended_crl -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
    -CRLfile "$T/full2.pem" -CRLfile "$T/s2.pem" "$T/x.crt" >"$T/vx.txt" 2>&1
has "verify -use_deltas (served base + delta) refuses it" "$T/vx.txt" "certificate revoked"

curl -sS -o "$T/root2.crl" "$BASE/crl/root.crl" 2>>"$LOG"
cmp -s "$T/root1.crl" "$T/root2.crl" && ok "a leaf's revocation does not make the root sign" \
    || not_ok "a leaf's revocation does not make the root sign"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/crl/root-delta.crl")
eq "the root has no delta CRL" "$code" 404

# A revocation made while no server runs is in the CRL it serves at start.
stop_server
csr y
admin issue --profile client --csr "$T/y.csr" --identity '{"userId":4}' --out "$T/y.crt" 2>>"$LOG"
ys=$(openssl x509 -in "$T/y.crt" -noout -serial | cut -d= -f2)
admin revoke --serial "$ys" >>"$LOG" 2>&1
must "ca-server restarts" start_server
curl -sS -o "$T/s3.crl" "$BASE/crl/issuing.crl" 2>>"$LOG"
openssl crl -inform DER -in "$T/s3.crl" -noout -text >"$T/s3.txt" 2>&1
has "a revocation made while ca-server was down is served at its start" "$T/s3.txt" "Serial Number: $ys"
n2=$(printf '%d' "0x$(crl_number "$T/s3.crl")")

# Across a restart the numbers go on growing.
stop_server
must "ca-server restarts" start_server
check "crl publish after the restart" admin crl publish
n3=$(printf '%d' "0x$(crl_number "$PUB/issuing.crl")")
[ "$n3" -gt "$n2" ] && ok "the CRL number grew across the restart ($n2 -> $n3)" \
    || not_ok "the CRL number grew across the restart ($n2 -> $n3)"
stop_server

done_testing
