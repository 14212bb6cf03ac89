#!/bin/bash
# sendmail_routing.sh - real SMTP through a private Sendmail 8.17 with
# nsmilter and two directories, built from contrib/sendmail/ (nsmilter.mc,
# mailertable, original-address.mc): a local recipient arrives unchanged at
# the local system, a foreign one at the foreign system as localpart@route
# with ORCPT=rfc822;<original> and the client's NOTIFY, an unknown one is
# refused at RCPT, a message for both systems reaches each exactly once,
# Sendmail's queue id is in nsmilter's log, and with original-address.mc the
# foreign system gets the original address.  Asserts on what the smtp-sinks
# received and on the SMTP replies.  Runs in its own network namespace
# (t/lib/sendmail.sh); needs t/setup-sendmail.sh.

. "$(dirname "$0")/../lib/sendmail.sh"
sendmail_netns "$@"

sm_scene_backends || setup_failed "Sendmail, directories or sinks (see above)"
{
	nsmilter_milter_section mx
	scene_directories
	scene_domain "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
sendmail_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "sendmail"

FROM=sender@example.net

# --- the README's check of the configuration ---------------------------------
bt=$(printf '/map mailertable legacy.corp.example\n3,0 bob@legacy.corp.example\n3,0 alice@corp.example\n' |
	sendmail_cmd mx -bt 2>&1)
assert_match "$bt" 'mailertable \(legacy\.corp\.example\) returns esmtp:\[127\.0\.0\.3\]' "-bt: mailertable has the route"
assert_match "$bt" '^parse +returns: \$# esmtp \$@ \[ 127 \. 0 \. 0 \. 3 \] \$: bob < @ legacy \. corp \. example \. >' \
	"-bt: the routing domain resolves to the foreign system"
assert_match "$bt" '^parse +returns: \$# esmtp \$@ \[ 127 \. 0 \. 0 \. 2 \] \$: alice < @ corp \. example \. >' \
	"-bt: the shared domain resolves to the local system"

# deliver [PORT=...] RCPT...: send to Sendmail, wait until its queue is empty.
deliver() { sendmail_deliver "${INST:-mx}" "${PORT:-$SMTPD}" "$FROM" "$@"; }

# --- a local recipient -------------------------------------------------------
scene_clear_sinks
out=$(deliver "alice@corp.example NOTIFY=SUCCESS,FAILURE")
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "local: alice accepted at RCPT"
assert_match "$out" '^\. => 250 ' "local: message accepted"
assert_no_match "$out" '^QUEUE' "local: delivered, queue empty"
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "local: alice arrives once at the local system, address unchanged"
assert_match "$(sink_rcpt_args local alice@corp.example)" '(^| )NOTIFY=SUCCESS,FAILURE( |$)' "local: NOTIFY untouched"
assert_no_match "$(sink_rcpt_args local alice@corp.example)" 'ORCPT=rfc822;alice@legacy' "local: no routing ORCPT"
assert_eq "$(sink_count foreign)" 0 "local: nothing at the foreign system"
assert_match "$(nsmilter_log mx)" 'rcpt=<alice@corp\.example> action=accept.* directory=hq' "local: decision logged"

# --- a foreign recipient -----------------------------------------------------
scene_clear_sinks
out=$(deliver "bob@corp.example NOTIFY=SUCCESS,DELAY")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "foreign: bob accepted at RCPT"
assert_no_match "$out" '^QUEUE' "foreign: delivered, queue empty"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 \
	"foreign: arrives once at the foreign system as bob@legacy.corp.example"
args=$(sink_rcpt_args foreign bob@legacy.corp.example)
assert_match "$args" '(^| )ORCPT=rfc822;bob@corp\.example( |$)' "foreign: ORCPT carries the original address"
assert_match "$args" '(^| )NOTIFY=SUCCESS,DELAY( |$)' "foreign: client's NOTIFY kept"
assert_eq "$(sink_count local)" 0 "foreign: nothing at the local system"
assert_eq "$(sink_rcpt_count foreign bob@corp.example)" 0 "foreign: the original address is not delivered as well"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=route to=<bob@legacy\.corp\.example> directory=legacy' \
	"foreign: decision logged"

# an address extension: ORCPT xtext-encoded through Sendmail too
scene_clear_sinks
out=$(deliver "bob+news@corp.example")
assert_eq "$(sink_rcpt_count foreign bob+news@legacy.corp.example)" 1 "extension: routed with the extension"
assert_match "$(sink_rcpt_args foreign bob+news@legacy.corp.example)" '(^| )ORCPT=rfc822;bob\+2Bnews@corp\.example( |$)' \
	"extension: ORCPT is xtext-encoded (+ -> +2B)"

# --- an unknown recipient ----------------------------------------------------
# (Sendmail puts "<R>... " before a milter's reply text at RCPT.)
scene_clear_sinks
out=$(deliver "nobody@corp.example")
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" \
	'^550 5\.1\.1 <nobody@corp\.example>(: |\.\.\. ).*Recipient address rejected: User unknown$' "unknown: 550 5.1.1 at RCPT"
assert_no_match "$out" '^DATA' "unknown: no transaction without a recipient"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "unknown: nothing delivered anywhere"
assert_eq "$(sendmail_queue_count mx)" 0 "unknown: nothing queued"

# --- one message for both systems (and one recipient nobody owns) -----------
scene_clear_sinks
out=$(SMTP_SUBJECT=mixed deliver alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "mixed: alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "mixed: bob accepted"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 5\.1\.1 ' "mixed: nobody rejected"
assert_match "$out" '^\. => 250 ' "mixed: message accepted"
assert_eq "$(sink_count local)" 1 "mixed: one message at the local system"
assert_eq "$(sink_count foreign)" 1 "mixed: one message at the foreign system"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "mixed: local system got alice only, once"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" "mixed: foreign system got bob@legacy only, once"
assert_match "$(sink_rcpt_args foreign bob@legacy.corp.example)" 'ORCPT=rfc822;bob@corp\.example' "mixed: ORCPT for bob"

# --- Sendmail's queue id in nsmilter's log ----------------------------------
qid=$(sm_queue_id "$out")
assert_match "$qid" '^[0-9A-Za-z]{8,}$' "queue id: Sendmail reported one ($qid)"
assert_match "$(nsmilter_log mx)" "^(.*[^0-9A-Za-z])?$qid: rcpt=<alice@corp\\.example> action=accept" \
	"queue id: prefixes the log line of a recipient"
assert_match "$(nsmilter_log mx)" "^(.*[^0-9A-Za-z])?$qid: rcpt=<bob@corp\\.example> action=route" \
	"queue id: on every recipient of the message"

# --- an outside client: RELAY_DOMAIN of nsmilter.mc lets the shared domain in
scene_clear_sinks
out=$(SMTP_SUBJECT=outside smtp_send_from "$SM_CLIENT_ADDR" "$SMTPD" "$FROM" bob@corp.example)
sendmail_wait_queue_empty mx 30
assert_match "$out" '^RCPT TO:<bob@corp\.example> => 250 ' "outside client: shared domain accepted"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "outside client: routed to the foreign system"
out=$(smtp_send_from "$SM_CLIENT_ADDR" "$SMTPD" "$FROM" someone@elsewhere.example)
assert_match "$out" '^RCPT TO:<someone@elsewhere\.example> => [45][0-9][0-9] .*Relaying (temporarily )?denied' \
	"outside client: not an open relay"

# --- outside the shared domain: nsmilter stays out ---------------------------
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(deliver "someone@legacy.corp.example")
assert_match "$(smtp_reply_of "$out" someone@legacy.corp.example)" '^250 ' "skip: the routing domain itself is not checked"
assert_eq "$(sink_rcpt_count foreign someone@legacy.corp.example)" 1 "skip: delivered unchanged by the mailertable"
assert_no_match "$(nsmilter_log_since mx "$mark")" 'action=(route|reject|tempfail)' "skip: no decision but skip"

# --- original-address.mc: the foreign system gets bob@corp.example ----------
ORIG=$(free_port)
sendmail_start orig "$ORIG" "$(nsmilter_socket mx)" original || setup_failed "sendmail (original-address.mc)"
scene_clear_sinks
out=$(PORT=$ORIG INST=orig deliver "bob@corp.example NOTIFY=SUCCESS,DELAY" alice@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "original: bob accepted"
assert_no_match "$out" '^QUEUE' "original: delivered, queue empty"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@corp.example" \
	"original: the foreign system gets bob@corp.example, once, not bob@legacy.corp.example"
args=$(sink_rcpt_args foreign bob@corp.example)
assert_match "$args" '(^| )ORCPT=rfc822;bob@corp\.example( |$)' "original: ORCPT still the original address"
assert_match "$args" '(^| )NOTIFY=SUCCESS,DELAY( |$)' "original: NOTIFY kept"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "original: local recipient unchanged, at the local system"

done_testing
