#!/bin/bash
# daemon_ops.sh - running nsmilter as a daemon: -u drops privileges after
# binding, socket_mode, pidfile, backgrounding without -f, the socketmap
# answering as the unprivileged user, SIGHUP with an unreadable password
# file (old configuration stays), SIGTERM.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

scene_slapd || setup_failed "slapd (see above)"
RUN=$T_DIR/run
mkdir -p "$RUN" "$T_DIR/pf"
chown nobody "$RUN"
: > "$T_DIR/pf/main.cf"

# The password file (written by scene_directories) is readable by root only.
CONF=$T_DIR/nsmilter.ini
{
	cat <<INI
[milter]
socket = unix:$RUN/milter.sock
socketmap = unix:$RUN/socketmap.sock
socket_mode = 0660
pidfile = $RUN/nsmilter.pid
user = nobody

INI
	scene_directories --all -timeout --legacy -target_attribute \
	    --legacy "transport = smtp:[127.0.0.1]:2525"
	scene_domain
} >"$CONF"

smap() { MAIL_CONFIG=$T_DIR/pf postmap -q "$1" "socketmap:unix:$RUN/socketmap.sock:transport"; }

# --- foreground, -u via the config's user ----------------------------------
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/fg.log" &
FG=$!
at_exit "kill $FG"
wait_for test -S "$RUN/socketmap.sock" || fail "socketmap socket appears"
wait_for test -s "$RUN/nsmilter.pid"
assert_eq "$(cat "$RUN/nsmilter.pid")" "$FG" "pidfile holds the daemon's pid"
assert_eq "$(stat -c %a "$RUN/milter.sock")" 660 "milter socket has socket_mode 0660"
assert_eq "$(stat -c %a "$RUN/socketmap.sock")" 660 "socketmap socket has socket_mode 0660"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$FG/status")
assert_eq "$uid" "$(id -u nobody)" "running as user nobody after binding"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2525" "socketmap answers after the privilege drop (directories reached as nobody)"
assert_eq "$(smap alice@corp.example; echo "rc=$?")" "rc=1" "socketmap: a local recipient is NOTFOUND"

# SIGHUP: the password file is unreadable for nobody now -> the reload fails,
# the old configuration stays in force and says so.
sed -i 's/^transport = smtp:\[127.0.0.1\]:2525$/transport = smtp:[127.0.0.1]:2626/' "$CONF"
kill -HUP "$FG"
wait_for grep -q "reload of $CONF failed" "$T_DIR/fg.log" || true
assert_file_match "$T_DIR/fg.log" "bind_password_file.*$T_DIR/hq.secret" "failed reload names the unreadable password file"
assert_file_match "$T_DIR/fg.log" "reload of $CONF failed: the old configuration stays in force" "failed reload keeps the old configuration"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2525" "the old configuration answers after a failed reload"
assert_eq "$(kill -0 "$FG" 2>/dev/null && echo alive)" alive "still running after a failed reload"
# readable again -> the reload takes effect
chown nobody "$T_DIR/hq.secret"
kill -HUP "$FG"
wait_for grep -q "configuration $CONF reloaded" "$T_DIR/fg.log" || fail "reload logged"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2626" "SIGHUP: the new configuration answers"
assert_no_match "$(cat "$T_DIR/fg.log")" "hq-Secret-42" "the bind password never appears in the log"

kill -TERM "$FG"
WAIT_SECONDS=15 wait_for bash -c "! kill -0 $FG 2>/dev/null || grep -q '^State:.*Z' /proc/$FG/status"
assert_file_match "$T_DIR/fg.log" "stopping on signal 15" "SIGTERM: graceful stop logged"
wait "$FG"; rc=$?
assert_eq "$rc" 0 "SIGTERM: exit status 0"
assert_eq "$(test -e "$RUN/socketmap.sock" && echo left || echo gone)" gone "socketmap socket removed at stop"

# --- -u on the command line wins, and without -f it goes to the background --
chown root "$T_DIR/hq.secret"
sed -i 's/^user = nobody$/user = root/' "$CONF"
rm -f "$RUN/nsmilter.pid"
"$NSMILTER" -c "$CONF" -u nobody; rc=$?
assert_eq "$rc" 0 "without -f: the command returns at once with status 0"
wait_for test -s "$RUN/nsmilter.pid" || fail "pidfile written by the background daemon"
BG=$(cat "$RUN/nsmilter.pid")
at_exit "kill $BG"
assert_eq "$(awk '/^Uid:/ { print $2 }' "/proc/$BG/status")" "$(id -u nobody)" "-u nobody overrides user = root"
assert_eq "$(awk '/^PPid:/ { print $2 }' "/proc/$BG/status" | grep -vx "$$" >/dev/null && echo detached)" detached "the daemon is detached from the shell"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2626" "background daemon answers"
kill -TERM "$BG"
WAIT_SECONDS=15 wait_for bash -c "! kill -0 $BG 2>/dev/null || grep -q '^State:.*Z' /proc/$BG/status"
assert_eq "$(kill -0 "$BG" 2>/dev/null && ! grep -q '^State:.*Z' /proc/$BG/status && echo alive || echo gone)" gone "background daemon stops on SIGTERM"

# A start-up failure in the background is reported by the command itself.
"$NSMILTER" -c "$CONF" -u no-such-user-here 2>/dev/null; rc=$?
assert_match "$rc" '^[1-9]' "without -f: a bad user makes the command fail (status $rc)"

# A socket already served by another process is not stolen.
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/one.log" &
ONE=$!
at_exit "kill $ONE"
wait_for test -S "$RUN/socketmap.sock"
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/two.log"; rc=$?
assert_match "$rc" '^[1-9]' "a second nsmilter on the same sockets fails (status $rc)"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2626" "the first one keeps answering"
kill -TERM "$ONE"

done_testing
