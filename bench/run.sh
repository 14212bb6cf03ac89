#!/bin/bash
# bench/run.sh - nsmilter's benchmark: one command, one table.
#
#   bench/run.sh [BUILD_DIR]          (as root, after building; default build/)
#
# Starts on loopback only, in a private folder, and stops at the end:
#   - two slapd (t/lib/slapd.sh) with generated data: BENCH_USERS users
#     "<n>u@corp.example", even n in "hq" (AD-like, bind required), odd n in
#     "legacy" (inetLocalMailRecipient, route = legacy.corp.example); mail,
#     proxyAddresses and mailLocalAddress indexed, as any real directory is;
#   - nsmilter instances with generated ini files (t/lib/nsmilter.sh),
#     the null milter (bench/nullmilter), smtp-sinks (t/lib/sink.sh) and two
#     private Postfix instances (t/lib/postfix.sh);
# then measures, each for a bounded time:
#   1 cached decisions/s: miltergen, hot set, against nsmilter vs nullmilter
#   2 uncached decisions/s (cache off, both directories asked) vs slapd's own
#     search rate for the same filters and concurrency (bench/ldapload)
#   3 nsmilter RSS (VmRSS) with 100k and 200k cache entries
#   4 a frozen directory (SIGSTOP): how many RCPTs waited for the timeout
#   5 end to end: smtp-source through Postfix+nsmilter vs Postfix with
#     relay_recipient_maps/transport_maps over proxy:ldap: (what an operator
#     would otherwise use), messages/s until delivered to the sinks
# and prints the table (measure | value | reference | ratio | target | met?);
# then bench/mirror.sh (the directory mirror, its own table; BENCH_MIRROR=no
# skips it).
# Targets are reported, not asserted: the exit status is 0 unless the bench
# itself could not run.  Raw outputs are kept in $T_DIR/results when
# KEEP_TEST_DIR=1.
#
# Knobs (environment): BENCH_USERS (100000), BENCH_SESSIONS (8),
# BENCH_RCPTS (recipients per message, 4), BENCH_MSGS_PER_CONN (5),
# BENCH_SECONDS (15, per miltergen/ldapload run), BENCH_POOL (4, pool_size
# per directory), BENCH_E2E_MSGS (3000), BENCH_FROZEN_RCPTS (50),
# BENCH_FROZEN_TIMEOUT (1, seconds).

set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
if [ ! -x "$BUILD/nsmilter" ] || [ ! -x "$BUILD/bench/miltergen" ]; then
	echo "usage: bench/run.sh [BUILD_DIR]  (build first: cmake -S . -B build && cmake --build build)" >&2
	exit 64
fi
BUILD=$(cd "$BUILD" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: run as root (private slapd and Postfix)" >&2
	exit 77
fi
export NSMILTER_SRCDIR=$SRC NSMILTER_BUILDDIR=$BUILD NSMILTER=$BUILD/nsmilter
BIN=$BUILD/bench

: "${BENCH_USERS:=100000}"
: "${BENCH_SESSIONS:=8}"
: "${BENCH_RCPTS:=4}"
: "${BENCH_MSGS_PER_CONN:=5}"
: "${BENCH_SECONDS:=15}"
: "${BENCH_POOL:=4}"
: "${BENCH_E2E_MSGS:=3000}"
: "${BENCH_FROZEN_RCPTS:=50}"
: "${BENCH_FROZEN_TIMEOUT:=1}"

# shellcheck source=../t/lib/common.sh
. "$SRC/t/lib/common.sh"
# shellcheck source=../t/lib/postfix.sh
. "$SRC/t/lib/postfix.sh"   # with t/lib/scene.sh and t/lib/smtp.sh
# shellcheck source=../t/lib/nsmilter.sh
. "$SRC/t/lib/nsmilter.sh"

RES=$T_DIR/results
DATA=$T_DIR/data
mkdir -p "$RES" "$DATA"
# shellcheck source=lib.sh
. "$SRC/bench/lib.sh"

# ---- data ------------------------------------------------------------------

bench_directories "$DATA" "$BENCH_USERS"

# Address lists.  hot: a small set seen again and again (10 local, 6
# foreign, 4 unknown); mix: 20000 random users of both directories plus 10 %
# unknown; fill1/fill2: every user once (for the cache memory); frozen:
# never-seen unknown addresses (their answer needs every directory).
{
	for i in 2 4 6 8 10 12 14 16 18 20; do echo "${i}u@corp.example"; done
	for i in 1 3 5 7 9 11; do echo "${i}u@corp.example"; done
	for i in 1 2 3 4; do echo "nobody$i@corp.example"; done
} >"$DATA/hot.txt"
awk -v n="$BENCH_USERS" 'BEGIN { srand(6)
	for (i = 1; i <= 20000; i++)
		if (rand() < 0.1) printf "unknown%d@corp.example\n", i
		else printf "%du@corp.example\n", int(rand() * n) + 1
}' >"$DATA/mix.txt"
seq 1 $((BENCH_USERS / 2)) | sed 's/$/u@corp.example/' >"$DATA/fill1.txt"
seq $((BENCH_USERS / 2 + 1)) "$BENCH_USERS" | sed 's/$/u@corp.example/' >"$DATA/fill2.txt"
seq 1 "$BENCH_FROZEN_RCPTS" | sed 's/^/frozen-serial-/; s/$/@corp.example/' >"$DATA/frozen1.txt"
seq 1 "$BENCH_FROZEN_RCPTS" | sed 's/^/frozen-parallel-/; s/$/@corp.example/' >"$DATA/frozen2.txt"

