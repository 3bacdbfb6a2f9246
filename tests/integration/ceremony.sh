#!/bin/sh
# The key ceremony across two instances with their own SoftHSM2 tokens
# (docs/operations.md, "Years of operation"): the root's instance
# ($T/root, a normal init whose issuing CA is not used) signs an issuing
# CA made on another instance ($T/ca, init --issuer-only), then the
# root's CRL and OCSP responses, which the issuing instance imports. The
# issuing instance never holds the root key, its ca-server runs without
# any root PIN, issues certificates that verify against the root, and
# serves the root's CRL and OCSP responses; each step is audited where
# it happens.
. "$(dirname "$0")/lib.sh"

need openssl curl jq pkcs11-tool flock
R="$T/root"
radmin() { "$CA_ADMIN" --dir "$R" "$@"; }

check "root's instance: init" radmin init
check "issuing instance: init --issuer-only" admin init --issuer-only
has "... its ca.conf says the root is offline" "$T/ca/ca.conf" "offline = yes"
check "... a CSR waits in certs/issuing.csr" \
    openssl req -in "$T/ca/certs/issuing.csr" -noout -verify
eq "... and no root PIN file" "$(ls "$T/ca/hsm" | grep -c '^root')" 0
refuse "ca-server refuses to start before the import" "$CA_SERVER" --dir "$T/ca" \
    --http 127.0.0.1:0 --https off
has "... and says what it waits for" "$T/refuse.err" "waits for its issuing CA certificate"
refuse "ca-admin refuses to issue before the import" admin list

# The root refuses a CSR asking for what it does not allow.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/bad.key" -out "$T/bad.csr" -subj "/CN=Bad CA" \
    -addext basicConstraints=critical,CA:TRUE,pathlen:5 >>"$LOG" 2>&1
refuse "sign-issuer refuses a CSR with requested extensions" \
    radmin root sign-issuer --csr "$T/bad.csr" --out "$T/bad.crt"
has "... saying why" "$T/refuse.err" "extension"

# The ceremony on the root's instance.
cp "$T/ca/certs/issuing.csr" "$T/carry.csr"
check "root sign-issuer" radmin root sign-issuer --csr "$T/carry.csr" \
    --out "$T/carry.crt" --days 1000
openssl x509 -in "$T/carry.crt" -noout -text >"$T/carry.txt" 2>>"$LOG"
has "... CA:TRUE, pathlen 0" "$T/carry.txt" "CA:TRUE, pathlen:0"
has "... keyCertSign and cRLSign" "$T/carry.txt" "Certificate Sign, CRL Sign"
has "... the root CRL's URL" "$T/carry.txt" "/crl/root.crl"
check "... it verifies against the root" openssl verify \
    -CAfile "$R/certs/root.crt" "$T/carry.crt"
refuse "issuer import refuses a certificate for another key" \
    admin issuer import --cert "$R/certs/issuing.crt" --root "$R/certs/root.crt"
check "issuer import" admin issuer import --cert "$T/carry.crt" \
    --root "$R/certs/root.crt"
refuse "a second import is refused" admin issuer import \
    --cert "$T/carry.crt" --root "$R/certs/root.crt"
check "root crl --out (root's instance)" radmin root crl --out "$T/carry"
check "root import-crl (issuing instance)" admin root import-crl \
    --crl "$T/carry/root.crl" --ocsp-dir "$T/carry/root-ocsp"
refuse "the same root CRL again is refused" admin root import-crl \
    --crl "$T/carry/root.crl"
refuse "root crl is refused where the root is offline" admin root crl

# The issuing instance's token holds no root key (read under its guard).
export SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf"
mod=$(softhsm_module)
flock "$T/ca/hsm/token.guard" pkcs11-tool --module "$mod" --list-token-slots \
    >"$T/slots.txt" 2>>"$LOG"
lacks "the issuing instance has no root token" "$T/slots.txt" "lanyard-root"
flock "$T/ca/hsm/token.guard" pkcs11-tool --module "$mod" \
    --token-label lanyard-issuing --login --pin "$(cat "$T/ca/hsm/issuing.pin")" \
    --list-objects >"$T/objs.txt" 2>>"$LOG"
has "... its token has the issuing CA key" "$T/objs.txt" "label:      issuing-ca"
lacks "... and no root key" "$T/objs.txt" "root-ca"
unset SOFTHSM2_CONF

