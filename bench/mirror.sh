#!/bin/bash
# bench/mirror.sh - the directory mirror's benchmark (called by bench/run.sh,
# or on its own): one table.
#
#   bench/mirror.sh [BUILD_DIR]       (as root, after building; default build/)
#
# Starts on loopback only, in a private folder, and stops at the end: two
# slapd with the syncprov overlay and BENCH_USERS generated users (even n
# in "hq", odd n in "legacy", as bench/run.sh), nsmilter instances, the
# null milter.  Measures:
#   1 initial refresh: an empty mirror of both directories (BENCH_USERS
#     entries together) until -m says current, with syncrepl; and one poll
#     read of the same;
#   2 mirrored decisions/s (cache off, both directories mirrored) vs the
#     null milter and vs slapd's own search rate (bench/ldapload), same
#     addresses and concurrency; the same with local recipients only (no
#     recipient rewritten at EOM); and a live nsmilter with every answer in
#     its cache, for reference;
#   3 RSS of the daemon and disk size of the mirrors;
#   4 change-to-decision latency: BENCH_CHANGES changes (a new
#     mailLocalAddress each) in legacy, each timed from just before
#     ldapmodify until nsmilter -q (which reads the daemon's mirror) routes
#     the new address;
#   5 restart with the mirrors and both directories down: from starting
#     the daemon until its first milter answer;
#   6 live lookups (no mirror, cache off) with both slapd pinned to core 1
#     and nsmilter + the load generator to core 0 (taskset), vs ldapload
#     pinned to core 0 against the same slapd.
# Targets are reported, not asserted.  Knobs: BENCH_USERS (100000),
# BENCH_SESSIONS (8), BENCH_RCPTS (4), BENCH_MSGS_PER_CONN (5),
# BENCH_SECONDS (15), BENCH_POOL (4), BENCH_CHANGES (1000).

set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
if [ ! -x "$BUILD/nsmilter" ] || [ ! -x "$BUILD/bench/miltergen" ]; then
	echo "usage: bench/mirror.sh [BUILD_DIR]  (build first)" >&2
	exit 64
fi
BUILD=$(cd "$BUILD" && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/mirror.sh: run as root" >&2; exit 77; }
export NSMILTER_SRCDIR=$SRC NSMILTER_BUILDDIR=$BUILD NSMILTER=$BUILD/nsmilter
BIN=$BUILD/bench

: "${BENCH_USERS:=100000}"
: "${BENCH_SESSIONS:=8}"
: "${BENCH_RCPTS:=4}"
: "${BENCH_MSGS_PER_CONN:=5}"
: "${BENCH_SECONDS:=15}"
: "${BENCH_POOL:=4}"
: "${BENCH_CHANGES:=1000}"

. "$SRC/t/lib/common.sh"
. "$SRC/t/lib/slapd.sh"
. "$SRC/t/lib/nsmilter.sh"

RES=$T_DIR/results
DATA=$T_DIR/data
mkdir -p "$RES" "$DATA"
# shellcheck source=lib.sh
. "$SRC/bench/lib.sh"

# ---- data and slapd (as bench/run.sh, plus syncprov) ------------------------

bench_directories "$DATA" "$BENCH_USERS"
awk -v n="$BENCH_USERS" 'BEGIN { srand(6)
	for (i = 1; i <= 20000; i++)
		if (rand() < 0.1) printf "unknown%d@corp.example\n", i
		else printf "%du@corp.example\n", int(rand() * n) + 1
}' >"$DATA/mix.txt"
echo 2u@corp.example >"$DATA/one.txt"
# local: hq's users only (accepted unchanged: no recipient rewritten at EOM)
awk -v n="$BENCH_USERS" 'BEGIN { srand(7)
	for (i = 1; i <= 20000; i++) printf "%du@corp.example\n", 2 * (int(rand() * n / 2) + 1)
}' >"$DATA/local.txt"

# The benchmarks' slapd (t/lib/slapd.sh): indexes, no log; its ad.schema
# carries misc.schema too, so both instances load that one.
slapd_for_load "$DATA" || die "slapd set-up"
SCHEMAS=ad.schema
say "slapadd + start slapd hq and legacy (syncprov)"
HQ_PORT=$(free_port) && slapd_start hq "$HQ_PORT" "$SCHEMAS" "$DATA/hq.ldif" bindonly syncprov ||
    die "slapd hq"