# ---- slapd -----------------------------------------------------------------

# The fixtures' slapd.conf.in has no indexes and a 16 MB map: fine for nine
# users, not for 100k.  Same template plus indexes, a bigger map, no logging
# (t/lib/slapd.sh runs slapd with "-d stats"; logging every operation to a
# pipe would measure the log, so a wrapper turns it into "-d 0", which still
# keeps slapd in the foreground).
say "slapadd + start slapd hq and legacy"
slapd_for_load "$DATA"
scene_slapd || die "slapd hq or legacy"
printf '%s\n' 'hq-Secret-42' >"$DATA/hq.secret"
chmod 600 "$DATA/hq.secret"

# ---- nsmilter --------------------------------------------------------------

# nsm_start NAME TIMEOUT [milter line...]: an instance deciding corp.example
# with both directories (logging at warning: no line per recipient).
nsm_start() {
	local name=$1 timeout=$2
	shift 2
	{
		nsmilter_milter_section "$name" "log_level = warning" \
		    "max_unknown = 0" "$@"
		scene_directories --hq "bind_password_file = $DATA/hq.secret" \
		    --all "timeout = $timeout" --all "pool_size = $BENCH_POOL"
		scene_domain
	} | nsmilter_write_ini "$name"
	nsmilter_start "$name" || die "nsmilter $name"
}

S=$BENCH_SESSIONS K=$BENCH_RCPTS M=$BENCH_MSGS_PER_CONN D=$BENCH_SECONDS
MG=("$BIN/miltergen" -c "$S" -k "$K" -m "$M" -T 30)

# Sanity: the bench's own data gives the expected decisions.
nsm_start check 2s "cache_ttl = 0" "negative_cache_ttl = 0"
q=$("$NSMILTER" -c "$(nsmilter_ini check)" -q 2u@corp.example 1u@corp.example nobody@corp.example 2>&1)
printf '%s\n' "$q" >"$RES/sanity.txt"
printf '%s\n' "$q" | grep -q '^2u@corp.example accept directory=hq' &&
    printf '%s\n' "$q" | grep -q '^1u@corp.example route to=1u@legacy.corp.example' &&
    printf '%s\n' "$q" | grep -q '^nobody@corp.example reject' ||
    die "nsmilter -q on the bench data: $q"
nsmilter_stop check

# ---- 1 cached vs null milter -------------------------------------------------

say "1/5 null milter ($S sessions, $K rcpt/msg, ${D}s)"
"$BIN/nullmilter" "unix:$T_DIR/null.sock" >"$RES/nullmilter.log" 2>&1 &
NULL_PID=$!
at_exit "kill $NULL_PID; wait $NULL_PID"
wait_for test -S "$T_DIR/null.sock" || die "nullmilter"
"${MG[@]}" -L null -s "unix:$T_DIR/null.sock" -l "$DATA/hot.txt" -r \
    -d "$D" -W 2 >"$RES/null.txt" 2>&1
