#!/bin/bash
# ca-server over plain HTTP: the endpoints, the limits, abuse it must
# survive, SIGHUP and SIGTERM. Runs on 127.0.0.1 with a port the kernel
# picks; every wait is bounded. bash for /dev/tcp.
. "$(dirname "$0")/lib.sh"

need openssl curl

instance
# A short idle timeout so the slowloris check does not wait long.
sed -i 's/^connection_timeout = .*/connection_timeout = 2/' "$T/ca/ca.conf"

must "ca-server starts" start_server
ok "ca-server listens on a port of its choice ($SERVER_PORT)"

# code URL [curl options...]: the HTTP status, body to $T/body, headers to $T/hdr.
code() {
	u=$1; shift
	rm -f "$T/body" "$T/hdr"
	curl -sS --max-time 10 -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" \
	    "$BASE$u" 2>>"$LOG"
}
# hdr NAME: a response header's value from $T/hdr.
hdr() { sed -n "s/^$1: \\(.*\\)\\r\$/\\1/Ip" "$T/hdr" | head -n 1; }

eq "/healthz is 200" "$(code /healthz)" 200
has "/healthz says ok" "$T/body" '"status":"ok"'
has "/healthz has the OCSP signer" "$T/body" '"ocsp_signer_not_after":"'
eq "/metrics is 200" "$(code /metrics)" 200
for m in lanyard_http_requests_total lanyard_ocsp_responses_total \
    lanyard_ocsp_presigned_total lanyard_hsm_errors_total \
    lanyard_http_request_duration_seconds_bucket \
    lanyard_http_connections_refused_total; do
	has "/metrics has $m" "$T/body" "$m"
done
has "/metrics counted /healthz" "$T/body" \
    'lanyard_http_requests_total{endpoint="healthz",code="200"} 1'

# CA certificates.
eq "/ca/issuing.crt is 200" "$(code /ca/issuing.crt)" 200
openssl x509 -in "$T/ca/certs/issuing.crt" -outform DER -out "$T/issuing.der"
check "/ca/issuing.crt is the issuing certificate in DER" cmp "$T/body" "$T/issuing.der"
eq "/ca/issuing.crt type" "$(hdr Content-Type)" application/pkix-cert
eq "/ca/root.crt is 200" "$(code /ca/root.crt)" 200
eq "/ca/other.crt is 404" "$(code /ca/other.crt)" 404
eq "/ca/../etc/passwd is 404" "$(code /ca/../etc/passwd --path-as-is)" 404
eq "/crl/..%2f..%2fca.conf is 404" "$(code /crl/..%2f..%2fca.conf --path-as-is)" 404
eq "/crl/%00.crl is 404" "$(code /crl/%00.crl)" 404
has "a 404 has a JSON error" "$T/body" '"error":"not_found"'
eq "/nothing is 404" "$(code /nothing)" 404
eq "DELETE /healthz is 405" "$(code /healthz -X DELETE)" 405
eq "405 names what is allowed" "$(hdr Allow)" "GET, HEAD"
eq "GET /ocsp is 405" "$(code /ocsp)" 405

# CRLs.
c=$(code /crl/issuing.crl)
if [ "$c" = 404 ] && grep -q 'not generated' "$T/body"; then
	for d in "CRL parses" "304 on ETag" "304 on If-Modified-Since" "?pem" "HEAD"; do
		skip "$d" "no CRL generated"
	done
else
	eq "/crl/issuing.crl is 200" "$c" 200
	cp "$T/body" "$T/issuing.crl"
	check "the CRL parses as DER" openssl crl -inform DER -in "$T/issuing.crl" -noout
	eq "CRL type" "$(hdr Content-Type)" application/pkix-crl
	etag=$(hdr ETag); lm=$(hdr Last-Modified)
	[ -n "$etag" ] && [ -n "$lm" ] && [ -n "$(hdr Expires)" ] && ok "CRL has ETag, Last-Modified, Expires" \
	    || not_ok "CRL has ETag, Last-Modified, Expires"
	hdr Cache-Control | grep -q 'max-age=[0-9]' && ok "CRL has a max-age" || not_ok "CRL has a max-age"
	eq "304 on If-None-Match" "$(code /crl/issuing.crl -H "If-None-Match: $etag")" 304
	[ ! -s "$T/body" ] && ok "304 has no body" || not_ok "304 has no body"
	eq "304 on If-None-Match: *" "$(code /crl/issuing.crl -H 'If-None-Match: *')" 304
	eq "200 on another ETag" "$(code /crl/issuing.crl -H 'If-None-Match: "0-0"')" 200
	eq "304 on If-Modified-Since" "$(code /crl/issuing.crl -H "If-Modified-Since: $lm")" 304
	eq "200 on an older If-Modified-Since" \
	    "$(code /crl/issuing.crl -H 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT')" 200
	eq "?pem is 200" "$(code '/crl/issuing.crl?pem')" 200
	has "?pem is PEM" "$T/body" "-----BEGIN X509 CRL-----"
	check "the PEM CRL parses" openssl crl -in "$T/body" -noout
	eq "PEM type" "$(hdr Content-Type)" application/x-pem-file
	eq "Accept: application/x-pem-file gives PEM" \
	    "$(code /crl/issuing.crl -H 'Accept: application/x-pem-file')" 200
	has "Accept gives PEM" "$T/body" "-----BEGIN X509 CRL-----"
	eq "HEAD is 200" "$(code /crl/issuing.crl -I)" 200
	eq "HEAD has the length" "$(hdr Content-Length)" "$(wc -c <"$T/issuing.crl" | tr -d ' ')"
