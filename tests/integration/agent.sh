#!/bin/sh
# The device agent end to end: ca-enroll enrolls with a one-time token over
# HTTPS, its key stays 0600 on the device, its certificate carries the
# token's identity and opens the nginx mTLS gateway; `ca-enroll renew` is
# quiet outside the reissue window and rotates key and certificate inside
# it (keeping a backup); a renewal whose answer was lost gets the same
# certificate on the next run, and an install a crash interrupted is
# completed; after the admin revokes the new certificate and publishes the
# CRLs, renew says the identity is finished and the gateway refuses it.
. "$(dirname "$0")/lib.sh"

need openssl curl nginx

CA_ENROLL="$top_builddir/ca-enroll"
ID="$T/id"

fail_rest() { bail "device agent: $1"; }

instance

start_server_https || fail_rest "ca-server with HTTPS does not start"
admin token create --profile client --identity '{"platform":"linux","userId":42}' \
    --ttl 1h >"$T/token.out" 2>>"$LOG" || fail_rest "ca-admin token create failed"
TOKEN=$(sed -n 's/^token: *//p' "$T/token.out")
[ -n "$TOKEN" ] || TOKEN=$(head -n 1 "$T/token.out")
printf '%s\n' "$TOKEN" >"$T/token"

# ---- enroll ---------------------------------------------------------------
check "ca-enroll enrolls with a token from a file" "$CA_ENROLL" --server "$SBASE" \
    --ca-file "$CA/root.crt" --token-file "$T/token" --identity-dir "$ID"
eq "the identity directory is 0700" "$(stat -c %a "$ID")" 700
eq "the private key is 0600" "$(stat -c %a "$ID/key.pem")" 600
check "the key is EC P-256" sh -c "openssl pkey -in '$ID/key.pem' -noout -text | grep -q prime256v1"
openssl x509 -in "$ID/cert.pem" -noout -ext subjectAltName >"$T/san.out" 2>>"$LOG"
has "the certificate's URI SAN is the token's identity" "$T/san.out" \
    'URI:{"platform":"linux","userId":42}'
check "the certificate verifies against the root" openssl verify -CAfile "$CA/root.crt" \
    -untrusted "$ID/chain.pem" "$ID/cert.pem"
check "the certificate is for the key on the device" sh -c \
    "[ \"\$(openssl x509 -in '$ID/cert.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$ID/key.pem' -pubout)\" ]"
eq "chain.pem is the certificate then the chain" "$(grep -c 'BEGIN CERTIFICATE' "$ID/chain.pem")" 3
check "ca.pem is the trust anchor" cmp "$ID/ca.pem" "$CA/root.crt"
has "agent.conf remembers the server" "$ID/agent.conf" "$SBASE"

CA_ENROLL_TOKEN=$TOKEN "$CA_ENROLL" --server "$SBASE" --ca-file "$CA/root.crt" \
    --identity-dir "$T/id2" 2>"$T/reuse.err"
eq "a used token (from CA_ENROLL_TOKEN) is refused with exit status 3" "$?" 3
[ -e "$T/id2/cert.pem" ] && not_ok "... and no certificate is written" || ok "... and no certificate is written"
"$CA_ENROLL" --server "$SBASE" --ca-file "$CA/root.crt" --token nosuchtoken \
    --identity-dir "$T/id3" 2>"$T/bad.err"
eq "an unknown token is refused with exit status 3" "$?" 3
has "... with what to do about it" "$T/bad.err" "ask for a new one"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/evil.key" \
    -out "$T/evil.crt" -subj /CN=evil -days 1 >>"$LOG" 2>&1
"$CA_ENROLL" --server "$SBASE" --ca-file "$T/evil.crt" --token nosuchtoken \
    --identity-dir "$T/id4" 2>"$T/tls.err"
has "a server that does not verify against --ca-file is refused" "$T/tls.err" "not acceptable"
# 127.1 reaches 127.0.0.1 but is a name the certificate does not carry.
"$CA_ENROLL" --server "https://127.1:$HTTPS_PORT" --ca-file "$CA/root.crt" \
    --token nosuchtoken --identity-dir "$T/id4" 2>"$T/ip.err"
has "... and so is a server whose name is not in its certificate" "$T/ip.err" "mismatch"

