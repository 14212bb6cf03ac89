#!/bin/bash
# sendmail_socketmap.sh - routing without rewriting, through a private
# Sendmail 8.17: the shared domain has "rewrite = no", and
# contrib/sendmail/socketmap.mc makes ruleset 0 ask nsmilter's socketmap
# (Sendmail's "socket" map class, map name "transport") for every envelope
# recipient before the mailertable.  A foreign recipient reaches the
# foreign system exactly as the sender wrote it, a local one the local
# system, an unknown one is refused at RCPT, a directory that is down
# tempfails at RCPT, and when it goes down after the message was accepted
# the recipient stays queued (not bounced) until the directory is back.
# Asserts on what the smtp-sinks received, the SMTP replies and the queue.
# Runs in its own network namespace (t/lib/sendmail.sh); needs
# t/setup-sendmail.sh.

. "$(dirname "$0")/../lib/sendmail.sh"
sendmail_netns "$@"

sm_scene_backends || setup_failed "Sendmail, directories or sinks (see above)"
SOCKETMAP=$(nsmilter_dir mx)/socketmap.sock
{
	nsmilter_milter_section mx "socketmap = unix:$SOCKETMAP"
	# Sendmail needs MAILER:HOST; esmtp passes ORCPT/NOTIFY on.
	scene_directories "transport = esmtp:[$SM_FOREIGN_HOST]"
	scene_domain "rewrite = no" "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
wait_for test -S "$SOCKETMAP" || setup_failed "no socketmap socket at $SOCKETMAP"
SMTPD=$(free_port)
SM_EXTRA_MC=socketmap.mc SM_SOCKETMAP_SOCKET=$SOCKETMAP \
	sendmail_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "sendmail"
assert_match "$(grep '^Ktransport' "$(sendmail_dir mx)/sendmail.cf")" "^Ktransport socket unix:$SOCKETMAP\$" \
	"sendmail.cf: the socket map \"transport\" from socketmap.mc"

FROM=sender@example.net

# --- the fragment's check with sendmail -bt -----------------------------------
bt=$(printf '.D{addr_type}e r\n/map transport bob@corp.example\n/map transport alice@corp.example\n3,0 bob@corp.example\n3,0 alice@corp.example\n' |
	sendmail_cmd mx -bt 2>&1)
assert_match "$bt" 'map_lookup: transport \(bob@corp\.example\) returns esmtp:\[127\.0\.0\.3\]' "-bt: the socket map answers bob's transport"
assert_match "$bt" 'map_lookup: transport \(alice@corp\.example\) no match' "-bt: no answer for alice"
assert_match "$bt" '^parse +returns: \$# esmtp \$@ \[ 127 \. 0 \. 0 \. 3 \] \$: bob < @ corp \. example \. >' \
	"-bt: bob@corp.example resolves to the foreign system, address unchanged"
assert_match "$bt" '^parse +returns: \$# esmtp \$@ \[ 127 \. 0 \. 0 \. 2 \] \$: alice < @ corp \. example \. >' \
	"-bt: alice@corp.example falls through to the mailertable (local system)"
bt=$(printf '.D{addr_type}e s\n3,0 bob@corp.example\n' | sendmail_cmd mx -bt 2>&1)
assert_match "$bt" '^parse +returns: \$# esmtp \$@ \[ 127 \. 0 \. 0 \. 2 \]' \
	"-bt: for a sender ({addr_type} \"e s\") the socket map is not asked"

deliver() { sendmail_deliver "${INST:-mx}" "${PORT:-$SMTPD}" "$FROM" "$@"; }

# --- a foreign recipient: delivered as written -------------------------------
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(deliver "bob@corp.example")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "foreign: bob accepted at RCPT"
assert_no_match "$out" '^QUEUE' "foreign: delivered, queue empty"
assert_eq "$(sink_rcpts foreign)" "bob@corp.example" \
	"foreign: the foreign system gets RCPT TO:<bob@corp.example>, no ORCPT, nothing else"
assert_eq "$(sink_count local)" 0 "foreign: nothing at the local system"
assert_match "$(nsmilter_log_since mx "$mark")" 'socketmap: rcpt=<bob@corp\.example> action=route .*reply="OK esmtp:\[127\.0\.0\.3\]"' \
	"foreign: Sendmail asked the socketmap"

scene_clear_sinks
out=$(deliver "bob+news@corp.example NOTIFY=SUCCESS,DELAY" "robert@corp.example")
assert_eq "$(sink_rcpts foreign | sort | tr '\n' ' ')" "bob+news@corp.example NOTIFY=SUCCESS,DELAY robert@corp.example " \
	"extension and alias: unchanged at the foreign system, the client's NOTIFY kept"
assert_eq "$(sink_count local)" 0 "extension and alias: nothing at the local system"

# --- local, unknown, and all in one message ------------------------------------
scene_clear_sinks
out=$(SMTP_SUBJECT=mixed deliver alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "mixed: alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "mixed: bob accepted"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" \
	'^550 5\.1\.1 <nobody@corp\.example>(: |\.\.\. ).*Recipient address rejected: User unknown$' \
	"mixed: unknown nobody 550 5.1.1 at RCPT (rewrite = no still rejects)"
assert_match "$out" '^\. => 250 ' "mixed: message accepted"
assert_no_match "$out" '^QUEUE' "mixed: delivered, queue empty"
assert_eq "$(sink_rcpts local)" "alice@corp.example" "mixed: the local system got alice unchanged, once"
assert_eq "$(sink_rcpts foreign)" "bob@corp.example" "mixed: the foreign system got bob@corp.example unchanged, once"

# --- the legacy directory down at RCPT time ------------------------------------
slapd_stop legacy
scene_clear_sinks
out=$(deliver alice@corp.example bob@corp.example)
# Ruleset 0's lookup fails temporarily ("will queue"), then the milter
# answers for the recipient.
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^451 4\.4\.3 <bob@corp\.example>: Directory unavailable' \
	"down at RCPT: bob 451 4.4.3 (from the milter)"
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "down at RCPT: alice (hq) still accepted"
assert_eq "$(sink_rcpts local)" "alice@corp.example" "down at RCPT: alice delivered locally"
assert_eq "$(sink_count foreign)$(sink_rcpt_count local bob@corp.example)" 00 "down at RCPT: bob delivered nowhere"

# legacy_back: restart the legacy slapd and wait until nsmilter uses it
# again (it probes a held-down server about every second).
legacy_back() {
	_slapd_run legacy || setup_failed "restart slapd legacy"
	wait_for bash -c "printf '/map transport bob@corp.example\n' | '$NSMILTER_SENDMAIL_ROOT/usr/libexec/sendmail/sendmail' -C '$(sendmail_dir mx)/sendmail.cf' -bt 2>&1 | grep -q 'returns esmtp'"
}
legacy_back
scene_clear_sinks
out=$(deliver bob@corp.example)
assert_eq "$(sink_rcpts foreign)" "bob@corp.example" "legacy back: bob delivered to the foreign system again"

# --- the legacy directory goes down after the message was accepted ---------------
# The foreign system is down too when the message comes in, so it stays in
# the queue; the queue run re-parses its recipients (ruleset 0), and the
# socketmap's TEMP must keep it there rather than send it anywhere.
scene_clear_sinks
sink_stop foreign
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
qid=$(sm_queue_id "$out")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "late failure: bob accepted while legacy is up"
assert_match "$qid" '^[0-9A-Za-z]{8,}$' "late failure: queued ($qid)"
qid=${qid:-NOQID}
# the first delivery attempt is over when the qf file holds its message
WAIT_SECONDS=30 wait_for grep -qs '^M' "$(sendmail_dir mx)/mqueue/qf$qid"
assert_match "$(grep '^M' "$(sendmail_dir mx)/mqueue/qf$qid" 2>/dev/null)" '[Dd]eferred' \
	"late failure: first attempt deferred (the foreign system is down too)"
slapd_stop legacy
sink_start foreign 25 "$SM_FOREIGN_HOST" || setup_failed "foreign sink again"
mark=$(nsmilter_log_mark mx)
qrun=$(sendmail_cmd mx -q -v 2>&1)
assert_match "$qrun" '<bob@corp\.example>\.\.\. Transient parse error -- message queued for future delivery' \
	"late failure: the queue run cannot parse bob (socketmap TEMP) and keeps it queued"
assert_eq "$(sendmail_queue_count mx)" 1 "late failure: the message stays in the queue"
assert_match "$(nsmilter_log_since mx "$mark")" 'socketmap: rcpt=<bob@corp\.example> action=tempfail.*reply="TEMP ' \
	"late failure: the queue run asked the socketmap, which answered TEMP"
assert_eq "$(( $(sink_count foreign) + $(sink_count local) ))" 0 "late failure: delivered nowhere meanwhile"
assert_no_match "$(find "$(sendmail_dir mx)/mqueue" -name 'qf*' -newer "$(sendmail_dir mx)/sendmail.cf" -exec grep -l 'MAILER-DAEMON' {} + 2>/dev/null)" '.' \
	"late failure: no bounce queued"
legacy_back
sendmail_cmd mx -q >/dev/null 2>&1
sendmail_wait_queue_empty mx 30
assert_eq "$(sendmail_queue_count mx)" 0 "late failure: the queue is empty once legacy is back"
assert_eq "$(sink_rcpts foreign)" "bob@corp.example" "late failure: delivered to the foreign system, unchanged"
assert_eq "$(sink_count local)" 0 "late failure: never at the local system"

# --- nsmilter down while a message waits in the queue ---------------------------
# The socket map cannot be opened (no -o flag): a temporary failure, the
# recipient stays queued until nsmilter is back.
scene_clear_sinks
sink_stop foreign
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
qid=$(sm_queue_id "$out")
assert_match "$qid" '^[0-9A-Za-z]{8,}$' "nsmilter down: queued ($qid)"
qid=${qid:-NOQID}
WAIT_SECONDS=30 wait_for grep -qs '^M' "$(sendmail_dir mx)/mqueue/qf$qid"
nsmilter_stop mx
sink_start foreign 25 "$SM_FOREIGN_HOST" || setup_failed "foreign sink again"
qrun=$(sendmail_cmd mx -q -v 2>&1)
assert_match "$qrun" '<bob@corp\.example>\.\.\. Transient parse error -- message queued for future delivery' \
	"nsmilter down: the queue run keeps bob queued"
assert_eq "$(sendmail_queue_count mx)" 1 "nsmilter down: the message stays in the queue"
assert_eq "$(( $(sink_count foreign) + $(sink_count local) ))" 0 "nsmilter down: delivered nowhere meanwhile"
nsmilter_start mx || setup_failed "nsmilter again"
sendmail_cmd mx -q >/dev/null 2>&1
sendmail_wait_queue_empty mx 30
assert_eq "$(sink_rcpts foreign)" "bob@corp.example" "nsmilter down: delivered to the foreign system once it is back"
assert_eq "$(sink_count local)" 0 "nsmilter down: never at the local system"

done_testing
