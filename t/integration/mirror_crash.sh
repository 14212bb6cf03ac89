#!/bin/bash
# mirror_crash.sh - kill -9 in the middle of a mirror refresh of 50,000
# entries: after a restart the mirror is the old state or the new one,
# never a mix.
#
# The directory is replaced (50,000 entries a0..a49999 become b0..b49999)
# while nsmilter is stopped; nsmilter starts, refreshes from its cookie,
# and is killed while slapd is still sending entries.  Restarted with the
# directory down, -q answers from disk: checked on the first and last
# address of both generations.  Then, with the directory back, the new
# state arrives whole.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

N=${MIRROR_CRASH_ENTRIES:-50000}
LAST=$((N - 1))

# gen_ldif PREFIX: the suffix, ou=people and N people PREFIX0..
gen_ldif() {
	printf 'dn: dc=legacy,dc=example\nobjectClass: dcObject\nobjectClass: organization\ndc: legacy\no: Legacy\n\n'
	printf 'dn: ou=people,dc=legacy,dc=example\nobjectClass: organizationalUnit\nou: people\n\n'
	awk -v n="$N" -v p="$1" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "dn: uid=%s%d,ou=people,dc=legacy,dc=example\nobjectClass: inetOrgPerson\nuid: %s%d\ncn: %s %d\nsn: %s\nmail: %s%d@corp.example\n\n", p, i, p, i, p, i, p, p, i
	}'
}
gen_ldif a >"$T_DIR/a.ldif"
gen_ldif b >"$T_DIR/b.ldif"
LEGACY_PORT=$(free_port)
slapd_start legacy "$LEGACY_PORT" misc.schema "$T_DIR/a.ldif" syncprov || setup_failed "slapd"

{
	nsmilter_milter_section mx "state_dir = $T_DIR/state"
	scene_directory legacy "filter = (mail=%s)" -target_attribute \
	    "sync = syncrepl" "address_attributes = mail" \
	    "sync_filter = (objectClass=inetOrgPerson)" "sync_interval = 1s" \
	    "confirm_unknown = no"
	scene_domain -type "directories = legacy"
} | nsmilter_write_ini mx
INI=$(nsmilter_ini mx)
q() { "$NSMILTER" -c "$INI" -q "$@" 2>&1; }
current() { "$NSMILTER" -c "$INI" -m | grep -q "state=current entries=$N "; }

nsmilter_start mx || setup_failed "nsmilter"
WAIT_SECONDS=60 wait_for current || setup_failed "first refresh: $("$NSMILTER" -c "$INI" -m)"
assert_match "$(q a0@corp.example a$LAST@corp.example)" "a$LAST@corp\.example route" "old state loaded"
nsmilter_stop mx

# Replace the directory: new entries, new entryUUIDs.
slapd_stop legacy
rm -rf "$T_DIR/slapd-legacy/db" && mkdir "$T_DIR/slapd-legacy/db"
/usr/sbin/slapadd -q -f "$T_DIR/slapd-legacy/slapd.conf" -l "$T_DIR/b.ldif" >/dev/null 2>&1 ||
	setup_failed "slapadd b"
_slapd_run legacy || setup_failed "slapd restart"

# Start, and kill -9 as soon as slapd has begun answering the refresh.
LOG=$(slapd_log legacy)
mark=$(wc -l <"$LOG")
"$NSMILTER" -f -c "$INI" >>"$(nsmilter_dir mx)/log" 2>&1 &
pid=$!
searching() { tail -n +"$((mark + 1))" "$LOG" | grep -q 'SRCH base="ou=people'; }
for ((i = 0; i < 1000; i++)); do searching && break; sleep 0.01; done
sleep 0.05
kill -9 "$pid"
wait "$pid" 2>/dev/null
if tail -n +"$((mark + 1))" "$LOG" | grep -q 'INTERM'; then
	fail "the kill came after the refresh ended (INTERM sent): no crash tested"
else
	pass "killed with the refresh under way"
fi
assert_no_match "$(nsmilter_log mx | tail -n 3)" 'mirror (loaded|resumed)' "no refresh was committed before the kill"

# Restart with the directory down: the state on disk, whole.
slapd_stop legacy
out=$(q a0@corp.example a$LAST@corp.example b0@corp.example b$LAST@corp.example)
echo "$out" | sed 's/^/# /'
old=$(printf '%s\n' "$out" | grep -c '^a[0-9]*@corp\.example route')
new=$(printf '%s\n' "$out" | grep -c '^b[0-9]*@corp\.example route')
if { [ "$old" = 2 ] && [ "$new" = 0 ]; } || { [ "$old" = 0 ] && [ "$new" = 2 ]; }; then
	pass "after kill -9: the old state or the new one, not a mix (old=$old new=$new)"
else
	fail "after kill -9: a mix of old and new (old=$old new=$new)"
fi
assert_match "$("$NSMILTER" -c "$INI" -m)" "entries=$N " "after kill -9: $N entries, not a part"

# The directory back: the new state, whole.
_slapd_run legacy || fail "slapd back"
nsmilter_start mx || fail "nsmilter restart"
newstate() { q b$LAST@corp.example | grep -q route && current; }
WAIT_SECONDS=60 wait_for newstate || fail "new state after the directory came back"
out=$(q a0@corp.example a$LAST@corp.example b0@corp.example b$LAST@corp.example)
assert_eq "$(printf '%s\n' "$out" | awk '{print $2}' | tr '\n' ' ')" "reject reject route route " \
	"the new state replaced the old one entirely"

done_testing
