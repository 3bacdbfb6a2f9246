#!/bin/sh
# The newcomer's path through the three programs: --help and --version
# everywhere (status 0, on stdout), --dir before or after the command, a
# directory that is not an instance named as such, output paths checked
# before anything changes (and the serial named), errors that list what is
# allowed, ca-enroll naming a network failure at once, and manual pages
# that list the options --help lists.
. "${top_srcdir:-.}/tests/integration/lib.sh"

need openssl curl unshare
CA_ENROLL="$top_builddir/ca-enroll"
MAN="$top_srcdir/man"
unset LANYARD_DIR

# help_ok DESC CMD...: status 0, the usage on stdout, nothing on stderr.
help_ok() {
	desc=$1; shift
	"$@" >"$T/help.out" 2>"$T/help.err"
	rc=$?
	cat "$T/help.out" "$T/help.err" >>"$LOG"
	if [ "$rc" -eq 0 ] && grep -q '^usage: ' "$T/help.out" &&
	    [ ! -s "$T/help.err" ]; then ok "$desc"
	else echo "exit status $rc" >>"$LOG"; not_ok "$desc"; fi
}

# ---- --help and --version --------------------------------------------------
help_ok "ca-admin --help" "$CA_ADMIN" --help
help_ok "ca-server --help" "$CA_SERVER" --help
help_ok "ca-enroll --help" "$CA_ENROLL" --help
help_ok "ca-enroll renew --help" "$CA_ENROLL" renew --help
has "ca-enroll --help shows --force for enroll too" "$T/help.out" "--force"
for p in ca-admin ca-server ca-enroll; do
	"$top_builddir/$p" --version >"$T/v.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q "^$p (lanyard) [0-9]" "$T/v.out"; then
		ok "$p --version"
	else
		cat "$T/v.out" >>"$LOG"; not_ok "$p --version"
	fi
done

CMDS="config init issue reissue revoke list show token_create token_list
token_revoke audit_verify audit_list crl_publish ocsp_refresh publish
issuer_list issuer_create issuer_rollover"
for c in $CMDS; do
	# shellcheck disable=SC2046
	help_ok "ca-admin $(echo $c | tr _ ' ') --help" "$CA_ADMIN" \
	    $(echo "$c" | tr _ ' ') --help
done
# Wherever --help is, and whatever else the line holds.
help_ok "ca-admin audit verify --help" "$CA_ADMIN" audit verify --help
help_ok "ca-admin issue --bogus --help" "$CA_ADMIN" issue --bogus --help
help_ok "ca-admin token create --help, no instance" "$CA_ADMIN" --dir \
    "$T/none" token create --help
help_ok "ca-admin publish --out x --help" "$CA_ADMIN" publish --out x --help

# ---- the instance: --dir anywhere, the default, not an instance -------------
check "init with --dir after the command" "$CA_ADMIN" init --dir "$T/ca"
csr dev
check "issue with --dir after the command" "$CA_ADMIN" issue --profile client \
    --csr "$T/dev.csr" --identity '{"userId":1}' --dir "$T/ca" --out "$T/a.crt"
check "list with --dir=DIR at the end" "$CA_ADMIN" list --dir="$T/ca"
check "audit verify with --dir in the middle" "$CA_ADMIN" audit --dir "$T/ca" \
    verify
refuse "a directory that is not an instance" "$CA_ADMIN" --dir "$T" list
has "... says it is not an instance" "$T/refuse.err" "is not a Lanyard instance"
refuse "no --dir, no LANYARD_DIR: the default instance" "$CA_ADMIN" list
"$CA_ADMIN" --help >"$T/help.out"
def=$(sed -n 's/.*the default instance \(.*\)\.$/\1/p' "$T/help.out")
if [ -n "$def" ] && grep -qF "$def" "$T/refuse.err"; then
	ok "... which --help names ($def)"
else
	cat "$T/refuse.err" >>"$LOG"; not_ok "... which --help names"
fi
"$CA_SERVER" --dir "$T" --http 127.0.0.1:0 --https off >"$T/srv.out" 2>&1
has "ca-server --dir at a directory that is not an instance says so" \
    "$T/srv.out" "is not a Lanyard instance"
LANYARD_DIR="$T/ca" "$CA_ADMIN" list >"$T/list.out" 2>>"$LOG"
has "LANYARD_DIR names the instance" "$T/list.out" "client"

# ---- output paths: checked first, the serial named -------------------------
count() { admin list --status all | wc -l; }
audits() { admin audit list | wc -l; }
n0=$(count); a0=$(audits)
refuse "issue --out into a missing directory" admin issue --profile client \
    --csr "$T/dev.csr" --identity '{"userId":2}' --out "$T/nonexistent/x.crt"
