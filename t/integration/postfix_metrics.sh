#!/bin/bash
# postfix_metrics.sh - the /metrics endpoint of a real nsmilter behind a real
# Postfix, with both slapd directories:
# - after one message to an accepted, a routed, a conflicting and an unknown
#   recipient the counters show exactly those decisions and directory
#   queries, and the end-of-message log line carries Postfix's queue id with
#   the four recipients;
# - the harvest guard, SIGHUP (ok and failed) and the cache move their
#   counters, and a reload loses no count;
# - 200 concurrent scrapes during a milter load run change no RCPT reply;
# - a stopped directory moves the tempfail and directory error counters;
# - every exposition passes promtool check metrics; anything but
#   GET /metrics is 404.

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/sink.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
: "${BENCH_BIN:=$NSMILTER_BUILDDIR/bench}"
: "${SCRAPES:=200}"

setup_failed() { fail "setup: $*"; done_testing; }

scene_backends || setup_failed "slapd or smtp-sink"
MPORT=$(free_port)
URL=http://127.0.0.1:$MPORT/metrics

# write_ini [milter line...]
write_ini() {
	{
		nsmilter_milter_section mx "metrics = inet:$MPORT@127.0.0.1" "$@"
		scene_directories
		scene_domain
	} | nsmilter_write_ini mx
}
write_ini "max_unknown = 3"
nsmilter_start mx || setup_failed "nsmilter"
wait_port "$MPORT" || setup_failed "metrics port $MPORT not open"
SMTPD=$(free_port)
postfix_start mx "$SMTPD" "$(nsmilter_socket mx)" || setup_failed "postfix"
FROM=sender@example.net

# scrape: fetch into $SCRAPE, check it with promtool.
SCRAPE=
scrape() {
	local what=$1 lint
	SCRAPE=$(curl -sS --max-time 10 "$URL") || { fail "$what: scrape failed"; return 1; }
	if lint=$(printf '%s\n' "$SCRAPE" | promtool check metrics 2>&1); then
		pass "$what: promtool check metrics accepts the exposition"
	else
		fail "$what: promtool check metrics: $lint"
	fi
}
# m SERIES: the value of SERIES (name{labels} exactly) in $SCRAPE.
m() { printf '%s\n' "$SCRAPE" | awk -v k="$1" '$1 == k { print $2 }'; }
dec() { m "nsmilter_decisions_total{domain=\"corp.example\",action=\"$1\"}"; }
lookups() { m "nsmilter_directory_lookups_total{directory=\"$1\",result=\"$2\"}"; }

# --- the endpoint -------------------------------------------------------------
scrape "start"
assert_match "$SCRAPE" '^nsmilter_build_info\{version="[0-9.]+"\} 1$' "build_info with the version"
for a in accept route reject tempfail; do
	assert_eq "$(dec $a)" 0 "start: $a decisions at 0"
done
assert_eq "$(m 'nsmilter_reloads_total{result="ok"}')" 0 "start: no reload yet"
hdr=$(curl -sS -D - -o /dev/null "$URL")
assert_match "$hdr" '^Content-Type: text/plain; version=0\.0\.4' "text format 0.0.4"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")" 404 "GET / is 404"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -d x "$URL")" 404 "POST /metrics is 404"
if ss -ltn "sport = :$MPORT" | grep -q "127.0.0.1:$MPORT"; then
	pass "bound on 127.0.0.1 only, as metrics = says"
else
	fail "not bound where metrics = says: $(ss -ltn "sport = :$MPORT")"
fi

# --- four recipients, four decisions -------------------------------------------
out=$(smtp_send "$SMTPD" "$FROM" alice@corp.example bob@corp.example dup@corp.example nobody@corp.example)
postfix_flush mx || fail "queue not drained"
assert_match "$(smtp_reply_of "$out" alice@corp.example)" '^250 ' "alice accepted"
assert_match "$(smtp_reply_of "$out" bob@corp.example)" '^250 ' "bob accepted (routed)"
assert_match "$(smtp_reply_of "$out" dup@corp.example)" '^250 ' "dup accepted (in both directories)"
assert_match "$(smtp_reply_of "$out" nobody@corp.example)" '^550 5\.1\.1 ' "nobody rejected"
qid=$(smtp_queue_id "$out")
assert_match "$qid" '^[0-9A-Za-z]+$' "message queued"
scrape "four recipients"
assert_eq "$(dec accept)" 2 "accept: alice and dup"
assert_eq "$(dec route)" 1 "route: bob"
assert_eq "$(dec reject)" 1 "reject: nobody"
assert_eq "$(dec tempfail)" 0 "tempfail: none"
assert_eq "$(m 'nsmilter_conflicts_total{domain="corp.example"}')" 1 "conflicts: dup"
assert_eq "$(lookups hq found)/$(lookups hq notfound)/$(lookups hq error)" 2/2/0 \
	"hq queried for each: alice, dup found; bob, nobody not"
assert_eq "$(lookups legacy found)/$(lookups legacy notfound)/$(lookups legacy error)" 2/2/0 \
	"legacy queried for each: bob, dup found; alice, nobody not"
assert_eq "$(m 'nsmilter_directory_lookup_seconds_count{directory="hq"}')" 4 "hq lookup histogram: 4 observations"
assert_eq "$(m 'nsmilter_directory_lookup_seconds_bucket{directory="hq",le="+Inf"}')" 4 "hq +Inf bucket = count"
assert_eq "$(m 'nsmilter_guard_total{guard="harvest"}')" 0 "no guard yet"
# The queue id joins Postfix's log and nsmilter's.
assert_match "$(nsmilter_log mx)" "^nsmilter: $qid: message rcpts=4 accept=<alice@corp\\.example> route=<bob@corp\\.example> to=<bob@legacy\\.corp\\.example> accept=<dup@corp\\.example> reject=<nobody@corp\\.example> conn=[0-9]+$" \
	"end of message: queue id with the four decided recipients"
