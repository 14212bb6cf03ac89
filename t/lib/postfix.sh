# t/lib/postfix.sh - a private Postfix instance for the tests.
#
# Source t/lib/common.sh first.  Nothing here reads or writes /etc/postfix or
# the system queue: every instance has its own config_directory, queue and
# data directory under $T_DIR/postfix-NAME/, listens on 127.0.0.1 only and
# logs to $T_DIR/postfix-NAME/maillog.
#
# How the private instance runs (checked on Debian 12, Postfix 3.7, as root):
# - "postfix -c DIR start" works without registering DIR anywhere:
#   alternate_config_directories in the default main.cf only matters to the
#   set-gid commands (postdrop, postqueue) run by non-root users, and tests
#   run as root.  /etc/postfix/main.cf may even be absent.
# - queue_directory must be outside config_directory, data_directory must
#   belong to postfix; "postfix start" creates the queue subdirectories
#   (post-install create-missing).
# - every service runs with chroot = n, so no copies of /etc files are needed.
# - maillog_file needs the postlog service in master.cf and a
#   maillog_file_prefixes entry covering the file.
#
# main.cf is: the test-only settings below, then contrib/postfix/main.cf.snippet
# (the file operators copy) with its placeholders substituted, then the extra
# lines given to postfix_start (later lines override earlier ones in main.cf).
# The transport map is contrib/postfix/transport, substituted the same way,
# plus $PF_EXTRA_TRANSPORT; master.cf is the test's services plus
# contrib/postfix/master.cf.snippet (the optional "nsforeign" transport, with
# contrib/postfix/generic), every service switched to chroot n.
#
#   postfix_start NAME SMTPD-PORT MILTER-SOCKET [main.cf line...]
#       needs PF_LOCAL_SINK_PORT and PF_FOREIGN_SINK_PORT (the smtp-sink ports
#       of the local and the foreign mail system).  MILTER-SOCKET is either
#       Postfix's form (unix:PATH, inet:HOST:PORT) or nsmilter's
#       (inet:PORT@HOST); empty means no milter.
#       Optional: PF_EXTRA_TRANSPORT (transport lines), PF_ROUTING_DOMAINS
#       (default legacy.corp.example), PF_FOREIGN_TRANSPORT (the transport
#       of legacy.corp.example: smtp, or nsforeign to restore corp.example).
#   postfix_stop NAME
#   postfix_dir NAME                   the instance's base directory
#   postfix_flush NAME [SECONDS]       flush the queue and wait until it is
#                                      empty (default 30 s); 1 if it is not
#   postfix_queue NAME                 "postqueue -p" output
#   postfix_queue_count NAME           number of messages in the queue
#   postfix_log NAME                   the maillog
#   postfix_deliver NAME PORT FROM RCPT...
#                                      smtp_send, then postfix_flush; prints
#                                      smtp_send's lines, and "FLUSH => queue
#                                      not empty" when the queue stays full
#
# Source t/lib/common.sh first; this file loads the standard scene
# (t/lib/scene.sh: scene_backends sets the sinks' ports) and the SMTP
# client (t/lib/smtp.sh).

# shellcheck source=scene.sh
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
# shellcheck source=smtp.sh
. "$NSMILTER_SRCDIR/t/lib/smtp.sh"

PF_SHARED_DOMAIN=corp.example
: "${PF_ROUTING_DOMAINS:=legacy.corp.example}"
: "${PF_EXTRA_TRANSPORT:=}"
: "${PF_FOREIGN_TRANSPORT:=smtp}"

postfix_dir() { echo "$T_DIR/postfix-$1"; }

# _pf_milter_addr SOCKET: nsmilter's socket spec in Postfix's form.
_pf_milter_addr() {
	case $1 in
	inet:*@*) local s=${1#inet:}; echo "inet:${s#*@}:${s%@*}" ;;
	*) echo "$1" ;;
	esac
}

# _pf_subst FILE: the contrib file with every @PLACEHOLDER@ replaced.
_pf_subst() {
	sed -e "s|@SHARED_DOMAIN@|$PF_SHARED_DOMAIN|g" \
		-e "s|@ROUTING_DOMAINS@|$PF_ROUTING_DOMAINS|g" \
		-e "s|@CONFIG_DIRECTORY@|$_PF_ETC|g" \
		-e "s|@MILTER_SOCKET@|$_PF_MILTER|g" \
		-e "s|@LOCAL_HOST@|127.0.0.1|g" \
		-e "s|@LOCAL_PORT@|$PF_LOCAL_SINK_PORT|g" \
		-e "s|@FOREIGN_DOMAIN@|legacy.corp.example|g" \
		-e "s|@FOREIGN_HOST@|127.0.0.1|g" \
		-e "s|@FOREIGN_PORT@|$PF_FOREIGN_SINK_PORT|g" \
		-e "s|@FOREIGN_TRANSPORT@|$PF_FOREIGN_TRANSPORT|g" "$1"
}

