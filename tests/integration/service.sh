#!/bin/sh
# Installed as a service: make install DESTDIR lays the files out as the
# FHS and Debian do, every systemd unit passes systemd-analyze verify,
# lanyard.service's exposure (systemd-analyze security) is at most 2.0,
# and the sysusers.d and tmpfiles.d files make the lanyard user and the
# default instance directory in a scratch root.
. "${top_srcdir:-.}/tests/integration/lib.sh"

# Missing tools fail: the whole point is that these files work there.
need systemd-analyze systemd-sysusers systemd-tmpfiles make perl

# The directories configure chose, as make expands them.
cat >"$T/print.mk" <<'EOF'
print-dirs:
	@echo "sbindir='$(sbindir)'"
	@echo "bindir='$(bindir)'"
	@echo "mandir='$(mandir)'"
	@echo "docdir='$(docdir)'"
	@echo "sysconfdir='$(sysconfdir)'"
	@echo "localstatedir='$(localstatedir)'"
	@echo "unitdir='$(systemdsystemunitdir)'"
	@echo "sysusersdir='$(sysusersdir)'"
	@echo "tmpfilesdir='$(tmpfilesdir)'"
EOF
# Run from make check: the outer make's flags are not this make's.
unset MAKEFLAGS MFLAGS MAKELEVEL
eval "$(make -s --no-print-directory -C "$top_builddir" -f Makefile \
    -f "$T/print.mk" print-dirs)"
echo "# sbindir=$sbindir unitdir=$unitdir localstatedir=$localstatedir"

D="$T/root"
check "make install DESTDIR" make -s --no-print-directory -C "$top_builddir" \
    install DESTDIR="$D"

# ---- the layout ------------------------------------------------------------
for f in "$sbindir/ca-admin" "$sbindir/ca-server" "$bindir/ca-enroll"; do
	if [ -x "$D$f" ]; then ok "installed $f"; else not_ok "installed $f"; fi
done
for f in man8/ca-admin.8 man8/ca-server.8 man1/ca-enroll.1 man5/ca.conf.5; do
	if [ -s "$D$mandir/$f" ]; then ok "manual page $mandir/$f"
	else not_ok "manual page $mandir/$f"; fi
done
for f in "$unitdir/lanyard.service" "$unitdir/ca-enroll-renew@.service" \
    "$unitdir/ca-enroll-renew@.timer" "$sysusersdir/lanyard.conf" \
    "$tmpfilesdir/lanyard.conf" "$docdir/examples/ca.conf"; do
	if [ -s "$D$f" ]; then ok "installed $f"; else not_ok "installed $f"; fi
done
# Nothing of ours in bin but the agent, nothing in sbin but the two.
eq "bin holds ca-enroll only" "$(ls "$D$bindir" | tr '\n' ' ')" "ca-enroll "
eq "sbin holds ca-admin and ca-server" "$(ls "$D$sbindir" | tr '\n' ' ')" \
    "ca-admin ca-server "
has "the example is the built-in ca.conf" "$D$docdir/examples/ca.conf" \
    "[issuing]"
U="$D$unitdir/lanyard.service"
has "the unit runs the installed ca-server" "$U" \
    "ExecStart=$sbindir/ca-server --dir $localstatedir/lib/lanyard"
has "the unit may write the instance only" "$U" \
    "ReadWritePaths=$localstatedir/lib/lanyard"
has "the unit is Type=notify" "$U" "Type=notify"
has "the renewal runs the installed agent" "$D$unitdir/ca-enroll-renew@.service" \
    "ExecStart=$bindir/ca-enroll renew --identity-dir $sysconfdir/lanyard/%i"
lacks "no @...@ left in the units" "$U" "@localstatedir@"
# The installed ca-admin knows the default instance.
"$D$sbindir/ca-admin" --help >"$T/help" 2>&1
has "ca-admin --help names the default instance" "$T/help" \
    "$localstatedir/lib/lanyard"

# ---- systemd-analyze verify, on every unit ---------------------------------
# verify wants the programs the units name to exist: the copies point
# at the DESTDIR ones, nothing else changes.
mkdir -p "$T/units"
for u in lanyard.service ca-enroll-renew@.service ca-enroll-renew@.timer; do
	sed -e "s|ExecStart=$sbindir/|ExecStart=$D$sbindir/|" \
	    -e "s|ExecStart=$bindir/|ExecStart=$D$bindir/|" \
	    "$D$unitdir/$u" >"$T/units/$u"
done
for u in lanyard.service ca-enroll-renew@.service ca-enroll-renew@.timer; do
	systemd-analyze verify --man=no "$T/units/$u" >"$T/verify.out" 2>&1
	rc=$?
	cat "$T/verify.out" >>"$LOG"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/verify.out" ]; then
		ok "systemd-analyze verify $u"
	else
		sed 's/^/# /' "$T/verify.out"
		not_ok "systemd-analyze verify $u"
	fi