# ---- renew outside the window --------------------------------------------
cp "$ID/cert.pem" "$T/cert0.pem"
cp "$ID/key.pem" "$T/key0.pem"
"$CA_ENROLL" renew --identity-dir "$ID" >"$T/renew1.out" 2>&1
eq "renew outside the window exits 0" "$?" 0
eq "... and prints nothing" "$(cat "$T/renew1.out")" ""
check "... and leaves the certificate" cmp "$T/cert0.pem" "$ID/cert.pem"
check "... and the key" cmp "$T/key0.pem" "$ID/key.pem"
has "... and remembers when it may ask again" "$ID/agent.conf" "allowed_after"
"$CA_ENROLL" renew --identity-dir "$ID" -v >"$T/renew2.out" 2>&1
has "renew -v says why it did nothing" "$T/renew2.out" "not yet"

"$CA_ENROLL" renew --identity-dir "$ID" --daemon --interval 1h >"$T/daemon.out" 2>&1 &
dpid=$!
sleep 1
kill -TERM "$dpid"
wait "$dpid"
eq "renew --daemon exits 0 on SIGTERM" "$?" 0

# ---- the gateway -----------------------------------------------------------
csr gw
admin issue --profile service --csr "$T/gw.csr" --dns localhost --ip 127.0.0.1 \
    --out "$T/gw.crt" 2>>"$LOG"
cat "$T/gw.crt" "$CA/issuing.crt" >"$T/gw-chain.crt"
check "publish the CRLs" admin crl publish
gateway=no
if start_nginx "
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate $T/gw-chain.crt;
    ssl_certificate_key $T/gw.key;
    ssl_client_certificate $CA/chain.pem;
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_crl $T/ca/publish/crl-bundle.pem;
    location / { return 200 \"backend: \$ssl_client_s_dn\n\"; }
  }"; then
	gateway=yes
	URL="https://127.0.0.1:$NGINX_PORT/"
	curl -sS --cacert "$CA/root.crt" --cert "$ID/cert.pem" --key "$ID/key.pem" "$URL" \
	    >"$T/gw1.out" 2>>"$LOG"
	has "the enrolled certificate opens the mTLS gateway" "$T/gw1.out" "backend:"
else
	not_ok "the enrolled certificate opens the mTLS gateway (nginx did not start)"
fi

# ---- renew inside the window ----------------------------------------------
# A threshold of 100% puts any certificate of the client profile inside it.
stop_server
awk '/^\[/ { sect = $0 }
    sect == "[profile client]" && /^reissue_threshold/ { print "reissue_threshold = 100%"; next }
    { print }' "$T/ca/ca.conf" >"$T/ca.conf.new" && cat "$T/ca.conf.new" >"$T/ca/ca.conf"
grep -q '^reissue_threshold = 100%' "$T/ca/ca.conf" ||
    printf '\n[profile client]\nreissue_threshold = 100%%\n' >>"$T/ca/ca.conf"
must "ca-server restarts with reissue_threshold = 100%" start_server_https
serial0=$(openssl x509 -in "$ID/cert.pem" -noout -serial | cut -d= -f2)
# The remembered allowed_after still says "not yet"; --force asks anyway.
"$CA_ENROLL" renew --identity-dir "$ID" --server "$SBASE" >"$T/renew3.out" 2>&1
eq "renew keeps to the remembered allowed_after" "$(cat "$T/renew3.out")" ""
check "renew --force inside the window reissues" "$CA_ENROLL" renew --identity-dir "$ID" \
    --server "$SBASE" --force
serial1=$(openssl x509 -in "$ID/cert.pem" -noout -serial | cut -d= -f2)
[ -n "$serial1" ] && [ "$serial1" != "$serial0" ] && ok "the new certificate has a new serial" \
    || not_ok "the new certificate has a new serial"
fails "the key is new" cmp "$T/key0.pem" "$ID/key.pem"
eq "the new key is 0600" "$(stat -c %a "$ID/key.pem")" 600
openssl x509 -in "$ID/cert.pem" -noout -ext subjectAltName >"$T/san2.out" 2>>"$LOG"
has "the new certificate keeps the identity" "$T/san2.out" 'URI:{"platform":"linux","userId":42}'
check "the new certificate verifies against the root" openssl verify -CAfile "$CA/root.crt" \
    -untrusted "$ID/chain.pem" "$ID/cert.pem"
