#!/bin/bash
# ad_postfix.sh - real SMTP through a private Postfix with nsmilter asking
# a real Active Directory (a Samba AD DC, t/lib/samba-ad.sh) over LDAPS,
# everything in the test's own network namespace: a mailbox (by a mixed-case
# proxy address) arrives unchanged at this site's mail system, a contact
# arrives at its targetAddress with ORCPT=rfc822;<original>, a group is
# accepted, a disabled account and an unknown address are refused at RCPT
# (550 5.1.1), and with the DC stopped RCPT gets 451 4.4.3 (nothing is
# refused, nothing accepted unchecked).
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
ad_netns "$@"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

ad_start || setup_failed "samba AD DC"
PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || setup_failed "local sink"
PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || setup_failed "foreign sink"
{
	nsmilter_milter_section mx
	ad_directory
	ad_domain
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
# contacts' targets (partner.example) go to the "foreign" sink
PF_EXTRA_TRANSPORT="partner.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

FROM=sender@example.net
deliver() { postfix_deliver mx "$SMTPD" "$FROM" "$@"; }

out=$(deliver "Alias.Mixed@corp.example NOTIFY=SUCCESS,FAILURE" carol@corp.example \
    sales@corp.example frank@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" Alias.Mixed@corp.example)" '^250 ' "mailbox (mixed-case proxy): accepted at RCPT"
assert_match "$(smtp_reply_of "$out" carol@corp.example)" '^250 ' "contact: accepted at RCPT"
assert_match "$(smtp_reply_of "$out" sales@corp.example)" '^250 ' "group: accepted at RCPT"
assert_match "$(smtp_reply_of "$out" frank@corp.example)" '^550 5\.1\.1 ' "disabled account: 550 5.1.1 at RCPT"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 5\.1\.1 ' "unknown: 550 5.1.1 at RCPT"
assert_no_match "$out" '^FLUSH' "queue drained"
assert_eq "$(sink_rcpt_args local Alias.Mixed@corp.example)" "ORCPT=rfc822;Alias.Mixed@corp.example NOTIFY=SUCCESS,FAILURE" \
	"mailbox: arrives at this site's system unchanged, ESMTP arguments kept"
assert_eq "$(sink_rcpt_count local sales@corp.example)" 1 "group: arrives at this site's system"
assert_eq "$(sink_rcpts foreign)" "carol@partner.example ORCPT=rfc822;carol@corp.example" \
	"contact: arrives as its targetAddress with ORCPT of the original, nothing else there"
assert_eq "$(sink_rcpt_count local carol@corp.example)" 0 "contact: not at this site's system"
assert_eq "$(sink_rcpt_count local frank@corp.example)" 0 "disabled account: nothing delivered"
assert_match "$(nsmilter_log mx)" 'rcpt=<carol@corp\.example> action=route to=<carol@partner\.example> directory=ad' \
	"contact: decision logged"

# --- the DC stops: 451 at RCPT, nothing refused -----------------------------------
ad_stop
scene_clear_sinks
out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^451 4\.4\.3 ' "DC down: alice gets 451 4.4.3"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^451 4\.4\.3 ' "DC down: unknown gets 451 4.4.3, not 550"
ad_start || fail "samba restarts"
ok=
for ((i = 0; i < 50; i++)); do
	out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example)
	case $(smtp_reply_of "$out" alice@corp.example) in 250*) ok=1; break ;; esac
	sleep 0.2
done
assert_eq "$ok" 1 "DC back: alice accepted again by the running milter"
postfix_flush mx >/dev/null 2>&1
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "DC back: alice's message delivered"
done_testing
