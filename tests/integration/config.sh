#!/bin/sh
# init --config: an instance from an edited ca.conf, here with name
# constraints, P-384 keys and a root and issuing CA on one token. The
# issuing CA's certificate carries the constraints, and Lanyard itself
# refuses to sign names outside them.
. "$(dirname "$0")/lib.sh"

need openssl pkcs11-tool softhsm2-util

"$CA_ADMIN" config >"$T/ca.conf" 2>>"$LOG"
has "config prints a ca.conf" "$T/ca.conf" "[issuing]"
sed -i -e 's/^# permitted_dns = .*/permitted_dns = example.org, example.net/' \
    -e 's/^# excluded_dns = .*/excluded_dns = .internal.example.org/' \
    -e 's|^# permitted_ip = .*|permitted_ip = 10.0.0.0/8, fd00::/8|' \
    -e 's/^key_type = ec-p256/key_type = ec-p384/' \
    -e 's/^organization = .*/organization = Example Corp/' \
    -e 's|^key = pkcs11:token=lanyard-issuing;object=issuing-ca|key = pkcs11:token=lanyard-root;object=issuing-ca|' \
    "$T/ca.conf"
sed -i -e '/^\[issuing\]/,/^\[/s|^pin_file = .*|pin_file = hsm/root.pin|' "$T/ca.conf"

# init issues the HTTPS server certificate too, so its names must be
# inside the constraints: the default localhost is not, and is refused
# before anything is left behind.
refuse "init with tls_dns outside the name constraints" \
    "$CA_ADMIN" --dir "$T/nc" init --config "$T/ca.conf"
grep "localhost is outside the issuing CA's name constraints" "$LOG" >/dev/null &&
    ok "... says why" || not_ok "... says why"
check "and leaves nothing behind" test ! -e "$T/nc"
sed -i -e 's/^tls_dns = .*/tls_dns = ca.example.org/' -e 's/^tls_ip = .*/tls_ip = 10.0.0.1/' \
    "$T/ca.conf"
check "init --config" "$CA_ADMIN" --dir "$T/ca" init --config "$T/ca.conf"
openssl x509 -in "$T/ca/tls/server.crt" -noout -ext subjectAltName >"$T/tls.txt" 2>>"$LOG"
has "the server certificate, issued at init, names ca.example.org" "$T/tls.txt" "DNS:ca.example.org"
has "... and 10.0.0.1" "$T/tls.txt" "IP Address:10.0.0.1"
cmp -s "$T/ca.conf" "$T/ca/ca.conf" && ok "the instance keeps the given ca.conf" || not_ok "the instance keeps the given ca.conf"
"$CA_ADMIN" --dir "$T/x" init --config "$T/ca.conf" --key-type ec-p256 >>"$LOG" 2>&1
eq "--config and --key-type together is a usage error" "$?" 2

openssl x509 -in "$T/ca/certs/issuing.crt" -noout -text >"$T/iss.txt"
has "name constraints are critical" "$T/iss.txt" "X509v3 Name Constraints: critical"
has "permitted DNS subtree" "$T/iss.txt" "DNS:example.org"
has "second permitted DNS subtree" "$T/iss.txt" "DNS:example.net"
has "permitted IPv4 range" "$T/iss.txt" "IP:10.0.0.0/255.0.0.0"
has "excluded DNS subtree" "$T/iss.txt" "DNS:.internal.example.org"
has "P-384 issuing key" "$T/iss.txt" "NIST CURVE: P-384"

SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf" pkcs11-tool --module "$(softhsm_module)" \
    --token-label lanyard-root --login --pin "$(cat "$T/ca/hsm/root.pin")" \
    --list-objects --type privkey >"$T/keys.txt" 2>>"$LOG"
has "the root key is on the one token" "$T/keys.txt" "label:      root-ca"
has "the issuing key is on the same token" "$T/keys.txt" "label:      issuing-ca"
lacks "no second token was made" "$T/ca/ca.conf" "token=lanyard-issuing"

csr svc
nrec=$(admin list --status all --json | grep -c '"serial"')
check "a name inside the constraints" admin issue --profile service --csr "$T/svc.csr" \
    --dns api.example.org --dns example.net --ip 10.1.2.3 --out "$T/in.crt"
openssl x509 -in "$T/in.crt" -noout -subject >"$T/in.subj" 2>>"$LOG"
has "leaf organization from the config" "$T/in.subj" "O = Example Corp"
check "it verifies under the constraints" openssl verify -x509_strict -CAfile "$T/ca/certs/root.crt" \
    -untrusted "$T/ca/certs/issuing.crt" "$T/in.crt"
refuse "a DNS name outside the constraints" admin issue --profile service --csr "$T/svc.csr" --dns evil.com
has "... says why" "$T/refuse.err" "outside the issuing CA's name constraints"
refuse "a suffix that is not a subdomain" admin issue --profile service --csr "$T/svc.csr" --dns badexample.org
refuse "an excluded subtree" admin issue --profile service --csr "$T/svc.csr" --dns db.internal.example.org
has "... says why" "$T/refuse.err" "excluded"
refuse "an IP outside the ranges" admin issue --profile service --csr "$T/svc.csr" --ip 192.168.1.1
check "an IPv6 address inside fd00::/8" admin issue --profile service --csr "$T/svc.csr" --ip fd12::1 --out "$T/v6.crt"
eq "refused names left no record" "$(admin list --status all --json | grep -c '"serial"')" $((nrec + 2))

# The vendor-HSM path: a token the operator made, no softhsm2_conf, the
# PIN from the environment. SoftHSM2 stands in for the vendor here.
mkdir -p "$T/vendor/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/vendor/tokens" >"$T/vendor/softhsm2.conf"
export SOFTHSM2_CONF="$T/vendor/softhsm2.conf"
softhsm2-util --init-token --free --label hsm-a --so-pin 11112222 --pin 33334444 >>"$LOG" 2>&1
"$CA_ADMIN" config | sed -e '/^softhsm2_conf/d' \
    -e 's|token=lanyard-root;|token=hsm-a;|' -e 's|token=lanyard-issuing;|token=hsm-a;|' \
    -e 's|^pin_file = .*|pin_env = VENDOR_PIN|' >"$T/vendor.conf"
VENDOR_PIN=33334444 "$CA_ADMIN" --dir "$T/v" init --config "$T/vendor.conf" >>"$LOG" 2>&1
eq "init on an existing vendor token, PIN from the environment" "$?" 0
check "no SoftHSM2 files were made" test ! -e "$T/v/hsm"
check "vendor CA chain verifies" openssl verify -x509_strict -CAfile "$T/v/certs/root.crt" "$T/v/certs/issuing.crt"
VENDOR_PIN=33334444 "$CA_ADMIN" --dir "$T/v" issue --profile client --csr "$T/svc.csr" \
    --identity '{"userId":5}' --out "$T/vendor-leaf.crt" >>"$LOG" 2>&1
eq "issue on the vendor token" "$?" 0
"$CA_ADMIN" --dir "$T/v" issue --profile client --csr "$T/svc.csr" \
    --identity '{"userId":5}' >>"$LOG" 2>&1
eq "without the PIN in the environment issue is refused" "$?" 1
unset SOFTHSM2_CONF

# A configuration error is caught before anything is made.
printf '[profile client]\ndays = 9999\n' >>"$T/ca.conf"
refuse "init with a broken config" "$CA_ADMIN" --dir "$T/y" init --config "$T/ca.conf"
check "and leaves nothing behind" test ! -e "$T/y"

done_testing
