#!/bin/bash
# fault_load.sh - a directory fails under load, the other stays healthy.
#
# Two slapd: hq (first in precedence, bind) and legacy (anonymous).  The
# project's load generator (bench/miltergen) drives nsmilter with three
# classes of recipients at once, each its own miltergen process:
#   hq       users found in hq (first in precedence)
#   legacy   users found in legacy only
#   unknown  addresses in neither
# Phases:
#   up        both directories up: every answer right
#   outage    load running; legacy frozen (SIGSTOP) after FAULT_FREEZE_AT s,
#             killed (SIGKILL) after FAULT_KILL_AT s, load until
#             FAULT_OUTAGE_SECONDS: no 5xx for existing addresses, no
#             tempfail for hq's users
#   recovery  legacy restarted: a legacy user answered right within 2 s
#   after     both up again: every answer right
# The figures (RCPTs by class, replies, max latency) are printed as
# "# fault:" lines for the notes and BENCHMARKS.md; none is a pass/fail
# threshold except the 2 s of recovery.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
: "${BENCH_BIN:=$NSMILTER_BUILDDIR/bench}"
: "${FAULT_UP_SECONDS:=3}"
: "${FAULT_OUTAGE_SECONDS:=9}"
: "${FAULT_FREEZE_AT:=1}"
: "${FAULT_KILL_AT:=5}"
: "${FAULT_AFTER_SECONDS:=3}"
: "${FAULT_RECOVERY_MS:=2000}"

res() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

scene_slapd || exit 1
{
	nsmilter_milter_section fault
	scene_directories --all "timeout = 1s"
	scene_domain
} | nsmilter_write_ini fault
nsmilter_start fault || exit 1

printf '%s\n' alice@corp.example carol@corp.example dave@corp.example \
    frank@corp.example alias@corp.example a.smith@corp.example >"$T_DIR/hq.txt"
printf '%s\n' bob@corp.example robert@corp.example henry@corp.example >"$T_DIR/legacy.txt"
printf '%s\n' nobody@corp.example nosuch@corp.example x.y@corp.example >"$T_DIR/unknown.txt"
CLASSES="hq legacy unknown"
declare -A SESSIONS=([hq]=4 [legacy]=2 [unknown]=2)

# load PHASE SECONDS: the three classes at once, in the background; their
# outputs in $T_DIR/PHASE-CLASS.out.  load_wait: wait for them.
LOAD_PIDS=()
load() {
	local c
	for c in $CLASSES; do
		"$BENCH_BIN/miltergen" -s "$(nsmilter_socket fault)" -l "$T_DIR/$c.txt" \
		    -r -c "${SESSIONS[$c]}" -k 1 -m 20 -T 30 -d "$2" -L "$1-$c" \
		    >"$T_DIR/$1-$c.out" 2>&1 &
		LOAD_PIDS+=($!)
	done
}
load_wait() { wait "${LOAD_PIDS[@]}"; LOAD_PIDS=(); }
# r PHASE CLASS KEY: a figure of that run.
r() { res "$(cat "$T_DIR/$1-$2.out")" "$3"; }
tf() { echo $(( $(r "$1" "$2" tempfail) + $(r "$1" "$2" 4xx) )); }
fx() { echo $(( $(r "$1" "$2" 5xx) + $(r "$1" "$2" reject) )); }

# check_all_right PHASE: every answer right with both directories up.
check_all_right() {
	local p=$1 c
	for c in $CLASSES; do
		assert_match "$(r "$p" "$c" rcpts)" '^[1-9][0-9]*$' "$p: $c class ran"
		assert_eq "$(r "$p" "$c" errors)" 0 "$p: $c class, no protocol errors"
		assert_eq "$(tf "$p" "$c")" 0 "$p: $c class, no tempfail"
	done
	assert_eq "$(fx "$p" hq)" 0 "$p: hq users, no 5xx"
	assert_eq "$(fx "$p" legacy)" 0 "$p: legacy users, no 5xx"
	assert_eq "$(fx "$p" unknown)" "$(r "$p" unknown rcpts)" "$p: unknown addresses, all 5xx"
}

