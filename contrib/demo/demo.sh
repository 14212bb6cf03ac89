#!/bin/bash
# contrib/demo/demo.sh - nsmilter end to end on loopback, in about ten seconds.
#
#   contrib/demo/demo.sh [PATH-TO-NSMILTER]      (as root; default build/nsmilter
#                                                 or $NSMILTER)
#
# corp.example is shared by two mail systems:
#   hq      this site's mailboxes (an Active Directory-like LDAP: alice@...)
#   legacy  the other company's system (an OpenLDAP: bob@...), reached
#           through the routing domain legacy.corp.example
# The demo starts, all on 127.0.0.1 and all under one temporary folder:
# two slapd (one per directory), two smtp-sink (one per mail system), nsmilter
# and a private Postfix using contrib/postfix/main.cf.snippet and
# contrib/postfix/transport.  It sends one message to a local, a foreign and
# an unknown address, shows what each system received, then stops everything.
# Needs: postfix, slapd, ldap-utils (slapadd), swaks is not needed.
# KEEP_TEST_DIR=1 keeps the folder (configuration, logs, received messages).

here=$(cd "$(dirname "$0")" && pwd)
NSMILTER_SRCDIR=$(cd "$here/../.." && pwd)
if [ $# -gt 0 ]; then NSMILTER=$1; fi
: "${NSMILTER:=$NSMILTER_SRCDIR/build/nsmilter}"
case $NSMILTER in /*) ;; *) NSMILTER=$PWD/$NSMILTER ;; esac
export NSMILTER NSMILTER_SRCDIR

if [ ! -x "$NSMILTER" ]; then
	echo "demo: no nsmilter binary at $NSMILTER" >&2
	echo "      build it first (cmake -S . -B build && cmake --build build)" >&2
	echo "      or give its path: $0 PATH-TO-NSMILTER" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (Postfix and slapd are started privately)" >&2
	exit 1
fi

. "$NSMILTER_SRCDIR/t/lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/postfix.sh"   # with scene.sh and smtp.sh
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
say() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
indent() { sed 's/^/    /'; }
die() { echo "demo: $*" >&2; T_FAILS=1; exit 1; }

say "Starting the pieces (all on 127.0.0.1, under $T_DIR)"
scene_backends >/dev/null || die "could not start slapd or smtp-sink"
echo "    slapd hq      ldap://127.0.0.1:$HQ_PORT      (DC=corp,DC=example: alice, carol, ...)"
echo "    slapd legacy  ldap://127.0.0.1:$LEGACY_PORT      (ou=people,dc=legacy,dc=example: bob, ...)"
echo "    local system  smtp-sink 127.0.0.1:$PF_LOCAL_SINK_PORT   (corp.example mailboxes)"
echo "    legacy system smtp-sink 127.0.0.1:$PF_FOREIGN_SINK_PORT   (legacy.corp.example)"

{
	nsmilter_milter_section demo
	scene_directories
	scene_domain
} | nsmilter_write_ini demo
nsmilter_start demo || die "nsmilter did not start; log: $(nsmilter_dir demo)/log"
echo "    nsmilter      $(nsmilter_socket demo)"
SMTPD=$(free_port)
postfix_start demo "$SMTPD" "$(nsmilter_socket demo)" || die "Postfix did not start"
echo "    Postfix       127.0.0.1:$SMTPD"

say "nsmilter.ini (the directory and domain part)"
sed -n '/^\[directory/,$p' "$(nsmilter_ini demo)" | grep -v '^$' | indent

say "Postfix: contrib/postfix/main.cf.snippet, as substituted"
postconf -c "$(postfix_dir demo)/etc" -n relay_domains transport_maps smtpd_milters \
	milter_default_action relay_recipient_maps | indent
echo "    transport map:"
grep -v '^#' "$(postfix_dir demo)/etc/transport" | indent | indent

say "What nsmilter would decide (nsmilter -q, same code path as the milter)"
"$NSMILTER" -c "$(nsmilter_ini demo)" -q alice@corp.example bob@corp.example \
	nobody@corp.example | indent

say "Sending one message: sender@example.net -> alice (hq), bob (legacy), nobody (unknown)"
out=$(SMTP_SUBJECT="nsmilter demo" smtp_send "$SMTPD" sender@example.net "alice@corp.example NOTIFY=SUCCESS,FAILURE" \
	"bob@corp.example NOTIFY=SUCCESS,FAILURE" nobody@corp.example)
printf '%s\n' "$out" | grep -Ev '^(EHLO|QUIT)' | sed 's/^CONNECT => /(connect) => /' |
	awk -F ' => ' '{ printf "    -> %s\n        <- %s\n", $1, $2 }'
postfix_flush demo >/dev/null || echo "    (Postfix still has mail queued)"

say "What arrived at the local system (smtp-sink 127.0.0.1:$PF_LOCAL_SINK_PORT)"
if [ "$(sink_count local)" = 0 ]; then echo "    nothing"; else sink_show local; fi
say "What arrived at the legacy system (smtp-sink 127.0.0.1:$PF_FOREIGN_SINK_PORT)"
if [ "$(sink_count foreign)" = 0 ]; then echo "    nothing"; else sink_show foreign; fi

say "nsmilter's log (one line per recipient)"
nsmilter_grep demo 'rcpt=' | indent
say "Postfix's log (deliveries)"
postfix_log demo | grep -E 'status=|milter-reject|reject:' | sed 's/^.*postfix\///' | indent

say "In short"
verdict() {
	local addr=$1 reply where
	reply=$(smtp_reply_of "$out" "$addr")
	where=
	[ "$(sink_rcpt_count local "$addr")" -gt 0 ] && where="local system as $addr"
	local routed
	routed=$(sink_rcpts foreign | awk -v o="ORCPT=rfc822;$addr" 'index($0, o) { print $1 }' | head -1)
	[ -n "$routed" ] && where="legacy system as $routed"
	printf '    %-22s RCPT reply: %s\n' "$addr" "$reply"
	printf '    %-22s delivered to: %s\n' "" "${where:-nobody}"
}
verdict alice@corp.example
verdict bob@corp.example
verdict nobody@corp.example

say "Stopping everything"
echo "    (slapd, smtp-sink, nsmilter and Postfix are stopped as the script exits)"
