#!/bin/sh
# Root renewal by cross-signing (ca-admin root rollover, docs/operations.md
# "Root renewal"): a new root generation with its own key and name, and
# two cross-certificates, one each way, whose names and key identifiers
# are checked. L1 is issued before the rollover, L2 after it under the
# issuing CA the new root certifies (ca-admin issuer rollover). A relying
# party that trusts only the old root verifies L2 through the old root's
# cross-certificate, and one that trusts only the new root verifies L1
# through the new root's -- with OpenSSL, GnuTLS (certtool) and NSS
# (vfychain) -- and neither without the cross-certificate. ca-admin
# publish, GET /ca/bundle.pem and EST /cacerts carry both roots and both
# cross-certificates.
# Refusals change nothing: an offline root, a subject without a CN or
# equal to the old root's. A rollover cut short by an HSM failure after
# the new root was registered is finished by the next run.
. "$(dirname "$0")/lib.sh"

need openssl certtool vfychain certutil jq curl

instance
audits() { admin audit list --json 2>>"$LOG" | jq --arg a "$1" \
    '[.[] | select(.action == $a)] | length'; }
nrec() { admin list --status all --json 2>>"$LOG" | jq length; }
# subj/issuer/ski/aki CERT: one field of a PEM certificate, one line.
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
issuer() { openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier 2>>"$LOG" |
    sed -n '2s/^ *//p'; }
aki() { openssl x509 -in "$1" -noout -ext authorityKeyIdentifier 2>>"$LOG" |
    sed -n '2{s/^ *//;s/^keyid://;p}'; }
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1; }
enddate() { date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }

OLD="$CA/root.crt"
NEW="$CA/root-2.crt"
XON="$CA/cross-1-2.crt"	# the old root's certificate for the new root
XNO="$CA/cross-2-1.crt"	# the new root's certificate for the old root

# L1: a leaf of today's hierarchy.
csr l1
must "issue L1 under the old hierarchy" admin issue --profile client \
    --csr "$T/l1.csr" --identity '{"userId":1}' --out "$T/l1.crt" \
    >>"$LOG" 2>&1

# ---- refusals, before the rollover: nothing changes --------------------
a0=$(admin audit list 2>>"$LOG" | wc -l); r0=$(nrec)
refuse "rollover refuses the old root's subject" admin root rollover \
    --subject "/O=Lanyard Demo/CN=Lanyard Root CA"
has "... saying why" "$T/refuse.err" "a new root needs a name of its own"
refuse "rollover refuses a subject without a CN" admin root rollover \
    --subject "/O=Lanyard Demo"
has "... saying why" "$T/refuse.err" "has no CN"
admin root crl --subject "/CN=x" >>"$LOG" 2>&1
eq "--subject is a usage error for another root command" "$?" 2
cp "$T/ca/ca.conf" "$T/ca.conf.orig"
printf '\n[root]\noffline = yes\n' >>"$T/ca/ca.conf"
refuse "rollover refuses where the root is offline" admin root rollover
has "... saying where to run it" "$T/refuse.err" "on the root's own instance"
cp "$T/ca.conf.orig" "$T/ca/ca.conf"
eq "... the refusals audited nothing" "$(admin audit list 2>>"$LOG" | wc -l)" "$a0"
eq "... and recorded no certificate" "$(nrec)" "$r0"
[ ! -e "$NEW" ] && ok "... and wrote no root-2.crt" || not_ok "... and wrote no root-2.crt"

# ---- the rollover --------------------------------------------------------
admin root rollover >"$T/roll.out" 2>>"$LOG"
eq "root rollover succeeds" "$?" 0
cat "$T/roll.out" >>"$LOG"
has "... and names the files" "$T/roll.out" "certs/cross-1-2.crt"
for f in "$NEW" "$XON" "$XNO"; do
	check "... wrote $(basename "$f")" openssl x509 -in "$f" -noout
done
eq "the new root's subject: the old CN + G2" "$(subj "$NEW")" \
    "CN=Lanyard Root CA G2,O=Lanyard Demo"
