#!/bin/bash
# daemon_deploy.sh - what the documented deployment relies on:
# the unix sockets belong to user:socket_group (else the user's group) with
# socket_mode; nsmilter -n says when a bind secret is not readable by the
# service user, and a 0640 root:GROUP secret survives SIGHUP; a relative -c
# works in the background (reloads included); start-up errors reach stderr
# without -f; SIGTERM stops an idle daemon within 1 s; an MTA that does not
# offer add-recipient-with-parameters still gets routed recipients, added
# with plain smfi_addrcpt.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"

HQ_PORT=$(free_port); LEGACY_PORT=$(free_port)
slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly || { fail "slapd hq"; done_testing; }
slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif || { fail "slapd legacy"; done_testing; }
RUN=$T_DIR/run
mkdir -p "$RUN"
chown nobody "$RUN"
printf 'hq-Secret-42\n' > "$T_DIR/hq.secret"

# write_conf [extra [milter] lines...]
write_conf() {
	{
		echo "[milter]"
		echo "socket = unix:$RUN/milter.sock"
		echo "socketmap = unix:$RUN/socketmap.sock"
		echo "socket_mode = 0660"
		echo "pidfile = $RUN/nsmilter.pid"
		echo "user = nobody"
		echo "cache_ttl = 0"
		echo "negative_cache_ttl = 0"
		for l in "$@"; do echo "$l"; done
		cat <<INI

[directory hq]
uri = ldap://127.0.0.1:$HQ_PORT
bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example
bind_password_file = $T_DIR/hq.secret
base = DC=corp,DC=example
filter = (|(mail=%s)(proxyAddresses=smtp:%s))
target_attribute = targetAddress

[directory legacy]
uri = ldap://127.0.0.1:$LEGACY_PORT
base = ou=people,dc=legacy,dc=example
filter = (|(mail=%s)(mailLocalAddress=%s))
route = legacy.corp.example

[domain corp.example]
type = internal-relay
directories = hq, legacy
INI
	} > "$T_DIR/nsmilter.ini"
}
CONF=$T_DIR/nsmilter.ini
# the lines of $1 that are not warnings (a bind over ldap:// is warned about)
errors_only() { printf '%s\n' "$1" | grep -v ': warning: ' || true; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# stop_within PID: SIGTERM, print how many ms until the process is gone.
stop_within() {
	local t0 t1
	t0=$(ms)
	kill -TERM "$1"
	WAIT_SECONDS=10 wait_for bash -c "! grep -qs '^State:[[:space:]]*[RSDT]' /proc/$1/status"
	t1=$(ms)
	echo $((t1 - t0))
}

# --- nsmilter -n: the secret must be readable by the service user ---------
write_conf
chown root:root "$T_DIR/hq.secret"; chmod 0600 "$T_DIR/hq.secret"
out=$("$NSMILTER" -n -c "$CONF" 2>&1); rc=$?
assert_eq "$rc" 78 "-n: a secret the user cannot read is a configuration error"
assert_match "$out" "^$CONF: \[directory hq\] bind_password_file: '$T_DIR/hq.secret' is not readable by user nobody" \
    "-n names the secret and the user"
assert_match "$out" "group nogroup, mode 0640" "-n says how to fix it"
chown root:nogroup "$T_DIR/hq.secret"; chmod 0640 "$T_DIR/hq.secret"
out=$("$NSMILTER" -n -c "$CONF" 2>&1); rc=$?
assert_eq "$rc:$(errors_only "$out")" "0:" "-n: a 0640 root:nogroup secret is fine for user nobody"
out=$("$NSMILTER" -n -c "$CONF" -u no-such-user-here 2>&1); rc=$?
assert_eq "$rc" 78 "-n: an unknown user is a configuration error"
assert_match "$out" "\[milter\] user: user no-such-user-here: no such user" "-n names the unknown user"

# --- sockets: user and socket_group, socket_mode; SIGTERM within 1 s ------
write_conf "socket_group = mail"
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/fg.log" &
FG=$!
at_exit "kill $FG"
wait_for test -s "$RUN/nsmilter.pid" || fail "daemon started"
assert_eq "$(stat -c '%U:%G %a' "$RUN/milter.sock")" "nobody:mail 660" "milter socket: user, socket_group, socket_mode"
assert_eq "$(stat -c '%U:%G %a' "$RUN/socketmap.sock")" "nobody:mail 660" "socketmap socket: user, socket_group, socket_mode"
took=$(stop_within "$FG")
echo "# SIGTERM to exit: ${took} ms"
if [ "$took" -lt 1000 ]; then pass "idle daemon stops within 1 s of SIGTERM (${took} ms)"
else fail "idle daemon took ${took} ms to stop after SIGTERM"; fi
assert_eq "$(test -e "$RUN/milter.sock" && echo left || echo gone)" gone "milter socket removed at stop"

write_conf
"$NSMILTER" -f -c "$CONF" 2> "$T_DIR/fg2.log" &
FG=$!
at_exit "kill $FG"
wait_for test -s "$RUN/nsmilter.pid" || fail "daemon started"
assert_eq "$(stat -c '%U:%G' "$RUN/milter.sock")" "nobody:nogroup" "no socket_group: the user's group"

# --- an MTA without add-recipient-with-parameters --------------------------
client() { python3 "$NSMILTER_SRCDIR/t/lib/milter_client.py" "unix:$RUN/milter.sock" "$@"; }
out=$(client 0x8c '<s@example.org>' '<bob@corp.example> NOTIFY=SUCCESS' '<alice@corp.example>')
assert_match "$out" "^eom addrcpt_par <bob@legacy.corp.example> .*ORCPT=rfc822;bob@corp.example" \
    "offered: routed recipient added with ORCPT"
assert_match "$out" "^eom addrcpt_par <bob@legacy.corp.example> .*NOTIFY=SUCCESS" \
    "offered: ... and the client's NOTIFY"
out=$(client 0x0c '<s@example.org>' '<bob@corp.example> NOTIFY=SUCCESS' '<alice@corp.example>')
assert_match "$out" "^negotiated actions=0xc " "not offered: nsmilter asks for plain add and delete"
assert_match "$out" "^eom addrcpt <bob@legacy.corp.example>$" "not offered: routed recipient added with smfi_addrcpt"
assert_match "$out" "^eom delrcpt <bob@corp.example>$" "not offered: the original recipient is deleted"
assert_match "$out" "^eom continue$" "not offered: the message continues instead of a tempfail"
assert_no_match "$out" "delrcpt <alice@corp.example>" "the local recipient is left alone"
wait_for grep -q "without ESMTP parameters" "$T_DIR/fg2.log"
assert_file_match "$T_DIR/fg2.log" "conn=[0-9]+ rewrote <bob@corp.example> to <bob@legacy.corp.example> without ESMTP parameters" \
    "the plain add is logged"
assert_file_match "$T_DIR/fg2.log" "does not offer add-recipient-with-parameters" "the missing action is logged"
kill -TERM "$FG"; wait "$FG"

# --- background, relative -c, reload with a 0640 secret ---------------------
write_conf
rm -f "$RUN/nsmilter.pid"
(cd "$T_DIR" && "$NSMILTER" -c nsmilter.ini) 2> "$T_DIR/bg.err"; rc=$?
assert_eq "$rc" 0 "relative -c without -f: started"
wait_for test -s "$RUN/nsmilter.pid" || fail "pidfile written"
BG=$(cat "$RUN/nsmilter.pid")
at_exit "kill $BG"
assert_eq "$(errors_only "$(cat "$T_DIR/bg.err")")" "" "no error on stderr after a good start"
smap() { MAIL_CONFIG=$T_DIR/pf postmap -q "$1" "socketmap:unix:$RUN/socketmap.sock:transport"; }
mkdir -p "$T_DIR/pf"; : > "$T_DIR/pf/main.cf"
sed -i 's/^route = legacy.corp.example$/route = legacy.corp.example\ntransport = smtp:[127.0.0.1]:2727/' "$CONF"
kill -HUP "$BG"
wait_for bash -c "[ \"\$(MAIL_CONFIG=$T_DIR/pf postmap -q bob@corp.example socketmap:unix:$RUN/socketmap.sock:transport)\" = 'smtp:[127.0.0.1]:2727' ]"
assert_eq "$(smap bob@corp.example)" "smtp:[127.0.0.1]:2727" \
    "SIGHUP in the background re-reads the relative -c file, with the 0640 secret"
took=$(stop_within "$BG")
if [ "$took" -lt 1000 ]; then pass "background daemon stops within 1 s (${took} ms)"
else fail "background daemon took ${took} ms to stop"; fi

# --- start-up errors on stderr, without -f ----------------------------------
write_conf
sed -i "s|^socket = .*|socket = unix:$T_DIR/no/such/dir/milter.sock|" "$CONF"
out=$("$NSMILTER" -c "$CONF" 2>&1); rc=$?
assert_eq "$rc" 69 "a socket that cannot be made: exit status 69"
assert_match "$out" "cannot listen on unix:$T_DIR/no/such/dir/milter.sock" "... and said on stderr"
write_conf "socket_group = no-such-group-here"
out=$("$NSMILTER" -c "$CONF" 2>&1); rc=$?
assert_eq "$rc" 71 "an unknown socket_group: exit status 71"
assert_match "$out" "socket_group no-such-group-here: no such group" "... and said on stderr"
write_conf "cache_size = lots"
out=$("$NSMILTER" -c "$CONF" 2>&1); rc=$?
assert_eq "$rc" 78 "a bad configuration: exit status 78"
assert_match "$out" "\[milter\] cache_size" "... and the problem on stderr"
done_testing
