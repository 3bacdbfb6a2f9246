#!/bin/sh
# CRLs of a second issuing CA ([issuer devices], which the client profile
# names): devices.crl lists only the revocations of devices' certificates
# and is signed by devices, issuing.crl only issuing's; both have a delta;
# openssl verify -crl_check refuses a revoked leaf of each CA with its own
# CRL and accepts a valid one; the gateways' bundle holds a CRL for every
# CA; ca-server, after a revocation, makes the revoking CA's delta list it
# and serves every CA's CRLs; an [issuer] with crl_shards = 2 gets its own
# partitions, each certificate's CRL DP naming its shard; after a root
# rollover the new root has its own CRL.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

PUB="$T/ca/publish"
# The default configuration, the client profile on a second issuer.
"$CA_ADMIN" config >"$T/ca.conf.in" 2>>"$LOG" || bail "ca-admin config"
awk '{ print } /^\[profile client\]/ { print "issuer = devices" }' "$T/ca.conf.in" >"$T/ca.conf"
cat >>"$T/ca.conf" <<'EOF'

[issuer devices]
key = pkcs11:token=lanyard-issuing;object=devices-ca
pin_file = hsm/issuing.pin
subject = /O=Test/CN=Devices CA
key_type = ec-p256
days = 1000
cert = certs/devices.crt
EOF
must "init --config with an [issuer devices]" "$CA_ADMIN" --dir "$T/ca" init --config "$T/ca.conf"
check "init made the devices CA" test -s "$CA/devices.crt"
cat "$CA/devices.crt" "$ROOT" >"$T/devices-chain.pem"
cat "$CA/issuing.crt" "$ROOT" >"$T/issuing-chain.pem"

# Two leaves of each CA: one to revoke, one to stay valid.
for u in 1 2; do
	csr "d$u"
	admin issue --profile client --csr "$T/d$u.csr" --identity "{\"userId\":$u}" \
	    --out "$T/d$u.crt" >>"$LOG" 2>&1
	csr "s$u"
	admin issue --profile service --csr "$T/s$u.csr" --dns "s$u.example" \
	    --out "$T/s$u.crt" >>"$LOG" 2>&1
done
has_issuer() { openssl x509 -in "$1" -noout -issuer 2>&1 | grep -q "$2"; }
check "the client profile issues from devices" has_issuer "$T/d1.crt" "CN = Devices CA"
check "the service profile from issuing" has_issuer "$T/s1.crt" "CN = Lanyard Issuing CA 1"
D1=$(serial_of "$T/d1.crt")
S1=$(serial_of "$T/s1.crt")
check "revoke a devices leaf" admin revoke --serial "$D1" --reason keyCompromise
check "revoke an issuing leaf" admin revoke --serial "$S1" --reason superseded
check "crl publish" admin crl publish

for c in devices devices-delta issuing issuing-delta root; do
	check "$c.crl is published" test -s "$PUB/$c.crl"
done
check "the root has no delta" test ! -e "$PUB/root-delta.crl"
text() { openssl crl -inform DER -in "$PUB/$1.crl" -noout -text 2>&1; }
text devices >"$T/devices.txt"
text issuing >"$T/issuing.txt"
has "devices.crl: issued by devices" "$T/devices.txt" "Issuer: O = Test, CN = Devices CA"
has "devices.crl lists the devices leaf" "$T/devices.txt" "Serial Number: $D1"
lacks "devices.crl does not list the issuing leaf" "$T/devices.txt" "Serial Number: $S1"
has "devices.crl: Freshest CRL is its own delta" "$T/devices.txt" "/crl/devices-delta.crl"
has "issuing.crl lists the issuing leaf" "$T/issuing.txt" "Serial Number: $S1"
lacks "issuing.crl does not list the devices leaf" "$T/issuing.txt" "Serial Number: $D1"
for c in devices issuing; do
	openssl crl -inform DER -in "$PUB/$c.crl" -out "$T/$c.pem" 2>>"$LOG"
	openssl crl -in "$T/$c.pem" -CAfile "$T/$c-chain.pem" -noout >"$T/$c.v" 2>&1
	has "openssl crl: $c.crl is signed by $c" "$T/$c.v" "verify OK"