LEGACY_PORT=$(free_port) && slapd_start legacy "$LEGACY_PORT" "$SCHEMAS" "$DATA/legacy.ldif" syncprov ||
    die "slapd legacy"
printf '%s\n' 'hq-Secret-42' >"$DATA/hq.secret"
chmod 600 "$DATA/hq.secret"

# nsm_ini NAME SYNC LOG_LEVEL [milter line...]: both directories, mirrored
# with SYNC (none: live), cache off, confirm_unknown off (every answer the
# mirror's).  Under load: log_level warning (no line per recipient).
nsm_ini() {
	local name=$1 sync=$2 level=$3 m=
	shift 3
	[ "$sync" != none ] && m="sync = $sync
sync_interval = 1s
max_staleness = 1h
confirm_unknown = no"
	{
		nsmilter_milter_section "$name" "log_level = $level" "max_unknown = 0" \
		    "cache_ttl = 0" "negative_cache_ttl = 0" "state_dir = $T_DIR/state-$name" "$@"
		cat <<EOF
[directory hq]
uri = ldap://127.0.0.1:$HQ_PORT
bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example
bind_password_file = $DATA/hq.secret
base = DC=corp,DC=example
filter = (|(mail=%s)(proxyAddresses=smtp:%s))
target_attribute = targetAddress
timeout = 5s
pool_size = $BENCH_POOL
address_attributes = mail, proxyAddresses
sync_filter = (objectClass=user)
$m

[directory legacy]
uri = ldap://127.0.0.1:$LEGACY_PORT
base = ou=people,dc=legacy,dc=example
filter = (|(mail=%s)(mailLocalAddress=%s))
target_attribute = mailRoutingAddress
route = legacy.corp.example
timeout = 5s
pool_size = $BENCH_POOL
address_attributes = mail, mailLocalAddress
sync_filter = (objectClass=inetOrgPerson)
$m

[domain corp.example]
type = internal-relay
directories = hq, legacy
EOF
	} | nsmilter_write_ini "$name"
}
mstat() { "$NSMILTER" -c "$(nsmilter_ini "$1")" -m 2>/dev/null; }
both_current() { [ "$(mstat "$1" | grep -c 'state=current')" = 2 ]; }

S=$BENCH_SESSIONS K=$BENCH_RCPTS M=$BENCH_MSGS_PER_CONN D=$BENCH_SECONDS
MG=("$BIN/miltergen" -c "$S" -k "$K" -m "$M" -T 30)

# ---- 1 initial refresh ------------------------------------------------------

say "1/6 initial refresh with syncrepl ($BENCH_USERS entries in 2 directories); load $(load)"
nsm_ini mx syncrepl info
t0=$(now_ms)
nsmilter_start mx || die "nsmilter mx"
WAIT_SECONDS=300 wait_for both_current mx || die "mirrors not current: $(mstat mx)"
REFRESH_MS=$(($(now_ms) - t0))
mstat mx >"$RES/refresh-m.txt"
nsmilter_grep mx 'mirror loaded' >"$RES/refresh-log.txt"
ENTRIES=$(awk '{ sub(/.*entries=/, ""); s += $1 } END { print s }' "$RES/refresh-m.txt")
MX_PID=$(nsmilter_pid mx)
RSS_REFRESH=$(rss_kb "$MX_PID")
q=$("$NSMILTER" -c "$(nsmilter_ini mx)" -q 2u@corp.example 1u@corp.example nobody@corp.example 2>&1)
printf '%s\n' "$q" >"$RES/sanity.txt"
printf '%s\n' "$q" | grep -q '^2u@corp.example accept directory=hq source=mirror' &&
    printf '%s\n' "$q" | grep -q '^1u@corp.example route to=1u@legacy.corp.example directory=legacy source=mirror' &&
    printf '%s\n' "$q" | grep -q '^nobody@corp.example reject' ||
    die "nsmilter -q on the mirrors: $q"

