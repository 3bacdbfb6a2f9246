#!/bin/bash
# Crash safety (DESIGN.md section 3): enrollments and revocations run
# against ca-server over HTTPS while it is SIGKILLed at random points,
# CYCLES times, restarted each time. Afterwards every certificate a client
# received is in the store and answered by OCSP (revoked if its revocation
# was acknowledged), no serial or token was used twice, the CRL number
# only grew, and the audit chain verifies. Prints the counts.
#
# 127.0.0.1 only; every client call is bounded (curl --max-time), every
# server is stopped by PID. bash for $RANDOM.
. "$(dirname "$0")/lib.sh"

need openssl curl jq

CYCLES=${CRASH_CYCLES:-30}
WORKERS=3
PER_WORKER=4		# tokens a worker may use in one cycle

instance
mkdir -p "$T/acks" "$T/revs" "$T/tok"

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

# ---- the cycles -----------------------------------------------------------
cycle=0
started=0
nums=""
next=1
while [ $cycle -lt $CYCLES ]; do
	cycle=$((cycle + 1))
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
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
	# shellcheck disable=SC2086
	wait $pids
done
eq "ca-server was killed and restarted $CYCLES times" "$started" "$CYCLES"

# ---- the invariants -------------------------------------------------------
must "ca-server starts after the crashes" start_server_https
nums="$nums $(crl_number)"
admin list --json --status all >"$T/list.json" 2>>"$LOG"
admin token list --json >"$T/tokens.json" 2>>"$LOG"

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
idups=$(jq -r '.[] | select(.status != "reserved") | .identity // empty' "$T/list.json" |
    grep '"userId":1[0-9][0-9][0-9]' | sort | uniq -d | wc -l)
# A token used (or claimed) names one serial, and no serial two tokens.
tdups=$(jq -r '.[] | select(.serial) | .serial' "$T/tokens.json" | sort | uniq -d | wc -l)
tbad=$(jq -r --slurpfile l "$T/list.json" \
    '.[] | select(.state == "used") | .serial as $s |
     select([$l[0][] | select(.serial == $s and (.status == "valid" or .status == "revoked"))] | length != 1) | .id' \
    "$T/tokens.json" | wc -l)

echo "# cycles=$started acknowledged=$acked revocations=$revs lost=$lost duplicates=$((dups + sdups + idups + tdups))"
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
inc=0 prev=-1
for h in $nums; do
	v=$((16#$h))
	[ "$v" -gt "$prev" ] || inc=$((inc + 1))
	prev=$v
done
eq "the CRL number only grew across $started restarts" "$inc" 0
check "the audit chain verifies" admin audit verify
stop_server

done_testing
