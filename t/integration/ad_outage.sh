#!/bin/bash
# ad_outage.sh - an Active Directory DC (Samba, t/lib/samba-ad.sh) stopped
# and started again under one running "nsmilter -q -" process (one pool,
# one hold-down state, as in the milter): while the DC is down every
# lookup is a 451 tempfail (never an accept or a 5xx), and the same
# process answers correctly again within seconds of the DC's return.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"
ad_netns "$@"
ad_start || { fail "samba AD DC"; done_testing; }

{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
	ad_directory "bind_dn = $AD_BIND_DOWNLEVEL" "pool_size = 2"
	ad_domain
} > "$T_DIR/nsmilter.ini"

nsmilter_q_start "$T_DIR/nsmilter.ini"
ask() { nsmilter_q_ask "$1"; }

ALICE="alice@corp.example accept directory=ad"
CAROL="carol@corp.example route to=carol@partner.example directory=ad target=yes"
FRANK="frank@corp.example reject code=550 dsn=5.1.1"

ask alice@corp.example; assert_eq "$OUT" "$ALICE" "DC up: alice accepted"
ask frank@corp.example; assert_eq "$OUT" "$FRANK" "DC up: disabled frank rejected"

# --- the DC goes away ---------------------------------------------------------
ad_stop
down_ok=0; down_bad=
for a in alice@corp.example carol@corp.example frank@corp.example nobody@corp.example \
    alice@corp.example carol@corp.example; do
	ask "$a"
	case $OUT in
	"$a tempfail code=451 dsn=4.4.3 error=\"ad: "*) down_ok=$((down_ok + 1)) ;;
	*) down_bad+="$OUT; " ;;
	esac
done
assert_eq "$down_ok" 6 "DC down: every lookup is 451 4.4.3 tempfail (not: $down_bad)"
assert_match "$OUT" "Can't contact LDAP server" "DC down: reported as unreachable"
assert_no_match "$OUT" 'certificate|TLS:' "DC down: not mistaken for a certificate problem"
echo "# while down: $OUT"

# --- the DC comes back ----------------------------------------------------------
ad_start || fail "samba restarts"
t0=$(now_ms); OUT=
for ((i = 0; i < 50; i++)); do
	ask alice@corp.example
	[ "$OUT" = "$ALICE" ] && break
	sleep 0.2
done
recovered_ms=$(( $(now_ms) - t0 ))
assert_eq "$OUT" "$ALICE" "DC back: the same process accepts alice again"
assert_match "$recovered_ms" '^[0-9]{1,4}$' "... within 10 s of the DC's return (${recovered_ms} ms)"
echo "# recovery after the DC's restart: ${recovered_ms} ms"
ask carol@corp.example; assert_eq "$OUT" "$CAROL" "DC back: carol routed"
ask frank@corp.example; assert_eq "$OUT" "$FRANK" "DC back: frank rejected"

# --- a second outage, the process survives it too --------------------------------
ad_stop
ask carol@corp.example
assert_match "$OUT" '^carol@corp.example tempfail code=451 dsn=4.4.3 ' "second outage: tempfail"
ad_start || fail "samba restarts again"
for ((i = 0; i < 50; i++)); do
	ask carol@corp.example
	[ "$OUT" = "$CAROL" ] && break
	sleep 0.2
done
assert_eq "$OUT" "$CAROL" "second return: carol routed again"

nsmilter_q_stop
assert_eq "$Q_REST" "" "nsmilter -q exits without printing anything else"
assert_eq "$Q_RC" 75 "nsmilter -q exits 75: some addresses were tempfailed"
done_testing
