#!/bin/bash
# query_decisions.sh - nsmilter -q against two real slapd directories (an
# Active Directory-like one and an inetLocalMailRecipient one): every row of
# The decision table, case-insensitive matches, aliases, contacts,
# plus-addressing, subdomains, hostile addresses, exit statuses.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"

scene_slapd || setup_failed "slapd (see above)"

CONF=$T_DIR/nsmilter.ini
{
	ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
	scene_directories
	scene_domain "subdomains = yes" "recipient_delimiter = +"
	cat <<INI
[domain ext.example]
type = external-relay
directories = hq
fallback_route = ext-route.example

[domain relay.example]
type = internal-relay
directories = hq
unknown = route
fallback_route = old.relay.example

[domain out.example]
type = external-relay
fallback_route = out-route.example
INI
} >"$CONF"

q() { "$NSMILTER" -c "$CONF" -q "$@"; }

# ADDRESS  EXPECTED LINE (exact)
while IFS='|' read -r addr want; do
	[ -n "$addr" ] || continue
	got=$(q "$addr" 2>&1)
	assert_eq "$got" "$want" "-q $addr"
done <<'CASES'
alice@corp.example|alice@corp.example accept directory=hq
ALICE@CORP.EXAMPLE|ALICE@corp.example accept directory=hq
<Alice@Corp.Example>|Alice@corp.example accept directory=hq
alice@corp.example.|alice@corp.example accept directory=hq
nobody@corp.example.|nobody@corp.example reject code=550 dsn=5.1.1
nobody%corp.example@mx.test.example|nobody%corp.example@mx.test.example reject code=501 dsn=5.1.3 reason="percent hack into a shared domain"
corp.example!nobody@mx.test.example|corp.example!nobody@mx.test.example reject code=501 dsn=5.1.3 reason="bang path into a shared domain"
alias@corp.example|alias@corp.example accept directory=hq
A.Smith@corp.example|A.Smith@corp.example accept directory=hq
carol@corp.example|carol@corp.example route to=carol@other.example directory=hq target=yes
dave@corp.example|dave@corp.example route to=dave@partner.example directory=hq target=yes
grace@corp.example|grace@corp.example route to=grace@elsewhere.example directory=hq target=yes
oscar@corp.example|oscar@corp.example accept directory=hq
bob@corp.example|bob@corp.example route to=bob@legacy.corp.example directory=legacy
robert@corp.example|robert@corp.example route to=robert@legacy.corp.example directory=legacy
henry@corp.example|henry@corp.example route to=henry@mbox.legacy.example directory=legacy target=yes
dup@corp.example|dup@corp.example accept directory=hq conflict=legacy
frank+news@corp.example|frank+news@corp.example accept directory=hq
bob+lists@corp.example|bob+lists@corp.example route to=bob+lists@legacy.corp.example directory=legacy
eve@sales.corp.example|eve@sales.corp.example accept directory=hq
nobody@corp.example|nobody@corp.example reject code=550 dsn=5.1.1
nobody+x@corp.example|nobody+x@corp.example reject code=550 dsn=5.1.1
nobody@sales.corp.example|nobody@sales.corp.example reject code=550 dsn=5.1.1
x@elsewhere.example|x@elsewhere.example skip
<>|<> skip
postmaster|postmaster skip
xavier@ext.example|xavier@ext.example route to=xavier@ext-route.example directory=hq fallback=yes
nobody@ext.example|nobody@ext.example reject code=550 dsn=5.1.1
who@relay.example|who@relay.example route to=who@old.relay.example fallback=yes
anyone@out.example|anyone@out.example route to=anyone@out-route.example fallback=yes
CASES

# Hostile addresses of a shared domain: rejected (550 or 501), never
# accepted or routed -- in particular wildcards that would match alice.
long64=$(printf 'a%.0s' $(seq 1 65))
long254=$(printf 'b%.0s' $(seq 1 60)).$(printf 'c%.0s' $(seq 1 60)).$(printf 'd%.0s' $(seq 1 60)).$(printf 'e%.0s' $(seq 1 60))
hostile=(
	'*@corp.example'
	'al*@corp.example'
	'*alice*@corp.example'
	'alice)(mail=*@corp.example'
	'*)(|(mail=*@corp.example'
	'al\2a@corp.example'
	'alice\\@corp.example'
	'(alice)@corp.example'
	'"alice@corp.example'
	'ali"ce@corp.example'
	$'ali\x01ce@corp.example'
	$'alice\t@corp.example'
	$'alice\x7f@corp.example'
	"$long64@corp.example"
	"x@$long254.corp.example"
	'%2a@corp.example'
	'alice,bob@corp.example'
	'alice bob@corp.example'
	'@corp.example'
	'alice;x@corp.example'
	'alice<x>@corp.example'
)
for h in "${hostile[@]}"; do
	got=$(q "$h" 2>&1)
	action=$(printf '%s\n' "$got" | awk '{print $2}')
	case "$got" in
	*" reject code=550 dsn=5.1.1"*|*" reject code=501 dsn=5.1.3"*)
		pass "hostile address rejected: $(printf '%q' "$h") -> $action" ;;
	*) fail "hostile address $(printf '%q' "$h"): got '$got', want a reject" ;;
	esac
