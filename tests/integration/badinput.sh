#!/bin/sh
# Malformed and policy-violating CSRs and identities: each is refused with
# a clear message (exit status 1), and the store is byte for byte as it was.
. "$(dirname "$0")/lib.sh"

need openssl

instance
ID='{"userId":1}'
csr good
GOOD="$T/good.csr"
NREC=$(admin list --status all --json | grep -c '"serial"')
DB="$T/ca/store/data.mdb"

# bad DESC MESSAGE ARGS...: `ca-admin issue ARGS` fails with MESSAGE in its
# error, and the store file does not change.
bad() {
	desc=$1 msg=$2; shift 2
	before=$(sha256sum <"$DB")
	admin issue "$@" >"$T/bad.out" 2>"$T/bad.err"
	rc=$?
	after=$(sha256sum <"$DB")
	cat "$T/bad.err" >>"$LOG"
	if [ "$rc" -ne 1 ]; then
		echo "exit status $rc" >>"$LOG"; not_ok "$desc: refused"
	elif ! grep -qF -- "$msg" "$T/bad.err"; then
		echo "message lacks '$msg'" >>"$LOG"; not_ok "$desc: refused"
	elif [ "$before" != "$after" ]; then
		not_ok "$desc: refused, store unchanged"
	elif [ -s "$T/bad.out" ]; then
		not_ok "$desc: refused, nothing printed on stdout"
	else
		ok "$desc: refused ($(head -c 120 "$T/bad.err" | tr '\n' ' '))"
	fi
}

# ---- CSRs ----
: >"$T/empty.csr"
bad "empty CSR" "malformed certificate signing request" --profile client --csr "$T/empty.csr" --identity "$ID"
head -c 600 /dev/urandom >"$T/random.csr"
bad "random bytes" "malformed certificate signing request" --profile client --csr "$T/random.csr" --identity "$ID"
openssl req -in "$GOOD" -outform DER -out "$T/good.der" 2>>"$LOG"
head -c 100 "$T/good.der" >"$T/trunc.der"
bad "truncated DER" "malformed certificate signing request" --profile client --csr "$T/trunc.der" --identity "$ID"
{ cat "$T/good.der"; printf 'JUNK'; } >"$T/trailing.der"
bad "DER with trailing garbage" "trailing" --profile client --csr "$T/trailing.der" --identity "$ID"
sed 's/CERTIFICATE REQUEST/CERTIFICATE/' "$GOOD" >"$T/label.csr"
bad "PEM with the wrong label" "malformed certificate signing request" --profile client --csr "$T/label.csr" --identity "$ID"
cat "$GOOD" "$GOOD" >"$T/two.csr"
bad "two PEM blocks" "malformed certificate signing request" --profile client --csr "$T/two.csr" --identity "$ID"
sed '2s/^..../!!!!/' "$GOOD" >"$T/b64.csr"
bad "PEM with bad base64" "malformed certificate signing request" --profile client --csr "$T/b64.csr" --identity "$ID"
# Flip one byte in the signature (the last bytes of the DER).
len=$(wc -c <"$T/good.der")
{ head -c $((len - 5)) "$T/good.der"; printf '\001'; tail -c 4 "$T/good.der"; } >"$T/badsig.der"
bad "CSR with a wrong signature" "CSR signature does not verify" --profile client --csr "$T/badsig.der" --identity "$ID"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/r1.key" -out "$T/rsa1024.csr" -subj /CN=x 2>>"$LOG"
bad "RSA-1024 key" "1024" --profile client --csr "$T/rsa1024.csr" --identity "$ID"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
    -out "$T/e3.key" 2>>"$LOG"
openssl req -new -key "$T/e3.key" -out "$T/e3.csr" -subj /CN=x 2>>"$LOG"
bad "RSA key with exponent 3" "exponent" --profile client --csr "$T/e3.csr" --identity "$ID"
# Extensions that ask for more than the profile gives are refused.
csr ca -addext "basicConstraints=critical,CA:TRUE"
bad "CSR asking to be a CA" "CSR asks to be a CA" --profile client --csr "$T/ca.csr" --identity "$ID"
csr kcs -addext "keyUsage=critical,digitalSignature,keyCertSign"
bad "CSR asking for keyCertSign" "CSR asks to sign certificates or CRLs" --profile client --csr "$T/kcs.csr" --identity "$ID"
csr eku -addext "extendedKeyUsage=clientAuth,codeSigning"
bad "CSR asking for codeSigning" "purpose codeSigning, which profile client does not grant" --profile client --csr "$T/eku.csr" --identity "$ID"
csr srv -addext "extendedKeyUsage=serverAuth"
bad "CSR asking for serverAuth in a client profile" "purpose serverAuth" --profile client --csr "$T/srv.csr" --identity "$ID"
# openssl req refuses a second -addext of a name; the OID spelled out is
# not recognised as the same one.
printf '[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n[dn]\nCN=d\n[ext]\nsubjectAltName=DNS:a.example\n2.5.29.17=DER:300b8209622e6578616d706c65\n' \
    >"$T/dup.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dup.key" \
    -out "$T/dup.csr" -config "$T/dup.cnf" >>"$LOG" 2>&1
bad "CSR requesting one extension twice" "extension twice" --profile client --csr "$T/dup.csr" --identity "$ID"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout "$T/k1.key" \
    -out "$T/k1.csr" -subj /CN=x 2>>"$LOG"
bad "secp256k1 key" "secp256k1" --profile client --csr "$T/k1.csr" --identity "$ID"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -keyout "$T/bp.key" \
    -out "$T/bp.csr" -subj /CN=x 2>>"$LOG"
