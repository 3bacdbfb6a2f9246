#!/bin/sh
# reissue, revoke and the audit log: the store changes as it should, and a
# changed byte in the audit log is found.
. "$(dirname "$0")/lib.sh"

need openssl

instance
status_of() { admin show --serial "$1" --json | sed -n 's/.*"status": "\(.*\)".*/\1/p'; }
field_of() { admin show --serial "$1" --json | sed -n "s/.*\"$2\": \"\\(.*\\)\".*/\\1/p"; }

csr dev1
admin issue --profile client --csr "$T/dev1.csr" --identity '{"platform":"ios","userId":7}' \
    --out "$T/v1.crt" 2>>"$LOG"
s1=$(serial_of "$T/v1.crt")
eq "issued certificate is valid" "$(status_of "$s1")" valid

# Reissue with a new key: same identity and profile, new serial.
csr dev2
check "reissue with a new key" admin reissue --serial "$s1" --csr "$T/dev2.csr" --out "$T/v2.crt"
s2=$(serial_of "$T/v2.crt")
[ -n "$s2" ] && [ "$s2" != "$s1" ] && ok "reissue draws a new serial" || not_ok "reissue draws a new serial"
eq "new certificate has the old identity" \
    "$(openssl x509 -in "$T/v2.crt" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" \
    'URI:{"platform":"ios","userId":7}'
eq "new certificate has the new key" \
    "$(openssl x509 -in "$T/v2.crt" -noout -pubkey | sha256sum)" \
    "$(openssl pkey -in "$T/dev2.key" -pubout | sha256sum)"
eq "old record names its successor" "$(field_of "$s1" superseded_by)" "$s2"
eq "new record names its predecessor" "$(field_of "$s2" supersedes)" "$s1"
eq "new record keeps the profile" "$(field_of "$s2" profile)" client
check "reissued certificate verifies" openssl verify -x509_strict -CAfile "$CA/root.crt" \
    -untrusted "$CA/issuing.crt" "$T/v2.crt"
check "a superseded certificate asked again for its successor's key" admin reissue \
    --serial "$s1" --csr "$T/dev2.csr" --out "$T/v2again.crt"
eq "... gets the successor again" "$(serial_of "$T/v2again.crt")" "$s2"
eq "... and the store is as it was" "$(field_of "$s2" supersedes)" "$s1"
csr dev3
refuse "a superseded certificate cannot be reissued for another key" admin reissue \
    --serial "$s1" --csr "$T/dev3.csr"

# Revoke.
check "revoke with a reason" admin revoke --serial "$s2" --reason keyCompromise
eq "status is revoked" "$(status_of "$s2")" revoked
eq "reason is recorded" "$(field_of "$s2" reason)" keyCompromise
[ -n "$(field_of "$s2" revoked_at)" ] && ok "revocation time is recorded" || not_ok "revocation time is recorded"
refuse "revoking twice is refused" admin revoke --serial "$s2"
refuse "a revoked certificate cannot be reissued" admin reissue --serial "$s2" --csr "$T/dev2.csr"
admin list --status revoked >"$T/revoked.txt" 2>>"$LOG"
has "list --status revoked shows it" "$T/revoked.txt" "$s2"
lacks "list --status revoked does not show valid ones" "$T/revoked.txt" "$s1 "
refuse "revoke of an unknown serial" admin revoke --serial 0A0B0C0D0E0F1011
"$CA_ADMIN" --dir "$T/ca" revoke --serial "$s1" --reason nonsense >>"$LOG" 2>&1
eq "an unknown reason is a usage error" "$?" 2
check "revoke with an invalidity date" admin revoke --serial "$s1" --reason superseded \
    --invalidity-date 2026-01-02T03:04:05Z
eq "invalidity date is recorded" "$(field_of "$s1" invalidity_date)" 2026-01-02T03:04:05Z

# The audit log has every change, and verifies.
admin audit list >"$T/audit.txt" 2>>"$LOG"
has "audit has the root init" "$T/audit.txt" "init-root"
has "audit has the issue" "$T/audit.txt" " issue "
has "audit has the reissue" "$T/audit.txt" " reissue "
has "audit has the revoke" "$T/audit.txt" " revoke "
eq "audit has one revoke entry per revocation" "$(grep -c ' revoke ' "$T/audit.txt")" 2
admin audit verify >"$T/verify.txt" 2>&1
has "audit verify passes over every entry" "$T/verify.txt" "audit log intact: $(wc -l <"$T/audit.txt" | tr -d ' ') entries"

# Change one byte of one entry's detail in the LMDB file: verify must fail.
# Copy-on-write leaves older copies of a page in the file, so every copy
# of the entry is changed.
cp -p "$T/ca/store/data.mdb" "$T/data.mdb.orig"
perl -0777 -pi -e 's/"reason":"keyCompromise"/"reason":"keyCompromisE"/g' "$T/ca/store/data.mdb"
if cmp -s "$T/ca/store/data.mdb" "$T/data.mdb.orig"; then
	not_ok "the test changed a byte of the audit log"
else
	ok "the test changed a byte of the audit log"
fi
refuse "audit verify fails after one byte changed" admin audit verify
has "and says which entry" "$T/refuse.err" "modified"

done_testing
