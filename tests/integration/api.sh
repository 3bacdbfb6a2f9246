#!/bin/sh
# The JSON API over HTTPS with curl (jq reads the answers): enroll with a
# one-time token gives the token's identity and a chain that verifies;
# reissue with the client certificate only inside the profile's window,
# never for a superseded or revoked certificate; used, expired, revoked
# and unknown tokens and malformed bodies are refused with the documented
# codes and change nothing; the admin API answers only an admin
# certificate and audits what it does under the admin's identity; 50
# parallel uses of one token give exactly one certificate; failed tokens
# are rate-limited per address.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

instance
ID='{"userId":42,"platform":"linux"}'
CANON='{"platform":"linux","userId":42}'

# Profiles for the reissue window: "fast" may reissue at once (a share
# of 100%), "short" too (a duration longer than its lifetime); "client"
# keeps its 7-day window, which a new 30-day certificate is outside of.
cat >>"$T/ca/ca.conf" <<'CONF'

[profile fast]
reissue_threshold = 100%

[profile short]
days = 1
reissue_threshold = 2d
CONF

# The shortest ttl is 1s; made now, it has run out by the time it is
# used (the test waits for that below, bounded, instead of sleeping).
admin token create --profile client --identity '{"userId":3}' --ttl 1s \
    >"$T/tokexp.out" 2>>"$LOG"
must "ca-server starts with HTTPS" start_server_https

# api PATH [curl options...]: the HTTPS status; body in $T/body, response
# headers in $T/hdr.
api() {
	p=$1; shift
	rm -f "$T/body" "$T/hdr"
	curl -sS --max-time 20 --cacert "$ROOT" -D "$T/hdr" -o "$T/body" \
	    -w '%{http_code}' "$@" "$SBASE$p" 2>>"$LOG"
}
# post PATH FILE [curl options...]: POST the JSON in FILE.
post() {
	p=$1 f=$2; shift 2
	api "$p" -H 'Content-Type: application/json' --data-binary @"$f" "$@"
}
hdr() { sed -n "s/^$1: *//Ip" "$T/hdr" | tr -d '\r' | tail -n 1; }
# jb [jq options] FILTER: FILTER applied to the body.
jb() { jq -r "$@" "$T/body" 2>>"$LOG"; }
# token NAME PROFILE IDENTITY: a token in $T/NAME.tok, its id in $T/NAME.id.
token() {
	admin token create --profile "$2" --identity "$3" --ttl 1h \
	    >"$T/$1.out" 2>>"$LOG"
	sed -n 's/^token: //p' "$T/$1.out" >"$T/$1.tok"
	sed -n 's/^id: //p' "$T/$1.out" >"$T/$1.id"
}
# enroll_body TOKEN CSRFILE: the JSON of /api/v1/enroll.
enroll_body() { jq -n --arg t "$1" --rawfile c "$2" '{token: $t, csr: $c}'; }
# reissue_body CSRFILE: the JSON of /api/v1/reissue.
reissue_body() { jq -n --rawfile c "$1" '{csr: $c}'; }
# save_cert NAME: the certificate of a 200 answer in $T/NAME.crt.
save_cert() { jb .certificate >"$T/$1.crt"; }
san() {
	openssl x509 -in "$1" -noout -ext subjectAltName 2>>"$LOG" | sed 1d |
	    sed 's/^ *//'
}
ncerts() { admin list --status all --json 2>>"$LOG" | jq length; }
ADM_ID='{"role":"admin","userId":7}'
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity "$ADM_ID" \
    --out "$T/adm.crt" >>"$LOG" 2>&1
ADM="--cert $T/adm.crt --key $T/adm.key"

# ---- enroll -------------------------------------------------------------------
token dev client "$ID"
csr dev -subj /CN=admin -addext 'subjectAltName=URI:spiffe://evil/x,DNS:evil.example'
enroll_body "$(cat "$T/dev.tok")" "$T/dev.csr" >"$T/dev.json"
eq "enroll with a token is 200" "$(post /api/v1/enroll "$T/dev.json")" 200
eq "... application/json" "$(hdr Content-Type)" application/json
eq "... no-store" "$(hdr Cache-Control)" no-store
eq "... with certificate, chain, serial, not_after" "$(jb 'keys | join(",")')" \
    certificate,chain,not_after,serial
