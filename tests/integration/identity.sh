#!/bin/sh
# Identities that can be disabled: a disabled identity cannot enroll (its
# outstanding tokens are refused with identity_disabled, by the JSON API
# and by EST), cannot reissue (mTLS reissue and EST simplereenroll refused
# with identity_disabled), enable lets it in again, and --revoke revokes
# all its valid certificates at once. The same by the admin API, audited
# under the admin's identity.
. "$(dirname "$0")/lib.sh"

need openssl curl jq
instance
cat >>"$T/ca/ca.conf" <<'CONF'

[profile fast]
reissue_threshold = 100%
CONF
ID='{"userId":42}'
api() {
	p=$1; shift
	rm -f "$T/body"
	curl -sS --max-time 20 --cacert "$ROOT" -o "$T/body" \
	    -w '%{http_code}' "$@" "$SBASE$p" 2>>"$LOG"
}
post() {
	p=$1 f=$2; shift 2
	api "$p" -H 'Content-Type: application/json' --data-binary @"$f" "$@"
}
jb() { jq -r "$@" "$T/body" 2>>"$LOG"; }
token() {
	admin token create --profile "$2" --identity "$3" --ttl 1h 2>>"$LOG" |
	    sed -n 's/^token: //p' >"$T/$1.tok"
}
ncerts() { admin list --status all --json 2>>"$LOG" | jq length; }
b64csr() { openssl req -in "$1" -outform DER | openssl base64 -A; }

csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"role":"admin","userId":7}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1
ADM="--cert $T/adm.crt --key $T/adm.key"
csr d1; csr d2; csr d3; csr d4
admin issue --profile fast --csr "$T/d1.csr" --identity "$ID" --out "$T/d1.crt" >>"$LOG" 2>&1
admin issue --profile fast --csr "$T/d2.csr" --identity "$ID" --out "$T/d2.crt" >>"$LOG" 2>&1
admin issue --profile fast --csr "$T/d1.csr" --identity '{"userId":43}' --out "$T/o.crt" >>"$LOG" 2>&1
token t1 client "$ID"
token t2 client "$ID"
must "ca-server starts with HTTPS" start_server_https

check "identity disable (CLI)" admin identity disable --identity '{ "userId": 42 }'
refuse "disabling it twice is refused" admin identity disable --identity "$ID"
refuse "a malformed identity is refused" admin identity disable --identity '{"nope":1}'
admin identity list >"$T/list.txt" 2>>"$LOG"
has "identity list shows it" "$T/list.txt" '{"userId":42}'
eq "identity list --json" "$(admin identity list --json 2>>"$LOG" | jq -r '.[0].identity')" \
    '{"userId":42}'
n0=$(ncerts)

# Doors: token enrollment (JSON API and EST), reissue (API and EST), admin issue.
jq -n --arg t "$(cat "$T/t1.tok")" --rawfile c "$T/d3.csr" '{token: $t, csr: $c}' >"$T/e.json"
eq "enroll with an outstanding token: 403" "$(post /api/v1/enroll "$T/e.json")" 403
eq "... identity_disabled" "$(jb .error)" identity_disabled
b64csr "$T/d3.csr" >"$T/d3.b64"
eq "EST simpleenroll with the token: 403" "$(api /.well-known/est/simpleenroll \
    -u "dev:$(cat "$T/t2.tok")" -H Content-Type:application/pkcs10 \
    --data-binary @"$T/d3.b64")" 403
eq "... identity_disabled" "$(jb .error)" identity_disabled
jq -n --rawfile c "$T/d4.csr" '{csr: $c}' >"$T/r.json"
eq "mTLS reissue: 403" "$(post /api/v1/reissue "$T/r.json" --cert "$T/d1.crt" --key "$T/d1.key")" 403
eq "... identity_disabled" "$(jb .error)" identity_disabled
b64csr "$T/d4.csr" >"$T/d4.b64"
eq "EST simplereenroll: 403" "$(api /.well-known/est/simplereenroll \
    --cert "$T/d1.crt" --key "$T/d1.key" -H Content-Type:application/pkcs10 \
    --data-binary @"$T/d4.b64")" 403
