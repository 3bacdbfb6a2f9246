#!/bin/bash
# Crash safety (DESIGN.md section 3): enrollments and revocations run
# against ca-server over HTTPS while it is SIGKILLed at random points,
# CYCLES times, restarted each time; before each of those starts it is
# also SIGKILLed during start-up (at a random point of the first 200 ms
# after spawn), every third cycle ends in a shutdown that is cut short
# (SIGTERM under load, then SIGKILL 0 to 99 ms into the shutdown), and
# ca-admin (revoke, crl publish, list, token create) runs beside it all
# along. Afterwards every certificate a client
# received is in the store and answered by OCSP (revoked if its
# revocation was acknowledged), no serial or token was used twice, no
# token is left claimed (ca-server's start reconciles them), no CRL
# number served or written ever went down, both CA tokens are still
# initialised and their keys sign, and the audit chain verifies. Prints
# one line of counts.
#
# 127.0.0.1 only; every client call is bounded (curl --max-time), the
# whole run by CRASH_SECONDS, every server is stopped by PID. bash for
# $RANDOM and SECONDS.
. "$(dirname "$0")/lib.sh"

CYCLES=${CRASH_CYCLES:-30}
STARTUP_KILLS=${CRASH_STARTUP_KILLS:-$CYCLES}
DEADLINE=$((SECONDS + ${CRASH_SECONDS:-900}))
WORKERS=3
PER_WORKER=4		# tokens a worker may use in one cycle

need openssl curl jq softhsm2-util
instance
PUB="$T/ca/publish"
mkdir -p "$T/acks" "$T/revs" "$T/tok" "$T/seq" "$T/cnt"

# The CA tokens as SoftHSM sees them: "label serial initialised pin-set".
hsm_tokens() {
	SOFTHSM2_CONF="$T/ca/hsm/softhsm2.conf" softhsm2-util --show-slots 2>>"$LOG" |
	    awk '/Serial number:/ { s = $3 } /^ *Initialized:/ { i = $2 }
	         /User PIN init/ { u = $4 } /Label:/ && $2 ~ /^lanyard-/ { print $2, s, i, u }' | sort
}
hsm_tokens >"$T/hsm.before"

# One CSR per worker: what is being tested is the server, not key making.
w=0
while [ $w -lt $WORKERS ]; do
	csr "w$w"
	jq -n --rawfile c "$T/w$w.csr" '$c' >"$T/w$w.csrjson"
	w=$((w + 1))
done
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1 || bail "admin certificate"

# Every token up front, each for its own identity (userId = its number).
total=$((CYCLES * WORKERS * PER_WORKER))
i=1
while [ $i -le $total ]; do
	admin token create --profile client --identity "{\"platform\":\"linux\",\"userId\":$((1000 + i))}" \
	    --ttl 1h 2>>"$LOG" | sed -n 's/^token: *//p' >"$T/tok/$i"
	i=$((i + 1))
done
[ -s "$T/tok/$total" ] && ok "$total tokens made" || not_ok "$total tokens made"

# enroller FIRST: uses tokens FIRST.. in turn; an acknowledged enrollment
# (200 and a certificate) is kept in acks/N.json. Stops at the first
# transport failure: the server is gone.
enroller() {
	k=$1
	last=$(($1 + PER_WORKER - 1))
	csrj=$2
	while [ "$k" -le "$last" ]; do
		body=$(printf '{"token":"%s","csr":%s}' "$(cat "$T/tok/$k")" "$(cat "$csrj")")
		c=$(curl -sS --max-time 5 --cacert "$CA/root.crt" -o "$T/acks/.$k" \
		    -w '%{http_code}' -H 'Content-Type: application/json' \
		    -d "$body" "$SBASE/api/v1/enroll" 2>/dev/null)
		case $c in
		200) jq -e '.certificate and .serial' "$T/acks/.$k" >/dev/null 2>&1 &&
		     mv "$T/acks/.$k" "$T/acks/$k.json" ;;
		000) rm -f "$T/acks/.$k"; return 0 ;;
		*) echo "enroll $k: $c $(cat "$T/acks/.$k")" >>"$LOG"; rm -f "$T/acks/.$k" ;;
		esac
		k=$((k + 1))
	done
}

