#!/bin/sh
# Several issuing CAs, end to end with real clients (openssl, curl, jq,
# promtool), as docs/operations.md "Several issuing CAs" sets them up: an
# instance made by init --config with an [issuer devices] section for the
# client profile, while services stay on "issuing". Client certificates
# from every door (ca-admin issue, EST with a token, the JSON API) are
# signed by the Devices CA and name its URLs, services' by the issuing
# CA; the chains, /ca/<name>.crt, /ca/bundle.pem, EST /cacerts and
# ca-admin publish carry it; show, list and the admin API name the
# issuer. Each issuer has its own CRL (openssl crl, verify -crl_check)
# and OCSP answers (openssl ocsp -issuer), a serial never good under
# another CA's CertID. A rollover (now, and --at a later time) moves new issuance to
# the next generation while ca-server runs, and a device renews with its
# old certificate and gets the new chain; the old generation still
# revokes (OCSP, its CRL); a second waiting rollover and
# bad names are refused and change nothing. An issuer shorter than its
# profiles need is reported by ca-admin status and /metrics.
. "$(dirname "$0")/lib.sh"

need openssl curl jq promtool

# ---- the instance: ca-admin config, plus [issuer devices] ------------------
"$CA_ADMIN" config >"$T/base.conf" 2>>"$LOG" || bail "ca-admin config"
awk '{ print } $0 == "[profile client]" { print "issuer = devices" }' \
    "$T/base.conf" >"$T/ca.conf"
cat >>"$T/ca.conf" <<'CONF'

[issuer devices]
key = pkcs11:token=lanyard-issuing;object=devices-ca
pin_file = hsm/issuing.pin
subject = /O=Lanyard Demo/CN=Devices CA
key_type = ec-p256
days = 400
cert = certs/devices.crt
permitted_dns = devices.example.org
CONF
init_devices() { "$CA_ADMIN" --dir "$T/ca" init --config "$T/ca.conf" >>"$LOG" 2>&1; }
must "init --config with an [issuer devices] section" init_devices
# A profile under devices whose certificates may renew at once (the
# client profile's 7-day window would make a fresh one wait).
cat >>"$T/ca/ca.conf" <<'CONF'

[profile device]
issuer = devices
reissue_threshold = 100%

[profile gadget]
issuer = devices
identity = none
allow_dns_ip = yes
require_dns_or_ip = yes
CONF
DEV="$CA/devices.crt"
ISS="$CA/issuing.crt"

