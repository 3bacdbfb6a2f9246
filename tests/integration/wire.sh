#!/bin/bash
# The wire, hardened: TLS versions and suites of the HTTPS listener
# ([server] tls_priority), request framing per RFC 9112 on both listeners
# (raw requests over a socket: status 400 and the connection closed, and
# no state changed), error details that stay valid UTF-8 whatever is
# echoed (never a 500), and what libmicrohttpd logs (readable, under the
# right listener). bash for /dev/tcp.
. "$(dirname "$0")/lib.sh"

need openssl gnutls-cli curl jq
instance
sed -i -e 's/^connection_timeout = .*/connection_timeout = 8/' "$T/ca/ca.conf"
csr dev
openssl req -in "$T/dev.csr" -outform DER -out "$T/dev.der" 2>>"$LOG"
DEVJ=$(jq -Rs . <"$T/dev.csr")
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1
mktok() {
	admin token create --profile client --identity "$1" 2>>"$LOG" |
	    sed -n 's/^token: *//p'
}
tokstate() {
	admin token list --json 2>>"$LOG" | jq -r --arg u "\"userId\":$1" \
	    '.[] | select(.identity | contains($u)) | .state'
}
must "ca-server starts" start_server_https

# ---- TLS versions and suites ---------------------------------------------------
# OpenSSL 3 refuses TLS < 1.2 itself at its default security level: level 0
# lets it offer them, so only the server can say no.
tls_ossl() {
	echo | timeout 10 openssl s_client "$1" -cipher 'DEFAULT@SECLEVEL=0' \
	    -connect "127.0.0.1:$HTTPS_PORT" -CAfile "$ROOT" >"$T/tls.out" 2>&1
	sed -n 's/^New, \([^,]*\),.*/\1/p' "$T/tls.out" | head -n 1
}
eq "TLS 1.0 (openssl s_client -tls1) is refused" "$(tls_ossl -tls1)" "(NONE)"
eq "TLS 1.1 (openssl s_client -tls1_1) is refused" "$(tls_ossl -tls1_1)" "(NONE)"
eq "TLS 1.2 (openssl s_client -tls1_2) is accepted" "$(tls_ossl -tls1_2)" "TLSv1.2"
eq "TLS 1.3 (openssl s_client -tls1_3) is accepted" "$(tls_ossl -tls1_3)" "TLSv1.3"
tls_gnutls() {
	timeout 10 gnutls-cli --priority "$1" --x509cafile "$ROOT" \
	    -p "$HTTPS_PORT" 127.0.0.1 </dev/null >"$T/tls.out" 2>&1
	if grep -q "Handshake was completed" "$T/tls.out"; then echo completed; else echo refused; fi
}
eq "gnutls-cli forcing TLS 1.0 is refused" \
    "$(tls_gnutls 'NORMAL:-VERS-ALL:+VERS-TLS1.0')" refused
eq "gnutls-cli forcing TLS 1.1 is refused" \
    "$(tls_gnutls 'NORMAL:-VERS-ALL:+VERS-TLS1.1')" refused
eq "gnutls-cli forcing TLS 1.2 with CBC-SHA1 suites only is refused" \
    "$(tls_gnutls 'NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1')" refused
eq "gnutls-cli forcing static RSA key exchange is refused" \
    "$(tls_gnutls 'NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA')" refused
eq "gnutls-cli with its defaults completes the handshake" "$(tls_gnutls NORMAL)" completed
# The priority string is the operator's: a bad one stops the start.
stop_server
cp "$T/ca/ca.conf" "$T/ca.conf.good"
sed -i 's/^tls_priority = .*/tls_priority = NORMAL:+NO-SUCH-THING/' "$T/ca/ca.conf"
timeout 20 "$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https 127.0.0.1:0 >"$T/bad.out" 2>&1
eq "a tls_priority GnuTLS cannot parse stops ca-server" "$?" 1
has "... naming the key and where the string is wrong" "$T/bad.out" "tls_priority: "
has "... at the bad element" "$T/bad.out" "+NO-SUCH-THING"
# An operator may allow more (here TLS 1.0 again): the key is honoured.
sed -i 's/^tls_priority = .*/tls_priority = NORMAL:+VERS-TLS1.0:+VERS-TLS1.1/' "$T/ca/ca.conf"
if start_server_https; then
	eq "tls_priority is what the listener uses (TLS 1.0 allowed on purpose)" \
	    "$(tls_gnutls 'NORMAL:-VERS-ALL:+VERS-TLS1.0')" completed
	stop_server
