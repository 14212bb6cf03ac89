#!/bin/bash
# report_large.sh - nsmilter -r over two real slapd directories of
# REPORT_ENTRIES entries each (default 50000), read with paged searches:
# the planted findings are all found, and nothing else.  The time, the
# entries read per second and the peak RSS are printed ("# report: ...")
# for BENCHMARKS.md, never asserted.
#
#   hq      uNNNNNN@corp.example, proxyAddresses smtp:alias.NNNNNN@ and an
#           X500: value; every 1000th entry also claims the next entry's
#           alias (a duplicate)
#   legacy  lNNNNNN@corp.example; every 500th entry also claims hq's
#           uNNNNNN@ (a conflict), every 2000th routes to its own address
#           (a loop), every 5000th has lNNNNNN@old-brand.example (outside)
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

N=${REPORT_ENTRIES:-50000}

awk -v n="$N" 'BEGIN {
	print "dn: DC=corp,DC=example\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp\n"
	print "dn: CN=nsmilter,DC=corp,DC=example\nobjectClass: user\ncn: nsmilter\nsn: nsmilter\nuserPassword: hq-Secret-42\n"
	print "dn: OU=Users,DC=corp,DC=example\nobjectClass: organizationalUnit\nou: Users\n"
	for (i = 0; i < n; i++) {
		id = sprintf("%06d", i)
		printf "dn: CN=u%s,OU=Users,DC=corp,DC=example\nobjectClass: user\ncn: u%s\nsn: u%s\n", id, id, id
		printf "mail: u%s@corp.example\nproxyAddresses: SMTP:u%s@corp.example\n", id, id
		printf "proxyAddresses: smtp:alias.%s@corp.example\n", id
		printf "proxyAddresses: X500:/o=Corp/ou=Exchange/cn=Recipients/cn=u%s\n", id
		if (i % 1000 == 0)
			printf "proxyAddresses: smtp:alias.%06d@corp.example\n", i + 1
		print ""
	}
}' > "$T_DIR/hq.ldif"
awk -v n="$N" 'BEGIN {
	print "dn: dc=legacy,dc=example\nobjectClass: dcObject\nobjectClass: organization\ndc: legacy\no: Legacy\n"
	print "dn: ou=people,dc=legacy,dc=example\nobjectClass: organizationalUnit\nou: people\n"
	for (i = 0; i < n; i++) {
		id = sprintf("%06d", i)
		printf "dn: uid=l%s,ou=people,dc=legacy,dc=example\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\nuid: l%s\ncn: l%s\nsn: l%s\n", id, id, id, id
		printf "mail: l%s@corp.example\n", id
		if (i % 500 == 0)
			printf "mailLocalAddress: u%s@corp.example\n", id
		if (i % 5000 == 0)
			printf "mailLocalAddress: l%s@old-brand.example\n", id
		if (i % 2000 == 0)
			printf "mailRoutingAddress: l%s@corp.example\n", id
		print ""
	}
}' > "$T_DIR/legacy.ldif"

HQ_PORT=$(free_port); LEGACY_PORT=$(free_port)
slapd_start hq "$HQ_PORT" ad.schema "$T_DIR/hq.ldif" bindonly syncprov || setup_failed "slapd hq"
slapd_start legacy "$LEGACY_PORT" misc.schema "$T_DIR/legacy.ldif" syncprov || setup_failed "slapd legacy"

CONF=$T_DIR/nsmilter.ini
{
	scene_directories --hq "bind_dn = CN=nsmilter,DC=corp,DC=example" \
	    --all "sync_filter = (mail=*)" --all "timeout = 5s" \
	    --legacy "address_attributes = mail, mailLocalAddress"
	scene_domain
} >"$CONF"

/usr/bin/time -f '%e %M %U %S' -o "$T_DIR/time" \
	"$NSMILTER" -c "$CONF" -r > "$T_DIR/report" 2>"$T_DIR/stderr"
rc=$?
out=$(cat "$T_DIR/report")
read -r secs rss usr sys < <(tail -1 "$T_DIR/time")

count() { grep -c "^$1 " "$T_DIR/report"; }
assert_eq "$rc" 1 "-r exits 1 (findings)"
assert_eq "$(count conflict)" $(( (N + 499) / 500 )) "every planted conflict"
assert_eq "$(count duplicate)" $(( (N - 1 + 999) / 1000 )) "every planted duplicate"
assert_eq "$(count loop)" $(( (N + 1999) / 2000 )) "every planted loop"
assert_eq "$(count outside)" $(( (N + 4999) / 5000 )) "every planted outside address"
assert_eq "$(wc -l < "$T_DIR/report")" $(( $(count conflict) + $(count duplicate) + $(count loop) + $(count outside) + 2 )) \
	"nothing else but the two directory lines"
assert_eq "$(grep '^directory ' "$T_DIR/report")" \
"directory hq entries=$N addresses=$(( 2 * N + (N - 1 + 999) / 1000 ))
directory legacy entries=$N addresses=$(( N + (N + 499) / 500 + (N + 4999) / 5000 ))" \
	"every entry and address of both directories read (paged)"
assert_match "$out" '^conflict u000500@corp.example domain=corp.example directories=hq,legacy winner=hq$' "a conflict line"
assert_match "$out" '^duplicate alias.001001@corp.example directory=hq entries=2$' "a duplicate line"
assert_match "$out" '^loop l002000@corp.example directory=legacy target=l002000@corp.example$' "a loop line"
assert_match "$out" '^outside l005000@old-brand.example directory=legacy$' "an outside line"
sorted=$(grep -v '^directory ' "$T_DIR/report" | awk '{print $2}')
assert_eq "$sorted" "$(printf '%s\n' "$sorted" | LC_ALL=C sort)" "findings sorted by address"
assert_eq "$(grep -v ': warning: ' "$T_DIR/stderr")" "" "nothing on standard error but configuration warnings"

echo "# report: $((2 * N)) entries in ${secs}s = $(awk -v n=$((2 * N)) -v s="$secs" 'BEGIN { printf "%d", (s > 0) ? n / s : 0 }') entries/s, peak RSS $((rss / 1024)) MB, nsmilter CPU ${usr}s user ${sys}s sys"
done_testing