# subject_of CERT / issuer_of CERT: the DN, in one form for both.
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
issuer_of() { openssl x509 -in "$1" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
# ext CERT NAME: the extension's text, on one line.
ext() { openssl x509 -in "$1" -noout -ext "$2" 2>>"$LOG" | sed 1d | sed 's/^ *//' | tr '\n' ' '; }
# crit CERT NAME: "critical" if the extension is marked so.
crit() { openssl x509 -in "$1" -noout -ext "$2" 2>>"$LOG" | sed -n '1s/.*: *//p'; }
ski() { ext "$1" subjectKeyIdentifier | tr -d ' '; }
aki() { ext "$1" authorityKeyIdentifier | tr -d ' ' | sed 's/^keyid://'; }
# fps FILE: the SHA-256 fingerprint of each certificate in FILE, in order.
fps() {
	awk '/-----BEGIN CERTIFICATE-----/ { pem = "" } { pem = pem $0 "\n" }
	    /-----END CERTIFICATE-----/ {
		cmd = "openssl x509 -noout -fingerprint -sha256"
		printf "%s", pem | cmd; close(cmd) }' "$1"
}
# fpset FILE...: the fingerprints of the certificates in FILEs, sorted.
fpset() { for f in "$@"; do fps "$f"; done | sort | tr '\n' ' '; }
# states: "name state" of every CA of issuer list, comma-separated.
states() {
	admin issuer list 2>>"$LOG" | awk 'NR > 1 { printf "%s%s %s", sep, $1, $4; sep = "," }'
}
ncas() { admin issuer list 2>>"$LOG" | awk 'NR > 1' | wc -l | tr -d ' '; }
# audits ACTION: how many audit entries of ACTION; nonserver: all but
# ca-server's own (its CRLs may be audited in the meantime).
audits() { admin audit list --json 2>>"$LOG" | jq --arg a "$1" '[.[] | select(.action == $a)] | length'; }
nonserver() { admin audit list --json 2>>"$LOG" | jq '[.[] | select(.actor != "ca-server")] | length'; }
# actions_since N: the actions of the audit entries after the first N
# that are not ca-server's nor CRL publications, comma-separated.
actions_since() {
	admin audit list --json 2>>"$LOG" | jq -r --argjson n "$1" \
	    '[.[] | select(.actor != "ca-server")] | .[$n:] |
	    [.[] | select(.action != "crl-publish") | .action] | join(",")'
}
# verifies CERT UNTRUSTED: CERT verifies to the root through UNTRUSTED.
verifies() {
	openssl verify -CAfile "$ROOT" -untrusted "$2" "$1" >"$T/verify.out" 2>&1
	grep -qx "$1: OK" "$T/verify.out"
}
# signed_by DESC CERT CA NAME: CERT's issuer DN and AKI are CA's, its
# caIssuers URL is /ca/NAME.crt and its CRL DP /crl/NAME.crl.
signed_by() {
	eq "$1: issuer is $(subject_of "$3")" "$(issuer_of "$2")" "$(subject_of "$3")"
	eq "... AKI is the $4 SKI" "$(aki "$2")" "$(ski "$3")"
	case $(ext "$2" authorityInfoAccess) in
	*"CA Issuers - URI:http://127.0.0.1:8080/ca/$4.crt"*) ok "... caIssuers /ca/$4.crt" ;;
	*) ext "$2" authorityInfoAccess >>"$LOG"; not_ok "... caIssuers /ca/$4.crt" ;;
	esac
	case $(ext "$2" crlDistributionPoints) in
	*"URI:http://127.0.0.1:8080/crl/$4.crl"*) ok "... CRL DP /crl/$4.crl" ;;
	*) ext "$2" crlDistributionPoints >>"$LOG"; not_ok "... CRL DP /crl/$4.crl" ;;
	esac
	if verifies "$2" "$3"; then ok "... verifies to the root through $4"
	else cat "$T/verify.out" >>"$LOG"; not_ok "... verifies to the root through $4"; fi
}

# ---- the CAs -----------------------------------------------------------------
eq "issuer list: root, issuing and devices, all active" "$(states)" \
    "root active,issuing active,devices active"
openssl verify -CAfile "$ROOT" "$DEV" >"$T/v.out" 2>&1
has "certs/devices.crt is signed by the root" "$T/v.out" "$DEV: OK"
eq "... its issuer is the root" "$(issuer_of "$DEV")" "$(subject_of "$ROOT")"
eq "... its subject is [issuer devices]'s" "$(subject_of "$DEV")" "CN=Devices CA,O=Lanyard Demo"
eq "... CA:TRUE, pathlen 0, critical" "$(crit "$DEV" basicConstraints) $(ext "$DEV" basicConstraints)" \
    "critical CA:TRUE, pathlen:0 "
eq "... its name constraints, critical" "$(crit "$DEV" nameConstraints) $(ext "$DEV" nameConstraints)" \
    "critical Permitted: DNS:devices.example.org "
eq "... keyCertSign, cRLSign" "$(crit "$DEV" keyUsage) $(ext "$DEV" keyUsage)" \
    "critical Digital Signature, Certificate Sign, CRL Sign "
eq "init audited the devices CA as issuer-create" "$(audits issuer-create)" 1

# ---- certificates: clients from devices, services from issuing ---------------
csr a
admin issue --profile client --csr "$T/a.csr" --identity '{"userId":1}' \
    --out "$T/a.crt" >>"$LOG" 2>&1
signed_by "ca-admin issue --profile client" "$T/a.crt" "$DEV" devices
fails "... and does not verify through the issuing CA" \
    openssl verify -CAfile "$ROOT" -untrusted "$ISS" "$T/a.crt"
S_A=$(serial_of "$T/a.crt")
csr svc
admin issue --profile service --csr "$T/svc.csr" --dns svc.example.org \
    --out "$T/svc.crt" >>"$LOG" 2>&1
