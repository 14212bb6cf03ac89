# t/lib/nsmilter.sh - run nsmilter in the foreground for a test.
#
# Source t/lib/common.sh first.  Each instance NAME lives in
# $T_DIR/nsmilter-NAME/: its ini, its unix socket, its pidfile and "log" (the
# -f stderr, one line per decided recipient).
#
#   nsmilter_milter_section NAME [line...]
#       print a [milter] section for a test: socket in the test folder,
#       socket_mode 0666 (Postfix runs as "postfix" and must be able to
#       connect), log_level info, caches off so that a directory
#       stopped by the test is noticed at once; extra lines override/add.
#   nsmilter_write_ini NAME          ini from stdin -> $(nsmilter_ini NAME)
#   nsmilter_ini NAME                path of the ini
#   nsmilter_socket NAME             the socket as nsmilter writes it (unix:PATH)
#   nsmilter_start NAME              start "$NSMILTER -f -c INI"; returns when
#                                    the socket accepts connections
#   nsmilter_stop NAME               SIGTERM, wait until it has exited
#   nsmilter_reload NAME             SIGHUP, wait until the reload is logged
#   nsmilter_log NAME                the log so far
#   nsmilter_grep NAME REGEX         matching log lines (grep -E)
#   nsmilter_log_mark NAME / nsmilter_log_since NAME MARK
#                                    log lines written after a mark
#
# "nsmilter -q -" on a pipe (one process, one pool, addresses one at a time):
#   nsmilter_q_start INI             start it as a coprocess
#   nsmilter_q_send ADDRESS / nsmilter_q_receive
#                                    one question; its answer line into OUT,
#                                    the milliseconds since the send into MS
#   nsmilter_q_ask ADDRESS           both
#   nsmilter_q_stop                  close its input and wait: what it wrote
#                                    after the last answer into Q_REST (empty
#                                    unless a sanitizer reported), its exit
#                                    status into Q_RC

nsmilter_dir() { echo "$T_DIR/nsmilter-$1"; }
nsmilter_ini() { echo "$T_DIR/nsmilter-$1/nsmilter.ini"; }
nsmilter_socket() { echo "unix:$T_DIR/nsmilter-$1/milter.sock"; }

nsmilter_milter_section() {
	local name=$1 dir
	shift
	dir=$(nsmilter_dir "$name")
	echo "[milter]"
	# keys given by the caller win: iniparser keeps the last of a duplicate
	# key, but an explicit override list is clearer than relying on it.
	local k line skip
	for k in socket socket_mode pidfile log_level cache_ttl negative_cache_ttl; do
		skip=
		for line in "$@"; do
			case $line in "$k "*=* | "$k="*) skip=1 ;; esac
		done
		[ -n "$skip" ] && continue
		case $k in
		socket) echo "socket = $(nsmilter_socket "$name")" ;;
		socket_mode) echo "socket_mode = 0666" ;;
		pidfile) echo "pidfile = $dir/nsmilter.pid" ;;
		log_level) echo "log_level = info" ;;
		cache_ttl) echo "cache_ttl = 0" ;;
		negative_cache_ttl) echo "negative_cache_ttl = 0" ;;
		esac
	done
	for line in "$@"; do echo "$line"; done
	echo
}

nsmilter_write_ini() {
	mkdir -p "$(nsmilter_dir "$1")"
	cat >"$(nsmilter_ini "$1")"
}

