#!/bin/bash
# CRL numbers never go backwards (DESIGN.md section 3) when generations
# overlap: ca-server's own schedule (debounce 0, driven by a revocation
# every half second), `ca-admin crl publish` in a loop and the admin's
# POST /api/v1/crl/publish in a loop all run at once for RACE_SECONDS,
# while /crl/issuing.crl and /crl/issuing-delta.crl are fetched and the
# published files (issuing, issuing-delta, root, the gateways' bundle)
# are read again and again. Every CRL number seen in each sequence must be
# at least the one before it.
#
# 127.0.0.1 only; every loop ends at a deadline, every client call is
# bounded (curl --max-time), the server is stopped by PID. bash for
# SECONDS and $((16#..)).
. "$(dirname "$0")/lib.sh"

RACE_SECONDS=${CRLRACE_SECONDS:-20}

need openssl curl jq
instance
PUB="$T/ca/publish"
# Every revocation makes ca-server regenerate the issuing CA's CRLs at
# its next tick (1 s): its schedule takes part in the race.
printf '\n[crl]\ndebounce = 0\n' >>"$T/ca/ca.conf"

csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"role":"admin","userId":7}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1 || bail "admin certificate"
csr dev
NREV=$((RACE_SECONDS * 2 + 4))
i=0
while [ $i -lt $NREV ]; do
	admin issue --profile client --csr "$T/dev.csr" --identity "{\"userId\":$((100 + i))}" \
	    --out "$T/dev$i.crt" >>"$LOG" 2>&1 &&
	    openssl x509 -in "$T/dev$i.crt" -noout -serial | cut -d= -f2 >>"$T/serials"
	i=$((i + 1))
done
eq "$NREV certificates to revoke during the race" "$(wc -l <"$T/serials")" "$NREV"
must "ca-server starts" start_server_https

mkdir -p "$T/seq" "$T/cnt"
END=$((SECONDS + RACE_SECONDS))

# The CRL number of a DER CRL (file or stdin) in decimal, empty if none.
num_der() {
	h=$(openssl crl -inform DER ${1:+-in "$1"} -noout -crlnumber 2>/dev/null |
	    sed -n 's/^crlNumber=0x//p')
	[ -n "$h" ] && echo $((16#$h))
}
# The number of the first CRL of a PEM file (the bundle: the issuing CA's).
num_pem() {
	h=$(openssl crl -in "$1" -noout -crlnumber 2>/dev/null | sed -n 's/^crlNumber=0x//p')
	[ -n "$h" ] && echo $((16#$h))
}

publisher_admin() {
	while [ $SECONDS -lt $END ]; do
		admin crl publish >>"$T/cnt/admin.log" 2>&1 && echo >>"$T/cnt/admin"
	done
}
publisher_api() {
	while [ $SECONDS -lt $END ]; do
		c=$(curl -sS --max-time 10 --cacert "$CA/root.crt" --cert "$T/adm.crt" \
		    --key "$T/adm.key" -o /dev/null -w '%{http_code}' -X POST \
		    "$SBASE/api/v1/crl/publish" 2>/dev/null)
		[ "$c" = 200 ] && echo >>"$T/cnt/api"
	done
}
revoker() {
	while read -r s && [ $SECONDS -lt $END ]; do
		admin revoke --serial "$s" --reason superseded >>"$LOG" 2>&1 &&
		    echo >>"$T/cnt/revoke"
		sleep 0.5
	done <"$T/serials"
}
# fetcher NAME: GET /crl/NAME.crl again and again; numbers in seq/http-NAME.
fetcher() {
	while [ $SECONDS -lt $END ]; do
		curl -sS --max-time 5 "$BASE/crl/$1.crl" 2>/dev/null | num_der >>"$T/seq/http-$1"
	done
}
# reader: the published files, again and again; numbers in seq/file-*.
reader() {
	while [ $SECONDS -lt $END ]; do
		for f in issuing issuing-delta root; do
			cp "$PUB/$f.crl" "$T/r.$f" 2>/dev/null && num_der "$T/r.$f" >>"$T/seq/file-$f"
		done
		cp "$PUB/crl-bundle.pem" "$T/r.bundle" 2>/dev/null &&
		    num_pem "$T/r.bundle" >>"$T/seq/file-bundle"
	done
}

publisher_admin & p1=$!
publisher_api & p2=$!
revoker & p3=$!
fetcher issuing & p4=$!
fetcher issuing-delta & p5=$!
reader & p6=$!
wait $p1 $p2 $p3 $p4 $p5 $p6

count() { [ -e "$T/cnt/$1" ] && wc -l <"$T/cnt/$1" || echo 0; }
gen=$(grep -c "CRLs regenerated" "$SERVER_LOG")
echo "# ca-admin crl publish: $(count admin), POST /api/v1/crl/publish: $(count api), revocations: $(count revoke), ca-server generations: $gen"
[ "$(count admin)" -gt 2 ] && ok "ca-admin crl publish ran ($(count admin))" || not_ok "ca-admin crl publish ran"
[ "$(count api)" -gt 2 ] && ok "POST /api/v1/crl/publish ran ($(count api))" || not_ok "POST /api/v1/crl/publish ran"
[ "$gen" -gt 2 ] && ok "ca-server's schedule generated CRLs ($gen)" || not_ok "ca-server's schedule generated CRLs"

# Every sequence: samples, and none lower than the one before it.
total_back=0
for s in http-issuing http-issuing-delta file-issuing file-issuing-delta file-root file-bundle; do
	f="$T/seq/$s"
	k=$( [ -e "$f" ] && grep -c . "$f" || echo 0)
	back=$(awk 'NF { if (seen && $1 < prev) { b++; print "back: " prev " -> " $1 > "/dev/stderr" } prev = $1; seen = 1 }
	    END { print b + 0 }' "$f" 2>>"$LOG")
	total_back=$((total_back + back))
	[ "$k" -gt 10 ] && ok "$s: $k CRL numbers read" || not_ok "$s: $k CRL numbers read"
	eq "$s: never lower than the one before ($(head -n 1 "$f") .. $(tail -n 1 "$f"))" "$back" 0
done
echo "# CRL regressions: $total_back"
# The server's own CRL after the race is the highest anyone wrote.
hi=$(cat "$T"/seq/http-issuing "$T"/seq/file-issuing | sort -n | tail -n 1)
now=$(curl -sS --max-time 5 "$BASE/crl/issuing.crl" 2>/dev/null | num_der)
[ -n "$now" ] && [ "$now" -ge "$hi" ] && ok "the served CRL ($now) is the newest seen ($hi)" ||
    not_ok "the served CRL ($now) is the newest seen ($hi)"
check "the audit chain verifies" admin audit verify
stop_server

done_testing
