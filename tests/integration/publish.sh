#!/bin/sh
# The scale-out path of DESIGN.md section 5: `ca-admin publish --out DIR`
# writes CA certificates, CRLs and pre-signed OCSP responses laid out as
# ca-server's GET URLs, and plain nginx serving DIR answers those URLs with
# the same bytes as ca-server.
. "$(dirname "$0")/lib.sh"

need openssl curl nginx

instance
csr a
admin issue --profile client --csr "$T/a.csr" --identity '{"userId":1}' --out "$T/a.crt" 2>>"$LOG"
csr b
admin issue --profile client --csr "$T/b.csr" --identity '{"userId":2}' --out "$T/b.crt" 2>>"$LOG"
admin revoke --serial "$(openssl x509 -in "$T/b.crt" -noout -serial | cut -d= -f2)" \
    --reason cessationOfOperation >>"$LOG" 2>&1
# More certificates: some request encodings end in '/' (a directory index).
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	admin issue --profile client --csr "$T/a.csr" --identity "{\"userId\":$((i + 10))}" \
	    --out "$T/m$i.crt" 2>>"$LOG"
done

# ca-server first: it makes fresh CRLs as it starts, and publish must
# write the current ones.
must "ca-server starts" start_server
admin publish --out "$T/pub" >"$T/publish.txt" 2>>"$LOG"
has "publish reports what it wrote" "$T/publish.txt" "OCSP responses"
check "the issuing CA certificate" test -s "$T/pub/ca/issuing.crt"
check "the issuing CRL" test -s "$T/pub/crl/issuing.crl"
check "the root CRL" test -s "$T/pub/crl/root.crl"
check "the gateways' CRL bundle" test -s "$T/pub/crl/crl-bundle.pem"
start_nginx "
  merge_slashes off;
  types { application/pkix-cert crt; application/pkix-crl crl; }
  server {
    listen 127.0.0.1:@PORT@;
    root $T/pub;
    location /ocsp/ { index _; default_type application/ocsp-response; }
  }" || bail "nginx starts"
NG="http://127.0.0.1:$NGINX_PORT"

for c in a b; do
	openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/$c.crt" -no_nonce -reqout "$T/$c.req" >>"$LOG" 2>&1
	p=$(ocsp_get_path "$T/$c.req")
	curl -sS -o "$T/$c.nginx" -D "$T/$c.hdr" "$NG/ocsp/$p" 2>>"$LOG"
	curl -sS -o "$T/$c.ours" "$BASE/ocsp/$p" 2>>"$LOG"
	cmp -s "$T/$c.nginx" "$T/$c.ours" && ok "nginx serves the same OCSP bytes as ca-server ($c)" \
	    || not_ok "nginx serves the same OCSP bytes as ca-server ($c)"
	has "nginx's content type is application/ocsp-response ($c)" "$T/$c.hdr" "application/ocsp-response"
	openssl ocsp -respin "$T/$c.nginx" -issuer "$CA/issuing.crt" -cert "$T/$c.crt" \
	    -CAfile "$CA/root.crt" >"$T/$c.txt" 2>&1
	has "the static response verifies ($c)" "$T/$c.txt" "Response verify OK"
done
same=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/m$i.crt" -no_nonce -reqout "$T/m$i.req" >>"$LOG" 2>&1
	p=$(ocsp_get_path "$T/m$i.req")
	curl -sS -o "$T/m$i.nginx" "$NG/ocsp/$p" 2>>"$LOG"
	curl -sS -o "$T/m$i.ours" "$BASE/ocsp/$p" 2>>"$LOG"
	cmp -s "$T/m$i.nginx" "$T/m$i.ours" && same=$((same + 1))
done
eq "nginx serves every published response as ca-server does" "$same" 12
has "a: good" "$T/a.txt" "$T/a.crt: good"
has "b: revoked" "$T/b.txt" "$T/b.crt: revoked"

curl -sS -o "$T/crl.nginx" "$NG/crl/issuing.crl" 2>>"$LOG"
curl -sS -o "$T/crl.ours" "$BASE/crl/issuing.crl" 2>>"$LOG"
cmp -s "$T/crl.nginx" "$T/crl.ours" && ok "nginx serves the same CRL as ca-server" \
    || not_ok "nginx serves the same CRL as ca-server"
curl -sS -o "$T/ca.nginx" "$NG/ca/issuing.crt" 2>>"$LOG"
curl -sS -o "$T/ca.ours" "$BASE/ca/issuing.crt" 2>>"$LOG"
cmp -s "$T/ca.nginx" "$T/ca.ours" && ok "nginx serves the same CA certificate as ca-server" \
    || not_ok "nginx serves the same CA certificate as ca-server"

stop_nginx
stop_server
done_testing