signed_by "ca-admin issue --profile service" "$T/svc.crt" "$ISS" issuing
S_SVC=$(serial_of "$T/svc.crt")
# Names are checked against the constraints of the CA that signs.
n0=$(admin list --status all --json 2>>"$LOG" | jq length)
refuse "a name outside devices' name constraints is refused" admin issue \
    --profile gadget --csr "$T/a.csr" --dns svc.example.org
eq "... and nothing is issued" "$(admin list --status all --json 2>>"$LOG" | jq length)" "$n0"
admin issue --profile gadget --csr "$T/a.csr" --dns devices.example.org \
    --out "$T/g.crt" >>"$LOG" 2>&1
check "a name inside them is issued, and verifies through devices" verifies "$T/g.crt" "$DEV"
eq "show names the issuer devices" \
    "$(admin show --serial "$S_A" --json 2>>"$LOG" | jq -r .issuer)" devices
eq "show names the issuer issuing for a service" \
    "$(admin show --serial "$S_SVC" --json 2>>"$LOG" | jq -r .issuer)" issuing
eq "list --json names each one's issuer" "$(admin list --json 2>>"$LOG" |
    jq -r --arg a "$S_A" --arg s "$S_SVC" \
    '[.[] | select(.serial == $a or .serial == $s) | .profile + ":" + .issuer] | sort | join(",")')" \
    "client:devices,service:issuing"
eq "show --issuer devices finds it" \
    "$(admin show --serial "$S_A" --issuer devices --json 2>>"$LOG" | jq -r .serial)" "$S_A"
refuse "show --issuer issuing does not" admin show --serial "$S_A" --issuer issuing

must "ca-server starts with HTTPS" start_server_https

# est OP [curl options...]: the status of an EST request; body in $T/body.
est() {
	op=$1; shift
	rm -f "$T/body"
	curl -sS --max-time 20 --cacert "$ROOT" -o "$T/body" -w '%{http_code}' \
	    "$@" "$SBASE/.well-known/est/$op" 2>>"$LOG"
}
# api PATH [curl options...]: the HTTPS status of the JSON API; body in $T/body.
api() {
	p=$1; shift
	rm -f "$T/body"
	curl -sS --max-time 20 --cacert "$ROOT" -o "$T/body" -w '%{http_code}' \
	    "$@" "$SBASE$p" 2>>"$LOG"
}
jb() { jq -r "$@" "$T/body" 2>>"$LOG"; }
# get PATH OUT: a plain HTTP GET; its status.
get() { curl -sS --max-time 20 -o "$2" -w '%{http_code}' "$BASE$1" 2>>"$LOG"; }
# p7certs OUT: the certificates of the base64 PKCS#7 body, PEM, in OUT;
# prints how many.
p7certs() {
	tr -d '\r\n' <"$T/body" | openssl base64 -d -A >"$1.p7" 2>>"$LOG" &&
	    openssl pkcs7 -inform DER -in "$1.p7" -print_certs -out "$1" \
	    >>"$LOG" 2>&1 || { echo 0; return; }
	grep -c 'BEGIN CERTIFICATE' "$1"
}
# b64csr NAME: $T/NAME.csr as one line of base64 DER, in $T/NAME.b64.
b64csr() { openssl req -in "$T/$1.csr" -outform DER | openssl base64 -A >"$T/$1.b64"; }
# token PROFILE IDENTITY: a one-time token, printed.
token() {
	admin token create --profile "$1" --identity "$2" --ttl 1h 2>>"$LOG" |
	    sed -n 's/^token: //p'
}
# enroll_est NAME PROFILE IDENTITY: EST simpleenroll with a token for
# a new key; status printed, the PKCS#7's certificates in $T/NAME.p7.pem,
# the leaf in $T/NAME.crt.
enroll_est() {
	csr "$1"
	b64csr "$1"
	c=$(est simpleenroll -u "dev:$(token "$2" "$3")" \
	    -H Content-Type:application/pkcs10 --data-binary @"$T/$1.b64")
	p7certs "$T/$1.p7.pem" >/dev/null
	openssl x509 -in "$T/$1.p7.pem" -out "$T/$1.crt" 2>>"$LOG"
	echo "$c"
}
# reenroll NAME OLD: EST simplereenroll authenticated by $T/OLD.crt for
# a new key; as enroll_est.
reenroll() {
	csr "$1"
	b64csr "$1"
	c=$(est simplereenroll --cert "$T/$2.crt" --key "$T/$2.key" \
	    -H Content-Type:application/pkcs10 --data-binary @"$T/$1.b64")
	p7certs "$T/$1.p7.pem" >/dev/null
	openssl x509 -in "$T/$1.p7.pem" -out "$T/$1.crt" 2>>"$LOG"
	echo "$c"
}

