#!/bin/sh
# Backup and restore never un-revoke (docs/operations.md): issue A and B,
# back up while ca-server runs, issue C, revoke A and C, publish, destroy
# the instance keeping the HSM token directory (what SoftHSM's own backup
# keeps), restore from the backup with the published CRLs: A and C are
# revoked in the new CRL and in OCSP, the CRL number goes on above every
# published one, B is good, the audit log verifies.
. "$(dirname "$0")/lib.sh"

need openssl python3
instance
crl_number() {
	printf '%d' "$(openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/.*=//')"
}
for c in a b c; do csr $c; done
admin issue --profile client --csr "$T/a.csr" --identity '{"userId":1}' --out "$T/a.crt" 2>>"$LOG"
admin issue --profile client --csr "$T/b.csr" --identity '{"userId":2}' --out "$T/b.crt" 2>>"$LOG"

must "ca-server starts" start_server
check "backup while ca-server runs" admin backup --out "$T/bk.tar"
refuse "a backup never overwrites a file" admin backup --out "$T/bk.tar"
for p in "$T"/ca/hsm/*.pin; do
	if grep -qaF -- "$(cat "$p")" "$T/bk.tar"; then
		not_ok "no PIN in the backup ($(basename "$p"))"
	else ok "no PIN in the backup ($(basename "$p"))"; fi
done
lacks "no private key in the backup" "$T/bk.tar" "PRIVATE KEY"
tar tf "$T/bk.tar" >"$T/bk.list" 2>>"$LOG"
has "the backup holds the store" "$T/bk.list" "store/data.mdb"
has "the backup holds ca.conf" "$T/bk.list" "ca.conf"
lacks "the backup holds no token" "$T/bk.list" "tokens"
admin audit list >"$T/audit1.txt" 2>>"$LOG"
has "the backup is audited" "$T/audit1.txt" " backup "

admin issue --profile client --csr "$T/c.csr" --identity '{"userId":3}' --out "$T/c.crt" 2>>"$LOG"
A=$(serial_of "$T/a.crt"); B=$(serial_of "$T/b.crt"); C=$(serial_of "$T/c.crt")
admin revoke --serial "$A" --reason keyCompromise >>"$LOG" 2>&1
admin revoke --serial "$C" --reason affiliationChanged >>"$LOG" 2>&1
stop_server
check "publish before the loss" admin crl publish
check "static OCSP responses published before the loss" admin publish --out "$T/pub"
mkdir -p "$T/keep"
cp "$T/ca/publish/issuing.crl" "$T/ca/publish/issuing-delta.crl" \
    "$T/ca/publish/root.crl" "$T/keep/"
PUBMAX=$(crl_number "$T/keep/issuing.crl")
d=$(crl_number "$T/keep/issuing-delta.crl")
[ "$d" -gt "$PUBMAX" ] && PUBMAX=$d
# The HSM's own backup: SoftHSM's token directory; the PINs kept apart.
cp -a "$T/ca/hsm" "$T/keep/hsm"
rm -rf "$T/ca"

# Refused: a tampered backup, a CRL of another CA; nothing is left behind.
cp "$T/bk.tar" "$T/bad.tar"
size=$(stat -c %s "$T/bad.tar")
printf 'X' | dd of="$T/bad.tar" bs=1 seek=$((size - 12000)) conv=notrunc 2>>"$LOG"
refuse "a tampered backup is refused" "$CA_ADMIN" restore --from "$T/bad.tar" --dir "$T/ca"
has "it says what differs" "$T/refuse.err" "SHA-256"
check "nothing is left of a refused restore" test ! -e "$T/ca/ca.conf"
"$CA_ADMIN" --dir "$T/other" init >>"$LOG" 2>&1
refuse "a CRL of another CA is refused" "$CA_ADMIN" restore --from "$T/bk.tar" \
    --dir "$T/ca" --crl "$T/other/publish/issuing.crl"
has "it says why" "$T/refuse.err" "not signed by a CA of this backup"
refuse "a file that is not a CRL is refused" "$CA_ADMIN" restore --from "$T/bk.tar" \
    --dir "$T/ca" --crl "$T/a.csr"
# Hostile containers (python3's tarfile writes what GNU tar would not):
# a name out of the directory, a link, a PIN file the manifest lists.
hostile() {
	python3 - "$T/bk.tar" "$T/$1.tar" "$1" <<'PY'
import hashlib, io, json, sys, tarfile
src, dst, kind = sys.argv[1:4]
with tarfile.open(src) as t:
    m = json.load(t.extractfile("MANIFEST.json"))
    files = {n: t.extractfile(n).read() for n in m["files"]}
extra = {"dotdot": "../evil", "link": "certs/link", "pin": "hsm/issuing.pin"}[kind]
data = b"123456"
m["files"][extra] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, b, typ=tarfile.REGTYPE):
        i = tarfile.TarInfo(name); i.size = len(b) if typ == tarfile.REGTYPE else 0; i.type = typ
        if typ == tarfile.SYMTYPE: i.linkname = "/etc/passwd"
        t.addfile(i, io.BytesIO(b) if typ == tarfile.REGTYPE else None)
    add("MANIFEST.json", json.dumps(m).encode())
    for n, b in files.items():
        add(n, b)
    add(extra, data, tarfile.SYMTYPE if kind == "link" else tarfile.REGTYPE)
PY
}
for k in dotdot link pin; do
	hostile $k 2>>"$LOG"
	refuse "a backup with a $k entry is refused" "$CA_ADMIN" restore \
	    --from "$T/$k.tar" --dir "$T/ca"
	if grep -qE 'bad entry|not a plain file' "$T/refuse.err"; then
		ok "... for that entry ($(grep -oE 'bad entry [^ ]*|not a plain file[^:]*: [^ ]*' "$T/refuse.err"))"
	else not_ok "... for that entry"; cat "$T/refuse.err" >>"$LOG"; fi
	check "... and nothing of it is left" test ! -e "$T/ca/ca.conf"
done
check "nothing was written outside the new directory" test ! -e "$T/evil"
rm -rf "$T/ca"

"$CA_ADMIN" restore --from "$T/bk.tar" --dir "$T/ca" --crl "$T/keep/issuing.crl" \
    --crl "$T/keep/issuing-delta.crl" --crl "$T/keep/root.crl" >"$T/restore.txt" 2>>"$LOG"
eq "restore succeeds" "$?" 0
has "two revocations re-applied, one without a certificate" "$T/restore.txt" \
    "2 revocations re-applied (1 without a certificate)"
cp -a "$T/keep/hsm/tokens" "$T/keep/hsm/root.pin" "$T/keep/hsm/issuing.pin" "$T/ca/hsm/"
check "audit verify passes after the restore" admin audit verify
admin audit list >"$T/audit2.txt" 2>>"$LOG"
has "the restore is audited" "$T/audit2.txt" " restore "
has "each re-applied revocation is audited" "$T/audit2.txt" "\"source\":\"restore\""
admin show --serial "$A" >"$T/showa.txt" 2>>"$LOG"
has "A is revoked in the store" "$T/showa.txt" "revoked"
refuse "A cannot be reissued" admin reissue --serial "$A" --csr "$T/a.csr"

check "publish after the restore" admin crl publish
NEW=$(crl_number "$T/ca/publish/issuing.crl")
if [ "$NEW" -gt "$PUBMAX" ]; then ok "the CRL number ($NEW) is above every published one ($PUBMAX)"
else not_ok "the CRL number ($NEW) is above every published one ($PUBMAX)"; fi
openssl crl -inform DER -in "$T/ca/publish/issuing.crl" -noout -text >"$T/crl.txt" 2>>"$LOG"
has "A is on the new CRL" "$T/crl.txt" "$A"
has "C is on the new CRL" "$T/crl.txt" "$C"
lacks "B is not on the new CRL" "$T/crl.txt" "$B"
openssl crl -inform DER -in "$T/ca/publish/issuing.crl" -CAfile "$T/ca/certs/chain.pem" \
    -noout >"$T/crlv.txt" 2>&1
has "the new CRL verifies" "$T/crlv.txt" "verify OK"

must "ca-server starts on the restored instance" start_server
ocsp() {
	openssl ocsp -issuer "$CA/issuing.crt" "$@" -url "$BASE/ocsp" \
	    -CAfile "$CA/root.crt" -no_nonce 2>&1
}
ocsp -cert "$T/a.crt" >"$T/oa.txt"; has "OCSP: A revoked" "$T/oa.txt" ": revoked"
ocsp -cert "$T/c.crt" >"$T/oc.txt"; has "OCSP: C revoked" "$T/oc.txt" ": revoked"
ocsp -cert "$T/b.crt" >"$T/ob.txt"; has "OCSP: B good" "$T/ob.txt" ": good"
ocsp -serial 0x5EC0DE5EC0DE5EC0DE >"$T/ou.txt"
has "OCSP: a serial never seen is unknown, not good" "$T/ou.txt" ": unknown"

# An admin revokes a serial the store does not know (issued after the backup).
refuse "a serial the store does not know needs --unknown" admin revoke --serial 5EC0DE5EC0DE5EC0DE
has "... and the message says so" "$T/refuse.err" "--unknown"
check "revoke --unknown of a serial the store does not know" \
    admin revoke --serial 5EC0DE5EC0DE5EC0DE --unknown
ocsp -serial 0x5EC0DE5EC0DE5EC0DE >"$T/ou2.txt"
has "OCSP: that serial is now revoked" "$T/ou2.txt" ": revoked"
stop_server
admin crl publish >>"$LOG" 2>&1
openssl crl -inform DER -in "$T/ca/publish/issuing.crl" -noout -text >"$T/crl2.txt" 2>>"$LOG"
has "it is on the next CRL" "$T/crl2.txt" "5EC0DE5EC0DE5EC0DE"
check "audit verify passes at the end" admin audit verify

# The published OCSP responses alone carry the revocations too.
"$CA_ADMIN" restore --from "$T/bk.tar" --dir "$T/r2" --ocsp-dir "$T/pub/ocsp" \
    >"$T/restore2.txt" 2>>"$LOG"
eq "restore from the published OCSP responses succeeds" "$?" 0
has "... re-applying A and C (C without a certificate)" "$T/restore2.txt" \
    "2 revocations re-applied (1 without a certificate)"
"$CA_ADMIN" --dir "$T/r2" show --serial "$A" --json 2>>"$LOG" | grep -q '"revoked"' &&
    ok "... A is revoked" || not_ok "... A is revoked"
mkdir -p "$T/badocsp"
cp "$T/keep/issuing.crl" "$T/badocsp/x"
refuse "a file there that is no verified OCSP response is refused" "$CA_ADMIN" restore \
    --from "$T/bk.tar" --dir "$T/r3" --ocsp-dir "$T/badocsp"
done_testing
