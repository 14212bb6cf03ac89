#!/bin/bash
# mirror_syncrepl.sh - directory mirrors kept by syncrepl (RFC 4533) from
# slapd's syncprov overlay, seen by nsmilter -q and by a running milter
# through a real Postfix:
#   - add, modify, an entry leaving sync_filter, delete and rename each
#     visible within 3 s, without a restart;
#   - nsmilter -m: the line and its exit status;
#   - the directory stopped: mail keeps flowing from the mirror, -m says
#     stale (exit 75); a restart of nsmilter answers from disk at once;
#     past max_staleness: 451;
#   - the directory back: the mirror resumes from its cookie;
#   - hostile addresses through the mirror: all rejected.
# confirm_unknown is off, so every answer is the mirror's own (the live
# confirmation has its own test below).

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_backends syncprov || setup_failed "slapd or smtp-sink (see above)"
STATE=$T_DIR/state

# write_ini MAX_STALENESS CONFIRM
write_ini() {
	{
		nsmilter_milter_section mx "state_dir = $STATE"
		scene_directories --all "sync = syncrepl" \
		    --all "sync_interval = 1s" --all "max_staleness = $1" \
		    --all "confirm_unknown = $2" \
		    --hq "address_attributes = mail, proxyAddresses" \
		    --hq "sync_filter = (|(objectClass=user)(objectClass=contact))" \
		    --legacy "address_attributes = mail, mailLocalAddress" \
		    --legacy "sync_filter = (&(objectClass=inetOrgPerson)(!(description=disabled)))"
		scene_domain "recipient_delimiter = +"
	} | nsmilter_write_ini mx
}
write_ini 1h no
INI=$(nsmilter_ini mx)
q() { "$NSMILTER" -c "$INI" -q "$@" 2>&1; }
mstat() { "$NSMILTER" -c "$INI" -m 2>&1; }

# Before the daemon ever ran: no mirror.
out=$(mstat); rc=$?
assert_match "$out" '^legacy sync=syncrepl state=absent entries=0 addresses=0 age=-1$' "-m before any sync: absent"
assert_eq "$rc" 75 "-m exits 75 while a mirror is absent"

nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
PF_EXTRA_TRANSPORT="other.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT
mbox.legacy.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

all_current() { mstat | grep -c 'state=current' | grep -qx 2; }
WAIT_SECONDS=10 wait_for all_current || fail "both mirrors current after start: $(mstat)"
out=$(mstat); rc=$?
assert_match "$out" '^hq sync=syncrepl state=current entries=[0-9]+ addresses=[0-9]+ age=[0-9]+$' "-m: hq line"
assert_match "$out" '^legacy sync=syncrepl state=current entries=3 addresses=5 age=[0-9]+$' \
	"-m: legacy has its 3 people and 5 addresses"
assert_eq "$rc" 0 "-m exits 0 when every mirror is current"

FROM=sender@example.net
# rcpt ADDRESS: the milter's reply to RCPT TO through Postfix.
rcpt() { smtp_reply_of "$(smtp_send "$SMTPD" "$FROM" "$1")" "$1"; }
rcpt_is() { rcpt "$1" | grep -Eq -- "$2"; }
q_is() { q "$1" | grep -Eq -- "$2"; }
# within3 DESCRIPTION CMD...: CMD succeeds within 3 s.
within3() {
	local what=$1
	shift
	if WAIT_SECONDS=3 wait_for "$@"; then pass "$what"; else fail "$what (not within 3 s)"; fi
}

# ---- answers from the mirror ---------------------------------------------
assert_match "$(q bob@corp.example)" '^bob@corp\.example route to=bob@legacy\.corp\.example directory=legacy.* source=mirror' \
	"-q: a foreign recipient from the mirror, source=mirror"
assert_match "$(q ALICE@corp.example)" '^ALICE@corp\.example accept directory=hq.* source=mirror' \
	"-q: case-insensitive match in the mirror"
assert_match "$(q carol@corp.example)" 'route to=carol@other\.example directory=hq target=yes' \
	"-q: the target address kept with the entry"
assert_match "$(q bob+news@corp.example)" 'route to=bob\+news@legacy\.corp\.example' \
	"-q: recipient delimiter as with live lookups"
assert_match "$(q dup@corp.example)" 'accept directory=hq .*conflict=legacy' \
	"-q: precedence and conflicts as with live lookups"