save_cert dev
S_DEV=$(jb .serial)
NA_DEV=$(jb .not_after)
eq "the certificate's serial is \"serial\"" "$(serial_of "$T/dev.crt")" "$S_DEV"
eq "its notAfter is \"not_after\"" "$(openssl x509 -in "$T/dev.crt" -noout \
    -dateopt iso_8601 -enddate | sed 's/^notAfter=//; s/ /T/')" "$NA_DEV"
eq "its only SAN is the token's canonical identity" "$(san "$T/dev.crt")" "URI:$CANON"
eq "the chain is the issuing CA and the root" \
    "$(jb '.chain[0]') $(jb '.chain[1]') $(jb '.chain | length')" \
    "$(cat "$CA/issuing.crt") $(cat "$ROOT") 2"
jb '.chain[0]' >"$T/chain0.pem"
openssl verify -CAfile "$ROOT" -untrusted "$T/chain0.pem" "$T/dev.crt" \
    >"$T/verify.out" 2>&1
has "the certificate verifies with the chain" "$T/verify.out" "$T/dev.crt: OK"
eq "the token is used" "$(token_state "$(cat "$T/dev.id")")" used

# ---- refused tokens ---------------------------------------------------------------
# Each counts against the address (10 a minute): 4 here, well under.
n0=$(ncerts)
eq "the token again is 403" "$(post /api/v1/enroll "$T/dev.json")" 403
eq "... token_used" "$(jb .error)" token_used
enroll_body nosuchtoken "$T/dev.csr" >"$T/unknown.json"
eq "an unknown token is 403" "$(post /api/v1/enroll "$T/unknown.json")" 403
eq "... token_invalid" "$(jb .error)" token_invalid
TEXP=$(sed -n 's/^token: //p' "$T/tokexp.out")
IDEXP=$(sed -n 's/^id: //p' "$T/tokexp.out")
i=0
while [ $i -lt 50 ] && [ "$(token_state "$IDEXP")" != expired ]; do
	sleep 0.1; i=$((i + 1))
done
eq "a token past its ttl is listed as expired" "$(token_state "$IDEXP")" expired
enroll_body "$TEXP" "$T/dev.csr" >"$T/exp.json"
eq "an expired token is 403" "$(post /api/v1/enroll "$T/exp.json")" 403
eq "... token_expired" "$(jb .error)" token_expired
token rev client '{"userId":4}'
check "revoke a token" admin token revoke --id "$(cat "$T/rev.id")"
enroll_body "$(cat "$T/rev.tok")" "$T/dev.csr" >"$T/rev.json"
eq "a revoked token is 403" "$(post /api/v1/enroll "$T/rev.json")" 403
eq "... token_used (used or revoked)" "$(jb .error)" token_used
eq "no refused token issued anything" "$(ncerts)" "$n0"

# ---- malformed requests -------------------------------------------------------------
token bad client '{"userId":5}'
BADTOK=$(cat "$T/bad.tok")
# bad NAME STATUS CODE JSON: that body is refused with STATUS and CODE.
bad() {
	printf '%s' "$4" >"$T/bad.json"
	eq "$1 is $2" "$(post /api/v1/enroll "$T/bad.json")" "$2"
	eq "... $3" "$(jb .error)" "$3"
}
bad "a body that is not JSON" 400 bad_request '{"token":'
bad "a JSON array" 400 bad_request '["token","csr"]'
bad "a missing csr" 400 bad_request "{\"token\":\"$BADTOK\"}"
bad "an unknown field" 400 bad_request \
    "$(enroll_body "$BADTOK" "$T/dev.csr" | jq -c '. + {identity: "x"}')"
bad "a token of the wrong type" 400 bad_request '{"token":5,"csr":"x"}'
bad "a duplicate key" 400 bad_request \
    "{\"token\":\"$BADTOK\",\"token\":\"$BADTOK\",\"csr\":\"x\"}"
bad "a csr that is not PEM" 400 bad_csr "{\"token\":\"$BADTOK\",\"csr\":\"hello\"}"
bad "a PEM csr of base64 garbage" 400 bad_csr \
    "$(printf -- '-----BEGIN CERTIFICATE REQUEST-----\n*not base64*\n-----END CERTIFICATE REQUEST-----\n' |
    jq -Rs --arg t "$BADTOK" '{token: $t, csr: .}')"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -out "$T/weak.csr" \
    -subj /CN=weak >>"$LOG" 2>&1
bad "a CSR with a 1024-bit RSA key" 400 key_policy \
    "$(enroll_body "$BADTOK" "$T/weak.csr")"
