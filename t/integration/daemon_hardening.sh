#!/bin/bash
# daemon_hardening.sh - unsafe file modes are warned about (log and -n,
# "FILE: [section] key: warning: ...", still exit 0), the pidfile is 0644
# whatever the umask, and a start-up failure after binding leaves no milter
# socket behind.  No directory is contacted.
. "$(dirname "$0")/../lib/common.sh"

RUN=$T_DIR/run
mkdir -p "$RUN"
chown nobody "$RUN"
SECRET=$T_DIR/hq.secret
printf 'hq-Secret-42\n' > "$SECRET"
chown nobody "$SECRET"      # user = nobody must read it (also after SIGHUP)
chmod 600 "$SECRET"
CONF=$T_DIR/nsmilter.ini
write_conf() {
	cat > "$CONF" <<INI
[milter]
socket = unix:$RUN/milter.sock
socket_mode = 0660
pidfile = $RUN/nsmilter.pid
user = nobody
$1

[directory hq]
uri = ldaps://127.0.0.1:$(free_port)
bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example
bind_password_file = $SECRET
base = DC=corp,DC=example

[domain corp.example]
type = authoritative
directories = hq
INI
	chmod 644 "$CONF"
}
write_conf ""
NOGROUP=$(id -gn nobody)

check() { "$NSMILTER" -c "$CONF" -n 2>&1; echo "rc=$?"; }

# --- safe modes: no warning --------------------------------------------------
assert_eq "$(check)" "rc=0" "-n: 0644 file, 0600 password: silent, exit 0"
chown root:"$NOGROUP" "$SECRET"; chmod 640 "$SECRET"
assert_eq "$(check)" "rc=0" "-n: password 0640 for the service's group ($NOGROUP): silent"

# --- the configuration file is world-writable -------------------------------
chmod 666 "$CONF"
out=$(check)
assert_match "$out" "^$CONF: warning: world-writable \(mode 0666\)" "-n: world-writable configuration named"
assert_match "$out" 'rc=0$' "-n: a warning is no error (exit 0)"
chmod 644 "$CONF"

# --- the password file is readable beyond the service's group ---------------
chmod 644 "$SECRET"
out=$(check)
assert_match "$out" "^$CONF: \[directory hq\] bind_password_file: warning: '$SECRET' is readable by everyone \(mode 0644" \
	"-n: world-readable password file named with file, section and key"
assert_match "$out" 'rc=0$' "-n: world-readable password: exit 0"
chown nobody:daemon "$SECRET"; chmod 640 "$SECRET"
out=$(check)
assert_match "$out" "^$CONF: \[directory hq\] bind_password_file: warning: '$SECRET' is readable by its group" \
	"-n: password file readable by another group"
assert_no_match "$out" "hq-Secret-42" "the password never appears in a warning"

# --- ... and the daemon logs it, and the pidfile is 0644 under umask 077 -----
chown nobody:"$NOGROUP" "$SECRET"; chmod 644 "$SECRET"; chmod 666 "$CONF"
(umask 077; exec "$NSMILTER" -f -c "$CONF") 2> "$T_DIR/fg.log" &
FG=$!
at_exit "kill $FG"
wait_for test -s "$RUN/nsmilter.pid" || fail "pidfile written"
assert_eq "$(stat -c %a "$RUN/nsmilter.pid")" 644 "pidfile is 0644 under umask 077"
assert_file_match "$T_DIR/fg.log" "$CONF: warning: world-writable" "daemon logs the world-writable configuration"
assert_file_match "$T_DIR/fg.log" "$CONF: \[directory hq\] bind_password_file: warning: " "daemon logs the readable password file"
kill -TERM "$FG"
WAIT_SECONDS=15 wait_for bash -c "! kill -0 $FG 2>/dev/null || grep -q '^State:.*Z' /proc/$FG/status"
chmod 644 "$CONF"; chmod 600 "$SECRET"	# owner nobody

# --- a start-up failure after binding removes the socket it made ------------
"$NSMILTER" -f -c "$CONF" -u no-such-user-here 2> "$T_DIR/nouser.log"; rc=$?
assert_match "$rc" '^[1-9]' "unknown user: start-up fails (status $rc)"
assert_file_match "$T_DIR/nouser.log" "no-such-user-here" "unknown user: named in the log"
assert_eq "$(test -e "$RUN/milter.sock" && echo left || echo gone)" gone "unknown user: no milter socket left behind"

write_conf "socketmap = unix:$T_DIR/no/such/dir/socketmap.sock"
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/nosm.log"; rc=$?
assert_match "$rc" '^[1-9]' "socketmap cannot bind: start-up fails (status $rc)"
assert_eq "$(test -e "$RUN/milter.sock" && echo left || echo gone)" gone "socketmap cannot bind: no milter socket left behind"

write_conf "pidfile = $T_DIR/no/such/dir/nsmilter.pid"
sed -i "0,/^pidfile = $(printf '%s' "$RUN" | sed 's/[\/&]/\\&/g')\/nsmilter.pid$/{//d}" "$CONF"
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/nopid.log"; rc=$?
assert_match "$rc" '^[1-9]' "pidfile cannot be written: start-up fails (status $rc)"
assert_eq "$(test -e "$RUN/milter.sock" && echo left || echo gone)" gone "pidfile cannot be written: no milter socket left behind"

done_testing
