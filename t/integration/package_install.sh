#!/bin/bash
# package_install.sh - the Debian package, installed on this machine as an
# operator would: contrib/build-deb.sh builds it (or NSMILTER_DEB names one
# already built, as .ci/run does once for both of its test passes), lintian
# finds no error or warning, dpkg -i makes the nsmilter user and installs
# the files with their modes, the packaged nsmilter -n and -q work against
# private slapd with the packaged nsmilter.ini adapted, the packaged daemon
# started as its systemd unit would start it (User=nsmilter, socket in
# /run/nsmilter, socket_mode 0660) serves a private Postfix whose user is in
# the nsmilter group, a reload works with a 0640 root:nsmilter secret, and
# dpkg --purge leaves nothing behind.
#
# It installs and purges the package "nsmilter" on this machine (a test
# machine: an installed nsmilter is purged first).
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"

setup_failed() { fail "setup: $*"; done_testing; }
# One package test at a time on this machine, whichever tree runs it.
exec 9>/var/lock/nsmilter-package-test.lock
flock -w 900 9 || setup_failed "another package test holds the lock"

# dpkg waits for the dpkg lock (someone else may be installing).
dpkg_retry() {
	local i out rc
	for i in $(seq 1 120); do
		out=$(dpkg "$@" 2>&1); rc=$?
		if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'lock'; then
			sleep 1; continue
		fi
		printf '%s\n' "$out"
		return $rc
	done
	printf '%s\n' "$out"
	return 1
}

# --- the package ------------------------------------------------------------
deb=${NSMILTER_DEB:-}
if [ -z "$deb" ]; then
	t0=$(date +%s)
	"$NSMILTER_SRCDIR/contrib/build-deb.sh" "$T_DIR/deb" >"$T_DIR/build-deb.log" 2>&1 ||
	    { cat "$T_DIR/build-deb.log"; setup_failed "contrib/build-deb.sh"; }
	deb=$(ls "$T_DIR"/deb/nsmilter_*.deb | head -1)
	echo "# built $(basename "$deb") in $(( $(date +%s) - t0 )) s"
fi
[ -f "$deb" ] || setup_failed "no package at '$deb'"
pass "package $(basename "$deb")"

lint=$(lintian --fail-on error,warning "$deb" 2>&1); rc=$?
printf '%s\n' "$lint" | sed 's/^/# lintian: /'
assert_eq "$rc" 0 "lintian: no error, no warning"
assert_no_match "$lint" '^[EW]: ' "lintian output has no E: or W: line"

# --- install ------------------------------------------------------------------
if dpkg-query -W -f '${Status}' nsmilter 2>/dev/null | grep -q installed; then
	dpkg_retry --purge nsmilter >/dev/null
fi
at_exit "dpkg --purge nsmilter"
out=$(dpkg_retry -i "$deb"); rc=$?
assert_eq "$rc" 0 "dpkg -i installs the package"
[ $rc -eq 0 ] || { printf '%s\n' "$out" | sed 's/^/#   /'; done_testing; }

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd nsmilter)
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then pass "system user nsmilter (uid $uid)"
else fail "no system user nsmilter (uid '$uid')"; fi
assert_eq "$(getent group nsmilter | cut -d: -f3)" "$gid" "group nsmilter is the user's group"
assert_eq "$home:$shell" "/var/lib/nsmilter:/usr/sbin/nologin" "home and shell"
# the lines of $1 that are not warnings (a bind over ldap:// is warned about)
errors_only() { printf '%s\n' "$1" | grep -v ': warning: ' || true; }
mode() { stat -c '%a %U:%G' "$1" 2>&1; }
assert_eq "$(mode /usr/sbin/nsmilter)" "755 root:root" "/usr/sbin/nsmilter"
assert_eq "$(mode /etc/nsmilter)" "750 root:nsmilter" "/etc/nsmilter"
assert_eq "$(mode /etc/nsmilter/nsmilter.ini)" "640 root:nsmilter" "/etc/nsmilter/nsmilter.ini"
assert_match "$(dpkg-query -W -f '${Conffiles}\n' nsmilter)" '^ /etc/nsmilter/nsmilter\.ini [0-9a-f]{32}$' \
    "nsmilter.ini is a conffile"