_nsm_alive() {
	local st
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# _nsm_sockspec NAME: the socket named in the ini.
_nsm_sockspec() {
	sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*\([^;[:space:]]*\).*/\1/p' \
		"$(nsmilter_ini "$1")" | head -1
}

# _nsm_listening NAME: the socket exists (unix; nsmilter_start removed any
# stale one first) or the port accepts connections (inet).
_nsm_listening() {
	local sock
	sock=$(_nsm_sockspec "$1")
	case $sock in
	unix:* | local:*) [ -S "${sock#*:}" ] ;;
	inet:*) sock=${sock#inet:}; port_open "${sock%@*}" ;;
	/*) [ -S "$sock" ] ;;
	*) return 1 ;;
	esac
}

nsmilter_start() {
	local name=$1 dir pid
	dir=$(nsmilter_dir "$name")
	mkdir -p "$dir"
	[ -x "$NSMILTER" ] || { echo "nsmilter_start: no binary at $NSMILTER" >&2; return 1; }
	local sock
	sock=$(_nsm_sockspec "$name")
	case $sock in unix:* | local:*) rm -f "${sock#*:}" ;; esac
	"$NSMILTER" -f -c "$(nsmilter_ini "$name")" 2>>"$dir/log" >>"$dir/log" &
	pid=$!
	echo "$pid" >"$dir/pid"
	at_exit nsmilter_stop "$name"
	if ! wait_for _nsm_listening "$name"; then
		echo "nsmilter_start: $name is not listening; log:" >&2
		sed 's/^/#   /' "$dir/log" >&2
		return 1
	fi
	_nsm_alive "$pid" || { echo "nsmilter_start: $name exited" >&2; return 1; }
}

nsmilter_pid() { cat "$(nsmilter_dir "$1")/pid" 2>/dev/null; }

nsmilter_running() {
	local pid
	pid=$(nsmilter_pid "$1") && [ -n "$pid" ] && _nsm_alive "$pid"
}

nsmilter_stop() {
	local dir pid
	dir=$(nsmilter_dir "$1")
	pid=$(nsmilter_pid "$1") || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	# an idle nsmilter stops at once; a busy one when its sessions end
	if ! WAIT_SECONDS=10 wait_for bash -c "! grep -qs '^State:[[:space:]]*[RSDT]' /proc/$pid/status"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/pid"
}

# nsmilter_reload NAME: SIGHUP; returns once a new log line mentions the
# reload (or after 2 s if the daemon does not log reloads).
nsmilter_reload() {
	local dir pid mark
	dir=$(nsmilter_dir "$1")
	pid=$(nsmilter_pid "$1")
	mark=$(nsmilter_log_mark "$1")
	kill -HUP "$pid"
	WAIT_SECONDS=2 wait_for bash -c "tail -n +$((mark + 1)) '$dir/log' | grep -Eiq 'reload|configuration'" || true
}

nsmilter_log() { cat "$(nsmilter_dir "$1")/log" 2>/dev/null; }
nsmilter_grep() { grep -E -- "$2" "$(nsmilter_dir "$1")/log" 2>/dev/null; }
nsmilter_log_mark() { wc -l <"$(nsmilter_dir "$1")/log" 2>/dev/null | tr -d ' ' || echo 0; }
nsmilter_log_since() { tail -n +$(($2 + 1)) "$(nsmilter_dir "$1")/log" 2>/dev/null; }

nsmilter_q_start() {
	coproc QP { exec "$NSMILTER" -c "$1" -q - 2>&1; }
	QP_KEEP=$QP_PID
	# kept after the coprocess exits (bash then closes QP)
	exec {QP_OUT}<&"${QP[0]}"
	at_exit "kill $QP_KEEP"
}

nsmilter_q_send() {
	QP_T0=$(now_ms)
	echo "$1" >&"${QP[1]}"
}

nsmilter_q_receive() {
	if ! IFS= read -r -t 30 OUT <&"$QP_OUT"; then OUT="no answer within 30 s"; fi
	MS=$(( $(now_ms) - QP_T0 ))
}

nsmilter_q_ask() {
	nsmilter_q_send "$1"
	nsmilter_q_receive
}

nsmilter_q_stop() {
	exec {QP[1]}>&-
	Q_REST=$(timeout 30 cat <&"$QP_OUT")
	exec {QP_OUT}<&-
	wait "$QP_KEEP" 2>/dev/null
	Q_RC=$?
}
