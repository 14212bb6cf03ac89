#!/bin/bash
# report.sh - nsmilter -r, the merger reconciliation report, against two
# real slapd directories with planted cases (t/fixtures/ldap/report-*.ldif):
# it finds exactly the planted conflict, duplicate, loops and outside
# address and nothing else, agrees with -q on each, and exits 0 for a
# clean pair, 1 with findings, 75 when a directory is down, 78 for a bad
# configuration.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

HQ_PORT=$(free_port); LEGACY_PORT=$(free_port)
slapd_start hq "$HQ_PORT" ad.schema report-hq.ldif bindonly || setup_failed "slapd hq"
slapd_start legacy "$LEGACY_PORT" misc.schema report-legacy.ldif || setup_failed "slapd legacy"

CONF=$T_DIR/nsmilter.ini
{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
	scene_directories \
	    --hq "address_attributes = mail, proxyAddresses" \
	    --hq "sync_filter = (|(objectClass=user)(objectClass=contact))" \
	    --legacy "filter = (&(!(description=disabled))(|(mail=%s)(mailLocalAddress=%s)))" \
	    --legacy "address_attributes = mail, mailLocalAddress" \
	    --legacy "sync_filter = (&(objectClass=inetOrgPerson)(!(description=disabled)))"
	scene_domain "subdomains = yes" "recipient_delimiter = +"
} >"$CONF"

want_findings='conflict both@corp.example domain=corp.example directories=hq,legacy winner=hq
loop dan@corp.example directory=hq target=dan@corp.example
loop ping@corp.example directory=hq target=pong@corp.example
loop pong@corp.example directory=legacy target=ping@corp.example
duplicate sales@corp.example directory=hq entries=2
outside x@old-brand.example directory=legacy'

out=$("$NSMILTER" -c "$CONF" -r 2>"$T_DIR/stderr"); rc=$?
assert_eq "$out" "$want_findings
directory hq entries=10 addresses=11
directory legacy entries=4 addresses=6" \
	"-r finds exactly the planted cases, sorted by address, then one line per directory"
assert_eq "$rc" 1 "-r exits 1 when there is a conflict, duplicate or loop"
assert_eq "$(grep -v ': warning: ' "$T_DIR/stderr")" "" "-r writes nothing but configuration warnings to standard error"
assert_no_match "$out" 'Both@|Sales@' "addresses are one, whatever their case (Both@ vs both@)"
assert_no_match "$out" 'X500|SIP|/o=Corp' "X500: and SIP: values are not addresses"
assert_no_match "$out" 'alice|fwd|bob|carol|eve' "no finding for mailboxes, a target followed to a mailbox, an outside target, a subdomain, a disabled account"

# The report and the milter agree: -q decides each finding the same way.
got=$("$NSMILTER" -c "$CONF" -q both@corp.example dan@corp.example \
	ping@corp.example pong@corp.example sales@corp.example fwd@corp.example)
assert_eq "$got" "both@corp.example accept directory=hq conflict=legacy
dan@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes
ping@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes hops=1
pong@corp.example reject code=554 dsn=5.4.6 directory=legacy target=yes loop=yes hops=1
sales@corp.example accept directory=hq duplicate=2
fwd@corp.example route to=bob@legacy.corp.example directory=hq target=yes hops=1" \
	"-q decides every finding of -r the same way"

# A clean pair: sync_filter keeps the planted entries out.
sed -e 's/^sync_filter = (|(objectClass=user)(objectClass=contact))$/sync_filter = (|(cn=Alice*)(cn=Eve*)(cn=Carol*)(cn=Fwd))/' \
    -e 's/^sync_filter = (&(objectClass=inetOrgPerson).*$/sync_filter = (uid=bob)/' "$CONF" > "$T_DIR/clean.ini"
out=$("$NSMILTER" -c "$T_DIR/clean.ini" -r); rc=$?
assert_eq "$out" "directory hq entries=4 addresses=5
directory legacy entries=1 addresses=2" "a clean pair: no finding, the directory lines only"
assert_eq "$rc" 0 "-r exits 0 for a clean pair"

# An outside address alone is no reason to fail.
sed -e 's/^sync_filter = (uid=bob)$/sync_filter = (uid=xavier)/' "$T_DIR/clean.ini" > "$T_DIR/outside.ini"
out=$("$NSMILTER" -c "$T_DIR/outside.ini" -r); rc=$?
assert_match "$out" '^outside x@old-brand.example directory=legacy$' "outside reported"
assert_eq "$rc" 0 "-r exits 0 when only outside addresses are found"

# A bad configuration: 78, nothing read.
sed 's/^sync_filter = (uid=bob)$/sync_filter = (uid=bob/' "$T_DIR/clean.ini" > "$T_DIR/bad.ini"
out=$("$NSMILTER" -c "$T_DIR/bad.ini" -r 2>&1); rc=$?
assert_eq "$rc" 78 "-r exits 78 on a bad configuration"
assert_match "$out" '\[directory legacy\] sync_filter: ' "the error names section and key"
"$NSMILTER" -c "$T_DIR/nosuch.ini" -r >/dev/null 2>&1
assert_eq $? 78 "-r exits 78 when the configuration file is missing"
"$NSMILTER" -c "$CONF" -r -q x@corp.example >/dev/null 2>&1
assert_eq $? 64 "-r with -q is a usage error (64)"

# A directory down: its line says why, the others are still reported, 75.
slapd_stop legacy
out=$("$NSMILTER" -c "$CONF" -r); rc=$?
assert_eq "$rc" 75 "-r exits 75 when a directory cannot be read"
assert_match "$out" '^directory legacy skipped reason="Can.t contact LDAP server' "the directory line says why it was skipped"
assert_match "$out" '^directory hq entries=10 addresses=11$' "the other directory is still read"
assert_match "$out" '^duplicate sales@corp.example directory=hq entries=2$' "its findings are still reported"
assert_no_match "$out" '^conflict ' "no conflict is claimed with a directory that was not read"

# A wrong bind password: the directory is skipped, never read as empty.
slapd_restart legacy || fail "restart slapd legacy"
printf 'wrong\n' > "$T_DIR/hq.secret"
out=$("$NSMILTER" -c "$CONF" -r); rc=$?
assert_eq "$rc" 75 "-r exits 75 when the bind fails"
assert_match "$out" '^directory hq skipped reason="Invalid credentials' "a refused bind skips the directory"
assert_no_match "$out" 'wrong' "the bind password never appears in the report"

done_testing