# A body over 64 KiB that is otherwise well-formed JSON.
{ printf '{"token":"%s","csr":"' "$BADTOK"; head -c 70000 /dev/zero | tr '\0' A; printf '"}'; } \
    >"$T/big.json"
# The 413 comes from the headers; curl waits for it rather than send a
# body the server will not read (which may reset the connection first).
eq "a body over the limit is 413" "$(post /api/v1/enroll "$T/big.json" \
    -H 'Expect: 100-continue' --expect100-timeout 10)" 413
eq "... too_large" "$(jb .error)" too_large
eq "GET /api/v1/enroll is refused (405)" "$(api /api/v1/enroll)" 405
eq "... Allow: POST" "$(hdr Allow)" POST
eq "... method_not_allowed" "$(jb .error)" method_not_allowed
eq "the malformed requests issued nothing" "$(ncerts)" "$n0"
eq "... and left the token unused" "$(token_state "$(cat "$T/bad.id")")" unused
enroll_body "$BADTOK" "$T/dev.csr" >"$T/good.json"
eq "... which then enrolls" "$(post /api/v1/enroll "$T/good.json")" 200

# ---- reissue ------------------------------------------------------------------------
token fast fast "$ID"
csr fast
enroll_body "$(cat "$T/fast.tok")" "$T/fast.csr" >"$T/fast.json"
eq "enroll under the fast profile" "$(post /api/v1/enroll "$T/fast.json")" 200
save_cert fast
S_FAST=$(jb .serial)
csr fast2 -subj /CN=root -addext 'subjectAltName=DNS:evil.example'
reissue_body "$T/fast2.csr" >"$T/fast2.json"
eq "reissue without a client certificate is 401" \
    "$(post /api/v1/reissue "$T/fast2.json")" 401
eq "... unauthorized" "$(jb .error)" unauthorized
eq "reissue inside the window (100%) is 200" "$(post /api/v1/reissue "$T/fast2.json" \
    --cert "$T/fast.crt" --key "$T/fast.key")" 200
save_cert fast2
S_FAST2=$(jb .serial)
[ -n "$S_FAST2" ] && [ "$S_FAST2" != "$S_FAST" ] && ok "... with a new serial" ||
    not_ok "... with a new serial"
eq "... the same identity" "$(san "$T/fast2.crt")" "URI:$CANON"
eq "... for the new key" "$(openssl x509 -in "$T/fast2.crt" -noout -pubkey)" \
    "$(openssl req -in "$T/fast2.csr" -noout -pubkey)"
eq "the old certificate is superseded by the new" \
    "$(admin show --serial "$S_FAST" --json 2>>"$LOG" | jq -r .superseded_by)" "$S_FAST2"
n2=$(ncerts)
eq "the superseded certificate asking again for the same key gets 200" \
    "$(post /api/v1/reissue "$T/fast2.json" --cert "$T/fast.crt" --key "$T/fast.key")" 200
eq "... the same successor" "$(jb .serial)" "$S_FAST2"
eq "... and nothing is issued" "$(ncerts)" "$n2"
csr fast2b
reissue_body "$T/fast2b.csr" >"$T/fast2b.json"
eq "the superseded certificate cannot reissue for another key: 403" \
    "$(post /api/v1/reissue "$T/fast2b.json" --cert "$T/fast.crt" --key "$T/fast.key")" 403
eq "... forbidden" "$(jb .error)" forbidden
eq "GET /api/v1/reissue of the superseded certificate is 200" \
    "$(api /api/v1/reissue --cert "$T/fast.crt" --key "$T/fast.key")" 200
eq "... status superseded" "$(jb .status)" superseded
eq "... by the successor" "$(jb .superseded_by)" "$S_FAST2"
eq "... serial" "$(jb .serial)" "$S_FAST"
eq "GET /api/v1/reissue without a client certificate is 401" \
    "$(api /api/v1/reissue)" 401

token short short "$ID"
csr short
enroll_body "$(cat "$T/short.tok")" "$T/short.csr" >"$T/short.json"
post /api/v1/enroll "$T/short.json" >/dev/null
save_cert short
reissue_body "$T/short.csr" >"$T/short2.json"
eq "reissue inside a duration window (2d of a 1-day certificate) is 200" \
    "$(post /api/v1/reissue "$T/short2.json" --cert "$T/short.crt" --key "$T/short.key")" 200

