#!/bin/bash
# mirror_poll.sh - a directory mirror kept by sync = poll (a full paged
# read every sync_interval, swapped in whole) from a slapd WITHOUT the
# syncprov overlay, seen by nsmilter -q and by a running milter through a
# real Postfix:
#   - add, modify, an entry leaving sync_filter and delete each visible
#     within one sync_interval (1 s here; checked within 6 s, for a
#     loaded machine);
#   - filter unset: the mirrored directory is never asked live;
#   - nsmilter -m: current while the reads work; the directory stopped:
#     stale (exit 75), mail keeps flowing from the mirror, and a restart of
#     nsmilter answers from disk at once;
#   - the directory back: the mirror is read again.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"

setup_failed() { fail "setup: $*"; done_testing; }

HQ_PORT=$(free_port) && slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly ||
	setup_failed "slapd hq"
LEGACY_PORT=$(free_port) && slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif ||
	setup_failed "slapd legacy"
PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || setup_failed "sink"
PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || setup_failed "sink"
STATE=$T_DIR/state

# hq is asked live; legacy is polled (no filter: never asked live).
{
	nsmilter_milter_section mx "state_dir = $STATE"
	scene_directories "sync = poll" "address_attributes = mail, mailLocalAddress" \
		"sync_filter = (&(objectClass=inetOrgPerson)(!(description=disabled)))" \
		"sync_interval = 1s" "max_staleness = 1h" "confirm_unknown = no" |
		sed '/^\[directory legacy\]/,/^$/{/^filter =/d}'
	scene_domain "recipient_delimiter = +"
} | nsmilter_write_ini mx
INI=$(nsmilter_ini mx)
q() { "$NSMILTER" -c "$INI" -q "$@" 2>&1; }
mstat() { "$NSMILTER" -c "$INI" -m 2>&1; }
"$NSMILTER" -c "$INI" -n >/dev/null 2>&1
assert_eq "$?" 0 "-n accepts sync = poll without a filter"
assert_match "$(q bob@corp.example)" 'tempfail code=451 .*legacy: mirror: no copy yet' \
	"before the first read, without a filter: a directory error, not a live lookup"

nsmilter_start mx || setup_failed "nsmilter"
SMTPD=$(free_port)
PF_EXTRA_TRANSPORT="other.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT
mbox.legacy.example	smtp:[127.0.0.1]:$PF_FOREIGN_SINK_PORT"
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"

current() { mstat | grep -q '^legacy sync=poll state=current '; }
WAIT_SECONDS=10 wait_for current || fail "the first read: -m says current: $(mstat)"
assert_match "$(mstat)" '^legacy sync=poll state=current entries=3 addresses=5 age=[0-9]+$' \
	"-m: the 3 people and 5 addresses of legacy"
"$NSMILTER" -c "$INI" -m >/dev/null 2>&1
assert_eq "$?" 0 "-m exits 0 while the reads work"
assert_match "$(nsmilter_log mx)" 'directory legacy: mirror loaded: 3 entries, 5 addresses' "log: the first read"

FROM=sender@example.net
rcpt() { smtp_reply_of "$(smtp_send "$SMTPD" "$FROM" "$1")" "$1"; }
rcpt_is() { rcpt "$1" | grep -Eq -- "$2"; }
q_is() { q "$1" | grep -Eq -- "$2"; }
within() {
	local what=$1
	shift
	if WAIT_SECONDS=6 wait_for "$@"; then pass "$what"; else fail "$what (not within 6 s)"; fi
}

assert_match "$(q ROBERT@corp.example)" '^ROBERT@corp\.example route to=ROBERT@legacy\.corp\.example directory=legacy.* source=mirror' \
	"-q: an alias from the polled mirror, any case, source=mirror"
assert_match "$(q henry+x@corp.example)" 'route to=henry@mbox\.legacy\.example .*target=yes' \
	"-q: a detail address goes to the entry's target, as with live lookups"
assert_match "$(rcpt bob@corp.example)" '^250 ' "milter: accepted from the polled mirror"

# ---- add ---------------------------------------------------------------------
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
within "add: -q routes the new mailbox" q_is newbie@corp.example 'route to=newbie@legacy\.corp\.example .*source=mirror'
within "add: the milter accepts it" rcpt_is newbie@corp.example '^250 '
postfix_flush mx >/dev/null
assert_eq "$(sink_rcpt_count foreign newbie@legacy.corp.example)" 1 "add: delivered to the foreign system"

# ---- modify --------------------------------------------------------------------
slapd_modify legacy <<EOF
dn: uid=newbie,ou=people,dc=legacy,dc=example
changetype: modify
add: mailLocalAddress
mailLocalAddress: nb.alias@corp.example
EOF
within "modify: the new alias routes (-q)" q_is nb.alias@corp.example 'route to=nb\.alias@legacy\.corp\.example'
within "modify: the milter accepts the new alias" rcpt_is nb.alias@corp.example '^250 '

# ---- leaving sync_filter ---------------------------------------------------------
slapd_modify legacy <<EOF
dn: uid=newbie,ou=people,dc=legacy,dc=example
changetype: modify
add: description
description: disabled
EOF
within "leave the filter: -q rejects the disabled account" q_is newbie@corp.example 'reject code=550 dsn=5\.1\.1'
within "leave the filter: the milter rejects it" rcpt_is nb.alias@corp.example '^550 '

# ---- delete --------------------------------------------------------------------
slapd_modify legacy <<EOF
dn: uid=bob,ou=people,dc=legacy,dc=example
changetype: delete
EOF
within "delete: -q rejects the deleted mailbox" q_is bob@corp.example 'reject code=550'
within "delete: the milter rejects its alias" rcpt_is robert@corp.example '^550 '
assert_match "$(mstat)" '^legacy sync=poll state=current entries=2 addresses=3 ' \
	"-m: the counts follow (newbie disabled, bob deleted: henry and dup left)"

# ---- the directory stopped ---------------------------------------------------
slapd_stop legacy
stale_now() { mstat | grep -q '^legacy sync=poll state=stale '; }
# current until sync_interval + timeout (+1 s rounding) have passed
WAIT_SECONDS=8 wait_for stale_now || fail "directory stopped: -m says stale: $(mstat)"
"$NSMILTER" -c "$INI" -m >/dev/null 2>&1
assert_eq "$?" 75 "-m exits 75 with a stale mirror"
assert_match "$(q henry@corp.example)" 'route to=henry@mbox\.legacy\.example .*source=mirror' \
	"directory stopped: -q answers from the mirror"
out=$(smtp_send "$SMTPD" "$FROM" henry@corp.example alice@corp.example bob@corp.example)
assert_match "$(smtp_reply_of "$out" henry@corp.example)" '^250 ' "directory stopped: foreign recipient still accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^550 ' "directory stopped: the deleted one still rejected"

# ---- nsmilter restarted while the directory is down -------------------------
nsmilter_stop mx
nsmilter_start mx || fail "nsmilter restart"
assert_match "$(q henry@corp.example)" 'route to=henry@mbox\.legacy\.example .*source=mirror' \
	"restart, directory down: -q answers from disk"
assert_match "$(rcpt henry@corp.example)" '^250 ' "restart, directory down: the milter answers from disk"

# ---- the directory back ---------------------------------------------------------
_slapd_run legacy || fail "slapd legacy restart"
WAIT_SECONDS=40 wait_for current || fail "directory back: -m says current again: $(mstat)"
assert_match "$(q dup@corp.example)" 'accept directory=hq .*conflict=legacy' \
	"directory back: precedence and conflicts as with live lookups"

done_testing