# ---- EST and the JSON API -----------------------------------------------------
eq "EST simpleenroll with a client token is 200" \
    "$(enroll_est e1 client '{"userId":2}')" 200
signed_by "the EST certificate" "$T/e1.crt" "$DEV" devices
eq "... the PKCS#7 carries it and devices.crt" "$(fps "$T/e1.p7.pem" | sed 1d)" "$(fps "$DEV")"

csr j1
jq -n --arg t "$(token client '{"userId":3}')" --rawfile c "$T/j1.csr" \
    '{token: $t, csr: $c}' >"$T/j1.json"
eq "JSON API enroll with a client token is 200" "$(api /api/v1/enroll \
    -H 'Content-Type: application/json' --data-binary @"$T/j1.json")" 200
jb .certificate >"$T/j1.crt"
signed_by "the JSON API certificate" "$T/j1.crt" "$DEV" devices
eq "... its chain is devices.crt and the root" \
    "$(jb '.chain | length') $(jb '.chain[0]') $(jb '.chain[1]')" \
    "2 $(cat "$DEV") $(cat "$ROOT")"

# ---- CA certificates: one by one, the bundle, EST, publish --------------------
eq "GET /ca/devices.crt is 200" "$(get /ca/devices.crt "$T/devices.der")" 200
openssl x509 -in "$DEV" -outform DER -out "$T/devices.want.der"
check "... and is devices.crt, DER" cmp "$T/devices.der" "$T/devices.want.der"
eq "GET /ca/bundle.pem is 200" "$(get /ca/bundle.pem "$T/bundle.pem")" 200
eq "... with every CA: devices, issuing and the root" "$(fpset "$T/bundle.pem")" \
    "$(fpset "$DEV" "$ISS" "$ROOT")"
eq "EST cacerts is 200" "$(est cacerts)" 200
eq "... with three certificates" "$(p7certs "$T/cacerts.pem")" 3
eq "... devices, issuing and the root" "$(fpset "$T/cacerts.pem")" \
    "$(fpset "$DEV" "$ISS" "$ROOT")"
check "ca-admin publish --out" admin publish --out "$T/pub"
check "... writes ca/devices.crt, DER" cmp "$T/pub/ca/devices.crt" "$T/devices.want.der"
eq "... and ca/bundle.pem with every CA" "$(fpset "$T/pub/ca/bundle.pem")" \
    "$(fpset "$DEV" "$ISS" "$ROOT")"

# ---- the admin API names the issuer -----------------------------------------
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"role":"admin","userId":7}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1
ADM="--cert $T/adm.crt --key $T/adm.key"
# shellcheck disable=SC2086
eq "GET /api/v1/certificates/SERIAL (admin) is 200" \
    "$(api "/api/v1/certificates/$S_A" $ADM)" 200
eq "... \"issuer\":\"devices\"" "$(jb .issuer)" devices
# shellcheck disable=SC2086
eq "... ?issuer=devices is 200" "$(api "/api/v1/certificates/$S_A?issuer=devices" $ADM)" 200
# shellcheck disable=SC2086
eq "... ?issuer=issuing is 404" "$(api "/api/v1/certificates/$S_A?issuer=issuing" $ADM)" 404
# shellcheck disable=SC2086
eq "a service certificate: \"issuer\":\"issuing\"" \
    "$(api "/api/v1/certificates/$S_SVC" $ADM) $(jb .issuer)" "200 issuing"
# shellcheck disable=SC2086
eq "GET /api/v1/issuers lists the three CAs" "$(api /api/v1/issuers $ADM) $(jb -c \
    '[.issuers[] | .name + ":" + .state] | join(",")')" \
    "200 root:active,issuing:active,devices:active"

