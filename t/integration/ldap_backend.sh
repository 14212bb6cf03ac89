#!/bin/bash
# ldap_backend.sh - the LDAP directory backend (milter/ldapdir*.c) against
# real slapd instances, driven by t/tools/dirlookup (no milter, no config
# file): lookups, filter escaping, target addresses, bind, failover,
# restart and freeze of the server, StartTLS and ldaps, concurrent lookups.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"

: "${DIRLOOKUP:=$NSMILTER_BUILDDIR/t/dirlookup}"
if [ ! -x "$DIRLOOKUP" ]; then
	echo "not ok - no $DIRLOOKUP (build the tree first)"
	exit 1
fi

HQ_PORT=$(free_port)
HQ_LDAPS=$(free_port)
LEGACY_PORT=$(free_port)
slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly ldaps="$HQ_LDAPS" ||
	exit 1
slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif || exit 1
HQ_URI=$(slapd_uri hq)
HQ_LDAPS_URI=$(slapd_ldaps_uri hq)
LEGACY_URI=$(slapd_uri legacy)
CLOSED_PORT=$(free_port)   # nothing listens there: connection refused

# The directory settings, as in the comment at the top of t/lib/slapd.sh.
HQ_ARGS=(-b DC=corp,DC=example -s sub
	-D CN=nsmilter,OU=Service,DC=corp,DC=example -w hq-Secret-42
	-f '(|(mail=%s)(proxyAddresses=smtp:%s))' -a targetAddress -t 1000)
LEGACY_ARGS=(-b ou=people,dc=legacy,dc=example -s one
	-f '(|(mail=%s)(mailLocalAddress=%s))' -a mailRoutingAddress -t 1000)

# lookup ARGS... ADDRESSES: run dirlookup, never for more than 20 s.
lookup() { timeout --foreground 20 "$DIRLOOKUP" "$@" 2>&1; }
hq() { lookup -u "$HQ_URI" "${HQ_ARGS[@]}" "$@"; }
legacy() { lookup -u "$LEGACY_URI" "${LEGACY_ARGS[@]}" "$@"; }

# --- found, not found, case -------------------------------------------------
out=$(hq ALICE@corp.example Alice@Corp.Example alice@corp.example)
assert_match "$out" '^ALICE@corp.example found ms=[0-9]+$' \
	"mail matches whatever the case (upper)"
assert_match "$out" '^Alice@Corp.Example found ms=[0-9]+$' \
	"mail matches whatever the case (mixed)"
assert_match "$out" '^alice@corp.example found ms=[0-9]+$' \
	"mail matches whatever the case (lower), no target"

out=$(hq Alias@CORP.example a.smith@corp.example A.SMITH@corp.example)
assert_match "$out" '^Alias@CORP.example found ms' \
	"proxyAddresses smtp: alias found, case-insensitive"
assert_match "$out" '^a.smith@corp.example found ms' \
	"second proxyAddresses alias found"
assert_match "$out" '^A.SMITH@corp.example found ms' \
	"second alias, upper case"

out=$(hq nobody@corp.example frank+news@corp.example frank@corp.example \
	eve@sales.corp.example xavier@ext.example dup@corp.example)
assert_match "$out" '^nobody@corp.example notfound ms' "unknown: notfound"
assert_match "$out" '^frank\+news@corp.example notfound ms' \
	"address with extension is not the entry's address"
assert_match "$out" '^frank@corp.example found ms' "frank found"
assert_match "$out" '^eve@sales.corp.example found ms' "subdomain user found"
assert_match "$out" '^xavier@ext.example found ms' "ext.example user found"
assert_match "$out" '^dup@corp.example found ms' "dup found in hq"

# --- target addresses -------------------------------------------------------
out=$(hq carol@corp.example dave@corp.example grace@corp.example \
	oscar@corp.example)
assert_match "$out" '^carol@corp.example found target=carol@other.example ms' \
	"contact: targetAddress with SMTP: stripped"
assert_match "$out" '^dave@corp.example found target=dave@partner.example ms' \
	"targetAddress with lowercase smtp: stripped"
assert_match "$out" \
	'^grace@corp.example found target=grace@elsewhere.example ms' \
	"targetAddress without prefix kept"
assert_match "$out" '^oscar@corp.example found ms' \
	"X400 targetAddress: found, without a target (its own system keeps it)"

out=$(legacy bob@corp.example ROBERT@corp.example henry@corp.example \
	dup@corp.example nobody@corp.example)
assert_match "$out" '^bob@corp.example found ms' "legacy: bob by mail"
assert_match "$out" '^ROBERT@corp.example found ms' \
	"legacy: mailLocalAddress, case-insensitive"
assert_match "$out" \
	'^henry@corp.example found target=henry@mbox.legacy.example ms' \
	"legacy: mailRoutingAddress is the target"