eq "... identity_disabled" "$(jb .error)" identity_disabled
refuse "ca-admin issue for it is refused" admin issue --profile fast --csr "$T/d3.csr" --identity "$ID"
has "... saying it is disabled" "$T/refuse.err" "disabled"
eq "nothing was issued" "$(ncerts)" "$n0"
eq "the tokens stay unused" "$(admin token list --json 2>>"$LOG" | jq -r '[.[].state] | unique | join(",")')" unused
eq "another identity still reissues" "$(post /api/v1/reissue "$T/r.json" --cert "$T/o.crt" --key "$T/d1.key")" 200

check "identity enable (CLI)" admin identity enable --identity "$ID"
refuse "enabling it again is refused" admin identity enable --identity "$ID"
eq "enrolled again after enable" "$(post /api/v1/enroll "$T/e.json")" 200

# --revoke: every valid certificate of the identity at once.
check "identity disable --revoke keyCompromise" admin identity disable --identity "$ID" \
    --revoke keyCompromise
for c in d1 d2; do
	eq "$c is revoked" "$(admin show --serial "$(serial_of "$T/$c.crt")" --json 2>>"$LOG" |
	    jq -r .status)" revoked
done
eq "the other identity's certificate is not" "$(admin show --serial \
    "$(serial_of "$T/o.crt")" --json 2>>"$LOG" | jq -r .status)" valid
openssl ocsp -issuer "$T/ca/certs/issuing.crt" -cert "$T/d2.crt" -url "$BASE/ocsp" \
    -CAfile "$ROOT" -no_nonce >"$T/ocsp.txt" 2>&1
has "OCSP says revoked at once" "$T/ocsp.txt" ": revoked"

# The admin API.
SP=spiffe://example.org/ns/prod/sa/web
echo "{\"spiffe\":\"$SP\"}" >"$T/sp.json"
eq "admin API without an admin certificate: 403" \
    "$(post /api/v1/identities/disabled "$T/sp.json" --cert "$T/o.crt" --key "$T/d1.key")" 403
eq "admin API: POST disables" "$(post /api/v1/identities/disabled "$T/sp.json" $ADM)" 200
eq "admin API: GET lists it" "$(api /api/v1/identities/disabled $ADM)" 200
eq "... by the admin" "$(jb --arg s "$SP" '.disabled[] | select(.identity == $s) | .by')" \
    'admin:{"role":"admin","userId":7}'
token sp fast "$SP"
jq -n --arg t "$(cat "$T/sp.tok")" --rawfile c "$T/d3.csr" '{token: $t, csr: $c}' >"$T/sp2.json"
eq "the SPIFFE ID cannot enroll" "$(post /api/v1/enroll "$T/sp2.json")" 403
eq "... identity_disabled" "$(jb .error)" identity_disabled
echo '{"spiffe":"spiffe://example.org/x","bogus":1}' >"$T/bad.json"
eq "an unknown member is 400" "$(post /api/v1/identities/disabled "$T/bad.json" $ADM)" 400
eq "admin API: POST .../enabled enables" "$(post /api/v1/identities/enabled "$T/sp.json" $ADM)" 200
eq "the SPIFFE ID enrolls again" "$(post /api/v1/enroll "$T/sp2.json")" 200
admin audit list >"$T/audit.txt" 2>>"$LOG"
has "disable is audited" "$T/audit.txt" "identity-disable"
has "enable is audited" "$T/audit.txt" "identity-enable"
grep 'identity-enable' "$T/audit.txt" | grep -F 'admin:{"role":"admin"' >>"$LOG" &&
    ok "the API's changes are audited under the admin" ||
    not_ok "the API's changes are audited under the admin"
check "audit verify" admin audit verify
done_testing
