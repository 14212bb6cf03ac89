#!/bin/bash
# bench/smoke.sh - the benchmark tools still measure the right thing.
#
# Not a benchmark (no timing is asserted): miltergen must get nsmilter's
# real answers for a known local / foreign / unknown / not-shared address
# set (continue, continue + ADDRCPT_PAR/DELRCPT at EOM, 550, continue),
# nullmilter must continue everything, and ldapload must find the fixture
# users in both directories without errors.  A broken protocol client or
# load tool would otherwise only show up as odd numbers in BENCHMARKS.md.
. "$(dirname "$0")/../t/lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
: "${BENCH_BIN:=$NSMILTER_BUILDDIR/bench}"

res() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

scene_slapd || exit 1
{
	nsmilter_milter_section smoke "max_unknown = 0"
	scene_directories
	scene_domain
} | nsmilter_write_ini smoke
nsmilter_start smoke || exit 1

printf '%s\n' alice@corp.example bob@corp.example nobody@corp.example \
    x@elsewhere.example >"$T_DIR/addrs.txt"

# One message, the four recipients in order.
out=$("$BENCH_BIN/miltergen" -s "$(nsmilter_socket smoke)" -l "$T_DIR/addrs.txt" \
    -1 -c 1 -k 4 -d 0 -T 20)
echo "$out" | sed 's/^/# /'
assert_eq "$(res "$out" rcpts)" 4 "nsmilter: 4 RCPT replies"
assert_eq "$(res "$out" continue)" 3 "nsmilter: local, foreign and not-shared continue"
assert_eq "$(res "$out" 5xx)" 1 "nsmilter: the unknown one is refused"
assert_match "$out" 'RCPT replies:.* 550=1' "nsmilter: ... with 550"
assert_eq "$(res "$out" addrcpt_par)" 1 "nsmilter: foreign recipient added at EOM"
assert_eq "$(res "$out" delrcpt)" 1 "nsmilter: ... and the original deleted"
assert_eq "$(res "$out" errors)" 0 "nsmilter: no protocol errors"
assert_match "$(nsmilter_log smoke)" 'rcpt=<bob@corp.example> action=route to=<bob@legacy.corp.example>' \
    "nsmilter logged the route miltergen caused"

"$BENCH_BIN/nullmilter" "unix:$T_DIR/null.sock" >"$T_DIR/null.log" 2>&1 &
null_pid=$!
at_exit "kill $null_pid"
wait_for test -S "$T_DIR/null.sock"
out=$("$BENCH_BIN/miltergen" -s "unix:$T_DIR/null.sock" -l "$T_DIR/addrs.txt" \
    -n 3 -c 1 -k 4 -m 2 -d 0 -T 20)
echo "$out" | sed 's/^/# /'
assert_eq "$(res "$out" continue)" 12 "nullmilter: every RCPT continues"
assert_eq "$(res "$out" messages)" 3 "nullmilter: 3 messages (2 connections) to EOM"
assert_eq "$(res "$out" addrcpt_par)" 0 "nullmilter: changes nothing"
assert_eq "$(res "$out" errors)" 0 "nullmilter: no protocol errors"

printf '%s\n' 'hq-Secret-42' >"$T_DIR/hq.secret"
out=$("$BENCH_BIN/ldapload" -l "$T_DIR/addrs.txt" -d 1 -W 0 -c 2 -o 2 \
    -H "$(slapd_uri hq)" -b DC=corp,DC=example -f '(|(mail=%s)(proxyAddresses=smtp:%s))' \
    -D CN=nsmilter,OU=Service,DC=corp,DC=example -y "$T_DIR/hq.secret" \
    -H "$(slapd_uri legacy)" -b ou=people,dc=legacy,dc=example \
    -f '(|(mail=%s)(mailLocalAddress=%s))')
echo "$out" | sed 's/^/# /'
assert_eq "$(res "$out" errors)" 0 "ldapload: no LDAP errors"
assert_match "$(res "$out" found)" '^[1-9]' "ldapload: finds the users"
assert_match "$(res "$out" notfound)" '^[1-9]' "ldapload: and not the others"

done_testing