else
	not_ok "ca-server starts with a tls_priority of NORMAL"
fi
cp "$T/ca.conf.good" "$T/ca/ca.conf"
must "ca-server starts again" start_server_https

# ---- request framing (RFC 9112) --------------------------------------------------
# raw_http FMT / raw_https FMT: the printf format FMT sent as is; the
# answer in $T/raw.out; prints "STATUS closed" or "STATUS open" (the
# server kept the connection past 4 s).
raw_http() {
	exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
	# shellcheck disable=SC2059
	printf "$1" >&3
	timeout 4 cat <&3 >"$T/raw.out"
	rc=$?
	exec 3<&-
	raw_verdict $rc
}
raw_https() {
	# shellcheck disable=SC2059
	printf "$1" | timeout 4 openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
	    -CAfile "$ROOT" >"$T/raw.out" 2>>"$LOG"
	raw_verdict $?
}
raw_verdict() {
	s=$(head -n 1 "$T/raw.out" | cut -d' ' -f2)
	if [ "$1" -eq 124 ]; then echo "${s:-none} open"; else echo "${s:-none} closed"; fi
}
frame() {
	desc=$1 fmt=$2
	eq "HTTP: $desc: 400, connection closed" "$(raw_http "$fmt")" "400 closed"
	eq "HTTPS: $desc: 400, connection closed" "$(raw_https "$fmt")" "400 closed"
}
H='GET /healthz HTTP/1.1\r\nHost: x\r\n'
eq "HTTP: a plain request is answered and the connection kept" "$(raw_http "$H\r\n")" "200 open"
raw_http "${H}X-A: 1\r\nCookie: a=b; c=d\r\n\r\n${H}X-B: 2\r\n\r\n" >/dev/null
eq "HTTP: two requests with fields on one connection: both answered" \
    "$(grep -ao 'HTTP/1.1 200' "$T/raw.out" | wc -l)" 2
eq "HTTPS: a plain request is answered and the connection kept" \
    "$(raw_https 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n')" "200 open"
frame "Content-Length and Transfer-Encoding" \
    'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'
frame "Transfer-Encoding and Content-Length, on a GET" \
    "${H}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
frame "two different Content-Lengths" \
    'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'
frame "a Transfer-Encoding that is not chunked last" \
    'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'
frame "two Transfer-Encoding fields" \
    'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'
frame "a NUL in a field value" "${H}X-A: a\000b\r\n\r\n"
frame "a NUL at the end of a field value" "${H}X-A: ab\000\r\nX-B: c\r\n\r\n"
frame "a NUL in the last field value" "${H}X-A: ab\000\r\n\r\n"
frame "a NUL in a field name" "${H}X-\000A: b\r\n\r\n"
frame "a bare CR in a field value" "${H}X-A: a\rb\r\n\r\n"
frame "a bare CR in a field name" "${H}X-\rA: b\r\n\r\n"
frame "another control character in a field value" "${H}X-A: a\033b\r\n\r\n"
frame "a field name with parentheses" "${H}X(A): b\r\n\r\n"
frame "a field name with a space" "${H}X A: b\r\n\r\n"
frame "a space before the colon" "${H}X-A : b\r\n\r\n"
frame "a folded line (obs-fold)" "${H}X-A: a\r\n b\r\n\r\n"
frame "HTTP/1.1 without Host" 'GET /healthz HTTP/1.1\r\n\r\n'
frame "a NUL in the path (/crl/issuing.crl<NUL>.pem)" 'GET /crl/issuing.crl\000.pem HTTP/1.1\r\nHost: x\r\n\r\n'
frame "a NUL in a query value" 'GET /healthz?a=1\000junk&b=2 HTTP/1.1\r\nHost: x\r\n\r\n'
frame "a NUL at the end of the query" 'GET /healthz?a=1&b=2\000junk HTTP/1.1\r\nHost: x\r\n\r\n'
frame "a bare CR in the path" 'GET /healthz\rjunk HTTP/1.1\r\nHost: x\r\n\r\n'
frame "a control character in the path" 'GET /healthz\001 HTTP/1.1\r\nHost: x\r\n\r\n'
eq "HTTP: a query of every shape (empty keys and values, +, %%20) is answered" \
    "$(raw_http 'GET /healthz?a=1&b&c=&=d&&e+f=g%%20& HTTP/1.1\r\nHost: x\r\n\r\n')" "200 open"