assert_eq "$(mode /var/lib/nsmilter)" "750 nsmilter:nsmilter" "/var/lib/nsmilter (state_dir)"
assert_eq "$(mode /run/nsmilter)" "750 nsmilter:nsmilter" "/run/nsmilter (tmpfiles entry)"
UNIT=/lib/systemd/system/nsmilter.service
assert_file_match "$UNIT" '^ExecStart=/usr/sbin/nsmilter -f -c /etc/nsmilter/nsmilter.ini$' "the unit runs /usr/sbin/nsmilter"
assert_file_match /usr/lib/tmpfiles.d/nsmilter.conf '^d /run/nsmilter 0750 nsmilter nsmilter' "tmpfiles entry"
assert_eq "$(man -w 8 nsmilter 2>&1)" /usr/share/man/man8/nsmilter.8.gz "nsmilter(8) installed"
assert_eq "$(man -w 5 nsmilter.ini 2>&1)" /usr/share/man/man5/nsmilter.ini.5.gz "nsmilter.ini(5) installed"
assert_file_match /usr/share/doc/nsmilter/README.Debian 'adduser postfix nsmilter' "README.Debian: the socket's group"
out=$(systemd-analyze verify "$UNIT" 2>&1); rc=$?
assert_eq "$rc:$out" "0:" "systemd-analyze verify: the installed unit"

# --- the packaged configuration, adapted to private directories ---------------
scene_backends || setup_failed "slapd or smtp-sink"
INI=/etc/nsmilter/nsmilter.ini
SECRET=/etc/nsmilter/hq.secret
install -m 0640 -o root -g nsmilter /dev/null "$SECRET"
printf 'hq-Secret-42\n' > "$SECRET"
# hq: the sample's AD-like directory, with the commented-out service account
sed -i -e "/^\[directory hq\]/,/^\[/ s|^uri = .*|uri = ldap://127.0.0.1:$HQ_PORT|" \
    -e "/^\[directory hq\]/,/^\[/ s|^;bind_dn = |bind_dn = |" \
    -e "/^\[directory hq\]/,/^\[/ s|^;bind_password_file = .*|bind_password_file = $SECRET|" \
    -e "/^\[directory hq\]/,/^\[/ s|^target_attribute = .*|target_attribute = targetAddress|" \
    -e "/^\[directory legacy\]/,/^\[/ s|^uri = .*|uri = ldap://127.0.0.1:$LEGACY_PORT|" \
    -e "/^\[directory legacy\]/,/^\[/ s|^filter = .*|filter = (\|(mail=%s)(mailLocalAddress=%s))|" \
    -e "s|^cache_ttl = .*|cache_ttl = 0|; s|^negative_cache_ttl = .*|negative_cache_ttl = 0|" "$INI"
assert_eq "$(mode "$INI")" "640 root:nsmilter" "the edited configuration keeps its owner and mode"
out=$(/usr/sbin/nsmilter -n 2>&1); rc=$?
assert_eq "$rc:$(errors_only "$out")" "0:" "packaged nsmilter -n accepts the adapted sample"
chmod 0600 "$SECRET"
out=$(/usr/sbin/nsmilter -n 2>&1); rc=$?
assert_eq "$rc" 78 "-n: a root-only secret is refused"
assert_match "$out" "\[directory hq\] bind_password_file: '$SECRET' is not readable by user nsmilter" \
    "-n says the secret is not readable by nsmilter"
chmod 0640 "$SECRET"
out=$(/usr/sbin/nsmilter -q alice@corp.example bob@corp.example nobody@corp.example 2>&1); rc=$?
assert_eq "$rc" 0 "packaged nsmilter -q: exit 0"
assert_match "$out" '^alice@corp\.example accept directory=hq' "-q: alice accepted (hq)"
assert_match "$out" '^bob@corp\.example route to=bob@legacy\.corp\.example directory=legacy' "-q: bob routed (legacy)"
assert_match "$out" '^nobody@corp\.example reject code=550 dsn=5\.1\.1' "-q: nobody rejected"

# --- the daemon, as the unit starts it ----------------------------------------
unit_val() { sed -n "s/^$1=//p" "$UNIT" | head -1; }
U=$(unit_val User); G=$(unit_val Group); UM=$(unit_val UMask)
PRE=$(unit_val ExecStartPre); START=$(unit_val ExecStart)
assert_eq "$U:$G" "nsmilter:nsmilter" "the unit runs as nsmilter"
# what systemd does: RuntimeDirectory= and StateDirectory= owned by User=
install -d -o "$U" -g "$G" -m 0750 /run/nsmilter /var/lib/nsmilter
# as_unit CMD...: CMD with the unit's user, group and umask, no capabilities
# and no new privileges; one process (bash execs setpriv, which execs CMD),
# so $! of "as_unit ... &" is the daemon.
AS_UNIT='umask "$1" && cd / && shift && exec setpriv --reuid="$U" --regid="$G" --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"'
export U G
# shellcheck disable=SC2086
out=$(bash -c "$AS_UNIT" as_unit "${UM:-0022}" $PRE 2>&1); rc=$?
assert_eq "$rc:$(errors_only "$out")" "0:" "ExecStartPre (nsmilter -n) as nsmilter"
# shellcheck disable=SC2086
bash -c "$AS_UNIT" as_unit "${UM:-0022}" $START >/dev/null 2>"$T_DIR/daemon.log" &
DAEMON=$!
at_exit "kill $DAEMON"
wait_for test -s /run/nsmilter/nsmilter.pid || { cat "$T_DIR/daemon.log"; setup_failed "daemon pid file"; }
assert_eq "$(cat /run/nsmilter/nsmilter.pid)" "$DAEMON" "the daemon is the process started (pid file)"
DAEMON=$(cat /run/nsmilter/nsmilter.pid)
at_exit "kill $DAEMON"
assert_eq "$(mode /run/nsmilter/nsmilter.sock)" "660 nsmilter:nsmilter" "socket nsmilter:nsmilter 0660"
assert_eq "$(awk '/^Uid:/ { print $2 }' /proc/$DAEMON/status)" "$uid" "the daemon runs as nsmilter"