# ca-server without any root PIN: even the root instance's PIN file, if
# one were copied here, is moved away.
[ ! -e "$T/ca/hsm/root.pin" ] || mv "$T/ca/hsm/root.pin" "$T/ca/hsm/root.pin.away"
must "ca-server starts without a root PIN" start_server_https
ok "ca-server starts without a root PIN"
ID='{"userId":7}'
admin token create --profile client --identity "$ID" --ttl 1h >"$T/tok.out" 2>>"$LOG"
csr dev
jq -n --arg t "$(sed -n 's/^token: //p' "$T/tok.out")" --rawfile c "$T/dev.csr" \
    '{token: $t, csr: $c}' >"$T/enroll.json"
code=$(curl -sS --max-time 20 --cacert "$R/certs/root.crt" -o "$T/enroll.out" \
    -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$T/enroll.json" "$SBASE/api/v1/enroll" 2>>"$LOG")
eq "ca-server issues a client certificate" "$code" 200
jq -r .certificate "$T/enroll.out" >"$T/dev.crt" 2>>"$LOG"
check "... that openssl verify accepts against the root" openssl verify \
    -CAfile "$R/certs/root.crt" -untrusted "$T/carry.crt" "$T/dev.crt"

curl -sS --max-time 20 -o "$T/served-root.crl" "$BASE/crl/root.crl" 2>>"$LOG"
check "it serves the root CRL the ceremony signed" \
    cmp "$T/served-root.crl" "$T/carry/root.crl"
check "... which verifies with the root" openssl crl -inform DER \
    -in "$T/served-root.crl" -CAfile "$R/certs/root.crt" -noout
openssl ocsp -issuer "$R/certs/root.crt" -cert "$T/carry.crt" -url "$BASE/ocsp" \
    -CAfile "$R/certs/root.crt" -no_nonce -resp_text >"$T/ocsp.txt" 2>&1
has "it serves the root's OCSP response about the issuing CA" "$T/ocsp.txt" \
    "$T/carry.crt: good"
has "... which verifies with the root" "$T/ocsp.txt" "Response verify OK"
stop_server
lacks "ca-server never tried the root key" "$SERVER_LOG" "root CA is offline"

# Each step audited on its own instance.
admin audit list >"$T/audit-ca.txt" 2>>"$LOG"
radmin audit list >"$T/audit-root.txt" 2>>"$LOG"
has "issuing instance audits its CSR" "$T/audit-ca.txt" "issuer-csr"
has "... the import" "$T/audit-ca.txt" "issuer-import"
has "... the root CRL's import" "$T/audit-ca.txt" '"imported":true'
has "... the root OCSP responses' import" "$T/audit-ca.txt" "root-ocsp"
has "root's instance audits the signature" "$T/audit-root.txt" "root-sign-issuer"
has "... and its CRL" "$T/audit-root.txt" '{"crl":"root"'
check "both audit logs verify" sh -c "'$CA_ADMIN' --dir '$T/ca' audit verify &&
    '$CA_ADMIN' --dir '$R' audit verify"

# ---- the issuer rolls over while its root stays offline ---------------------
# The issuing instance makes the new key and a CSR; the root's instance
# signs it; the import makes it the next generation. ca-server is not
# needed for any step; the root key never comes to the issuing instance.
refuse "issuer rollover without --csr is refused where the root is offline" \
    admin issuer rollover issuing
has "... and says to use a ceremony" "$T/refuse.err" "--csr FILE"
check "issuer rollover --csr (issuing instance)" \
    admin issuer rollover issuing --csr "$T/roll.csr"
refuse "a second rollover CSR while one waits is refused" \
    admin issuer rollover issuing --csr "$T/roll2.csr"
openssl req -in "$T/roll.csr" -noout -subject >"$T/roll.subj" 2>>"$LOG"
has "the CSR names the second generation" "$T/roll.subj" " G2"
check "root sign-issuer of the rollover CSR (root's instance)" \
    radmin root sign-issuer --csr "$T/roll.csr" --out "$T/roll.crt"
refuse "importing another CA's certificate as the rollover is refused" \
    admin issuer import --cert "$T/carry.crt"
check "issuer import of the rollover (issuing instance)" \
    admin issuer import --cert "$T/roll.crt"
admin issuer list >"$T/ilist.txt" 2>>"$LOG"
eq "issuer list: issuing-2 is active" \
    "$(awk '$1 == "issuing-2" { print $2, $3, $4 }' "$T/ilist.txt")" \
    "issuing 2 active"
eq "... issuing is retiring" \
    "$(awk '$1 == "issuing" { print $2, $3, $4 }' "$T/ilist.txt")" \
    "issuing 1 retiring"
check "the new generation's key is on the issuing token" \
    cmp "$T/roll.crt" "$T/ca/certs/issuing-2.crt"
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":8}' \
    --out "$T/dev2.crt" >>"$LOG" 2>&1
check "a new certificate verifies through issuing-2 to the root" \
    openssl verify -CAfile "$R/certs/root.crt" -untrusted "$T/roll.crt" \
    "$T/dev2.crt"
fails "... and not through the old issuing CA" \
    openssl verify -CAfile "$R/certs/root.crt" -untrusted "$T/carry.crt" \
    "$T/dev2.crt"
refuse "the same certificate again is refused" \
    admin issuer import --cert "$T/roll.crt"
admin audit list >"$T/audit-ca.txt" 2>>"$LOG"
has "issuing instance audits the rollover CSR" "$T/audit-ca.txt" \
    "issuer-rollover-csr"
has "... and its import" "$T/audit-ca.txt" "issuer-rollover-import"
export SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf"
flock "$T/ca/hsm/token.guard" pkcs11-tool --module "$mod" \
    --token-label lanyard-issuing --login --pin "$(cat "$T/ca/hsm/issuing.pin")" \
    --list-objects >"$T/objs2.txt" 2>>"$LOG"
has "the issuing token holds the new key" "$T/objs2.txt" "issuing-2-ca"
lacks "... and still no root key" "$T/objs2.txt" "root-ca"
unset SOFTHSM2_CONF

# ---- the root is renewed on its own instance; the issuing one follows ------
check "root rollover (root's instance)" radmin root rollover
n0=$(admin audit list 2>>"$LOG" | wc -l)
refuse "root import with only the new root's cross-certificate is refused" \
    admin root import --cert "$R/certs/root-2.crt" --cross "$R/certs/cross-2-1.crt"
refuse "root import of a certificate that is no root is refused" \
    admin root import --cert "$T/roll.crt" --cross "$R/certs/cross-1-2.crt"
eq "... and changes nothing" "$(admin audit list 2>>"$LOG" | wc -l)" "$n0"
check "root import of root-2 with the crosses (issuing instance)" \
    admin root import --cert "$R/certs/root-2.crt" \
    --cross "$R/certs/cross-1-2.crt" --cross "$R/certs/cross-2-1.crt"
refuse "the same root again is refused" admin root import \
    --cert "$R/certs/root-2.crt" --cross "$R/certs/cross-1-2.crt"
admin issuer list >"$T/ilist2.txt" 2>>"$LOG"
eq "issuer list: root-2 is the root in force" \
    "$(awk '$1 == "root-2" { print $2, $3, $4 }' "$T/ilist2.txt")" "root 2 active"
check "issuer rollover --csr once more" \
    admin issuer rollover issuing --csr "$T/roll3.csr"
check "root sign-issuer signs with the new root" \
    radmin root sign-issuer --csr "$T/roll3.csr" --out "$T/roll3.crt"
check "... whose key it verifies with" \
    openssl verify -CAfile "$R/certs/root-2.crt" "$T/roll3.crt"
check "issuer import of issuing-3, under root-2" \
    admin issuer import --cert "$T/roll3.crt"
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":9}' \
    --out "$T/dev3.crt" >>"$LOG" 2>&1
check "a new leaf verifies to root-2" openssl verify \
    -CAfile "$R/certs/root-2.crt" -untrusted "$T/roll3.crt" "$T/dev3.crt"
cat "$T/roll3.crt" "$R/certs/cross-1-2.crt" >"$T/untrusted3.pem"
check "... and, through the cross-certificate, to the old root" \
    openssl verify -CAfile "$R/certs/root.crt" -untrusted "$T/untrusted3.pem" \
    "$T/dev3.crt"
export SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf"
flock "$T/ca/hsm/token.guard" pkcs11-tool --module "$mod" \
    --token-label lanyard-issuing --login --pin "$(cat "$T/ca/hsm/issuing.pin")" \
    --list-objects >"$T/objs3.txt" 2>>"$LOG"
lacks "the issuing token holds no root key of either generation" \
    "$T/objs3.txt" "root-ca"
unset SOFTHSM2_CONF

# The next ceremony is due within [root] renew_before: status says so.
echo 'renew_before = 365d' >>"$T/ca/ca.conf"
admin status >"$T/status.txt" 2>>"$LOG"
has "status warns renew_before ahead of the root CRL's nextUpdate" \
    "$T/status.txt" "the root CRL's nextUpdate is within 365 days"
done_testing