eq "HTTP: a 501 for a coding we do not know, connection closed" \
    "$(raw_http 'POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')" "501 closed"
has "... the refusal is a JSON error" "$T/raw.out" '"error":"not_implemented"'

# The head alone: a body the server does not read would make its close a
# reset, which may lose the answer on the way.
# The catalogue's case: an EST Authorization cut at a NUL enrolled. Now
# 400, and the token is still unused, and still works.
TOK=$(mktok '{"userId":70}')
B64=$(base64 -w0 <"$T/dev.der")
AUTH=$(printf 'dev:%s' "$TOK" | base64 -w0)
est_raw() {
	printf 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s%s\r\nContent-Type: application/pkcs10\r\nContent-Length: %d\r\n\r\n%s' \
	    "$AUTH" "$1" "${#B64}" "$B64"
}
fmt=$(est_raw '\000junk' | sed 's/%/%%/g')
eq "HTTPS: EST Authorization with a NUL after the credentials: 400, closed" "$(raw_https "$fmt")" "400 closed"
fmt=$(est_raw '\000' | sed 's/%/%%/g')
eq "HTTPS: EST Authorization ending in a NUL: 400, closed" "$(raw_https "$fmt")" "400 closed"
fmt=$(est_raw '!junk' | sed 's/%/%%/g')
eq "HTTPS: EST Authorization with junk after the base64: 401" "$(raw_https "$fmt" | cut -d' ' -f1)" 401
eq "... the token is still unused" "$(tokstate 70)" unused
fmt=$(est_raw '' | sed 's/%/%%/g')
eq "HTTPS: the same request without the NUL enrolls" "$(raw_https "$fmt" | cut -d' ' -f1)" 200
eq "... and uses the token" "$(tokstate 70)" used

# ---- error details stay valid UTF-8: 4xx JSON, never a 500 -----------------------
# Details echo what was sent (jansson's error text, ids), and jansson
# refuses to encode invalid UTF-8: a detail that held some, or a character
# cut at a length limit (jansson's own 160 bytes, our 512), was a 500.
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":71}' \
    --out "$T/dev.crt" >>"$LOG" 2>&1