say "1/6 one poll read of the same; load $(load)"
nsm_ini poll poll info
nsmilter_start poll || die "nsmilter poll"
WAIT_SECONDS=300 wait_for both_current poll || die "poll mirrors not current: $(mstat poll)"
nsmilter_grep poll 'mirror loaded' >"$RES/poll-log.txt"
nsmilter_stop poll
POLL_MS=$(sed -n 's/.* in \([0-9]*\) ms.*/\1/p' "$RES/poll-log.txt" | sort -n | tail -1)

# ---- 2 mirrored decisions/s -----------------------------------------------

nsm_ini mx syncrepl warning
nsmilter_reload mx

say "2/6 null milter (mix, $S sessions, $K rcpt/msg, ${D}s); load $(load)"
"$BIN/nullmilter" "unix:$T_DIR/null.sock" >"$RES/nullmilter.log" 2>&1 &
NULL_PID=$!
at_exit "kill $NULL_PID; wait $NULL_PID"
wait_for test -S "$T_DIR/null.sock" || die "nullmilter"
"${MG[@]}" -L null -s "unix:$T_DIR/null.sock" -l "$DATA/mix.txt" -d "$D" -W 2 \
    >"$RES/null.txt" 2>&1
"${MG[@]}" -L null-local -s "unix:$T_DIR/null.sock" -l "$DATA/local.txt" -d "$D" -W 2 \
    >"$RES/null-local.txt" 2>&1
kill "$NULL_PID" 2>/dev/null

say "2/6 slapd's own rate (ldapload: 2 directories x $BENCH_POOL connections x 1 outstanding); load $(load)"
LL=("$BIN/ldapload" -l "$DATA/mix.txt" -d "$D" -W 1
    -H "ldap://127.0.0.1:$HQ_PORT" -b DC=corp,DC=example
    -f '(|(mail=%s)(proxyAddresses=smtp:%s))' -a targetAddress
    -D CN=nsmilter,OU=Service,DC=corp,DC=example -y "$DATA/hq.secret"
    -H "ldap://127.0.0.1:$LEGACY_PORT" -b ou=people,dc=legacy,dc=example
    -f '(|(mail=%s)(mailLocalAddress=%s))' -a mailRoutingAddress)
"${LL[@]}" -c "$BENCH_POOL" -o 1 >"$RES/ldapload.txt" 2>&1

say "2/6 nsmilter, mirrored, cache off; load $(load)"
"${MG[@]}" -L mirrored -s "$(nsmilter_socket mx)" -l "$DATA/mix.txt" -d "$D" -W 2 \
    >"$RES/mirrored.txt" 2>&1
"${MG[@]}" -L mirrored-local -s "$(nsmilter_socket mx)" -l "$DATA/local.txt" -d "$D" -W 2 \
    >"$RES/mirrored-local.txt" 2>&1
RSS_LOAD=$(rss_kb "$MX_PID")

say "2/6 nsmilter, live with the cache on (same addresses, for reference); load $(load)"
nsm_ini cached none warning "cache_ttl = 1h" "negative_cache_ttl = 1h"
nsmilter_start cached || die "nsmilter cached"
"${MG[@]}" -L fill -s "$(nsmilter_socket cached)" -l "$DATA/mix.txt" -1 -d 0 \
    >"$RES/cached-fill.txt" 2>&1
"${MG[@]}" -L cached -s "$(nsmilter_socket cached)" -l "$DATA/mix.txt" -d "$D" -W 2 \
    >"$RES/cached.txt" 2>&1
nsmilter_stop cached

# ---- 3 disk ----------------------------------------------------------------

DISK_KB=$(du -sk "$T_DIR/state-mx" | cut -f1)
APPARENT_KB=$(du -sk --apparent-size "$T_DIR/state-mx" | cut -f1)

# ---- 4 change-to-decision latency ---------------------------------------------

