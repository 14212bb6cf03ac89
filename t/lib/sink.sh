# t/lib/sink.sh - smtp-sink as a "mail system" behind the private Postfix
# or Sendmail.
#
# Source t/lib/common.sh first.  A sink stands for one mail system (the local
# mailbox store, the foreign system): it accepts everything on ADDR:PORT
# and writes each message to its own file under $T_DIR/sink-NAME/, headed by
# smtp-sink's own records, among them one "X-Rcpt-Args: ADDRESS ARGS" line per
# RCPT TO (address and ESMTP arguments as sent by the MTA: ORCPT=, NOTIFY=).
#
#   sink_start NAME PORT [ADDR]  start on ADDR:PORT (default 127.0.0.1);
#                             returns when the port answers
#   sink_stop NAME            stop (also registered with at_exit)
#   sink_count NAME           number of messages received so far
#   sink_rcpts NAME           one line per RCPT received: "ADDRESS ARGS..."
#   sink_rcpt_count NAME ADDR how many RCPTs to ADDR (case-insensitive)
#   sink_rcpt_args NAME ADDR  the ESMTP arguments of the RCPTs to ADDR
#   sink_files NAME           the message files, oldest first
#   sink_clear NAME           forget what was received so far
#   sink_header NAME FIELD    every "FIELD: ..." header line received
#   sink_wait_count NAME N    wait until N messages arrived
#   sink_show NAME            print what arrived (for humans and the demo)
#
# smtp-sink runs as root here, so -u is required; it drops to "nobody" after
# binding, hence the directory it writes to is world-writable.

# sink_start NAME PORT [ADDR]
sink_start() {
	local name=$1 port=$2 addr=${3:-127.0.0.1} dir="$T_DIR/sink-$1"
	mkdir -p "$dir/msg"
	chmod 1777 "$dir/msg"
	# -d: one file per message; %Y... keeps them sortable by arrival time.
	smtp-sink -u nobody -h "sink-$name.test" -d "$dir/msg/%Y%m%d%H%M%S." \
		"$addr:$port" 64 >"$dir/smtp-sink.log" 2>&1 &
	echo $! >"$dir/pid"
	echo "$port" >"$dir/port"
	echo "$addr" >"$dir/addr"
	at_exit sink_stop "$name"
	if ! wait_port "$port" "$addr"; then
		echo "sink_start: smtp-sink $name did not listen on $addr:$port" >&2
		cat "$dir/smtp-sink.log" >&2
		return 1
	fi
}

# sink_stop NAME
sink_stop() {
	local dir="$T_DIR/sink-$1" pid
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	rm -f "$dir/pid"
	kill "$pid" 2>/dev/null || true
	wait_port_closed "$(cat "$dir/port")" "$(cat "$dir/addr")" || true
}

sink_files() {
	local dir="$T_DIR/sink-$1/msg"
	ls -1tr "$dir" 2>/dev/null | sed "s|^|$dir/|"
}

sink_count() { sink_files "$1" | wc -l | tr -d ' '; }

# One line per RCPT over all messages, "ADDRESS ARGS...", address as sent
# (without <>), lowercased only in the comparisons below.
sink_rcpts() {
	local f
	sink_files "$1" | while read -r f; do
		sed -n 's/^X-Rcpt-Args: *<\{0,1\}\([^> ]*\)>\{0,1\} *\(.*\)$/\1 \2/p' "$f" |
			sed 's/ *$//'
	done
}

# sink_rcpt_count NAME ADDRESS
sink_rcpt_count() {
	sink_rcpts "$1" | awk -v a="$2" 'tolower($1) == tolower(a) { n++ } END { print n + 0 }'
}

# sink_rcpt_args NAME ADDRESS: the ESMTP arguments of each RCPT to ADDRESS.
sink_rcpt_args() {
	sink_rcpts "$1" | awk -v a="$2" 'tolower($1) == tolower(a) { $1 = ""; sub(/^ /, ""); print }'
}

sink_clear() { rm -f "$T_DIR/sink-$1/msg/"*; }

# sink_wait_count NAME N: wait until at least N messages arrived.
sink_wait_count() {
	wait_for test "$(sink_count "$1")" -ge "$2"
}

# sink_show NAME: a readable summary of every message received.
sink_show() {
	local f
	sink_files "$1" | while read -r f; do
		echo "  message $(basename "$f"):"
		grep -E '^(X-Mail-Args|X-Rcpt-Args|Subject|X-NSMilter-Route):' "$f" | sed 's/^/    /'
	done
}

# sink_header NAME FIELD: every "FIELD: value" header line received (all
# messages), e.g. sink_header foreign X-NSMilter-Route.
sink_header() {
	local f
	sink_files "$1" | while read -r f; do
		grep -i "^$2:" "$f" || true
	done
}
