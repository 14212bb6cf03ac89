#!/bin/bash
# ldap_probe.sh - the hold-down probe of an anonymous directory needs an
# LDAP answer (milter/directory/ldap/ldap_holddown.c).  A frozen slapd
# (SIGSTOP) still completes TCP handshakes: were a connection enough, the
# server would be declared back every second and a lookup would pay the
# whole timeout again each time.  Driven through "nsmilter -q -" on a pipe:
# one process, one pool, addresses one at a time.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
: "${PROBE_SECONDS:=4}"   # asking while frozen and held (the probe: 1 s)

LEGACY_PORT=$(free_port)
slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif || { fail "slapd legacy"; done_testing; }
CONF=$T_DIR/nsmilter.ini
{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0" \
	    "log_level = info"
	scene_directory legacy "timeout = 1s"
	scene_domain "directories = legacy"
} >"$CONF"

nsmilter_q_start "$CONF"
ask() { nsmilter_q_ask "$1"; }
BOB="bob@corp.example route to=bob@legacy.corp.example directory=legacy"

ask bob@corp.example
assert_eq "$OUT" "$BOB" "legacy answers before the freeze"
slapd_freeze legacy
ask bob@corp.example
assert_match "$OUT" '^bob@corp.example tempfail code=451 dsn=4.4.3 error="legacy: Timed out' \
	"frozen: the first lookup times out"

# Held now.  Every lookup while frozen must fail at once; one that waited
# the timeout means a probe declared the frozen server back.
held=0; slow=0; n=0; times=
end=$(( $(now_ms) + PROBE_SECONDS * 1000 ))
while [ "$(now_ms)" -lt "$end" ]; do
	ask bob@corp.example
	n=$((n + 1)); times+="$MS "
	case $OUT in *'error="legacy: all servers held down: '*) held=$((held + 1)) ;; esac
	[ "$MS" -lt 500 ] || slow=$((slow + 1))
	sleep 0.1
done
assert_eq "$slow" 0 "frozen for ${PROBE_SECONDS} s: no lookup waited for the timeout again ($n lookups)"
assert_eq "$held" "$n" "frozen: every lookup answered \"all servers held down\""
echo "# frozen ${PROBE_SECONDS} s: $n lookups, $slow waited the timeout; ms: $times"

# Thawed: the probe's root DSE read is answered, the server is used again.
slapd_thaw legacy
t0=$(now_ms)
for ((i = 0; i < 40; i++)); do
	ask bob@corp.example
	[ "$OUT" = "$BOB" ] && break
	sleep 0.1
done
assert_eq "$OUT" "$BOB" "thawed: answered again after $(( $(now_ms) - t0 )) ms"
assert_match "$(grep -c 'SRCH base="" scope=0' "$(slapd_log legacy)")" '^[1-9]' \
	"the probe read the root DSE"

nsmilter_q_stop
assert_eq "$Q_REST" "" "nsmilter -q exits without printing anything else"
done_testing
