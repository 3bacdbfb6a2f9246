#!/bin/bash
# Store and file-system faults: an LMDB map that fills up while ca-server
# serves (507 store_full, nothing half-written, OCSP still answered, the
# store verifies, a larger map carries on), a publish directory with no
# room (the previous CRL file stays whole), and an instance directory that
# is missing or unusable at start-up (a clear message, exit status 1).
# 127.0.0.1 only, servers stopped by PID, bounded. bash for $((...)) only.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

instance

# A small map: 2 MiB, of which init uses about 100 KiB.
sed -i 's/^store_map_mb = .*/store_map_mb = 2/' "$T/ca/ca.conf"
csr dev
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":5}' \
    --out "$T/dev.crt" >>"$LOG" 2>&1 || not_ok "issue before the store fills"
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1 || not_ok "admin certificate"
admin token create --profile client --identity '{"platform":"linux","userId":77}' \
    --ttl 1h 2>>"$LOG" | sed -n 's/^token: *//p' >"$T/late.tok"
jq -n --arg t "$(cat "$T/late.tok")" --rawfile c "$T/dev.csr" '{token: $t, csr: $c}' \
    >"$T/late.json"
must "ca-server starts" start_server_https
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/dev.crt" -no_nonce \
    -reqout "$T/req.der" >>"$LOG" 2>&1
ocsp_path=$(ocsp_get_path "$T/req.der")

# Fill the map with tokens through the admin API: one curl, one
# connection, up to 4000 requests (each a token record and an audit entry).
# curl's "next" resets every option, so each request names them all.
i=0
: >"$T/fill.cfg"
while [ $i -lt 4000 ]; do
	[ $i -eq 0 ] || echo next >>"$T/fill.cfg"
	cat >>"$T/fill.cfg" <<EOF
url = "$SBASE/api/v1/tokens"
cacert = "$CA/root.crt"
cert = "$T/adm.crt"
key = "$T/adm.key"
data = "{\"profile\":\"client\",\"identity\":\"{\\\\\"platform\\\\\":\\\\\"linux\\\\\",\\\\\"userId\\\\\":$((10000 + i))}\",\"ttl\":\"1h\"}"
header = "Content-Type: application/json"
output = "/dev/null"
write-out = "%{http_code}\\n"
EOF
	i=$((i + 1))
done
curl -sS --max-time 120 -K "$T/fill.cfg" >"$T/fill.codes" 2>>"$LOG"
n201=$(grep -c '^201$' "$T/fill.codes")
n507=$(grep -c '^507$' "$T/fill.codes")
nother=$(grep -vc '^20[1]$\|^507$' "$T/fill.codes")
echo "# fill: $n201 created, $n507 store_full, $nother other" >>"$LOG"
[ "$n201" -gt 0 ] && ok "tokens were created until the map filled ($n201)" ||
    not_ok "tokens were created until the map filled"
[ "$n507" -gt 0 ] && ok "then the admin API answered 507 ($n507)" ||
    not_ok "then the admin API answered 507"
eq "and nothing else" "$nother" 0

# Enrollment on a full store: 507 store_full, the token not consumed.
c=$(curl -sS --max-time 20 --cacert "$CA/root.crt" -o "$T/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' -d @"$T/late.json" "$SBASE/api/v1/enroll" 2>>"$LOG")
eq "an enrollment on the full store is 507" "$c" 507
eq "... store_full" "$(jq -r .error "$T/body" 2>/dev/null)" store_full
# Revocation data keeps flowing: reads need no room.
c=$(curl -sS --max-time 10 -o "$T/ocsp.der" -w '%{http_code}' "$BASE/ocsp/$ocsp_path" 2>>"$LOG")
eq "OCSP GET still answers" "$c" 200
openssl ocsp -respin "$T/ocsp.der" -issuer "$CA/issuing.crt" -cert "$T/dev.crt" \
    -CAfile "$CA/chain.pem" >"$T/ocsp.txt" 2>&1
has "... good" "$T/ocsp.txt" "dev.crt: good"
has "... and verifies" "$T/ocsp.txt" "Response verify OK"
eq "the CRL is still served" "$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/crl/issuing.crl")" 200
stop_server

