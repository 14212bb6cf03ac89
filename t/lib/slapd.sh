# t/lib/slapd.sh - private slapd instances for the integration tests (bash).
#
# Source after t/lib/common.sh.  Each instance lives in $T_DIR/slapd-NAME/
# (slapd.conf, mdb database, slapd.log with "-d stats" output, ldapi
# socket), listens on 127.0.0.1 only and is stopped when the test exits.
#
#   slapd_start NAME PORT SCHEMAS LDIF [OPTION...]
#       SCHEMAS: schema files besides core, cosine and inetorgperson,
#       space- or comma-separated, looked up in t/fixtures/ldap then
#       /etc/ldap/schema ("-" for none).  LDIF: data file (same lookup);
#       the suffix is the DN of its first entry.  OPTIONS:
#         tls          TLS certificate (StartTLS on the ldap:// port)
#         ldaps=PORT   also listen on ldaps://127.0.0.1:PORT/ (implies tls)
#         bindonly     anonymous clients may bind but not read
#         syncprov     the syncprov overlay (RFC 4533 provider, what
#                      sync = syncrepl reads), no size limit, and a
#                      1 GB database for large fixtures
#   slapd_stop NAME / slapd_restart NAME
#   slapd_freeze NAME / slapd_thaw NAME   SIGSTOP / SIGCONT: the kernel still
#       accepts TCP connections, nothing answers them
#   slapd_uri NAME, slapd_ldaps_uri NAME, slapd_log NAME
#   slapd_modify NAME       ldapmodify as the instance's rootdn, LDIF on stdin
#   slapd_for_load DIR  the benchmarks' slapd (bench/run.sh, bench/soak.sh):
#       DIR/slapd.conf.in with equality indexes on objectClass, mail,
#       proxyAddresses and mailLocalAddress, a 2 GB map and no logging, and a
#       wrapper running slapd with "-d 0" (an operation log would be
#       measured too); fixtures are then looked up in DIR (ad.schema is
#       copied there; DIR/hq.ldif and DIR/legacy.ldif are the caller's).
#       Sets SLAPD_FIXTURES and SLAPD_BIN.
#   slapd_make_ca DIR   test PKI: DIR/ca.pem, DIR/server.{pem,key} (for
#       127.0.0.1 and localhost) and DIR/other-ca.pem, an unrelated CA
#       (the wrong-CA case).  Generated at test time with openssl; TLS
#       instances use $SLAPD_PKI (default $T_DIR/pki), made on first use.
#
# The fixtures and the nsmilter.ini settings the tests use with them:
#
#   hq      slapd_start hq PORT ad.schema hq.ldif bindonly
#           base      = DC=corp,DC=example
#           bind_dn   = CN=nsmilter,OU=Service,DC=corp,DC=example
#           password  = hq-Secret-42
#           filter    = (|(mail=%s)(proxyAddresses=smtp:%s))
#           target_attribute = targetAddress
#   legacy  slapd_start legacy PORT misc.schema legacy.ldif
#           base      = ou=people,dc=legacy,dc=example   (anonymous)
#           filter    = (|(mail=%s)(mailLocalAddress=%s))
#           target_attribute = mailRoutingAddress
#
# The entries are described at the top of each LDIF file.

SLAPD_FIXTURES=$NSMILTER_SRCDIR/t/fixtures/ldap
: "${SLAPD_BIN:=/usr/sbin/slapd}"
: "${SLAPADD_BIN:=/usr/sbin/slapadd}"
: "${SLAPD_PKI:=$T_DIR/pki}"
# shellcheck source=pki.sh
. "$NSMILTER_SRCDIR/t/lib/pki.sh"

_slapd_find() {
	if [ -f "$SLAPD_FIXTURES/$1" ]; then echo "$SLAPD_FIXTURES/$1"
	elif [ -f "/etc/ldap/schema/$1" ]; then echo "/etc/ldap/schema/$1"
	elif [ -f "$1" ]; then echo "$1"
	else echo "slapd.sh: no file $1" >&2; return 1; fi
}

# ldapi URL of a socket path: every "/" as %2F.
_slapd_ldapi() { printf 'ldapi://%s' "${1//\//%2F}"; }

slapd_for_load() {
	local dir=$1
	sed -e 's/^maxsize.*/maxsize\t\t2147483648/' -e 's/^loglevel.*/loglevel\t0/' \
	    "$SLAPD_FIXTURES/slapd.conf.in" >"$dir/slapd.conf.in"
	printf '%s\n' 'index	objectClass eq' \
	    'index	mail,proxyAddresses,mailLocalAddress eq' >>"$dir/slapd.conf.in"
	printf '%s\n' '#!/bin/sh' \
	    '# t/lib/slapd.sh calls "slapd -f CONF -h URLS -d stats"' \
	    'exec /usr/sbin/slapd -f "$2" -h "$4" -d 0' >"$dir/slapd-quiet"
	chmod 755 "$dir/slapd-quiet"
	# Both instances index proxyAddresses and mailLocalAddress: hq's
	# ad.schema and legacy's misc.schema each carry the other one here.
	cat "$SLAPD_FIXTURES/ad.schema" /etc/ldap/schema/misc.schema \
	    >"$dir/ad.schema" || return 1
	cp "$dir/ad.schema" "$dir/misc.schema" || return 1
	SLAPD_FIXTURES=$dir
	SLAPD_BIN=$dir/slapd-quiet
}

