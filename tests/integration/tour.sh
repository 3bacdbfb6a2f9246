#!/bin/sh
# README.md's five-minute tour, literally: its shell block is taken from
# the README and run as it stands, once beside a ca-server on the demo
# instance (what ./quickstart leaves running on 8080 and 8443), once
# again over its own leftovers, and once alone. The fixed ports are in a
# network namespace of the test's own (unshare -n).
. "${top_srcdir:-.}/tests/integration/lib.sh"

need unshare ip curl openssl
must "unshare -n works (root, util-linux, iproute2)" unshare -n true

# The tour as the README has it, with a guard that stops its ca-server if
# a line fails before its own "kill $srv".
awk '/^## A five-minute tour/ { f = 1 } f && /^```sh/ { p = 1; next }
     p && /^```/ { exit } p' "$top_srcdir/README.md" >"$T/tour.body"
{
	echo 'trap '\''[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null'\'' EXIT'
	cat "$T/tour.body"
} >"$T/tour.sh"
n_lines=$(wc -l <"$T/tour.body")
if [ "$n_lines" -gt 40 ]; then ok "the tour is in README.md ($n_lines lines)"
else not_ok "the tour is in README.md"; fi

# A working directory like the source tree's: the three programs.
mkdir -p "$T/w"
for p in ca-admin ca-server ca-enroll; do
	ln -s "$top_builddir/$p" "$T/w/$p"
done

# run_tour NAME BESIDE: the tour in $T/w, in a namespace of its own;
# BESIDE=1 runs a ca-server on ./demo on 8080 and 8443 meanwhile.
run_tour() {
	cat >"$T/run.sh" <<EOF
ip link set lo up
cd "$T/w"
if [ "$2" = 1 ]; then
	[ -f demo/ca.conf ] || ./ca-admin --dir demo init >/dev/null 2>&1
	./ca-server --dir demo >"$T/demo.log" 2>&1 &
	demo=\$!
	i=0
	while [ \$i -lt 100 ] && ! grep -q 'listening on http:' "$T/demo.log"; do
		sleep 0.1; i=\$((i + 1))
	done
fi
timeout 300 bash "$T/tour.sh" >"$T/$1.out" 2>&1
echo "exit \$?" >>"$T/$1.out"
[ -z "\${demo:-}" ] || { kill "\$demo"; wait "\$demo"; }
EOF
	unshare -n sh "$T/run.sh"
	cat "$T/$1.out" >>"$LOG"
	o="$T/$1.out"
	has "$1: the instance is made" "$o" "initialised tour"
	has "$1: issue names the serial" "$o" "issued "
	has "$1: OCSP says good" "$o" "dev.crt: good"
	has "$1: OCSP says revoked" "$o" "dev2.crt: revoked"
	has "$1: the device enrolls" "$o" "enrolled: serial"
	has "$1: the token is one-time" "$o" "refused the token (HTTP 403)"
	has "$1: renew waits for the window" "$o" "not yet inside the renewal window"
	has "$1: after the reload, renew renews" "$o" "renewed: serial"
	has "$1: the admin API revokes" "$o" '"status":"revoked"'
	has "$1: the audit log names the admin" "$o" 'admin:{"role":"admin","userId":1}'
	lacks "$1: no listener failed to bind" "$o" "Address already in use"
	lacks "$1: nothing ca-admin refused" "$o" "ca-admin: "
}

run_tour beside 1
[ "$(grep -c 'listening on https://127.0.0.1:8443' "$T/demo.log")" -ge 1 ] &&
    ok "beside: the demo server ran on 8443 meanwhile" ||
    not_ok "beside: the demo server ran on 8443 meanwhile"
run_tour again 1
run_tour alone 0

done_testing
