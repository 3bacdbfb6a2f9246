#!/bin/sh
# OCSP for every link of the chain: nginx with `ssl_verify_client on;
# ssl_ocsp on;` asks the OCSP URL of each certificate of the client's
# chain, the issuing CA's included, whose response the root signed ahead
# of time (ca-admin root crl). A good client gets through, a revoked one
# does not; once the root revokes the issuing CA, none of its leaves does,
# for nginx and for `openssl verify -crl_check_all`.
#
# The certificates name the default http://127.0.0.1:8080, so the test
# runs in a network namespace of its own (unshare -n) with ca-server on
# that fixed port.
if [ -z "${LANYARD_IN_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
    command -v ip >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	LANYARD_IN_NS=1 exec unshare -n sh -c 'ip link set lo up && exec sh "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"

[ -n "${LANYARD_IN_NS:-}" ] || bail "unshare -n works (root, util-linux, iproute2)"
need nginx curl openssl
must "init" new_instance
ok "init"

# What init made: the issuing CA points at the responder, which answers
# for it with the root's response.
openssl x509 -in "$CA/issuing.crt" -noout -ext authorityInfoAccess >"$T/aia" 2>>"$LOG"
has "the issuing CA certificate carries an OCSP URL" "$T/aia" "OCSP - URI:http://127.0.0.1:8080/ocsp"
admin audit list >"$T/audit" 2>>"$LOG"
has "init signed the root's OCSP responses, audited" "$T/audit" "root-ocsp"

must "ca-server starts on 8080" start_server --http 127.0.0.1:8080
ok "ca-server on $BASE"

# ask CERT ISSUER OUT: openssl ocsp about CERT, verified against the root.
ask() {
	openssl ocsp -issuer "$2" -cert "$1" -url "$BASE/ocsp" -CAfile "$CA/root.crt" \
	    -no_nonce >"$3" 2>&1
	cat "$3" >>"$LOG"
}
ask "$CA/issuing.crt" "$CA/root.crt" "$T/o1"
has "openssl ocsp: the issuing CA is good" "$T/o1" "issuing.crt: good"
has "openssl ocsp: the root's response verifies" "$T/o1" "Response verify OK"
openssl ocsp -issuer "$CA/root.crt" -cert "$CA/issuing.crt" -url "$BASE/ocsp" \
    -CAfile "$CA/root.crt" >"$T/o1n" 2>&1
has "openssl ocsp with a nonce: still the root's response" "$T/o1n" "issuing.crt: good"
ask "$CA/root.crt" "$CA/root.crt" "$T/o2"
has "openssl ocsp: the root itself is not answered" "$T/o2" "unauthorized"

# ca-admin publish writes the root's response too, where a static server
# finds the RFC 5019 GET request about the issuing CA.
check "ca-admin publish" admin publish --out "$T/pub"
openssl ocsp -issuer "$CA/root.crt" -cert "$CA/issuing.crt" -no_nonce -reqout "$T/ireq.der" \
    >>"$LOG" 2>&1
f="$T/pub/ocsp/$(openssl base64 -A <"$T/ireq.der")"
case $f in */) f="${f}_" ;; esac
openssl ocsp -respin "$f" -issuer "$CA/root.crt" -cert "$CA/issuing.crt" \
    -CAfile "$CA/root.crt" >"$T/pubresp" 2>&1
has "publish: the static response about the issuing CA is the root's, good" "$T/pubresp" "issuing.crt: good"

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
check "revoke bob" admin revoke --serial "$(openssl x509 -in "$T/bob.crt" -noout -serial | cut -d= -f2)"

# No CRL: OCSP alone, for every link.
start_nginx "
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate $T/gw-chain.crt;
    ssl_certificate_key $T/gw.key;
    ssl_client_certificate $CA/chain.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_ocsp on;
    location / { return 200 \"through: \$ssl_client_verify\n\"; }
  }" || bail "nginx starts"
ok "nginx with ssl_ocsp on started on port $NGINX_PORT"
URL="https://127.0.0.1:$NGINX_PORT/"