# --- Postfix, its user in the socket's group ----------------------------------
if ! id -nG postfix | tr ' ' '\n' | grep -qx nsmilter; then
	gpasswd -a postfix nsmilter >/dev/null
	at_exit "gpasswd -d postfix nsmilter"
fi
SMTPD=$(free_port)
postfix_start mx "$SMTPD" unix:/run/nsmilter/nsmilter.sock || setup_failed "postfix"
out=$(smtp_send "$SMTPD" sender@example.net alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "through Postfix: alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "through Postfix: bob accepted"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 5\.1\.1 ' "through Postfix: nobody 550 5.1.1"
postfix_flush mx || fail "queue drained"
sink_wait_count local 1; sink_wait_count foreign 1
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "alice delivered to the local system"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "bob delivered to the legacy system, rewritten"
assert_no_match "$(postfix_log mx)" "Permission denied" "Postfix reached the socket (no Permission denied)"

# --- reload with the 0640 root:nsmilter secret ----------------------------------
sed -i "s/^mode = enforce/mode = observe/" "$INI"
# shellcheck disable=SC2086
out=$(bash -c "$AS_UNIT" as_unit "${UM:-0022}" $(sed -n 's/^ExecReload=//p' "$UNIT" | head -1) 2>&1); rc=$?
assert_eq "$rc:$(errors_only "$out")" "0:" "ExecReload's check (nsmilter -n) as nsmilter"
kill -HUP "$DAEMON"
wait_for grep -q "configuration /etc/nsmilter/nsmilter.ini reloaded" "$T_DIR/daemon.log" ||
    { sed 's/^/#   /' "$T_DIR/daemon.log"; fail "reload logged"; }
assert_no_match "$(cat "$T_DIR/daemon.log")" "reload of .* failed" "the reload re-read the 0640 secret as nsmilter"
out=$(smtp_send "$SMTPD" sender@example.net nobody2@corp.example)
assert_match "$(smtp_reply_of "$out" nobody2@corp.example)" '^250 ' "after the reload: mode = observe is in force"
t0=$(date +%s%N)
kill -TERM "$DAEMON"
WAIT_SECONDS=10 wait_for bash -c "! grep -qs '^State:[[:space:]]*[RSDT]' /proc/$DAEMON/status"
echo "# daemon stopped $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM"
assert_eq "$(test -e /run/nsmilter/nsmilter.sock && echo left || echo gone)" gone "socket removed at stop"
postfix_stop mx

# --- purge ------------------------------------------------------------------
rm -f "$SECRET"      # the operator's own file
out=$(dpkg_retry --purge nsmilter); rc=$?
assert_eq "$rc" 0 "dpkg --purge"
for p in /usr/sbin/nsmilter /etc/nsmilter /var/lib/nsmilter /run/nsmilter "$UNIT" \
    /usr/lib/tmpfiles.d/nsmilter.conf /usr/share/doc/nsmilter \
    /usr/share/man/man8/nsmilter.8.gz /usr/share/man/man5/nsmilter.ini.5.gz \
    /etc/systemd/system/multi-user.target.wants/nsmilter.service; do
	assert_eq "$(test -e "$p" -o -L "$p" && echo left || echo gone)" gone "purged: $p"
done
assert_eq "$(dpkg-statoverride --list | grep -c nsmilter)" 0 "no statoverride left"
assert_no_match "$(dpkg-query -W -f '${Status}' nsmilter 2>/dev/null)" \
    '(^| )(installed|config-files|half-installed|half-configured|unpacked)$' "dpkg: nsmilter is not installed"
left=$(find /etc /var /run /usr /lib /opt -xdev -uid "$uid" 2>/dev/null | head -5)
assert_eq "$left" "" "no file of uid nsmilter left (the account stays, as Debian does)"
done_testing