done
openssl crl -in "$T/devices.pem" -CAfile "$T/issuing-chain.pem" -noout >"$T/x.v" 2>&1
lacks "... and not by issuing" "$T/x.v" "verify OK"
openssl crl -inform DER -in "$PUB/root.crl" -out "$T/root.pem" 2>>"$LOG"
cat "$T/devices.pem" "$T/root.pem" >"$T/devices-crls.pem"
cat "$T/issuing.pem" "$T/root.pem" >"$T/issuing-crls.pem"

# openssl verify, each leaf against its own CA's CRL.
vfy() { # CHAIN CRLS CERT
	openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$1" -CRLfile "$2" "$3" 2>&1
}
vfy "$CA/devices.crt" "$T/devices-crls.pem" "$T/d1.crt" >"$T/v.d1"
has "verify -crl_check_all: the revoked devices leaf is refused" "$T/v.d1" "certificate revoked"
check "verify -crl_check_all: the valid devices leaf passes" \
    sh -c "openssl verify -crl_check_all -CAfile '$ROOT' -untrusted '$CA/devices.crt' \
    -CRLfile '$T/devices-crls.pem' '$T/d2.crt' | grep -q ': OK'"
vfy "$CA/issuing.crt" "$T/issuing-crls.pem" "$T/s1.crt" >"$T/v.s1"
has "verify -crl_check_all: the revoked issuing leaf is refused" "$T/v.s1" "certificate revoked"
check "verify -crl_check_all: the valid issuing leaf passes" \
    sh -c "openssl verify -crl_check_all -CAfile '$ROOT' -untrusted '$CA/issuing.crt' \
    -CRLfile '$T/issuing-crls.pem' '$T/s2.crt' | grep -q ': OK'"
# issuing's CRL says nothing of devices' leaves: no CRL for devices.
vfy "$CA/devices.crt" "$T/issuing-crls.pem" "$T/d2.crt" >"$T/v.x"
has "issuing's CRL is no CRL for a devices leaf" "$T/v.x" "unable to get certificate CRL"

# The gateways' bundle: one CRL per CA, with which both leaves fail.
eq "the bundle holds a CRL for each of the three CAs" \
    "$(grep -c 'BEGIN X509 CRL' "$PUB/crl-bundle.pem")" 3
cat "$CA/devices.crt" "$CA/issuing.crt" >"$T/both.pem"
for c in d1 s1; do
	vfy "$T/both.pem" "$PUB/crl-bundle.pem" "$T/$c.crt" >"$T/vb.$c"
	has "with the bundle, $c is refused" "$T/vb.$c" "certificate revoked"
done
for c in d2 s2; do
	check "with the bundle, $c passes" sh -c "openssl verify -crl_check_all -CAfile '$ROOT' \
	    -untrusted '$T/both.pem' -CRLfile '$PUB/crl-bundle.pem' '$T/$c.crt' | grep -q ': OK'"
done

# ca-server: every CA's CRLs by HTTP; a revocation reaches devices' delta.
must "ca-server starts" start_server
for c in devices devices-delta issuing issuing-delta root; do
	eq "GET /crl/$c.crl" "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/crl/$c.crl")" 200
done
eq "GET /crl/devices-0.crl (not partitioned) is 404" \
    "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/crl/devices-0.crl")" 404
curl -sS -o "$T/idelta1.crl" "$BASE/crl/issuing-delta.crl" 2>>"$LOG"
D2=$(serial_of "$T/d2.crt")
check "revoke the second devices leaf while ca-server runs" admin revoke --serial "$D2"
i=0
while [ $i -lt 100 ]; do
	curl -sS -o "$T/dd.crl" "$BASE/crl/devices.crl" 2>>"$LOG"
	openssl crl -inform DER -in "$T/dd.crl" -noout -text 2>/dev/null | grep -q "$D2" && break
	sleep 0.2
	i=$((i + 1))
done
openssl crl -inform DER -in "$T/dd.crl" -noout -text >"$T/dd.txt" 2>&1
has "ca-server: devices' CRL lists the revocation ([crl] on_revoke = full)" \
    "$T/dd.txt" "Serial Number: $D2"
has "... it is devices' own" "$T/dd.txt" "Issuer: O = Test, CN = Devices CA"
curl -sS -o "$T/idelta2.crl" "$BASE/crl/issuing.crl" 2>>"$LOG"
openssl crl -inform DER -in "$T/idelta2.crl" -noout -text >"$T/id.txt" 2>&1
lacks "issuing's CRL does not list it" "$T/id.txt" "Serial Number: $D2"
admin status --json >"$T/status.json" 2>>"$LOG"
eq "status lists the devices CA, active" \
    "$(jq -r '.cas[] | select(.name == "devices") | .state' "$T/status.json")" active