assert_match "$(rcpt bob@corp.example)" '^250 ' "milter: foreign recipient accepted from the mirror"
assert_match "$(nsmilter_log mx)" 'rcpt=<bob@corp\.example> action=route .*source=mirror' "log line carries source=mirror"

# ---- add ------------------------------------------------------------------
slapd_modify legacy <<EOF
dn: uid=newbie,ou=people,dc=legacy,dc=example
changetype: add
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: newbie
cn: New Bie
sn: Bie
mail: newbie@corp.example
EOF
within3 "add: -q routes the new mailbox" q_is newbie@corp.example 'route to=newbie@legacy\.corp\.example .*source=mirror'
within3 "add: the milter accepts it" rcpt_is newbie@corp.example '^250 '
postfix_flush mx >/dev/null
assert_eq "$(sink_rcpt_count foreign newbie@legacy.corp.example)" 1 "add: delivered to the foreign system"

# ---- modify: a new alias ----------------------------------------------------
slapd_modify legacy <<EOF
dn: uid=newbie,ou=people,dc=legacy,dc=example
changetype: modify
add: mailLocalAddress
mailLocalAddress: nb.alias@corp.example
EOF
within3 "modify: the new alias routes (-q)" q_is nb.alias@corp.example 'route to=nb\.alias@legacy\.corp\.example'
within3 "modify: the milter accepts the new alias" rcpt_is nb.alias@corp.example '^250 '

# ---- an X500 or SIP value is not an address ------------------------------
slapd_modify hq <<EOF
dn: CN=Alice Smith,OU=Users,DC=corp,DC=example
changetype: modify
add: proxyAddresses
proxyAddresses: X500:/o=Corp/ou=Exchange/cn=Recipients/cn=alice
proxyAddresses: SIP:alice.sip@corp.example
proxyAddresses: smtp:alice.new@corp.example
EOF
within3 "proxyAddresses: a new smtp: alias is found" q_is alice.new@corp.example 'accept directory=hq'
assert_match "$(q alice.sip@corp.example)" 'reject code=550' "proxyAddresses: a SIP: value is not an address"

# ---- leaving sync_filter (an account disabled) ----------------------------
slapd_modify legacy <<EOF
dn: uid=newbie,ou=people,dc=legacy,dc=example
changetype: modify
add: description
description: disabled
EOF
within3 "leave the filter: -q rejects the disabled account" q_is newbie@corp.example 'reject code=550 dsn=5\.1\.1'
within3 "leave the filter: the milter rejects it" rcpt_is newbie@corp.example '^550 '
assert_match "$(q nb.alias@corp.example)" 'reject code=550' "leave the filter: its aliases go too"

# ---- rename: the same entry under a new DN --------------------------------
slapd_modify legacy <<EOF
dn: uid=bob,ou=people,dc=legacy,dc=example
changetype: modrdn
newrdn: uid=robert.baker
deleteoldrdn: 1
EOF
sleep 1
assert_match "$(q bob@corp.example)" 'route to=bob@legacy\.corp\.example' "rename: still found after the rename"
assert_match "$(mstat)" '^legacy .* entries=3 ' "rename: no second entry in the mirror"
slapd_modify legacy <<EOF
dn: uid=robert.baker,ou=people,dc=legacy,dc=example
changetype: delete
EOF
# ---- delete ----------------------------------------------------------------
within3 "delete: -q rejects the deleted mailbox" q_is bob@corp.example 'reject code=550'
within3 "delete: the milter rejects it" rcpt_is robert@corp.example '^550 '

# ---- hostile addresses through the mirror ----------------------------------
long64=$(printf 'a%.0s' $(seq 1 65))
hostile=('*@corp.example' 'al*@corp.example' '*alice*@corp.example'
	'alice)(mail=*@corp.example' '*)(|(mail=*@corp.example' 'al\2a@corp.example'
	'alice\\@corp.example' '(alice)@corp.example' '"alice@corp.example'
	$'ali\x01ce@corp.example' $'alice\t@corp.example' "$long64@corp.example"
	'%2a@corp.example' 'alice,bob@corp.example' 'alice bob@corp.example'
	'@corp.example' 'smtp:alice@corp.example' 'X500:/o=Corp@corp.example')
for h in "${hostile[@]}"; do
	got=$(q "$h")
	case "$got" in
	*" reject code=550 dsn=5.1.1"* | *" reject code=501 dsn=5.1.3"*)
		pass "hostile address rejected: $(printf '%q' "$h")" ;;
	*) fail "hostile address $(printf '%q' "$h"): got '$got', want a reject" ;;
	esac
