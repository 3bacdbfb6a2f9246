#!/bin/bash
# Issuer rollover under load (issue 11): while devices renew (ca-enroll
# renew, EST simplereenroll) and new ones enroll (JSON API), `ca-admin
# issuer rollover issuing` makes issuing-2, signed by the root, and the
# running ca-server switches new issuance to it without a restart.
# Checked: no request of the load is refused; what was asked after the
# switch is signed by issuing-2, what was answered before it by issuing;
# every answer carries the chain of the generation that signed it, and
# ca-enroll installs it; issuing stays on-line for revocation (ca-admin,
# admin API, its CRL, OCSP); nginx trusting only the root accepts leaves
# of both generations and refuses revoked ones of both, by the published
# CRL bundle and by OCSP of every link (ssl_ocsp on). Last, a rollover
# --at a time some seconds ahead: the new generation is "next" and the
# current one issues until then, the new one from then on.
# Prints one line: what the rollover took and what the load saw.
#
# The certificates name the default http://127.0.0.1:8080 (OCSP, CRLs),
# so the test runs in a network namespace of its own with ca-server on
# that port. Every loop is bounded in count and time and stopped by PID.
# bash for EPOCHREALTIME and SECONDS.
if [ -z "${LANYARD_IN_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
    command -v ip >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	LANYARD_IN_NS=1 exec unshare -n bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
. "$(dirname "$0")/lib.sh"

[ -n "${LANYARD_IN_NS:-}" ] || bail "unshare -n works (root, util-linux, iproute2)"
need nginx curl openssl jq

CA_ENROLL="$top_builddir/ca-enroll"
DEVICES=${ROLL_DEVICES:-2}	# ca-enroll devices renewing all along
ENROLLERS=${ROLL_ENROLLERS:-2}	# workers enrolling new devices (JSON API)
PER_ENROLLER=${ROLL_TOKENS:-150}	# tokens each, paced to last the run
PRE=${ROLL_PRE:-4}		# seconds of load before the rollover
POST=${ROLL_POST:-6}		# ... and after it
GRACE=1.5			# "picks it up within about a second"
MAXREQ=400			# a bound on each loop, whatever the clock says
DEADLINE=$((SECONDS + 300))

must "init" new_instance
ok "init"
# Devices may renew at once: every certificate of this profile is in
# its window, so every renew asks the server.
cat >>"$T/ca/ca.conf" <<'CONF'

[profile device]
reissue_threshold = 100%
CONF
must "ca-server starts on 8080" start_server_https --http 127.0.0.1:8080
ok "ca-server on $BASE and $SBASE"
mkdir -p "$T/tok" "$T/got" "$T/dev" "$T/est"
REQ="$T/requests"	# START END KIND RESULT FILE, one line a request
: >"$REQ"

# fp FILE: SHA-256 fingerprint of the first certificate of FILE.
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2; }
# holds FILE CERT: FILE (PEM, several certificates) holds CERT, byte for
# byte (PEM bodies compared without their line breaks).
holds() {
	holds_b64=$(sed '/-----/d' "$2" 2>/dev/null | tr -d '\n')
	[ -n "$holds_b64" ] && tr -d '\n' <"$1" | grep -qF -- "$holds_b64"
}
# token PROFILE USERID: a one-time token for userId USERID.
token() {
	admin token create --profile "$1" --identity "{\"platform\":\"linux\",\"userId\":$2}" \
	    --ttl 1h 2>>"$LOG" | sed -n 's/^token: *//p'
}
# rec START KIND RESULT [FILE]: one request of the load, answered now.
rec() { echo "$1 $EPOCHREALTIME $2 $3 ${4:--}" >>"$REQ"; }
running() { [ -e "$T/running" ] && [ $SECONDS -lt $DEADLINE ]; }

# ---- before the load: leaves, admin, devices --------------------------------
# gw: the gateway's own certificate; alice and bob: leaves of the first
# generation (bob to be revoked); adm: the admin API's client.
csr gw
admin issue --profile service --csr "$T/gw.csr" --dns localhost --ip 127.0.0.1 \
    --out "$T/gw.crt" >>"$LOG" 2>&1 || bail "issue the gateway's certificate"