# Nothing was half-written: the chain verifies, the late token is unused,
# and the store's count of tokens is the 201s plus the one made before.
check "the audit chain verifies after the map filled" admin audit verify
admin token list --json >"$T/tokens.json" 2>>"$LOG"
eq "the refused enrollment's token is still unused" \
    "$(jq -r --arg id "$(admin token list --json | jq -r '.[] | select(.identity | test("\"userId\":77")) | .id')" \
    '.[] | select(.id == $id) | .state' "$T/tokens.json")" unused
eq "every acknowledged token is in the store" "$(jq length "$T/tokens.json")" "$((n201 + 1))"

# A larger map: the same instance carries on.
sed -i 's/^store_map_mb = .*/store_map_mb = 64/' "$T/ca/ca.conf"
must "ca-server starts with a larger map" start_server_https
c=$(curl -sS --max-time 20 --cacert "$CA/root.crt" -o "$T/body" -w '%{http_code}' \
    -H 'Content-Type: application/json' -d @"$T/late.json" "$SBASE/api/v1/enroll" 2>>"$LOG")
eq "with a larger map the same token enrolls" "$c" 200
stop_server
check "and the audit chain still verifies" admin audit verify

# ---- the publish directory has no room --------------------------------------
# A 64 KiB tmpfs as publish_dir, filled up: a CRL write fails and the
# previous file is untouched. Needs mount (root in the test's namespace).
mkdir -p "$T/pubfs"
if mount -t tmpfs -o size=64k tmpfs "$T/pubfs" 2>>"$LOG"; then
	sed -i "s|^publish_dir = .*|publish_dir = $T/pubfs|" "$T/ca/ca.conf"
	admin crl publish >>"$LOG" 2>&1
	cp "$T/pubfs/issuing.crl" "$T/before.crl" 2>>"$LOG"
	dd if=/dev/zero of="$T/pubfs/filler" bs=1k count=128 2>/dev/null
	admin revoke --serial "$(openssl x509 -in "$T/dev.crt" -noout -serial | cut -d= -f2)" \
	    --reason keyCompromise >>"$LOG" 2>&1
	admin crl publish >"$T/pub.out" 2>&1
	rc=$?
	cat "$T/pub.out" >>"$LOG"
	[ "$rc" -ne 0 ] && ok "crl publish fails on a full publish directory" ||
	    not_ok "crl publish fails on a full publish directory"
	has "... and says why" "$T/pub.out" "No space left on device"
	check "the previous CRL file is whole and unchanged" cmp "$T/before.crl" "$T/pubfs/issuing.crl"
	check "... and still parses" openssl crl -inform DER -in "$T/pubfs/issuing.crl" -noout
	lacks "no temporary file is left behind" "$(ls -a "$T/pubfs")" ".tmp"
	umount "$T/pubfs"
else
	skip "crl publish on a full publish directory" "cannot mount a tmpfs here"
fi

# ---- the instance directory at start-up -------------------------------------
"$CA_SERVER" --dir "$T/nosuch" --http 127.0.0.1:0 --https off >"$T/missing.out" 2>&1
eq "a missing instance directory: exit status 1" "$?" 1
has "... with a clear message" "$T/missing.out" "nosuch/ca.conf"
mkdir -p "$T/empty"
"$CA_SERVER" --dir "$T/empty" --http 127.0.0.1:0 --https off >"$T/empty.out" 2>&1
eq "an empty instance directory: exit status 1" "$?" 1
has "... with a clear message" "$T/empty.out" "ca.conf"
mv "$T/ca/store" "$T/ca/store.away"
mkdir "$T/ca/store"
"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https off >"$T/nostore.out" 2>&1 &
pid=$!
for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	kill -KILL $pid
	not_ok "a store that is not there stops the start"
else
	wait $pid
	eq "a store that is not there stops the start (exit status 1)" "$?" 1
fi
rm -rf "$T/ca/store"
mv "$T/ca/store.away" "$T/ca/store"
done_testing