eq "... issued nothing" "$(count)" "$n0"
eq "... audited nothing" "$(audits)" "$a0"
refuse "reissue --out into a missing directory" admin reissue --serial \
    "$(openssl x509 -in "$T/a.crt" -noout -serial | cut -d= -f2)" \
    --csr "$T/dev.csr" --out "$T/nonexistent/y.crt"
eq "... issued nothing" "$(count)" "$n0"
refuse "issue --out a directory" admin issue --profile client \
    --csr "$T/dev.csr" --identity '{"userId":2}' --out "$T"
eq "... issued nothing" "$(count)" "$n0"
admin issue --profile client --csr "$T/dev.csr" --identity '{"userId":3}' \
    --out "$T/b.crt" >"$T/issue.out" 2>>"$LOG"
sn=$(openssl x509 -in "$T/b.crt" -noout -serial 2>>"$LOG" | cut -d= -f2)
has "issue --out names the serial it issued" "$T/issue.out" "issued $sn"
ls "$T" | grep -q '\.tmp\.' && not_ok "no temporary file left" ||
    ok "no temporary file left"
: >"$T/afile"
a0=$(audits)
refuse "crl publish --out under a file" admin crl publish --out "$T/afile/crl"
eq "... used no CRL number (no audit entry)" "$(audits)" "$a0"
refuse "publish --out under a file" admin publish --out "$T/afile/pub"
eq "... used no CRL number (no audit entry)" "$(audits)" "$a0"

# ---- errors that say what is allowed ---------------------------------------
refuse "an unknown profile" admin issue --profile nosuch --csr "$T/dev.csr" \
    --identity '{"userId":1}'
has "... lists the profiles" "$T/refuse.err" "profiles: client, service"
refuse "an unknown identity key" admin issue --profile client \
    --csr "$T/dev.csr" --identity '{"userid":1}'
has "... lists the keys" "$T/refuse.err" "keys: userId"
refuse "token create: an unknown profile" admin token create --profile nosuch \
    --identity '{"userId":1}'
has "... lists the profiles" "$T/refuse.err" "profiles: client"

# ---- ca-enroll names a network failure at once ------------------------------
# A port nothing listens on: refused, in well under the 30 s timeout.
port=$(( ($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000) + 30000 ))
start=$(date +%s)
"$CA_ENROLL" --server "https://127.0.0.1:$port" --ca-file "$T/ca/certs/root.crt" \
    --token x --identity-dir "$T/e1" >"$T/e.out" 2>"$T/e.err"
rc=$?
took=$(( $(date +%s) - start ))
cat "$T/e.err" >>"$LOG"
eq "ca-enroll: a closed port fails with status 1" "$rc" 1
has "... named: connection refused" "$T/e.err" "connection refused"
if [ "$took" -lt 5 ]; then ok "... at once (${took} s)"
else not_ok "... at once (took ${took} s)"; fi
# A name that does not resolve: in a namespace without a network, so no
# query leaves the machine.
if unshare -n true 2>/dev/null; then
	unshare -n "$CA_ENROLL" --server https://ca.example.invalid:8443 \
	    --ca-file "$T/ca/certs/root.crt" --token x --identity-dir "$T/e2" \
	    >"$T/e.out" 2>"$T/e.err"
	cat "$T/e.err" >>"$LOG"
	has "ca-enroll: an unresolvable host is named as such" "$T/e.err" \
	    "cannot resolve ca.example.invalid"
else
	not_ok "unshare -n works (root, util-linux)"
fi
# The daemon says when it tries again.
"$CA_ENROLL" renew --identity-dir "$T/ca" --server "https://127.0.0.1:$port" \
    --daemon --interval 1h >"$T/d.out" 2>"$T/d.err" &
dpid=$!
i=0
while [ $i -lt 50 ] && ! grep -q "retrying in" "$T/d.err"; do
	sleep 0.1; i=$((i + 1))
done
kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
cat "$T/d.err" >>"$LOG"
has "ca-enroll --daemon says when it retries" "$T/d.err" "retrying in 3600 s"

# ---- JSON answers end with a newline ----------------------------------------
# last_byte URL [curl options]: the last byte of the body, in octal.
last_byte() { u=$1; shift; curl -s "$@" "$u" | tail -c 1 | od -An -to1 | tr -d ' '; }
if start_server_https; then
	eq "/healthz ends with a newline" "$(last_byte "$BASE/healthz")" 012
	eq "an HTTP error's JSON ends with a newline" \
	    "$(last_byte "$BASE/nosuch")" 012
	eq "an API answer ends with a newline" "$(last_byte \
	    "$SBASE/api/v1/enroll" --cacert "$T/ca/certs/root.crt" \
	    -H 'Content-Type: application/json' -d '{}')" 012
	stop_server
else
	not_ok "ca-server starts"
fi