# --- up ----------------------------------------------------------------
load up "$FAULT_UP_SECONDS"; load_wait
check_all_right up

# --- outage: frozen, then killed, under load ----------------------------
mark=$(nsmilter_log_mark fault)
load outage "$FAULT_OUTAGE_SECONDS"
sleep "$FAULT_FREEZE_AT"
slapd_freeze legacy
sleep $((FAULT_KILL_AT - FAULT_FREEZE_AT))
kill -KILL "$(cat "$T_DIR/slapd-legacy/pid")"
wait_port_closed "$LEGACY_PORT"
load_wait
for c in $CLASSES; do
	assert_eq "$(r outage "$c" errors)" 0 "outage: $c class, no protocol errors"
done
assert_match "$(r outage hq rcpts)" '^[1-9][0-9]*$' "outage: hq class ran"
assert_eq "$(tf outage hq)" 0 "outage: no tempfail for hq's users (first in precedence, healthy)"
assert_eq "$(fx outage hq)" 0 "outage: no 5xx for hq's users"
assert_eq "$(fx outage legacy)" 0 "outage: no 5xx for legacy's users"
assert_match "$(tf outage legacy)" '^[1-9][0-9]*$' "outage: legacy's users tempfailed (the fault was seen)"
log=$(nsmilter_log_since fault "$mark")
assert_no_match "$log" "server ldap://127.0.0.1:$HQ_PORT held down" "outage: hq never held down"

# --- recovery ------------------------------------------------------------
slapd_restart legacy || fail "restart slapd legacy"
t0=$(now_ms); rec_ms=; out=
printf '%s\n' bob@corp.example >"$T_DIR/bob.txt"
while [ $(( $(now_ms) - t0 )) -lt 10000 ]; do
	out=$("$BENCH_BIN/miltergen" -s "$(nsmilter_socket fault)" -l "$T_DIR/bob.txt" \
	    -c 1 -k 1 -n 1 -T 30 -L recovery)
	if [ "$(res "$out" continue)" = 1 ]; then rec_ms=$(( $(now_ms) - t0 )); break; fi
	sleep 0.05
done
assert_match "$rec_ms" '^[0-9]+$' "recovery: a legacy user answered right again (after ${rec_ms:-never} ms)"
if [ -n "$rec_ms" ] && [ "$rec_ms" -le "$FAULT_RECOVERY_MS" ]; then
	pass "recovery: within $FAULT_RECOVERY_MS ms of the restart ($rec_ms ms)"
else
	fail "recovery: not within $FAULT_RECOVERY_MS ms of the restart (${rec_ms:-never})"
fi

# --- after -----------------------------------------------------------------
load after "$FAULT_AFTER_SECONDS"; load_wait
check_all_right after

nsmilter_stop fault
assert_no_match "$(nsmilter_log fault)" 'Sanitizer|runtime error' \
	"no sanitizer report in the daemon's log"

# --- figures -------------------------------------------------------------
echo "# fault: legacy frozen at ${FAULT_FREEZE_AT} s, killed at ${FAULT_KILL_AT} s of a ${FAULT_OUTAGE_SECONDS} s outage phase; timeout 1 s"
printf '# fault: %-8s %-8s %7s %9s %6s %6s %9s %9s\n' phase class rcpts continue 4xx 5xx p99_ms max_ms
for p in up outage after; do
	for c in $CLASSES; do
		printf '# fault: %-8s %-8s %7s %9s %6s %6s %9s %9s\n' "$p" "$c" \
		    "$(r "$p" "$c" rcpts)" "$(r "$p" "$c" continue)" "$(tf "$p" "$c")" \
		    "$(fx "$p" "$c")" "$(r "$p" "$c" p99_ms)" "$(r "$p" "$c" max_ms)"
	done
done
echo "# fault: recovery: legacy user answered right ${rec_ms:-never} ms after the restart"
done_testing
