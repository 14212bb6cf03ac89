#!/bin/bash
# ad_recipients.sh - nsmilter -q against a real Active Directory (a Samba AD
# DC, t/lib/samba-ad.sh) over LDAPS: the recipients of an Exchange-style
# domain.  Referrals that AD returns from the domain root are ignored;
# proxyAddresses SMTP:/smtp: match in any case and X500:/SIP:/x400: values
# never do; contacts are routed to their targetAddress (either prefix);
# mail-enabled groups are accepted; the documented filter excludes disabled
# accounts (and, as documented, Exchange-style room mailboxes, which are
# disabled users); the documented homeMDB variant works on an AD without
# Exchange's mailbox attributes.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
ad_netns "$@"
ad_start || { fail "samba AD DC"; done_testing; }

# write_ini FILE FILTER: one AD directory, LDAPS, bound by UPN.
write_ini() {
	{
		ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
		ad_directory "filter = $2" "timeout = 5s"
		ad_domain
	} > "$1"
}
PLAIN=$AD_FILTER_PLAIN
ENABLED=$AD_FILTER_ENABLED
# README's recipe that keeps Exchange's disabled-user mailboxes (homeMDB)
MAILBOX='(&(|(mail=%s)(proxyAddresses=smtp:%s))(|(!(userAccountControl:1.2.840.113556.1.4.803:=2))(homeMDB=*)))'
write_ini "$T_DIR/plain.ini" "$PLAIN"
write_ini "$T_DIR/enabled.ini" "$ENABLED"
write_ini "$T_DIR/mailbox.ini" "$MAILBOX"

# --- the DC really answers with referrals from the domain root ---------------
refs=$(LDAPTLS_CACERT=$(ad_ca) ldapsearch -x -H "ldaps://$AD_HOST" \
    -D "$AD_BIND_UPN" -w "$AD_PASSWORD" -b "$AD_BASE" '(mail=alice@corp.example)' 1.1 2>&1)
assert_match "$refs" '^# numReferences: [1-9]' \
	"the DC returns search references from the domain root"
assert_match "$refs" '^ref: ldaps://corp.example/DC=DomainDnsZones' \
	"... to DomainDnsZones (a host nsmilter must not chase)"

# ADDRESS|EXPECTED LINE, with PLAIN and ENABLED filters
check_all() {
	local ini=$1 label=$2 addr want got
	while IFS='|' read -r addr want; do
		[ -n "$addr" ] || continue
		got=$("$NSMILTER" -c "$ini" -q "$addr" 2>&1)
		assert_eq "$got" "$want" "$label: -q $addr"
	done
}

check_all "$T_DIR/plain.ini" "any account" <<'CASES'
alice@corp.example|alice@corp.example accept directory=ad
ALICE@CORP.EXAMPLE|ALICE@corp.example accept directory=ad
a.smith@corp.example|a.smith@corp.example accept directory=ad
A.Smith@Corp.Example|A.Smith@corp.example accept directory=ad
alias.mixed@corp.example|alias.mixed@corp.example accept directory=ad
Bob.Brown@corp.example|Bob.Brown@corp.example accept directory=ad
bob.brown@CORP.EXAMPLE|bob.brown@corp.example accept directory=ad
x500.alice@corp.example|x500.alice@corp.example reject code=550 dsn=5.1.1
sip.alice@corp.example|sip.alice@corp.example reject code=550 dsn=5.1.1
x400.alice@corp.example|x400.alice@corp.example reject code=550 dsn=5.1.1
carol@corp.example|carol@corp.example route to=carol@partner.example directory=ad target=yes
dave@corp.example|dave@corp.example route to=Dave@Other.Example directory=ad target=yes
sales@corp.example|sales@corp.example accept directory=ad
team@corp.example|team@corp.example accept directory=ad
frank@corp.example|frank@corp.example accept directory=ad
room1@corp.example|room1@corp.example accept directory=ad
svc-nsmilter@corp.example|svc-nsmilter@corp.example reject code=550 dsn=5.1.1
nobody@corp.example|nobody@corp.example reject code=550 dsn=5.1.1
CASES

check_all "$T_DIR/enabled.ini" "disabled accounts excluded" <<'CASES'
alice@corp.example|alice@corp.example accept directory=ad
alias.mixed@corp.example|alias.mixed@corp.example accept directory=ad
frank@corp.example|frank@corp.example reject code=550 dsn=5.1.1
room1@corp.example|room1@corp.example reject code=550 dsn=5.1.1
carol@corp.example|carol@corp.example route to=carol@partner.example directory=ad target=yes
sales@corp.example|sales@corp.example accept directory=ad
sip.alice@corp.example|sip.alice@corp.example reject code=550 dsn=5.1.1
CASES

# Without Exchange's mailbox attributes in the schema (as here), the
# homeMDB recipe is harmless: it excludes disabled accounts the same way,
# and no lookup fails on the unknown attribute.
check_all "$T_DIR/mailbox.ini" "homeMDB recipe, no Exchange mailboxes" <<'CASES'
alice@corp.example|alice@corp.example accept directory=ad
frank@corp.example|frank@corp.example reject code=550 dsn=5.1.1
room1@corp.example|room1@corp.example reject code=550 dsn=5.1.1
carol@corp.example|carol@corp.example route to=carol@partner.example directory=ad target=yes
sales@corp.example|sales@corp.example accept directory=ad
CASES

# The DC agrees on which accounts the filter drops (the filter is AD's, not
# nsmilter's): frank is disabled in the directory itself.
uac=$(ad_search '(sAMAccountName=frank)' userAccountControl | sed -n 's/^userAccountControl: //p')
assert_eq "$uac" 514 "frank's account is disabled in AD (userAccountControl 514)"

# One -q process, several addresses, exit status 0 (nothing tempfailed).
out=$("$NSMILTER" -c "$T_DIR/enabled.ini" -q alice@corp.example frank@corp.example carol@corp.example 2>&1)
assert_eq "$?" 0 "-q exit status 0: every address decided"
assert_eq "$(printf '%s\n' "$out" | wc -l)" 3 "one line per address"
done_testing