eq "... self-signed" "$(issuer "$NEW")" "$(subj "$NEW")"
check "... and its signature verifies with its own key" \
    openssl verify -CAfile "$NEW" "$NEW"
[ "$(spki "$NEW")" != "$(spki "$OLD")" ] && ok "... a new key" ||
    not_ok "... a new key"
openssl x509 -in "$NEW" -noout -text >"$T/new.txt" 2>>"$LOG"
has "... CA:TRUE" "$T/new.txt" "CA:TRUE"
has "... keyCertSign" "$T/new.txt" "Certificate Sign"
eq "... in the store's audit (root-rollover)" "$(audits root-rollover)" 1
eq "two cross-certificates audited (cross-certify)" "$(audits cross-certify)" 2
eq "three certificates recorded" "$(nrec)" "$((r0 + 3))"

# Cross A: the old root vouches for the new root's name and key.
eq "cross 1-2: issuer is the old root" "$(issuer "$XON")" "$(subj "$OLD")"
eq "... subject is the new root" "$(subj "$XON")" "$(subj "$NEW")"
eq "... key is the new root's" "$(spki "$XON")" "$(spki "$NEW")"
eq "... SKI is the new root's" "$(ski "$XON")" "$(ski "$NEW")"
eq "... AKI is the old root's SKI" "$(aki "$XON")" "$(ski "$OLD")"
check "... signed by the old root" openssl verify -CAfile "$OLD" "$XON"
# Cross B: the new root vouches for the old root's name and key.
eq "cross 2-1: issuer is the new root" "$(issuer "$XNO")" "$(subj "$NEW")"
eq "... subject is the old root" "$(subj "$XNO")" "$(subj "$OLD")"
eq "... key is the old root's" "$(spki "$XNO")" "$(spki "$OLD")"
eq "... SKI is the old root's" "$(ski "$XNO")" "$(ski "$OLD")"
eq "... AKI is the new root's SKI" "$(aki "$XNO")" "$(ski "$NEW")"
check "... signed by the new root" openssl verify -CAfile "$NEW" "$XNO"
for x in "$XON" "$XNO"; do
	openssl x509 -in "$x" -noout -text >"$T/x.txt" 2>>"$LOG"
	has "$(basename "$x"): CA:TRUE" "$T/x.txt" "CA:TRUE"
	if [ "$(enddate "$x")" -le "$(enddate "$OLD")" ]; then
		ok "$(basename "$x"): not past the old root's notAfter"
	else
		not_ok "$(basename "$x"): not past the old root's notAfter"
	fi
	sn=$(serial_of "$x")
	admin show --serial "$sn" --json >"$T/show.json" 2>>"$LOG"
	eq "$(basename "$x"): in the store, valid" \
	    "$(jq -r .status "$T/show.json")" valid
done

# ---- the relying parties ---------------------------------------------------
# nss_db DIR ROOT: an NSS database that trusts ROOT only.
nss_db() {
	rm -rf "$1"; mkdir -p "$1"
	certutil -N -d "sql:$1" --empty-password >>"$LOG" 2>&1 &&
	    certutil -A -d "sql:$1" -n anchor -t "CT,C,C" -i "$2" >>"$LOG" 2>&1
}
must "an NSS database trusting the old root only" nss_db "$T/nss-old" "$OLD"
must "an NSS database trusting the new root only" nss_db "$T/nss-new" "$NEW"