n1=$(ncerts)
reissue_body "$T/dev.csr" >"$T/dev2.json"
eq "reissue outside the window (7d of 30) is 409" "$(post /api/v1/reissue "$T/dev2.json" \
    --cert "$T/dev.crt" --key "$T/dev.key")" 409
eq "... reissue_too_early" "$(jb .error)" reissue_too_early
want=$(( $(date -u -d "$NA_DEV" +%s) - 7 * 86400 ))
eq "... allowed_after is not_after minus 7 days" "$(jb .allowed_after)" \
    "$(date -u -d "@$want" +%Y-%m-%dT%H:%M:%SZ)"
eq "GET /api/v1/reissue says the same before any CSR is sent" \
    "$(api /api/v1/reissue --cert "$T/dev.crt" --key "$T/dev.key")" 200
eq "... status valid" "$(jb .status)" valid
eq "... allowed_after" "$(jb .allowed_after)" "$(date -u -d "@$want" +%Y-%m-%dT%H:%M:%SZ)"
eq "... not_after" "$(jb .not_after)" "$NA_DEV"
check "revoke the reissued certificate" admin revoke --serial "$S_FAST2"
reissue_body "$T/fast2.csr" >"$T/fast3.json"
eq "reissue with a revoked certificate is 403, inside the window" \
    "$(post /api/v1/reissue "$T/fast3.json" --cert "$T/fast2.crt" --key "$T/fast2.key")" 403
eq "... revoked" "$(jb .error)" revoked
eq "GET /api/v1/reissue of the revoked certificate is 200" \
    "$(api /api/v1/reissue --cert "$T/fast2.crt" --key "$T/fast2.key")" 200
eq "... status revoked" "$(jb .status)" revoked
eq "the refused reissues issued nothing" "$(ncerts)" "$n1"