rep() { i=0; while [ $i -lt "$2" ]; do printf '%b' "$1"; i=$((i + 1)); done; }
EURO=$(rep '\xe2\x82\xac' 100)		# 300 bytes, 100 characters
# echo_req DESC METHOD PATH BODY [openssl s_client options...]: a raw
# request over TLS, PATH and BODY as bytes; the answer must be 4xx with a
# JSON error whose text is valid UTF-8.
echo_req() {
	desc=$1 m=$2 p=$3 b=$4; shift 4
	{
		printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' "$m" "$p"
		printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' \
		    "$(printf '%s' "$b" | wc -c)"
		printf '%s' "$b"
	} | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
	    -CAfile "$ROOT" "$@" >"$T/echo.out" 2>>"$LOG"
	st=$(head -n 1 "$T/echo.out" | cut -d' ' -f2)
	sed '1,/^\r$/d' "$T/echo.out" >"$T/echo.body"
	if case $st in 4??) true ;; *) false ;; esac &&
	    iconv -f UTF-8 -t UTF-8 "$T/echo.body" >/dev/null 2>&1 &&
	    [ -n "$(jq -r '.error // empty' "$T/echo.body" 2>/dev/null)" ]; then
		ok "UTF-8: $desc: $st with a JSON error in valid UTF-8"
	else
		head -c 300 "$T/echo.out" >>"$LOG"; echo >>"$LOG"
		not_ok "UTF-8: $desc: 4xx with a JSON error in valid UTF-8 (got ${st:-nothing})"
	fi
}
ADM="-cert $T/adm.crt -key $T/adm.key"
DEV="-cert $T/dev.crt -key $T/dev.key"
# Each endpoint with a JSON body: its fields, and one more that jansson
# names in its error, cut at 160 bytes: 0, 1 or 2 bytes of padding put
# the cut inside a character.
for ep in '/api/v1/enroll - "token":"x","csr":"y"' '/api/v1/tokens ADM "profile":"client","identity":"{}"' \
    '/api/v1/reissue DEV "csr":"y"' '/api/v1/certificates/0A/revoke ADM "reason":"superseded"'; do
	path=${ep%% *}; rest=${ep#* }; who=${rest%% *}; base=${rest#* }
	case $who in ADM) who=$ADM ;; DEV) who=$DEV ;; *) who= ;; esac
	# shellcheck disable=SC2086
	{
	for pad in "" a aa; do
		echo_req "POST $path: an unknown key of ${#pad} + 100 multi-byte characters" POST "$path" \
		    "{$base,\"$pad$EURO\":1}" $who
	done
	echo_req "POST $path: a long key of multi-byte characters alone" POST "$path" "{\"$EURO\":1}" $who
	echo_req "POST $path: invalid UTF-8 in a key" POST "$path" "$(printf '{"\xff\xfe":1}')" $who
	echo_req "POST $path: invalid UTF-8 in values" POST "$path" "$(printf '{"token":"\xc3(","csr":"\xed\xa0\x80"}')" $who
	echo_req "POST $path: a multi-byte character cut at the end" POST "$path" "$(printf '{"\xe2\x82')" $who
	}
done
LONGID=$(rep '\xe2\x82\xac' 400)
# shellcheck disable=SC2086
{
echo_req "DELETE /api/v1/tokens/<400 multi-byte characters>" DELETE "/api/v1/tokens/$LONGID" "" $ADM
echo_req "DELETE /api/v1/tokens/<invalid UTF-8>" DELETE "/api/v1/tokens/a$(printf '\xff\xfe')b" "" $ADM
echo_req "DELETE /api/v1/tokens/<170 x 'a' and a cut character>" DELETE \
    "/api/v1/tokens/$(rep a 170)$(printf '\xe2\x82')" "" $ADM
echo_req "GET /api/v1/certificates/<multi-byte>" GET "/api/v1/certificates/$LONGID" "" $ADM
echo_req "GET /.well-known/est/<multi-byte>" GET "/.well-known/est/$LONGID" ""
}

# ---- what libmicrohttpd logs ----------------------------------------------------
# A second instance (a copy: the first holds its own) asks for the first
# one's ports: MHD's message must name the listener and the port asked
# for, readably ("Failed to bind", not "Failed\x20to\x20bind").
cp -a "$T/ca" "$T/ca2"
timeout 20 "$CA_SERVER" --dir "$T/ca2" --http 127.0.0.1:0 --https "127.0.0.1:$HTTPS_PORT" \
    >"$T/bind.out" 2>&1
eq "ca-server on a taken HTTPS port exits 1" "$?" 1
has "... MHD's bind message is under https and the port, and names it" "$T/bind.out" \
    "https://127.0.0.1:$HTTPS_PORT: Failed to bind to port $HTTPS_PORT: Address already in use"
lacks "... not under http" "$T/bind.out" "http://127.0.0.1:$HTTPS_PORT"
lacks "... and readable: spaces are spaces" "$T/bind.out" '\x20'
timeout 20 "$CA_SERVER" --dir "$T/ca2" --http "127.0.0.1:$SERVER_PORT" --https 127.0.0.1:0 \
    >"$T/bind.out" 2>&1
has "a taken HTTP port: under http and its port" "$T/bind.out" \
    "http://127.0.0.1:$SERVER_PORT: Failed to bind"
# What a client sent reaches the log with control characters escaped.
raw_http "${H}X-A: a\rb\r\n\r\n" >/dev/null
raw_http 'GET /healthz HTTP/1.1\r\n\r\n' >/dev/null
has "MHD's messages of a request name the HTTP listener" "$SERVER_LOG" \
    "http://127.0.0.1:$SERVER_PORT: Received HTTP/1.1 request without \`Host' header."
if grep -q 'Failed\\x20\|request\\x20' "$SERVER_LOG"; then not_ok "no escaped spaces in the log"
else ok "no escaped spaces in the log"; fi

# ---- the server kept serving ------------------------------------------------------
eq "the server still answers" "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$BASE/healthz")" 200
kill -0 "$SERVER_PID" && ok "... the same process" || not_ok "... the same process"
stop_server
check "the audit chain verifies" admin audit verify

done_testing