done

# ---- the directory stopped ---------------------------------------------------
slapd_stop legacy
stale_now() { mstat | grep -q '^legacy sync=syncrepl state=stale '; }
within3 "directory stopped: -m says stale" stale_now
"$NSMILTER" -c "$INI" -m >/dev/null 2>&1
assert_eq "$?" 75 "-m exits 75 with a stale mirror"
assert_match "$(q henry@corp.example)" 'route to=henry@mbox\.legacy\.example .*source=mirror' \
	"directory stopped: -q still answers from the mirror"
scene_clear_sinks
out=$(smtp_send "$SMTPD" "$FROM" henry@corp.example alice@corp.example nobody@corp.example)
assert_match "$(smtp_reply_of "$out" henry@corp.example)" '^250 ' "directory stopped: foreign recipient still accepted"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 ' "directory stopped: unknown recipient still rejected"
postfix_flush mx >/dev/null
assert_eq "$(sink_rcpt_count foreign henry@mbox.legacy.example)" 1 "directory stopped: routed to its target as before"
assert_eq "$(sink_rcpt_count local alice@corp.example)" 1 "directory stopped: local recipient delivered"

# ---- nsmilter restarted while the directory is down -------------------------
nsmilter_stop mx
nsmilter_start mx || fail "nsmilter restart"
t0=$(date +%s%N)
out=$(q henry@corp.example)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_match "$out" 'route to=henry@mbox\.legacy\.example' "restart, directory down: -q answers from disk"
assert_match "$(rcpt henry@corp.example)" '^250 ' "restart, directory down: the milter answers from disk"
echo "# restart with the directory down: -q answered in $ms ms"

# ---- past max_staleness --------------------------------------------------
write_ini 2s no
nsmilter_reload mx
expired() { mstat | grep -q '^legacy sync=syncrepl state=expired '; }
WAIT_SECONDS=6 wait_for expired || fail "past max_staleness: -m says expired: $(mstat)"
assert_match "$(q henry@corp.example)" 'tempfail code=451 dsn=4\.4\.3 .*legacy: mirror out of contact' \
	"past max_staleness: -q tempfails"
assert_match "$(rcpt henry@corp.example)" '^451 ' "past max_staleness: the milter answers 451"
assert_match "$(q alice@corp.example)" 'accept directory=hq' "past max_staleness: the other mirror still answers"

# ---- the directory back: resumed from the cookie ---------------------------
write_ini 1h no
nsmilter_reload mx
mark=$(nsmilter_log_mark mx)
_slapd_run legacy || fail "slapd legacy restart"
WAIT_SECONDS=40 wait_for all_current || fail "directory back: both mirrors current again: $(mstat)"
assert_match "$(nsmilter_log_since mx "$mark")" 'directory legacy: mirror resumed' "directory back: resumed from the cookie"
assert_match "$(q henry@corp.example)" 'route to=henry@mbox\.legacy\.example' "directory back: answers again"

# ---- confirm_unknown: a mailbox the mirror does not know yet -------------
write_ini 1h yes
nsmilter_reload mx
"$NSMILTER" -c "$INI" -n || fail "config with confirm_unknown"
# The live lookup is the proof: the mirror of a stopped directory cannot
# know an entry added behind its back, so make it "unknown" by adding it
# while nsmilter's session is not looking (an offline slapadd).
slapd_stop legacy
cat >"$T_DIR/late.ldif" <<EOF
dn: uid=late,ou=people,dc=legacy,dc=example
objectClass: inetOrgPerson
objectClass: inetLocalMailRecipient
uid: late
cn: Late Comer
sn: Comer
mail: late@corp.example
EOF
/usr/sbin/slapadd -q -f "$T_DIR/slapd-legacy/slapd.conf" -l "$T_DIR/late.ldif" >/dev/null 2>&1 ||
	fail "slapadd late"
nsmilter_stop mx
_slapd_run legacy || fail "slapd legacy restart"
assert_match "$(q late@corp.example)" 'route to=late@legacy\.corp\.example directory=legacy' \
	"confirm_unknown: an address the mirror lacks is found live before a 550"
assert_no_match "$(q late@corp.example)" 'source=mirror' "confirm_unknown: that answer is the live one"
write_ini 1h no
assert_match "$(q late@corp.example)" 'reject code=550' "without confirm_unknown the mirror's answer stands"

done_testing
