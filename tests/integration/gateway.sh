#!/bin/sh
# The mTLS system Lanyard serves, end to end: nginx as a gateway that
# trusts Lanyard's root, checks the CRLs Lanyard publishes, and proxies to
# a backend. A client with a Lanyard certificate gets through; after
# `ca-admin revoke` and `ca-admin crl publish` and a reload, it does not.
. "$(dirname "$0")/lib.sh"

need openssl curl nginx

instance

csr gw
admin issue --profile service --csr "$T/gw.csr" --dns localhost --ip 127.0.0.1 \
    --out "$T/gw.crt" 2>>"$LOG"
cat "$T/gw.crt" "$CA/issuing.crt" >"$T/gw-chain.crt"
csr alice
admin issue --profile client --csr "$T/alice.csr" --identity '{"platform":"linux","userId":42}' \
    --out "$T/alice.crt" 2>>"$LOG"
csr bob
admin issue --profile client --csr "$T/bob.csr" --identity '{"platform":"ios","userId":43}' \
    --out "$T/bob.crt" 2>>"$LOG"
check "publish the CRLs" admin crl publish
check "the publish directory holds the gateway's CRL bundle" test -s "$T/ca/publish/crl-bundle.pem"
eq "the bundle has the issuing and root CRLs" "$(grep -c 'BEGIN X509 CRL' "$T/ca/publish/crl-bundle.pem")" 2

# The backend echoes what the gateway tells it about the client.
start_nginx "
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate $T/gw-chain.crt;
    ssl_certificate_key $T/gw.key;
    ssl_client_certificate $CA/chain.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_crl $T/ca/publish/crl-bundle.pem;
    location / {
      proxy_set_header X-Client-Identity \$ssl_client_s_dn;
      proxy_pass http://unix:$T/nginx/backend.sock:;
    }
  }
  server {
    listen unix:$T/nginx/backend.sock;
    location / { return 200 \"backend: \$http_x_client_identity\n\"; }
  }" || bail "nginx starts"
ok "nginx gateway started on port $NGINX_PORT"
URL="https://127.0.0.1:$NGINX_PORT/"

curl -sS --cacert "$CA/root.crt" --cert "$T/alice.crt" --key "$T/alice.key" "$URL" \
    >"$T/alice.out" 2>>"$LOG"
has "a client with a valid Lanyard certificate gets through" "$T/alice.out" "backend: "
has "the backend learns the client's identity" "$T/alice.out" 'userId\":42}'
curl -sS --cacert "$CA/root.crt" "$URL" >"$T/anon.out" 2>>"$LOG"
has "a client without a certificate is refused" "$T/anon.out" "No required SSL certificate was sent"
check "the gateway's own certificate verifies for its name" curl -sS -o /dev/null \
    --cacert "$CA/root.crt" --cert "$T/bob.crt" --key "$T/bob.key" "https://localhost:$NGINX_PORT/"

# A client certificate from another CA is refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj /CN=evil -days 1 >>"$LOG" 2>&1
curl -sS --cacert "$CA/root.crt" --cert "$T/evil.crt" --key "$T/evil.key" "$URL" \
    >"$T/evil.out" 2>>"$LOG"
lacks "a certificate of another CA does not get through" "$T/evil.out" "backend:"

# Revoke alice, publish, reload: she is refused, bob still gets through.
serial=$(openssl x509 -in "$T/alice.crt" -noout -serial | cut -d= -f2)
check "revoke the client" admin revoke --serial "$serial" --reason keyCompromise
check "publish the CRLs again" admin crl publish
reload_nginx
curl -sS --cacert "$CA/root.crt" --cert "$T/alice.crt" --key "$T/alice.key" "$URL" \
    >"$T/alice2.out" 2>>"$LOG"
lacks "the revoked client is refused after publish and reload" "$T/alice2.out" "backend:"
has "... as a certificate error" "$T/alice2.out" "The SSL certificate error"
grep -q "certificate revoked" "$T/nginx/logs/error.log" && ok "nginx logs the revocation" \
    || not_ok "nginx logs the revocation"
curl -sS --cacert "$CA/root.crt" --cert "$T/bob.crt" --key "$T/bob.key" "$URL" \
    >"$T/bob.out" 2>>"$LOG"
has "another client still gets through" "$T/bob.out" 'userId\":43}'

stop_nginx
done_testing
