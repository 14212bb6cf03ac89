#!/bin/bash
# ldap_entries.sh - several entries for one address, and target addresses
# that lead back into the shared domain, against a real slapd (nsmilter -q):
#   - entries of one directory with the same decision: answered, duplicate=N
#   - a mailbox and a contact with a target on one address: ambiguous, 451
#     4.1.4, whatever on_directory_error says
#   - a contact whose target is itself, and a two-contact cycle: 554 5.4.6
#   - a contact whose target is a mailbox of the shared domain: routed to it
#   - a contact whose target is unknown in the shared domain: 550 5.1.1
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

contact() {  # contact CN MAIL TARGET
	printf 'dn: CN=%s,OU=Contacts,DC=corp,DC=example\nobjectClass: contact\ncn: %s\nsn: %s\nmail: %s\nproxyAddresses: SMTP:%s\ntargetAddress: SMTP:%s\n\n' \
		"$1" "$1" "$1" "$2" "$2" "$3"
}
user() {  # user CN SAM MAIL [PROXY]
	printf 'dn: CN=%s,OU=Users,DC=corp,DC=example\nobjectClass: user\ncn: %s\nsn: %s\nsAMAccountName: %s\nmail: %s\n' \
		"$1" "$1" "$1" "$2" "$3"
	[ -n "${4:-}" ] && printf 'proxyAddresses: smtp:%s\n' "$4"
	echo
}
{
	cat "$NSMILTER_SRCDIR/t/fixtures/ldap/hq.ldif"
	echo
	user "Shared Box" sharedbox sharedbox@corp.example shared@corp.example
	contact "Shared Contact" shared-c@corp.example shared@partner.example
	user "Twice One" twice1 twice1@corp.example twice@corp.example
	user "Twice Two" twice2 twice2@corp.example twice@corp.example
	contact "Self Loop" self@corp.example self@corp.example
	contact "Ping" ping@corp.example pong@corp.example
	contact "Pong" pong@corp.example ping@corp.example
	contact "To Alice" toalice@corp.example alice@corp.example
	contact "To Nobody" tonobody@corp.example nobody@corp.example
} > "$T_DIR/entries.ldif"
# The contact shares the user's proxy address: add it to the contact too.
sed -i '/^cn: Shared Contact$/a proxyAddresses: smtp:shared@corp.example' "$T_DIR/entries.ldif"

HQ_PORT=$(free_port)
slapd_start hq "$HQ_PORT" ad.schema "$T_DIR/entries.ldif" bindonly || setup_failed "slapd hq"

write_conf() {  # write_conf ON_DIRECTORY_ERROR
	{
		ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0" \
			"on_directory_error = $1"
		scene_directory hq
		scene_domain "type = authoritative" "directories = hq"
	} >"$T_DIR/nsmilter.ini"
}
write_conf tempfail
q() { "$NSMILTER" -c "$T_DIR/nsmilter.ini" -q "$@" 2>&1; }

while IFS='|' read -r addr want; do
	[ -n "$addr" ] || continue
	assert_eq "$(q "$addr")" "$want" "-q $addr"
done <<'CASES'
twice@corp.example|twice@corp.example accept directory=hq duplicate=2
shared@corp.example|shared@corp.example tempfail code=451 dsn=4.1.4 directory=hq reason=ambiguous ambiguous=2
self@corp.example|self@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes
ping@corp.example|ping@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes hops=1
toalice@corp.example|toalice@corp.example route to=alice@corp.example directory=hq target=yes hops=1
tonobody@corp.example|tonobody@corp.example reject code=550 dsn=5.1.1 directory=hq target=yes hops=1
alice@corp.example|alice@corp.example accept directory=hq
CASES

q shared@corp.example >/dev/null
assert_eq "$?" 75 "an ambiguous address makes -q exit 75"

# on_directory_error = accept does not apply: the directory answered.
write_conf accept
assert_eq "$(q shared@corp.example)" \
	"shared@corp.example tempfail code=451 dsn=4.1.4 directory=hq reason=ambiguous ambiguous=2" \
	"ambiguous stays 451 with on_directory_error = accept"

done_testing
