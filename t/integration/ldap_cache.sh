#!/bin/bash
# ldap_cache.sh - the answer cache and the connection pool of the running
# daemon, seen through its socketmap (postmap -q, as Postfix asks it) and
# its log lines "socketmap: rcpt=<...> ... cache=hit|miss": positive and
# negative TTLs, errors never cached, SIGHUP flushes, and concurrent
# sessions sharing pool_size connections per directory.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

command -v postmap >/dev/null || { fail "postmap (package postfix) is needed"; done_testing; }

scene_slapd || setup_failed "slapd (see above)"

SM=$T_DIR/sm.sock
{
	nsmilter_milter_section cache "cache_ttl = 2s" "negative_cache_ttl = 4s" \
	    "socketmap = unix:$SM"
	scene_directories --all "pool_size = 2" --legacy "transport = smtp:[10.8.0.25]"
	scene_domain "rewrite = no"
} | nsmilter_write_ini cache
nsmilter_start cache || { fail "nsmilter did not start"; done_testing; }
WAIT_SECONDS=5 wait_for test -S "$SM" || fail "no socketmap socket $SM"

# postmap reads main.cf even for a socketmap table: give it an empty one.
mkdir -p "$T_DIR/pfconf" && : > "$T_DIR/pfconf/main.cf"
export MAIL_CONFIG=$T_DIR/pfconf

# smq KEY: ask the socketmap like Postfix; LINE is the daemon's log line for
# it (the first rcpt=<KEY> line written after the question).
smq() {
	local mark key=$1
	mark=$(nsmilter_log_mark cache)
	timeout 20 postmap -q "$key" "socketmap:unix:$SM:transport" >/dev/null 2>&1
	LINE=
	WAIT_SECONDS=5 wait_for bash -c "tail -n +$((mark + 1)) '$(nsmilter_dir cache)/log' | grep -Fq 'socketmap: rcpt=<$key>'"
	LINE=$(nsmilter_log_since cache "$mark" | grep -F "socketmap: rcpt=<$key>" | head -1)
}
cache_of() { printf '%s\n' "$LINE" | sed -n 's/.* cache=\([a-z]*\).*/\1/p'; }

# --- positive answers live cache_ttl (2 s) ----------------------------------
smq alice@corp.example
assert_match "$LINE" 'action=accept directory=hq .*cache=miss' "alice: first lookup asks the directories"
smq alice@corp.example
assert_eq "$(cache_of)" hit "alice: second lookup answered from the cache"
sleep 2.5
smq alice@corp.example
assert_eq "$(cache_of)" miss "alice: after cache_ttl (2 s) asked again"

# --- negative answers live negative_cache_ttl (4 s) -------------------------
smq nobody@corp.example
assert_match "$LINE" 'action=reject .*cache=miss' "nobody: first lookup asks the directories"
smq nobody@corp.example
assert_eq "$(cache_of)" hit "nobody: second lookup from the cache"
sleep 2.5
smq nobody@corp.example
assert_eq "$(cache_of)" hit "nobody: still cached after cache_ttl (negative_cache_ttl 4 s)"
sleep 2
smq nobody@corp.example
assert_eq "$(cache_of)" miss "nobody: asked again after negative_cache_ttl"

# --- errors are never cached ------------------------------------------------
slapd_stop legacy
smq robert@corp.example
assert_match "$LINE" 'reply="TEMP [^"]*legacy: .*cache=miss' "legacy down: TEMP"
smq robert@corp.example
assert_match "$LINE" 'reply="TEMP ' "legacy down, again: TEMP"
assert_eq "$(cache_of)" miss "legacy down, again: the error was not cached (legacy asked again)"
slapd_restart legacy || fail "restart slapd legacy"
# legacy is held down for up to ~1-2 s after it is back.
for ((i = 0; i < 50; i++)); do
	smq robert@corp.example
	case $LINE in *'reply="TEMP '*) sleep 0.2 ;; *) break ;; esac
done
assert_match "$LINE" 'action=route to=<robert@legacy.corp.example> directory=legacy reply="OK smtp:\[10.8.0.25\]"' \
	"legacy back: robert answered by the directory"
assert_eq "$(cache_of)" miss "legacy back: a directory answer, not a cached error"
smq robert@corp.example
assert_eq "$(cache_of)" hit "and that answer is cached"

# --- SIGHUP flushes the cache -----------------------------------------------
HQ_LOG=$(slapd_log hq); LEGACY_LOG=$(slapd_log legacy)
hq_binds0=$(grep -c 'BIND dn=.* method=128' "$HQ_LOG")
legacy_acc0=$(grep -c 'ACCEPT from IP=127.0.0.1' "$LEGACY_LOG")
smq carol@corp.example
smq carol@corp.example
assert_eq "$(cache_of)" hit "carol: cached before the reload"
mark=$(nsmilter_log_mark cache)
nsmilter_reload cache
assert_match "$(nsmilter_log_since cache "$mark")" 'configuration .* reloaded' "SIGHUP: configuration reloaded"
smq carol@corp.example
assert_match "$LINE" 'action=route to=<carol@other.example> directory=hq .*cache=miss' \
	"carol after the reload: the cache was flushed, asked again"

# --- concurrent sessions share pool_size (2) connections per directory -----
pids=()
for j in 1 2 3 4 5 6 7 8; do
	for k in $(seq 1 10); do echo "user${j}x${k}@corp.example"; done |
	    timeout 60 postmap -q - "socketmap:unix:$SM:transport" >/dev/null 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
WAIT_SECONDS=5 wait_for bash -c "[ \$(grep -c 'socketmap: rcpt=<user[0-9]x[0-9]*@corp.example> action=reject .*cache=miss' '$(nsmilter_dir cache)/log') -ge 80 ]"
n=$(grep -c 'socketmap: rcpt=<user[0-9]x[0-9]*@corp.example> action=reject .*cache=miss' "$(nsmilter_dir cache)/log")
assert_eq "$n" 80 "8 concurrent sessions x 10 unknown recipients: 80 lookups, all asked"
hq_new=$(( $(grep -c 'BIND dn=.* method=128' "$HQ_LOG") - hq_binds0 ))
legacy_new=$(( $(grep -c 'ACCEPT from IP=127.0.0.1' "$LEGACY_LOG") - legacy_acc0 ))
assert_match "$hq_new" '^[12]$' "hq: ${hq_new} connection(s) since the reload for 80+ lookups (pool_size 2)"
assert_match "$legacy_new" '^[12]$' "legacy: ${legacy_new} connection(s) since the reload (pool_size 2)"
echo "# 80 concurrent lookups after a reload: hq $hq_new, legacy $legacy_new new connections"

nsmilter_stop cache
assert_no_match "$(nsmilter_log cache)" 'Sanitizer|runtime error' \
	"no sanitizer report in the daemon's log"
done_testing
