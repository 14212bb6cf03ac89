#!/bin/bash
# bench/soak.sh - a long soak: mixed load with reloads and directory
# restarts, and whether nsmilter's memory and descriptors stay flat.
#
#   bench/soak.sh [BUILD_DIR]          (as root, after building; default build/)
#
# Not part of CI.  Starts on loopback only, in a private folder, and stops
# at the end: two slapd (t/lib/slapd.sh) with SOAK_USERS generated users
# ("<n>u@corp.example", even n in hq, odd n in legacy, as bench/run.sh),
# one nsmilter with its cache on, and bench/miltergen sending a mix of both
# directories' users, 10 % unknown addresses and 10 % of a domain that is
# not shared, for SOAK_SECONDS.  Meanwhile:
#   - SIGHUP (reload) every SOAK_HUP_EVERY seconds,
#   - a directory restarted every SOAK_RESTART_EVERY seconds (hq and legacy
#     in turn: slapd stopped, started again on the same database),
#   - nsmilter's VmRSS and open descriptors sampled every
#     SOAK_SAMPLE_EVERY seconds ($T_DIR/results/samples.txt).
# Prints RSS and fd count at start (after the warm-up) and end, their
# range over the run, the RCPT replies by kind and the latency.  Reports,
# does not judge: the exit status is 0 unless the soak could not run or
# nsmilter died.  KEEP_TEST_DIR=1 keeps the folder.
#
# Knobs: SOAK_SECONDS (1800), SOAK_USERS (20000), SOAK_SESSIONS (8),
# SOAK_RCPTS (4 per message), SOAK_HUP_EVERY (5), SOAK_RESTART_EVERY (60),
# SOAK_SAMPLE_EVERY (30), SOAK_WARMUP (10 s before the start figures).

set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
if [ ! -x "$BUILD/nsmilter" ] || [ ! -x "$BUILD/bench/miltergen" ]; then
	echo "usage: bench/soak.sh [BUILD_DIR]  (build first)" >&2
	exit 64
fi
BUILD=$(cd "$BUILD" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "bench/soak.sh: run as root (private slapd)" >&2
	exit 77
fi
export NSMILTER_SRCDIR=$SRC NSMILTER_BUILDDIR=$BUILD NSMILTER=$BUILD/nsmilter

: "${SOAK_SECONDS:=1800}"
: "${SOAK_USERS:=20000}"
: "${SOAK_SESSIONS:=8}"
: "${SOAK_RCPTS:=4}"
: "${SOAK_HUP_EVERY:=5}"
: "${SOAK_RESTART_EVERY:=60}"
: "${SOAK_SAMPLE_EVERY:=30}"
: "${SOAK_WARMUP:=10}"

# shellcheck source=../t/lib/common.sh
. "$SRC/t/lib/common.sh"
# shellcheck source=../t/lib/scene.sh
. "$SRC/t/lib/scene.sh"
# shellcheck source=../t/lib/nsmilter.sh
. "$SRC/t/lib/nsmilter.sh"

RES=$T_DIR/results
DATA=$T_DIR/data
mkdir -p "$RES" "$DATA"
# shellcheck source=lib.sh
. "$SRC/bench/lib.sh"
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }

# ---- data (the users of bench/run.sh) ------------------------------------

bench_directories "$DATA" "$SOAK_USERS"
awk -v n="$SOAK_USERS" 'BEGIN { srand(7)
	for (i = 1; i <= 50000; i++) {
		r = rand()
		if (r < 0.1) printf "unknown%d@corp.example\n", i
		else if (r < 0.2) printf "user%d@elsewhere.example\n", i
		else printf "%du@corp.example\n", int(rand() * n) + 1
	}
}' >"$DATA/mix.txt"

# slapd as bench/run.sh runs it: indexes, a bigger map, no per-operation log.
say "slapadd + start slapd hq and legacy"
slapd_for_load "$DATA"
scene_slapd || die "slapd hq or legacy"
printf '%s\n' 'hq-Secret-42' >"$DATA/hq.secret"
chmod 600 "$DATA/hq.secret"

# ---- nsmilter --------------------------------------------------------------

{
	nsmilter_milter_section soak "log_level = warning" "max_unknown = 0" \
	    "cache_ttl = 30s" "negative_cache_ttl = 10s" "cache_size = 20000"
	scene_directories --hq "bind_password_file = $DATA/hq.secret" \
	    --all "timeout = 1s"
	scene_domain
} | nsmilter_write_ini soak
nsmilter_start soak || die "nsmilter"
PID=$(nsmilter_pid soak)
RSS_BOOT=$(rss_kb "$PID") FDS_BOOT=$(fds "$PID")

# ---- the soak ----------------------------------------------------------------

