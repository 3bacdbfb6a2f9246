#!/bin/sh
# Makes one CSR seed per key type and encoding for the CSR fuzz target
# into DIR (tests/fuzz/corpus/csr holds what it made once). Keys are made
# in a temporary directory and thrown away: only CSRs (public) are kept.
set -eu
out=${1:?usage: make-csr-seeds.sh DIR}
k=$(mktemp -d "${TMPDIR:-/tmp}/csr-seeds.XXXXXX")
trap 'rm -rf "$k"' EXIT
mkdir -p "$out"
req() { # NAME KEYFILE [openssl req options...]
	n=$1 key=$2; shift 2
	openssl req -new -key "$key" -subj "/CN=$n" -outform DER -out "$out/$n.der" "$@"
}
for c in P-256 P-384 P-521 secp256k1 brainpoolP256r1; do
	openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$c" -out "$k/$c.key"
	req "ec-$c" "$k/$c.key"
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt ec_param_enc:explicit -out "$k/explicit.key"
req ec-explicit-params "$k/explicit.key"
for b in 1024 2048; do
	openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$b" -out "$k/rsa$b.key"
	req "rsa-$b" "$k/rsa$b.key"
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
    -out "$k/rsa-e3.key"
req rsa-2048-e3 "$k/rsa-e3.key"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$k/pss.key"
req rsa-pss "$k/pss.key"
openssl genpkey -algorithm ED25519 -out "$k/ed25519.key"
req ed25519 "$k/ed25519.key"
openssl genpkey -algorithm ED448 -out "$k/ed448.key"
req ed448 "$k/ed448.key"
# The extensions the policy looks at, good and refused.
req ext-san "$k/P-256.key" -addext "subjectAltName=DNS:a.example,IP:10.0.0.1" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=clientAuth,serverAuth"
req ext-ca "$k/P-256.key" -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
req ext-eku "$k/P-256.key" -addext "extendedKeyUsage=codeSigning,OCSPSigning,1.2.3.4"
# PEM, as the JSON API takes it.
openssl req -new -key "$k/P-256.key" -subj /CN=pem -out "$out/ec-P-256.pem"
