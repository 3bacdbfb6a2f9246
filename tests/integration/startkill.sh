#!/bin/bash
# A crash must never cost the CA its key: ca-server is SIGKILLed KILLS
# times at a random moment of its first 200 ms (uniform; SoftHSM 2.6.1
# rewrites token.object at each login then, and a kill in between used
# to leave it empty for good), while ca-admin revokes, publishes CRLs and
# lists beside it in a loop. Every CHECK_EVERY kills and at the end:
# ca-server starts and answers /healthz 200, softhsm2-util shows both
# tokens initialised, ca-admin issues and publishes a CRL (both keys
# sign). Prints the counts: kills, restores done, tokens destroyed (0).
#
# Bounded: KILLS starts of at most 200 ms each, admin commands under
# timeout, every process stopped by PID. 127.0.0.1 only. bash for $RANDOM.
. "$(dirname "$0")/lib.sh"

KILLS=${STARTKILL_KILLS:-300}
CHECK_EVERY=${STARTKILL_CHECK_EVERY:-50}
WINDOW_MS=200

need openssl curl softhsm2-util flock timeout
instance
SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf"
GUARD="$T/ca/hsm/token.guard"
export SOFTHSM2_CONF

# Certificates for the admin loop to revoke, one per round.
csr leaf
i=1
while [ $i -le 20 ]; do
	admin issue --profile client --csr "$T/leaf.csr" \
	    --identity "{\"userId\":$i}" --out "$T/leaf$i.crt" >>"$LOG" 2>&1
	openssl x509 -in "$T/leaf$i.crt" -noout -serial 2>/dev/null |
	    sed 's/^serial=//' >>"$T/serials"
	i=$((i + 1))
done
eq "20 certificates to revoke" "$(wc -l <"$T/serials" | tr -d ' ')" 20

# admin_loop: revoke, crl publish, list, in turn, until $T/stop exists
# (at most 2000 commands). Each failure whose error names the token or
# the HSM is kept in admin.tokenfail: a concurrent ca-admin must always find it.
admin_loop() {
	k=0
	while [ ! -e "$T/stop" ] && [ $k -lt 2000 ]; do
		k=$((k + 1))
		case $((k % 3)) in
		0) s=$(sed -n "$(( (k / 3) % 20 + 1 ))p" "$T/serials")
		   set -- revoke --serial "$s" --reason superseded ;;
		1) set -- crl publish ;;
		2) set -- list ;;
		esac
		if timeout 30 "$CA_ADMIN" --dir "$T/ca" "$@" >/dev/null 2>"$T/admin.err"; then
			echo ok >>"$T/admin.count"
		else
			echo "fail: $*: $(tail -n 1 "$T/admin.err")" >>"$T/admin.count"
			# Revoking twice is refused, and that is right.
			tail -n 1 "$T/admin.err" | grep -qiE 'token|hsm|pkcs' &&
			    { echo "$*"; cat "$T/admin.err"; } >>"$T/admin.tokenfail"
		fi
		cat "$T/admin.err" >>"$T/admin.log"
	done
}

# tokens_ok: softhsm2-util shows both tokens initialised. Under the
# guard: SoftHSM itself reads token.object while a Lanyard process may be
# rewriting it (a login of the admin loop).
tokens_ok() {
	flock -x "$GUARD" softhsm2-util --show-slots >"$T/slots" 2>&1 || return 1
	for l in lanyard-root lanyard-issuing; do
		awk -v l="$l" '/^Slot/ { tok = 0; init = pin = "" }
		    /Token info:/ { tok = 1 }
		    tok && /Initialized:/ { init = $2 }
		    tok && /User PIN init/ { pin = $4 }
		    tok && /Label:/ && $2 == l && init == "yes" && pin == "yes" { f = 1 }
		    END { exit !f }' "$T/slots" ||
		    { echo "token $l not initialised:" >>"$LOG"; cat "$T/slots" >>"$LOG"; return 1; }
	done
}

destroyed=0
checkpoint() {
	at=$1
	if start_server && curl -sf --max-time 10 -o /dev/null "$BASE/healthz"; then
		ok "after $at kills: ca-server starts, /healthz 200"
	else
		not_ok "after $at kills: ca-server starts, /healthz 200"
	fi
	stop_server
	if tokens_ok; then ok "after $at kills: both tokens initialised"
	else not_ok "after $at kills: both tokens initialised"; destroyed=$((destroyed + 1)); fi
	check "after $at kills: the issuing key signs (ca-admin issue)" \
	    admin issue --profile client --csr "$T/leaf.csr" \
	    --identity "{\"userId\":$((100 + at))}" --out "$T/cp$at.crt"
	check "after $at kills: both keys sign (ca-admin crl publish)" \
	    admin crl publish
}

admin_loop &
ADMIN_PID=$!
stop_admin() {
	: >"$T/stop"
	[ -n "${ADMIN_PID:-}" ] && wait "$ADMIN_PID" 2>/dev/null
	ADMIN_PID=
}
trap 'stop_admin; cleanup' EXIT

kills=0
start=$(date +%s)
while [ $kills -lt "$KILLS" ]; do
	d=$((RANDOM % (WINDOW_MS + 1)))
	"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https off >>"$T/kill.log" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	[ $((kills % CHECK_EVERY)) -eq 0 ] && checkpoint $kills
done
stop_admin
secs=$(( $(date +%s) - start ))
[ $((kills % CHECK_EVERY)) -eq 0 ] || checkpoint $kills

# Restores: what the guard logged (ca-server, the admin loop, the checks).
restores=$(cat "$T"/kill.log "$T"/admin.log "$T"/server.*.log "$LOG" 2>/dev/null |
    grep -c 'HSM TOKEN RESTORED')
audited=$(admin audit list 2>/dev/null | grep -c hsm_token_restored)
admin_ok=$(grep -c '^ok' "$T/admin.count" 2>/dev/null)
admin_tok=$(grep -c . "$T/admin.tokenfail" 2>/dev/null)
echo "# kills: $kills in ${secs}s; restores done: $restores (audited: $audited);" \
    "tokens destroyed: $destroyed; ca-admin beside: ${admin_ok:-0} ok," \
    "${admin_tok:-0} lines of token/HSM failures"
eq "$kills kills, tokens destroyed" "$destroyed" 0
eq "a concurrent ca-admin always found the tokens" "${admin_tok:-0}" 0
if [ "${admin_ok:-0}" -gt 0 ]; then ok "ca-admin ran beside the kills ($admin_ok commands)"
else not_ok "ca-admin ran beside the kills"; fi
# Each restore recorded before it is made, and audited by the next
# process if the one that made it was killed first: at least once.
pending=$(ls "$T/ca/hsm/token.restores" 2>/dev/null | grep -vc '\.tmp\.')
if [ "$audited" -ge "$restores" ] && [ "$pending" -eq 0 ]; then
	ok "every restore audited ($audited entries, $restores restores, $pending pending)"
else
	not_ok "every restore audited ($audited entries, $restores restores, $pending pending)"
	ls -l "$T/ca/hsm/token.restores" | sed 's/^/# /'
fi
check "audit chain intact" admin audit verify
[ -s "$T/admin.tokenfail" ] && head -n 20 "$T/admin.tokenfail" | sed 's/^/# /'
done_testing