# verify3 DESC ANCHOR NSSDB LEAF [INTERMEDIATE...]: each of OpenSSL,
# GnuTLS and NSS, trusting ANCHOR only, verifies LEAF with the
# intermediates given (and nothing else).
verify3() {
	desc=$1 anchor=$2 db=$3 leaf=$4; shift 4
	ou=""; vf=""
	for i in "$@"; do ou="$ou -untrusted $i"; vf="$vf -a $i"; done
	cat "$leaf" "$@" >"$T/chain.pem"
	# shellcheck disable=SC2086
	check "openssl: $desc" openssl verify -x509_strict -CAfile "$anchor" \
	    $ou "$leaf"
	certtool --verify --load-ca-certificate "$anchor" \
	    --infile "$T/chain.pem" >"$T/gnutls.out" 2>&1
	cat "$T/gnutls.out" >>"$LOG"
	has "certtool: $desc" "$T/gnutls.out" "Chain verification output: Verified"
	# shellcheck disable=SC2086
	vfychain -d "sql:$db" -u 0 -a "$leaf" $vf >"$T/nss.out" 2>&1
	cat "$T/nss.out" >>"$LOG"
	has "vfychain: $desc" "$T/nss.out" "Chain is good"
}
# refuse3: the same, each must fail.
refuse3() {
	desc=$1 anchor=$2 db=$3 leaf=$4; shift 4
	ou=""; vf=""
	for i in "$@"; do ou="$ou -untrusted $i"; vf="$vf -a $i"; done
	cat "$leaf" "$@" >"$T/chain.pem"
	# shellcheck disable=SC2086
	fails "openssl refuses: $desc" openssl verify -CAfile "$anchor" $ou "$leaf"
	certtool --verify --load-ca-certificate "$anchor" \
	    --infile "$T/chain.pem" >"$T/gnutls.out" 2>&1
	cat "$T/gnutls.out" >>"$LOG"
	lacks "certtool refuses: $desc" "$T/gnutls.out" \
	    "Chain verification output: Verified"
	# shellcheck disable=SC2086
	vfychain -d "sql:$db" -u 0 -a "$leaf" $vf >"$T/nss.out" 2>&1
	cat "$T/nss.out" >>"$LOG"
	lacks "vfychain refuses: $desc" "$T/nss.out" "Chain is good"
}

# (b) Trusting only the new root: L1 of the old hierarchy, through cross 2-1.
verify3 "new root only, L1 via cross 2-1" "$NEW" "$T/nss-new" "$T/l1.crt" \
    "$CA/issuing.crt" "$XNO"
refuse3 "new root only, L1 without the cross-certificate" "$NEW" \
    "$T/nss-new" "$T/l1.crt" "$CA/issuing.crt"
# And the old root alone still verifies L1 as before.
verify3 "old root only, L1 as before" "$OLD" "$T/nss-old" "$T/l1.crt" \
    "$CA/issuing.crt"

# (a) The new hierarchy: the next issuing CA comes from the root in force,
# the new one, and issues L2.
ISS2="$CA/issuing-2.crt"
check "issuer rollover after the root rollover" admin issuer rollover issuing
eq "... the new issuing CA is the new root's" "$(issuer "$ISS2")" "$(subj "$NEW")"
eq "... by its key (AKI)" "$(aki "$ISS2")" "$(ski "$NEW")"
csr l2
must "issue L2 under the new hierarchy" admin issue --profile client \
    --csr "$T/l2.csr" --identity '{"userId":2}' --out "$T/l2.crt" \
    >>"$LOG" 2>&1
eq "L2 is the new issuing CA's" "$(issuer "$T/l2.crt")" "$(subj "$ISS2")"
verify3 "new root only, L2 as is" "$NEW" "$T/nss-new" "$T/l2.crt" "$ISS2"
# Trusting only the old root: L2 through cross 1-2.
verify3 "old root only, L2 via cross 1-2" "$OLD" "$T/nss-old" "$T/l2.crt" \
    "$ISS2" "$XON"
refuse3 "old root only, L2 without the cross-certificate" "$OLD" \
    "$T/nss-old" "$T/l2.crt" "$ISS2"
# The wrong cross-certificate does not do either.
refuse3 "old root only, L2 with cross 2-1 instead" "$OLD" "$T/nss-old" \
    "$T/l2.crt" "$ISS2" "$XNO"