cat "$T/gw.crt" "$CA/issuing.crt" >"$T/gw-chain.crt"
for who in alice:42 bob:43; do
	csr "${who%:*}"
	admin issue --profile client --csr "$T/${who%:*}.csr" \
	    --identity "{\"platform\":\"linux\",\"userId\":${who#*:}}" \
	    --out "$T/${who%:*}.crt" >>"$LOG" 2>&1 || bail "issue ${who%:*}"
done
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1 || bail "issue the admin certificate"

d=1
while [ $d -le $DEVICES ]; do
	token device $((100 + d)) >"$T/dev/$d.token"
	"$CA_ENROLL" --server "$SBASE" --ca-file "$ROOT" --token-file "$T/dev/$d.token" \
	    --identity-dir "$T/dev/$d" >>"$LOG" 2>&1 || bail "ca-enroll enrolls device $d"
	d=$((d + 1))
done
ok "$DEVICES devices enrolled with ca-enroll"

# The EST device: simpleenroll with a token, then simplereenroll.
# est_csr NAME: a fresh key and the base64 CSR of an EST request.
est_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/est/$1.key" -subj "/CN=est" -outform DER 2>/dev/null |
	    openssl base64 -A >"$T/est/$1.b64"
}
# est_certs K: the certificates of the EST answer est/K.p7 (base64), as
# est/K.crt (the one for est/K.key) and est/K.pem (it first, then the
# others: a PKCS#7 SET OF has no order).
est_certs() {
	tr -d '\r\n' <"$T/est/$1.p7" | openssl base64 -d -A 2>/dev/null |
	    openssl pkcs7 -inform DER -print_certs -out "$T/est/$1.all" 2>/dev/null || return 1
	rm -f "$T/est/$1".c.*
	awk -v p="$T/est/$1.c." '/-----BEGIN CERTIFICATE-----/ { n++; on = 1 }
	    on { print > (p n) } /-----END CERTIFICATE-----/ { on = 0; close(p n) }' "$T/est/$1.all"
	key=$(openssl pkey -in "$T/est/$1.key" -pubout 2>/dev/null)
	: >"$T/est/$1.rest"
	rm -f "$T/est/$1.crt"
	for c in "$T/est/$1".c.*; do
		[ -e "$c" ] || return 1
		if [ "$(openssl x509 -in "$c" -noout -pubkey 2>/dev/null)" = "$key" ]; then
			cp "$c" "$T/est/$1.crt"
		else
			cat "$c" >>"$T/est/$1.rest"
		fi
	done
	[ -s "$T/est/$1.crt" ] && cat "$T/est/$1.crt" "$T/est/$1.rest" >"$T/est/$1.pem"
}
token device 200 >"$T/est/token"
est_csr 0
c=$(curl -sS --max-time 10 --cacert "$ROOT" -u "est:$(cat "$T/est/token")" \
    -H Content-Type:application/pkcs10 --data-binary @"$T/est/0.b64" -o "$T/est/0.p7" \
    -w '%{http_code}' "$SBASE/.well-known/est/simpleenroll" 2>>"$LOG")
{ [ "$c" = 200 ] && est_certs 0; } ||
    bail "EST simpleenroll of the EST device (HTTP $c)"
ok "the EST device enrolled"

w=1
while [ $w -le $ENROLLERS ]; do
	csr "w$w"
	jq -n --rawfile c "$T/w$w.csr" '$c' >"$T/w$w.csrjson"
	k=1
	while [ $k -le $PER_ENROLLER ]; do
		token client $((1000 * w + k)) >"$T/tok/$w.$k"
		k=$((k + 1))
	done
	w=$((w + 1))
done
[ -s "$T/tok/$ENROLLERS.$PER_ENROLLER" ] && ok "$((ENROLLERS * PER_ENROLLER)) tokens for new devices" ||
    bail "tokens for new devices"

