#!/bin/bash
# systemd_unit.sh - the systemd unit: "cmake --install" writes ExecStart as
# the installed program's path, "systemd-analyze verify" accepts the unit,
# and "systemd-analyze security" rates its exposure 2.0 or less.  (Starting
# it as systemd would is t/integration/package_install.sh's part.)
. "$(dirname "$0")/../lib/common.sh"

# cmake --install into a staging directory, for two prefixes.
for prefix in /usr /opt/nsm; do
	dest=$T_DIR/dest${prefix//\//_}
	DESTDIR=$dest cmake --install "$NSMILTER_BUILDDIR" --prefix "$prefix" \
	    >"$T_DIR/install.log" 2>&1 || fail "cmake --install --prefix $prefix"
	if [ "$prefix" = /usr ]; then unitdir=/lib/systemd/system
	else unitdir=$prefix/lib/systemd/system; fi
	unit=$dest$unitdir/nsmilter.service
	assert_file_match "$unit" "^ExecStart=$prefix/sbin/nsmilter -f " \
	    "prefix $prefix: ExecStart is the installed program"
	[ -x "$dest$prefix/sbin/nsmilter" ] && pass "prefix $prefix: program installed" ||
	    fail "prefix $prefix: no $dest$prefix/sbin/nsmilter"
	assert_eq "$(grep -c "^Exec.*@" "$unit")" 0 "prefix $prefix: no placeholder left"
	[ -f "$dest$prefix/lib/tmpfiles.d/nsmilter.conf" ] && pass "prefix $prefix: tmpfiles entry" ||
	    fail "prefix $prefix: no tmpfiles entry"
done

# verify wants the programs to exist: the /usr unit, pointed at this build.
sed "s|/usr/sbin/nsmilter|$NSMILTER|g" "$T_DIR/dest_usr/lib/systemd/system/nsmilter.service" \
    > "$T_DIR/nsmilter.service"
out=$(systemd-analyze verify --man=no "$T_DIR/nsmilter.service" 2>&1); rc=$?
assert_eq "$rc:$out" "0:" "systemd-analyze verify accepts the unit"
# ... and sees a broken one (the check can fail).
sed 's/^ExecStart=/ExecStart=nonexistent-program /; s/^Type=simple/Type=bogus/' \
    "$T_DIR/nsmilter.service" > "$T_DIR/broken.service"
out=$(systemd-analyze verify --man=no "$T_DIR/broken.service" 2>&1)
assert_match "$out" "bogus|nonexistent" "systemd-analyze verify rejects a broken unit"

sec=$(systemd-analyze security --offline=yes "$T_DIR/nsmilter.service" 2>&1)
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for nsmilter.service: \([0-9.]*\).*/\1/p')
echo "# exposure: ${score:-?}"
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	pass "exposure $score <= 2.0"
else
	fail "exposure '${score}' > 2.0:"; printf '%s\n' "$sec" | grep '✗' | sed 's/^/#   /'
fi
# The unit's essentials are there (a refactoring must not drop them).
for line in User=nsmilter ProtectSystem=strict PrivateDevices=yes \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    SystemCallFilter=@system-service CapabilityBoundingSet= \
    StateDirectory=nsmilter RuntimeDirectory=nsmilter NoNewPrivileges=yes; do
	assert_file_match "$T_DIR/nsmilter.service" "^$line\$" "unit has $line"
done
done_testing
