#!/bin/bash
# The pre-issuance lint end to end: a profile that would make a
# certificate break a rule (OCSPSigning with clientAuth: a client that
# could sign OCSP answers for the CA) is refused before the HSM signs,
# by ca-admin (exit 1, the rule named) and over HTTPS (500, "lint", the
# rule named); the token is not used up; the refusal is counted in
# /metrics; good issuance, CRLs and OCSP go on and count nothing.
. "$(dirname "$0")/lib.sh"

need openssl curl

instance
RULE=e_ocsp_signer_eku_not_exclusive
ID='{"platform":"linux","userId":7}'
cat >>"$T/ca/ca.conf" <<'CONF'

[profile mixed]
days = 30
eku = client, ocsp
identity = json
CONF
csr dev

refuse "ca-admin refuses a certificate that breaks a rule" \
    admin issue --profile mixed --csr "$T/dev.csr" --identity "$ID"
has "... and names the rule" "$T/refuse.err" "lint: $RULE:"
admin list --status valid --json >"$T/list.json" 2>>"$LOG"
lacks "... and stores no valid certificate of the profile" "$T/list.json" \
    '"mixed"'
check "a certificate of a good profile is still issued" \
    admin issue --profile client --csr "$T/dev.csr" --identity "$ID" \
    --out "$T/dev.crt"
check "CRLs are still published" admin crl publish

must "ca-server starts" start_server_https
ok "ca-server starts with HTTPS"
admin token create --profile mixed --identity "$ID" --ttl 1h \
    >"$T/tok.out" 2>>"$LOG"
TOKEN=$(sed -n 's/^token: //p' "$T/tok.out")
# The CSR's PEM as a JSON string: its lines joined with \n.
CSRJ=$(awk '{ printf "%s\\n", $0 }' "$T/dev.csr")
c=$(curl -sS --max-time 10 --cacert "$T/ca/certs/root.crt" -o "$T/body" \
    -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"token\":\"$TOKEN\",\"csr\":\"$CSRJ\"}" \
    "$SBASE/api/v1/enroll" 2>>"$LOG")
eq "enrollment into it is a 500: our bug, not the client's" "$c" 500
has "... with the stable code lint" "$T/body" '"error":"lint"'
has "... naming the rule" "$T/body" "lint: $RULE:"
has "... and the server logged it" "$SERVER_LOG" "lint: $RULE:"
admin token list >"$T/tokens.txt" 2>>"$LOG"
has "the token is not used up" "$T/tokens.txt" "unused"

c=$(curl -sS --max-time 10 -o "$T/metrics" -w '%{http_code}' \
    "$BASE/metrics" 2>>"$LOG")
eq "/metrics is 200" "$c" 200
has "/metrics counts the refused certificate" "$T/metrics" \
    'lanyard_lint_failures_total{kind="cert"} 1'
has "/metrics counts no refused CRL" "$T/metrics" \
    'lanyard_lint_failures_total{kind="crl"} 0'
has "/metrics counts no refused OCSP response" "$T/metrics" \
    'lanyard_lint_failures_total{kind="ocsp"} 0'

stop_server
done_testing