# ---- the load -----------------------------------------------------------------
# renewer D: ca-enroll renew of device D, again and again. A renew that
# exits 0 without a new certificate counts as refused too: with the
# whole lifetime as the window, each one must reissue.
renewer() {
	dir="$T/dev/$1" k=0
	while running && [ $k -lt $MAXREQ ]; do
		k=$((k + 1))
		s=$EPOCHREALTIME
		old=$(serial_of "$dir/cert.pem")
		if "$CA_ENROLL" renew --identity-dir "$dir" >"$T/dev/$1.out" 2>&1 &&
		    [ "$(serial_of "$dir/cert.pem")" != "$old" ]; then
			cp "$dir/cert.pem" "$T/got/r$1.$k.pem"
			cp "$dir/chain.pem" "$T/got/r$1.$k.chain"
			rec "$s" renew ok "$T/got/r$1.$k.pem"
		else
			sed "s/^/renew $1.$k: /" "$T/dev/$1.out" >>"$T/refusals"
			rec "$s" renew refused
		fi
	done
}
# est_renewer: EST simplereenroll with the last certificate, a new key
# each time; the answer's certificates (leaf first) are the next client
# certificate and its chain.
est_renewer() {
	k=0 cur=0
	while running && [ $k -lt $MAXREQ ]; do
		k=$((k + 1))
		est_csr "$k"
		s=$EPOCHREALTIME
		c=$(curl -sS --max-time 10 --cacert "$ROOT" --cert "$T/est/$cur.pem" \
		    --key "$T/est/$cur.key" -H Content-Type:application/pkcs10 \
		    --data-binary @"$T/est/$k.b64" -o "$T/est/$k.p7" -w '%{http_code}' \
		    "$SBASE/.well-known/est/simplereenroll" 2>>"$T/refusals")
		if [ "$c" = 200 ] && est_certs "$k"; then
			cp "$T/est/$k.crt" "$T/got/e.$k.pem"
			cp "$T/est/$k.pem" "$T/got/e.$k.chain"
			rec "$s" est ok "$T/got/e.$k.pem"
			cur=$k
		else
			echo "est $k: HTTP $c $(head -c 300 "$T/est/$k.p7" 2>/dev/null)" >>"$T/refusals"
			rec "$s" est refused
		fi
	done
}
# enroller W: new devices through POST /api/v1/enroll, one token each,
# paced so that the tokens last the run.
enroller() {
	k=0
	while running && [ $k -lt $PER_ENROLLER ]; do
		k=$((k + 1))
		body=$(printf '{"token":"%s","csr":%s}' "$(cat "$T/tok/$1.$k")" "$(cat "$T/w$1.csrjson")")
		s=$EPOCHREALTIME
		c=$(curl -sS --max-time 10 --cacert "$ROOT" -o "$T/got/.n$1.$k" \
		    -w '%{http_code}' -H 'Content-Type: application/json' \
		    -d "$body" "$SBASE/api/v1/enroll" 2>>"$T/refusals")
		if [ "$c" = 200 ] && jq -r .certificate "$T/got/.n$1.$k" >"$T/got/n$1.$k.pem" 2>/dev/null &&
		    grep -q 'BEGIN CERTIFICATE' "$T/got/n$1.$k.pem"; then
			jq -r '.chain[]' "$T/got/.n$1.$k" >"$T/got/n$1.$k.chain" 2>/dev/null
			rec "$s" enroll ok "$T/got/n$1.$k.pem"
		else
			echo "enroll $1.$k: HTTP $c $(head -c 300 "$T/got/.n$1.$k" 2>/dev/null)" >>"$T/refusals"
			rec "$s" enroll refused
		fi
		rm -f "$T/got/.n$1.$k"
		sleep 0.05
	done
}

: >"$T/refusals"
: >"$T/running"
pids=""
d=1
while [ $d -le $DEVICES ]; do renewer $d & pids="$pids $!"; d=$((d + 1)); done
est_renewer & pids="$pids $!"
w=1
while [ $w -le $ENROLLERS ]; do enroller $w & pids="$pids $!"; w=$((w + 1)); done
stop_load() {
	rm -f "$T/running"
	# shellcheck disable=SC2086
	wait $pids
	pids=""
}
sleep "$PRE"
nlisten=$(grep -c "listening on" "$SERVER_LOG")
R0=$EPOCHREALTIME
admin issuer rollover issuing >"$T/roll.out" 2>"$T/roll.err"
rc=$?
R1=$EPOCHREALTIME
cat "$T/roll.out" "$T/roll.err" >>"$LOG"
if [ $rc -ne 0 ]; then
	stop_load
	bail "ca-admin issuer rollover issuing under load (exit $rc: $(head -n 1 "$T/roll.err"))"
