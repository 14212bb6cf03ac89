# t/lib/sendmail.sh - a private Sendmail for the integration tests (bash).
#
# Sendmail is not installed (it conflicts with the postfix package): run
# t/setup-sendmail.sh once as root; it unpacks Debian's sendmail-bin,
# sendmail-base and sendmail-cf under /opt/nsmilter-test/sendmail
# ($NSMILTER_SENDMAIL_ROOT overrides).
#
# Sendmail sleeps 60 s when its host name is not qualified, and everything
# it talks to must be on addresses it can reach.  So a Sendmail test runs
# whole inside its own UTS + network namespace (`unshare -n -u`, root
# only; PID and mount namespaces too, see sendmail_netns): loopback only,
# host name mx.nsmilter.test, and the mail systems
# behind Sendmail on their own loopback addresses, port 25, exactly as the
# contrib/sendmail/mailertable writes them:
#     127.0.0.2   this site's mailbox system ("local" sink)
#     127.0.0.3   the foreign (legacy) system ("foreign" sink)
#     192.0.2.10  an outside SMTP client (not allowed to relay)
# slapd, the sinks and nsmilter are started inside the namespace too (unix
# sockets work across namespaces, TCP does not).
#
# Use (a test script):
#     . "$(dirname "$0")/../lib/sendmail.sh"
#     sendmail_netns "$@"     # FIRST: re-executes the script in the namespace
#     sm_scene_backends || setup_failed "..."
#     ...
#
#   sendmail_netns ARGS          (re-)run the calling script in the namespace,
#                                then load the harness there: t/lib/common.sh,
#                                scene.sh, smtp.sh and nsmilter.sh
#   sendmail_root                the unpacked tree; sendmail_check: is it there
#   sm_scene_backends            the unpacked Sendmail is there, and the
#                                standard scene (t/lib/scene.sh) with the
#                                sinks on SM_LOCAL_HOST:25 and SM_FOREIGN_HOST:25
#   sendmail_start NAME PORT MILTER-SOCKET [original]
#       build $T_DIR/sendmail-NAME/sendmail.cf from the test settings below
#       plus contrib/sendmail/nsmilter.mc (placeholders substituted; an empty
#       MILTER-SOCKET drops the INPUT_MAIL_FILTER line: no milter at all),
#       the mailertable from contrib/sendmail/mailertable, and start
#       "sendmail -bd" on 127.0.0.1:PORT.  "original": add
#       contrib/sendmail/original-address.mc and use
#       contrib/sendmail/mailertable.original-address.
#       Optional: SM_EXTRA_MC (contrib/sendmail fragments appended after
#       the MAILER() lines, e.g. socketmap.mc) and SM_SOCKETMAP_SOCKET
#       (the path for their @SOCKETMAP_SOCKET@).
#   sendmail_stop NAME
#   sendmail_cmd NAME ARGS...    run the unpacked sendmail with this cf
#   sendmail_queue_count NAME    messages in the queue
#   sendmail_wait_queue_empty NAME [SECONDS]   0 once the queue is empty
#   sendmail_deliver NAME PORT FROM RCPT...
#                                smtp_send, then wait (30 s at most) for an
#                                empty queue; prints smtp_send's lines, and
#                                "QUEUE => not empty" when it stays full
#   sendmail_dir NAME
#   sm_queue_id OUTPUT           queue id from smtp_send's "." line
#
# The SMTP client is t/lib/smtp.sh (smtp_send, smtp_send_from), the
# directories' ini blocks t/lib/scene.sh.

: "${NSMILTER_SENDMAIL_ROOT:=/opt/nsmilter-test/sendmail}"
SM_HOSTNAME=mx.nsmilter.test
SM_SHARED_DOMAIN=corp.example
SM_FOREIGN_DOMAIN=legacy.corp.example
SM_LOCAL_HOST=127.0.0.2
SM_FOREIGN_HOST=127.0.0.3
SM_CLIENT_ADDR=192.0.2.10

sendmail_root() { echo "$NSMILTER_SENDMAIL_ROOT"; }

sendmail_check() {
	local r=$NSMILTER_SENDMAIL_ROOT
	[ -x "$r/usr/libexec/sendmail/sendmail" ] && [ -x "$r/usr/sbin/makemap" ] &&
		[ -f "$r/usr/share/sendmail/cf/m4/cf.m4" ]
}