postfix_start() {
	local name=$1 port=$2 milter=${3:-} base etc line
	shift 3 || shift $#
	base=$(postfix_dir "$name")
	etc=$base/etc
	_PF_ETC=$etc
	_PF_MILTER=$(_pf_milter_addr "$milter")
	mkdir -p "$etc" "$base/spool" "$base/data"
	chown postfix:postfix "$base/data"
	: "${PF_LOCAL_SINK_PORT:?postfix_start: set PF_LOCAL_SINK_PORT}"
	: "${PF_FOREIGN_SINK_PORT:?postfix_start: set PF_FOREIGN_SINK_PORT}"

	{
		cat <<EOF
# private test instance "$name" (t/lib/postfix.sh) - not for production
compatibility_level = 3.6
config_directory = $etc
queue_directory = $base/spool
data_directory = $base/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.$name.test.example
mydomain = test.example
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_peername_lookup = no
biff = no
maillog_file = $base/maillog
maillog_file_prefixes = $T_DIR
# fast retries, short timeouts: a test waits for delivery
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
smtp_connect_timeout = 5s
bounce_queue_lifetime = 1h
maximal_queue_lifetime = 1h
delay_warning_time = 0
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
smtpd_junk_command_limit = 1000
anvil_rate_time_unit = 60s
smtpd_client_connection_rate_limit = 0
smtpd_recipient_limit = 1000
EOF
		echo
		echo "# ---- contrib/postfix/main.cf.snippet ----"
		_pf_subst "$NSMILTER_SRCDIR/contrib/postfix/main.cf.snippet"
		if [ -z "$milter" ]; then
			echo "# no milter for this instance"
			echo "smtpd_milters ="
		fi
		if [ $# -gt 0 ]; then
			echo
			echo "# ---- test extras ----"
			for line in "$@"; do echo "$line"; done
		fi
	} >"$etc/main.cf"

	cat >"$etc/master.cf" <<EOF
# private test instance: loopback smtpd, chroot n everywhere
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	{
		echo "# ---- contrib/postfix/master.cf.snippet ----"
		_pf_subst "$NSMILTER_SRCDIR/contrib/postfix/master.cf.snippet"
	} >>"$etc/master.cf"
	# The snippet keeps Debian's chroot default for operators; not here.
	# (No spaces around "=": postconf -F would match nothing.)
	postconf -c "$etc" -F '*/*/chroot=n' || return 1
	_pf_subst "$NSMILTER_SRCDIR/contrib/postfix/generic" >"$etc/generic"
	postmap -c "$etc" "hash:$etc/generic" || return 1

	{
		_pf_subst "$NSMILTER_SRCDIR/contrib/postfix/transport"
		[ -n "$PF_EXTRA_TRANSPORT" ] && printf '%s\n' "$PF_EXTRA_TRANSPORT"
	} >"$etc/transport"
	postmap -c "$etc" "hash:$etc/transport" || return 1

	at_exit postfix_stop "$name"
	echo "$port" >"$base/port"
	if ! postfix -c "$etc" start >"$base/start.log" 2>&1; then
		echo "postfix_start: postfix -c $etc start failed:" >&2
		cat "$base/start.log" >&2
		return 1
	fi
	if ! wait_port "$port"; then
		echo "postfix_start: smtpd not listening on 127.0.0.1:$port" >&2
		cat "$base/start.log" "$base/maillog" >&2 2>/dev/null
		return 1
	fi
}

postfix_stop() {
	local base
	base=$(postfix_dir "$1")
	[ -f "$base/etc/main.cf" ] || return 0
	postfix -c "$base/etc" stop >/dev/null 2>&1 || true
	[ -f "$base/port" ] && wait_port_closed "$(cat "$base/port")"
	# master exits after its children; wait for its lock to be released
	WAIT_SECONDS=10 wait_for bash -c "! postfix -c '$base/etc' status" || true
}

postfix_queue() { postqueue -c "$(postfix_dir "$1")/etc" -p 2>&1; }

postfix_queue_count() {
	postfix_queue "$1" | grep -cE '^[0-9A-F]{6,}[*!]? ' || true
}

postfix_queue_empty() { postfix_queue "$1" | grep -q 'Mail queue is empty'; }

# postfix_flush NAME [SECONDS]: deliver what is queued, wait for an empty queue.
postfix_flush() {
	local etc i max=$(( ${2:-30} * 10 ))
	etc=$(postfix_dir "$1")/etc
	postqueue -c "$etc" -f >/dev/null 2>&1 || true
	for ((i = 0; i < max; i++)); do
		postfix_queue_empty "$1" && return 0
		# deferred mail is retried after a flush only: keep nudging
		if ((i % 20 == 19)); then postqueue -c "$etc" -f >/dev/null 2>&1 || true; fi
		sleep 0.1
	done
	echo "postfix_flush: queue of $1 not empty after ${2:-30} s:" >&2
	postfix_queue "$1" | sed 's/^/#   /' >&2
	return 1
}

postfix_log() { cat "$(postfix_dir "$1")/maillog" 2>/dev/null; }

postfix_deliver() {
	local name=$1 port=$2 out
	shift 2
	out=$(smtp_send "$port" "$@")
	postfix_flush "$name" >&2 || echo "FLUSH => queue not empty"
	printf '%s\n' "$out"
}
