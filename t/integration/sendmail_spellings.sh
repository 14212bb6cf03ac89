#!/bin/bash
# sendmail_spellings.sh - recipient spellings that Sendmail resolves into
# the shared domain never get past nsmilter.  Sendmail's ruleset 0 turns
# "nobody@corp.example." (trailing dot), "nobody%corp.example@THISHOST"
# (percent hack) and "corp.example!nobody@THISHOST" (bang path) into
# nobody@corp.example and relays them through the mailertable to the local
# mail system.  nsmilter decides them as that address (Sendmail's
# {rcpt_addr}): unknown ones get 550 at RCPT, foreign ones arrive at the
# foreign system.  Runs in its own network namespace (t/lib/sendmail.sh).

. "$(dirname "$0")/../lib/sendmail.sh"
sendmail_netns "$@"
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh" # smtp_send, scene_directories, scene_domain

setup_failed() { fail "setup: $*"; done_testing; }

sendmail_check || setup_failed "no Sendmail in $(sendmail_root): run t/setup-sendmail.sh as root"
sm_scene_backends || setup_failed "directories and sinks (see above)"
{
	nsmilter_milter_section mx
	scene_directories
	scene_domain "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
sendmail_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "sendmail"
MYHOST=$SM_HOSTNAME

FROM=sender@example.net
deliver() {
	local out
	out=$(smtp_send "$SMTPD" "$FROM" "$@")
	sendmail_wait_queue_empty mx 30 || echo "QUEUE => not empty"
	printf '%s\n' "$out"
}
reset_sinks() { sink_clear local; sink_clear foreign; }

# unknown: 550 at RCPT, whatever the spelling, nothing at any mail system
for rcpt in "nobody@corp.example." "nobody%corp.example@$MYHOST" "corp.example!nobody@$MYHOST"; do
	reset_sinks
	out=$(deliver "$rcpt")
	assert_match "$(smtp_reply_of "$out" "$rcpt")" '^550 5\.1\.1 ' "unknown $rcpt: 550 5.1.1 at RCPT"
	assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "unknown $rcpt: delivered nowhere"
done

# foreign: routed to the foreign system, not delivered to the local one
for rcpt in "bob@corp.example." "bob%corp.example@$MYHOST" "corp.example!bob@$MYHOST"; do
	reset_sinks
	out=$(deliver "$rcpt")
	assert_match "$(smtp_reply_of "$out" "$rcpt")" '^250 ' "foreign $rcpt: accepted"
	assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" \
		"foreign $rcpt: arrives once at the foreign system as bob@legacy.corp.example"
	assert_eq "$(sink_count local)" 0 "foreign $rcpt: nothing at the local system"
done

# local: accepted and delivered to the local mail system as alice@corp.example
reset_sinks
out=$(deliver "alice%corp.example@$MYHOST")
assert_match "$(smtp_reply_of "$out" "alice%corp.example@$MYHOST")" '^250 ' "local percent hack: accepted"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "local percent hack: at the local system"

done_testing