# ---- admin API ----------------------------------------------------------------------
token del client '{"userId":6}'
nt=$(admin token list --json 2>>"$LOG" | jq length)
# The server's own work (CRLs after a revocation) may be audited in the
# meantime: count what a request could have caused, not the server's.
na=$(admin audit list --json 2>>"$LOG" | jq '[.[] | select(.actor != "ca-server")] | length')
for ep in "GET /api/v1/tokens" "POST /api/v1/tokens" "GET /api/v1/certificates" \
    "GET /api/v1/certificates?status=revoked" "GET /api/v1/certificates/$S_DEV" \
    "POST /api/v1/certificates/$S_DEV/revoke" "POST /api/v1/crl/publish" \
    "DELETE /api/v1/tokens/$(cat "$T/del.id")"; do
	m=${ep%% *} p=${ep#* }
	data='{"profile":"client","identity":"{\"userId\":9}"}'
	[ "$m" = POST ] || data=
	c1=$(api "$p" -X "$m" ${data:+-H 'Content-Type: application/json' -d "$data"})
	e1=$(jb .error)
	c2=$(api "$p" -X "$m" ${data:+-H 'Content-Type: application/json' -d "$data"} \
	    --cert "$T/dev.crt" --key "$T/dev.key")
	e2=$(jb .error)
	eq "$ep: 403 forbidden without a certificate and with a client's" \
	    "$c1 $e1 $c2 $e2" "403 forbidden 403 forbidden"
done
eq "... which created no token" "$(admin token list --json 2>>"$LOG" | jq length)" "$nt"
eq "... revoked no token" "$(token_state "$(cat "$T/del.id")")" unused
eq "... revoked nothing" "$(admin show --serial "$S_DEV" --json 2>>"$LOG" | jq -r .status)" valid
eq "... and wrote nothing to the audit log" \
    "$(admin audit list --json 2>>"$LOG" | jq '[.[] | select(.actor != "ca-server")] | length')" "$na"

# shellcheck disable=SC2086
eq "an admin creates a token: 201" "$(api /api/v1/tokens $ADM -H 'Content-Type: application/json' \
    -d '{"profile":"client","identity":"{\"userId\":9}","ttl":"1h"}')" 201
ATOK=$(jb .token)
ATID=$(jb .id)
eq "... whose id is listed unused" "$(token_state "$ATID")" unused
# shellcheck disable=SC2086
eq "the admin lists tokens" "$(api /api/v1/tokens $ADM)" 200
eq "... the new one among them" "$(jb --arg id "$ATID" '.tokens[] | select(.id == $id) | .identity')" \
    '{"userId":9}'
csr adtok
enroll_body "$ATOK" "$T/adtok.csr" >"$T/adtok.json"
eq "the admin's token enrolls" "$(post /api/v1/enroll "$T/adtok.json")" 200
save_cert adtok
eq "... with its identity" "$(san "$T/adtok.crt")" 'URI:{"userId":9}'
# shellcheck disable=SC2086
eq "the admin revokes an unused token" "$(api "/api/v1/tokens/$(cat "$T/del.id")" -X DELETE $ADM)" 200
eq "... which is revoked" "$(token_state "$(cat "$T/del.id")")" revoked
# shellcheck disable=SC2086
eq "the admin reads a certificate" "$(api "/api/v1/certificates/$S_DEV" $ADM)" 200
eq "... with its PEM" "$(jb .certificate)" "$(cat "$T/dev.crt")"
# shellcheck disable=SC2086
eq "the admin revokes it" "$(api "/api/v1/certificates/$S_DEV/revoke" $ADM \
    -H 'Content-Type: application/json' -d '{"reason":"keyCompromise"}')" 200
eq "... which the store has revoked for keyCompromise" \
    "$(admin show --serial "$S_DEV" --json 2>>"$LOG" | jq -r '.status + " " + .reason')" \
    "revoked keyCompromise"
# shellcheck disable=SC2086
eq "revoking it again is 409" "$(api "/api/v1/certificates/$S_DEV/revoke" $ADM -X POST)" 409
# shellcheck disable=SC2086
eq "the admin lists the revoked certificates" \
    "$(api '/api/v1/certificates?status=revoked' $ADM)" 200
eq "... every one revoked" "$(jb '[.certificates[].status] | unique | join(",")')" revoked
eq "... the two revoked here" "$(jb '[.certificates[].serial] | sort | join(",")')" \
    "$(printf '%s\n%s\n' "$S_DEV" "$S_FAST2" | sort | paste -sd, -)"
# shellcheck disable=SC2086
eq "the admin lists the valid certificates" "$(api '/api/v1/certificates?status=valid' $ADM)" 200
eq "... none revoked" "$(jb '[.certificates[].status] | unique | join(",")')" valid
eq "... the enrolled one among them" \
    "$(jb --arg s "$S_FAST" '[.certificates[] | select(.serial == $s)] | length')" 1
# shellcheck disable=SC2086
eq "an unknown status is 400" "$(api '/api/v1/certificates?status=bogus' $ADM)" 400
# shellcheck disable=SC2086
eq "the admin publishes the CRLs" "$(api /api/v1/crl/publish -X POST $ADM)" 200
openssl crl -in "$T/ca/publish/issuing.crl" -inform DER -noout -text >"$T/crl.txt" 2>>"$LOG"
has "... and the published CRL lists the revoked certificate" "$T/crl.txt" \
    "Serial Number: $S_DEV"
admin audit list --json 2>>"$LOG" | jq -r --arg a "admin:$ADM_ID" \
    '.[] | select(.actor == $a) | .action' | sort -u | paste -sd, - >"$T/adm-actions"
eq "the audit log has the admin's actions under the admin's identity" \
    "$(cat "$T/adm-actions")" "crl-publish,revoke,token-create,token-revoke"
# An admin whose certificate is revoked is an admin no more.
csr adm2
admin issue --profile admin --csr "$T/adm2.csr" --identity '{"role":"admin","userId":8}' \
    --out "$T/adm2.crt" >>"$LOG" 2>&1
check "revoke the second admin's certificate" admin revoke \
    --serial "$(serial_of "$T/adm2.crt")"
eq "a revoked admin certificate is 403" \
    "$(api /api/v1/tokens --cert "$T/adm2.crt" --key "$T/adm2.key")" 403
lacks "... and lists no tokens" "$T/body" '"tokens"'

# ---- one token, 50 parallel uses ------------------------------------------------------
# The failed-token limit (10 a minute per address) would answer most of
# the 49 losers 429 before they reach the token: each request comes from
# its own loopback address (still to 127.0.0.1) so that all 50 race for
# it. Where the kernel will not bind 127.0.0.x, one address, and 429 is
# a documented refusal too.
multi=no
if curl -sS --max-time 5 --cacert "$ROOT" --interface 127.0.0.2 -o /dev/null \
    "$SBASE/healthz" 2>>"$LOG"; then
	multi=yes
fi
PAR_ID='{"userId":1000}'
token par client "$PAR_ID"
csr par
enroll_body "$(cat "$T/par.tok")" "$T/par.csr" >"$T/par.json"
mkdir "$T/par"
# All 50 wait at a FIFO and start together when the lines are written.
mkfifo "$T/par/go"
exec 4<>"$T/par/go"
pids=
i=1
while [ $i -le 50 ]; do
	src=
	[ "$multi" = yes ] && src="--interface 127.0.0.$((i + 10))"
	(
		read -r _ <"$T/par/go"
		# shellcheck disable=SC2086
		exec curl -sS --max-time 60 --cacert "$ROOT" $src \
		    -H 'Content-Type: application/json' --data-binary @"$T/par.json" \
		    -o "$T/par/$i.body" -w '%{http_code}' "$SBASE/api/v1/enroll" \
		    >"$T/par/$i.code" 2>>"$LOG"
	) 4>&- &
	pids="$pids $!"
	i=$((i + 1))
done
i=0
while [ $i -lt 50 ]; do echo go >&4; i=$((i + 1)); done
# shellcheck disable=SC2086
wait $pids
exec 4>&-
n200=0 nused=0 nlimited=0 nother=0
for f in "$T"/par/*.code; do
	b=${f%.code}.body
	case "$(cat "$f") $(jq -r '.error // empty' "$b" 2>/dev/null)" in
	"200 ") n200=$((n200 + 1)); cp "$b" "$T/par.win" ;;
	"403 token_used") nused=$((nused + 1)) ;;
	"429 rate_limited") nlimited=$((nlimited + 1)) ;;
	*) nother=$((nother + 1)); echo "$f: $(cat "$f") $(head -c 200 "$b")" >>"$LOG" ;;
	esac
done
eq "50 parallel uses of one token: exactly one 200" "$n200" 1
if [ "$multi" = yes ]; then
	eq "... and 49 403 token_used" "$nused $nlimited $nother" "49 0 0"
else
	eq "... and 49 token_used or rate_limited" "$((nused + nlimited)) $nother" "49 0"
fi
PAR_SERIAL=$(jq -r .serial "$T/par.win" 2>/dev/null)
eq "the store has one certificate for that identity" \
    "$(admin list --status all --json 2>>"$LOG" | jq -r --arg id "$PAR_ID" \
    '[.[] | select(.identity == $id) | .serial] | join(",")')" "$PAR_SERIAL"
admin token list --json 2>>"$LOG" | jq -r --arg id "$(cat "$T/par.id")" \
    '.[] | select(.id == $id) | .state + " " + .serial' >"$T/par.state"
eq "the token is used, for that certificate" "$(cat "$T/par.state")" "used $PAR_SERIAL"
eq "the audit log has one use of it" "$(admin audit list --json 2>>"$LOG" |
    jq --arg id "$(cat "$T/par.id")" '[.[] | select(.action == "token-use" and
    (.detail | fromjson | .token_id) == $id)] | length')" 1
check "audit verifies" admin audit verify

# ---- the failed-token limit ----------------------------------------------------------
if [ "$multi" = yes ]; then
	RL="--interface 127.0.0.200"
	codes=
	i=0
	while [ $i -lt 10 ]; do
		# shellcheck disable=SC2086
		codes="$codes $(post /api/v1/enroll "$T/unknown.json" $RL)"
		i=$((i + 1))
	done
	eq "10 unknown tokens from one address are 403" "$codes" \
	    " 403 403 403 403 403 403 403 403 403 403"
	# shellcheck disable=SC2086
	eq "the 11th is 429" "$(post /api/v1/enroll "$T/unknown.json" $RL)" 429
	eq "... rate_limited" "$(jb .error)" rate_limited
	ra=$(hdr Retry-After)
	[ "${ra:-0}" -ge 1 ] 2>/dev/null && [ "$ra" -le 60 ] &&
	    ok "... with Retry-After in 1..60 ($ra)" || not_ok "... with Retry-After in 1..60 ($ra)"
	token rl client '{"userId":11}'
	enroll_body "$(cat "$T/rl.tok")" "$T/dev.csr" >"$T/rl.json"
	# shellcheck disable=SC2086
	eq "... even a good token from that address" "$(post /api/v1/enroll "$T/rl.json" $RL)" 429
	eq "... which stays unused" "$(token_state "$(cat "$T/rl.id")")" unused
	eq "... and enrolls from another address" "$(post /api/v1/enroll "$T/rl.json")" 200
else
	skip "the failed-token limit per address" "cannot bind 127.0.0.x"
fi

stop_server
done_testing
