#!/bin/sh
# ca-admin issue: client, service, SPIFFE, otherName, OCSP and admin
# certificates; the identity comes from the admin, never from the CSR; each
# chain verifies with OpenSSL and GnuTLS.
. "$(dirname "$0")/lib.sh"

need openssl certtool

instance
ID='{"userId":42,"platform":"linux"}'
CANON='{"platform":"linux","userId":42}'

# A CSR that asks for another subject and SANs: all of it must be ignored.
# (One that asks to be a CA is refused: badinput.sh.)
csr client -subj "/CN=evil/O=Mallory" \
    -addext "subjectAltName=DNS:evil.example,URI:spiffe://evil.example/x" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=clientAuth"
check "issue a client certificate with a JSON identity" \
    admin issue --profile client --csr "$T/client.csr" --identity "$ID" --out "$T/client.crt"
openssl x509 -in "$T/client.crt" -noout -text >"$T/client.txt"
has "URI SAN is the canonical JSON identity" "$T/client.txt" "URI:$CANON"
lacks "no SAN from the CSR" "$T/client.txt" "evil.example"
lacks "no subject from the CSR" "$T/client.txt" "Mallory"
has "not a CA, whatever the CSR asked" "$T/client.txt" "CA:FALSE"
has "subject CN is the identity" "$T/client.txt" 'Subject: O = Lanyard Demo, CN = "{\"platform\":\"linux\",\"userId\":42}"'
has "EKU clientAuth" "$T/client.txt" "TLS Web Client Authentication"
lacks "no serverAuth in a client certificate" "$T/client.txt" "TLS Web Server Authentication"
has "key usage critical" "$T/client.txt" "X509v3 Key Usage: critical"
has "key usage digitalSignature" "$T/client.txt" "Digital Signature"
has "CRL distribution point" "$T/client.txt" "URI:http://127.0.0.1:8080/crl/issuing.crl"
has "AIA OCSP URL" "$T/client.txt" "OCSP - URI:http://127.0.0.1:8080/ocsp"
has "AIA caIssuers URL" "$T/client.txt" "CA Issuers - URI:http://127.0.0.1:8080/ca/issuing.crt"
has "signed by the issuing CA" "$T/client.txt" "Issuer: O = Lanyard Demo, CN = Lanyard Issuing CA 1"
ski=$(openssl x509 -in "$CA/issuing.crt" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
aki=$(openssl x509 -in "$T/client.crt" -noout -ext authorityKeyIdentifier | sed -n 2p | tr -d ' ' | sed 's/^keyid://')
eq "AKI is the issuing CA's SKI" "$aki" "$ski"
has "leaf has an SKI" "$T/client.txt" "X509v3 Subject Key Identifier"
serial=$(openssl x509 -in "$T/client.crt" -noout -serial | cut -d= -f2)
[ ${#serial} -ge 30 ] && ok "serial has about 128 bits (${#serial} hex digits)" || not_ok "serial too short: $serial"
openssl asn1parse -in "$T/client.crt" >"$T/client.asn1"
first_int=$(grep -m1 'INTEGER' "$T/client.asn1" | grep -v ':-' | wc -l)
eq "serial is a positive INTEGER" "$first_int" 1
check "openssl verify -x509_strict, purpose sslclient" openssl verify -x509_strict \
    -purpose sslclient -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" "$T/client.crt"
fails "a client certificate is not a server certificate" openssl verify \
    -purpose sslserver -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" "$T/client.crt"
cat "$T/client.crt" "$CA/issuing.crt" "$CA/root.crt" >"$T/client-chain.pem"
certtool --verify-chain --infile "$T/client-chain.pem" >"$T/ct.out" 2>&1
has "GnuTLS verifies the client chain" "$T/ct.out" "Chain verification output: Verified."
certtool --verify --load-ca-certificate "$CA/root.crt" --infile "$T/client-chain.pem" \
    --verify-purpose 1.3.6.1.5.5.7.3.2 >"$T/ct2.out" 2>&1
has "GnuTLS verifies it for clientAuth against the root" "$T/ct2.out" "Chain verification output: Verified."

# --chain prints the leaf and the issuing CA.
admin issue --profile client --csr "$T/client.csr" --identity '{"userId":"u-7"}' --chain >"$T/chain-out.pem" 2>>"$LOG"
eq "--chain prints two certificates" "$(grep -c 'BEGIN CERTIFICATE' "$T/chain-out.pem")" 2

# A service: DNS and IP SANs, serverAuth + clientAuth.
csr svc -subj "/CN=ignored"
check "issue a service certificate" admin issue --profile service --csr "$T/svc.csr" \
    --dns api.example.org --dns WWW.Example.org --ip 10.0.0.1 --ip ::1 --out "$T/svc.crt"
openssl x509 -in "$T/svc.crt" -noout -text >"$T/svc.txt"
has "service DNS SAN" "$T/svc.txt" "DNS:api.example.org"
has "service DNS SAN lower-cased" "$T/svc.txt" "DNS:www.example.org"
has "service IPv4 SAN" "$T/svc.txt" "IP Address:10.0.0.1"
has "service IPv6 SAN" "$T/svc.txt" "IP Address:0:0:0:0:0:0:0:1"
has "service EKU server and client" "$T/svc.txt" "TLS Web Server Authentication, TLS Web Client Authentication"
check "service verifies for sslserver" openssl verify -x509_strict -purpose sslserver \
    -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" "$T/svc.crt"
check "service hostname matches" openssl verify -CAfile "$CA/root.crt" \
    -untrusted "$CA/issuing.crt" -verify_hostname api.example.org "$T/svc.crt"
refuse "service profile needs a DNS name or IP" admin issue --profile service --csr "$T/svc.csr" \
    --identity "$ID"

# SPIFFE: an X.509-SVID has exactly one URI SAN.
csr wl
check "issue a SPIFFE workload certificate" admin issue --profile client --csr "$T/wl.csr" \
    --spiffe spiffe://example.org/ns/prod/sa/web --out "$T/wl.crt"
openssl x509 -in "$T/wl.crt" -noout -ext subjectAltName >"$T/wl.txt"
has "SPIFFE ID in the URI SAN" "$T/wl.txt" "URI:spiffe://example.org/ns/prod/sa/web"
eq "exactly one URI SAN" "$(grep -o 'URI:' "$T/wl.txt" | wc -l)" 1
refuse "SPIFFE ID of another trust domain" admin issue --profile client --csr "$T/wl.csr" \
    --spiffe spiffe://evil.org/ns/prod/sa/web

# otherName encoding, for relying parties that want RFC 3986 URIs only.
cat >>"$T/ca/ca.conf" <<'CONF'
[profile device]
encoding = othername
CONF
csr dev
check "issue with the otherName encoding" admin issue --profile device --csr "$T/dev.csr" \
    --identity "$ID" --out "$T/dev.crt"
openssl asn1parse -in "$T/dev.crt" -strparse "$(openssl asn1parse -in "$T/dev.crt" | \
    grep -A1 'X509v3 Subject Alternative Name' | tail -n 1 | cut -d: -f1 | tr -d ' ')" >"$T/dev.asn1" 2>>"$LOG"
has "otherName type-id" "$T/dev.asn1" "1.3.6.1.4.1.32473.1.1"
has "otherName value is the canonical JSON as UTF8String" "$T/dev.asn1" "UTF8STRING        :$CANON"
openssl x509 -in "$T/dev.crt" -noout -text >"$T/dev.txt"
lacks "no URI SAN with the otherName encoding" "$T/dev.txt" "URI:{"

# The OCSP signing profile.
csr ocsp
check "issue an OCSP signing certificate" admin issue --profile ocsp --csr "$T/ocsp.csr" \
    --dns ocsp.example.org --out "$T/ocsp.crt" 2>>"$LOG" || true
if [ -s "$T/ocsp.crt" ]; then
	openssl x509 -in "$T/ocsp.crt" -noout -text >"$T/ocsp.txt"
	has "OCSP signer EKU" "$T/ocsp.txt" "OCSP Signing"
	has "OCSP signer has id-pkix-ocsp-nocheck" "$T/ocsp.txt" "OCSP No Check"
	lacks "OCSP signer has no CRL distribution point" "$T/ocsp.txt" "CRL Distribution"
fi

# The admin profile forces the role; other profiles refuse one.
csr adm
check "issue an admin certificate" admin issue --profile admin --csr "$T/adm.csr" \
    --identity '{"userId":1}' --out "$T/adm.crt"
openssl x509 -in "$T/adm.crt" -noout -ext subjectAltName >"$T/adm.txt"
has "admin identity carries role admin" "$T/adm.txt" 'URI:{"role":"admin","userId":1}'
refuse "a client certificate cannot claim the admin role" admin issue --profile client \
    --csr "$T/adm.csr" --identity '{"role":"admin","userId":1}'

# RSA CSRs are accepted at 2048 bits and up.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -out "$T/rsa.csr" -subj /CN=rsa >>"$LOG" 2>&1
check "issue for an RSA-2048 CSR" admin issue --profile client --csr "$T/rsa.csr" \
    --identity '{"userId":3}' --out "$T/rsa.crt"

# --days and the profile maximum.
check "issue with --days 2" admin issue --profile client --csr "$T/client.csr" \
    --identity '{"userId":5}' --days 2 --out "$T/short.crt"
check "--days 2 gives a certificate valid for 2 days" sh -c "openssl x509 -in '$T/short.crt' -noout -checkend 86400 && ! openssl x509 -in '$T/short.crt' -noout -checkend 180000"
refuse "--days beyond the profile maximum" admin issue --profile client \
    --csr "$T/client.csr" --identity '{"userId":5}' --days 400

# list and show.
admin list --json >"$T/list.json" 2>>"$LOG"
has "list --json names the client serial" "$T/list.json" "\"serial\": \"$serial\""
has "list --json shows the identity" "$T/list.json" '"identity": "{\"platform\":\"linux\",\"userId\":42}"'
admin show --serial "$serial" --json >"$T/show.json" 2>>"$LOG"
has "show --json status valid" "$T/show.json" '"status": "valid"'
has "show --json profile" "$T/show.json" '"profile": "client"'
has "show --json has the PEM" "$T/show.json" "BEGIN CERTIFICATE"
admin show --serial "$(echo "$serial" | tr A-F a-f)" >"$T/show.txt" 2>>"$LOG"
has "show accepts a lower-case serial" "$T/show.txt" "valid"
refuse "show of an unknown serial" admin show --serial 0123456789ABCDEF
check "audit log verifies after issuing" admin audit verify

done_testing
