# t/lib/smtp.sh - an SMTP client for the tests, whatever the MTA (bash).
#
# Source t/lib/common.sh first.
#
# Written on bash /dev/tcp: swaks 20201014 cannot send RCPT parameters such
# as NOTIFY=, and a test must be able to keep a session open across a HUP.
# Every function prints one "CMD => REPLY" line per SMTP command.
#
#   smtp_open PORT [HELO]              connect, read the greeting, EHLO
#   smtp_cmd LINE                      send LINE, read the reply into
#                                      SMTP_REPLY (last line) / SMTP_CODE,
#                                      and print "LINE => REPLY"
#   smtp_data [SUBJECT]                DATA + a small message + "."
#   smtp_close                         QUIT and close
#   smtp_send PORT FROM RCPT...        a whole transaction; RCPT may carry
#                                      ESMTP arguments: "bob@x NOTIFY=SUCCESS".
#                                      Prints one "CMD => REPLY" line per
#                                      command; DATA only if a RCPT got 2xx.
#   smtp_send_from SRC-IP PORT FROM RCPT...
#                                      the same from another local address
#                                      (swaks --local-interface), no RCPT args
#   smtp_retry SECONDS ADDRESS CMD...  run CMD (a send printing these lines)
#                                      once a second until ADDRESS gets a
#                                      250, SECONDS times at most, as a
#                                      client retries; prints the last output
#   smtp_reply_of OUTPUT ADDRESS       the reply to "RCPT TO:<ADDRESS>"
#   smtp_queue_id OUTPUT               the queue id of "250 ... queued as ID"
#   SMTP_SUBJECT                       subject used by smtp_send (default "test")
#   SMTP_HELO                          EHLO name (default client.test.example)

: "${SMTP_HELO:=client.test.example}"

SMTP_FD=
SMTP_REPLY=
SMTP_CODE=

# _smtp_read: read one (multi-line) reply; SMTP_REPLY = last line.
_smtp_read() {
	local line
	SMTP_REPLY=
	SMTP_CODE=
	while IFS= read -r -t "${SMTP_TIMEOUT:-60}" -u "$SMTP_FD" line; do
		line=${line%$'\r'}
		SMTP_REPLY=$line
		case $line in
		[0-9][0-9][0-9]-*) continue ;;
		esac
		SMTP_CODE=${line:0:3}
		return 0
	done
	SMTP_REPLY="(connection closed or timed out)"
	SMTP_CODE=000
	return 1
}

# smtp_open PORT [HELO]
smtp_open() {
	exec {SMTP_FD}<>"/dev/tcp/127.0.0.1/$1" || return 1
	_smtp_read
	echo "CONNECT => $SMTP_REPLY"
	smtp_cmd "EHLO ${2:-$SMTP_HELO}"
}

# _smtp_write TEXT...: one line each, CRLF; in a subshell so that a
# connection closed by the server (SIGPIPE) cannot kill the test.
_smtp_write() {
	(printf '%s\r\n' "$@" 1>&"$SMTP_FD") 2>/dev/null
}

# smtp_cmd LINE
smtp_cmd() {
	_smtp_write "$1"
	_smtp_read
	echo "$1 => $SMTP_REPLY"
}

# smtp_data [SUBJECT]
smtp_data() {
	smtp_cmd "DATA"
	[ "$SMTP_CODE" = 354 ] || return 1
	_smtp_write "From: <sender@example.net>" "To: <recipients@corp.example>" \
		"Subject: ${1:-test}" "Message-ID: <$RANDOM.$RANDOM.$$@client.test.example>" \
		"" "nsmilter test message: ${1:-test}" "."
	_smtp_read
	echo ". => $SMTP_REPLY"
}

smtp_close() {
	[ -n "$SMTP_FD" ] || return 0
	smtp_cmd "QUIT" >/dev/null
	exec {SMTP_FD}>&-
	SMTP_FD=
}

# smtp_send PORT FROM RCPT...: one message; prints "CMD => REPLY" lines.
smtp_send() {
	local port=$1 from=$2 r addr args ok=0
	shift 2
	smtp_open "$port" || { echo "CONNECT => (refused)"; return 1; }
	smtp_cmd "MAIL FROM:<$from>"
	if [ "${SMTP_CODE:0:1}" = 2 ]; then
		for r in "$@"; do
			addr=${r%% *}
			args=
			[ "$addr" != "$r" ] && args=" ${r#* }"
			smtp_cmd "RCPT TO:<$addr>$args"
			[ "${SMTP_CODE:0:1}" = 2 ] && ok=1
		done
		if [ "$ok" = 1 ]; then
			smtp_data "${SMTP_SUBJECT:-test}"
		fi
	fi
	smtp_close
}

# smtp_reply_of OUTPUT ADDRESS: the reply line to "RCPT TO:<ADDRESS>..."
smtp_reply_of() {
	printf '%s\n' "$1" | grep -F "RCPT TO:<$2>" | sed 's/.* => //' | head -1
}
# smtp_retry SECONDS ADDRESS CMD...
smtp_retry() {
	local n=$1 addr=$2 i out
	shift 2
	for ((i = 0; i < n; i++)); do
		((i == 0)) || sleep 1
		out=$("$@")
		smtp_reply_of "$out" "$addr" | grep -q '^250 ' && break
	done
	printf '%s\n' "$out"
}

# smtp_queue_id OUTPUT: the queue id from "250 2.0.0 Ok: queued as ID"
smtp_queue_id() {
	printf '%s\n' "$1" | sed -n 's/^\. => 250 .*queued as \([0-9A-Za-z]*\).*/\1/p'
}

# smtp_send_from SOURCE-IP PORT FROM RCPT...: like smtp_send, but connecting
# from another local address (a foreign mail system sending back, for the
# loop guard; an outside client).  Uses swaks --local-interface; no ESMTP
# arguments on RCPT.  Same "CMD => REPLY" output.
smtp_send_from() {
	local src=$1 port=$2 from=$3 to
	shift 3
	to=$(IFS=,; echo "$*")
	swaks --server "127.0.0.1:$port" --local-interface "$src" --helo "$SMTP_HELO" \
		--from "$from" --to "$to" --header "Subject: ${SMTP_SUBJECT:-test}" \
		--timeout 60 2>&1 |
		awk '/^ (->|\*\*) / { c = $0; sub(/^ (->|\*\*) +/, "", c); next }
		     /^<(-|\*\*) +[0-9][0-9][0-9]( |$)/ {
			r = $0; sub(/^<(-|\*\*) +/, "", r)
			if (c == "") c = "CONNECT"
			print c " => " r; c = "" }'
}