fi
ok "ca-admin issuer rollover issuing under load"
grep -qw "issuing-2" "$T/roll.out" && ok "... and prints the new CA's name" ||
    not_ok "... and prints the new CA's name (issuing-2)"
sleep "$POST"
stop_load
took=$(awk -v a="$R0" -v b="$R1" 'BEGIN { printf "%.2f", b - a }')
NEW="$CA/issuing-2.crt"
OLD="$CA/issuing.crt"
check "certs/issuing-2.crt is the new CA, signed by the root" \
    openssl verify -CAfile "$ROOT" "$NEW"
[ "$(openssl x509 -in "$NEW" -noout -pubkey)" != "$(openssl x509 -in "$OLD" -noout -pubkey)" ] &&
    ok "issuing-2 has a new key" || not_ok "issuing-2 has a new key"
kill -0 "$SERVER_PID" 2>/dev/null && [ "$(grep -c "listening on" "$SERVER_LOG")" = "$nlisten" ] &&
    ok "ca-server took the rollover without a restart" ||
    not_ok "ca-server took the rollover without a restart"

# ---- what the load saw --------------------------------------------------------
# Who signed each certificate received: openssl verify with each
# generation as the only anchor (-partial_chain), all files at once.
awk '$4 == "ok" { print $5 }' "$REQ" >"$T/files"
: >"$T/by"
if [ -s "$T/files" ]; then
	for g in issuing issuing-2; do
		# shellcheck disable=SC2046
		openssl verify -partial_chain -CAfile "$CA/$g.crt" $(cat "$T/files") 2>/dev/null |
		    sed -n "s|^\(.*\): OK\$|\1 $g|p" >>"$T/by"
	done
fi
# Each request: START END KIND RESULT FILE SIGNER (- if none).
awk 'NR == FNR { by[$1] = $2; next } { print $0, ($5 in by ? by[$5] : "-") }' \
    "$T/by" "$REQ" | sort -n >"$T/classified"
