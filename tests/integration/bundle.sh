#!/bin/sh
# The gateways' CRL bundle (crl-bundle.pem) is safe for every relying
# party: by default it holds one full CRL per CA, even when the issuing
# CA's CRL is partitioned ([crl] shards > 1). GnuTLS (certtool), NSS
# (crlutil + vfychain) and OpenSSL all refuse every revoked leaf with it
# and accept a good one. With [crl] bundle_shards = yes the bundle holds
# the shards, and the trade-off docs/revocation.md states shows: GnuTLS
# keeps one CRL per issuer (the last shard) and accepts a leaf revoked in
# another shard, NSS refuses to load a CRL with a critical IDP, OpenSSL
# handles shards.
. "$(dirname "$0")/lib.sh"

need certtool certutil crlutil vfychain openssl

# shard_of CERT SHARDS: the CRL shard of a certificate (ca_crl_shard():
# the serial's last octet modulo the number of shards).
shard_of() {
	s=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)
	echo $(( 0x$(echo "$s" | tail -c 3) % $2 ))
}

# nss_db DIR BUNDLE: an NSS database trusting the root for client
# certificates, with the issuing CA and every CRL of BUNDLE imported.
# Prints how many CRLs NSS refused to import.
nss_db() {
	rm -rf "$1"
	mkdir -p "$1"
	certutil -N -d "sql:$1" --empty-password >>"$LOG" 2>&1
	certutil -A -d "sql:$1" -n root -t "CT,C,C" -i "$CA/root.crt" >>"$LOG" 2>&1
	certutil -A -d "sql:$1" -n issuing -t ",," -i "$CA/issuing.crt" >>"$LOG" 2>&1
	rm -f "$1"/crl*.pem
	awk -v d="$1" '/BEGIN X509 CRL/ { k++ } k { print > (d "/crl" k ".pem") }' "$2"
	refused=0
	for c in "$1"/crl*.pem; do
		openssl crl -in "$c" -outform DER -out "${c%.pem}.der" 2>>"$LOG"
		crlutil -I -d "sql:$1" -i "${c%.pem}.der" -t 1 >>"$LOG" 2>&1 ||
		    refused=$((refused + 1))
	done
	echo "$refused"
}

# crls_with BUNDLE TEXT: how many CRLs of BUNDLE have TEXT in their
# openssl crl -text (which reads one CRL a file: split them first).
crls_with() {
	rm -rf "$T/split"
	mkdir -p "$T/split"
	awk -v d="$T/split" '/BEGIN X509 CRL/ { k++ } k { print > (d "/" k ".pem") }' "$1"
	for c in "$T/split"/*.pem; do
		openssl crl -in "$c" -noout -text 2>>"$LOG" | grep -qF "$2" && echo "$c"
	done | wc -l
}

# rp_verdicts NAME BUNDLE NSSDB: "gnutls nss openssl" verdicts for a leaf,
# each "ok" or "refused".
rp_verdicts() {
	cat "$T/$1.crt" "$CA/issuing.crt" >"$T/$1.chain"
	if certtool --verify --load-ca-certificate "$CA/root.crt" --load-crl "$2" \
	    --infile "$T/$1.chain" 2>&1 | grep -q "^Chain verification output: Verified"; then
		g=ok; else g=refused; fi
	if vfychain -d "sql:$3" -u 0 -a "$T/$1.crt" -a "$CA/issuing.crt" 2>&1 |
	    grep -q "Chain is good"; then n=ok; else n=refused; fi
	if openssl verify -crl_check_all -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
	    -CRLfile "$2" "$T/$1.crt" >>"$LOG" 2>&1; then o=ok; else o=refused; fi
	echo "$g $n $o"
}

for shards in 1 4; do
	rm -rf "$T/ca"
	"$CA_ADMIN" config | sed "s/^shards = 1\$/shards = $shards/" >"$T/ca.conf"
	"$CA_ADMIN" --dir "$T/ca" init --config "$T/ca.conf" >>"$LOG" 2>&1 ||
	    { not_ok "init with shards = $shards"; continue; }
	CA="$T/ca/certs"
	B="$T/ca/publish/crl-bundle.pem"
	# Leaves until three revoked ones sit outside the last shard (the
	# ones a bundle of shards would hide from GnuTLS); one stays good.
	i=0 hidden=0 revoked=""
	while [ $i -lt 40 ] && [ $hidden -lt 3 ]; do
		i=$((i + 1))
		csr "l$i"
		admin issue --profile client --csr "$T/l$i.csr" --identity "{\"userId\":$i}" \
		    --out "$T/l$i.crt" >>"$LOG" 2>&1
		[ $i -eq 1 ] && continue
		admin revoke --serial "$(openssl x509 -in "$T/l$i.crt" -noout -serial | cut -d= -f2)" \
		    >>"$LOG" 2>&1
		revoked="$revoked l$i"
		[ "$(shard_of "$T/l$i.crt" "$shards")" -ne $((shards - 1)) ] || [ "$shards" -eq 1 ] &&
		    hidden=$((hidden + 1))
	done
	check "shards = $shards: crl publish" admin crl publish
	eq "shards = $shards: the bundle holds one full CRL per CA" "$(grep -c 'BEGIN X509 CRL' "$B")" 2
	eq "shards = $shards: no Issuing Distribution Point in the bundle" \
	    "$(crls_with "$B" "Issuing Distribution Point")" 0
	eq "shards = $shards: no delta CRL in the bundle" "$(crls_with "$B" "Delta CRL Indicator")" 0
	eq "shards = $shards: one CRL of the bundle, the issuing CA's, lists the revoked leaves" \
	    "$(crls_with "$B" "Serial Number:" )" 1
	eq "shards = $shards: NSS imports every CRL of the bundle" "$(nss_db "$T/nss" "$B")" 0
	eq "shards = $shards: GnuTLS, NSS and OpenSSL accept the good leaf" \
	    "$(rp_verdicts l1 "$B" "$T/nss")" "ok ok ok"
	bad=""
	for l in $revoked; do
		v=$(rp_verdicts "$l" "$B" "$T/nss")
		[ "$v" = "refused refused refused" ] || bad="$bad $l($(shard_of "$T/$l.crt" "$shards"): $v)"
	done
	eq "shards = $shards: GnuTLS, NSS and OpenSSL refuse every revoked leaf ($(echo $revoked | wc -w))" \
	    "$bad" ""
done

# The operator's choice: the shards in the bundle (CA here has 4 shards).
sed -i 's/^bundle_shards = no$/bundle_shards = yes/' "$T/ca/ca.conf"
check "bundle_shards = yes: crl publish" admin crl publish
eq "bundle_shards = yes: the bundle holds the 4 shards and the root's CRL" \
    "$(grep -c 'BEGIN X509 CRL' "$B")" 5
eq "bundle_shards = yes: each shard has a critical IDP" \
    "$(crls_with "$B" "Issuing Distribution Point: critical")" 4
eq "bundle_shards = yes: NSS refuses the 4 shards (critical IDP)" "$(nss_db "$T/nss2" "$B")" 4
first=""
for l in $revoked; do
	[ "$(shard_of "$T/$l.crt" 4)" -ne 3 ] && { first=$l; break; }
done
v=$(rp_verdicts "$first" "$B" "$T/nss2")
eq "bundle_shards = yes: GnuTLS accepts a leaf revoked outside the last shard; OpenSSL refuses it" \
    "$(echo "$v" | cut -d' ' -f1,3)" "ok refused"

done_testing
