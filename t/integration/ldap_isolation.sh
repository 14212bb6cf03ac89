#!/bin/bash
# ldap_isolation.sh - one hung directory never fails another
# (milter/directory/resolver.c, milter/directory/ldap/ldap_lookup.c).
#
# hq (first in precedence) is healthy, legacy is frozen (SIGSTOP) while
# milter sessions keep asking for hq's users, more at once than legacy has
# connections.  Every legacy connection then hangs on a frozen search; the
# lookups that find none free must wait for one without delaying hq's
# answer, hq's answers (an entry, then the final result) must be read to
# their end, and only legacy may be held down.  So: no tempfail and no 5xx
# for hq's users, and no hold-down of hq in the log.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
: "${BENCH_BIN:=$NSMILTER_BUILDDIR/bench}"
: "${ISOLATION_SECONDS:=5}"   # load with legacy frozen

res() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

scene_slapd || exit 1
{
	nsmilter_milter_section iso
	scene_directories --all "timeout = 1s" --hq "pool_size = 4" \
	    --legacy "pool_size = 2"
	scene_domain
} | nsmilter_write_ini iso
nsmilter_start iso || exit 1

# hq's users, each found with an entry (the answer is two messages).
printf '%s\n' alice@corp.example carol@corp.example dave@corp.example \
    frank@corp.example alias@corp.example >"$T_DIR/hq-users.txt"
gen() {
	"$BENCH_BIN/miltergen" -s "$(nsmilter_socket iso)" -l "$T_DIR/hq-users.txt" \
	    -r -c 8 -k 1 -m 20 -T 30 "$@"
}

out=$(gen -n 40)
assert_eq "$(res "$out" continue)" 40 "both directories up: hq's users accepted"

slapd_freeze legacy
mark=$(nsmilter_log_mark iso)
out=$(gen -d "$ISOLATION_SECONDS")
echo "$out" | sed 's/^/# /'
log=$(nsmilter_log_since iso "$mark")
rcpts=$(res "$out" rcpts)
tempfail=$(( $(res "$out" tempfail) + $(res "$out" 4xx) ))
assert_match "$rcpts" '^[1-9][0-9]*$' "legacy frozen: load ran ($rcpts RCPTs for hq's users)"
assert_eq "$tempfail" 0 "legacy frozen: no tempfail for hq's users"
assert_eq "$(( $(res "$out" 5xx) + $(res "$out" reject) ))" 0 "legacy frozen: no 5xx for hq's users"
assert_eq "$(res "$out" errors)" 0 "no protocol errors"
assert_no_match "$log" "server ldap://127.0.0.1:$HQ_PORT held down" "hq is never held down"
assert_no_match "$log" 'error="[^"]*hq:' "no lookup error from hq"
assert_match "$log" "directory legacy: server ldap://127.0.0.1:$LEGACY_PORT held down" \
	"legacy (the hung one) is held down"
echo "# legacy frozen, ${ISOLATION_SECONDS} s of load: $rcpts RCPTs for hq's users," \
	"tempfail $tempfail, max $(res "$out" max_ms) ms"

slapd_thaw legacy
nsmilter_stop iso
assert_no_match "$(nsmilter_log iso)" 'Sanitizer|runtime error' \
	"no sanitizer report in the daemon's log"
done_testing
