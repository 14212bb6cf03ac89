#!/bin/bash
# ad_ambiguous.sh - addresses that one Active Directory (a Samba AD DC,
# t/lib/samba-ad.sh) gives to more than one entry, and targetAddress
# values that lead back into the shared domain (see README, "Active
# Directory"):
#   - a mailbox and a contact with a target both claiming smtp:shared@ is
#     ambiguous: 451 4.1.4, reason=ambiguous, whatever order the DC returns
#     the two entries in (both orders are made here);
#   - two entries that lead to the same decision (a mailbox and a group
#     sharing smtp:support@) are answered normally;
#   - a contact whose targetAddress is its own address, and two contacts
#     pointing at each other, are routing loops: 554 5.4.6;
#   - a contact whose target is a mailbox of the shared domain is decided
#     again and reaches that mailbox.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
ad_netns "$@"
ad_start || { fail "samba AD DC"; done_testing; }

{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
	ad_directory "timeout = 3s"
	ad_domain
} > "$T_DIR/nsmilter.ini"
q() { "$NSMILTER" -c "$T_DIR/nsmilter.ini" -q "$@" 2>&1; }

# The fixture really has both entries (so the test below means something).
n=$(ad_search '(proxyAddresses=smtp:shared@corp.example)' 1.1 | grep -c '^dn: ')
assert_eq "$n" 2 "two entries claim smtp:shared@corp.example in AD"

# --- a mailbox and a contact: ambiguous, in either order -------------------------
out=$(q shared@corp.example); rc=$?
assert_match "$out" '^shared@corp\.example tempfail code=451 dsn=4\.1\.4( |$)' \
	"mailbox + contact (fixture order): 451 4.1.4"
assert_match "$out" ' reason=ambiguous( |$)' "... reason=ambiguous"
assert_match "$out" ' ambiguous=2( |$)' "... ambiguous=2: two entries"
assert_eq "$rc" 75 "... -q exits 75"
assert_no_match "$out" ' (accept|route) ' "... neither accepted nor routed"

# The same pair made at run time, the other way round: the contact first,
# then a mailbox whose DN sorts before the contact's, so that the DC
# returns the mailbox first (a reader of only the first entry would accept
# here and route above).
ad_add_contact "Twin Contact" SMTP:twin@partner.example SMTP:twin.contact@corp.example smtp:twin@corp.example ||
	fail "add the contact"
ad_add_user a.twin a.twin@corp.example SMTP:a.twin@corp.example smtp:twin@corp.example ||
	fail "add the mailbox"
out=$(q twin@corp.example)
assert_match "$out" '^twin@corp\.example tempfail code=451 dsn=4\.1\.4 .*reason=ambiguous' \
	"contact + mailbox (opposite order): 451 4.1.4 reason=ambiguous"
# and once one of them goes, the address is decided normally again
ad_disable_user a.twin || fail "disable the mailbox"
assert_eq "$(q twin@corp.example)" "twin@corp.example route to=twin@partner.example directory=ad target=yes" \
	"mailbox disabled: only the contact is left, routed"

# --- two entries, same decision: answered normally ---------------------------------
assert_eq "$(q support@corp.example)" "support@corp.example accept directory=ad duplicate=2" \
	"mailbox + group (both accept): accepted, duplicate=2"

# --- targets back into the shared domain ---------------------------------------------
out=$(q loop.self@corp.example)
assert_match "$out" '^loop\.self@corp\.example reject code=554 dsn=5\.4\.6( |$)' \
	"contact whose target is itself: 554 5.4.6 routing loop"
out=$(q loop.a@corp.example)
assert_match "$out" '^loop\.a@corp\.example reject code=554 dsn=5\.4\.6( |$)' \
	"two contacts pointing at each other: 554 5.4.6 routing loop"
out=$(q chain.one@corp.example)
assert_no_match "$out" 'code=554|tempfail' "contact whose target is a mailbox: no loop"
assert_match "$out" '^chain\.one@corp\.example (accept|route).*alice@corp\.example' \
	"... decided again: ends at alice's mailbox"
done_testing