# revoker: revokes acknowledged certificates of earlier cycles, one in
# three; an acknowledged revocation is kept in revs/SERIAL.
revoker() {
	for f in "$T"/acks/*.json; do
		[ -e "$f" ] || return 0
		n=$(basename "$f" .json)
		[ $((n % 3)) -eq 0 ] || continue
		s=$(jq -r .serial "$f")
		[ -e "$T/revs/$s" ] && continue
		c=$(curl -sS --max-time 5 --cacert "$CA/root.crt" --cert "$T/adm.crt" \
		    --key "$T/adm.key" -o /dev/null -w '%{http_code}' \
		    -H 'Content-Type: application/json' -d '{"reason":"superseded"}' \
		    "$SBASE/api/v1/certificates/$s/revoke" 2>/dev/null)
		case $c in
		200) : >"$T/revs/$s" ;;
		000) return 0 ;;
		*) echo "revoke $s: $c" >>"$LOG" ;;
		esac
	done
}

crl_number() {
	curl -sS --max-time 5 "$BASE/crl/issuing.crl" 2>/dev/null |
	    openssl crl -inform DER -noout -crlnumber 2>/dev/null |
	    sed -n 's/^crlNumber=0x//p'
}
# The CRL number of a DER file in decimal, nothing if it does not read.
file_number() {
	h=$(openssl crl -inform DER -in "$1" -noout -crlnumber 2>/dev/null |
	    sed -n 's/^crlNumber=0x//p')
	[ -n "$h" ] && echo $((16#$h))
}

# admin_loop: ca-admin beside the server, all along: revokes acknowledged
# certificates (those the HTTP revoker leaves, n % 3 == 1), publishes the
# CRLs, lists, makes tokens; counts in cnt/, revocations in revs/.
admin_loop() {
	k=0
	while [ -e "$T/running" ] && [ $SECONDS -lt $DEADLINE ]; do
		k=$((k + 1))
		case $((k % 4)) in
		0)	for f in "$T"/acks/*.json; do
				[ -e "$f" ] || break
				n=$(basename "$f" .json)
				[ $((n % 3)) -eq 1 ] || continue
				s=$(jq -r .serial "$f")
				[ -e "$T/revs/$s" ] && continue
				admin revoke --serial "$s" --reason superseded >>"$T/admin.log" 2>&1 &&
				    : >"$T/revs/$s" && echo >>"$T/cnt/revoke"
				break
			done ;;
		1)	admin crl publish >>"$T/admin.log" 2>&1 && echo >>"$T/cnt/publish" ;;
		2)	admin list --json >/dev/null 2>>"$T/admin.log" && echo >>"$T/cnt/list" ;;
		3)	admin token create --profile client --identity "{\"userId\":$((90000 + k))}" \
			    --ttl 1h >/dev/null 2>>"$T/admin.log" && echo >>"$T/cnt/token" ;;
		esac
	done
}
# crl_reader: the published CRL files, again and again, into seq/.
crl_reader() {
	while [ -e "$T/running" ] && [ $SECONDS -lt $DEADLINE ]; do
		for f in issuing issuing-delta root; do
			cp "$PUB/$f.crl" "$T/r.$f" 2>/dev/null &&
			    file_number "$T/r.$f" >>"$T/seq/file-$f"
		done
		sleep 0.05
	done
}

# startup_kill: spawns ca-server and SIGKILLs it after 0 to 199 ms.
# Counts a kill during start-up only if it had not said it was
# listening yet (it had not finished starting) and was still running.
startup_kill() {
	SERVER_STARTS=$(( ${SERVER_STARTS:-0} + 1 ))
	sl="$T/server.$SERVER_STARTS.log"
	"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https 127.0.0.1:0 >"$sl" 2>&1 &
	SERVER_PID=$!
	sleep "$(printf '0.%03d' $((RANDOM % 200)))"
	if kill -KILL "$SERVER_PID" 2>/dev/null; then
		if grep -q "listening on http://" "$sl"; then
			echo >>"$T/cnt/startup-late"
		else
			echo >>"$T/cnt/startup"
		fi
	else
		echo >>"$T/cnt/startup-exited"
		tail -n 3 "$sl" >>"$LOG"
	fi
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}
count() { if [ -e "$T/cnt/$1" ]; then wc -l <"$T/cnt/$1"; else echo 0; fi; }

# tokens_destroyed: sets destroyed to the CA tokens that are gone, no
# longer initialised or another token (serial), or whose key does not
# sign (a CRL of each CA, made now, must verify with its certificate).
tokens_destroyed() {
	hsm_tokens >"$T/hsm.after"
	destroyed=$(join -v 1 "$T/hsm.before" "$T/hsm.after" | wc -l)
	destroyed=$((destroyed + $(awk '$3 != "yes" || $4 != "yes"' "$T/hsm.after" | wc -l)))
	rm -f "$PUB/root.crl" "$PUB/issuing.crl"
	admin crl publish >>"$LOG" 2>&1
	openssl crl -inform DER -in "$PUB/root.crl" -CAfile "$CA/root.crt" -noout 2>&1 |
	    grep -q "verify OK" || destroyed=$((destroyed + 1))
	openssl crl -inform DER -in "$PUB/issuing.crl" -CAfile "$CA/chain.pem" -noout 2>&1 |
	    grep -q "verify OK" || destroyed=$((destroyed + 1))
	echo "CA tokens before and after:" >>"$LOG"
	cat "$T/hsm.before" "$T/hsm.after" >>"$LOG"
}

# ---- the cycles -----------------------------------------------------------
cycle=0
started=0
nums=""
next=1
: >"$T/running"
admin_loop & APID=$!
crl_reader & RPID=$!
while [ $cycle -lt $CYCLES ] && [ $SECONDS -lt $DEADLINE ]; do
	cycle=$((cycle + 1))
	[ "$cycle" -le "$STARTUP_KILLS" ] && startup_kill
	start_server_https || { echo "cycle $cycle: no start" >>"$LOG"; continue; }
	started=$((started + 1))
	nums="$nums $(crl_number)"
	pids=""
	w=0
	while [ $w -lt $WORKERS ]; do
		enroller "$next" "$T/w$w.csrjson" &
		pids="$pids $!"
		next=$((next + PER_WORKER))
		w=$((w + 1))
	done
	revoker &
	pids="$pids $!"
	# A random point in the first 0.05 to 0.75 s of load.
	sleep "0.$(printf '%02d' $((5 + RANDOM % 71)))"
	if [ $((cycle % 3)) -eq 0 ]; then
		# A shutdown cut short: SIGTERM under load, SIGKILL into it.
		kill -TERM "$SERVER_PID" 2>/dev/null
		sleep "$(printf '0.%03d' $((RANDOM % 100)))"
		if kill -KILL "$SERVER_PID" 2>/dev/null; then
			echo >>"$T/cnt/shutdown"
		else
			echo >>"$T/cnt/shutdown-done"
		fi
	else
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
	# shellcheck disable=SC2086
	wait $pids
done
rm -f "$T/running"
wait $APID $RPID
eq "ca-server was killed and restarted $CYCLES times" "$started" "$CYCLES"
skills=$(count startup)
[ "$skills" -gt 0 ] && ok "ca-server was killed during start-up ($skills times; $(count startup-late) more came after it was up)" ||
    not_ok "ca-server was killed during start-up"
eq "every spawned ca-server was still running when killed" "$(count startup-exited)" 0
# Whether a kill lands inside the shutdown is chance; that shutdowns were
# cut at all is not, and the invariants below must hold either way.
[ $(( $(count shutdown) + $(count shutdown-done) )) -gt 0 ] &&
    ok "shutdowns were cut short by SIGKILL ($(count shutdown) inside, $(count shutdown-done) after the end)" ||
    not_ok "shutdowns were cut short by SIGKILL"
[ "$(count publish)" -gt 0 ] && [ "$(count list)" -gt 0 ] && [ "$(count token)" -gt 0 ] &&
    ok "ca-admin ran beside: $(count revoke) revoke, $(count publish) crl publish, $(count list) list, $(count token) token create" ||
    not_ok "ca-admin ran beside the server"

# ---- the invariants -------------------------------------------------------
admin token list --json >"$T/tokens.before" 2>>"$LOG"
claimed_before=$(jq '[.[] | select(.state == "claimed")] | length' "$T/tokens.before")
if ! start_server_https; then
	not_ok "ca-server starts after the crashes"
	tokens_destroyed
	eq "both CA tokens are still initialised and their keys sign (tokens destroyed)" "$destroyed" 0
	echo "# counts: kills during start-up=$skills, kills under load=$started (shutdowns among them: $(count shutdown)), acknowledged enrollments=$(ls "$T"/acks/*.json 2>/dev/null | wc -l), revocations=$(ls "$T/revs" | wc -l), lost=?, tokens stranded=? (claimed before the reconcile: $claimed_before), CRL regressions=?, tokens destroyed=$destroyed"
	done_testing
	exit 0
fi
nums="$nums $(crl_number)"
admin list --json --status all >"$T/list.json" 2>>"$LOG"
admin token list --json >"$T/tokens.json" 2>>"$LOG"
stranded=$(jq '[.[] | select(.state == "claimed")] | length' "$T/tokens.json")

acked=0 lost=0 notgood=0 notrevoked=0
jq -r '.[] | "\(.serial) \(.status)"' "$T/list.json" >"$T/status.txt"
: >"$T/acked.serials"
mkdir -p "$T/pem"
for f in "$T"/acks/*.json; do
	[ -e "$f" ] || continue
	acked=$((acked + 1))
	s=$(jq -r .serial "$f")
	echo "$s" >>"$T/acked.serials"
	jq -r .certificate "$f" >"$T/pem/$s.pem"
	st=$(sed -n "s/^$s //p" "$T/status.txt")
	case $st in
	valid|revoked) ;;
	*) lost=$((lost + 1)); echo "lost: $s (store says '$st')" >>"$LOG" ;;
	esac
done
# OCSP, eight certificates a request: "FILE: good|revoked|unknown".
: >"$T/ocsp.txt"
set -- "$T"/pem/*.pem
while [ $# -gt 0 ] && [ -e "$1" ]; do
	args=""
	k=0
	while [ $# -gt 0 ] && [ $k -lt 8 ]; do
		args="$args -cert $1"
		shift
		k=$((k + 1))
	done
	# shellcheck disable=SC2086
	openssl ocsp -issuer "$CA/issuing.crt" $args -url "$BASE/ocsp" \
	    -CAfile "$CA/chain.pem" -timeout 5 2>>"$LOG" |
	    sed -n 's|^.*/pem/\([0-9A-F]*\)\.pem: \(.*\)$|\1 \2|p' >>"$T/ocsp.txt"
done
while read -r s; do
	o=$(sed -n "s/^$s //p" "$T/ocsp.txt")
	if [ -e "$T/revs/$s" ]; then
		[ "$o" = revoked ] || { notrevoked=$((notrevoked + 1)); echo "not revoked: $s: $o" >>"$LOG"; }
	else
		case $o in good|revoked) ;; *) notgood=$((notgood + 1)); echo "ocsp: $s: '$o'" >>"$LOG" ;; esac
	fi
