#!/bin/sh
# A crash between the claim of a one-time token and the record of its
# certificate (DESIGN.md section 3): the PKCS#11 shim (tests/shim/p11shim.c)
# SIGKILLs ca-server right after the HSM signed an enrollment's
# certificate, when the serial is reserved and the token claimed but
# nothing is stored. At the next start ca-server reconciles: the serial
# is burned (listed as such, audited, answered "unknown" by OCSP, never
# reissued) and the token is usable again -- exactly once: the device
# enrolls with it, a second use is refused token_used. A reservation
# ca-admin made moments ago (it may be in flight) is left alone, and
# ca-admin never reconciles.
. "$(dirname "$0")/lib.sh"

need openssl curl jq
must "the PKCS#11 shim is built (make check builds it)" test -r "${P11SHIM:-}"
instance

SHIM_MODULE=$(softhsm_module)
SHIM_FAULT_FILE="$T/faults"
export SHIM_MODULE SHIM_FAULT_FILE
sed -i "s|^module = .*|module = $P11SHIM|" "$T/ca/ca.conf"
: >"$SHIM_FAULT_FILE"

admin token create --profile client --identity '{"userId":5}' --ttl 1h >"$T/tok.out" 2>>"$LOG"
TOK=$(sed -n 's/^token: //p' "$T/tok.out")
TID=$(sed -n 's/^id: //p' "$T/tok.out")
csr dev
jq -n --arg t "$TOK" --rawfile c "$T/dev.csr" '{token: $t, csr: $c}' >"$T/enroll.json"
enroll() {
	curl -sS --max-time 20 --cacert "$ROOT" -o "$T/body" -w '%{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$T/enroll.json" \
	    "$SBASE/api/v1/enroll" 2>>"$LOG"
}
token_field() {
	admin token list --json 2>>"$LOG" | jq -r --arg id "$TID" ".[] | select(.id == \$id) | $1"
}

must "ca-server starts" start_server_https
# Let the start-up signing (CRLs, OCSP responses) finish first.
i=0
while [ $i -lt 100 ] && ! grep -q "responses re-signed" "$SERVER_LOG"; do
	sleep 0.1; i=$((i + 1))
done
printf 'sign:kill:1\n' >"$SHIM_FAULT_FILE"
# ca-server is three processes (docs/architecture.md): the shim kills
# the engine, which signs, and the front answers 503. The supervisor,
# held meanwhile, would start a new engine (which reconciles at once):
# killed too, the whole server has crashed, as one process did before.
kill -STOP "$SERVER_PID"
c=$(enroll)
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
st=$?
SERVER_PID=
eq "ca-server's engine died after the HSM signed, before the record (503)" \
    "$c:$(jq -r .error "$T/body" 2>/dev/null):$st" "503:engine_unavailable:137"
eq "the kill was consumed" "$(cat "$SHIM_FAULT_FILE")" "sign:kill:0"
: >"$SHIM_FAULT_FILE"

# What the crash left: a claimed token and a reserved serial.
eq "the token is stranded: claimed" "$(token_field .state)" claimed
S=$(token_field .serial)
[ -n "$S" ] && [ "$S" != null ] && ok "the claim names serial $S" || not_ok "the claim names a serial"
eq "its serial is reserved" "$(admin list --status reserved --json 2>>"$LOG" | jq -r '.[].serial')" "$S"

# ca-admin beside no server reconciles nothing (only ca-server does, at start).
admin list >/dev/null 2>>"$LOG"
admin crl publish >>"$LOG" 2>&1
eq "ca-admin leaves the claim alone" "$(token_field .state)" claimed

# A reservation of ca-admin's own, made just now (ca-admin killed after
# the HSM signed): as young as it is it might be in flight, so it stays.
csr fresh
printf 'sign:kill:1\n' >"$SHIM_FAULT_FILE"
admin issue --profile client --csr "$T/fresh.csr" --identity '{"userId":6}' >/dev/null 2>>"$LOG"
eq "ca-admin issue was killed after signing" "$?" 137
: >"$SHIM_FAULT_FILE"
eq "two reservations now" "$(admin list --status reserved --json 2>>"$LOG" | jq length)" 2

must "ca-server starts again" start_server_https
has "the start-up reconcile is logged" "$SERVER_LOG" \
    "reconcile: 1 reserved serials burned, 1 tokens usable again, 1 recent reservations left"
eq "ca-admin's young reservation is left reserved" \
    "$(admin list --status reserved --json 2>>"$LOG" | jq -r '.[].identity')" '{"userId":6}'

eq "the token is usable again" "$(token_field .state)" unused
eq "its record keeps the burned serial" "$(token_field '.burned | join(",")')" "$S"
admin list --status burned --json >"$T/burned.json" 2>>"$LOG"
eq "list --status burned shows the serial" "$(jq -r '.[].serial' "$T/burned.json")" "$S"
admin show --serial "$S" --json >"$T/show.json" 2>>"$LOG"
eq "show says burned" "$(jq -r .status "$T/show.json")" burned
check "the audit chain verifies" admin audit verify
admin audit list --json >"$T/audit.json" 2>>"$LOG"
eq "audited: serial-burn of the serial, by ca-server" \
    "$(jq -r '.[] | select(.action == "serial-burn") | "\(.actor) \(.detail | fromjson | .serial)"' "$T/audit.json")" "ca-server $S"
eq "audited: token-reclaim of the token" \
    "$(jq -r '.[] | select(.action == "token-reclaim") | (.detail | fromjson | .token_id)' "$T/audit.json")" "$TID"

# The device retries with the same token: one certificate, once.
c=$(enroll)
eq "the same token enrolls after the restart" "$c" 200
NS=$(jq -r .serial "$T/body")
[ -n "$NS" ] && [ "$NS" != "$S" ] && ok "with a new serial ($NS)" || not_ok "with a new serial"
eq "the token is now used, for that serial" "$(token_field '.state + " " + .serial')" "used $NS"
c=$(enroll)
eq "a second use is refused (403)" "$c" 403
eq "... token_used" "$(jq -r .error "$T/body")" token_used
refuse "a burned serial cannot be revoked" admin revoke --serial "$S"
eq "the burned serial is still burned, and the only record with it" \
    "$(admin list --status all --json 2>>"$LOG" | jq -r --arg s "$S" '[.[] | select(.serial == $s) | .status] | join(",")')" burned
openssl ocsp -issuer "$CA/issuing.crt" -serial "0x$S" -url "$BASE/ocsp" \
    -CAfile "$CA/chain.pem" -timeout 10 >"$T/ocsp.txt" 2>>"$LOG"
has "OCSP: the burned serial is unknown (never issued)" "$T/ocsp.txt" ": unknown"

eq "one serial burned in all" "$(admin list --status burned --json 2>>"$LOG" | jq length)" 1
stop_server

# A restart reconciles nothing more.
must "ca-server starts a third time" start_server_https
has "nothing more is burned the second time" "$SERVER_LOG" "reconcile: 0 reserved serials burned"
stop_server

done_testing
