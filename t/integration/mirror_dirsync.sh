#!/bin/bash
# mirror_dirsync.sh - a directory mirror kept by sync = dirsync (Active
# Directory's DirSync control) from a real AD DC (Samba, t/lib/samba-ad.sh),
# seen by nsmilter -q and by a running milter through a real Postfix:
#   - the first run: the whole directory, -m current, source=mirror;
#   - a user added, a user deleted, an account disabled (it leaves
#     sync_filter: DirSync sends only the changed userAccountControl), a
#     proxyAddress changed: each visible within one sync_interval (1 s
#     here; checked within 8 s: a fetch is a new LDAPS connection, and
#     the test machine may be loaded);
#   - the DC stopped: the mirror answers, -m stale (exit 75); the DC back:
#     the changes made meanwhile arrive incrementally (from the cookie).
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
ad_netns "$@"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

setup_failed() { fail "setup: $*"; done_testing; }
ad_start || setup_failed "samba AD DC"
PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || setup_failed "sink"
PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || setup_failed "sink"
STATE=$T_DIR/state

{
	nsmilter_milter_section mx "state_dir = $STATE"
	cat <<EOF
[directory ad]
uri = ldaps://$AD_HOST
bind_dn = $AD_BIND_UPN
bind_password_file = $(ad_secret_file)
tls_ca_file = $(ad_ca)
base = OU=Staff,$AD_BASE
target_attribute = targetAddress
timeout = 5s
sync = dirsync
address_attributes = mail, proxyAddresses
sync_filter = (&(|(objectClass=user)(objectClass=contact)(objectClass=group))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))
sync_interval = 1s
max_staleness = 1h
confirm_unknown = no

[domain corp.example]
type = authoritative
directories = ad
EOF
} | nsmilter_write_ini mx
INI=$(nsmilter_ini mx)
q() { "$NSMILTER" -c "$INI" -q "$@" 2>&1; }
mstat() { "$NSMILTER" -c "$INI" -m 2>&1; }
q_is() { q "$1" | grep -Eq -- "$2"; }
within() {
	local what=$1
	shift
	if WAIT_SECONDS=8 wait_for "$@"; then pass "$what"; else fail "$what (not within 8 s)"; fi
}

nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"
FROM=sender@example.net
rcpt() { smtp_reply_of "$(smtp_send "$SMTPD" "$FROM" "$1")" "$1"; }
rcpt_is() { rcpt "$1" | grep -Eq -- "$2"; }

current() { mstat | grep -q '^ad sync=dirsync state=current entries=[1-9]'; }
WAIT_SECONDS=30 wait_for current || fail "the first run: -m says current: $(mstat)"
assert_match "$(nsmilter_log mx)" 'directory ad: mirror loaded: ' "log: the first run"
assert_match "$(q alice@corp.example)" '^alice@corp\.example accept directory=ad source=mirror$' \
	"-q: a user of OU=Staff from the mirror, source=mirror"
assert_match "$(q A.Smith@Corp.Example)" 'accept directory=ad source=mirror' "-q: an SMTP: proxyAddress, any case"
assert_match "$(q x500.alice@corp.example)" 'reject code=550' "-q: an X500: value is not an address"
assert_match "$(q carol@corp.example)" 'reject code=550' "-q: a contact outside base (OU=Contacts) is not mirrored"
assert_match "$(rcpt alice@corp.example)" '^250 ' "milter: accepted from the mirror"

# ---- add a user ---------------------------------------------------------------
ad_add_user newbie newbie@corp.example 'SMTP:newbie@corp.example' 'smtp:nb@corp.example' ||
	fail "ad_add_user newbie"
within "add: -q accepts the new user" q_is nb@corp.example 'accept directory=ad source=mirror'
within "add: the milter accepts it" rcpt_is newbie@corp.example '^250 '

# ---- change a proxyAddress -----------------------------------------------------
ad_set_proxies newbie 'SMTP:newbie@corp.example' 'smtp:nb2@corp.example' || fail "ad_set_proxies"
within "proxyAddress added: -q accepts it" q_is nb2@corp.example 'accept directory=ad source=mirror'
within "proxyAddress removed: -q rejects it" q_is nb@corp.example 'reject code=550'

# ---- disable an account (it leaves sync_filter) ----------------------------------
ad_disable_user newbie || fail "ad_disable_user"
within "disabled: -q rejects the account" q_is newbie@corp.example 'reject code=550 dsn=5\.1\.1'
within "disabled: the milter rejects it" rcpt_is nb2@corp.example '^550 '
ad_enable_user newbie || fail "ad_enable_user"
within "enabled again: -q accepts it" q_is newbie@corp.example 'accept directory=ad source=mirror'

# ---- delete a user -----------------------------------------------------------------
ad_delete newbie || fail "ad_delete"
within "deleted: -q rejects the user" q_is newbie@corp.example 'reject code=550'
within "deleted: the milter rejects it" rcpt_is newbie@corp.example '^550 '

# ---- the DC stopped ---------------------------------------------------------------
ad_stop
stale_now() { mstat | grep -q '^ad sync=dirsync state=stale '; }
WAIT_SECONDS=20 wait_for stale_now || fail "DC stopped: -m says stale: $(mstat)"
"$NSMILTER" -c "$INI" -m >/dev/null 2>&1
assert_eq "$?" 75 "-m exits 75 with a stale mirror"
assert_match "$(q alice@corp.example)" 'accept directory=ad source=mirror' "DC stopped: -q answers from the mirror"
assert_match "$(rcpt alice@corp.example)" '^250 ' "DC stopped: the milter accepts from the mirror"
assert_match "$(rcpt newbie@corp.example)" '^550 ' "DC stopped: the deleted user still rejected"

# ---- the DC back: incremental from the cookie --------------------------------------
ad_start || fail "samba restart"
mark=$(nsmilter_log_mark mx)
ad_add_user late late@corp.example || fail "ad_add_user late"
WAIT_SECONDS=40 wait_for q_is late@corp.example 'accept directory=ad source=mirror' ||
	fail "DC back: a user added meanwhile arrives: $(q late@corp.example)"
assert_no_match "$(nsmilter_log_since mx "$mark")" 'mirror loaded' "DC back: incremental, not read again in full"
assert_match "$(mstat)" '^ad sync=dirsync state=current ' "DC back: -m current again"

done_testing