done

# ---- systemd-analyze security: at most 2.0 ("OK") ---------------------------
systemd-analyze security --offline=true "$T/units/lanyard.service" \
    >"$T/security.out" 2>&1
cat "$T/security.out" >>"$LOG"
level=$(sed -n 's/.*Overall exposure level for lanyard.service: \([0-9.]*\).*/\1/p' \
    "$T/security.out")
echo "# systemd-analyze security lanyard.service: exposure ${level:-none}"
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
	ok "lanyard.service exposure $level is at most 2.0"
else
	grep '✗' "$T/security.out" | sed 's/^/# /'
	not_ok "lanyard.service exposure ${level:-unknown} is at most 2.0"
fi
grep '✗' "$T/security.out" | sed 's/^/# /'
# What the design rests on (docs/operations.md "Service and privileges").
has "bounding set: CAP_SETUID and CAP_SETGID only" "$U" \
    "CapabilityBoundingSet=CAP_SETUID CAP_SETGID"
for o in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
    ProtectHome=yes "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
    "SystemCallFilter=@system-service"; do
	has "lanyard.service has $o" "$U" "$o"
done

# ---- sd_notify: READY, RELOADING, STOPPING ----------------------------------
# A datagram socket stands in for systemd's NOTIFY_SOCKET; perl records
# what ca-server sends, one message a line, for at most 60 s.
if grep -q '^#define HAVE_LIBSYSTEMD 1' "$top_builddir/config.h"; then
	new_instance
	perl -MSocket -e '
		my ($path, $out) = @ARGV;
		socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
		bind($s, pack_sockaddr_un($path)) or die "bind: $!";
		open(my $f, ">>", $out) or die "$out: $!";
		$f->autoflush(1);
		my $end = time + 60;
		while (time < $end) {
			my $rin = ""; vec($rin, fileno($s), 1) = 1;
			next unless select($rin, undef, undef, 1);
			recv($s, my $m, 4096, 0);
			print $f "$m\n";
			last if $m =~ /STOPPING=1/;
		}' "$T/notify.sock" "$T/notify.log" &
	npid=$!
	i=0
	while [ ! -S "$T/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	# wait_msg N WORD: the notify log has at least N lines with WORD.
	wait_msg() {
		i=0
		while [ "$(grep -c "$2" "$T/notify.log" 2>/dev/null)" -lt "$1" ] &&
		    [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		[ "$(grep -c "$2" "$T/notify.log" 2>/dev/null)" -ge "$1" ]
	}
	if NOTIFY_SOCKET="$T/notify.sock" start_server; then
		wait_msg 1 READY=1 && ok "sd_notify READY=1 once serving" ||
		    not_ok "sd_notify READY=1 once serving"
		kill -HUP "$SERVER_PID"
		wait_msg 1 RELOADING=1 && ok "sd_notify RELOADING=1 on SIGHUP" ||
		    not_ok "sd_notify RELOADING=1 on SIGHUP"
		wait_msg 2 READY=1 && ok "sd_notify READY=1 after the reload" ||
		    not_ok "sd_notify READY=1 after the reload"
		stop_server
		wait_msg 1 STOPPING=1 && ok "sd_notify STOPPING=1 on SIGTERM" ||
		    not_ok "sd_notify STOPPING=1 on SIGTERM"
	else
		not_ok "ca-server starts with NOTIFY_SOCKET"
	fi
	kill "$npid" 2>/dev/null
	wait "$npid" 2>/dev/null
	sed 's/^/# notify: /' "$T/notify.log" 2>/dev/null
elif [ "${CI:-}" = true ]; then
	not_ok "built with libsystemd (libsystemd-dev) for sd_notify"
else
	skip "sd_notify" "built without libsystemd"
fi

# ---- sysusers.d and tmpfiles.d, applied to the DESTDIR root ----------------
mkdir -p "$D/etc"
check "systemd-sysusers makes the lanyard user" systemd-sysusers --root="$D" \
    "$D$sysusersdir/lanyard.conf"
gid=$(awk -F: '$1 == "lanyard" { print $3 }' "$D/etc/group")
uid=$(awk -F: '$1 == "lanyard" { print $3 }' "$D/etc/passwd")
if [ -n "$uid" ] && [ -n "$gid" ] && [ "$uid" -ne 0 ]; then
	ok "user and group lanyard ($uid:$gid)"
else
	not_ok "user and group lanyard"
fi
check "systemd-tmpfiles makes the instance directory" systemd-tmpfiles \
    --root="$D" --create "$D$tmpfilesdir/lanyard.conf"
eq "the instance directory is 0750 root:lanyard" \
    "$(stat -c '%a %u %g' "$D$localstatedir/lib/lanyard" 2>/dev/null)" \
    "750 0 ${gid:-?}"

done_testing
