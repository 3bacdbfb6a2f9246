#!/bin/bash
# ca-server over HTTPS: its own server certificate (issued at init, key
# mode 0600, names from [server] tls_dns/tls_ip, renewed when the names
# change), client certificates verified against Lanyard's chain, only
# enroll/ and /healthz on HTTPS, revocation data still on HTTP, limits and
# timeouts as on HTTP. 127.0.0.1 only, ports the kernel picks, bounded
# waits. bash for /dev/tcp.
. "$(dirname "$0")/lib.sh"

need openssl curl ss

instance
# A short idle timeout so the idle-connection check does not wait long.
sed -i 's/^connection_timeout = .*/connection_timeout = 2/' "$T/ca/ca.conf"
KEY="$T/ca/tls/server.key"
CRT="$T/ca/tls/server.crt"
check "init made the TLS key" test -s "$KEY"
check "init made the TLS certificate" test -s "$CRT"

must "ca-server starts with HTTPS" start_server_https
ok "ca-server listens on HTTPS on a port of its choice ($HTTPS_PORT)"

# scode URL [curl options...]: HTTPS status, body to $T/body.
scode() {
	u=$1; shift
	rm -f "$T/body"
	curl -sS --max-time 10 --cacert "$ROOT" -o "$T/body" -w '%{http_code}' \
	    "$@" "$SBASE$u" 2>>"$LOG"
}
code() {
	u=$1; shift
	rm -f "$T/body"
	curl -sS --max-time 10 -o "$T/body" -w '%{http_code}' "$@" \
	    "$BASE$u" 2>>"$LOG"
}
mode() { stat -c %a "$1"; }

# The server certificate and its key.
eq "the TLS key is mode 0600" "$(mode "$KEY")" 600
eq "the TLS directory is mode 0700" "$(mode "$T/ca/tls")" 700
echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -CAfile "$ROOT" \
    >"$T/sclient" 2>&1
has "openssl s_client verifies the chain to the root" "$T/sclient" \
    "Verify return code: 0 (ok)"
openssl x509 -in "$CRT" -noout -text >"$T/crt.txt" 2>>"$LOG"
has "the server certificate names localhost" "$T/crt.txt" "DNS:localhost"
has "the server certificate names 127.0.0.1" "$T/crt.txt" "IP Address:127.0.0.1"
has "the server certificate is for serverAuth" "$T/crt.txt" "TLS Web Server Authentication"
eq "server.crt holds the leaf and the issuing CA" \
    "$(grep -c 'BEGIN CERTIFICATE' "$CRT")" 2
# init issued it; a start with a good one keeps it.
grep -q 'TLS server certificate: issuing a new one' "$SERVER_LOG" &&
    not_ok "the certificate from init was kept at start" ||
    ok "the certificate from init was kept at start"

eq "/healthz over HTTPS is 200" "$(scode /healthz)" 200
has "/healthz over HTTPS says ok" "$T/body" '"status":"ok"'

# EST cacerts is served over HTTPS.
eq "EST cacerts over HTTPS is 200" "$(scode /.well-known/est/cacerts)" 200
tr -d '\r\n' <"$T/body" | openssl base64 -d -A | openssl pkcs7 -inform DER -print_certs \
    >"$T/cacerts.txt" 2>>"$LOG"
has "EST cacerts is a PKCS#7 with the issuing CA" "$T/cacerts.txt" "Issuing CA"

# Client certificates: Lanyard's is verified, a stranger's is refused.
csr dev
admin issue --profile client --csr "$T/dev.csr" \
    --identity '{"platform":"linux","userId":42}' --out "$T/dev.crt" >>"$LOG" 2>&1
c=$(scode /api/v1/reissue -X POST --cert "$T/dev.crt" --key "$T/dev.key")
if [ "$c" != 401 ] && [ "$c" != 000 ]; then ok "a Lanyard client certificate is accepted by TLS ($c)"
else not_ok "a Lanyard client certificate is accepted by TLS ($c)"; fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/self.key" -out "$T/self.crt" -subj /CN=self -days 2 \
    -addext extendedKeyUsage=clientAuth >>"$LOG" 2>&1
eq "a self-signed client certificate is 401" \
    "$(scode /api/v1/reissue -X POST --cert "$T/self.crt" --key "$T/self.key")" 401
has "the 401 says why" "$T/body" '"detail":"client certificate not trusted: '
has "the 401 is a JSON error" "$T/body" '"error":"unauthorized"'
# The purpose matters: a Lanyard certificate for serverAuth only is not
# a client certificate (a profile made for this test; ca-admin reads it).
cat >>"$T/ca/ca.conf" <<'CONF'

[profile serveronly]
days = 30
max_days = 397
eku = server
key_types = ec-p256
identity = none
require_dns_or_ip = yes
allow_dns_ip = yes
CONF
csr srv
check "a serverAuth-only profile issues" admin issue --profile serveronly \
    --csr "$T/srv.csr" --dns srv.test --out "$T/srv.crt"
eq "a serverAuth-only certificate is 401 as a client certificate" \
    "$(scode /api/v1/reissue -X POST --cert "$T/srv.crt" --key "$T/srv.key")" 401