kill "$NULL_PID" 2>/dev/null

say "1/5 nsmilter, cached (hot set)"
nsm_start cached 2s "cache_ttl = 5m" "negative_cache_ttl = 5m"
"${MG[@]}" -L cached -s "$(nsmilter_socket cached)" -l "$DATA/hot.txt" -r \
    -d "$D" -W 2 >"$RES/cached.txt" 2>&1
nsmilter_stop cached

# ---- 2 uncached vs slapd ---------------------------------------------------

say "2/5 slapd's own rate (ldapload: 2 directories x $BENCH_POOL connections x 1 outstanding)"
LL=("$BIN/ldapload" -l "$DATA/mix.txt" -d "$D" -W 1
    -H "ldap://127.0.0.1:$HQ_PORT" -b DC=corp,DC=example
    -f '(|(mail=%s)(proxyAddresses=smtp:%s))' -a targetAddress
    -D CN=nsmilter,OU=Service,DC=corp,DC=example -y "$DATA/hq.secret"
    -H "ldap://127.0.0.1:$LEGACY_PORT" -b ou=people,dc=legacy,dc=example
    -f '(|(mail=%s)(mailLocalAddress=%s))' -a mailRoutingAddress)
"${LL[@]}" -c "$BENCH_POOL" -o 1 >"$RES/ldapload.txt" 2>&1
say "2/5 slapd's own rate, saturated (8 outstanding per connection)"
"${LL[@]}" -c "$BENCH_POOL" -o 8 >"$RES/ldapload-max.txt" 2>&1

say "2/5 nsmilter, uncached (cache_ttl = 0)"
nsm_start uncached 2s "cache_ttl = 0" "negative_cache_ttl = 0"
"${MG[@]}" -L uncached -s "$(nsmilter_socket uncached)" -l "$DATA/mix.txt" \
    -d "$D" -W 2 >"$RES/uncached.txt" 2>&1
nsmilter_stop uncached

# ---- 3 memory --------------------------------------------------------------

say "3/5 memory: $BENCH_USERS distinct addresses into a fresh nsmilter"
nsm_start mem 2s "cache_ttl = 1h" "negative_cache_ttl = 1h" \
    "cache_size = $((BENCH_USERS * 2))"
MEM_PID=$(nsmilter_pid mem)
RSS0=$(rss_kb "$MEM_PID")
"${MG[@]}" -L fill1 -s "$(nsmilter_socket mem)" -l "$DATA/fill1.txt" -1 \
    -d 0 >"$RES/fill1.txt" 2>&1
RSS1=$(rss_kb "$MEM_PID")
"${MG[@]}" -L fill2 -s "$(nsmilter_socket mem)" -l "$DATA/fill2.txt" -1 \
    -d 0 >"$RES/fill2.txt" 2>&1
RSS2=$(rss_kb "$MEM_PID")
# The same addresses again: answered from the cache if they all stayed.
"${MG[@]}" -L refill -s "$(nsmilter_socket mem)" -l "$DATA/fill1.txt" -1 \
    -d 0 >"$RES/refill.txt" 2>&1
RSS3=$(rss_kb "$MEM_PID")
printf 'VmRSS kB: start %s, after %s addresses %s, after %s %s, after re-asking the first half %s\n' \
    "$RSS0" "$((BENCH_USERS / 2))" "$RSS1" "$BENCH_USERS" "$RSS2" "$RSS3" >"$RES/memory.txt"
nsmilter_stop mem

# ---- 4 frozen directory ------------------------------------------------------

say "4/5 frozen legacy directory (timeout ${BENCH_FROZEN_TIMEOUT}s, cache off)"
# Two instances, so that the second measurement starts as fresh as the
# first (whatever the first one taught the daemon about the dead server).
for name in frozen1 frozen2; do
	nsm_start "$name" "${BENCH_FROZEN_TIMEOUT}s" "cache_ttl = 0" "negative_cache_ttl = 0"
	# connect the pools first, as a running daemon would have
	"${MG[@]}" -L warm -s "$(nsmilter_socket "$name")" -l "$DATA/hot.txt" -r \
	    -n 50 -d 0 >"$RES/$name-warm.txt" 2>&1
