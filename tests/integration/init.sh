#!/bin/sh
# ca-admin init: an instance from nothing, CA keys on the token and not
# extractable, CA certificates as RFC 5280 wants them.
. "$(dirname "$0")/lib.sh"

need openssl certtool pkcs11-tool

check "init on a new directory" new_instance
for f in ca.conf hsm/softhsm2.conf hsm/root.pin hsm/issuing.pin \
    certs/root.crt certs/issuing.crt certs/chain.pem store/data.mdb; do
	check "init created $f" test -s "$T/ca/$f"
done
check "publish directory exists" test -d "$T/ca/publish"
eq "root PIN file is mode 0600" "$(stat -c %a "$T/ca/hsm/root.pin")" 600
eq "issuing PIN file is mode 0600" "$(stat -c %a "$T/ca/hsm/issuing.pin")" 600
eq "instance directory is mode 0700" "$(stat -c %a "$T/ca")" 700
lacks "no PIN in ca.conf" "$T/ca/ca.conf" "$(cat "$T/ca/hsm/root.pin")"

refuse "init refuses a directory that holds an instance" admin init
check "the refused init left ca.conf in place" test -s "$T/ca/ca.conf"

openssl x509 -in "$T/ca/certs/root.crt" -noout -text >"$T/root.txt"
openssl x509 -in "$T/ca/certs/issuing.crt" -noout -text >"$T/iss.txt"
has "root is self-signed" "$T/root.txt" "Issuer: O = Lanyard Demo, CN = Lanyard Root CA"
has "root basicConstraints critical CA" "$T/root.txt" "X509v3 Basic Constraints: critical"
has "root is a CA" "$T/root.txt" "CA:TRUE"
has "root key usage" "$T/root.txt" "Certificate Sign, CRL Sign"
has "root has an SKI" "$T/root.txt" "X509v3 Subject Key Identifier"
has "root key is EC P-256" "$T/root.txt" "NIST CURVE: P-256"
has "issuing CA pathlen 0" "$T/iss.txt" "CA:TRUE, pathlen:0"
has "issuing CA issued by the root" "$T/iss.txt" "Issuer: O = Lanyard Demo, CN = Lanyard Root CA"
has "issuing CA points at the root CRL" "$T/iss.txt" "URI:http://127.0.0.1:8080/crl/root.crl"
root_ski=$(openssl x509 -in "$T/ca/certs/root.crt" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
iss_aki=$(openssl x509 -in "$T/ca/certs/issuing.crt" -noout -ext authorityKeyIdentifier | sed -n '2p' | tr -d ' ' | sed 's/^keyid://')
eq "issuing AKI is the root SKI" "$iss_aki" "$root_ski"
check "openssl verifies the issuing CA strictly" \
    openssl verify -x509_strict -CAfile "$T/ca/certs/root.crt" "$T/ca/certs/issuing.crt"
cat "$T/ca/certs/issuing.crt" "$T/ca/certs/root.crt" >"$T/chain.pem"
certtool --verify-chain --infile "$T/chain.pem" >"$T/certtool.out" 2>&1
has "GnuTLS verifies the CA chain" "$T/certtool.out" "Chain verification output: Verified."

# The keys live on the tokens, sensitive and never extractable.
export SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf"
mod=$(softhsm_module)
for tok in root issuing; do
	pkcs11-tool --module "$mod" --token-label "lanyard-$tok" --login \
	    --pin "$(cat "$T/ca/hsm/$tok.pin")" --list-objects \
	    >"$T/objs-$tok.txt" 2>>"$LOG"
	has "$tok key is on its token" "$T/objs-$tok.txt" "Private Key Object; EC"
	has "$tok key is sensitive and never extractable" "$T/objs-$tok.txt" \
	    "sensitive, always sensitive, never extractable"
	has "$tok certificate stored beside its key" "$T/objs-$tok.txt" "Certificate Object"
	# Reading the private key's value must be refused by the token.
	id=$(sed -n '/Private Key Object/,/Usage/s/^ *ID: *//p' "$T/objs-$tok.txt" | head -n 1)
	if pkcs11-tool --module "$mod" --token-label "lanyard-$tok" --login \
	    --pin "$(cat "$T/ca/hsm/$tok.pin")" --read-object --type privkey \
	    --id "$id" -o "$T/stolen.der" >>"$LOG" 2>&1 && [ -s "$T/stolen.der" ]; then
		not_ok "$tok private key cannot be read off the token"
	else
		ok "$tok private key cannot be read off the token"
	fi
done
# CA and OCSP signer keys sign and verify, nothing else: no decrypt,
# unwrap or derive. Also for the keys a signer rotation makes (due
# at once while signer_rotate_before exceeds signer_days).
usage_only() { # FILE CLASS WANT: every CLASS key's Usage line is WANT
	awk -v c="$2" -v w="$3" '$0 ~ "^" c " Key Object" { in_k = 1; n++ }
	    in_k && /^ *Usage:/ { sub(/^ *Usage: */, ""); if ($0 != w) bad++; in_k = 0 }
	    /Object;/ && $0 !~ "^" c " Key Object" { in_k = 0 }
	    END { exit !(n > 0 && !bad) }' "$1"
}
sed -i 's/^signer_rotate_before = .*/signer_rotate_before = 8d/' "$T/ca/ca.conf"
check "an OCSP signer rotation" admin ocsp refresh
sed -i 's/^signer_rotate_before = .*/signer_rotate_before = 2d/' "$T/ca/ca.conf"
for tok in root issuing; do
	pkcs11-tool --module "$mod" --token-label "lanyard-$tok" --login \
	    --pin "$(cat "$T/ca/hsm/$tok.pin")" --list-objects \
	    >"$T/objs-$tok.txt" 2>>"$LOG"
	check "$tok token: every private key can only sign" \
	    usage_only "$T/objs-$tok.txt" Private sign
	check "$tok token: every public key can only verify" \
	    usage_only "$T/objs-$tok.txt" Public verify
done
has "the rotation made ocsp-signer-2" "$T/objs-issuing.txt" "ocsp-signer-2"
eq "issuing token: CA key and 3 signer keys, all sign-only" \
    "$(grep -A4 '^Private Key Object' "$T/objs-issuing.txt" | grep -c 'Usage: *sign$')" 4
unset SOFTHSM2_CONF

# Other key types: P-384 and RSA.
for kt in ec-p384 rsa-2048; do
	"$CA_ADMIN" --dir "$T/ca-$kt" init --key-type "$kt" >>"$LOG" 2>&1
	rc=$?
	eq "init --key-type $kt" "$rc" 0
	check "$kt chain verifies" openssl verify -x509_strict \
	    -CAfile "$T/ca-$kt/certs/root.crt" "$T/ca-$kt/certs/issuing.crt"
done
openssl x509 -in "$T/ca-ec-p384/certs/issuing.crt" -noout -text >"$T/p384.txt"
has "P-384 CA signs with ECDSA SHA-384" "$T/p384.txt" "ecdsa-with-SHA384"
openssl x509 -in "$T/ca-rsa-2048/certs/issuing.crt" -noout -text >"$T/rsa.txt"
has "RSA CA key is 2048 bits" "$T/rsa.txt" "Public-Key: (2048 bit)"
has "RSA CA signs with PKCS#1 v1.5 SHA-256" "$T/rsa.txt" "sha256WithRSAEncryption"

"$CA_ADMIN" --dir "$T/x" init --key-type dsa-1024 >>"$LOG" 2>&1
eq "init refuses an unknown key type as a usage error" "$?" 2
check "a refused init leaves no directory" test ! -e "$T/x"

done_testing
