#!/bin/bash
# postfix_failures.sh - what a client sees through Postfix when things break:
# a directory down or hung gives 451 4.4.3 for the recipients it might own
# while the other directory's recipients of the same message are accepted;
# nsmilter down gives 451 4.7.1 (milter_default_action = tempfail) and the
# message is neither accepted nor delivered anywhere; once nsmilter is back a
# retry is routed correctly.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends || setup_failed "slapd or smtp-sink"
# This test uses a TCP milter socket (the others use unix sockets).
MILTER_PORT=$(free_port)
{
	nsmilter_milter_section mx "socket = inet:$MILTER_PORT@127.0.0.1"
	scene_directories
	scene_domain
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
postfix_start mx "$SMTPD" "inet:$MILTER_PORT@127.0.0.1" || setup_failed "postfix"
assert_eq "$(postconf -c "$(postfix_dir mx)/etc" -h smtpd_milters)" "inet:127.0.0.1:$MILTER_PORT" \
	"setup: Postfix talks to the milter at inet:127.0.0.1:PORT"

FROM=sender@example.net
deliver() { postfix_deliver mx "$SMTPD" "$FROM" "$@"; }

# --- baseline: both directories up ------------------------------------------
scene_clear_sinks
out=$(deliver alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "baseline: bob accepted"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "baseline: bob routed to the foreign system"

# --- the legacy directory is down --------------------------------------------
slapd_stop legacy
scene_clear_sinks
out=$(SMTP_SUBJECT=legacy-down deliver alice@corp.example bob@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "legacy down: alice (hq, first in precedence) accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" \
	'^451 4\.4\.3 <bob@corp\.example>: Directory unavailable' "legacy down: bob gets 451 4.4.3"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^451 4\.4\.3 ' \
	"legacy down: an unknown recipient gets 451, never 5xx"
assert_match "$out" '^\. => 250 ' "legacy down: the message is accepted for alice"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "legacy down: the local system got alice only"
assert_eq "$(sink_count foreign)" 0 "legacy down: nothing at the foreign system"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=tempfail' "legacy down: tempfail logged"

# --- and back: the client's retry is routed ---------------------------------
slapd_restart legacy || fail "restart legacy slapd"
scene_clear_sinks
# nsmilter holds a failed server down and probes it about every second:
# retry as an SMTP client would, for up to 10 s.
out=$(smtp_retry 10 bob@corp.example deliver bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "legacy back: bob accepted again"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "legacy back: bob routed to the foreign system"

# --- the legacy directory hangs (accepts TCP, never answers) -----------------
slapd_freeze legacy
scene_clear_sinks
start=$(date +%s)
out=$(deliver alice@corp.example bob@corp.example)
took=$(( $(date +%s) - start ))
slapd_thaw legacy
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "legacy hung: alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^451 4\.4\.3 ' "legacy hung: bob gets 451 4.4.3"
if [ "$took" -lt 10 ]; then pass "legacy hung: answered within the directory timeout (${took}s)"
else fail "legacy hung: took ${took}s (timeout = 2s)"; fi
assert_eq "$(sink_count foreign)" 0 "legacy hung: nothing at the foreign system"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "legacy hung: alice delivered"

# after the thaw, nsmilter recovers
scene_clear_sinks
out=$(smtp_retry 10 bob@corp.example deliver bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "legacy thawed: bob accepted"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "legacy thawed: bob routed"

# --- the hq directory is down: legacy users still route, hq users wait -------
slapd_stop hq
scene_clear_sinks
out=$(deliver alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^451 4\.4\.3 ' "hq down: alice gets 451 4.4.3"
# bob is in legacy, but hq comes first in precedence and could not answer
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^451 4\.4\.3 ' \
	"hq down: bob gets 451 too (hq precedes legacy and might own him)"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "hq down: nothing delivered"
slapd_restart hq || fail "restart hq slapd"

# --- nsmilter is down --------------------------------------------------------
nsmilter_stop mx
scene_clear_sinks
logmark=$(postfix_log mx | wc -l)
out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example bob@corp.example)
assert_match "$out" '^MAIL FROM:<[^>]*> => 451 4\.7\.1 ' "milter down: 451 4.7.1 at MAIL FROM"
assert_no_match "$out" '^\. => 2' "milter down: no message accepted"
sleep 1
# smtpd logs "QUEUEID: client=..." when it creates a queue file
assert_no_match "$(postfix_log mx | tail -n +$((logmark + 1)))" ': client=' "milter down: no queue file created"
assert_eq "$(postfix_queue_count mx)" 0 "milter down: queue empty"
assert_eq "$(( $(sink_count local) + $(sink_count foreign) ))" 0 "milter down: nothing delivered"

nsmilter_start mx || fail "restart nsmilter"
out=$(deliver alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "milter back: retry accepted"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "milter back: alice at the local system"
assert_eq "$(sink_rcpts foreign | awk '{print $1}')" "bob@legacy.corp.example" "milter back: bob at the foreign system"

done_testing
