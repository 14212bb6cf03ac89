#!/bin/bash
# ldap_parallel.sh - the directories of a domain are asked at once
# (milter/directory/resolver.c): the precedence of the answers is unchanged when the
# first directory answers last, and a recipient needing two slow directories
# costs one delay, not two.  Driven through "nsmilter -q -" on a pipe (one
# process, warm connection pools).
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_slapd || setup_failed "slapd (see above)"
HQ2_PORT=$(free_port); LEGACY2_PORT=$(free_port)
slapd_start hq2 "$HQ2_PORT" ad.schema hq.ldif bindonly || setup_failed "slapd hq2"
slapd_start legacy2 "$LEGACY2_PORT" misc.schema legacy.ldif || setup_failed "slapd legacy2"

T=2000   # the directories' timeout, ms
CONF=$T_DIR/nsmilter.ini
{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
	scene_directories --hq "uri = ldap://127.0.0.1:$HQ_PORT ldap://127.0.0.1:$HQ2_PORT" \
	    --legacy "uri = ldap://127.0.0.1:$LEGACY_PORT ldap://127.0.0.1:$LEGACY2_PORT"
	scene_domain
} >"$CONF"

nsmilter_q_start "$CONF"
# send ADDRESS / receive: one question, one line into OUT (MS: since send).
send() { nsmilter_q_send "$1"; }
receive() { nsmilter_q_receive; }
ask() { nsmilter_q_ask "$1"; }

DUP="dup@corp.example accept directory=hq conflict=legacy"
NOBODY="nobody@corp.example reject code=550 dsn=5.1.1"

# --- precedence ------------------------------------------------------------
ask dup@corp.example
assert_eq "$OUT" "$DUP" "in both directories: the first listed wins, the other is the conflict"
ask bob@corp.example
assert_eq "$OUT" "bob@corp.example route to=bob@legacy.corp.example directory=legacy" \
	"in the second directory only: routed"

# hq (first in precedence) answers ~0.6 s after legacy: still hq's answer.
slapd_freeze hq
send dup@corp.example
sleep 0.6
slapd_thaw hq
receive
assert_eq "$OUT" "$DUP" "first directory answering last: its answer still wins (${MS} ms)"
assert_match "$MS" '^([5-9][0-9]{2}|1[0-9]{3})$' \
	"that lookup waited for the slow first directory (${MS} ms, not held down)"
# And the other way round: legacy slow, hq fast.
slapd_freeze legacy
send dup@corp.example
sleep 0.6
slapd_thaw legacy
receive
assert_eq "$OUT" "$DUP" "second directory answering last: the conflict is still seen (${MS} ms)"

# --- parallelism: both first servers hang -----------------------------------
# Both pools hold a connection to the first servers; both freeze.  A
# recipient found nowhere needs both answers: asked one after the other
# that is 2T, at once it is T.
ask nobody@corp.example
assert_eq "$OUT" "$NOBODY" "unknown: both asked, rejected"
slapd_freeze hq
slapd_freeze legacy
ask nobody@corp.example; both_ms=$MS
assert_match "$OUT" '^nobody@corp.example tempfail code=451 dsn=4.4.3 error="hq: Timed out, legacy: Timed out"$' \
	"both first servers frozen: both time out, tempfail"
limit=$(( T * 16 / 10 ))
if [ "$both_ms" -ge $((T * 3 / 4)) ] && [ "$both_ms" -lt "$limit" ]; then
	pass "two directories timing out together cost one timeout: ${both_ms} ms (T=$T, < $limit)"
else
	fail "two directories timing out together: ${both_ms} ms, want about T=$T (< $limit)"
fi
echo "# one recipient, two frozen directories asked at once: ${both_ms} ms (T = $T ms)"
# Both first servers are held down now: straight to the second ones.
ask nobody@corp.example
assert_eq "$OUT" "$NOBODY" "next lookup: both second servers answer"
assert_match "$MS" '^[0-9]{1,3}$' "  at once (${MS} ms < 1000)"
ask dup@corp.example
assert_eq "$OUT" "$DUP" "precedence through the failover servers"
ask bob@corp.example
assert_eq "$OUT" "bob@corp.example route to=bob@legacy.corp.example directory=legacy" \
	"legacy's user through its failover server"
slapd_thaw hq
slapd_thaw legacy

# Nothing more at exit (a sanitizer build would print its reports here).
nsmilter_q_stop
assert_eq "$Q_REST" "" "nsmilter -q exits without printing anything else"
done_testing