# ---- CRLs and OCSP per issuer ------------------------------------------------
# crl_get NAME: GET /crl/NAME.crl as $T/NAME.crl.pem; its status.
crl_get() {
	c=$(get "/crl/$1.crl" "$T/$1.crl.der")
	openssl crl -inform DER -in "$T/$1.crl.der" -out "$T/$1.crl.pem" 2>>"$LOG"
	echo "$c"
}
crl_issuer() { openssl crl -in "$T/$1.crl.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'; }
# crl_verify CERT CRL: openssl verify -crl_check of the leaf CERT under
# devices-like chains: the output's last line.
crl_verify() {
	openssl verify -crl_check -CAfile "$ROOT" -untrusted "$2" -CRLfile "$3" \
	    "$1" 2>&1 | tail -n 1
}
# ocsp ISSUER CERTFILE|0xSERIAL: the status line of openssl ocsp's
# answer (POST), the response verified against the root.
ocsp() {
	if [ "${2#0x}" != "$2" ]; then what="-serial $2"; else what="-cert $2"; fi
	# shellcheck disable=SC2086
	openssl ocsp -issuer "$1" $what -url "$BASE/ocsp" -CAfile "$ROOT" \
	    >"$T/ocsp.out" 2>&1
	cat "$T/ocsp.out" >>"$LOG"
	grep -q "^Response verify OK" "$T/ocsp.out" || { echo "not verified"; return; }
	sed -n 's/^[^:]*: \(good\|revoked\|unknown\)$/\1/p' "$T/ocsp.out" | head -n 1
}
eq "GET /crl/devices.crl is 200" "$(crl_get devices)" 200
eq "... issued by the Devices CA" "$(crl_issuer devices)" "$(subject_of "$DEV")"
openssl crl -in "$T/devices.crl.pem" -CAfile "$DEV" -noout >"$T/crlv.out" 2>&1
has "... and signed by its key" "$T/crlv.out" "verify OK"
eq "GET /crl/issuing.crl is the issuing CA's" \
    "$(crl_get issuing) $(crl_issuer issuing)" "200 $(subject_of "$ISS")"
S_E1=$(serial_of "$T/e1.crt")
check "revoke the EST client certificate (devices)" admin revoke --serial "$S_E1" \
    --reason keyCompromise
check "crl publish" admin crl publish
crl_get devices >/dev/null
crl_get issuing >/dev/null
eq "verify -crl_check with devices.crl: the revoked devices leaf is refused" \
    "$(crl_verify "$T/e1.crt" "$DEV" "$T/devices.crl.pem")" \
    "error $T/e1.crt: verification failed"
openssl verify -crl_check -CAfile "$ROOT" -untrusted "$DEV" \
    -CRLfile "$T/devices.crl.pem" "$T/e1.crt" >"$T/crlv2.out" 2>&1
has "... as revoked" "$T/crlv2.out" "certificate revoked"
eq "... a valid devices leaf passes" \
    "$(crl_verify "$T/a.crt" "$DEV" "$T/devices.crl.pem")" "$T/a.crt: OK"
openssl crl -in "$T/issuing.crl.pem" -noout -text >"$T/issuing.crl.txt" 2>&1
lacks "the issuing CA's CRL does not list it" "$T/issuing.crl.txt" "$S_E1"
eq "... and a service leaf passes with it" \
    "$(crl_verify "$T/svc.crt" "$ISS" "$T/issuing.crl.pem")" "$T/svc.crt: OK"
eq "OCSP (-issuer devices.crt): a valid devices leaf is good" "$(ocsp "$DEV" "$T/a.crt")" good
eq "... the revoked one is revoked" "$(ocsp "$DEV" "$T/e1.crt")" revoked
eq "OCSP (-issuer issuing.crt): a service leaf is good" "$(ocsp "$ISS" "$T/svc.crt")" good
r=$(ocsp "$ISS" "0x$S_A")
[ "$r" != good ] && [ "$r" != "not verified" ] &&
    ok "a devices serial under the issuing CA's CertID is not good ($r)" ||
    not_ok "a devices serial under the issuing CA's CertID is not good ($r)"

# ---- a rollover while ca-server runs -----------------------------------------
eq "a device enrolls under devices (EST, profile device)" \
    "$(enroll_est d1 device '{"userId":10}')" 200
eq "... from devices" "$(issuer_of "$T/d1.crt")" "$(subject_of "$DEV")"
na=$(nonserver)
admin issuer rollover devices >"$T/roll.out" 2>>"$LOG"
eq "issuer rollover devices exits 0" "$?" 0
eq "... and names the new CA devices-2" "$(cat "$T/roll.out")" devices-2
DEV2="$CA/devices-2.crt"
eq "... audited once as issuer-rollover" "$(audits issuer-rollover)" 1
# Its OCSP signer too (a key on the token, a certificate from devices-2).
eq "... and that, its CRLs and its OCSP signer, is all it audited" \
    "$(actions_since "$na")" issuer-rollover,issue,ocsp-signer
eq "certs/devices-2.crt's subject ends in \" G2\"" "$(subject_of "$DEV2")" \
    "CN=Devices CA G2,O=Lanyard Demo"
openssl verify -CAfile "$ROOT" "$DEV2" >"$T/v.out" 2>&1
has "... and is signed by the root" "$T/v.out" "$DEV2: OK"
[ "$(ski "$DEV2")" != "$(ski "$DEV")" ] && ok "... for a new key" || not_ok "... for a new key"
eq "issuer list: devices retiring, devices-2 active" "$(states)" \
    "root active,issuing active,devices retiring,devices-2 active"
csr a2
admin issue --profile client --csr "$T/a2.csr" --identity '{"userId":1}' \
    --out "$T/a2.crt" >>"$LOG" 2>&1
signed_by "a client certificate after the rollover" "$T/a2.crt" "$DEV2" devices-2
admin issue --profile service --csr "$T/svc.csr" --dns svc.example.org \
    --out "$T/svc2.crt" >>"$LOG" 2>&1
eq "a service certificate still comes from issuing" "$(issuer_of "$T/svc2.crt")" \
    "$(subject_of "$ISS")"

# The running server: the old certificate renews and gets the new chain.
eq "EST simplereenroll with the devices certificate is 200 (no restart)" \
    "$(reenroll d2 d1)" 200
signed_by "the renewed certificate" "$T/d2.crt" "$DEV2" devices-2
eq "... the PKCS#7 carries devices-2.crt" "$(fps "$T/d2.p7.pem" | sed 1d)" "$(fps "$DEV2")"
# A certificate of devices-2 authenticates at once: the server's client
# trust follows the registry within a second of the rollover.
eq "a devices-2 certificate renews over mTLS (EST simplereenroll)" \
    "$(reenroll d3 d2)" 200
eq "... from devices-2" "$(issuer_of "$T/d3.crt")" "$(subject_of "$DEV2")"
csr j2
jq -n --rawfile c "$T/j2.csr" '{csr: $c}' >"$T/j2.json"
eq "... and over the JSON API (reissue)" "$(api /api/v1/reissue --cert "$T/d3.crt" \
    --key "$T/d3.key" -H 'Content-Type: application/json' --data-binary @"$T/j2.json")" 200
eq "... whose chain is devices-2.crt and the root" \
    "$(jb '.chain[0]') $(jb '.chain[1]')" "$(cat "$DEV2") $(cat "$ROOT")"
jb .certificate >"$T/j2.crt"
eq "GET /ca/devices-2.crt is 200" "$(get /ca/devices-2.crt "$T/devices-2.der")" 200
eq "GET /ca/bundle.pem now has devices-2 too" \
    "$(get /ca/bundle.pem "$T/bundle2.pem") $(fpset "$T/bundle2.pem")" \
    "200 $(fpset "$DEV2" "$DEV" "$ISS" "$ROOT")"
eq "EST cacerts too" "$(est cacerts) $(p7certs "$T/cacerts2.pem") $(fpset "$T/cacerts2.pem")" \
    "200 4 $(fpset "$DEV2" "$DEV" "$ISS" "$ROOT")"
eq "the old devices certificate is still served" \
    "$(get /ca/devices.crt "$T/devices.again.der")" 200
eq "GET /crl/devices-2.crl is devices-2's (its first CRL, made by the rollover)" \
    "$(crl_get devices-2) $(crl_issuer devices-2)" "200 $(subject_of "$DEV2")"
eq "OCSP (-issuer devices-2.crt): a devices-2 leaf is good" "$(ocsp "$DEV2" "$T/a2.crt")" good
eq "... a devices leaf is still answered under devices" "$(ocsp "$DEV" "$T/a.crt")" good
# The old generation keeps revoking while its certificates live.
check "revoke a devices leaf after the rollover" admin revoke --serial "$S_A"
eq "... OCSP under devices says revoked" "$(ocsp "$DEV" "$T/a.crt")" revoked
check "crl publish" admin crl publish
crl_get devices >/dev/null
openssl verify -crl_check -CAfile "$ROOT" -untrusted "$DEV" \
    -CRLfile "$T/devices.crl.pem" "$T/a.crt" >"$T/crlv3.out" 2>&1
has "... and devices.crl lists it (verify -crl_check)" "$T/crlv3.out" "certificate revoked"

# ---- a rollover at a later time ----------------------------------------------
AT=$(( $(date +%s) + 8 ))
ATS=$(date -u -d "@$AT" +%Y-%m-%dT%H:%M:%SZ)
admin issuer rollover devices --at "$ATS" >"$T/roll3.out" 2>>"$LOG"
eq "issuer rollover devices --at (8 s ahead) names devices-3" "$(cat "$T/roll3.out")" devices-3
eq "issuer list: devices-3 is next, from that time" \
    "$(states) $(admin issuer list | awk '$1 == "devices-3" { print $6 }')" \
    "root active,issuing active,devices retiring,devices-2 active,devices-3 next $ATS"
csr a3
admin issue --profile client --csr "$T/a3.csr" --identity '{"userId":1}' \
    --out "$T/a3.crt" >>"$LOG" 2>&1
eq "until then, new client certificates come from devices-2" \
    "$(issuer_of "$T/a3.crt")" "$(subject_of "$DEV2")"
eq "... over EST too" "$(enroll_est e3 client '{"userId":4}') $(issuer_of "$T/e3.crt")" \
    "200 $(subject_of "$DEV2")"
na2=$(nonserver)
n0=$(ncas)
refuse "a second rollover while one waits is refused" admin issuer rollover devices
has "... saying devices-3 waits" "$T/refuse.err" "devices-3"
refuse "issuer rollover of an unknown issuer" admin issuer rollover nosuch
refuse "issuer rollover root" admin issuer rollover root
refuse "issuer rollover devices-2 (a CA, not an issuer)" admin issuer rollover devices-2
refuse "issuer rollover of a name with a space" admin issuer rollover "dev ices"
refuse "issuer create devices (it has its CA)" admin issuer create devices
refuse "issuer create of a section ca.conf lacks" admin issuer create nosuch
admin issuer rollover devices --at tomorrow >>"$LOG" 2>&1
eq "--at that is not a time is a usage error (2)" "$?" 2
eq "the refusals added no CA" "$(ncas)" "$n0"
eq "... and audited nothing" "$(nonserver)" "$na2"
now=$(date +%s)
[ "$now" -lt "$AT" ] && sleep $((AT - now + 1))
eq "from that time on, devices-3 is active" "$(states)" \
    "root active,issuing active,devices retiring,devices-2 retiring,devices-3 active"
csr a4
admin issue --profile client --csr "$T/a4.csr" --identity '{"userId":1}' \
    --out "$T/a4.crt" >>"$LOG" 2>&1
signed_by "a client certificate after --at" "$T/a4.crt" "$CA/devices-3.crt" devices-3
eq "... and over EST, from the running server" \
    "$(reenroll d4 j2) $(issuer_of "$T/d4.crt") $(fps "$T/d4.p7.pem" | sed 1d)" \
    "200 $(subject_of "$CA/devices-3.crt") $(fps "$CA/devices-3.crt")"
stop_server

# ---- an issuer too short for its profiles -------------------------------------
admin status >"$T/st0.txt" 2>>"$LOG"
lacks "status: no issuer needs rolling over yet" "$T/st0.txt" "roll it over"
cat >>"$T/ca/ca.conf" <<'CONF'

[issuer short]
key = pkcs11:token=lanyard-issuing;object=short-ca
pin_file = hsm/issuing.pin
subject = /O=Lanyard Demo/CN=Short CA
days = 20
cert = certs/short.crt

[profile shortp]
issuer = short
days = 30
CONF
eq "issuer create short (a section added to ca.conf)" \
    "$(admin issuer create short 2>>"$LOG")" short
eq "... audited as issuer-create" "$(audits issuer-create)" 2
eq "issuer list: short is active" "$(admin issuer list | awk '$1 == "short" { print $4 }')" active
admin status >"$T/st1.txt" 2>>"$LOG"
eq "status exits 1" "$?" 1
has "... telling to roll short over" "$T/st1.txt" "roll it over (ca-admin issuer rollover short)"
grep 'ACTION:.*roll it over' "$T/st1.txt" >"$T/st1.act"
lacks "... and no other issuer" "$T/st1.act" "devices"
must "ca-server starts again" start_server
get /metrics "$T/metrics.txt" >/dev/null
h=$(sed -n 's/^lanyard_issuer_headroom_seconds{ca="short",issuer="short"} //p' "$T/metrics.txt")
case $h in
-[0-9]*) ok "/metrics: lanyard_issuer_headroom_seconds of short is negative ($h)" ;;
*) not_ok "/metrics: lanyard_issuer_headroom_seconds of short is negative ($h)" ;;
esac
h=$(sed -n 's/^lanyard_issuer_headroom_seconds{ca="devices-3",issuer="devices"} //p' "$T/metrics.txt")
case $h in
[1-9]*) ok "... and positive for devices-3 ($h)" ;;
*) not_ok "... and positive for devices-3 ($h)" ;;
esac
has "/metrics: devices retiring" "$T/metrics.txt" \
    'lanyard_ca_expiry_seconds{ca="devices",state="retiring"}'