bad "brainpoolP256r1 key" "not allowed" --profile client --csr "$T/bp.csr" --identity "$ID"
openssl req -new -newkey ed25519 -nodes -keyout "$T/ed.key" -out "$T/ed.csr" -subj /CN=x 2>>"$LOG"
bad "Ed25519 key where the profile does not allow it" "key type or size not allowed" --profile client --csr "$T/ed.csr" --identity "$ID"
openssl ecparam -name prime256v1 -param_enc explicit -genkey -noout -out "$T/explicit.key" 2>>"$LOG"
openssl req -new -key "$T/explicit.key" -out "$T/explicit.csr" -subj /CN=x 2>>"$LOG"
bad "EC key with explicit parameters" "named curve" --profile client --csr "$T/explicit.csr" --identity "$ID"
{ cat "$GOOD"; head -c 70000 /dev/zero | tr '\0' ' '; } >"$T/huge.csr"
bad "CSR over 64 KiB" "too large" --profile client --csr "$T/huge.csr" --identity "$ID"
bad "CSR file that does not exist" "not found" --profile client --csr "$T/nonexistent.csr" --identity "$ID"

# ---- identities ----
bad "identity that is not JSON" "identity" --profile client --csr "$GOOD" --identity '{userId:1'
bad "identity that is an array" "identity" --profile client --csr "$GOOD" --identity '[1,2]'
bad "nested object" "identity" --profile client --csr "$GOOD" --identity '{"userId":{"a":1}}'
bad "duplicate keys" "identity" --profile client --csr "$GOOD" --identity '{"userId":1,"userId":2}'
bad "unknown key" "identity" --profile client --csr "$GOOD" --identity '{"userId":1,"email":"a@b"}'
bad "missing required userId" "userId" --profile client --csr "$GOOD" --identity '{"platform":"linux"}'
bad "real number" "identity" --profile client --csr "$GOOD" --identity '{"userId":1.5}'
bad "null value" "identity" --profile client --csr "$GOOD" --identity '{"userId":null}'
bad "escaped NUL" "identity" --profile client --csr "$GOOD" --identity '{"userId":"a\u0000b"}'
bad "invalid UTF-8" "identity" --profile client --csr "$GOOD" --identity "$(printf '{"userId":"\377\376"}')"
bad "control character" "identity" --profile client --csr "$GOOD" --identity '{"userId":"a\nb"}'
long=$(head -c 700 /dev/zero | tr '\0' 'a')
bad "identity over the size limit" "too large" --profile client --csr "$GOOD" --identity "{\"userId\":\"$long\"}"
bad "trailing garbage after JSON" "identity" --profile client --csr "$GOOD" --identity '{"userId":1} x'
bad "client claiming the admin role" "role" --profile client --csr "$GOOD" --identity '{"userId":1,"role":"admin"}'
bad "SPIFFE ID of another trust domain" "trust domain" --profile client --csr "$GOOD" --spiffe spiffe://evil.org/a
bad "SPIFFE ID with .." "identity" --profile client --csr "$GOOD" --spiffe spiffe://example.org/a/../b
bad "SPIFFE ID with upper-case scheme" "identity" --profile client --csr "$GOOD" --spiffe SPIFFE://example.org/a
bad "SPIFFE ID with a query" "identity" --profile client --csr "$GOOD" --spiffe 'spiffe://example.org/a?x=1'
bad "DNS name with an underscore" "identity" --profile service --csr "$GOOD" --dns bad_name.example.org
bad "DNS name with an empty label" "identity" --profile service --csr "$GOOD" --dns a..example.org
bad "invalid IP address" "identity" --profile service --csr "$GOOD" --ip 999.1.1.1
bad "DNS name for a client profile" "does not take DNS" --profile client --csr "$GOOD" --identity "$ID" --dns a.example.org
bad "JSON identity for the OCSP profile" "does not take a JSON identity" --profile ocsp --csr "$GOOD" --identity "$ID"
bad "unknown profile" "unknown profile" --profile nosuch --csr "$GOOD" --identity "$ID"

# Usage errors (status 2) change nothing either.
before=$(sha256sum <"$DB")
admin issue --profile client --csr "$GOOD" --identity "$ID" --spiffe spiffe://example.org/a >>"$LOG" 2>&1
eq "identity and SPIFFE ID together is a usage error" "$?" 2
admin issue --profile client --csr "$GOOD" --identity "$ID" --days 0 >>"$LOG" 2>&1
eq "--days 0 is a usage error" "$?" 2
eq "usage errors left the store unchanged" "$(sha256sum <"$DB")" "$before"

# Nothing refused reached the store, not even a reserved serial.
eq "the store holds no more records than before" "$(admin list --status all --json | grep -c '"serial"')" "$NREC"
check "audit log verifies" admin audit verify

# A config error is reported with the file and line.
cp "$T/ca/ca.conf" "$T/ca.conf.orig"
printf '[profile client]\nrsa_min_bitz = 4096\n' >>"$T/ca/ca.conf"
admin list >"$T/conf.out" 2>&1
has "a misspelt config key is an error naming the line" "$T/conf.out" "ca.conf:"
has "... and the key" "$T/conf.out" "rsa_min_bitz"
cp "$T/ca.conf.orig" "$T/ca/ca.conf"

# A PIN file that others may read is refused before the HSM is touched.
chmod 0644 "$T/ca/hsm/issuing.pin"
bad "issuing PIN file readable by others" "PIN" --profile client --csr "$GOOD" --identity "$ID"
chmod 0600 "$T/ca/hsm/issuing.pin"
lacks "no PIN in any message" "$LOG" "$(cat "$T/ca/hsm/issuing.pin")"

done_testing