done
WAIT_MS=$((BENCH_FROZEN_TIMEOUT * 800))
slapd_freeze legacy
# R never-seen unknown recipients: each needs legacy's answer.  One
# session after the other (10 sessions of 1 message x 5 RCPT)...
"$BIN/miltergen" -L frozen-serial -s "$(nsmilter_socket frozen1)" \
    -l "$DATA/frozen1.txt" -1 -c 1 -k 5 -m 1 -w "$WAIT_MS" -T 120 -d 0 \
    >"$RES/frozen-serial.txt" 2>&1
# ... and 5 sessions at once (2 messages x 5 RCPT each).
"$BIN/miltergen" -L frozen-parallel -s "$(nsmilter_socket frozen2)" \
    -l "$DATA/frozen2.txt" -1 -c 5 -k 5 -m 2 -w "$WAIT_MS" -T 120 -d 0 \
    >"$RES/frozen-parallel.txt" 2>&1
slapd_thaw legacy
nsmilter_stop frozen1 & STOP1=$!
nsmilter_stop frozen2 & STOP2=$!
wait "$STOP1" "$STOP2"

# ---- 5 end to end through Postfix ------------------------------------------

say "5/5 end to end: Postfix+nsmilter vs Postfix with proxy:ldap: maps ($BENCH_E2E_MSGS messages x $K rcpts, $S sessions)"
PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || die "sink"
PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || die "sink"

MAPS=$DATA/maps
mkdir -p "$MAPS"
cat >"$MAPS/hq-rcpt.cf" <<EOF
server_host = ldap://127.0.0.1:$HQ_PORT
version = 3
bind = yes
bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example
bind_pw = hq-Secret-42
search_base = DC=corp,DC=example
query_filter = (|(mail=%s)(proxyAddresses=smtp:%s))
result_attribute = mail
domain = corp.example
EOF
cat >"$MAPS/legacy-rcpt.cf" <<EOF
server_host = ldap://127.0.0.1:$LEGACY_PORT
version = 3
bind = no
search_base = ou=people,dc=legacy,dc=example
query_filter = (|(mail=%s)(mailLocalAddress=%s))
result_attribute = mail
domain = corp.example
EOF
sed 's/^result_attribute.*/result_attribute = uid\nresult_format = smtp:[127.0.0.1]:'"$PF_FOREIGN_SINK_PORT"'/' \
    "$MAPS/legacy-rcpt.cf" >"$MAPS/legacy-transport.cf"