assert_match "$out" '^dup@corp.example found ms' "legacy: dup found too"
assert_match "$out" '^nobody@corp.example notfound ms' "legacy: notfound"

# Without target_attribute only "1.1" is requested: found, no target.
out2=$(lookup -u "$HQ_URI" -b DC=corp,DC=example \
	-D CN=nsmilter,OU=Service,DC=corp,DC=example -w hq-Secret-42 \
	-f '(mail=%s)' carol@corp.example)
assert_match "$out2" '^carol@corp.example found ms=[0-9]+$' \
	"no target_attribute: found, no target"

# --- filter metacharacters never widen the search ---------------------------
out=$(hq '*@corp.example' 'a)(mail=*@corp.example' '*' \
	'alice@corp.example)(|(mail=*' 'al*@corp.example' '\2a@corp.example')
assert_no_match "$out" ' found' "no metacharacter address is found"
assert_match "$out" '^\*@corp.example notfound ms' "* is literal"
assert_match "$out" '^a\)\(mail=\*@corp.example notfound ms' \
	"parentheses are literal"
assert_match "$out" '^al\*@corp.example notfound ms' "al* is literal"
assert_eq "$(printf '%s\n' "$out" | grep -c ' notfound ')" 6 \
	"all six answered notfound (not error)"

# --- bind ---------------------------------------------------------------------
out=$(lookup -u "$HQ_URI" -b DC=corp,DC=example \
	-f '(|(mail=%s)(proxyAddresses=smtp:%s))' alice@corp.example)
assert_no_match "$out" ' found ' \
	"anonymous cannot read hq (proves the bind above is used)"
out=$(lookup -u "$HQ_URI" -b DC=corp,DC=example \
	-D CN=nsmilter,OU=Service,DC=corp,DC=example -w Wrong-Pw-7 \
	-f '(mail=%s)' alice@corp.example)
assert_match "$out" '^alice@corp.example error error="Invalid credentials"' \
	"wrong password: error"
assert_no_match "$out" 'Wrong-Pw-7' "the password is not in the error"
out=$(lookup -u "$HQ_URI" -b OU=Nowhere,DC=corp,DC=example \
	-D CN=nsmilter,OU=Service,DC=corp,DC=example -w hq-Secret-42 \
	-f '(mail=%s)' alice@corp.example)
assert_match "$out" '^alice@corp.example error error="No such object' \
	"a base that does not exist is an error, not notfound"

# --- server down, failover ----------------------------------------------------
out=$(lookup -u "ldap://127.0.0.1:$CLOSED_PORT/" "${HQ_ARGS[@]}" \
	alice@corp.example)
assert_match "$out" \
	"^alice@corp.example error error=\"Can't contact LDAP server\" ms" \
	"server down: error"
out=$(lookup -u "ldap://127.0.0.1:$CLOSED_PORT/" -u "$HQ_URI" "${HQ_ARGS[@]}" \
	alice@corp.example)
assert_match "$out" '^alice@corp.example found ms' \
	"first URI refused: the second answers"
out=$(lookup -u "ldap://127.0.0.1:$CLOSED_PORT/" -u "$HQ_URI" \
	-u "$LEGACY_URI" "${LEGACY_ARGS[@]}" bob@corp.example)
assert_no_match "$out" ' found ' \
	"failover stops at the first server that answers (hq: no bob)"
out=$(lookup -u "ldap://127.0.0.1:$CLOSED_PORT/" -u "$LEGACY_URI" \
	-u "$HQ_URI" "${LEGACY_ARGS[@]}" bob@corp.example)
assert_match "$out" '^bob@corp.example found ms' \
	"failover: the second URI's data answers (legacy: bob)"

# A server that drops connection attempts (full listen queue): the next URI
# after the timeout.
if command -v python3 >/dev/null; then
	HANG_PORT=$(free_port)
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(0)
held = []
for i in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError: pass
    held.append(c)
print("ready", flush=True)
time.sleep(600)
' "$HANG_PORT" >"$T_DIR/hang.out" 2>&1 &
	HANG_PID=$!
	at_exit kill "$HANG_PID"
	WAIT_SECONDS=5 wait_for grep -q ready "$T_DIR/hang.out"
	out=$(lookup -u "ldap://127.0.0.1:$HANG_PORT/" -u "$HQ_URI" \
		"${HQ_ARGS[@]}" alice@corp.example)
	assert_match "$out" '^alice@corp.example found ms=(9[0-9]{2}|1[0-9]{3})$' \
		"first URI hangs: the second answers after about the timeout"
	echo "# hanging first URI: $out"
	out=$(lookup -u "ldap://127.0.0.1:$HANG_PORT/" -u "$HQ_LDAPS_URI" \
		-C "$SLAPD_PKI/ca.pem" "${HQ_ARGS[@]}" alice@corp.example)
	assert_match "$out" '^alice@corp.example found ms' \
		"first URI hangs: the second (ldaps) answers"
