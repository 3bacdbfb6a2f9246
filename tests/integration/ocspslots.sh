#!/bin/sh
# OCSP for every CA slot with real clients: a second issuing CA
# ([issuer devices], the client profile's issuer) answered with its own
# delegated signer beside the issuing CA's; a CertID naming one CA never
# answers good for the other's serial; the root answers for both CA
# certificates; an issuer rollover made by ca-admin while ca-server runs
# is answered for at once, pre-signed and signed.
. "$(dirname "$0")/lib.sh"

need openssl curl

# The default configuration, plus a second issuer on the issuing token.
"$CA_ADMIN" config >"$T/ca.conf" 2>>"$LOG" || bail "ca-admin config"
sed -i '/^\[profile client\]/a issuer = devices' "$T/ca.conf"
cat >>"$T/ca.conf" <<'EOF'

[issuer devices]
key = pkcs11:token=lanyard-issuing;object=devices-ca
pin_file = hsm/issuing.pin
subject = /O=Test/CN=Devices CA
key_type = ec-p256
days = 1000
cert = certs/devices.crt
EOF
"$CA_ADMIN" --dir "$T/ca" init --config "$T/ca.conf" >"$T/init.txt" 2>&1 ||
    { cat "$T/init.txt" >>"$LOG"; bail "init --config with [issuer devices]"; }
ok "init --config makes the devices issuer"
has "the devices CA has its own OCSP signer key" "$T/init.txt" \
    "object devices-ocsp-signer-1"
has "the issuing CA keeps its signer key label" "$T/init.txt" \
    "object ocsp-signer-1"

csr d1
admin issue --profile client --csr "$T/d1.csr" --identity '{"userId":1}' \
    --out "$T/d1.crt" 2>>"$LOG" || bail "issue a devices leaf"
csr s1
admin issue --profile service --csr "$T/s1.csr" --dns svc.example \
    --out "$T/s1.crt" 2>>"$LOG" || bail "issue an issuing leaf"
openssl x509 -in "$T/d1.crt" -noout -issuer >"$T/d1.issuer" 2>&1
has "the client profile issues from devices" "$T/d1.issuer" "CN = Devices CA"
d1=$(serial_of "$T/d1.crt")
s1=$(serial_of "$T/s1.crt")
must "ca-server starts" start_server

# ask ISSUER OUT ARGS...: POST to the responder, checked against the root.
ask() {
	issuer=$1 out=$2; shift 2
	openssl ocsp -issuer "$issuer" -url "$BASE/ocsp" -CAfile "$ROOT" \
	    -resp_text "$@" >"$out" 2>&1
}
# get ISSUER SERIAL OUT: RFC 5019 GET (no nonce: the pre-signed path).
get() {
	openssl ocsp -issuer "$1" -serial "0x$2" -no_nonce -reqout "$T/req.der" \
	    >>"$LOG" 2>&1
	curl -sS -o "$T/get.der" "$BASE/ocsp/$(ocsp_get_path "$T/req.der")" \
	    2>>"$LOG"
	openssl ocsp -respin "$T/get.der" -issuer "$1" -serial "0x$2" \
	    -CAfile "$ROOT" -resp_text >"$3" 2>&1
}

# The devices CA's leaf, POST (signed now) and GET (pre-signed).
ask "$CA/devices.crt" "$T/d1.txt" -cert "$T/d1.crt"
has "POST: the devices leaf is good" "$T/d1.txt" "$T/d1.crt: good"
has "POST: it verifies against the root" "$T/d1.txt" "Response verify OK"
has "signed by a signer the devices CA certified" "$T/d1.txt" \
    "Issuer: O=Test, CN=Devices CA"
get "$CA/devices.crt" "$d1" "$T/d1get.txt"
has "GET: the devices leaf is good" "$T/d1get.txt" "0x$d1: good"
has "GET: it verifies" "$T/d1get.txt" "Response verify OK"

# The issuing CA's leaf, still answered by the issuing CA's signer.
ask "$CA/issuing.crt" "$T/s1.txt" -cert "$T/s1.crt"
has "the issuing leaf is good" "$T/s1.txt" "$T/s1.crt: good"
lacks "not by the devices CA's signer" "$T/s1.txt" "CN=Devices CA"

# A CertID naming one CA for the other CA's serial: never good.
ask "$CA/issuing.crt" "$T/x1.txt" -serial "0x$d1"
has "POST: a devices serial under issuing is unknown" "$T/x1.txt" \
    "0x$d1: unknown"
get "$CA/issuing.crt" "$d1" "$T/x1get.txt"
has "GET: a devices serial under issuing is unknown" "$T/x1get.txt" \
    "0x$d1: unknown"
get "$CA/devices.crt" "$s1" "$T/x2get.txt"
has "GET: an issuing serial under devices is unknown" "$T/x2get.txt" \
    "0x$s1: unknown"
