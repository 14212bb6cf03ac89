#!/bin/bash
# postfix_routing.sh - real SMTP through a private Postfix with nsmilter and
# two directories: a local recipient arrives unchanged at the local system, a
# foreign one at the foreign system as localpart@route with
# ORCPT=rfc822;<original> and the client's NOTIFY, an unknown one is refused
# at RCPT, and a message for both systems reaches each exactly once.
# Asserts on what the smtp-sinks received, not on what Postfix logged.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends || setup_failed "slapd or smtp-sink"
{
	nsmilter_milter_section mx
	scene_directories
	scene_domain "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
# carol's targetAddress points at other.example: send it to the foreign sink.
PF_EXTRA_TRANSPORT="other.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

FROM=sender@example.net

# deliver: send, then wait until Postfix's queue is empty.
deliver() { postfix_deliver mx "$SMTPD" "$FROM" "$@"; }

# --- a local recipient -------------------------------------------------------
scene_clear_sinks
out=$(deliver "alice@corp.example NOTIFY=SUCCESS,FAILURE")
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "local: alice accepted at RCPT"
assert_match "$out" '^\. => 250 .*queued as' "local: message queued"
assert_no_match "$out" '^FLUSH' "local: queue drained"
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "local: alice arrives once at the local system, address unchanged"
assert_eq "$(sink_rcpt_args local alice@corp.example)" "ORCPT=rfc822;alice@corp.example NOTIFY=SUCCESS,FAILURE" \
	"local: ESMTP arguments untouched"
assert_eq "$(sink_count foreign)" 0 "local: nothing at the foreign system"
assert_match "$(nsmilter_log mx)" 'rcpt=<alice@corp\.example> action=accept.* directory=hq' "local: decision logged"

# --- a foreign recipient -----------------------------------------------------
scene_clear_sinks
out=$(deliver "bob@corp.example NOTIFY=SUCCESS,DELAY")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "foreign: bob accepted at RCPT"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "foreign: arrives once at the foreign system as bob@legacy.corp.example"
args=$(sink_rcpt_args foreign bob@legacy.corp.example)
assert_match "$args" '(^| )ORCPT=rfc822;bob@corp\.example( |$)' "foreign: ORCPT carries the original address"
assert_match "$args" '(^| )NOTIFY=SUCCESS,DELAY( |$)' "foreign: client's NOTIFY kept"
assert_eq "$(sink_count local)" 0 "foreign: nothing at the local system"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=route to=<bob@legacy\.corp\.example> directory=legacy' \
	"foreign: decision logged"

# an alias of the foreign user: the local part is kept as received
scene_clear_sinks
out=$(deliver "robert@corp.example")
assert_match "$(smtp_reply_of "$out" robert@corp.example)" '^250 ' "alias: accepted"
assert_eq "$(sink_rcpts foreign)" "robert@legacy.corp.example ORCPT=rfc822;robert@corp.example" \
	"alias: robert@legacy.corp.example with ORCPT, nothing else"

# an address extension: found as bob@, routed with the extension, ORCPT xtext
scene_clear_sinks
out=$(deliver "bob+news@corp.example")
assert_match "$(smtp_reply_of "$out" bob+news@corp.example)" '^250 ' "extension: accepted"
assert_eq "$(sink_rcpt_count foreign bob+news@legacy.corp.example)" 1 "extension: routed with the extension"
assert_match "$(sink_rcpt_args foreign bob+news@legacy.corp.example)" '(^| )ORCPT=rfc822;bob\+2Bnews@corp\.example( |$)' \
	"extension: ORCPT is xtext-encoded (+ -> +2B)"

# a client's own ORCPT is passed on as given
scene_clear_sinks
out=$(deliver "bob@corp.example ORCPT=rfc822;b.baker@old.example NOTIFY=NEVER")
args=$(sink_rcpt_args foreign bob@legacy.corp.example)
assert_match "$args" '(^| )ORCPT=rfc822;b\.baker@old\.example( |$)' "client ORCPT: kept"
assert_no_match "$args" 'ORCPT=rfc822;bob@corp' "client ORCPT: not replaced"
assert_match "$args" '(^| )NOTIFY=NEVER( |$)' "client ORCPT: NOTIFY=NEVER kept"

# --- a target address (Exchange contact) -------------------------------------
scene_clear_sinks
out=$(deliver "carol@corp.example")
assert_match "$(smtp_reply_of "$out" carol@corp.example)" '^250 ' "target: carol accepted"
assert_eq "$(sink_rcpts foreign)" "carol@other.example ORCPT=rfc822;carol@corp.example" \
	"target: delivered to the targetAddress with ORCPT"
assert_eq "$(sink_count local)" 0 "target: nothing at the local system"

# --- an unknown recipient ----------------------------------------------------
scene_clear_sinks
out=$(deliver "nobody@corp.example")
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" \
	'^550 5\.1\.1 <nobody@corp\.example>: Recipient address rejected: User unknown' "unknown: 550 5.1.1 at RCPT"
assert_no_match "$out" '^DATA' "unknown: no transaction without a recipient"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "unknown: nothing delivered anywhere"
assert_match "$(nsmilter_log mx)" 'rcpt=<nobody@corp\.example> action=reject' "unknown: decision logged"

# bad syntax in the shared domain: a 65-octet local part
long=$(printf 'x%.0s' $(seq 1 65))
out=$(deliver "$long@corp.example")
assert_match "$(smtp_reply_of "$out" "$long@corp.example")" '^501 5\.1\.3 ' "syntax: 501 5.1.3 for a 65-octet local part"

# --- one message for both systems (and one recipient nobody owns) -----------
scene_clear_sinks
out=$(SMTP_SUBJECT=mixed deliver alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "mixed: alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "mixed: bob accepted"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 5\.1\.1 ' "mixed: nobody rejected"
assert_match "$out" '^\. => 250 ' "mixed: message accepted"
assert_eq "$(sink_count local)" 1 "mixed: one message at the local system"
assert_eq "$(sink_count foreign)" 1 "mixed: one message at the foreign system"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "mixed: local system got alice only"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" "mixed: foreign system got bob@legacy only"
assert_match "$(sink_rcpt_args foreign bob@legacy.corp.example)" 'ORCPT=rfc822;bob@corp\.example' "mixed: ORCPT for bob"
# Postfix sends the queue id from the second RCPT on, bob's line has it
qid=$(smtp_queue_id "$out")
assert_match "$(nsmilter_log mx)" "(^|[ :])${qid:-NO-QUEUE-ID}: rcpt=<bob@corp\.example> action=route" \
	"mixed: the log line carries Postfix's queue id"

# --- a merger conflict: hq is listed first and wins --------------------------
scene_clear_sinks
out=$(deliver dup@corp.example)
assert_eq "$(sink_rcpt_count local dup@corp.example)" 1 "conflict: dup@ delivered locally (hq first)"
assert_eq "$(sink_count foreign)" 0 "conflict: not routed to legacy"
assert_match "$(nsmilter_grep mx 'rcpt=<dup@corp\.example>')" 'conflict=' "conflict: logged with conflict="

# --- outside the shared domain: nsmilter stays out ---------------------------
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(smtp_send "$SMTPD" "$FROM" "someone@legacy.corp.example")
postfix_flush mx
assert_match "$(smtp_reply_of "$out" someone@legacy.corp.example)" '^250 ' "skip: routing domain itself not checked"
assert_eq "$(sink_rcpt_count foreign someone@legacy.corp.example)" 1 "skip: delivered unchanged by the transport map"
assert_no_match "$(nsmilter_log_since mx "$mark")" 'action=(route|reject|tempfail)' "skip: no decision but skip"

# --- contrib/postfix/master.cf.snippet: the optional nsforeign transport ----
# A second Postfix on the same nsmilter, sending legacy.corp.example through
# nsforeign: its smtp_generic_maps gives the foreign system bob@corp.example.
SMTPD2=$(free_port)
PF_FOREIGN_TRANSPORT=nsforeign postfix_start mx2 "$SMTPD2" "$(nsmilter_socket mx)" ||
	fail "setup: second postfix"
scene_clear_sinks
out=$(smtp_send "$SMTPD2" "$FROM" "bob@corp.example NOTIFY=DELAY")
postfix_flush mx2
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "nsforeign: bob accepted"
assert_eq "$(sink_rcpts foreign)" "bob@corp.example ORCPT=rfc822;bob@corp.example NOTIFY=DELAY" \
	"nsforeign: the foreign system sees bob@corp.example again, ORCPT and NOTIFY kept"
assert_eq "$(sink_count local)" 0 "nsforeign: nothing at the local system"
assert_match "$(postfix_log mx2)" 'to=<bob@legacy\.corp\.example>, relay=127\.0\.0\.1.*:'"$PF_FOREIGN_SINK_PORT"', .*status=sent' \
	"nsforeign: Postfix routed bob@legacy.corp.example to the foreign system"

done_testing
