#!/bin/sh
# ca-server makes at start only the CRLs that are due: started and stopped
# three times with nothing revoked and no CRL near its nextUpdate, it
# leaves the CRL number of every CA (full and delta) unchanged, in the
# store (/healthz) and in the published files. A revocation made while no
# server ran is published at the next start, and only the issuing CA's
# CRLs move for it.
. "$(dirname "$0")/lib.sh"

need openssl curl python3
instance
PUB="$T/ca/publish"

crl_number() { printf '%d' "0x$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed 's/^0x//')"; }
# numbers: "root=N issuing=N issuing-delta=N" from the published files.
numbers() { echo "root=$(crl_number "$PUB/root.crl") issuing=$(crl_number "$PUB/issuing.crl") issuing-delta=$(crl_number "$PUB/issuing-delta.crl")"; }
# The numbers ca-server itself reports (from the store).
healthz_numbers() {
	curl -sS "$BASE/healthz" 2>>"$LOG" | python3 -c '
import json, sys
c = json.load(sys.stdin)["crl"]
print(" ".join("%s=%d" % (k, c[k]["number"]) for k in sorted(c)))'
}

before=$(numbers)
check "init published the CRLs of every CA ($before)" test -n "$before"
for i in 1 2 3; do
	must "ca-server start $i" start_server
	[ "$i" -eq 1 ] && h1=$(healthz_numbers)
	hi=$(healthz_numbers)
	stop_server
	eq "start $i: the CRL files keep their numbers" "$(numbers)" "$before"
	eq "start $i: the store keeps its numbers (/healthz: $hi)" "$hi" "$h1"
	lacks "start $i: no CRL regenerated" "$SERVER_LOG" "CRLs regenerated"
done

# A revocation while no server ran: the issuing CA's CRLs at the next start.
csr r
admin issue --profile client --csr "$T/r.csr" --identity '{"userId":7}' --out "$T/r.crt" 2>>"$LOG"
rs=$(openssl x509 -in "$T/r.crt" -noout -serial | cut -d= -f2)
check "revoke without crl publish" admin revoke --serial "$rs"
must "ca-server start after the revocation" start_server
stop_server
openssl crl -inform DER -in "$PUB/issuing.crl" -noout -text >"$T/crl.txt" 2>&1
has "the revocation made while no server ran is published at start" "$T/crl.txt" "Serial Number: $rs"
after=$(numbers)
root0=${before%% *}
root1=${after%% *}
eq "the root's CRL did not move for a leaf's revocation" "$root1" "$root0"
iss0=$(echo "$before" | sed 's/.* issuing=\([0-9]*\).*/\1/')
iss1=$(echo "$after" | sed 's/.* issuing=\([0-9]*\).*/\1/')
[ "$iss1" -gt "$iss0" ] && ok "the issuing CA's CRL number grew ($iss0 -> $iss1)" ||
    not_ok "the issuing CA's CRL number grew ($iss0 -> $iss1)"
# ... once: the next start has nothing to do again.
must "ca-server start after the publication" start_server
stop_server
eq "the next start leaves every number as it was" "$(numbers)" "$after"

done_testing