has "the 401 names the purpose" "$T/body" "purpose"

# Limits as on HTTP.
head -c 70000 /dev/zero >"$T/big"
# The 413 comes from the headers; curl waits for it instead of sending the
# body (a server that closes on an unread body may reset the connection
# before the client reads the answer, more so over TLS).
eq "a body over max_body is 413" \
    "$(scode /api/v1/enroll --data-binary @"$T/big" -H 'Content-Type: application/json' \
    -H 'Expect: 100-continue' --expect100-timeout 10)" 413

# What is served where.
eq "revocation data is not on HTTPS" "$(scode /crl/issuing.crl)" 404
eq "/metrics is not on HTTPS" "$(scode /metrics)" 404
eq "the CRL is still on HTTP" "$(code /crl/issuing.crl)" 200
eq "/ca/root.crt is still on HTTP" "$(code /ca/root.crt)" 200
eq "enrollment is not on plain HTTP" "$(code /api/v1/enroll -X POST)" 404
eq "/metrics is 200" "$(code /metrics)" 200
has "/metrics counts the api endpoint" "$T/body" 'endpoint="api",code="401"'

# An idle connection (never speaking TLS) is closed by the timeout.
if exec 3<>"/dev/tcp/127.0.0.1/$HTTPS_PORT"; then
	start=$(date +%s)
	read -r -t 8 -u 3 _ ; rc=$?
	end=$(date +%s)
	exec 3<&- 3>&-
	# read: 1 at EOF, over 128 on its own timeout.
	if [ "$rc" -le 128 ] && [ $((end - start)) -le 6 ]; then
		ok "an idle connection is closed by the timeout"
	else
		echo "rc $rc after $((end - start)) s" >>"$LOG"
		not_ok "an idle connection is closed by the timeout"
	fi
else
	not_ok "an idle connection is closed by the timeout"
fi
# A connection idle after the handshake too: s_client stays until its
# input ends, so the socket's state tells whether the server closed it.
sleep 8 | timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
    -CAfile "$ROOT" -quiet >>"$LOG" 2>&1 &
sc=$!
i=0 est1=0
while [ $i -lt 30 ] && [ "$est1" -eq 0 ]; do
	sleep 0.1; i=$((i + 1))
	est1=$(ss -Htn state established "( dport = :$HTTPS_PORT )" | wc -l)
done
sleep 4
est2=$(ss -Htn state established "( dport = :$HTTPS_PORT )" | wc -l)
kill "$sc" 2>/dev/null
wait "$sc" 2>/dev/null
if [ "$est1" -ge 1 ] && [ "$est2" -eq 0 ]; then
	ok "an idle TLS session is closed by the timeout"
else
	echo "established: $est1, then $est2" >>"$LOG"
	not_ok "an idle TLS session is closed by the timeout"
fi

# SIGHUP restarts the HTTPS listener on the same port.
kill -HUP "$SERVER_PID"
i=0
while [ $i -lt 50 ] && [ "$(grep -c 'listening on https' "$SERVER_LOG")" -lt 2 ]; do
	sleep 0.1; i=$((i + 1))
done
eq "after SIGHUP HTTPS listens on the same port" \
    "$(sed -n 's|.*listening on https://127\.0\.0\.1:||p' "$SERVER_LOG" | tail -n 1)" "$HTTPS_PORT"
eq "/healthz over HTTPS after SIGHUP" "$(scode /healthz)" 200

# A restart keeps a good certificate.
fp1=$(openssl x509 -in "$CRT" -noout -fingerprint -sha256)
stop_server
start_server_https || not_ok "ca-server restarts"
eq "a restart keeps a good certificate" \
    "$(openssl x509 -in "$CRT" -noout -fingerprint -sha256)" "$fp1"

# A key without its certificate: a new pair at start.
stop_server
rm -f "$CRT"
start_server_https || not_ok "ca-server starts without server.crt"
[ -s "$CRT" ] && ok "a missing certificate is issued again at start" ||
    not_ok "a missing certificate is issued again at start"
eq "/healthz over HTTPS with the new pair" "$(scode /healthz)" 200

# A key file others can read: ca-server refuses to start.
stop_server
chmod 640 "$KEY"
if start_server_https; then
	not_ok "a group-readable TLS key is refused"
else
	has "a group-readable TLS key is refused" "$SERVER_LOG" "chmod 600"
fi
chmod 600 "$KEY"

# New names in the configuration: a new certificate with them.
sed -i 's/^tls_dns = .*/tls_dns = localhost, ca.test/' "$T/ca/ca.conf"
start_server_https || not_ok "ca-server starts with new names"
openssl x509 -in "$CRT" -noout -text >"$T/crt2.txt" 2>>"$LOG"
has "changed names give a new certificate" "$T/crt2.txt" "DNS:ca.test"
eq "/healthz over HTTPS with the new certificate" "$(scode /healthz)" 200
stop_server

# HTTPS off.
start_server --https off || not_ok "ca-server starts with HTTPS off"
eq "--https off: no HTTPS port" "${HTTPS_PORT:-none}" none
stop_server

done_testing