bk=$(ls -d "$ID"/backup/*/ 2>/dev/null | head -n 1)
check "the previous certificate is kept in backup/" cmp "$T/cert0.pem" "${bk}cert.pem"
check "... with the previous key" cmp "$T/key0.pem" "${bk}key.pem"
eq "... which stays 0600" "$(stat -c %a "${bk}key.pem" 2>/dev/null)" 600
lacks "after a renew, allowed_after is forgotten" "$ID/agent.conf" "allowed_after"
[ -e "$ID/key.pem.next" ] && not_ok "... and no key.pem.next is left" ||
    ok "... and no key.pem.next is left"
ls "$ID"/*.next >/dev/null 2>&1 && not_ok "... nor any other .next file" ||
    ok "... nor any other .next file"

# ---- a renewal whose answer was lost ---------------------------------------
# The server committed serial1, but the device never saw it: it still has
# its previous key and certificate, and the key its CSR was for in
# key.pem.next, as a renew leaves them before the answer arrives.
cp "$ID/key.pem" "$T/key1.pem"
ncerts1=$(admin list 2>>"$LOG" | wc -l)
mv "$ID/key.pem" "$ID/key.pem.next"
cp "${bk}key.pem" "${bk}cert.pem" "${bk}chain.pem" "$ID/"
"$CA_ENROLL" renew --identity-dir "$ID" >"$T/lost.out" 2>&1
eq "after a lost answer, renew exits 0" "$?" 0
has "... saying the answer was lost" "$T/lost.out" "lost"
eq "... and gets the same certificate again" \
    "$(openssl x509 -in "$ID/cert.pem" -noout -serial | cut -d= -f2)" "$serial1"
check "... for the key it kept" cmp "$T/key1.pem" "$ID/key.pem"
[ -e "$ID/key.pem.next" ] && not_ok "... which is no longer pending" ||
    ok "... which is no longer pending"
eq "... and the CA issued nothing new" "$(admin list 2>>"$LOG" | wc -l)" "$ncerts1"
cp "$ID/cert.pem" "$ID/chain.pem" "$T/"
# Without the key of the successor, the superseded certificate is finished.
cp "${bk}key.pem" "${bk}cert.pem" "${bk}chain.pem" "$ID/"
"$CA_ENROLL" renew --identity-dir "$ID" >"$T/super.out" 2>&1
eq "a superseded certificate without the new key: renew exits 3" "$?" 3
has "... saying it was reissued already" "$T/super.out" "reissued already"
cp "$T/key1.pem" "$ID/key.pem"
cp "$T/cert.pem" "$T/chain.pem" "$ID/"

# ---- an install cut short --------------------------------------------------
# The crash came after key.pem was renamed into place: the new key, the
# previous certificate, the new certificate and chain still as .next. A
# remembered allowed_after keeps renew from asking the server anything.
cp "$ID/cert.pem" "$ID/cert.pem.next"
cp "$ID/chain.pem" "$ID/chain.pem.next"
cp "${bk}cert.pem" "${bk}chain.pem" "$ID/"
printf 'server = %s\nallowed_after = 2099-01-01T00:00:00Z\n' "$SBASE" >"$ID/agent.conf"
"$CA_ENROLL" renew --identity-dir "$ID" >"$T/cut.out" 2>&1
eq "renew after an install cut short exits 0" "$?" 0
has "... saying it completed it" "$T/cut.out" "completed an interrupted install"
eq "... cert.pem is the new certificate" \
    "$(openssl x509 -in "$ID/cert.pem" -noout -serial | cut -d= -f2)" "$serial1"
check "... chain.pem too" cmp "$T/chain.pem" "$ID/chain.pem"
check "... and they fit key.pem" sh -c \
    "[ \"\$(openssl x509 -in '$ID/cert.pem' -noout -pubkey)\" = \"\$(openssl pkey -in '$ID/key.pem' -pubout)\" ]"
ls "$ID"/*.next >/dev/null 2>&1 && not_ok "... and no .next file is left" ||
    ok "... and no .next file is left"
printf 'server = %s\n' "$SBASE" >"$ID/agent.conf"

# ---- revoke: the gateway refuses ------------------------------------------
if [ "$gateway" = yes ]; then
	curl -sS --cacert "$CA/root.crt" --cert "$ID/cert.pem" --key "$ID/key.pem" "$URL" \
	    >"$T/gw2.out" 2>>"$LOG"
	has "the renewed certificate opens the gateway" "$T/gw2.out" "backend:"
fi
check "revoke the renewed certificate" admin revoke --serial "$serial1" --reason keyCompromise
check "publish the CRLs again" admin crl publish
"$CA_ENROLL" renew --identity-dir "$ID" --force >"$T/renew4.out" 2>&1
eq "renew with a revoked certificate exits 3" "$?" 3
has "... saying so" "$T/renew4.out" "is revoked"
if [ "$gateway" = yes ]; then
	reload_nginx
	curl -sS --cacert "$CA/root.crt" --cert "$ID/cert.pem" --key "$ID/key.pem" "$URL" \
	    >"$T/gw3.out" 2>>"$LOG"
	lacks "the gateway refuses the revoked certificate" "$T/gw3.out" "backend:"
	stop_nginx
else
	not_ok "the gateway refuses the revoked certificate (nginx did not start)"
fi

stop_server
done_testing