fi

# OCSP: bad base64 in a GET gets a malformedRequest response.
eq "GET /ocsp/!!!notbase64 is 200" "$(code '/ocsp/!!!notbase64')" 200
eq "OCSP type" "$(hdr Content-Type)" application/ocsp-response
openssl ocsp -respin "$T/body" -resp_text >"$T/mal.txt" 2>&1
has "it says malformedRequest" "$T/mal.txt" "malformedrequest"
eq "POST /ocsp of text/plain is 415" \
    "$(code /ocsp -H 'Content-Type: text/plain' --data-binary x)" 415

# Limits: a 2 GB Content-Length is refused at once, without the body.
start=$(date +%s)
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 2000000000\r\n\r\n' >&3
timeout 5 head -n 1 <&3 >"$T/big.txt"
exec 3<&-
has "a 2 GB Content-Length gets 413" "$T/big.txt" "413"
[ $(($(date +%s) - start)) -le 3 ] && ok "... at once" || not_ok "... at once"
head -c 100000 /dev/zero >"$T/big"
eq "a body over max_body gets 413" \
    "$(code /ocsp -H 'Content-Type: application/ocsp-request' --data-binary @"$T/big" \
    -H 'Expect: 100-continue' --expect100-timeout 10)" 413
c=$(code /healthz -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)")
case $c in 4??) ok "a 70 kB header gets a 4xx ($c)";; *) not_ok "a 70 kB header gets a 4xx ($c)";; esac

# Abuse: a port probe, a malformed request line, a slowloris client.
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"; exec 3<&-
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n' >&3
timeout 5 head -n 1 <&3 >"$T/garbage.txt"
exec 3<&-
has "a malformed header line gets 400" "$T/garbage.txt" "400"
# MHD closes on a request line that is not HTTP at all, without an answer.
exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'GARBAGE\r\n\r\n' >&3
timeout 5 cat <&3 >/dev/null && ok "a garbage request line is closed" \
    || not_ok "a garbage request line is closed"
exec 3<&-
exec 4<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&4
eq "others are served beside a slow client" "$(code /healthz)" 200
start=$(date +%s)
timeout 8 cat <&4 >/dev/null
exec 4<&-
[ $(($(date +%s) - start)) -le 6 ] && ok "the slow client is cut off by the timeout" \
    || not_ok "the slow client is cut off by the timeout"

# 10k requests on one keep-alive connection.
for i in $(seq 10000); do echo "url = \"$BASE/healthz\""; echo 'output = "/dev/null"'; done >"$T/many.cfg"
curl -sS --max-time 120 -K "$T/many.cfg" -w '%{http_code} %{num_connects}\n' >"$T/many.txt" 2>>"$LOG"
eq "10000 requests answered 200" "$(grep -c '^200 ' "$T/many.txt")" 10000
eq "... on one connection" "$(awk '{s += $2} END {print s}' "$T/many.txt")" 1

# The access log: one line per request, attacker bytes escaped.
curl -sS -o /dev/null --path-as-is "$BASE/x%0a%22y" 2>>"$LOG"
has "access log line" "$SERVER_LOG" "127.0.0.1 GET /healthz 200 "
has "access log keeps the raw path" "$SERVER_LOG" "127.0.0.1 GET /x%0a%22y 404 "
pin=$(head -n 1 "$T/ca/hsm/issuing.pin" 2>/dev/null)
if [ -n "$pin" ]; then lacks "no PIN in the log" "$SERVER_LOG" "$pin"
else skip "no PIN in the log" "no PIN file at hsm/issuing.pin"; fi

# SIGHUP: a good configuration reloads, a broken one is refused; both keep serving.
kill -HUP "$SERVER_PID"
for i in $(seq 50); do grep -q 'reloaded' "$SERVER_LOG" && break; sleep 0.1; done
has "SIGHUP reloads" "$SERVER_LOG" "reloaded"
eq "still serving after SIGHUP" "$(code /healthz)" 200
eq "CA certificate after SIGHUP" "$(code /ca/issuing.crt)" 200
cp "$T/ca/ca.conf" "$T/ca.conf.good"
echo "no_such_key = 1" >>"$T/ca/ca.conf"
kill -HUP "$SERVER_PID"
for i in $(seq 50); do grep -q 'reload refused' "$SERVER_LOG" && break; sleep 0.1; done
has "a broken configuration is refused" "$SERVER_LOG" "reload refused"
eq "still serving the old one" "$(code /healthz)" 200
cp "$T/ca.conf.good" "$T/ca/ca.conf"

# SIGTERM: exit 0, port closed.
stop_server
eq "SIGTERM exits 0" "$SERVER_STATUS" 0
curl -s --max-time 3 -o /dev/null "$BASE/healthz" && not_ok "the port is closed" || ok "the port is closed"

# Files only the server's user may read: each one opened to the group
# stops the start, with the file named and the fix.
for f in store/data.mdb store/lock.mdb hsm/issuing.pin; do
	[ -e "$T/ca/$f" ] || { skip "a group-readable $f is refused" "no $f"; continue; }
	chmod 640 "$T/ca/$f"
	if start_server; then
		not_ok "a group-readable $f is refused"
		stop_server
	else
		has "a group-readable $f is refused" "$SERVER_LOG" "$f is accessible to group or others (mode 640): chmod 600 it"
	fi
	chmod 600 "$T/ca/$f"
done
start_server && ok "and it starts again once they are 0600" ||
    not_ok "and it starts again once they are 0600"
stop_server

done_testing