# client NAME OUT: a request through nginx with NAME's certificate and chain.
client() {
	cat "$T/$1.crt" "$CA/issuing.crt" >"$T/$1-chain.crt"
	curl -sS --cacert "$CA/root.crt" --cert "$T/$1-chain.crt" --key "$T/$1.key" \
	    "$URL" >"$2" 2>>"$LOG"
	cat "$2" >>"$LOG"
}
client alice "$T/n1"
has "nginx ssl_ocsp on admits a good client (every link asked)" "$T/n1" "through: SUCCESS"
client bob "$T/n2"
has "nginx ssl_ocsp on refuses a revoked client" "$T/n2" "400 The SSL certificate error"
lacks "nginx ssl_ocsp on does not let the revoked client through" "$T/n2" "through:"

# The root revokes the issuing CA; its ceremony signs the CRL and responses.
IS=$(openssl x509 -in "$CA/issuing.crt" -noout -serial | cut -d= -f2)
check "revoke the issuing CA's certificate (root's scope)" admin revoke --serial "$IS" --reason keyCompromise
ask "$CA/issuing.crt" "$CA/root.crt" "$T/o3"
has "before root crl the stale good response is gone" "$T/o3" "unauthorized"
admin root crl >"$T/rootcrl" 2>>"$LOG"
has "ca-admin root crl signs the root CRL and the responses" "$T/rootcrl" "1 OCSP responses about CA certificates"
ask "$CA/issuing.crt" "$CA/root.crt" "$T/o4"
has "openssl ocsp: the issuing CA is revoked" "$T/o4" "issuing.crt: revoked"
has "openssl ocsp: revoked for keyCompromise" "$T/o4" "Reason: keyCompromise"
admin audit list >"$T/audit2" 2>>"$LOG"
eq "root crl is audited" "$(grep -c root-ocsp "$T/audit2")" 2

client alice "$T/n3"
has "nginx ssl_ocsp on refuses a leaf of a revoked issuing CA" "$T/n3" "400 The SSL certificate error"
eq "nginx says why: the OCSP status is revoked, both times" \
    "$(grep -c 'verify error: certificate revoked' "$T/nginx/logs/error.log")" 2
fails "openssl verify -crl_check_all refuses a leaf of a revoked issuing CA" \
    openssl verify -crl_check_all -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
    -CRLfile "$T/ca/publish/crl-bundle.pem" "$T/alice.crt"
openssl verify -crl_check_all -CAfile "$CA/root.crt" -untrusted "$CA/issuing.crt" \
    -CRLfile "$T/ca/publish/crl-bundle.pem" "$T/alice.crt" >"$T/v" 2>&1
has "openssl verify: because the issuing CA is revoked" "$T/v" "error 23 at 1 depth lookup: certificate revoked"

# The state ca-admin status reports: the responses and the root CRL are fresh.
admin status >"$T/status" 2>&1
has "ca-admin status shows the root's OCSP responses" "$T/status" "root's OCSP responses  nextUpdate 20"
lacks "ca-admin status: the root's OCSP responses are not due" "$T/status" "ACTION: the root"
# Responses valid for 2 days: the next ceremony is due within the week.
sed -i 's/^ocsp_validity = 180d$/ocsp_validity = 2d/' "$T/ca/ca.conf"
check "root crl with [root] ocsp_validity = 2d" admin root crl
admin status >"$T/status2" 2>&1
has "ca-admin status warns of the root's OCSP responses" "$T/status2" \
    "ACTION: the root's OCSP responses about CA certificates expire within 7 days"
lacks "ca-admin status: the root CRL (30d) is not due yet" "$T/status2" "ACTION: the root CRL"
sed -i 's/^root_validity = 30d$/root_validity = 3d/' "$T/ca/ca.conf"
check "root crl with [crl] root_validity = 3d" admin root crl
admin status >"$T/status3" 2>&1
has "ca-admin status warns of the root CRL's nextUpdate" "$T/status3" \
    "ACTION: the root CRL's nextUpdate is within 7 days"

done_testing