assert_match "$(postfix_log mx)" "$qid: to=<bob@legacy\\.corp\\.example>.*status=sent" "Postfix logs the same queue id"

# --- harvest guard -------------------------------------------------------------
out=$(smtp_send "$SMTPD" "$FROM" n1@corp.example n2@corp.example n3@corp.example n4@corp.example)
assert_match "$(smtp_reply_of "$out" n4@corp.example)" '^451 4\.7\.1 ' "harvest: 4th unknown gets 451 4.7.1"
scrape "harvest"
assert_eq "$(m 'nsmilter_guard_total{guard="harvest"}')" 1 "harvest guard counted once"
assert_eq "$(dec reject)" 4 "reject: nobody and n1-n3"

# --- SIGHUP ----------------------------------------------------------------------
write_ini "max_unknown = 0" "cache_ttl = 5m" "negative_cache_ttl = 5m"
nsmilter_reload mx
scrape "reload"
assert_eq "$(m 'nsmilter_reloads_total{result="ok"}')" 1 "reload ok counted"
assert_eq "$(m 'nsmilter_reloads_total{result="failed"}')" 0 "no failed reload"
assert_eq "$(dec accept)/$(dec route)/$(dec reject)" 2/1/4 "a reload loses no count"
cp "$(nsmilter_ini mx)" "$T_DIR/good.ini"
echo "bogus_key = 1" >>"$(nsmilter_ini mx)"
nsmilter_reload mx
scrape "failed reload"
assert_eq "$(m 'nsmilter_reloads_total{result="failed"}')" 1 "failed reload counted"
assert_eq "$(m 'nsmilter_reloads_total{result="ok"}')" 1 "... and not as ok"
cp "$T_DIR/good.ini" "$(nsmilter_ini mx)"
nsmilter_reload mx

# --- the cache ---------------------------------------------------------------------
smtp_send "$SMTPD" "$FROM" alice@corp.example >/dev/null
smtp_send "$SMTPD" "$FROM" alice@corp.example >/dev/null
postfix_flush mx || fail "queue not drained"
scrape "cache"
assert_eq "$(m nsmilter_cache_misses_total)" 2 "cache: first alice misses in both directories"
assert_eq "$(m nsmilter_cache_hits_total)" 2 "cache: second alice hits in both"
assert_eq "$(m nsmilter_cache_entries)" 2 "cache: 2 entries"
assert_eq "$(m 'nsmilter_reloads_total{result="ok"}')" 2 "second reload ok counted"

# --- 200 concurrent scrapes during a load run ---------------------------------------
printf '%s\n' alice@corp.example bob@corp.example nobody@corp.example \
	x@elsewhere.example >"$T_DIR/addrs.txt"
MSGS=200
load() {
	"$BENCH_BIN/miltergen" -s "$(nsmilter_socket mx)" -l "$T_DIR/addrs.txt" \
		-n "$MSGS" -c 4 -k 4 -m 10 -d 0 -T 30
}
res() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }
replies() { printf 'rcpts=%s continue=%s 5xx=%s 4xx=%s tempfail=%s errors=%s' \
	"$(res "$1" rcpts)" "$(res "$1" continue)" "$(res "$1" 5xx)" \
	"$(res "$1" 4xx)" "$(res "$1" tempfail)" "$(res "$1" errors)"; }
quiet=$(load)
want="rcpts=$((4 * MSGS)) continue=$((3 * MSGS)) 5xx=$MSGS 4xx=0 tempfail=0 errors=0"
assert_eq "$(replies "$quiet")" "$want" "load without scrapes: every RCPT answered as decided"
scrape "before the scraped load"
route0=$(dec route)
mkdir "$T_DIR/scrapes"
pids=()
for ((i = 0; i < SCRAPES; i++)); do
	curl -sS --max-time 30 -o "$T_DIR/scrapes/$i" -w '%{http_code}\n' "$URL" \
		>"$T_DIR/scrapes/$i.code" 2>&1 &
	pids+=($!)
done
busy=$(load)
wait "${pids[@]}"   # only the scrapes: slapd, sinks and nsmilter run on
assert_eq "$(replies "$busy")" "$want" "load with $SCRAPES concurrent scrapes: the same replies"
ok=$(cat "$T_DIR"/scrapes/*.code | grep -c '^200$')
assert_eq "$ok" "$SCRAPES" "all $SCRAPES scrapes answered 200"
complete=$(grep -l '^nsmilter_build_info{' "$T_DIR"/scrapes/[0-9]* | wc -l)
assert_eq "$complete" "$SCRAPES" "every scrape got the whole exposition"
scrape "after the scraped load"
assert_eq "$(dec route)" "$((route0 + MSGS))" "route counter moved by exactly the load's $MSGS routes"

# --- a directory down --------------------------------------------------------------
scrape "before the directory stops"
tf0=$(dec tempfail)
err0=$(lookups legacy error)
slapd_stop legacy
out=$(smtp_send "$SMTPD" "$FROM" henry@corp.example)
assert_match "$(smtp_reply_of "$out" henry@corp.example)" '^451 4\.4\.3 ' "legacy down: henry gets 451 4.4.3"
scrape "directory down"
assert_eq "$(dec tempfail)" "$((tf0 + 1))" "tempfail counter moved by one"
if [ "$(lookups legacy error)" -gt "$err0" ]; then
	pass "legacy error counter moved ($err0 -> $(lookups legacy error))"
else
	fail "legacy error counter: got $(lookups legacy error), want more than $err0"
fi
assert_eq "$(lookups hq error)" 0 "hq has no error"

done_testing