done

# Several addresses, in order, one line each; exit 0.
out=$(q alice@corp.example bob@corp.example nobody@corp.example x@elsewhere.example); rc=$?
assert_eq "$rc" 0 "exit status 0 when everything was decided"
assert_eq "$(printf '%s\n' "$out" | awk '{print $1 " " $2}' | tr '\n' ' ')" \
	"alice@corp.example accept bob@corp.example route nobody@corp.example reject x@elsewhere.example skip " \
	"-q prints one line per address in the order given"
out=$(printf 'alice@corp.example\n\nbob@corp.example\n' | q -); rc=$?
assert_eq "$(printf '%s\n' "$out" | wc -l)" 2 "-q - reads standard input, one address per line"

# Usage and configuration errors.
"$NSMILTER" -c "$CONF" -q >/dev/null 2>&1; assert_eq $? 64 "-q without an address is a usage error (64)"
"$NSMILTER" -c "$CONF" -x >/dev/null 2>&1; assert_eq $? 64 "an unknown option is a usage error (64)"
"$NSMILTER" -c "$CONF" -n; assert_eq $? 0 "-n accepts the test configuration"
# (its user = nsmilter exists where the Debian package is installed; -u
# stands in for it here, -n checks that the user exists)
"$NSMILTER" -c "$NSMILTER_SRCDIR/etc/nsmilter.ini" -n -u root; assert_eq $? 0 "-n accepts etc/nsmilter.ini"
sed 's/^timeout = 2s$/timeout = soon/' "$CONF" > "$T_DIR/bad.ini"
printf '[domain bad.example]\ndirectories = nosuch\n' >> "$T_DIR/bad.ini"
out=$("$NSMILTER" -c "$T_DIR/bad.ini" -n 2>&1); rc=$?
assert_eq "$rc" 78 "-n exits 78 on a bad configuration"
assert_match "$out" "^$T_DIR/bad.ini: \[directory hq\] timeout: " "-n names file, section and key"
assert_match "$out" "^$T_DIR/bad.ini: \[domain bad.example\] directories: .*nosuch" "-n reports an unknown directory"
assert_no_match "$out" "hq-Secret-42" "the bind password never appears in an error"
q alice@corp.example -c "$T_DIR/bad.ini" >/dev/null 2>&1
"$NSMILTER" -c "$T_DIR/bad.ini" -q alice@corp.example >/dev/null 2>&1
assert_eq $? 78 "-q exits 78 on a bad configuration"

# authoritative: only hq is asked; legacy's bob is unknown there.
sed '/^\[domain corp.example\]$/,/^$/{s/^type = internal-relay$/type = authoritative/; s/^directories = hq, legacy$/directories = hq/}' "$CONF" > "$T_DIR/auth.ini"
got=$("$NSMILTER" -c "$T_DIR/auth.ini" -q bob@corp.example alice@corp.example)
assert_eq "$got" "bob@corp.example reject code=550 dsn=5.1.1
alice@corp.example accept directory=hq" "authoritative domain: found accepted, unknown rejected"

# A directory down: its recipients tempfail (exit 75), never 5xx; a
# recipient found in an earlier directory is still accepted.
slapd_stop legacy
out=$(q alice@corp.example bob@corp.example nobody@corp.example); rc=$?
assert_eq "$rc" 75 "exit status 75 when a directory is down"
assert_match "$out" '^alice@corp.example accept directory=hq' "found in hq (first) while legacy is down: accepted"
assert_match "$out" '^bob@corp.example tempfail code=451 dsn=4.4.3 error="legacy: ' "legacy's user while legacy is down: tempfail"
assert_match "$out" '^nobody@corp.example tempfail code=451 dsn=4.4.3' "unknown while a directory is down: tempfail, not 550"
assert_no_match "$out" 'code=5' "no 5xx while a directory is down"
sed 's/^\[milter\]$/[milter]\non_directory_error = accept/' "$CONF" > "$T_DIR/accept.ini"
got=$("$NSMILTER" -c "$T_DIR/accept.ini" -q nobody@corp.example); rc=$?
assert_match "$got" '^nobody@corp.example accept error=' "on_directory_error = accept: accepted unchanged"
assert_eq "$rc" 0 "on_directory_error = accept: exit 0"

