#!/bin/bash
# ca-server's processes (docs/architecture.md): a supervisor, a front that
# never loads the PKCS#11 module nor opens a PIN file, and an engine.
# One server per instance (the lock file names the holder); a server
# whose port is taken exits before it does any work; ca-admin works
# beside a running server. Under enrollment and OCSP load the engine,
# then the front, is SIGKILLed by PID: while the engine is away
# enrollment answers 503 engine_unavailable with Retry-After and OCSP and
# CRLs are still served; each is restarted and serves again on the same
# ports; nothing acknowledged is lost and no serial is used twice
# (DESIGN.md section 3). bash for $RANDOM.
. "$(dirname "$0")/lib.sh"

need curl jq openssl python3
instance
mkdir -p "$T/acks" "$T/tok"

# pids: FRONT and ENGINE from the server's log (the last started of each).
pids() {
	FRONT=$(sed -n 's/.*front started (pid \([0-9]*\)).*/\1/p' "$SERVER_LOG" | tail -n 1)
	ENGINE=$(sed -n 's/.*engine started (pid \([0-9]*\)).*/\1/p' "$SERVER_LOG" | tail -n 1)
}
# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() {
	lim=$(($1 * 10)); shift
	i=0
	while [ $i -lt $lim ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
audits() { admin audit list --json 2>>"$LOG" | jq length; }
crl_number() {
	curl -sS --max-time 5 "$BASE/crl/issuing.crl" 2>/dev/null |
	    openssl crl -inform DER -noout -crlnumber 2>/dev/null | sed -n 's/^crlNumber=//p'
}

# ---- bind first: a taken port stops the start before any work -----------
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/port" &
HOLDER=$!
wait_for 5 test -s "$T/port"
PORT=$(cat "$T/port")
n0=$(audits)
"$CA_SERVER" --dir "$T/ca" --http "127.0.0.1:$PORT" --https off >"$T/taken.log" 2>&1
rc=$?
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
eq "a server whose port is taken exits 1" "$rc" 1
has "... saying which address" "$T/taken.log" \
    "http://127.0.0.1:$PORT: Failed to bind to port $PORT: Address already in use"
eq "... before any work: nothing audited (no CRL made)" "$(audits)" "$n0"
lacks "... and no engine was started" "$T/taken.log" "engine started"

# ---- the processes -------------------------------------------------------
csr adm
admin issue --profile admin --csr "$T/adm.csr" --identity '{"userId":1}' \
    --out "$T/adm.crt" >>"$LOG" 2>&1 || not_ok "admin certificate"
must "ca-server starts" start_server_https
pids
[ -n "$FRONT" ] && [ -n "$ENGINE" ] && [ "$FRONT" != "$ENGINE" ] &&
    ok "a front ($FRONT) and an engine ($ENGINE)" || not_ok "a front and an engine"
eq "the front is the supervisor's child" "$(awk '{print $4}' /proc/"$FRONT"/stat)" "$SERVER_PID"
eq "the engine is the supervisor's child" "$(awk '{print $4}' /proc/"$ENGINE"/stat)" "$SERVER_PID"

if grep -q softhsm /proc/"$ENGINE"/maps; then ok "the engine has the PKCS#11 module loaded"
else not_ok "the engine has the PKCS#11 module loaded"; fi
if grep -q softhsm /proc/"$FRONT"/maps; then not_ok "the front never loaded the PKCS#11 module"
else ok "the front never loaded the PKCS#11 module"; fi
if ls -l /proc/"$FRONT"/fd 2>/dev/null | grep -q '\.pin'; then not_ok "the front holds no PIN file open"
else ok "the front holds no PIN file open"; fi
for p in "$SERVER_PID" "$FRONT" "$ENGINE"; do
	eq "no core dumps (pid $p)" "$(awk '/^Max core file size/ {print $5}' /proc/"$p"/limits)" 0
done

# ---- one server per instance; ca-admin beside it --------------------------
"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https off >"$T/second.log" 2>&1
eq "a second ca-server on the instance exits 1" "$?" 1
has "... naming the PID that holds the lock" "$T/second.log" "another ca-server (pid $SERVER_PID)"
csr side
check "ca-admin issues beside the running server" \
    admin issue --profile client --csr "$T/side.csr" --identity '{"userId":77}' --out "$T/side.crt"
S_SIDE=$(openssl x509 -in "$T/side.crt" -noout -serial | sed 's/serial=//')
check "ca-admin revokes beside it" admin revoke --serial "$S_SIDE" --reason keyCompromise
openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/side.crt" -url "$BASE/ocsp" \
    -CAfile "$CA/chain.pem" -timeout 5 >"$T/side.ocsp" 2>>"$LOG"
has "... and the server's OCSP says revoked at once" "$T/side.ocsp" ": revoked"
check "ca-admin lists beside it" admin list --json

# ---- load, and the engine killed ---------------------------------------
csr w
jq -n --rawfile c "$T/w.csr" '$c' >"$T/w.csrjson"
total=40
i=1
while [ $i -le $total ]; do
	admin token create --profile client --identity "{\"userId\":$((2000 + i))}" \
	    --ttl 1h 2>>"$LOG" | sed -n 's/^token: *//p' >"$T/tok/$i"
	i=$((i + 1))
done
# enroll N: one enrollment with token N; prints the status; a 200 is
# kept in acks/N.json, the headers of a 503 in 503.N.
enroll() {
	body=$(printf '{"token":"%s","csr":%s}' "$(cat "$T/tok/$1")" "$(cat "$T/w.csrjson")")
	c=$(curl -sS --max-time 10 --cacert "$CA/root.crt" -D "$T/h.$1" -o "$T/acks/.$1" \
	    -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
	    "$SBASE/api/v1/enroll" 2>/dev/null)
	case $c in
	200) mv "$T/acks/.$1" "$T/acks/$1.json" ;;
	503) mv "$T/acks/.$1" "$T/503.$1"; mv "$T/h.$1" "$T/503h.$1" ;;
	esac
	rm -f "$T/acks/.$1" "$T/h.$1"
	echo "$c"
}
ocsp_ok() {
	openssl ocsp -issuer "$CA/issuing.crt" -cert "$T/adm.crt" -url "$BASE/ocsp" \
	    -CAfile "$CA/chain.pem" -no_nonce -timeout 5 2>/dev/null | grep -q ": good"
}
enroller() {
	k=$1
	while [ "$k" -le "$2" ]; do enroll "$k" >/dev/null; k=$((k + 1)); done
}
enroller 1 10 &
L1=$!
enroller 11 20 &
L2=$!
sleep "0.$(printf '%02d' $((10 + RANDOM % 60)))"
OLD_ENGINE=$ENGINE
kill -KILL "$ENGINE"
# While it is away: enrollment is 503, OCSP and CRLs are served.
got503=0 ocsp_during=1 crl_during=1
i=21
while [ $i -le 25 ]; do
	[ "$(enroll $i)" = 503 ] && got503=1
	ocsp_ok || ocsp_during=0
	[ -n "$(crl_number)" ] || crl_during=0
	i=$((i + 1))
	pids
	[ "$ENGINE" != "$OLD_ENGINE" ] && [ $got503 -eq 1 ] && break