say "soak: ${SOAK_SECONDS}s, $SOAK_SESSIONS sessions x $SOAK_RCPTS rcpt, SIGHUP every ${SOAK_HUP_EVERY}s, a directory restart every ${SOAK_RESTART_EVERY}s"
"$BUILD/bench/miltergen" -L soak -s "$(nsmilter_socket soak)" -l "$DATA/mix.txt" \
    -r -c "$SOAK_SESSIONS" -k "$SOAK_RCPTS" -m 10 -T 30 -w 1000 \
    -d "$SOAK_SECONDS" >"$RES/miltergen.txt" 2>&1 &
GEN=$!
at_exit "kill $GEN"

START=$(date +%s)
END=$((START + SOAK_SECONDS))
next_hup=$((START + SOAK_HUP_EVERY))
next_restart=$((START + SOAK_RESTART_EVERY))
next_sample=$((START + SOAK_WARMUP))
hups=0 restarts=0 which=legacy RSS0= FDS0=
printf '%s\n' "# seconds rss_kb fds threads" >"$RES/samples.txt"
while kill -0 "$GEN" 2>/dev/null; do
	now=$(date +%s)
	[ "$now" -ge "$END" ] && break
	nsmilter_running soak || die "nsmilter died after $((now - START)) s"
	if [ "$now" -ge "$next_sample" ]; then
		rss=$(rss_kb "$PID") fd=$(fds "$PID")
		echo "$((now - START)) $rss $fd $(threads "$PID")" >>"$RES/samples.txt"
		[ -z "$RSS0" ] && { RSS0=$rss FDS0=$fd; say "start (after ${SOAK_WARMUP}s): RSS $rss kB, $fd fds"; }
		next_sample=$((now + SOAK_SAMPLE_EVERY))
	fi
	if [ "$now" -ge "$next_hup" ]; then
		kill -HUP "$PID" && hups=$((hups + 1))
		next_hup=$((now + SOAK_HUP_EVERY))
	fi
	if [ "$now" -ge "$next_restart" ]; then
		slapd_restart "$which" || die "restart slapd $which"
		restarts=$((restarts + 1))
		if [ "$which" = legacy ]; then which=hq; else which=legacy; fi
		next_restart=$((now + SOAK_RESTART_EVERY))
	fi
	sleep 0.5
done
wait "$GEN"
nsmilter_running soak || die "nsmilter died"
sleep 2   # the last reload and probes settle
RSS1=$(rss_kb "$PID") FDS1=$(fds "$PID")
echo "$(( $(date +%s) - START )) $RSS1 $FDS1 $(threads "$PID") end" >>"$RES/samples.txt"

# Still right at the end: one known user of each directory, one unknown.
printf '%s\n' 2u@corp.example 1u@corp.example nobody@corp.example >"$DATA/check.txt"
"$BUILD/bench/miltergen" -L check -s "$(nsmilter_socket soak)" -l "$DATA/check.txt" \
    -1 -c 1 -k 3 -d 0 -T 30 >"$RES/check.txt" 2>&1
[ "$(kv "$RES/check.txt" continue)" = 2 ] && [ "$(kv "$RES/check.txt" 5xx)" = 1 ] ||
    die "wrong answers after the soak: $(cat "$RES/check.txt")"
# log_level = warning: a reload that works is silent, one that fails is not.
reload_failed=$(grep -c 'reload of .* failed' "$(nsmilter_dir soak)/log")

# ---- report ------------------------------------------------------------------

M=$RES/miltergen.txt
range() { awk -v c="$1" '!/^#/ { if (min == "" || $c < min) min = $c; if ($c > max) max = $c } END { print min "-" max }' "$RES/samples.txt"; }
cat <<EOF

soak: ${SOAK_SECONDS} s, $SOAK_SESSIONS sessions x $SOAK_RCPTS rcpt/msg, $SOAK_USERS users, cache on
  SIGHUP reloads: $hups ($reload_failed failed); directory restarts: $restarts
  nsmilter VmRSS kB: boot $RSS_BOOT, start $RSS0 (after ${SOAK_WARMUP} s of load), end $RSS1; range $(range 2)
  nsmilter open fds: boot $FDS_BOOT, start $FDS0, end $FDS1; range $(range 3)
  RCPTs: $(kv "$M" rcpts) at $(kv "$M" rate)/s: continue $(kv "$M" continue), 5xx $(kv "$M" 5xx), tempfail/4xx $(( $(kv "$M" tempfail) + $(kv "$M" 4xx) )), protocol errors $(kv "$M" errors)
  RCPT latency ms: p50 $(kv "$M" p50_ms), p99 $(kv "$M" p99_ms), p99.9 $(kv "$M" p999_ms), max $(kv "$M" max_ms); >= 1 s: $(kv "$M" slow)
  after the soak: answers right (known users of both directories continue, unknown 550)
EOF
grep -E '^soak: (window|RCPT replies)' "$M" | sed 's/^/  /'
echo "  samples (s, RSS kB, fds, threads): $RES/samples.txt"
T_PASSES=1
done_testing >/dev/null
