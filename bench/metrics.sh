#!/bin/bash
# bench/metrics.sh - what the Prometheus endpoint costs.
#
#   bench/metrics.sh [BUILD_DIR]      (as root, after building; default build/)
#
# Starts the test fixtures' two slapd (t/lib/slapd.sh) and nsmilter on
# loopback, in a private folder, and stops them at the end.  Measures:
#   1 formatting one exposition, and the counting of one uncached RCPT
#     on 1 and 2 threads at once (bench/metricsfmt, no HTTP);
#   2 one scrape over HTTP from a running nsmilter: BENCH_SCRAPES requests
#     on one keep-alive connection (curl), median and p99 of time_total;
#   3 cached RCPT replies/s (miltergen, hot set, as bench/run.sh step 1)
#     with metrics off and on, alternating BENCH_ROUNDS times (off first in
#     odd rounds, on first in even ones); in the "on" runs a scrape every
#     second, as a busy Prometheus would not even do.  The counters are
#     kept in both: "off" means no endpoint; their own cost is step 1.
# Prints one line per measure; nothing is asserted.
#
# Knobs: BENCH_SESSIONS (8), BENCH_RCPTS (4), BENCH_MSGS_PER_CONN (5),
# BENCH_SECONDS (10 per run), BENCH_ROUNDS (3), BENCH_SCRAPES (1000).

set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$SRC/build}
if [ ! -x "$BUILD/nsmilter" ] || [ ! -x "$BUILD/bench/miltergen" ]; then
	echo "usage: bench/metrics.sh [BUILD_DIR]  (build first)" >&2
	exit 64
fi
BUILD=$(cd "$BUILD" && pwd)
export NSMILTER_SRCDIR=$SRC NSMILTER_BUILDDIR=$BUILD NSMILTER=$BUILD/nsmilter
BIN=$BUILD/bench
: "${BENCH_SESSIONS:=8}"
: "${BENCH_RCPTS:=4}"
: "${BENCH_MSGS_PER_CONN:=5}"
: "${BENCH_SECONDS:=10}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_SCRAPES:=1000}"

. "$SRC/t/lib/common.sh"
. "$SRC/t/lib/slapd.sh"
. "$SRC/t/lib/postfix.sh"     # scene_directories, scene_domain
. "$SRC/t/lib/nsmilter.sh"
say() { printf '%s\n' "$*" >&2; }
kv() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1" | tail -1; }

HQ_PORT=$(free_port) && slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly || exit 1
LEGACY_PORT=$(free_port) && slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif || exit 1
printf '%s\n' alice@corp.example dave@corp.example frank@corp.example \
	bob@corp.example henry@corp.example nobody@corp.example >"$T_DIR/hot.txt"
MPORT=$(free_port)
URL=http://127.0.0.1:$MPORT/metrics

# nsm NAME [milter line...]: an instance with the cache on, logging warnings.
nsm() {
	local name=$1
	shift
	{
		nsmilter_milter_section "$name" "log_level = warning" "max_unknown = 0" \
			"cache_ttl = 5m" "negative_cache_ttl = 5m" "$@"
		scene_directories
		scene_domain
	} | nsmilter_write_ini "$name"
	nsmilter_start "$name" || exit 1
}
load() {
	"$BIN/miltergen" -s "$(nsmilter_socket "$1")" -l "$T_DIR/hot.txt" -r \
		-c "$BENCH_SESSIONS" -k "$BENCH_RCPTS" -m "$BENCH_MSGS_PER_CONN" \
		-d "$BENCH_SECONDS" -W 2 -T 30
}

# 1 formatting
fmt=$("$BIN/metricsfmt" -t 1)
echo "format (10 domains, 6 directories, $(kv "$fmt" lines) lines, $(kv "$fmt" bytes) bytes): $(kv "$fmt" us_per_scrape) us"
echo "counting one uncached RCPT (2 directories), 1 thread: $(kv "$fmt" ns_per_rcpt) ns"
fmt=$("$BIN/metricsfmt" -d 1 -r 2 -t 2)
echo "format (1 domain, 2 directories, $(kv "$fmt" lines) lines, $(kv "$fmt" bytes) bytes): $(kv "$fmt" us_per_scrape) us"
echo "counting one uncached RCPT (2 directories), 2 threads on the same counters: $(kv "$fmt" ns_per_rcpt) ns"

# 2 over HTTP, idle milter
nsm on "metrics = inet:$MPORT@127.0.0.1"
wait_port "$MPORT" || exit 1
load on >/dev/null    # numbers in every series
urls=()
for ((i = 0; i < BENCH_SCRAPES; i++)); do urls+=(-o /dev/null "$URL"); done
curl -s -w '%{time_total}\n' "${urls[@]}" | sort -n >"$T_DIR/scrape.times"
n=$(wc -l <"$T_DIR/scrape.times")
p50=$(sed -n "$(( (n + 1) / 2 ))p" "$T_DIR/scrape.times")
p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" "$T_DIR/scrape.times")
size=$(curl -s "$URL" | wc -c)
echo "scrape over HTTP (keep-alive, $n requests, $size bytes): p50 $(awk -v s="$p50" 'BEGIN { printf "%.0f", s * 1e6 }') us, p99 $(awk -v s="$p99" 'BEGIN { printf "%.0f", s * 1e6 }') us"
nsmilter_stop on

# 3 RCPT rate, metrics off / on, alternating
nsm off
nsm on "metrics = inet:$MPORT@127.0.0.1"
wait_port "$MPORT" || exit 1
run_on() {
	( while :; do curl -s -o /dev/null "$URL"; sleep 1; done ) &
	scraper=$!
	on=$(load on)
	kill "$scraper" 2>/dev/null
	wait "$scraper" 2>/dev/null
}
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	if ((r % 2)); then off=$(load off); run_on
	else run_on; off=$(load off); fi
	echo "round $r: RCPT/s metrics off $(kv "$off" rate) (p99 $(kv "$off" p99_ms) ms, errors $(kv "$off" errors)), on + 1 scrape/s $(kv "$on" rate) (p99 $(kv "$on" p99_ms) ms, errors $(kv "$on" errors))"
done
T_PASSES=1
done_testing >/dev/null