done
wait $L1 $L2
f=$(ls "$T"/503.* 2>/dev/null | head -n 1)
if [ -n "$f" ]; then
	eq "with the engine killed, enrollment is 503 engine_unavailable" \
	    "$(jq -r .error "$f")" engine_unavailable
	h="$T/503h.${f##*.}"
	has "... with Retry-After" "$h" "Retry-After: "
else
	not_ok "with the engine killed, enrollment is 503 engine_unavailable"
	not_ok "... with Retry-After"
fi
eq "... OCSP is still answered (from the store)" "$ocsp_during" 1
eq "... and the CRL still served" "$crl_during" 1
restarted() { pids; [ -n "$ENGINE" ] && [ "$ENGINE" != "$OLD_ENGINE" ] &&
    grep -q "engine: ready (pid $ENGINE)" "$SERVER_LOG"; }
wait_for 20 restarted && ok "the supervisor restarted the engine" ||
    not_ok "the supervisor restarted the engine"
wait_for 20 test "$(enroll 26)" = 200 && ok "... and enrollment works again" ||
    not_ok "... and enrollment works again"

# ---- the front killed ---------------------------------------------------
enroller 27 33 &
L1=$!
sleep 0.2
OLD_FRONT=$FRONT
kill -KILL "$FRONT"
wait $L1
front_back() { pids; [ "$FRONT" != "$OLD_FRONT" ] && curl -sf --max-time 2 "$BASE/healthz"; }
wait_for 20 front_back && ok "the front was restarted, on the same HTTP port" ||
    not_ok "the front was restarted, on the same HTTP port"
wait_for 20 test "$(enroll 34)" = 200 && ok "... and enrolls on the same HTTPS port" ||
    not_ok "... and enrolls on the same HTTPS port"
eq "the engine lived on" "$ENGINE" "$(pids; echo "$ENGINE")"

