#!/bin/bash
# mirror_metrics.sh - the mirror gauges of /metrics against a real slapd
# with the syncprov overlay: legacy mirrored by syncrepl, hq asked live.
#   - nsmilter_mirror_entries{directory="legacy"} is the copy's entry count
#     and the age is a few seconds while the session is up; hq (live) has
#     no mirror series;
#   - after SIGHUP the gauges are still there (the new snapshot's mirror
#     registers before the old one is closed);
#   - the directory stopped: the age grows (what the NsmilterMirrorStale
#     alert of contrib/prometheus watches), the entries stay;
#   - promtool check metrics accepts each exposition.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"

setup_failed() { fail "setup: $*"; done_testing; }

HQ_PORT=$(free_port) && slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly ||
	setup_failed "slapd hq"
LEGACY_PORT=$(free_port) && slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif syncprov ||
	setup_failed "slapd legacy"
printf '%s\n' 'hq-Secret-42' >"$T_DIR/hq.secret"
chmod 600 "$T_DIR/hq.secret"
MPORT=$(free_port)
URL=http://127.0.0.1:$MPORT/metrics
{
	nsmilter_milter_section mx "state_dir = $T_DIR/state" \
		"metrics = inet:$MPORT@127.0.0.1"
	cat <<EOF
[directory hq]
uri = ldap://127.0.0.1:$HQ_PORT
bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example
bind_password_file = $T_DIR/hq.secret
base = DC=corp,DC=example
filter = (|(mail=%s)(proxyAddresses=smtp:%s))
timeout = 2s

[directory legacy]
uri = ldap://127.0.0.1:$LEGACY_PORT
base = ou=people,dc=legacy,dc=example
filter = (|(mail=%s)(mailLocalAddress=%s))
target_attribute = mailRoutingAddress
route = legacy.corp.example
timeout = 2s
sync = syncrepl
address_attributes = mail, mailLocalAddress
sync_filter = (&(objectClass=inetOrgPerson)(!(description=disabled)))
sync_interval = 1s
max_staleness = 1h

[domain corp.example]
type = internal-relay
directories = hq, legacy
EOF
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
wait_port "$MPORT" || setup_failed "metrics port"

SCRAPE=
scrape() {
	local lint
	SCRAPE=$(curl -sS --max-time 10 "$URL") || { fail "$1: scrape failed"; return 1; }
	if lint=$(printf '%s\n' "$SCRAPE" | promtool check metrics 2>&1); then
		pass "$1: promtool check metrics accepts the exposition"
	else
		fail "$1: promtool check metrics: $lint"
	fi
}
m() { curl -sS --max-time 10 "$URL" | awk -v k="$1" '$1 == k { print $2 }'; }
entries() { m 'nsmilter_mirror_entries{directory="legacy"}'; }
age() { m 'nsmilter_mirror_age_seconds{directory="legacy"}'; }
have_entries() { [ "$(entries)" = "$1" ]; }
age_at_least() { local a; a=$(age); [ -n "$a" ] && [ "$a" -ge "$1" ]; }

WAIT_SECONDS=15 wait_for have_entries 3 || fail "legacy mirror never reached 3 entries: $(entries)"
scrape "mirror in sync"
assert_eq "$(entries)" 3 "entries: legacy's 3 people"
a=$(age)
if [ -n "$a" ] && [ "$a" -le 5 ]; then pass "age while in session: ${a}s"
else fail "age while in session: got '$a', want 0-5"; fi
assert_no_match "$SCRAPE" 'nsmilter_mirror_[a-z_]*\{directory="hq"\}' "no mirror series for the live directory"

nsmilter_reload mx
scrape "after SIGHUP"
assert_eq "$(entries)" 3 "entries still reported after a reload"
assert_match "$(age)" '^[0-9]+$' "age still reported after a reload"

slapd_stop legacy
WAIT_SECONDS=20 wait_for age_at_least 8 || fail "age did not grow with the directory stopped: $(age)"
a=$(age)
if [ -n "$a" ] && [ "$a" -ge 8 ]; then pass "directory stopped: the age grows (${a}s)"; fi
assert_eq "$(entries)" 3 "directory stopped: the copy keeps its entries"
scrape "directory stopped"

done_testing