eq "status lists devices' CRLs" \
    "$(jq -r '[.crls[].name | select(startswith("devices"))] | sort | join(",")' "$T/status.json")" \
    "devices,devices-delta"
stop_server

# An issuer in two CRL partitions: devices-0/1(-delta), the whole one for
# the bundle, and each certificate's CRL DP names its shard.
rm -rf "$T/ca"
{ cat "$T/ca.conf"; echo "crl_shards = 2"; } >"$T/ca2.conf"
must "init with [issuer devices] crl_shards = 2" "$CA_ADMIN" --dir "$T/ca" init --config "$T/ca2.conf"
for u in 1 2 3 4 5 6; do
	csr "p$u"
	admin issue --profile client --csr "$T/p$u.csr" --identity "{\"userId\":$u}" \
	    --out "$T/p$u.crt" >>"$LOG" 2>&1
	admin revoke --serial "$(serial_of "$T/p$u.crt")" >>"$LOG" 2>&1
done
check "crl publish (shards)" admin crl publish
for c in devices devices-0 devices-1 devices-0-delta devices-1-delta issuing issuing-delta; do
	check "$c.crl is published" test -s "$PUB/$c.crl"
done
check "issuing is not partitioned ([crl] shards = 1)" test ! -e "$PUB/issuing-0.crl"
bad=0
for u in 1 2 3 4 5 6; do
	cdp=$(openssl x509 -in "$T/p$u.crt" -noout -ext crlDistributionPoints 2>/dev/null |
	    sed -n 's|.*URI:.*/crl/\(.*\)\.crl.*|\1|p')
	case $cdp in devices-0|devices-1) ;; *) bad=$((bad + 1)); echo "# p$u CDP: $cdp" ;; esac
	openssl crl -inform DER -in "$PUB/$cdp.crl" -noout -text 2>/dev/null |
	    grep -q "Serial Number: $(serial_of "$T/p$u.crt")" || { bad=$((bad + 1)); echo "# p$u not in $cdp"; }
	openssl crl -inform DER -in "$PUB/$cdp.crl" -noout -text 2>/dev/null |
	    grep -q "/crl/$cdp.crl" || { bad=$((bad + 1)); echo "# $cdp: IDP is not its own"; }
done
eq "each devices leaf's CRL DP is a devices shard that lists it, with its own IDP" "$bad" 0
openssl crl -inform DER -in "$PUB/devices-0.crl" -out "$T/p0.pem" 2>>"$LOG"
openssl crl -inform DER -in "$PUB/devices-1.crl" -out "$T/p1.pem" 2>>"$LOG"
openssl crl -inform DER -in "$PUB/root.crl" -out "$T/proot.pem" 2>>"$LOG"
cat "$T/p0.pem" "$T/p1.pem" "$T/proot.pem" >"$T/pshards.pem"
vfy "$CA/devices.crt" "$T/pshards.pem" "$T/p1.crt" >"$T/vp1"
has "verify -crl_check_all with the shards refuses a revoked devices leaf" "$T/vp1" "certificate revoked"

# A root rollover: the new root (root-2) has its own full CRL, no delta,
# signed by it; root crl signs both roots'; the bundle has all five.
check "root rollover" admin root rollover
check "crl publish after the root rollover" admin crl publish
check "root-2.crl is published" test -s "$PUB/root-2.crl"
check "root-2 has no delta" test ! -e "$PUB/root-2-delta.crl"
openssl crl -inform DER -in "$PUB/root-2.crl" -out "$T/root2.pem" 2>>"$LOG"
openssl crl -in "$T/root2.pem" -CAfile "$CA/root-2.crt" -noout >"$T/r2.v" 2>&1
has "openssl crl: root-2.crl is signed by root-2" "$T/r2.v" "verify OK"
eq "the bundle: devices, issuing, root, root-2" \
    "$(grep -c 'BEGIN X509 CRL' "$PUB/crl-bundle.pem")" 4
admin root crl >"$T/rootcrl.out" 2>>"$LOG"
has "root crl signs root's CRL" "$T/rootcrl.out" "root CRL published"
has "... and root-2's" "$T/rootcrl.out" "root-2 CRL published"

done_testing
