#!/bin/bash
# ldap_holddown.sh - hold-down of failed LDAP servers (milter/directory/ldap/):
# a frozen server costs one timeout, then lookups skip it (tempfail at once
# with "all servers held down", or straight to the next URI), and the same
# nsmilter process uses it again within seconds of its recovery, found by
# the background probe.  Driven through "nsmilter -q -" on a pipe: one
# process, one pool, addresses one at a time.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_slapd || setup_failed "slapd (see above)"
HQ2_PORT=$(free_port)
slapd_start hq2 "$HQ2_PORT" ad.schema hq.ldif bindonly || setup_failed "slapd hq2"

TIMEOUT_MS=2000
# write_ini FILE HQ_URIS
write_ini() {
	{
		ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
		scene_directories --hq "uri = $2" --hq "pool_size = 2"
		scene_domain
	} >"$1"
}
write_ini "$T_DIR/one.ini" "ldap://127.0.0.1:$HQ_PORT"
write_ini "$T_DIR/two.ini" "ldap://127.0.0.1:$HQ_PORT ldap://127.0.0.1:$HQ2_PORT"

# ask ADDRESS: one line from "nsmilter -q -" into OUT, its time into MS.
ask() { nsmilter_q_ask "$1"; }
start_q() { nsmilter_q_start "$1"; }
# stop_q: what it prints at exit must be nothing (a sanitizer build would
# print its reports there).
stop_q() {
	nsmilter_q_stop
	assert_eq "$Q_REST" "" "nsmilter -q exits without printing anything else"
}

ALICE="alice@corp.example accept directory=hq"

# --- one server, frozen: one timeout, then "held down" at once ------------------
start_q "$T_DIR/one.ini"
ask alice@corp.example; out=$OUT
assert_eq "$out" "$ALICE" "hq answers before the freeze"
slapd_freeze hq
ask alice@corp.example; out=$OUT; first_ms=$MS
assert_match "$out" '^alice@corp.example tempfail code=451 dsn=4.4.3 error="hq: Timed out' \
	"frozen hq, first lookup: tempfail after the timeout"
assert_match "$first_ms" '^(1[5-9][0-9]{2}|[2-9][0-9]{3})$' \
	"the first lookup waited for the timeout (${first_ms} ms, timeout $TIMEOUT_MS ms)"
held_ok=0; held_slow=0; held_ms=
for i in 1 2 3 4 5; do
	ask alice@corp.example; out=$OUT
	held_ms+="$MS "
	case $out in
	*'tempfail code=451 dsn=4.4.3 error="hq: all servers held down: Timed out'*) held_ok=$((held_ok + 1)) ;;
	*) echo "# unexpected: $out" ;;
	esac
	[ "$MS" -lt $((TIMEOUT_MS / 2)) ] || held_slow=$((held_slow + 1))
done
assert_eq "$held_ok" 5 "following lookups: tempfail \"all servers held down: Timed out\""
assert_eq "$held_slow" 0 "following lookups skip the frozen server (< timeout/2 each: $held_ms ms)"
echo "# frozen server: first lookup ${first_ms} ms, the next ones: $held_ms ms"

# Recovery: the probe finds the thawed server; the same process answers.
slapd_thaw hq
t0=$(now_ms); out=
for ((i = 0; i < 50; i++)); do
	ask alice@corp.example; out=$OUT
	[ "$out" = "$ALICE" ] && break
	sleep 0.2
done
recovered_ms=$(( $(now_ms) - t0 ))
assert_eq "$out" "$ALICE" "thawed: the same process answers again (after ${recovered_ms} ms)"
echo "# recovery after thaw: ${recovered_ms} ms"
ask carol@corp.example; out=$OUT
assert_eq "$out" "carol@corp.example route to=carol@other.example directory=hq target=yes" \
	"and keeps answering"

# Stopped (not frozen): the hold ends once it is back, without a restart.
slapd_stop hq
ask alice@corp.example; out=$OUT
assert_match "$out" "tempfail code=451 dsn=4.4.3 error=\"hq: Can't contact LDAP server" \
	"hq stopped: tempfail"
ask alice@corp.example; out=$OUT
assert_match "$out" "error=\"hq: all servers held down: Can't contact LDAP server" \
	"hq stopped: then held down"
slapd_restart hq || fail "restart slapd hq"
for ((i = 0; i < 50; i++)); do
	ask alice@corp.example; out=$OUT
	[ "$out" = "$ALICE" ] && break
	sleep 0.2
done
assert_eq "$out" "$ALICE" "hq restarted: answered again by the same process"
stop_q

# --- two servers, the first frozen: failover once, then straight to the second
slapd_freeze hq
start_q "$T_DIR/two.ini"
ask alice@corp.example; out=$OUT; first_ms=$MS
assert_eq "$out" "$ALICE" "first URI frozen: the second answers"
assert_match "$first_ms" '^(1[5-9][0-9]{2}|[2-9][0-9]{3})$' \
	"first URI frozen: failover after about one timeout (${first_ms} ms)"
fast_ok=0; fast_ms=
for a in alice@corp.example carol@corp.example alias@corp.example nobody@corp.example; do
	ask "$a"; out=$OUT
	fast_ms+="$MS "
	case $out in *tempfail*|"no answer"*) echo "# unexpected: $out" ;; *) [ "$MS" -lt $((TIMEOUT_MS / 2)) ] && fast_ok=$((fast_ok + 1)) ;; esac
done
assert_eq "$fast_ok" 4 "next lookups go straight to the second server ($fast_ms ms)"
echo "# failover: first lookup ${first_ms} ms, the next ones: $fast_ms ms"
# One bind per connection (slapd_start's port check connects but never binds).
HQ2_BINDS=$(grep -c 'BIND dn=.* method=128' "$(slapd_log hq2)")
assert_eq "$HQ2_BINDS" 1 "the second server: one connection, reused by every lookup"
# The pooled connection to the second server goes stale (restart): the
# reconnect skips the held first server instead of waiting on it again.
slapd_restart hq2 || fail "restart slapd hq2"
ask alice@corp.example; out=$OUT
assert_eq "$out" "$ALICE" "second server restarted: answered again"
assert_match "$MS" '^[0-9]{1,3}$' "  without waiting on the held first server (${MS} ms < 1000)"
slapd_thaw hq
# hq is probed and used again: its log shows a bind from the probe.
mark=$(grep -c 'BIND dn=' "$(slapd_log hq)")
if WAIT_SECONDS=10 wait_for bash -c "[ \$(grep -c 'BIND dn=' '$(slapd_log hq)') -gt $mark ]"; then
	pass "thawed first server: probed again (a new bind in its log)"
else
	fail "thawed first server: no new bind in its log within 10 s"
fi
ask alice@corp.example; out=$OUT
assert_eq "$out" "$ALICE" "still answering after the first server came back"
stop_q

done_testing