say "4/6 $BENCH_CHANGES changes in legacy, each until -q routes it; load $(load)"
QINI=$(nsmilter_ini mx)
: >"$RES/changes.txt"
for ((i = 1; i <= BENCH_CHANGES; i++)); do
	u=$((2 * i + 1))
	a="chg$i@corp.example"
	t0=$(date +%s%N)
	printf 'dn: uid=u%d,ou=people,dc=legacy,dc=example\nchangetype: modify\nadd: mailLocalAddress\nmailLocalAddress: %s\n' \
	    "$u" "$a" | slapd_modify legacy
	n=0
	until "$NSMILTER" -c "$QINI" -q "$a" 2>/dev/null | grep -q ' route '; do
		n=$((n + 1))
		[ "$n" -lt 5000 ] || break
	done
	echo "$((($(date +%s%N) - t0) / 1000)) $n" >>"$RES/changes.txt"
done
# one -q alone, for what a poll costs
t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8 9 10; do "$NSMILTER" -c "$QINI" -q 2u@corp.example >/dev/null 2>&1; done
Q_US=$((($(date +%s%N) - t0) / 10000))
pct() { sort -n "$RES/changes.txt" | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.0f", v[i] / 1000 }'; }
CH_P50=$(pct 50) CH_P99=$(pct 99) CH_MAX=$(pct 100)

# ---- 5 restart with the directories down ---------------------------------------

say "5/6 restart with $ENTRIES mirrored entries, both directories down; load $(load)"
nsmilter_stop mx
slapd_stop hq
slapd_stop legacy
t0=$(now_ms)
nsmilter_start mx || die "nsmilter restart"
"$BIN/miltergen" -L first -s "$(nsmilter_socket mx)" -l "$DATA/one.txt" -1 -c 1 -k 1 -m 1 -n 1 -T 10 -d 0 \
    >"$RES/restart.txt" 2>&1
RESTART_MS=$(($(now_ms) - t0))
grep -q 'continue=1' "$RES/restart.txt" || RESTART_MS="$RESTART_MS (answer: $(grep 'RCPT replies:' "$RES/restart.txt"))"
nsmilter_stop mx

# ---- 6 live lookups, slapd on its own core ----------------------------------------

say "6/6 live lookups, slapd pinned to core 1, nsmilter and load on core 0; load $(load)"
printf '#!/bin/sh\nexec taskset -c 1 /usr/sbin/slapd -f "$2" -h "$4" -d 0\n' >"$DATA/slapd-pinned"
chmod 755 "$DATA/slapd-pinned"
SLAPD_BIN=$DATA/slapd-pinned
_slapd_run hq || die "slapd hq pinned"
_slapd_run legacy || die "slapd legacy pinned"
taskset -c 0 "${LL[@]}" -c "$BENCH_POOL" -o 1 >"$RES/pinned-ldapload.txt" 2>&1
taskset -c 0 "${LL[@]}" -c "$BENCH_POOL" -o 8 >"$RES/pinned-ldapload-max.txt" 2>&1
nsm_ini live none warning
nsmilter_start live || die "nsmilter live"
taskset -a -p -c 0 "$(nsmilter_pid live)" >/dev/null
taskset -c 0 "${MG[@]}" -L pinned -s "$(nsmilter_socket live)" -l "$DATA/mix.txt" -d "$D" -W 2 \
    >"$RES/pinned.txt" 2>&1
nsmilter_stop live

# ---- the table ------------------------------------------------------------------

say "done; table:"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a + 0 >= b + 0) ? "yes" : "NO" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && a + 0 <= b + 0) ? "yes" : "NO" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5|$6"); }

v=$(kv "$RES/mirrored.txt" rate) r=$(kv "$RES/null.txt" rate) x=$(ratio "$v" "$r")
row "mirrored decisions/s (cache off, $S sessions x $K rcpt)" "$(fmt "$v")/s" "null milter $(fmt "$r")/s" "$x" ">= 0.90" "$(ge "$x" 0.9)"
row "  mirrored RCPT p50 / p99" "$(kv "$RES/mirrored.txt" p50_ms) / $(kv "$RES/mirrored.txt" p99_ms) ms" \
    "null $(kv "$RES/null.txt" p50_ms) / $(kv "$RES/null.txt" p99_ms) ms" "" "" ""
