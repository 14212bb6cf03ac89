#!/bin/bash
# sendmail_failures.sh - a private Sendmail 8.17 built from contrib/sendmail/
# when things break: without the milter the shared domain is not split (the
# control case), with nsmilter down F=T makes Sendmail tempfail at MAIL FROM
# and nothing is accepted unchecked or lost, it recovers when nsmilter comes
# back, and with the foreign directory down its recipients get 451 4.4.3
# while local ones are still accepted and delivered.  Asserts on the SMTP
# replies and on what the smtp-sinks received.  Runs in its own network
# namespace (t/lib/sendmail.sh); needs t/setup-sendmail.sh.

. "$(dirname "$0")/../lib/sendmail.sh"
sendmail_netns "$@"

sm_scene_backends || setup_failed "Sendmail, directories or sinks (see above)"
{
	nsmilter_milter_section mx
	scene_directories
	scene_domain
} | nsmilter_write_ini mx

FROM=sender@example.net
# deliver PORT INSTANCE RCPT...: send, wait until that Sendmail's queue is empty.
deliver() {
	local port=$1 inst=$2
	shift 2
	sendmail_deliver "$inst" "$port" "$FROM" "$@"
}

# --- control: the same Sendmail without the milter ---------------------------
# Proves that the splitting seen with nsmilter is nsmilter's doing: without it
# the mailertable sends every corp.example recipient to the local system and
# nobody rejects unknown ones.
PLAIN=$(free_port)
sendmail_start plain "$PLAIN" "" || setup_failed "sendmail without milter"
scene_clear_sinks
out=$(deliver "$PLAIN" plain bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^250 ' "no milter: unknown recipient accepted (backscatter to be)"
assert_eq "$(sink_rcpts local | awk '{print $1}' | sort | tr '\n' ' ')" "bob@corp.example nobody@corp.example " \
	"no milter: everything goes to the local system unchanged"
assert_eq "$(sink_count foreign)" 0 "no milter: nothing at the foreign system"
sendmail_stop plain

# --- nsmilter down: F=T tempfails, nothing is accepted -----------------------
SMTPD=$(free_port)
sendmail_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "sendmail"
scene_clear_sinks
out=$(deliver "$SMTPD" mx alice@corp.example bob@corp.example)
assert_match "$out" '^MAIL FROM:<sender@example\.net> => 451 4\.3\.2 ' "milter down: 451 4.3.2 at MAIL FROM"
assert_no_match "$out" '^RCPT' "milter down: no recipient taken"
assert_no_match "$out" '^\. => ' "milter down: no message accepted"
assert_eq "$(sendmail_queue_count mx)" 0 "milter down: nothing queued unchecked"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "milter down: nothing delivered unchecked"

# nsmilter comes back: the same Sendmail uses it again, without a restart
nsmilter_start mx || setup_failed "nsmilter"
scene_clear_sinks
out=$(deliver "$SMTPD" mx alice@corp.example bob@corp.example)
assert_match "$out" '^MAIL FROM:<sender@example\.net> => 250 ' "milter back: MAIL FROM accepted"
assert_match "$out" '^\. => 250 ' "milter back: the retried message is accepted"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "milter back: alice at the local system"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" "milter back: bob routed to the foreign system"

# --- nsmilter dies between two messages ----------------------------------------
nsmilter_stop mx
scene_clear_sinks
out=$(deliver "$SMTPD" mx bob@corp.example)
assert_match "$out" '^MAIL FROM:<sender@example\.net> => 4[0-9][0-9] ' "milter stopped: tempfail again"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "milter stopped: nothing delivered unchecked"
nsmilter_start mx || setup_failed "nsmilter restart"

# --- the foreign directory is down -------------------------------------------
slapd_stop legacy
scene_clear_sinks
out=$(SMTP_SUBJECT=legacy-down deliver "$SMTPD" mx alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "legacy down: local recipient still accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" \
	'^451 4\.4\.3 <bob@corp\.example>(: |\.\.\. ).*Directory unavailable, try again later$' \
	"legacy down: its recipient gets 451 4.4.3 at RCPT"
assert_match "$out" '^\. => 250 ' "legacy down: message accepted for the local recipient"
assert_no_match "$out" '^QUEUE' "legacy down: delivered, queue empty"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "legacy down: alice delivered, once"
assert_eq "$(sink_count foreign)" 0 "legacy down: nothing at the foreign system"
assert_eq "$(sink_rcpt_count local bob@corp.example)" 0 "legacy down: bob not delivered locally by mistake"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=tempfail' "legacy down: tempfail logged"

# an unknown recipient while a directory is down: never a 5xx
out=$(deliver "$SMTPD" mx nobody@corp.example)
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^451 4\.4\.3 ' "legacy down: unknown recipient tempfailed, not rejected"

# the directory comes back: the client's retry of bob succeeds
slapd_restart legacy || setup_failed "slapd legacy restart"
scene_clear_sinks
# nsmilter holds a failed server down and probes it about every second:
# retry as an SMTP client would, for up to 10 s.
out=$(smtp_retry 10 bob@corp.example deliver "$SMTPD" mx bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "legacy back: bob accepted on retry"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" "legacy back: bob routed to the foreign system"
assert_match "$(sink_rcpt_args foreign bob@legacy.corp.example)" 'ORCPT=rfc822;bob@corp\.example' "legacy back: with ORCPT"

done_testing