# Name hash of the devices CA (from the leaf), key hash of issuing.
ask "$CA/issuing.crt" "$T/x3.txt" -cert "$T/d1.crt"
has "a CertID of two CAs' hashes is unauthorized" "$T/x3.txt" \
    "unauthorized"

# The root answers for both CA certificates it issued.
ask "$ROOT" "$T/r1.txt" -cert "$CA/devices.crt"
has "the root says the devices CA is good" "$T/r1.txt" \
    "$CA/devices.crt: good"
ask "$ROOT" "$T/r2.txt" -cert "$CA/issuing.crt"
has "the root says the issuing CA is good" "$T/r2.txt" \
    "$CA/issuing.crt: good"

# Revoked: at once, on both paths.
admin revoke --serial "$d1" --reason keyCompromise >>"$LOG" 2>&1
ask "$CA/devices.crt" "$T/d1r.txt" -cert "$T/d1.crt"
has "POST after revoke: revoked" "$T/d1r.txt" "$T/d1.crt: revoked"
get "$CA/devices.crt" "$d1" "$T/d1rget.txt"
has "GET after revoke: revoked" "$T/d1rget.txt" "0x$d1: revoked"
ask "$CA/issuing.crt" "$T/s1b.txt" -cert "$T/s1.crt"
has "the issuing leaf stays good" "$T/s1b.txt" "$T/s1.crt: good"

# A rollover by ca-admin while the server runs: the new generation is
# answered for without a restart.
admin issuer rollover devices >"$T/roll.txt" 2>>"$LOG" ||
    bail "issuer rollover devices"
has "the rollover makes devices-2" "$T/roll.txt" "devices-2"
csr d2
admin issue --profile client --csr "$T/d2.csr" --identity '{"userId":2}' \
    --out "$T/d2.crt" 2>>"$LOG" || bail "issue a devices-2 leaf"
d2=$(serial_of "$T/d2.crt")
openssl x509 -in "$T/d2.crt" -noout -issuer >"$T/d2.issuer" 2>&1
has "new leaves come from devices-2" "$T/d2.issuer" "Devices CA G2"
# ca-server follows a rollover within a second (ca_slots_refresh()).
sleep 1.1
get "$CA/devices-2.crt" "$d2" "$T/d2get.txt"
has "GET: the devices-2 leaf is good without a restart" "$T/d2get.txt" "0x$d2: good"
ask "$CA/devices-2.crt" "$T/d2.txt" -cert "$T/d2.crt"
has "POST: the devices-2 leaf is good (signed by the server)" "$T/d2.txt" \
    "$T/d2.crt: good"
has "POST: devices-2 verifies" "$T/d2.txt" "Response verify OK"
ask "$CA/devices.crt" "$T/d2x.txt" -serial "0x$d2"
has "a devices-2 serial under devices is unknown" "$T/d2x.txt" \
    "0x$d2: unknown"
ask "$CA/devices.crt" "$T/d1b.txt" -cert "$T/d1.crt"
has "the first generation still answers for its own" "$T/d1b.txt" \
    "$T/d1.crt: revoked"

# A root rollover: the new root signs for the CA it certifies (the next
# devices generation), the old one still for those it certified.
admin root rollover >>"$LOG" 2>&1 || bail "root rollover"
admin issuer rollover devices >"$T/roll3.txt" 2>>"$LOG" ||
    bail "issuer rollover devices under the new root"
root2="$CA/root-2.crt"
dev3="$CA/$(tail -n 1 "$T/roll3.txt").crt"
[ -f "$root2" ] && [ -f "$dev3" ] && ok "the new root and devices-3 are in certs/" ||
    not_ok "the new root and devices-3 are in certs/"
admin root crl >>"$LOG" 2>&1 || not_ok "root crl after the rollover"
sleep 1.1
openssl ocsp -issuer "$root2" -cert "$dev3" -url "$BASE/ocsp" -CAfile "$root2" \
    -resp_text >"$T/rr1.txt" 2>&1
has "the new root says devices-3 is good" "$T/rr1.txt" "$dev3: good"
has "signed by the new root itself" "$T/rr1.txt" "Response verify OK"
ask "$ROOT" "$T/rr2.txt" -cert "$CA/devices.crt"
has "the old root still says the devices CA is good" "$T/rr2.txt" \
    "$CA/devices.crt: good"
ask "$ROOT" "$T/rr3.txt" -serial "0x$(serial_of "$dev3")"
has "the old root does not answer for devices-3's serial" "$T/rr3.txt" \
    "unauthorized"

# Published as static files: every CA's responses.
admin publish --out "$T/pub" >"$T/pub.txt" 2>>"$LOG" || not_ok "publish"
has "publish writes the responses of every CA" "$T/pub.txt" "OCSP responses"

done_testing