chmod 644 "$MAPS"/*.cf

nsm_start e2e 2s
PFM_PORT=$(free_port)
postfix_start pfm "$PFM_PORT" "$(nsmilter_socket e2e)" || die "postfix pfm"
PFN_PORT=$(free_port)
# (the extra lines override the contrib snippet's: Postfix warns about every
# duplicate key each time it reads main.cf; the warnings are filtered out)
quiet_pf() { "$@" 2> >(grep -v 'overriding earlier entry' >&2); }
quiet_pf postfix_start pfn "$PFN_PORT" "" \
    "relay_recipient_maps = proxy:ldap:$MAPS/hq-rcpt.cf, proxy:ldap:$MAPS/legacy-rcpt.cf" \
    "transport_maps = proxy:ldap:$MAPS/legacy-transport.cf, hash:$(postfix_dir pfn)/etc/transport" ||
    die "postfix pfn"

# Both give the same answers: local accepted, foreign accepted, unknown 550.
for pf in pfm pfn; do
	port=$(cat "$(postfix_dir $pf)/port")
	out=$(smtp_send "$port" sender@example.net 2u@corp.example 1u@corp.example nobody@corp.example)
	printf '%s\n' "$out" >"$RES/e2e-sanity-$pf.txt"
	[ "$(smtp_reply_of "$out" 2u@corp.example | cut -c1-3)" = 250 ] &&
	    [ "$(smtp_reply_of "$out" 1u@corp.example | cut -c1-3)" = 250 ] &&
	    [ "$(smtp_reply_of "$out" nobody@corp.example | cut -c1)" = 5 ] ||
	    die "$pf does not decide like nsmilter: $out"
done

# e2e_run NAME: warm up, then BENCH_E2E_MSGS messages with K distinct new
# recipients each (smtp-source -N numbers them 1u, 2u, ... across sessions:
# local and foreign ones mixed); time until qmgr has removed every message
# (delivered to the sinks: Postfix's maillog "removed" lines).
e2e_removed() { tail -n +"$2" "$(postfix_dir "$1")/maillog" | grep -c ': removed$'; }
e2e_run() {
	local pf=$1 port t0 t1 t2 want mark log
	port=$(cat "$(postfix_dir "$pf")/port")
	log=$(postfix_dir "$pf")/maillog
	# warm up (processes, LDAP connections): 1u..$((20 * K))u, so 1 % of
	# the measured recipients were seen before
	mark=$(($(wc -l <"$log") + 1))
	smtp-source -s "$S" -m 20 -r "$K" -N -f sender@example.net \
	    -t u@corp.example "127.0.0.1:$port" >"$RES/e2e-$pf-warm.txt" 2>&1
	t0=$(now_ms)
	while [ "$(e2e_removed "$pf" "$mark")" -lt 20 ] &&
	    [ $(($(now_ms) - t0)) -lt 60000 ]; do
		sleep 0.1
	done
	sleep 1
	want=$BENCH_E2E_MSGS
	mark=$(($(wc -l <"$log") + 1))
	t0=$(now_ms)
	smtp-source -s "$S" -m "$want" -r "$K" -N -f sender@example.net \
	    -t u@corp.example "127.0.0.1:$port" >"$RES/e2e-$pf.txt" 2>&1
	t1=$(now_ms)
	while [ "$(e2e_removed "$pf" "$mark")" -lt "$want" ] &&
	    [ $(($(now_ms) - t0)) -lt 300000 ]; do
		sleep 0.05
	done
	t2=$(now_ms)
	echo "$pf accepted_ms=$((t1 - t0)) delivered_ms=$((t2 - t0)) removed=$(e2e_removed "$pf" "$mark") sent=$(tail -n +"$mark" "$log" | grep -c 'status=sent') rejects=$(tail -n +"$mark" "$log" | grep -c 'NOQUEUE: reject') deferred=$(tail -n +"$mark" "$log" | grep -c 'status=deferred')" \
	    >>"$RES/e2e.txt"
}
: >"$RES/e2e.txt"
e2e_run pfm
quiet_pf e2e_run pfn
postfix_stop pfm
quiet_pf postfix_stop pfn

# ---- the table ---------------------------------------------------------------

say "done; table:"
e2e() { sed -n "s/^$1 .*\\b$2=\\([0-9]*\\).*/\\1/p" "$RES/e2e.txt"; }

ROWS=()
# row MEASURE VALUE REFERENCE RATIO TARGET MET
row() { ROWS+=("$1|$2|$3|$4|$5|$6"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && a + 0 >= b + 0) ? "yes" : "NO" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && a + 0 <= b + 0) ? "yes" : "NO" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

v=$(kv "$RES/cached.txt" rate) r=$(kv "$RES/null.txt" rate) x=$(ratio "$v" "$r")
row "cached decisions/s (hot set, $S sessions x $K rcpt)" "$(fmt "$v")/s" "null milter $(fmt "$r")/s" "$x" ">= 0.80" "$(ge "$x" 0.8)"
row "  cached RCPT p50 / p99" "$(kv "$RES/cached.txt" p50_ms) / $(kv "$RES/cached.txt" p99_ms) ms" \
    "null $(kv "$RES/null.txt" p50_ms) / $(kv "$RES/null.txt" p99_ms) ms" "" "" ""