# The same process answers again once the directory is back: -q - on a pipe.
coproc QP { "$NSMILTER" -c "$CONF" -q - 2>&1; }
ask() { echo "$1" >&"${QP[1]}"; IFS= read -r -t 20 line <&"${QP[0]}"; echo "$line"; }
assert_match "$(ask bob@corp.example)" 'tempfail code=451' "one process: legacy down -> tempfail"
slapd_restart legacy || fail "restart slapd legacy"
# legacy is held down after the failure: asked again until its probe (about
# every second) has seen it back, for up to ~10 s.
ask_until() {
	local out i
	for ((i = 0; i < 50; i++)); do
		out=$(ask "$1")
		case $out in *"all servers held down"*) sleep 0.2 ;; *) break ;; esac
	done
	echo "$out"
}
assert_eq "$(ask_until bob@corp.example)" "bob@corp.example route to=bob@legacy.corp.example directory=legacy" \
	"one process: legacy back -> answered again without restarting nsmilter"
slapd_restart hq
assert_eq "$(ask alice@corp.example)" "alice@corp.example accept directory=hq" \
	"one process: hq restarted under an open connection -> answered again"
exec {QP[1]}>&-
wait "$QP_PID" 2>/dev/null

# Wrong bind password: an error (tempfail), never "not found".
printf 'wrong\n' > "$T_DIR/wrong.secret"
sed "s|$T_DIR/hq.secret|$T_DIR/wrong.secret|" "$CONF" > "$T_DIR/wrongpw.ini"
got=$("$NSMILTER" -c "$T_DIR/wrongpw.ini" -q nobody@corp.example 2>&1); rc=$?
assert_eq "$rc" 75 "bind failure: exit 75"
assert_match "$got" '^nobody@corp.example tempfail code=451 dsn=4.4.3 error="hq: ' "bind failure: tempfail"
assert_no_match "$got" 'wrong' "bind failure: the password is not shown"

# Failover: the first URI refuses, the second answers.
DEAD=$(free_port)
sed "s|^uri = ldap://127.0.0.1:$HQ_PORT\$|uri = ldap://127.0.0.1:$DEAD ldap://127.0.0.1:$HQ_PORT|" "$CONF" > "$T_DIR/failover.ini"
got=$("$NSMILTER" -c "$T_DIR/failover.ini" -q alice@corp.example)
assert_eq "$got" "alice@corp.example accept directory=hq" "URI failover: second server answers"

# StartTLS and ldaps with the test CA; a wrong CA is an error, never an accept.
TLS_PORT=$(free_port); LDAPS_PORT=$(free_port)
slapd_start hqtls "$TLS_PORT" ad.schema hq.ldif bindonly "ldaps=$LDAPS_PORT" || fail "slapd hqtls"
tls_conf() { # CAFILE URI STARTTLS
	sed -e "s|^uri = ldap://127.0.0.1:$HQ_PORT\$|uri = $2|" \
	    -e "s|^timeout = 2s\$|timeout = 2s\nstarttls = $3\ntls_ca_file = $1|" "$CONF" > "$T_DIR/tls.ini"
	sed -i '0,/^tls_ca_file/!{/^starttls\|^tls_ca_file/d}' "$T_DIR/tls.ini"
}
tls_conf "$SLAPD_PKI/ca.pem" "ldap://127.0.0.1:$TLS_PORT" yes
got=$("$NSMILTER" -c "$T_DIR/tls.ini" -q alice@corp.example 2>&1)
assert_eq "$got" "alice@corp.example accept directory=hq" "StartTLS with the right CA"
tls_conf "$SLAPD_PKI/other-ca.pem" "ldap://127.0.0.1:$TLS_PORT" yes
got=$("$NSMILTER" -c "$T_DIR/tls.ini" -q alice@corp.example 2>&1); rc=$?
assert_match "$got" '^alice@corp.example tempfail code=451 dsn=4.4.3 error="hq: ' "StartTLS with a wrong CA: tempfail"
assert_eq "$rc" 75 "StartTLS with a wrong CA: exit 75"
tls_conf "$SLAPD_PKI/ca.pem" "ldaps://127.0.0.1:$LDAPS_PORT" no
got=$("$NSMILTER" -c "$T_DIR/tls.ini" -q alice@corp.example 2>&1)
assert_eq "$got" "alice@corp.example accept directory=hq" "ldaps with the right CA"
tls_conf "$SLAPD_PKI/other-ca.pem" "ldaps://127.0.0.1:$LDAPS_PORT" no
got=$("$NSMILTER" -c "$T_DIR/tls.ini" -q alice@corp.example 2>&1)
assert_match "$got" '^alice@corp.example tempfail' "ldaps with a wrong CA: tempfail"

done_testing