# ---- the admin API rolls an issuer over --------------------------------------
stop_server
must "ca-server starts with HTTPS" start_server_https
# shellcheck disable=SC2086
eq "POST /api/v1/issuers/issuing/rollover without an admin certificate is 403" \
    "$(api /api/v1/issuers/issuing/rollover -X POST)" 403
# shellcheck disable=SC2086
eq "... with a bad time is 400" "$(api /api/v1/issuers/issuing/rollover $ADM \
    -H 'Content-Type: application/json' -d '{"at":"tomorrow"}')" 400
# shellcheck disable=SC2086
eq "... for no such section is 404" \
    "$(api /api/v1/issuers/nosuch/rollover $ADM -X POST)" 404
n0=$(audits issuer-rollover)
at=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
# shellcheck disable=SC2086
eq "POST /api/v1/issuers/issuing/rollover {at: in an hour} is 201, issuing-2" \
    "$(api /api/v1/issuers/issuing/rollover $ADM -H 'Content-Type: application/json' \
    -d "{\"at\":\"$at\"}") $(jb -c '[.issuer, .name] | join(",")')" \
    "201 issuing,issuing-2"
eq "... audited once, with the admin as actor" \
    "$(admin audit list 2>>"$LOG" | grep issuer-rollover | grep -c 'admin:')" 1
# shellcheck disable=SC2086
eq "... a second while it waits is 409" \
    "$(api /api/v1/issuers/issuing/rollover $ADM -X POST)" 409
eq "... and nothing more was audited" "$(audits issuer-rollover)" $((n0 + 1))
# shellcheck disable=SC2086
eq "GET /api/v1/issuers: issuing-2 is next" "$(api /api/v1/issuers $ADM) $(jb -r \
    '.issuers[] | select(.name == "issuing-2") | .state')" "200 next"
csr svc3
admin issue --profile service --csr "$T/svc3.csr" --dns svc3.example.org \
    --out "$T/svc3.crt" >>"$LOG" 2>&1
eq "... services are still issued by issuing until then" \
    "$(issuer_of "$T/svc3.crt")" "$(subject_of "$CA/issuing.crt")"
check "promtool check rules docs/alerts.rules.yml" \
    promtool check rules "$top_srcdir/docs/alerts.rules.yml"
has "... which has LanyardIssuerNeedsRollover" "$top_srcdir/docs/alerts.rules.yml" \
    "alert: LanyardIssuerNeedsRollover"
stop_server

check "audit verifies" admin audit verify
done_testing