v2=$(kv "$RES/mirrored-local.txt" rate) r=$(kv "$RES/null-local.txt" rate) x=$(ratio "$v2" "$r")
row "  mirrored, local recipients only (none rewritten at EOM)" "$(fmt "$v2")/s" "null milter $(fmt "$r")/s" "$x" ">= 0.90" "$(ge "$x" 0.9)"
r=$(kv "$RES/cached.txt" rate)
row "  nsmilter with every answer cached, same addresses" "$(fmt "$r")/s" "null milter" "$(ratio "$r" "$(kv "$RES/null.txt" rate)")" "" ""
r=$(kv "$RES/ldapload.txt" per_dir) x=$(ratio "$v" "$r")
row "  mirrored vs slapd's own search rate" "$(fmt "$v")/s" "slapd $(fmt "$r")/s (searches/s / 2)" "$x" ">= 2.0" "$(ge "$x" 2)"
row "change-to-decision, syncrepl, p50 / p99 ($BENCH_CHANGES changes)" "$CH_P50 / $CH_P99 ms" "max $CH_MAX ms; one -q $((Q_US / 1000)) ms" "" "p99 <= 1000 ms" "$(le "$CH_P99" 1000)"
s=$(awk -v m="$REFRESH_MS" 'BEGIN { printf "%.1f", m / 1000 }')
row "initial refresh, syncrepl ($ENTRIES entries, 2 directories at once)" "$s s" "$(sed -n 's/.*directory \([a-z]*\): mirror loaded: .* in \([0-9]*\) ms/\1 \2 ms/p' "$RES/refresh-log.txt" | paste -sd, -)" "" "<= 10 s" "$(le "$s" 10)"
row "  one poll read of the same" "$(awk -v m="$POLL_MS" 'BEGIN { printf "%.1f", m / 1000 }') s" "slowest of the 2 directories" "" "" ""
row "restart until the first answer, directories down" "$RESTART_MS ms" "$ENTRIES entries mirrored" "" "<= 1000 ms" "$(le "${RESTART_MS%% *}" 1000)"
row "RSS with $ENTRIES mirrored entries" "$(mb "$RSS_REFRESH") MB after the refresh" "$(mb "$RSS_LOAD") MB after the load (LMDB pages mapped)" "" "" ""
row "disk, both mirrors" "$(mb "$DISK_KB") MB" "apparent $(mb "$APPARENT_KB") MB" "" "" ""
v=$(kv "$RES/pinned.txt" rate) r=$(kv "$RES/pinned-ldapload-max.txt" per_dir) x=$(ratio "$v" "$r")
row "live decisions/s, slapd on core 1, nsmilter+load on core 0" "$(fmt "$v")/s" "slapd $(fmt "$r")/s saturated (searches/s / 2)" "$x" ">= 0.80" "$(ge "$x" 0.8)"
r=$(kv "$RES/pinned-ldapload.txt" per_dir)
row "  same, vs ldapload with 1 outstanding per connection" "" "slapd $(fmt "$r")/s" "$(ratio "$v" "$r")" "" ""

TABLE=$RES/mirror-table.txt
{
	printf '| %s | %s | %s | %s | %s | %s |\n' measure value "ceiling / reference" ratio target "met?"
	printf '|---|---|---|---|---|---|\n'
	for r in "${ROWS[@]}"; do
		IFS='|' read -r a b c d e f <<<"$r"
		printf '| %s | %s | %s | %s | %s | %s |\n' "$a" "$b" "$c" "$d" "$e" "$f"
	done
} >"$TABLE"
cat "$TABLE"
echo
echo "details:"
for f in null null-local mirrored mirrored-local cached pinned; do
	grep -E 'RCPT replies|window|last error' "$RES/$f.txt" | sed 's/^/  /'
done
grep -h -E '^ldapload: ' "$RES/ldapload.txt" "$RES/pinned-ldapload.txt" \
    "$RES/pinned-ldapload-max.txt" | sed 's/^/  /'
sed 's/^/  -m: /' "$RES/refresh-m.txt"
sed 's/^/  /' "$RES/refresh-log.txt" "$RES/poll-log.txt"
echo "  changes: -q polls per change: $(awk '{ s += $2 } END { printf "%.1f", s / NR }' "$RES/changes.txt") on average"
echo "  load average at the end: $(load)"
echo "  elapsed: $(($(date +%s) - T0)) s"
exit 0