v=$(kv "$RES/uncached.txt" rate) r=$(kv "$RES/ldapload.txt" per_dir) x=$(ratio "$v" "$r")
row "uncached decisions/s (2 directories)" "$(fmt "$v")/s" "slapd $(fmt "$r")/s (searches/s / 2)" "$x" ">= 0.80" "$(ge "$x" 0.8)"
p=$(kv "$RES/uncached.txt" p99_ms)
row "  uncached RCPT p99 (p50)" "$p ms ($(kv "$RES/uncached.txt" p50_ms))" \
    "slapd search $(kv "$RES/ldapload.txt" p99_ms) ms ($(kv "$RES/ldapload.txt" p50_ms))" "" "<= 2 ms" "$(le "$p" 2)"
row "  slapd saturated (8 outstanding/conn)" "" "$(fmt "$(kv "$RES/ldapload-max.txt" per_dir)")/s per directory" \
    "$(ratio "$(kv "$RES/uncached.txt" rate)" "$(kv "$RES/ldapload-max.txt" per_dir)")" "" ""
m=$BENCH_E2E_MSGS
dm=$(e2e pfm delivered_ms) dn=$(e2e pfn delivered_ms)
vm=$(awk -v n="$m" -v t="$dm" 'BEGIN { printf "%.0f", n * 1000 / t }')
vn=$(awk -v n="$m" -v t="$dn" 'BEGIN { printf "%.0f", n * 1000 / t }')
x=$(ratio "$vm" "$vn")
row "e2e msgs/s delivered ($m msgs x $K rcpt)" "$vm/s Postfix+nsmilter" "$vn/s Postfix proxy:ldap:" "$x" ">= 0.90" "$(ge "$x" 0.9)"
am=$(e2e pfm accepted_ms) an=$(e2e pfn accepted_ms)
row "  e2e msgs/s accepted (smtp-source)" \
    "$(awk -v n="$m" -v t="$am" 'BEGIN { printf "%.0f", n * 1000 / t }')/s" \
    "$(awk -v n="$m" -v t="$an" 'BEGIN { printf "%.0f", n * 1000 / t }')/s" \
    "$(ratio "$an" "$am")" "" ""
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row "RSS, 100k cache entries ($((BENCH_USERS / 2)) found addr x 2 dirs)" "$(mb "$RSS1") MB" "$(mb "$RSS0") MB at start" "" "<= 40 MB" "$(le "$(mb "$RSS1")" 40)"
row "  RSS, 200k cache entries ($BENCH_USERS addresses)" "$(mb "$RSS2") MB" "" "" "" ""
ws=$(kv "$RES/frozen-serial.txt" slow) wp=$(kv "$RES/frozen-parallel.txt" slow)
row "frozen directory: RCPTs that waited, serial" "$ws of $(kv "$RES/frozen-serial.txt" rcpts_all)" "1 session, timeout ${BENCH_FROZEN_TIMEOUT}s" "" "1" "$(le "$ws" 1)"
row "  same, 5 sessions at once" "$wp of $(kv "$RES/frozen-parallel.txt" rcpts_all)" "5 in flight" "" "" ""

TABLE=$RES/table.txt
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
for f in null cached uncached fill1 fill2 refill; do
	grep -E 'RCPT replies|EOM|window|last error' "$RES/$f.txt" | sed 's/^/  /'
done
sed 's/^/  /' "$RES/memory.txt"
grep -h -E '^ldapload: ' "$RES/ldapload.txt" "$RES/ldapload-max.txt" | sed 's/^/  /'
for f in frozen-serial frozen-parallel; do
	grep -E 'RCPT replies|latency|window' "$RES/$f.txt" | sed 's/^/  /'
done
sed 's/^/  e2e: /' "$RES/e2e.txt"
echo "  machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), Debian $(cat /etc/debian_version)"
echo "  elapsed: $(($(date +%s) - T0)) s"

# ---- the directory mirror (its own slapd with syncprov, its own table) ------
if [ "${BENCH_MIRROR:-yes}" = yes ]; then
	echo
	echo "directory mirror (bench/mirror.sh):"
	for name in $(cd "$T_DIR" && ls -d slapd-* 2>/dev/null); do
		slapd_stop "${name#slapd-}"
	done
	"$SRC/bench/mirror.sh" "$BUILD"
fi
exit 0
