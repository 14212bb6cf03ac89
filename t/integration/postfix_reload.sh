#!/bin/bash
# postfix_reload.sh - SIGHUP through a real Postfix: a changed configuration
# takes effect on the next SMTP connection, a connection already open keeps
# working (with the configuration it started with), and a broken new
# configuration is refused while the old one stays in force.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends || setup_failed "slapd or smtp-sink"

# write_ini DIRECTORIES ROUTE [milter line...]: corp.example decided by
# DIRECTORIES, legacy routed to ROUTE.
write_ini() {
	local dirs=$1 route=$2
	shift 2
	{
		nsmilter_milter_section mx "$@"
		scene_directories --legacy "route = $route"
		scene_domain "directories = $dirs"
	} | nsmilter_write_ini mx
}

# version A: only hq is known, so bob@corp.example is unknown
write_ini "hq" legacy.corp.example
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
PF_ROUTING_DOMAINS="legacy.corp.example, legacy2.corp.example"
PF_EXTRA_TRANSPORT="legacy2.corp.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

FROM=sender@example.net
flush() { postfix_flush mx || fail "queue not drained"; }
pid=$(nsmilter_pid mx)

out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^550 5\.1\.1 ' "A: bob unknown while legacy is not configured"

# open a session under A, and keep it open across the reload
scene_clear_sinks
smtp_open "$SMTPD" >/dev/null
r1=$(smtp_cmd "MAIL FROM:<$FROM>")
r2=$(smtp_cmd "RCPT TO:<alice@corp.example>")
assert_match "$r1$r2" '=> 250 .*=> 250 ' "open session: alice accepted before the reload"

# version B: legacy added to the domain
write_ini "hq, legacy" legacy.corp.example
nsmilter_reload mx
if _nsm_alive "$pid"; then pass "reload: the same process still runs"
else fail "reload: nsmilter died on SIGHUP"; fi

# the open session continues: its message goes through
r3=$(smtp_cmd "RCPT TO:<bob@corp.example>")
assert_match "$r3" '=> 550 5\.1\.1 ' "open session: keeps the configuration it started with (bob still unknown)"
smtp_data "open-session" >"$T_DIR/open-session.out"
assert_file_match "$T_DIR/open-session.out" '^\. => 250 ' "open session: message accepted after the reload"
smtp_close
flush
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "open session: alice delivered"

# a new connection sees B
scene_clear_sinks
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "B: new connection, bob now known"
flush
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "B: bob routed to legacy.corp.example"
assert_eq "$(sink_header foreign X-NSMilter-Route)" "" "B: no trace header by default"

# version C: a broken file is refused, B stays in force
cp "$(nsmilter_ini mx)" "$T_DIR/good.ini"
printf '\n[domain broken.example]\ntype = no-such-type\nbogus_key = 1\n' >>"$(nsmilter_ini mx)"
mark=$(nsmilter_log_mark mx)
nsmilter_reload mx
sleep 0.5
if nsmilter_running mx; then pass "bad reload: still running"
else fail "bad reload: nsmilter died"; fi
assert_match "$(nsmilter_log_since mx "$mark")" 'broken\.example|no-such-type|bogus_key' \
	"bad reload: the error is logged, naming the section or key"
scene_clear_sinks
out=$(smtp_send "$SMTPD" "$FROM" bob@corp.example)
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "bad reload: old configuration still in force"
flush
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 1 "bad reload: bob still routed as before"

# version D: the route changes, and trace_header is switched on
write_ini "hq, legacy" legacy2.corp.example "trace_header = yes"
nsmilter_reload mx
scene_clear_sinks
out=$(smtp_send "$SMTPD" "$FROM" "bob@corp.example NOTIFY=FAILURE")
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "D: bob accepted"
flush
assert_eq "$(sink_rcpts foreign)" "bob@legacy2.corp.example ORCPT=rfc822;bob@corp.example NOTIFY=FAILURE" \
	"D: bob routed to the new route, ORCPT and NOTIFY carried"
assert_eq "$(sink_rcpt_count foreign bob@legacy.corp.example)" 0 "D: not to the old route"
assert_match "$(sink_header foreign X-NSMilter-Route)" 'bob@corp\.example.*bob@legacy2\.corp\.example' \
	"D: trace_header = yes adds X-NSMilter-Route naming both addresses"

done_testing
