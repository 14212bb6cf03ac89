#!/bin/bash
# postfix_guards.sh - the harvest guard (max_unknown), the loop guard (hosts,
# fallback_hosts) and observe mode, through a real Postfix.
#
# Postfix hands the milter the SMTP client's address.  The clients here
# connect from different loopback addresses: 127.0.0.1 is an ordinary
# client, 127.0.0.2 plays the legacy mail system (legacy "hosts") and
# 127.0.0.3 the fallback system of relay.example ("fallback_hosts").  So the
# loop guard must fire for the system a recipient would be sent to, and only
# for it.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends || setup_failed "slapd or smtp-sink"

# write_ini [milter line...]
write_ini() {
	{
		nsmilter_milter_section mx "max_unknown = 3" "$@"
		scene_directories "hosts = 127.0.0.2"
		scene_domain
		cat <<EOF
[domain relay.example]
type = internal-relay
directories = hq
unknown = route
fallback_route = fallback.corp.example
fallback_hosts = 127.0.0.3
EOF
	} | nsmilter_write_ini mx
}
write_ini
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
PF_ROUTING_DOMAINS="legacy.corp.example, relay.example, fallback.corp.example"
PF_EXTRA_TRANSPORT="fallback.corp.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

FROM=sender@example.net
flush() { postfix_flush mx || fail "queue not drained"; }

# --- harvest guard: max_unknown = 3 ----------------------------------------
out=$(smtp_send "$SMTPD" "$FROM" n1@corp.example n2@corp.example n3@corp.example \
	alice@corp.example n4@corp.example)
assert_match "$(smtp_reply_of "$out" n3@corp.example)" '^550 5\.1\.1 ' "harvest: 3rd unknown still 550"
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^451 4\.7\.1 ' \
	"harvest: the RCPT after 3 unknowns gets 451 4.7.1, even a valid one"
assert_match "$(smtp_reply_of "$out" n4@corp.example)" '^451 4\.7\.1 ' "harvest: and every further one"

out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example n1@corp.example n2@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "harvest: counted per connection (new one starts at 0)"
assert_match "$(smtp_reply_of "$out" n2@corp.example)" '^550 5\.1\.1 ' "harvest: 2 unknowns are below the limit"
flush

# the count spans the messages of one connection
smtp_open "$SMTPD" >/dev/null
smtp_cmd "MAIL FROM:<$FROM>" >/dev/null
smtp_cmd "RCPT TO:<n1@corp.example>" >/dev/null
smtp_cmd "RCPT TO:<n2@corp.example>" >/dev/null
smtp_cmd "RSET" >/dev/null
smtp_cmd "MAIL FROM:<$FROM>" >/dev/null
smtp_cmd "RCPT TO:<n3@corp.example>" >/dev/null
r=$(smtp_cmd "RCPT TO:<alice@corp.example>")
smtp_close
assert_match "$r" '=> 451 4\.7\.1 ' "harvest: unknowns of earlier messages in the connection count"

