# t/lib/common.sh - shared helpers for the integration tests (bash).
#
# Source it first.  It gives every test a private work directory, a cleanup
# trap that stops whatever the test started, loopback port allocation and
# assertions that print "got X, want Y" and count failures.
# Tests talk to 127.0.0.1 only.

set -u
: "${NSMILTER_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${NSMILTER_BUILDDIR:=$NSMILTER_SRCDIR/build}"
: "${NSMILTER:=$NSMILTER_BUILDDIR/nsmilter}"
export NSMILTER NSMILTER_SRCDIR NSMILTER_BUILDDIR

T_NAME=$(basename "${0%.sh}")
T_DIR=$(mktemp -d "/tmp/nsmilter-test.$T_NAME.XXXXXX")
chmod 755 "$T_DIR"
T_FAILS=0
T_PASSES=0
T_CLEANUP=()

# at_exit CMD...: run CMD when the test exits (last registered runs first).
at_exit() { T_CLEANUP+=("$*"); }

t_cleanup() {
	local i
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[$i]}" >/dev/null 2>&1 || true
	done
	if [ "$T_FAILS" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
		rm -rf "$T_DIR"
	else
		echo "# test directory kept: $T_DIR" >&2
	fi
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# now_ms: the wall clock in milliseconds (for durations a test reports).
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# free_port: print a TCP port on 127.0.0.1 that nothing listens on, below
# the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 up on
# Debian): a port from that range may be the local end of some client's
# connection at the moment a server binds it (EADDRINUSE).
free_port() {
	local p n lo=32768
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	[ "$lo" -gt 12000 ] || lo=32768
	for n in $(seq 1 200); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "free_port: no free port" >&2
	return 1
}

# wait_for CMD...: retry CMD every 0.1 s for up to WAIT_SECONDS (default 15).
wait_for() {
	local i max=$(( ${WAIT_SECONDS:-15} * 10 ))
	for ((i = 0; i < max; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}
# port_open PORT [HOST]: something accepts connections on HOST (127.0.0.1):PORT.
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }
wait_port() { wait_for port_open "$@"; }
wait_port_closed() { wait_for bash -c "! (exec 3<>/dev/tcp/${2:-127.0.0.1}/$1) 2>/dev/null"; }

pass() { T_PASSES=$((T_PASSES + 1)); echo "ok - $*"; }
fail() { T_FAILS=$((T_FAILS + 1)); echo "not ok - $*"; }

# assert_eq GOT WANT DESCRIPTION
assert_eq() {
	if [ "$1" = "$2" ]; then pass "$3"
	else fail "$3: got '$1', want '$2'"; fi
}
# assert_match TEXT REGEX DESCRIPTION (grep -E on multi-line text)
assert_match() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then pass "$3"
	else fail "$3: no line matches /$2/ in:"; printf '%s\n' "$1" | sed 's/^/#   /'; fi
}
assert_no_match() {
	if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then pass "$3"
	else fail "$3: a line matches /$2/ in:"; printf '%s\n' "$1" | sed 's/^/#   /'; fi
}
# assert_file_match FILE REGEX DESCRIPTION
assert_file_match() {
	if [ -f "$1" ] && grep -Eq -- "$2" "$1"; then pass "$3"
	else fail "$3: /$2/ not in $1"; [ -f "$1" ] && sed 's/^/#   /' "$1" | tail -40; fi
}

# ini_section NAME DEFAULT... [-- OVERRIDE...]: print "[NAME]", the DEFAULT
# lines ("KEY = VALUE") with each OVERRIDE applied, and a blank line.  An
# OVERRIDE "KEY = VALUE" replaces the KEY line, or is added when there is
# none; "-KEY" drops the KEY line.
ini_section() {
	local name=$1 lines=() line key i found
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		lines+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	for line in "$@"; do
		key=$(_ini_key "$line")
		found=
		for i in "${!lines[@]}"; do
			[ "$(_ini_key "${lines[$i]}")" = "$key" ] || continue
			found=1
			if [ "${line:0:1}" = - ]; then unset 'lines[i]'; else lines[i]=$line; fi
			break
		done
		[ -n "$found" ] || [ "${line:0:1}" = - ] || lines+=("$line")
	done
	printf '[%s]\n' "$name"
	[ ${#lines[@]} -eq 0 ] || printf '%s\n' "${lines[@]}"
	echo
}

# _ini_key LINE: the key of "KEY = VALUE" or "-KEY".
_ini_key() {
	local k=${1#-}
	k=${k%%=*}
	k=${k%"${k##*[![:space:]]}"}
	printf '%s' "$k"
}

# setup_failed WHAT: the test cannot run; count one failure and stop.
setup_failed() { fail "setup: $*"; done_testing; }

# done_testing: print the summary line and exit with the result.
done_testing() {
	echo "$T_PASSES passed, $T_FAILS failed"
	if [ "$T_PASSES" -eq 0 ]; then
		echo "# no assertion ran" >&2
		exit 1
	fi
	[ "$T_FAILS" -eq 0 ]
	exit $?
}
