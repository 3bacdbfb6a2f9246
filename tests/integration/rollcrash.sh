#!/bin/bash
# An issuer rollover cut short at any moment must cost nothing: `ca-admin
# issuer rollover issuing` is SIGKILLed KILLS times at a random moment of
# its first WINDOW_MS (uniform: opening the instance, the key pair on the
# token, the root's signature, the registration, the certificate file,
# the new CA's CRLs and OCSP signer). After every kill the instance
# opens, its audit log verifies, and the registry and the token agree.
# At the end a rollover that is let run succeeds (no label left taken by
# a killed run blocks it), every generation the registry holds has its
# certificate file, is certified by the root and can sign: a certificate
# issued now verifies through the generation in force, and a CRL of
# every generation verifies with its key. Prints the counts.
#
# Bounded: KILLS runs of at most WINDOW_MS each, every command under
# timeout, no server. bash for $RANDOM.
. "$(dirname "$0")/lib.sh"

KILLS=${ROLLCRASH_KILLS:-20}
WINDOW_MS=${ROLLCRASH_WINDOW_MS:-300}

need openssl timeout
instance

killed=0 finished=0 broken=0
i=0
while [ $i -lt "$KILLS" ]; do
	i=$((i + 1))
	"$CA_ADMIN" --dir "$T/ca" issuer rollover issuing >>"$LOG" 2>&1 &
	pid=$!
	ms=$((RANDOM % WINDOW_MS))
	sleep "$(printf '0.%03d' "$ms")"
	if kill -KILL "$pid" 2>/dev/null; then
		killed=$((killed + 1))
	else
		finished=$((finished + 1))
	fi
	wait "$pid" 2>/dev/null
	# Whatever it was doing, the instance is whole.
	if ! timeout 60 "$CA_ADMIN" --dir "$T/ca" audit verify >>"$LOG" 2>&1 ||
	    ! timeout 60 "$CA_ADMIN" --dir "$T/ca" issuer list \
	    >"$T/list.txt" 2>>"$LOG"; then
		broken=$((broken + 1))
		echo "after kill $i (${ms} ms): the instance does not open" >>"$LOG"
	fi
done
taken=$(grep -c "the key an interrupted run made is taken" "$LOG")
debris=$(grep -c "left by an interrupted generation, removed" "$LOG")
repaired=$(grep -c "placeholder stored" "$LOG")
echo "# rollcrash: $KILLS runs, $killed killed, $finished had finished, $broken left the instance broken; keys a killed run left taken by the next: $taken (placeholders stored: $repaired), half-made objects removed: $debris"
eq "no kill left the instance broken" "$broken" 0
[ "$killed" -gt 0 ] && ok "some runs were killed" || not_ok "some runs were killed"

check "a rollover let run succeeds after them" \
    timeout 120 "$CA_ADMIN" --dir "$T/ca" issuer rollover issuing
admin issuer list >"$T/list.txt" 2>>"$LOG"
cat "$T/list.txt" >>"$LOG"
gens=$(awk '$2 == "issuing" { print $1 }' "$T/list.txt")
active=$(awk '$2 == "issuing" && $4 == "active" { print $1 }' "$T/list.txt")
eq "one generation of issuing is in force" "$(echo "$active" | wc -w)" 1
missing=0 unrooted=0
for g in $gens; do
	if [ ! -s "$T/ca/certs/$g.crt" ]; then
		missing=$((missing + 1)); echo "no certs/$g.crt" >>"$LOG"
	elif ! openssl verify -CAfile "$ROOT" "$T/ca/certs/$g.crt" >>"$LOG" 2>&1; then
		unrooted=$((unrooted + 1))
	fi
done
eq "every generation has its certificate file" "$missing" 0
eq "... certified by the root" "$unrooted" 0
csr leaf
check "a certificate issued now" admin issue --profile client \
    --csr "$T/leaf.csr" --identity '{"userId":1}' --out "$T/leaf.crt"
check "... verifies through the generation in force" openssl verify \
    -CAfile "$ROOT" -untrusted "$T/ca/certs/$active.crt" "$T/leaf.crt"
check "every generation signs its CRLs" admin crl publish
bad=0
for g in $gens; do
	openssl crl -inform DER -in "$T/ca/publish/$g.crl" -noout \
	    -CAfile "$T/ca/certs/$g.crt" >>"$LOG" 2>&1 || bad=$((bad + 1))
done
eq "... and each CRL verifies with its CA" "$bad" 0
check "the audit log verifies" admin audit verify
done_testing