# ---- the trust bundle: publish, /ca/bundle.pem, EST /cacerts --------------
# fps FILE: the SHA-256 fingerprint of each certificate in FILE.
fps() {
	awk '/-----BEGIN CERTIFICATE-----/ { pem = "" } { pem = pem $0 "\n" }
	    /-----END CERTIFICATE-----/ {
		cmd = "openssl x509 -noout -fingerprint -sha256"
		printf "%s", pem | cmd; close(cmd) }' "$1"
}
# bundle_has DESC FILE: FILE has both roots, both crosses and issuing-2.
bundle_has() {
	fps "$2" >"$T/b.fp"
	missing=""
	for c in "$OLD" "$NEW" "$XON" "$XNO" "$ISS2"; do
		grep -qxF "$(fps "$c")" "$T/b.fp" || missing="$missing $(basename "$c")"
	done
	eq "$1 has both roots, both cross-certificates, issuing-2" "$missing" ""
}
check "publish after the rollovers" admin publish --out "$T/pub"
bundle_has "publish: ca/bundle.pem" "$T/pub/ca/bundle.pem"
if start_server_https; then
	curl -sS --max-time 20 -o "$T/bundle.pem" "$BASE/ca/bundle.pem" 2>>"$LOG"
	bundle_has "GET /ca/bundle.pem" "$T/bundle.pem"
	curl -sS --max-time 20 --cacert "$OLD" -o "$T/body" \
	    "$SBASE/.well-known/est/cacerts" 2>>"$LOG"
	tr -d '\r\n' <"$T/body" | openssl base64 -d -A >"$T/cacerts.p7" 2>>"$LOG"
	openssl pkcs7 -inform DER -in "$T/cacerts.p7" -print_certs \
	    -out "$T/cacerts.pem" >>"$LOG" 2>&1
	bundle_has "EST /cacerts" "$T/cacerts.pem"
	stop_server
else
	not_ok "ca-server starts after the rollovers"
fi

# ---- a rollover cut short after the new root, finished by the next run ----
# A second instance goes through the PKCS#11 shim (tests/shim/p11shim.c):
# two signatures pass (the new root's own, the old root's cross-certificate),
# the third (the new root's) and every later one fail.
must "the PKCS#11 shim is built (make check builds it)" test -r "${P11SHIM:-}"
I2="$T/ca2"
admin2() { "$CA_ADMIN" --dir "$I2" "$@"; }
must "a second instance" admin2 init
SHIM_MODULE=$(sed -n 's/^module = //p' "$I2/ca.conf")
SHIM_FAULT_FILE="$T/faults"
export SHIM_MODULE SHIM_FAULT_FILE
sed -i "s|^module = .*|module = $P11SHIM|" "$I2/ca.conf"
printf 'sign:CKR_OK:2\nsign:CKR_DEVICE_ERROR:*\n' >"$SHIM_FAULT_FILE"
refuse "a rollover whose third signature fails" admin2 root rollover
has "... says to run it again" "$T/refuse.err" "run root rollover again"
: >"$SHIM_FAULT_FILE"
n2() { admin2 audit list --json 2>>"$LOG" | jq --arg a "$1" \
    '[.[] | select(.action == $a)] | length'; }
eq "... the new root is registered" "$(n2 root-rollover)" 1
eq "... with one cross-certificate" "$(n2 cross-certify)" 1
refuse "finishing it takes no --days" admin2 root rollover --days 10
has "... saying why" "$T/refuse.err" "without --subject and --days"
check "the next run finishes it" admin2 root rollover
eq "... one root generation still" "$(n2 root-rollover)" 1
eq "... and both cross-certificates now" "$(n2 cross-certify)" 2
[ ! -e "$I2/certs/root-3.crt" ] && ok "... no third generation" ||
    not_ok "... no third generation"
check "... cross 1-2 verifies with the old root" openssl verify -CAfile \
    "$I2/certs/root.crt" "$I2/certs/cross-1-2.crt"
check "... cross 2-1 with the new root" openssl verify -CAfile \
    "$I2/certs/root-2.crt" "$I2/certs/cross-2-1.crt"
eq "... signed by the keys the store has" "$(spki "$I2/certs/cross-2-1.crt")" \
    "$(spki "$I2/certs/root.crt")"

done_testing