slapd_make_ca() {
	pki_make "$1" server localhost "IP:127.0.0.1,DNS:localhost" 3 \
	    "nsmilter test CA" || {
		echo "slapd_make_ca: failed, see $1/make-ca.log" >&2
		return 1
	}
}

# _slapd_run NAME: start the configured instance and wait until it answers.
_slapd_run() {
	local dir=$T_DIR/slapd-$1 port
	port=$(cat "$dir/port")
	"$SLAPD_BIN" -f "$dir/slapd.conf" -h "$(cat "$dir/urls")" -d stats \
	    >>"$dir/slapd.log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	if ! wait_port "$port"; then
		echo "slapd_start $1: port $port not open, log:" >&2
		tail -20 "$dir/slapd.log" >&2
		return 1
	fi
}

slapd_start() {
	local name=$1 port=$2 schemas=$3 ldif=$4
	shift 4
	local dir=$T_DIR/slapd-$name opt tls=no ldaps_port= anon=read
	local includes= s f suffix tlsconf= urls modules= dbextra=
	local maxsize=16777216
	for opt in "$@"; do
		case $opt in
		tls) tls=yes ;;
		ldaps=*) tls=yes; ldaps_port=${opt#ldaps=} ;;
		bindonly) anon=auth ;;
		syncprov)
			modules="moduleload	syncprov"
			maxsize=1073741824
			dbextra="index		entryCSN,entryUUID eq
limits		* size=unlimited time=unlimited
overlay		syncprov
syncprov-checkpoint	100 10
syncprov-sessionlog	10000" ;;
		*) echo "slapd_start: unknown option $opt" >&2; return 1 ;;
		esac
	done
	mkdir -p "$dir/db" || return 1
	for s in ${schemas//,/ }; do
		[ "$s" = - ] && continue
		f=$(_slapd_find "$s") || return 1
		includes+="include		$f"$'\n'
	done
	ldif=$(_slapd_find "$ldif") || return 1
	suffix=$(sed -n 's/^dn: *//p' "$ldif" | head -1)
	if [ "$tls" = yes ]; then
		[ -f "$SLAPD_PKI/server.pem" ] || slapd_make_ca "$SLAPD_PKI" ||
		    return 1
		tlsconf="TLSCACertificateFile	$SLAPD_PKI/ca.pem
TLSCertificateFile	$SLAPD_PKI/server.pem
TLSCertificateKeyFile	$SLAPD_PKI/server.key"
	fi
	INCLUDES=$includes TLS=$tlsconf DIR=$dir SUFFIX=$suffix ANON=$anon \
	    MODULES=$modules DBEXTRA=$dbextra MAXSIZE=$maxsize \
	    awk '{
		while (match($0, /@[A-Z]+@/)) {
			k = substr($0, RSTART + 1, RLENGTH - 2)
			$0 = substr($0, 1, RSTART - 1) ENVIRON[k] \
			    substr($0, RSTART + RLENGTH)
		}
		print
	    }' "$SLAPD_FIXTURES/slapd.conf.in" >"$dir/slapd.conf" || return 1
	if ! "$SLAPADD_BIN" -q -f "$dir/slapd.conf" -l "$ldif" \
	    >"$dir/slapadd.log" 2>&1; then
		echo "slapd_start $name: slapadd failed:" >&2
		cat "$dir/slapadd.log" >&2
		return 1
	fi
	urls="ldap://127.0.0.1:$port/ $(_slapd_ldapi "$dir/ldapi")"
	[ -n "$ldaps_port" ] && urls+=" ldaps://127.0.0.1:$ldaps_port/"
	echo "$urls" >"$dir/urls"
	echo "$port" >"$dir/port"
	echo "$suffix" >"$dir/suffix"
	echo "$ldaps_port" >"$dir/ldaps_port"
	at_exit slapd_stop "$name"
	_slapd_run "$name" || return 1
	if [ -n "$ldaps_port" ] && ! wait_port "$ldaps_port"; then
		echo "slapd_start $name: ldaps port $ldaps_port not open" >&2
		return 1
	fi
}

slapd_stop() {
	local dir=$T_DIR/slapd-$1 pid i state
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	rm -f "$dir/pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	kill -CONT "$pid" 2>/dev/null   # a frozen slapd handles TERM only now
	wait_port_closed "$(cat "$dir/port")"
	# Wait until it has exited (a zombie counts as gone): the next slapd
	# on this database must not overlap with it.
	for ((i = 0; i < 100; i++)); do
		state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" \
		    2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
}

slapd_restart() { slapd_stop "$1" && _slapd_run "$1"; }
slapd_freeze() { kill -STOP "$(cat "$T_DIR/slapd-$1/pid")"; }
slapd_thaw() { kill -CONT "$(cat "$T_DIR/slapd-$1/pid")"; }
slapd_uri() { echo "ldap://127.0.0.1:$(cat "$T_DIR/slapd-$1/port")/"; }
slapd_ldaps_uri() {
	echo "ldaps://127.0.0.1:$(cat "$T_DIR/slapd-$1/ldaps_port")/"
}
slapd_log() { echo "$T_DIR/slapd-$1/slapd.log"; }
slapd_modify() {
	ldapmodify -x -H "$(slapd_uri "$1")" \
	    -D "cn=admin,$(cat "$T_DIR/slapd-$1/suffix")" -w admin-secret \
	    >>"$T_DIR/slapd-$1/modify.log" 2>&1
}
