#!/bin/sh
# ca-admin status and the /metrics gauges: status exits non-zero and
# says why while something needs action (no backup, no server), and 0
# once nothing does; /metrics carries the same numbers as gauges; the
# shipped alerting rules and the scraped text pass promtool.
. "$(dirname "$0")/lib.sh"

need openssl curl jq promtool
instance
check "promtool check rules docs/alerts.rules.yml" \
    promtool check rules "$top_srcdir/docs/alerts.rules.yml"
csr a
admin issue --profile client --csr "$T/a.csr" --identity '{"userId":1}' --out "$T/a.crt" >>"$LOG" 2>&1
admin token create --profile client --identity '{"userId":2}' >>"$LOG" 2>&1
admin identity disable --identity '{"userId":3}' >>"$LOG" 2>&1

admin status >"$T/s1.txt" 2>>"$LOG"
eq "status exits 1 while something needs action" "$?" 1
has "... no backup yet" "$T/s1.txt" "ACTION: no backup"
has "... no ca-server" "$T/s1.txt" "ACTION: no ca-server is running"
has "it shows the issuing CA" "$T/s1.txt" "CA issuing"
has "it shows the issuing CRL" "$T/s1.txt" "CRL issuing"
has "it says the HSM is reachable" "$T/s1.txt" "HSM                    reachable"

check "backup" admin backup --out "$T/bk.tar"
must "ca-server starts" start_server
admin status >"$T/s2.txt" 2>>"$LOG"
eq "status exits 0 when nothing needs action" "$?" 0
has "... and says so" "$T/s2.txt" "nothing needs action"
admin status --json >"$T/s.json" 2>>"$LOG"
eq "--json: the server's pid" "$(jq -r .server_pid "$T/s.json")" "$SERVER_PID"
eq "--json: one valid client certificate" "$(jq -r .profiles.client.valid "$T/s.json")" 1
eq "--json: one token outstanding" "$(jq -r .tokens_outstanding "$T/s.json")" 1
eq "--json: one identity disabled" "$(jq -r .identities_disabled "$T/s.json")" 1
eq "--json: no actions" "$(jq -r '.actions | length' "$T/s.json")" 0

curl -sS --max-time 10 -o "$T/metrics.txt" "$BASE/metrics" 2>>"$LOG"
has "/metrics: CA expiry" "$T/metrics.txt" 'lanyard_ca_expiry_seconds{ca="issuing",state="active"}'
has "/metrics: issuer headroom" "$T/metrics.txt" 'lanyard_issuer_headroom_seconds{ca="issuing",issuer="issuing"}'
has "/metrics: the root's OCSP responses' nextUpdate" "$T/metrics.txt" 'lanyard_root_ocsp_next_update_seconds '
has "/metrics: OCSP signer expiry" "$T/metrics.txt" 'lanyard_ocsp_signer_expiry_seconds '
has "/metrics: TLS expiry" "$T/metrics.txt" 'lanyard_tls_expiry_seconds '
has "/metrics: store usage" "$T/metrics.txt" 'lanyard_store_used_ratio '
has "/metrics: certificates by profile and status" "$T/metrics.txt" \
    'lanyard_certificates{profile="client",status="valid"} 1'
has "/metrics: backup age" "$T/metrics.txt" 'lanyard_backup_age_seconds '
has "/metrics: CRL nextUpdate" "$T/metrics.txt" 'lanyard_crl_next_update_seconds{crl="issuing"}'
age=$(sed -n 's/^lanyard_backup_age_seconds //p' "$T/metrics.txt")
if [ -n "$age" ] && [ "$age" -lt 600 ]; then ok "the backup is minutes old ($age s)"
else not_ok "the backup is minutes old ($age s)"; fi
promtool check metrics <"$T/metrics.txt" >"$T/lint.txt" 2>&1
lacks "promtool finds no error in /metrics" "$T/lint.txt" "error"
stop_server
admin status --no-hsm >"$T/s3.txt" 2>>"$LOG"
eq "status exits 1 once ca-server is gone" "$?" 1
has "... saying so" "$T/s3.txt" "ACTION: no ca-server is running"
has "--no-hsm skips the probe" "$T/s3.txt" "not checked"
done_testing