# sendmail_netns ARGS: re-execute the calling script, once, in new UTS,
# network, mount and PID namespaces; inside, bring up loopback, name the
# host and load the harness.  The script is PID 1 there: whatever it started (slapd, sinks,
# nsmilter, Sendmail and its delivery children) is killed by the kernel
# when it exits, however it exits.
sendmail_netns() {
	if [ "${NSMILTER_SM_NETNS:-}" != 1 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "not ok - setup: the Sendmail tests run as root (unshare -n -u)"
			echo "0 passed, 1 failed"
			exit 1
		fi
		NSMILTER_SM_NETNS=1 exec unshare -n -u -p -f -m --mount-proc -- bash "$0" "$@"
		echo "not ok - setup: cannot exec unshare"
		exit 1
	fi
	ip link set lo up &&
		ip addr add "$SM_CLIENT_ADDR/32" dev lo &&
		hostname "$SM_HOSTNAME" || {
		echo "not ok - setup: network namespace (lo, $SM_CLIENT_ADDR, hostname)"
		echo "0 passed, 1 failed"
		exit 1
	}
	local lib
	lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	# Global scope: the files assign globals only (no declare, no local).
	# shellcheck source=common.sh
	. "$lib/common.sh"
	# shellcheck source=scene.sh
	. "$lib/scene.sh"
	# shellcheck source=smtp.sh
	. "$lib/smtp.sh"
	# shellcheck source=nsmilter.sh
	. "$lib/nsmilter.sh"
}

# sm_scene_backends: the two directories (hq, legacy; scene_slapd in
# t/lib/scene.sh) and the two mail systems' sinks every Sendmail test starts
# with, on SM_LOCAL_HOST:25 and SM_FOREIGN_HOST:25.
sm_scene_backends() {
	sendmail_check || {
		echo "no Sendmail in $(sendmail_root): run t/setup-sendmail.sh as root" >&2
		return 1
	}
	scene_slapd || return 1
	sink_start local 25 "$SM_LOCAL_HOST" || return 1
	sink_start foreign 25 "$SM_FOREIGN_HOST" || return 1
}

sendmail_dir() { echo "$T_DIR/sendmail-$1"; }

sendmail_cmd() {
	local name=$1
	shift
	"$NSMILTER_SENDMAIL_ROOT/usr/libexec/sendmail/sendmail" \
		-C "$(sendmail_dir "$name")/sendmail.cf" "$@"
}

# _sm_subst FILE: a contrib/sendmail file with the test's values.
_sm_subst() {
	sed -e "s|@SHARED_DOMAIN@|$SM_SHARED_DOMAIN|g" \
		-e "s|@FOREIGN_DOMAIN@|$SM_FOREIGN_DOMAIN|g" \
		-e "s|@LOCAL_HOST@|$SM_LOCAL_HOST|g" \
		-e "s|@FOREIGN_HOST@|$SM_FOREIGN_HOST|g" \
		-e "s|@MAIL_DIR@|$_SM_DIR|g" \
		-e "s|@MILTER_SOCKET@|$_SM_MILTER|g" \
		-e "s|@SOCKETMAP_SOCKET@|${SM_SOCKETMAP_SOCKET:-}|g" "$1"
}

# _sm_test_settings DIR PORT: what a test instance needs besides the
# contrib fragment: every file in DIR, no DNS, no interface probing (so
# that $SM_CLIENT_ADDR is an outside client), one listener.
_sm_test_settings() {
	local d=$1 port=$2
	cat <<EOF
divert(-1)
# nsmilter test instance $d (t/lib/sendmail.sh)
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$d/mqueue')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`ALIAS_FILE', \`$d/aliases')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`confCW_FILE', \`$d/local-host-names')dnl
define(\`confCR_FILE', \`-o $d/relay-domains')dnl
define(\`confCT_FILE', \`-o $d/trusted-users')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confDEAD_LETTER_DROP', \`$d/dead.letter')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confHOSTS_FILE', \`$d/hosts')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
define(\`confTO_QUEUEWARN', \`1d')dnl
define(\`confTO_QUEUERETURN', \`1d')dnl
define(\`confAUTH_MECHANISMS', \`')dnl
define(\`confLOG_LEVEL', \`9')dnl
DAEMON_OPTIONS(\`Port=$port, Addr=127.0.0.1, Name=MTA')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`nocanonify')dnl
EOF
}

# sendmail_start NAME PORT MILTER-SOCKET [original]
sendmail_start() {
	local name=$1 port=$2 milter=$3 variant=${4:-} d cf mt
	local contrib=$NSMILTER_SRCDIR/contrib/sendmail
	local r=$NSMILTER_SENDMAIL_ROOT
	sendmail_check || {
		echo "sendmail_start: no Sendmail in $r: run t/setup-sendmail.sh as root" >&2
		return 1
	}
	d=$(sendmail_dir "$name")
	mkdir -p "$d/mqueue" || return 1
	chmod 755 "$d"
	chmod 700 "$d/mqueue"
	_SM_DIR=$d
	_SM_MILTER=$milter
	{
		_sm_test_settings "$d" "$port"
		if [ -n "$milter" ]; then
			_sm_subst "$contrib/nsmilter.mc"
		else
			_sm_subst "$contrib/nsmilter.mc" | sed '/^INPUT_MAIL_FILTER(/d'
		fi
		echo "MAILER(\`local')dnl"
		echo "MAILER(\`smtp')dnl"
		[ "$variant" = original ] && _sm_subst "$contrib/original-address.mc"
		local extra
		for extra in ${SM_EXTRA_MC:-}; do _sm_subst "$contrib/$extra"; done
	} >"$d/sendmail.mc"
	mt=$contrib/mailertable
	[ "$variant" = original ] && mt=$contrib/mailertable.original-address
	_sm_subst "$mt" >"$d/mailertable"
	printf 'hosts files\naliases files\n' >"$d/service.switch"
	printf '127.0.0.1\tlocalhost\n127.0.0.1\t%s\n%s\tclient.example\n' \
		"$SM_HOSTNAME" "$SM_CLIENT_ADDR" >"$d/hosts"
	printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' >"$d/aliases"
	: >"$d/statistics"
	: >"$d/local-host-names"
	cf=$r/usr/share/sendmail/cf
	if ! m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$d/sendmail.mc" \
		>"$d/sendmail.cf" 2>"$d/m4.err" || [ -s "$d/m4.err" ]; then
		echo "sendmail_start $name: m4 failed:" >&2
		cat "$d/m4.err" >&2
		return 1
	fi
	if ! "$r/usr/sbin/makemap" -C "$d/sendmail.cf" hash "$d/mailertable" \
		<"$d/mailertable" 2>"$d/makemap.err"; then
		echo "sendmail_start $name: makemap failed:" >&2
		cat "$d/makemap.err" >&2
		return 1
	fi
	sendmail_cmd "$name" -bi >"$d/newaliases.log" 2>&1 || {
		echo "sendmail_start $name: newaliases failed:" >&2
		cat "$d/newaliases.log" >&2
		return 1
	}
	at_exit sendmail_stop "$name"
	sendmail_cmd "$name" -bd >>"$d/sendmail.log" 2>&1 || {
		echo "sendmail_start $name: sendmail -bd failed:" >&2
		cat "$d/sendmail.log" >&2
		return 1
	}
	echo "$port" >"$d/port"
	if ! wait_port "$port"; then
		echo "sendmail_start $name: not listening on 127.0.0.1:$port" >&2
		cat "$d/sendmail.log" >&2
		return 1
	fi
}

sendmail_stop() {
	local d pid
	d=$(sendmail_dir "$1")
	[ -f "$d/sendmail.pid" ] || return 0
	pid=$(head -1 "$d/sendmail.pid")
	kill -TERM "$pid" 2>/dev/null || true
	rm -f "$d/sendmail.pid"
	[ -f "$d/port" ] && wait_port_closed "$(cat "$d/port")"
	return 0
}

# Messages in the queue: one qf file each (delivered ones are removed).
sendmail_queue_count() {
	find "$(sendmail_dir "$1")/mqueue" -name 'qf*' 2>/dev/null | wc -l | tr -d ' '
}

sendmail_wait_queue_empty() {
	local i max=$(( ${2:-30} * 10 ))
	for ((i = 0; i < max; i++)); do
		[ "$(sendmail_queue_count "$1")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# sm_queue_id OUTPUT: "250 2.0.0 6AL8IGXr009191 Message accepted for delivery"
sm_queue_id() {
	printf '%s\n' "$1" | sed -n 's/^\. => 250 [0-9.]* \([0-9A-Za-z]*\) Message accepted.*/\1/p'
}

sendmail_deliver() {
	local name=$1 port=$2 out
	shift 2
	out=$(smtp_send "$port" "$@")
	sendmail_wait_queue_empty "$name" 30 || echo "QUEUE => not empty"
	printf '%s\n' "$out"
}