# --- loop guard ---------------------------------------------------------------
scene_clear_sinks
out=$(smtp_send_from 127.0.0.2 "$SMTPD" "$FROM" alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^554 5\.4\.6 ' \
	"loop: bob from the legacy system (127.0.0.2) is not sent back: 554 5.4.6"
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "loop: alice from the legacy system accepted"
flush
assert_eq "$(sink_count foreign)" 0 "loop: nothing sent back to the legacy system"
assert_eq "$(sink_rcpts local | awk '{print $1}')" "alice@corp.example" "loop: alice delivered locally"

scene_clear_sinks
out=$(smtp_send_from 127.0.0.3 "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "loop: bob from another system (127.0.0.3) is routed"
flush
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "loop: bob from 127.0.0.3 reaches the legacy system"

scene_clear_sinks
out=$(smtp_send_from 127.0.0.3 "$SMTPD" "$FROM" zed@relay.example)
assert_match "$(smtp_reply_of "$out" zed@relay.example)" '^554 5\.4\.6 ' \
	"loop: unknown@relay.example from the fallback system (fallback_hosts) gets 554 5.4.6"
scene_clear_sinks
out=$(smtp_send_from 127.0.0.1 "$SMTPD" "$FROM" zed@relay.example)
assert_match "$(smtp_reply_of "$out" zed@relay.example)" '^250 ' "loop: unknown@relay.example from elsewhere accepted"
flush
assert_eq "$(sink_rcpts foreign)" "zed@fallback.corp.example ORCPT=rfc822;zed@relay.example" \
	"loop: ... and routed to fallback_route with ORCPT"
assert_match "$(nsmilter_log mx)" 'rcpt=<zed@relay\.example> action=reject' "loop: the loop rejection is logged"

# --- observe mode: decide and log, change nothing, reject nothing ----------
nsmilter_stop mx
write_ini "mode = observe"
nsmilter_start mx || fail "nsmilter restart in observe mode"
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example bob@corp.example n1@corp.example \
	n2@corp.example n3@corp.example n4@corp.example)
for r in alice bob n1 n2 n3 n4; do
	assert_match "$(smtp_reply_of "$out" $r@corp.example)" '^250 ' "observe: $r@corp.example accepted"
done
flush
assert_eq "$(sink_count foreign)" 0 "observe: nothing routed to the foreign system"
assert_eq "$(sink_rcpts local | awk '{print $1}' | sort | tr '\n' ' ')" \
	"alice@corp.example bob@corp.example n1@corp.example n2@corp.example n3@corp.example n4@corp.example " \
	"observe: every recipient delivered unchanged by Postfix's own routing"
assert_eq "$(sink_rcpt_args local bob@corp.example)" "ORCPT=rfc822;bob@corp.example" "observe: bob's envelope untouched"
log=$(nsmilter_log_since mx "$mark")
assert_match "$log" 'rcpt=<bob@corp\.example> action=route to=<bob@legacy\.corp\.example>' "observe: route decision logged"
assert_match "$log" 'rcpt=<n1@corp\.example> action=reject' "observe: reject decision logged"
assert_match "$log" 'rcpt=<alice@corp\.example> action=accept' "observe: accept decision logged"

scene_clear_sinks
out=$(smtp_send_from 127.0.0.2 "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "observe: the loop guard rejects nothing"
flush
assert_eq "$(sink_rcpt_count local bob@corp.example)" 1 "observe: ... and changes nothing"

slapd_stop legacy
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "observe: a directory down tempfails nothing"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=tempfail' "observe: ... but logs the tempfail"
flush

# --- mode = observe for one domain, enforce for the others; and -p ---------
# corp.example observes, relay.example enforces.  The ini's socket points
# elsewhere: -p puts nsmilter where Postfix expects it.
nsmilter_stop mx
write_ini
sed -i -e '/^\[domain corp.example\]$/a mode = observe' \
    -e "s|^socket = .*|socket = unix:$T_DIR/not-here.sock|" "$(nsmilter_ini mx)"
"$NSMILTER" -f -c "$(nsmilter_ini mx)" -p "$(nsmilter_socket mx)" 2>>"$(nsmilter_dir mx)/log" &
P_PID=$!
at_exit "kill $P_PID"
wait_for test -S "$(nsmilter_socket mx | sed 's/^unix://')" || fail "-p: nsmilter listens on the socket given with -p"
assert_eq "$(test -e "$T_DIR/not-here.sock" && echo there || echo absent)" absent "-p: the ini's socket is not used"
scene_clear_sinks
mark=$(nsmilter_log_mark mx)
out=$(smtp_send_from 127.0.0.3 "$SMTPD" "$FROM" n1@corp.example zed@relay.example)
assert_match "$(smtp_reply_of "$out" n1@corp.example)" '^250 ' "per-domain observe: unknown of the observed domain accepted"
assert_match "$(smtp_reply_of "$out" zed@relay.example)" '^554 5\.4\.6 ' "per-domain observe: the enforced domain still rejects (loop guard)"
log=$(nsmilter_log_since mx "$mark")
assert_match "$log" 'rcpt=<n1@corp\.example> action=(reject|tempfail) .*mode=observe' "per-domain observe: the observed decision is logged with mode=observe"
assert_no_match "$log" 'rcpt=<zed@relay\.example> .*mode=observe' "per-domain observe: the enforced domain's line has no mode=observe"
flush
assert_eq "$(sink_rcpt_count local n1@corp.example)" 1 "per-domain observe: the observed recipient was delivered unchanged"
kill "$P_PID"

done_testing