else
	echo "# python3 missing: hanging-connect failover not tested"
fi

# --- StartTLS and ldaps ------------------------------------------------------
out=$(hq -Z -C "$SLAPD_PKI/ca.pem" alice@corp.example)
assert_match "$out" '^alice@corp.example found ms' "StartTLS, right CA: found"
out=$(hq -Z -C "$SLAPD_PKI/other-ca.pem" alice@corp.example)
assert_match "$out" '^alice@corp.example error error="StartTLS: ' \
	"StartTLS, wrong CA: error"
out=$(hq -Z -k -C "$SLAPD_PKI/other-ca.pem" alice@corp.example)
assert_match "$out" '^alice@corp.example found ms' \
	"StartTLS, wrong CA, tls_verify = no: found"
out=$(lookup -u "$HQ_LDAPS_URI" -C "$SLAPD_PKI/ca.pem" "${HQ_ARGS[@]}" \
	Alias@corp.example)
assert_match "$out" '^Alias@corp.example found ms' "ldaps, right CA: found"
out=$(lookup -u "$HQ_LDAPS_URI" -C "$SLAPD_PKI/other-ca.pem" "${HQ_ARGS[@]}" \
	Alias@corp.example)
assert_match "$out" '^Alias@corp.example error error=' "ldaps, wrong CA: error"
# (No "localhost" case: libldap checks the machine's own host name instead.)

# --- one process across a restart and a freeze ----------------------------------
# The driver reads addresses on stdin and keeps its connection pool.
coproc DL { exec "$DIRLOOKUP" -u "$HQ_URI" "${HQ_ARGS[@]}" -P 1 2>&1; }
DL_PID=$DL_PID
at_exit kill "$DL_PID"
ask() {
	local line
	echo "$1" >&"${DL[1]}"
	if read -r -t 20 line <&"${DL[0]}"; then echo "$line"
	else echo "no answer within 20 s"; fi
}
assert_match "$(ask alice@corp.example)" '^alice@corp.example found' \
	"long-running: found"
slapd_restart hq
assert_match "$(ask alice@corp.example)" '^alice@corp.example found' \
	"after slapd restarted: the same process answers (stale connection)"
slapd_stop hq
assert_match "$(ask alice@corp.example)" \
	"^alice@corp.example error error=\"Can't contact LDAP server\"" \
	"slapd stopped: error"
# ask_until REGEX ADDRESS: ask again (up to ~10 s) while the server is held
# down after a failure -- the probe thread notices it is back within ~1-2 s.
ask_until() {
	local out i
	for ((i = 0; i < 50; i++)); do
		out=$(ask "$2")
		printf '%s\n' "$out" | grep -Eq -- "$1" && break
		printf '%s\n' "$out" | grep -q 'all servers held down' || break
		sleep 0.2
	done
	echo "$out"
}
slapd_restart hq
assert_match "$(ask_until '^alice@corp.example found' alice@corp.example)" \
	'^alice@corp.example found' \
	"slapd back: found again without restarting the process"
slapd_freeze hq
t0=$(date +%s%N)
out=$(ask alice@corp.example)
t1=$(date +%s%N)
slapd_thaw hq
assert_match "$out" '^alice@corp.example error error="Timed out"' \
	"frozen slapd: error (timeout 1000 ms), no hang"
echo "# frozen server detected after $(( (t1 - t0) / 1000000 )) ms: $out"
assert_match "$(ask_until '^carol@corp.example found' carol@corp.example)" \
	'^carol@corp.example found target=carol@other.example' \
	"thawed: found again"
exec {DL[1]}>&-

# The same with ldaps: the TLS handshake is bounded too.
slapd_freeze hq
out=$(lookup -u "$HQ_LDAPS_URI" -C "$SLAPD_PKI/ca.pem" "${HQ_ARGS[@]}" \
	alice@corp.example)
assert_match "$out" '^alice@corp.example error error=' \
	"frozen slapd, ldaps: error, no hang"
echo "# frozen ldaps: $out"
out=$(hq -Z -C "$SLAPD_PKI/ca.pem" alice@corp.example)
assert_match "$out" '^alice@corp.example error error="StartTLS: Timed out"' \
	"frozen slapd, StartTLS: error, no hang"
slapd_thaw hq

# --- concurrent lookups through a small pool ---------------------------------
out=$(hq -P 2 -T 8 alice@corp.example carol@corp.example nobody@corp.example \
	Alias@corp.example)
assert_match "$out" '^threads=8 lookups=640 mismatches=0$' \
	"8 threads, pool of 2: every answer as expected"

done_testing
