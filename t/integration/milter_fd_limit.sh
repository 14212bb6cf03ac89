#!/bin/bash
# milter_fd_limit.sh - file descriptors: nsmilter raises its soft limit to
# the hard one, caps concurrent milter connections below it, answers
# tempfail at CONNECT beyond the cap (promptly, with a log line) instead of
# stalling every session, and serves again once connections close.
# Sessions are held open by t/tools/milterhold (the MTA's side of the
# protocol); a real Postfix shows what a client sees.  No directory is
# contacted.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"

HOLD=$NSMILTER_BUILDDIR/t/milterhold
SOCK=$T_DIR/milter.sock
cat > "$T_DIR/nsmilter.ini" <<INI
[milter]
socket = unix:$SOCK
socket_mode = 0666

[directory hq]
uri = ldap://127.0.0.1:$(free_port)
base = dc=corp,dc=example

[domain corp.example]
type = authoritative
directories = hq
INI

# soft limit 100, hard 192: nsmilter may raise it to 192
(ulimit -Sn 100 && ulimit -Hn 192 && exec "$NSMILTER" -f -c "$T_DIR/nsmilter.ini") 2> "$T_DIR/log" &
NP=$!
at_exit "kill $NP"
wait_for test -S "$SOCK" || fail "milter socket appears"
assert_file_match "$T_DIR/log" 'file descriptors: limit 192 \(raised from 100\), at most [0-9]+ milter connections' \
	"soft limit raised to the hard limit, cap logged"
CAP=$(sed -n 's/.*at most \([0-9]*\) milter connections.*/\1/p' "$T_DIR/log" | head -1)
assert_match "${CAP:-0}" '^[0-9]+$' "cap is a number ($CAP)"
[ "${CAP:-0}" -lt 192 ] || fail "cap $CAP is below the limit 192"

# a real Postfix in front (started before the holder's fifo is open, so
# that no daemon inherits its write end)
PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || fail "setup: sink"
PF_FOREIGN_SINK_PORT=$PF_LOCAL_SINK_PORT
SMTPD=$(free_port)
postfix_start mx "$SMTPD" "unix:$SOCK" || fail "setup: postfix"

# more sessions than the limit: the cap's worth continue, the rest get
# tempfail at once (and close, as an MTA does); none stalls
mkfifo "$T_DIR/hold"
"$HOLD" "unix:$SOCK" 250 -1 < "$T_DIR/hold" > "$T_DIR/held" &
HP=$!
exec {HFD}>"$T_DIR/hold"
wait_for test -s "$T_DIR/held" || fail "holder reports"
held=$(cat "$T_DIR/held")
assert_match "$held" "^continue=$CAP tempfail=$((250 - CAP)) other=0 error=0 " "250 sessions: $CAP served, the rest tempfail, none stalls"
assert_match "$held" 'max_ms=([0-9]|[0-9][0-9]|[0-9][0-9][0-9])$' "every answer within 1 s"
probe=$("$HOLD" "unix:$SOCK" 1)
assert_match "$probe" '^continue=0 tempfail=1 other=0 error=0 max_ms=([0-9]|[0-9][0-9]|[0-9][0-9][0-9])$' \
	"at the cap, a new session gets tempfail within 1 s"
assert_file_match "$T_DIR/log" "$CAP milter connections open, the most the descriptor limit allows: answering tempfail" \
	"the cap is logged"

# what an SMTP client sees through Postfix meanwhile: a prompt 4xx
t0=$(date +%s%N)
out=$(smtp_send "$SMTPD" sender@example.net alice@corp.example)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_match "$out" '^(MAIL FROM|RCPT TO):.* => 4[0-9][0-9] ' "through Postfix at the cap: a 4xx, the client retries later"
assert_no_match "$out" '^\. => 250' "through Postfix at the cap: nothing accepted unchecked"
[ "$ms" -lt 5000 ] || fail "through Postfix at the cap: answered in $ms ms (want < 5 s)"
assert_match "$(postfix_log mx)" 'milter-reject: CONNECT from .*: 451 4\.7\.1 ' "Postfix got nsmilter's tempfail at CONNECT"
assert_no_match "$(postfix_log mx)" 'connect to Milter service' "Postfix reached nsmilter (no socket error)"

# the held sessions go: new ones are served again
exec {HFD}>&-
WAIT_SECONDS=10 wait_for bash -c "! kill -0 $HP 2>/dev/null" || kill "$HP"
wait "$HP"
ok=
for _ in $(seq 1 50); do
	probe=$("$HOLD" "unix:$SOCK" 1)
	case $probe in continue=1*) ok=1; break ;; esac
	sleep 0.1
done
assert_eq "${ok:-no}" 1 "after the sessions close, a new session is served ($probe)"
out=$(smtp_send "$SMTPD" sender@example.net alice@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^451 4\.4\.3 ' \
	"through Postfix after the sessions close: nsmilter decides again (its directory is down: 451 4.4.3)"
assert_eq "$(kill -0 "$NP" 2>/dev/null && echo alive)" alive "nsmilter still running"

done_testing
