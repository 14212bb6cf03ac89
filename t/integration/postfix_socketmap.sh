#!/bin/bash
# postfix_socketmap.sh - routing without rewriting, through a private Postfix:
# the shared domain has "rewrite = no", Postfix's transport_maps asks
# nsmilter's socketmap first (contrib/postfix/main.cf.socketmap) and the hash
# table after it.  A foreign recipient reaches the foreign system exactly as
# the sender wrote it, a local one the local system, an unknown one is
# refused at RCPT, a target address is still rewritten (a socketmap cannot
# change an address), a directory that is down tempfails at RCPT, and when
# it goes down after the message was accepted the socketmap's TEMP makes
# Postfix defer the message (kept in the queue, not bounced) until the
# directory is back.  Asserts on what the smtp-sinks received, on the SMTP
# replies, the queue and the maillog.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends || setup_failed "slapd or smtp-sink"
SOCKETMAP=$(nsmilter_dir mx)/socketmap.sock
{
	nsmilter_milter_section mx "socketmap = unix:$SOCKETMAP"
	scene_directories "transport = smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
	scene_domain "rewrite = no" "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
wait_for test -S "$SOCKETMAP" || setup_failed "no socketmap socket at $SOCKETMAP"
assert_eq "$(stat -c %a "$SOCKETMAP")" 666 "socketmap socket has socket_mode (trivial-rewrite runs as postfix)"

# contrib/postfix/main.cf.socketmap, substituted, as extra main.cf lines.
SMTPD=$(free_port)
ETC=$(postfix_dir mx)/etc
mapfile -t SOCKETMAP_MAIN < <(sed -e "s|@SOCKETMAP_SOCKET@|$SOCKETMAP|g" \
	-e "s|@CONFIG_DIRECTORY@|$ETC|g" "$NSMILTER_SRCDIR/contrib/postfix/main.cf.socketmap" |
	grep -v -e '^#' -e '^[[:space:]]*$')
[ "${#SOCKETMAP_MAIN[@]}" -gt 0 ] || setup_failed "contrib/postfix/main.cf.socketmap has no setting"
# carol's targetAddress points at other.example: its own sink-independent
# route, to the foreign sink.  Messages from hold@example.net are put on
# hold at RCPT (the "directory down after acceptance" case).
PF_EXTRA_TRANSPORT="other.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" "${SOCKETMAP_MAIN[@]}" \
	"smtpd_sender_restrictions = check_sender_access inline:{hold@example.net=HOLD, hold2@example.net=HOLD}" ||
	setup_failed "postfix"
assert_match "$(postconf -c "$ETC" -h transport_maps)" \
	"^socketmap:unix:$SOCKETMAP:transport, hash:$ETC/transport\$" "postfix: transport_maps is socketmap, then hash"

FROM=sender@example.net
SM="socketmap:unix:$SOCKETMAP:transport"
deliver() { postfix_deliver mx "$SMTPD" "$FROM" "$@"; }

# --- what Postfix itself gets from the socketmap ------------------------------
assert_eq "$(postmap -c "$ETC" -q bob@corp.example "$SM")" "smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT" \
	"postmap: bob@corp.example -> the legacy directory's transport"
postmap -c "$ETC" -q corp.example "$SM" >/dev/null 2>&1
assert_eq "$?" 1 "postmap: the domain-only key corp.example is not found (falls through to hash)"
postmap -c "$ETC" -q alice@corp.example "$SM" >/dev/null 2>&1
assert_eq "$?" 1 "postmap: local alice is not found"
assert_eq "$(postmap -c "$ETC" -q corp.example "hash:$ETC/transport")" "smtp:[127.0.0.1]:$PF_LOCAL_SINK_PORT" \
	"postmap: corp.example in the hash table goes to the local system"

# --- a foreign recipient: delivered as written -------------------------------
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(deliver "bob@corp.example")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "foreign: bob accepted at RCPT"
assert_no_match "$out" '^FLUSH' "foreign: queue drained"
# Postfix's smtp client sends an ORCPT of its own (the original recipient)
# to a DSN-capable server: here the very address it delivers to, which
# shows that nothing changed it.
assert_eq "$(sink_rcpts foreign)" "bob@corp.example ORCPT=rfc822;bob@corp.example" \
	"foreign: the foreign system gets RCPT TO:<bob@corp.example> ORCPT=rfc822;bob@corp.example, nothing else"
assert_eq "$(sink_count local)" 0 "foreign: nothing at the local system"
assert_match "$(nsmilter_log_since mx "$mark")" 'rcpt=<bob@corp\.example> action=route to=<bob@legacy\.corp\.example> directory=legacy' \
	"foreign: the milter decided route (and did not rewrite)"
assert_match "$(nsmilter_log_since mx "$mark")" 'socketmap: rcpt=<bob@corp\.example> action=route .*reply="OK smtp:\[127\.0\.0\.1\]:'"$PF_FOREIGN_SINK_PORT"'"' \
	"foreign: Postfix asked the socketmap, which answered the transport"
assert_match "$(postfix_log mx)" 'to=<bob@corp\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:'"$PF_FOREIGN_SINK_PORT"', .*status=sent' \
	"foreign: Postfix's log shows bob@corp.example relayed to the foreign system"

# with the client's DSN arguments: passed on as given, the address unchanged
scene_clear_sinks
out=$(deliver "bob@corp.example NOTIFY=SUCCESS,DELAY")
assert_eq "$(sink_rcpts foreign)" "bob@corp.example ORCPT=rfc822;bob@corp.example NOTIFY=SUCCESS,DELAY" \
	"foreign+NOTIFY: bob@corp.example with the client's NOTIFY (ORCPT is Postfix's own, the same address)"

# an alias and an address extension: as written, Postfix's lookup finds them
scene_clear_sinks
out=$(deliver "robert@corp.example" "bob+news@corp.example")
assert_eq "$(sink_rcpts foreign | awk '{print $1}' | sort | tr '\n' ' ')" "bob+news@corp.example robert@corp.example " \
	"alias and extension: robert@ and bob+news@ arrive unchanged at the foreign system"
assert_eq "$(sink_count local)" 0 "alias and extension: nothing at the local system"

# --- a local recipient --------------------------------------------------------
scene_clear_sinks
out=$(deliver "alice@corp.example")
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "local: alice accepted"
assert_eq "$(sink_rcpts local)" "alice@corp.example ORCPT=rfc822;alice@corp.example" "local: alice arrives unchanged at the local system"
assert_eq "$(sink_count foreign)" 0 "local: nothing at the foreign system"

# --- one message for both systems, and one recipient nobody owns -------------
scene_clear_sinks
out=$(SMTP_SUBJECT=mixed deliver alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" \
	'^550 5\.1\.1 <nobody@corp\.example>: Recipient address rejected: User unknown' "mixed: unknown nobody 550 5.1.1 at RCPT (rewrite = no still rejects)"
assert_match "$out" '^\. => 250 ' "mixed: message accepted"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "mixed: the local system got alice only, once"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@corp.example" "mixed: the foreign system got bob@corp.example only, once"

# --- a target address: still rewritten by the milter --------------------------
scene_clear_sinks
out=$(deliver "carol@corp.example")
assert_match "$(smtp_reply_of "$out" carol@corp.example)" '^250 ' "target: carol accepted"
assert_eq "$(sink_rcpts foreign)" "carol@other.example ORCPT=rfc822;carol@corp.example" \
	"target: rewritten to the targetAddress with ORCPT even with rewrite = no, routed by other.example's entry"
assert_eq "$(sink_count local)" 0 "target: nothing at the local system"

# --- outside the shared domain -------------------------------------------------
scene_clear_sinks
out=$(deliver "someone@legacy.corp.example")
assert_match "$(smtp_reply_of "$out" someone@legacy.corp.example)" '^250 ' "skip: routing domain accepted"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "someone@legacy.corp.example" "skip: the hash table still routes legacy.corp.example"

# --- the legacy directory down at RCPT time ------------------------------------
# Postfix's smtpd resolves each recipient (trivial-rewrite, transport_maps)
# before it asks the milter, and caches the answer per sender and
# recipient.  A sender it has not seen: the socketmap's TEMP makes Postfix
# itself answer 451 4.3.0.  A sender and recipient it resolved while the
# directory was up: the milter answers 451 4.4.3.  Never a 5xx, nothing
# delivered.
slapd_stop legacy
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(smtp_send "$SMTPD" "down$RANDOM@example.net" alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^451 4\.3\.0 <bob@corp\.example>: Temporary lookup failure' \
	"down at RCPT, new sender: bob 451 4.3.0 from Postfix's transport lookup"
assert_match "$(nsmilter_log_since mx "$mark")" 'socketmap: rcpt=<bob@corp\.example> action=tempfail .*reply="TEMP ' \
	"down at RCPT, new sender: the socketmap answered TEMP"
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "down at RCPT, new sender: alice (hq) still accepted"
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^451 4\.(3\.0|4\.3) ' \
	"down at RCPT, known sender: bob 451 (Postfix 4.3.0 or, from its resolver cache, the milter's 4.4.3)"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^451 ' \
	"down at RCPT: an unknown recipient is tempfailed, not rejected (legacy might own it)"
postfix_flush mx >/dev/null 2>&1
assert_eq "$(sink_rcpt_count foreign bob@corp.example)$(sink_rcpt_count local bob@corp.example)" 00 \
	"down at RCPT: bob delivered nowhere"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "down at RCPT: alice delivered locally"

# legacy_back: restart the legacy slapd and wait until nsmilter uses it
# again (it probes a held-down server about every second).
legacy_back() {
	_slapd_run legacy || setup_failed "restart slapd legacy"
	wait_for bash -c "postmap -c '$ETC' -q bob@corp.example '$SM' | grep -q ."
}
legacy_back
assert_eq "$(postmap -c "$ETC" -q bob@corp.example "$SM")" "smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT" \
	"legacy back: the socketmap answers the transport again"

# --- the legacy directory goes down after the message was accepted ---------------
scene_clear_sinks
out=$(smtp_send "$SMTPD" "hold@example.net" bob@corp.example)
qid=$(smtp_queue_id "$out")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "late failure: bob accepted while legacy is up"
assert_match "$qid" '^[0-9A-F]+$' "late failure: queued ($qid)"
qid=${qid:-NOQID}
assert_match "$(postfix_queue mx)" "^$qid! " "late failure: message on hold"
slapd_stop legacy
mark=$(nsmilter_log_mark mx)
postsuper -c "$ETC" -H "$qid" >/dev/null 2>&1
postqueue -c "$ETC" -f >/dev/null 2>&1
WAIT_SECONDS=30 wait_for grep -Eq "$qid: to=<bob@corp\.example>.*status=deferred" "$(postfix_dir mx)/maillog"
assert_match "$(postfix_log mx)" "$qid: to=<bob@corp\\.example>.*status=deferred" "late failure: Postfix deferred bob"
assert_match "$(nsmilter_log_since mx "$mark")" 'socketmap: rcpt=<bob@corp\.example> action=tempfail.*reply="TEMP ' \
	"late failure: the socketmap answered TEMP"
assert_match "$(postfix_queue mx)" "^$qid " "late failure: the message stays in the queue"
assert_no_match "$(postfix_log mx)" "$qid: .*status=bounced|$qid: sender non-delivery" "late failure: nothing bounced"
assert_eq "$(( $(sink_count foreign) + $(sink_count local) ))" 0 "late failure: delivered nowhere meanwhile"
legacy_back
postfix_flush mx 60
assert_eq "$(sink_rcpts foreign)" "bob@corp.example ORCPT=rfc822;bob@corp.example" "late failure: delivered to the foreign system once legacy is back"
assert_eq "$(sink_count local)" 0 "late failure: never at the local system"
assert_match "$(postfix_log mx)" "$qid: to=<bob@corp\\.example>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$PF_FOREIGN_SINK_PORT, .*status=sent" \
	"late failure: Postfix logged the delivery to the foreign system"

# --- nsmilter down while a message waits in the queue ---------------------------
# The socketmap does not answer: Postfix's lookup fails, the message is
# deferred, and delivered once nsmilter is back.  (Another sender: qmgr's
# resolver client reuses its last answer for the same sender and
# recipient, here hold@example.net -> bob@corp.example.)
scene_clear_sinks
out=$(smtp_send "$SMTPD" "hold2@example.net" bob@corp.example)
qid=$(smtp_queue_id "$out")
assert_match "$qid" '^[0-9A-F]+$' "nsmilter down: message held in the queue ($qid)"
qid=${qid:-NOQID}
nsmilter_stop mx
postsuper -c "$ETC" -H "$qid" >/dev/null 2>&1
postqueue -c "$ETC" -f >/dev/null 2>&1
WAIT_SECONDS=30 wait_for grep -Eq "$qid: to=<bob@corp\.example>.*status=deferred" "$(postfix_dir mx)/maillog"
assert_match "$(postfix_log mx)" "$qid: to=<bob@corp\\.example>.*status=deferred" "nsmilter down: Postfix deferred bob"
assert_match "$(postfix_queue mx)" "^$qid " "nsmilter down: the message stays in the queue"
assert_eq "$(( $(sink_count foreign) + $(sink_count local) ))" 0 "nsmilter down: delivered nowhere meanwhile"
nsmilter_start mx || setup_failed "nsmilter again"
postfix_flush mx 60
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@corp.example" "nsmilter down: delivered to the foreign system once it is back"
assert_eq "$(sink_count local)" 0 "nsmilter down: never at the local system"

done_testing