cat "$T/refusals" >>"$LOG"
acked=$(awk '$4 == "ok"' "$T/classified" | wc -l)
refused=$(awk '$4 != "ok"' "$T/classified" | wc -l)
# The switch: answers that ended before the command started, and
# requests that started GRACE seconds after it ended.
sw=$(awk -v r="$R1" -v g="$GRACE" 'BEGIN { printf "%.6f", r + g }')
before_old=$(awk -v t="$R0" '$4 == "ok" && $2 < t && $6 == "issuing"' "$T/classified" | wc -l)
before_other=$(awk -v t="$R0" '$4 == "ok" && $2 < t && $6 != "issuing"' "$T/classified" | wc -l)
after_new=$(awk -v t="$sw" '$4 == "ok" && $1 > t && $6 == "issuing-2"' "$T/classified" | wc -l)
after_old=$(awk -v t="$sw" '$4 == "ok" && $1 > t && $6 != "issuing-2"' "$T/classified" | wc -l)
unsigned=$(awk '$4 == "ok" && $6 == "-"' "$T/classified" | wc -l)
# How long after the command the first issuing-2 answer came.
lag=$(awk -v r="$R1" '$6 == "issuing-2" { d = $2 - r; if (!s || d < m) m = d; s = 1 }
    END { if (s) printf "%.2f", m; else print "none" }' "$T/classified")
nkind() { awk -v k="$1" '$3 == k && $4 == "ok"' "$T/classified" | wc -l; }
n_renew=$(nkind renew) n_est=$(nkind est) n_enroll=$(nkind enroll)
summary="rollover: took ${took}s; requests during load: $acked acknowledged, $refused refused; issued after switch by issuing-2: $after_new; by issuing: $after_old (before it by issuing: $before_old; first issuing-2 answer ${lag}s after the command; renew $n_renew, EST $n_est, enroll $n_enroll acknowledged)"
echo "$summary" >>"$LOG"
echo "# $summary"

eq "no request of the load was refused" "$refused" 0
[ "$n_renew" -gt 0 ] && [ "$n_est" -gt 0 ] && [ "$n_enroll" -gt 0 ] &&
    ok "every kind of request was acknowledged (renew $n_renew, EST $n_est, enroll $n_enroll)" ||
    not_ok "every kind of request was acknowledged (renew $n_renew, EST $n_est, enroll $n_enroll)"
eq "every certificate received is signed by one of the two generations" "$unsigned" 0
[ "$before_old" -gt 0 ] && ok "answers before the rollover: issuing ($before_old)" ||
    not_ok "answers before the rollover: issuing"
eq "... and no other" "$before_other" 0
[ "$after_new" -gt 0 ] && ok "requests after the switch: issuing-2 ($after_new)" ||
    not_ok "requests after the switch: issuing-2"
eq "... and no other" "$after_old" 0
for kind in renew est enroll; do
	nk=$(awk -v t="$sw" -v k=$kind '$3 == k && $4 == "ok" && $1 > t && $6 == "issuing-2"' \
	    "$T/classified" | wc -l)
	[ "$nk" -gt 0 ] && ok "$kind after the switch got issuing-2 certificates ($nk)" ||
	    not_ok "$kind after the switch got issuing-2 certificates"
done

# The chain of each answer is the chain of its signer: issuing-2's for
# the answers after the switch, issuing's for those before.
: >"$T/badchain"; : >"$T/chains"
while read -r _ _ kind res f by; do
	[ "$res" = ok ] && [ "$by" != - ] || continue
	ch=${f%.pem}.chain
	echo "$by $kind" >>"$T/chains"
	if ! holds "$ch" "$CA/$by.crt" ||
	    ! openssl verify -CAfile "$ROOT" -untrusted "$ch" "$f" >/dev/null 2>&1; then
		echo "$by $kind" >>"$T/badchain"
		echo "chain of $f ($kind, by $by) lacks $by.crt or does not verify" >>"$LOG"
	elif [ "$by" = issuing-2 ] && holds "$ch" "$OLD"; then
		echo "$by $kind" >>"$T/badchain"
		echo "chain of $f ($kind, by issuing-2) still holds issuing.crt" >>"$LOG"
	fi
done <"$T/classified"
# bad SIGNER: "N of M (renew a, est b, enroll c)" for the answers SIGNER
# signed whose chain was wrong.
bad() {
	awk -v g="$1" 'NR == FNR { if ($1 == g) all++; next }
	    $1 == g { n++; k[$2]++ }
	    END { printf "%d of %d (renew %d, est %d, enroll %d)", n, all, k["renew"], k["est"], k["enroll"] }' \
	    "$T/chains" "$T/badchain"
}
for g in issuing issuing-2; do
	b=$(bad $g)
	eq "answers signed by $g carried $g's chain, verifying to the root: wrong in $b" "${b%% *}" 0
done
d=1
while [ $d -le $DEVICES ]; do
	dir="$T/dev/$d"
	holds "$dir/chain.pem" "$NEW" && ! holds "$dir/chain.pem" "$OLD" &&
	    ok "ca-enroll device $d installed issuing-2's chain" ||
	    not_ok "ca-enroll device $d installed issuing-2's chain"
	check "... and its certificate verifies with the root alone" \
	    openssl verify -CAfile "$ROOT" -untrusted "$dir/chain.pem" "$dir/cert.pem"
	d=$((d + 1))
done

# ---- the two generations side by side -------------------------------------------
admin issuer list >"$T/issuers" 2>>"$LOG"
cat "$T/issuers" >>"$LOG"
awk '$1 == "issuing"' "$T/issuers" | grep -qw retiring &&
    ok "ca-admin issuer list: issuing is retiring" || not_ok "ca-admin issuer list: issuing is retiring"
awk '$1 == "issuing-2"' "$T/issuers" | grep -qw active &&
    ok "ca-admin issuer list: issuing-2 is active" || not_ok "ca-admin issuer list: issuing-2 is active"
curl -sS --max-time 10 -o "$T/i2.der" "$BASE/ca/issuing-2.crt" 2>>"$LOG"
eq "GET /ca/issuing-2.crt is issuing-2's certificate" \
    "$(openssl x509 -inform DER -in "$T/i2.der" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)" "$(fp "$NEW")"
curl -sS --max-time 10 -o "$T/i1.der" "$BASE/ca/issuing.crt" 2>>"$LOG"
eq "GET /ca/issuing.crt is still issuing's" \
    "$(openssl x509 -inform DER -in "$T/i1.der" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)" "$(fp "$OLD")"

# carol and dave: leaves of the second generation (dave to be revoked).
for who in carol:44 dave:45; do
	csr "${who%:*}"
	admin issue --profile client --csr "$T/${who%:*}.csr" \
	    --identity "{\"platform\":\"linux\",\"userId\":${who#*:}}" \
	    --out "$T/${who%:*}.crt" >>"$LOG" 2>&1
	check "ca-admin issue after the rollover: ${who%:*} is signed by issuing-2" \
	    openssl verify -partial_chain -CAfile "$NEW" "$T/${who%:*}.crt"
done
cat "$T/alice.crt" "$OLD" >"$T/alice-chain.crt"
cat "$T/bob.crt" "$OLD" >"$T/bob-chain.crt"
cat "$T/carol.crt" "$NEW" >"$T/carol-chain.crt"
cat "$T/dave.crt" "$NEW" >"$T/dave-chain.crt"

# ocsp CERT ISSUER: what the responder says of CERT (good/revoked/...).
ocsp() {
	openssl ocsp -issuer "$2" -cert "$1" -url "$BASE/ocsp" -CAfile "$ROOT" \
	    -verify_other "$2" -no_nonce -timeout 10 >"$T/ocsp.out" 2>&1
	cat "$T/ocsp.out" >>"$LOG"
	grep -q "Response verify OK" "$T/ocsp.out" &&
	    sed -n "s|^$1: \([a-z]*\).*|\1|p" "$T/ocsp.out"
}
eq "OCSP for issuing answers: alice is good" "$(ocsp "$T/alice.crt" "$OLD")" good
eq "OCSP for issuing-2 answers: carol is good" "$(ocsp "$T/carol.crt" "$NEW")" good

# ---- the gateway: nginx trusts the root alone ---------------------------------
# gateway MODE: nginx with the published CRL bundle (crl) or OCSP for
# every link of the chain (ocsp).
gateway() {
	stop_nginx
	if [ "$1" = crl ]; then rev="ssl_crl $T/ca/publish/crl-bundle.pem;"; else rev="ssl_ocsp on;"; fi
	start_nginx "
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate $T/gw-chain.crt;
    ssl_certificate_key $T/gw.key;
    ssl_client_certificate $ROOT;
    ssl_verify_client on;
    ssl_verify_depth 2;
    $rev
    location / { return 200 \"through: \$ssl_client_verify\n\"; }
  }"
}
# through CHAIN KEY: whether nginx lets the client with CHAIN through.
through() {
	curl -sS --max-time 10 --cacert "$ROOT" --cert "$1" --key "$2" \
	    "https://127.0.0.1:$NGINX_PORT/" >"$T/gw.out" 2>>"$LOG"
	cat "$T/gw.out" >>"$LOG"
	grep -q "through: SUCCESS" "$T/gw.out"
}
# gate MODE WHO YES|NO KEY CHAIN DESC: YES, nginx lets the client through;
# NO, it refuses it because the certificate is revoked (what nginx logs
# for it says so), not for any other reason.
gate() {
	lines=$(wc -l <"$T/nginx/logs/error.log")
	if through "$5" "$4"; then got=YES
	elif tail -n +$((lines + 1)) "$T/nginx/logs/error.log" | grep -q "certificate revoked"; then
		got=NO
	else got="refused for another reason"; fi
	if [ "$got" = "$3" ]; then ok "nginx ($1): $6"; else
		echo "nginx ($1) $2: $got" >>"$LOG"
		not_ok "nginx ($1): $6"
		tail -n 3 "$T/nginx/logs/error.log" | sed 's/^/# /'
	fi
}
D1="$T/dev/1"
check "ca-admin crl publish after the rollover" admin crl publish
check "ca-admin root crl after the rollover (the root's responses about both)" admin root crl
eq "the published CRL bundle holds the root's, issuing's and issuing-2's CRLs" \
    "$(grep -c 'BEGIN X509 CRL' "$T/ca/publish/crl-bundle.pem")" 3
for mode in crl ocsp; do
	if ! gateway $mode; then not_ok "nginx ($mode) starts"; continue; fi
	gate $mode alice YES "$T/alice.key" "$T/alice-chain.crt" "accepts an old leaf (issuing in its chain)"
	gate $mode carol YES "$T/carol.key" "$T/carol-chain.crt" "accepts a new leaf (issuing-2 in its chain)"
	gate $mode dev1 YES "$D1/key.pem" "$D1/chain.pem" "accepts a device with the chain ca-enroll installed"
	gate $mode bob YES "$T/bob.key" "$T/bob-chain.crt" "accepts bob (old) before his revocation"
	gate $mode dave YES "$T/dave.key" "$T/dave-chain.crt" "accepts dave (new) before his revocation"
done
stop_nginx

# ---- revocation in both generations -----------------------------------------------
check "ca-admin revokes bob (issuing)" admin revoke --serial "$(serial_of "$T/bob.crt")" --reason keyCompromise
check "ca-admin revokes dave (issuing-2)" admin revoke --serial "$(serial_of "$T/dave.crt")" --reason keyCompromise
# One certificate of each generation from the load, through the admin
# API, whose client certificate the old generation signed.
api_old=$(awk '$4 == "ok" && $6 == "issuing" && $3 == "enroll" { print $5; exit }' "$T/classified")
api_new=$(awk '$4 == "ok" && $6 == "issuing-2" && $3 == "enroll" { print $5; exit }' "$T/classified")
for f in "$api_old" "$api_new"; do
	[ -n "$f" ] || { not_ok "a load certificate to revoke through the admin API"; continue; }
	c=$(curl -sS --max-time 10 --cacert "$ROOT" --cert "$T/adm.crt" --key "$T/adm.key" \
	    -o "$T/rev.out" -w '%{http_code}' -H 'Content-Type: application/json' \
	    -d '{"reason":"keyCompromise"}' \
	    "$SBASE/api/v1/certificates/$(serial_of "$f")/revoke" 2>>"$LOG")
	cat "$T/rev.out" >>"$LOG"
	eq "the admin API revokes $(basename "$f") ($(grep -F "$f" "$T/classified" | awk '{ print $6 }'))" "$c" 200
done
eq "OCSP (issuing): bob is revoked at once" "$(ocsp "$T/bob.crt" "$OLD")" revoked
eq "OCSP (issuing-2): dave is revoked at once" "$(ocsp "$T/dave.crt" "$NEW")" revoked
[ -n "$api_old" ] && eq "OCSP (issuing): the admin API's revocation" "$(ocsp "$api_old" "$OLD")" revoked
[ -n "$api_new" ] && eq "OCSP (issuing-2): the admin API's revocation" "$(ocsp "$api_new" "$NEW")" revoked
eq "OCSP (issuing): alice is still good" "$(ocsp "$T/alice.crt" "$OLD")" good
eq "OCSP (issuing-2): carol is still good" "$(ocsp "$T/carol.crt" "$NEW")" good

check "ca-admin crl publish" admin crl publish
check "ca-admin root crl" admin root crl
# crl_has NAME CERT: the CRL served as /crl/NAME.crl verifies with NAME's
# certificate and lists CERT's serial.
crl_has() {
	c=$(curl -sS --max-time 10 -o "$T/$1.crl" -w '%{http_code}' "$BASE/crl/$1.crl" 2>>"$LOG")
	echo "GET /crl/$1.crl: HTTP $c" >>"$LOG"
	openssl crl -inform DER -in "$T/$1.crl" -CAfile "$CA/$1.crt" -noout -text >"$T/$1.crl.txt" 2>&1
	grep -E "verify|Issuer:|error" "$T/$1.crl.txt" >>"$LOG"
	[ "$c" = 200 ] &&
	    grep -q "verify OK" "$T/$1.crl.txt" &&
	    grep -q "Serial Number: $(serial_of "$2")" "$T/$1.crl.txt"
}
check "GET /crl/issuing.crl: signed by issuing, lists bob" crl_has issuing "$T/bob.crt"
check "GET /crl/issuing-2.crl: signed by issuing-2, lists dave" crl_has issuing-2 "$T/dave.crt"
for mode in crl ocsp; do
	if ! gateway $mode; then not_ok "nginx ($mode) starts again"; continue; fi
	gate $mode bob NO "$T/bob.key" "$T/bob-chain.crt" "refuses revoked bob (issuing)"
	gate $mode dave NO "$T/dave.key" "$T/dave-chain.crt" "refuses revoked dave (issuing-2)"
	# curl presents what --cert holds: the leaf, then the API's chain.
	[ -n "$api_new" ] && cat "$api_new" "${api_new%.pem}.chain" >"$T/api-new.crt" &&
	    gate $mode api NO "$T/w$(basename "$api_new" | sed 's/^n\([0-9]*\)\..*/\1/').key" \
	    "$T/api-new.crt" "refuses a load certificate the admin API revoked (issuing-2)"
	gate $mode alice YES "$T/alice.key" "$T/alice-chain.crt" "still accepts alice (issuing)"
	gate $mode carol YES "$T/carol.key" "$T/carol-chain.crt" "still accepts carol (issuing-2)"
	gate $mode dev1 YES "$D1/key.pem" "$D1/chain.pem" "still accepts the renewed device"
done
stop_nginx

# ---- a rollover at a chosen time ------------------------------------------------
# enroll_one USERID OUT: a new device through the JSON API; its
# certificate in OUT.
enroll_one() {
	body=$(printf '{"token":"%s","csr":%s}' "$(token client "$1")" "$(cat "$T/w1.csrjson")")
	curl -sS --max-time 10 --cacert "$ROOT" -H 'Content-Type: application/json' \
	    -d "$body" "$SBASE/api/v1/enroll" 2>>"$LOG" | jq -r .certificate >"$2" 2>>"$LOG"
}
at=$(($(date +%s) + 6))	# room for the command on a slow (ASan) build
AT=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)
admin issuer rollover issuing --at "$AT" >"$T/roll3.out" 2>>"$LOG"
eq "ca-admin issuer rollover issuing --at $AT makes issuing-3" "$(tail -n 1 "$T/roll3.out")" issuing-3
admin issuer list >"$T/issuers3" 2>>"$LOG"
cat "$T/issuers3" >>"$LOG"
awk '$1 == "issuing-3"' "$T/issuers3" | grep -qw next &&
    ok "... which is next until then" || not_ok "... which is next until then"
enroll_one 3001 "$T/before3.crt"
check "... and issuing-2 issues until then" openssl verify -partial_chain -CAfile "$NEW" "$T/before3.crt"
# The time, and the second the server may take to see it.
while [ "$(date +%s)" -le $((at + 1)) ] && [ $SECONDS -lt $DEADLINE ]; do sleep 0.2; done
enroll_one 3002 "$T/after3.crt"
check "at that time issuing-3 takes over" openssl verify -partial_chain -CAfile "$CA/issuing-3.crt" "$T/after3.crt"
admin issuer list >"$T/issuers4" 2>>"$LOG"
cat "$T/issuers4" >>"$LOG"
awk '$1 == "issuing-3"' "$T/issuers4" | grep -qw active &&
    awk '$1 == "issuing-2"' "$T/issuers4" | grep -qw retiring &&
    ok "ca-admin issuer list: issuing-3 active, issuing-2 retiring" ||
    not_ok "ca-admin issuer list: issuing-3 active, issuing-2 retiring"

check "the audit chain verifies" admin audit verify
admin audit list >"$T/audit" 2>>"$LOG"
grep -qi "rollover" "$T/audit" && ok "the rollover is audited" || not_ok "the rollover is audited"
echo "# $summary"
stop_server
done_testing
