#!/bin/bash
# postfix_spellings.sh - recipient spellings that Postfix resolves into the
# shared domain never get past nsmilter.  Postfix with its defaults
# (allow_percent_hack = yes, swap_bangpath = yes) and $myhostname in
# mydestination resolves "nobody@corp.example." (trailing dot),
# "nobody%corp.example@MYHOSTNAME" (percent hack) and
# "corp.example!nobody@MYHOSTNAME" (bang path) to nobody@corp.example and
# relays them to the local mail system.  nsmilter decides them as that
# address (Postfix's {rcpt_addr}): unknown ones get 550 at RCPT, foreign
# ones arrive at the foreign system.  Asserts on replies and on what the
# smtp-sinks received.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

setup_failed() { fail "setup: $*"; done_testing; }

scene_backends || setup_failed "slapd or smtp-sink"
{
	nsmilter_milter_section mx
	scene_directories
	scene_domain "recipient_delimiter = +"
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
MYHOST=mx.mx.test.example
# Postfix's defaults for the hacks, spelled out; this host is a local
# destination, as on most MTAs.
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" \
	"mydestination = \$myhostname" "allow_percent_hack = yes" "swap_bangpath = yes" \
	"local_transport = discard:local delivery" || setup_failed "postfix"
assert_eq "$(postconf -c "$(postfix_dir mx)/etc" -h myhostname)" "$MYHOST" "setup: myhostname"

FROM=sender@example.net
deliver() {
	local out
	out=$(smtp_send "$SMTPD" "$FROM" "$@")
	postfix_flush mx >&2 || echo "FLUSH => queue not empty"
	printf '%s\n' "$out"
}
reset_sinks() { sink_clear local; sink_clear foreign; }

# unknown: 550 at RCPT, whatever the spelling, nothing at any mail system
for rcpt in "nobody@corp.example." "nobody%corp.example@$MYHOST" "corp.example!nobody@$MYHOST" \
	"Nobody@Corp.Example."; do
	reset_sinks
	out=$(deliver "$rcpt")
	assert_match "$(smtp_reply_of "$out" "$rcpt")" '^550 5\.1\.1 <Nobody@corp\.example>|^550 5\.1\.1 <nobody@corp\.example>' \
		"unknown $rcpt: 550 5.1.1 at RCPT"
	assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "unknown $rcpt: delivered nowhere"
done
assert_match "$(nsmilter_log mx)" 'rcpt=<nobody@corp\.example> action=reject .*given=<nobody%corp\.example@mx\.mx\.test\.example>' \
	"the log line names the spelling as given"

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

# a percent hack that Postfix resolves elsewhere is not nsmilter's business
reset_sinks
mark=$(nsmilter_log_mark mx)
out=$(deliver "someone%legacy.corp.example@$MYHOST")
assert_match "$(smtp_reply_of "$out" "someone%legacy.corp.example@$MYHOST")" '^250 ' "routing domain via %: accepted"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "someone@legacy.corp.example" "routing domain via %: delivered by the transport map"
assert_no_match "$(nsmilter_log_since mx "$mark")" 'action=(route|reject|tempfail)' "routing domain via %: skipped"

done_testing