# ---- the manual pages list what --help lists --------------------------------
# Options of a program's --help: --name, one a line, without --help.
help_opts() { grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u; }
# "cmd opt" pairs of ca-admin(8): an entry of the command list starts a
# command (.It Cm issue ..., or .It Xo then .Cm issue ... .Xc); its
# options are those of that entry and the .It Fl items of its own list
# (prose that mentions another command's option is not counted).
# Commands with a subcommand are grouped by their first word, as their
# --help is.
man_cmd_opts() {
	awk -v cmds=" $1 " '
	function opts(line, s) {
		s = line
		while (match(s, /Fl -[a-z][a-z0-9-]*/)) {
			print cur, "-" substr(s, RSTART + 3, RLENGTH - 3)
			s = substr(s, RSTART + RLENGTH)
		}
	}
	function start(w) {
		if (index(cmds, " " w " ") == 0) return 0
		cur = w; base = depth; return 1
	}
	/^\.Bl/ { depth++ }
	/^\.El/ { depth--; if (cur != "" && depth < base) cur = "" }
	/^\.It Cm [a-z]/ && start($3) { opts($0) }
	prev == ".It Xo" && /^\.Cm [a-z]/ && start($2) { inxo = 1 }
	inxo { opts($0); if ($0 ~ /^\.Xc/) inxo = 0 }
	cur != "" && /^\.It Fl/ && depth == base + 1 { opts($0) }
	{ prev = $0 }
	' "$MAN/ca-admin.8" | sort -u
}
WORDS="config init issue reissue revoke list show token audit crl ocsp root issuer publish backup restore identity upgrade tidy status"
"$CA_ADMIN" --help | awk '/^Commands/ { on = 1; next } on && NF { print $1 }' |
    sort >"$T/help.cmds"
echo "$WORDS" | tr ' ' '\n' | sort >"$T/words"
eq "ca-admin --help lists the commands the test knows" \
    "$(cat "$T/help.cmds" | tr '\n' ' ')" "$(cat "$T/words" | tr '\n' ' ')"
man_cmd_opts "$WORDS" >"$T/man.pairs"
for w in $WORDS; do
	case $w in
	token) subs="create list revoke" ;;
	audit) subs="verify list" ;;
	identity) subs="disable enable list" ;;
	crl) subs="publish" ;;
	ocsp) subs="refresh" ;;
	root) subs="crl sign-issuer import-crl rollover import" ;;
	issuer) subs="list create rollover import" ;;
	*) subs="-" ;;
	esac
	for s in $subs; do
		if [ "$s" = - ]; then "$CA_ADMIN" "$w" --help
		else "$CA_ADMIN" "$w" "$s" --help; fi
	done | help_opts | grep -vx -- '--dir' >"$T/h.$w"
	awk -v w="$w" '$1 == w { print $2 }' "$T/man.pairs" |
	    grep -vx -- '--dir' | sort -u >"$T/m.$w"
	if grep -q "^\.It.*Cm $w" "$MAN/ca-admin.8" ||
	    grep -q "^\.Cm $w" "$MAN/ca-admin.8"; then
		ok "ca-admin(8) has the command $w"
	else
		not_ok "ca-admin(8) has the command $w"
	fi
	if diff "$T/h.$w" "$T/m.$w" >"$T/diff" 2>&1; then
		ok "ca-admin $w: the options of --help and ca-admin(8) agree"
	else
		sed 's/^/# /' "$T/diff"
		not_ok "ca-admin $w: the options of --help and ca-admin(8) agree"
	fi
done
# ca-server and ca-enroll: every option of --help is in the page, every
# option of the page's SYNOPSIS is in --help.
synopsis_opts() {
	awk '/^\.Sh SYNOPSIS/ { on = 1; next } /^\.Sh / { on = 0 } on' "$1" |
	    grep -o 'Fl -[a-z][a-z0-9-]*' | sed 's/^Fl /-/' |
	    grep -vx -- '--help' | sort -u
}
for p in ca-server:ca-server.8 ca-enroll:ca-enroll.1 ca-admin:ca-admin.8; do
	prog=${p%%:*}; page="$MAN/${p#*:}"
	{ "$top_builddir/$prog" --help; [ "$prog" = ca-enroll ] &&
	    "$top_builddir/$prog" renew --help; } 2>/dev/null |
	    help_opts >"$T/h.$prog"
	synopsis_opts "$page" >"$T/s.$prog"
	missing=""
	for o in $(cat "$T/h.$prog"); do
		grep -q "Fl ${o#-}\\b" "$page" || missing="$missing $o"
	done
	eq "$prog: every option of --help is in ${p#*:}" "$missing" ""
	missing=""
	for o in $(cat "$T/s.$prog"); do
		grep -qx -- "$o" "$T/h.$prog" || missing="$missing $o"
	done
	eq "$prog: every option of the SYNOPSIS is in --help" "$missing" ""
done

done_testing