done <"$T/acked.serials"
revs=$(ls "$T/revs" | wc -l)
dups=$(sort "$T/acked.serials" | uniq -d | wc -l)
sdups=$(jq -r '.[].serial' "$T/list.json" | sort | uniq -d | wc -l)
# One certificate per token identity, whatever the crashes did.
idups=$(jq -r '.[] | select(.status != "reserved" and .status != "burned") | .identity // empty' "$T/list.json" |
    grep '"userId":1[0-9][0-9][0-9]' | sort | uniq -d | wc -l)
# A token used (or claimed) names one serial, and no serial two tokens.
tdups=$(jq -r '.[] | select(.serial) | .serial' "$T/tokens.json" | sort | uniq -d | wc -l)
tbad=$(jq -r --slurpfile l "$T/list.json" \
    '.[] | select(.state == "used") | .serial as $s |
     select([$l[0][] | select(.serial == $s and (.status == "valid" or .status == "revoked"))] | length != 1) | .id' \
    "$T/tokens.json" | wc -l)

# CRL numbers: strictly up across restarts (each start makes one), and
# never down in what was read from the published files.
inc=0 prev=-1
for h in $nums; do
	v=$((16#$h))
	# Equal is fine: a start with nothing due makes no CRL.
	[ "$v" -ge "$prev" ] || inc=$((inc + 1))
	prev=$v
done
fback=0
for f in "$T"/seq/file-*; do
	[ -e "$f" ] || continue
	b=$(awk 'NF { if (seen && $1 < prev) b++; prev = $1; seen = 1 } END { print b + 0 }' "$f")
	fback=$((fback + b))
done
nfile=$(cat "$T"/seq/file-* 2>/dev/null | grep -c .)
tokens_destroyed
# What the start-up reconciles did over the run (the audit log says).
admin audit list --json >"$T/audit.json" 2>>"$LOG"
reclaimed=$(jq '[.[] | select(.action == "token-reclaim")] | length' "$T/audit.json")
burned=$(jq '[.[] | select(.action == "serial-burn")] | length' "$T/audit.json")
lburned=$(jq '[.[] | select(.status == "burned")] | length' "$T/list.json")

echo "# cycles=$started acknowledged=$acked revocations=$revs lost=$lost duplicates=$((dups + sdups + idups + tdups))"
echo "# counts: kills during start-up=$skills, kills under load=$((started - $(count shutdown) - $(count shutdown-done))), kills during shutdown=$(count shutdown) (+$(count shutdown-done) after it had ended), acknowledged enrollments=$acked, revocations=$revs, lost=$lost, tokens stranded=$stranded (claimed before the last start: $claimed_before; given back by start-up reconciles: $reclaimed, serials burned: $burned), CRL regressions=$((inc + fback)) ($nfile CRL files read), tokens destroyed=$destroyed"
[ "$acked" -gt 0 ] && ok "clients received certificates across the crashes ($acked)" ||
    not_ok "clients received certificates across the crashes"
eq "every certificate a client received is in the store (lost)" "$lost" 0
eq "OCSP answers good or revoked for each of them" "$notgood" 0
eq "OCSP answers revoked for each acknowledged revocation ($revs)" "$notrevoked" 0
eq "no serial was acknowledged twice" "$dups" 0
eq "no serial is stored twice" "$sdups" 0
eq "no token identity has two certificates" "$idups" 0
eq "no serial is claimed by two tokens" "$tdups" 0
eq "every used token names one stored certificate" "$tbad" 0
eq "no token is left claimed after the restart (tokens stranded; $claimed_before before it)" "$stranded" 0
eq "every serial-burn in the audit log is a burned record" "$lburned" "$burned"
eq "the CRL number never went down across $started restarts" "$inc" 0
[ "$nfile" -gt 0 ] && ok "published CRL files read during the run ($nfile)" || not_ok "published CRL files read during the run"
eq "no CRL number read from the published files went down" "$fback" 0
eq "both CA tokens are still initialised and their keys sign (tokens destroyed)" "$destroyed" 0
check "the audit chain verifies" admin audit verify
stop_server

done_testing