# ---- SIGHUP and SIGTERM as before -----------------------------------------
kill -HUP "$SERVER_PID"
wait_for 20 grep -q "reloaded" "$SERVER_LOG" && ok "SIGHUP reloads" || not_ok "SIGHUP reloads"
wait_for 10 test "$(enroll 35)" = 200 && ok "... and it serves after" || not_ok "... and it serves after"

# ---- the invariants -------------------------------------------------------
admin list --json --status all >"$T/list.json" 2>>"$LOG"
acked=0 lost=0
: >"$T/acked"
for f in "$T"/acks/*.json; do
	[ -e "$f" ] || continue
	acked=$((acked + 1))
	s=$(jq -r .serial "$f")
	echo "$s" >>"$T/acked"
	st=$(jq -r --arg s "$s" '.[] | select(.serial == $s) | .status' "$T/list.json")
	[ "$st" = valid ] || { lost=$((lost + 1)); echo "lost: $s '$st'" >>"$LOG"; }
done
echo "# acknowledged=$acked"
[ "$acked" -gt 0 ] && ok "enrollments were acknowledged ($acked)" || not_ok "enrollments were acknowledged"
eq "nothing acknowledged was lost" "$lost" 0
eq "no serial was acknowledged twice" "$(sort "$T/acked" | uniq -d | wc -l)" 0
eq "no serial is stored twice" "$(jq -r '.[].serial' "$T/list.json" | sort | uniq -d | wc -l)" 0
eq "no token identity has two certificates" \
    "$(jq -r '.[] | select(.status != "reserved") | .identity // empty' "$T/list.json" |
    grep '"userId":2[0-9][0-9][0-9]' | sort | uniq -d | wc -l)" 0
check "the audit chain verifies" admin audit verify

pids
stop_server
eq "SIGTERM: exit 0" "$SERVER_STATUS" 0
gone=1
for p in $FRONT $ENGINE; do kill -0 "$p" 2>/dev/null && gone=0; done
eq "... and the front and the engine are gone" "$gone" 1
[ -e "$T/ca/ca-server.lock" ] && ok "the lock file is in the instance directory" ||
    not_ok "the lock file is in the instance directory"

# ---- started as root: the front becomes [server] user ------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "the front's user" "not root: there is no uid to drop"
	done_testing; exit 0
fi
cp "$T/ca/ca.conf" "$T/ca.conf.orig"
sed -i 's/^\[server\]$/[server]\nuser = lanyard-no-such-user/' "$T/ca/ca.conf"
"$CA_SERVER" --dir "$T/ca" --http 127.0.0.1:0 --https off >"$T/nouser.log" 2>&1
eq "a [server] user that does not exist: exit 1" "$?" 1
has "... saying so" "$T/nouser.log" "user lanyard-no-such-user: no such user"
sed -i 's/^user = lanyard-no-such-user$/user = nobody/' "$T/ca/ca.conf"
must "ca-server starts with user = nobody" start_server_https
pids
eq "the front runs as nobody" "$(awk '/^Uid:/ {print $2 $3 $4 $5}' /proc/"$FRONT"/status)" \
    "$(id -u nobody)$(id -u nobody)$(id -u nobody)$(id -u nobody)"
eq "... with no new privileges" "$(awk '/^NoNewPrivs:/ {print $2}' /proc/"$FRONT"/status)" 1
eq "... under a seccomp filter" "$(awk '/^Seccomp:/ {print $2}' /proc/"$FRONT"/status)" 2
eq "... and not dumpable" "$(awk '/^Max core file size/ {print $5}' /proc/"$FRONT"/limits)" 0
eq "the engine keeps its user" "$(awk '/^Uid:/ {print $2}' /proc/"$ENGINE"/status)" 0
ocsp_ok && ok "... the front serves OCSP" || not_ok "... the front serves OCSP"
wait_for 10 test "$(enroll 36)" = 200 && ok "... and enrollment" || not_ok "... and enrollment"
OLD_FRONT=$FRONT
kill -HUP "$SERVER_PID"
front_back() { pids; [ "$FRONT" != "$OLD_FRONT" ] && grep -q "front: confined (user nobody" "$SERVER_LOG" &&
    curl -sf --max-time 2 "$BASE/healthz"; }
wait_for 20 front_back && ok "SIGHUP: a new front as nobody, on the same port" ||
    not_ok "SIGHUP: a new front as nobody, on the same port"
wait_for 10 test "$(enroll 37)" = 200 && ok "... which enrolls" || not_ok "... which enrolls"
stop_server
eq "SIGTERM: exit 0" "$SERVER_STATUS" 0
cp "$T/ca.conf.orig" "$T/ca/ca.conf"
done_testing
