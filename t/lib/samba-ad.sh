# t/lib/samba-ad.sh - a throwaway Active Directory domain (Samba AD DC) for
# the integration tests (bash).
#
# Source after t/lib/common.sh, then call ad_netns "$@" before anything
# else: the test re-executes itself, once, in its own network, mount and
# PID namespaces (root only), like the Sendmail tests (t/lib/sendmail.sh).
# Inside:
#   - loopback is up and carries the DC's address, AD_ADDR (127.0.0.10);
#   - /etc/hosts is a private copy (bind mount) that names the DC
#     AD_HOST (dc1.corp.example), so ldaps://dc1.corp.example works;
#   - everything the test starts (samba, nsmilter -q, ldapsearch, Postfix,
#     smtp-sink) shares that namespace; the script is PID 1 there and the
#     kernel kills whatever is left when it exits, however it exits.
#
# The domain: realm CORP.EXAMPLE, NetBIOS domain CORP, DC "DC1", base
# AD_BASE (DC=corp,DC=example), provisioned with samba-tool
# (--use-rfc2307, internal DNS), Exchange's targetAddress added to the
# schema (t/fixtures/ad/exchange-schema.ldif) and the recipients of
# t/fixtures/ad/corp.ldif (see its header); the service account holds
# "Replicating Directory Changes" on the domain and List Contents + Read
# Property on CN=Deleted Objects, as DirSync needs (README, "Active
# Directory").  Only the LDAP server runs
# (server services = ldap): ports 389 (StartTLS), 636 (LDAPS), 3268 and
# 3269 (Global Catalog), with a test CA's certificate for AD_HOST only (no
# IP address in it: ldaps://127.0.0.10 is a host-name mismatch).  AD keeps
# its default "ldap server require strong auth = yes": a simple bind over
# plain ldap:// is refused.
#
# Provisioning takes ~9 s; it is done once and kept as a template in
# $NSMILTER_AD_CACHE (default /tmp/nsmilter-samba-ad), one per content of
# this file, t/lib/pki.sh, the fixtures and the Samba version, rebuilt
# after a day.
# Each test copies the template into $T_DIR/ad and starts in ~1 s.
#
#   ad_netns ARGS            (re-)run the calling script in the namespaces
#   ad_start                 copy the template (first call), start samba;
#                            returns when LDAP answers on AD_ADDR
#   ad_stop                  stop samba by PID, wait until it has exited
#   ad_restart               ad_stop + ad_start (same database)
#   ad_pid, ad_dir, ad_log   the running samba, its folder, its log file
#   ad_ca / ad_other_ca      PEM of the CA that signed the DC's certificate,
#                            and of an unrelated CA (the wrong-CA case)
#   ad_secret_file           a file holding AD_PASSWORD (bind_password_file)
#   ad_search ARGS...        ldapsearch over LDAPS as the service account,
#                            base AD_BASE unless ARGS give -b (-E for
#                            controls, e.g. -E '!dirSync=0/0')
#   ad_modify                ldapmodify over LDAPS as Administrator, LDIF on
#                            stdin: what an admin's change looks like to a
#                            running DC (DirSync sees it)
#   ad_add_user NAME MAIL [PROXY...]   enabled user CN=NAME,OU=Staff
#                            (sAMAccountName NAME), proxyAddresses as given
#   ad_add_contact NAME TARGET [PROXY...]  contact CN=NAME,OU=Contacts
#   ad_delete NAME           delete CN=NAME from OU=Staff or OU=Contacts
#   ad_disable_user NAME / ad_enable_user NAME   userAccountControl 514/512
#   ad_set_proxies NAME PROXY...       replace proxyAddresses
#   ad_add_proxy NAME PROXY / ad_del_proxy NAME PROXY
#   ad_directory [LINE...]   print [directory ad] for nsmilter.ini: LDAPS,
#                            bound by AD_BIND_UPN, disabled accounts left
#                            out (AD_FILTER_ENABLED), targetAddress,
#                            timeout = 2s; LINEs as ini_section's overrides
#                            (t/lib/common.sh): "KEY = VALUE" or "-KEY"
#   ad_domain                print [domain corp.example]: authoritative,
#                            directories = ad
#   ad_dn NAME               the DN of CN=NAME (user, group or contact)
#
# The nsmilter.ini settings the tests use with it:
#   uri       = ldaps://dc1.corp.example   (or ldap://... + starttls = yes,
#               ldaps://dc1.corp.example:3269 with base = for the GC)
#   bind_dn   = AD_BIND_DN, AD_BIND_UPN or AD_BIND_DOWNLEVEL
#   bind_password_file = $(ad_secret_file)
#   tls_ca_file = $(ad_ca)
#   base      = DC=corp,DC=example
#   filter    = (|(mail=%s)(proxyAddresses=smtp:%s))
#   target_attribute = targetAddress

AD_ADDR=127.0.0.10
AD_HOST=dc1.corp.example
AD_REALM=CORP.EXAMPLE
AD_DOMAIN=CORP
AD_BASE=DC=corp,DC=example
AD_PASSWORD=Svc-Secret-42
AD_ADMIN_PASSWORD=Admin-Secret-42
AD_BIND_DN=CN=nsmilter,OU=Service,DC=corp,DC=example
AD_BIND_UPN=svc-nsmilter@corp.example
AD_BIND_DOWNLEVEL='CORP\svc-nsmilter'
AD_FILTER_PLAIN='(|(mail=%s)(proxyAddresses=smtp:%s))'
AD_FILTER_ENABLED='(&(|(mail=%s)(proxyAddresses=smtp:%s))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))'
AD_FIXTURES=$NSMILTER_SRCDIR/t/fixtures/ad
# shellcheck source=pki.sh
. "$NSMILTER_SRCDIR/t/lib/pki.sh"
: "${NSMILTER_AD_CACHE:=/tmp/nsmilter-samba-ad}"

ad_netns() {
	if [ "${NSMILTER_AD_NETNS:-}" != 1 ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "not ok - setup: the Samba AD tests run as root (unshare -n -m -p)"
			echo "0 passed, 1 failed"
			exit 1
		fi
		# this T_DIR is empty: the re-executed script makes its own
		rm -rf "$T_DIR"
		trap - EXIT
		NSMILTER_AD_NETNS=1 exec unshare -n -m -p -f --mount-proc \
		    --kill-child -- bash "$0" "$@"
		echo "not ok - setup: cannot exec unshare"
		exit 1
	fi
	printf '127.0.0.1\tlocalhost\n%s\t%s %s\n' "$AD_ADDR" "$AD_HOST" \
	    "${AD_HOST%%.*}" >"$T_DIR/hosts"
	ip link set lo up && ip addr add "$AD_ADDR/32" dev lo &&
		mount --bind "$T_DIR/hosts" /etc/hosts || {
		echo "not ok - setup: network namespace (lo, $AD_ADDR, /etc/hosts)"
		echo "0 passed, 1 failed"
		exit 1
	}
}

ad_dir() { echo "$T_DIR/ad"; }
ad_log() { echo "$T_DIR/ad/samba.log"; }
ad_pid() { cat "$T_DIR/ad/pid" 2>/dev/null; }
ad_ca() { echo "$T_DIR/ad/pki/ca.pem"; }
ad_other_ca() { echo "$T_DIR/ad/pki/other-ca.pem"; }
ad_secret_file() {
	if [ ! -f "$T_DIR/ad/svc.secret" ]; then
		printf '%s\n' "$AD_PASSWORD" >"$T_DIR/ad/svc.secret"
		chmod 600 "$T_DIR/ad/svc.secret"	# else nsmilter warns
	fi
	echo "$T_DIR/ad/svc.secret"
}

# _ad_pwd PASSWORD: unicodePwd's value, base64 (quoted, UTF-16LE).
_ad_pwd() { printf '"%s"' "$1" | iconv -f utf-8 -t utf-16le | base64 -w0; }

_ad_key() {
	{
		cat "${BASH_SOURCE[0]}" "$NSMILTER_SRCDIR/t/lib/pki.sh" \
		    "$AD_FIXTURES"/*
		samba -V
	} | sha256sum | cut -c1-16
}

# _ad_pki DIR: ca.pem (signs the DC's certificate), other-ca.pem, and
# dc1.pem/dc1.key for AD_HOST only.
_ad_pki() {
	pki_make "$1" dc1 DC1.corp.example "DNS:$AD_HOST" 30 \
	    "nsmilter AD test CA"
}

# _ad_schema_step N: step N of exchange-schema.ldif, ${SCHEMADN} filled in.
_ad_schema_step() {
	awk -v n="$1" -v s="CN=Schema,CN=Configuration,$AD_BASE" '
		/^# --- step / { step = $4; next }
		step == n && !/^#/ { gsub(/\$\{SCHEMADN\}/, s); print }
	' "$AD_FIXTURES/exchange-schema.ldif"
}

# _ad_build DIR: provision the domain into DIR/dc, extend the schema, add
# the recipients, make the PKI.
_ad_build() {
	local dir=$1 sam n
	samba-tool domain provision --server-role=dc \
	    --dns-backend=SAMBA_INTERNAL --use-rfc2307 \
	    --realm="$AD_REALM" --domain="$AD_DOMAIN" --host-name=DC1 \
	    --host-ip="$AD_ADDR" --adminpass="$AD_ADMIN_PASSWORD" \
	    --option="server services = ldap" \
	    --targetdir="$dir/dc" >"$dir/provision.log" 2>&1 || {
		echo "samba-ad: provision failed:" >&2
		tail -20 "$dir/provision.log" >&2
		return 1
	}
	sam=$dir/dc/private/sam.ldb
	for n in 1 2 3; do
		_ad_schema_step "$n" >"$dir/schema-$n.ldif"
		ldbmodify -H "$sam" --option="dsdb:schema update allowed=true" \
		    "$dir/schema-$n.ldif" >>"$dir/provision.log" 2>&1 || {
			echo "samba-ad: schema step $n failed:" >&2
			tail -5 "$dir/provision.log" >&2
			return 1
		}
	done
	sed "s|@PASSWORD@|$(_ad_pwd "$AD_PASSWORD")|" "$AD_FIXTURES/corp.ldif" \
	    >"$dir/corp.ldif"
	ldbadd -H "$sam" "$dir/corp.ldif" >>"$dir/provision.log" 2>&1 || {
		echo "samba-ad: adding the recipients failed:" >&2
		tail -5 "$dir/provision.log" >&2
		return 1
	}
	# DirSync (the directory mirror) needs "Replicating Directory Changes"
	samba-tool dsacl set -H "$sam" --car=get-changes --action=allow \
	    --objectdn="$AD_BASE" --trusteedn="$AD_BIND_DN" \
	    >>"$dir/provision.log" 2>&1 || {
		echo "samba-ad: granting DirSync to the service account failed" >&2
		return 1
	}
	# ... and, with Samba, List Contents and Read Property on the Deleted
	# Objects container, or DirSync hides deletions from it (README,
	# "Active Directory")
	local sid sd
	sid=$(ldbsearch -H "$sam" "(sAMAccountName=svc-nsmilter)" objectSid |
	    sed -n 's/^objectSid: //p')
	sd=$(ldbsearch -H "$sam" -b "CN=Deleted Objects,$AD_BASE" -s base \
	    --controls=show_deleted:1 nTSecurityDescriptor |
	    awk '/^ / { sub(/^ /, ""); printf "%s", $0; next } { printf "\n%s", $0 }' |
	    sed -n 's/^nTSecurityDescriptor: //p')
	case "$sid,$sd" in
	S-1-*,*D:PAI*) ;;
	*) echo "samba-ad: cannot read the Deleted Objects ACL" >&2; return 1 ;;
	esac
	printf 'dn: CN=Deleted Objects,%s\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: %s\n' \
	    "$AD_BASE" "${sd/D:PAI/D:PAI(A;CI;LCRP;;;$sid)}" |
	    ldbmodify -H "$sam" --controls=show_deleted:1 >>"$dir/provision.log" 2>&1 || {
		echo "samba-ad: granting the Deleted Objects container failed" >&2
		return 1
	}
	_ad_pki "$dir/pki" || { echo "samba-ad: test PKI failed" >&2; return 1; }
	rm -f "$dir/dc/etc/smb.conf"
}

# _ad_template: print the template folder, building it if needed (under a
# lock: several tests may start at once).
_ad_template() {
	local key tpl tmp
	key=$(_ad_key)
	tpl=$NSMILTER_AD_CACHE/$key
	mkdir -p "$NSMILTER_AD_CACHE" || return 1
	(
		flock 9
		if [ -d "$tpl" ] && [ -z "$(find "$tpl" -maxdepth 0 -mmin +1440)" ]; then
			exit 0
		fi
		rm -rf "$tpl"
		# templates of other versions of this file, unused for a day
		find "$NSMILTER_AD_CACHE" -mindepth 1 -maxdepth 1 -type d \
		    -mmin +1440 -exec rm -rf {} + 2>/dev/null
		tmp=$(mktemp -d "$NSMILTER_AD_CACHE/build.XXXXXX") || exit 1
		if _ad_build "$tmp"; then
			mv "$tmp" "$tpl"
		else
			rm -rf "$tmp"
			exit 1
		fi
	) 9>"$NSMILTER_AD_CACHE/lock" || return 1
	echo "$tpl"
}

_ad_smb_conf() {
	local d=$1
	cat <<EOF
[global]
	netbios name = DC1
	realm = $AD_REALM
	workgroup = $AD_DOMAIN
	server role = active directory domain controller
	server services = ldap
	interfaces = $AD_ADDR
	bind interfaces only = yes
	ldap server require strong auth = yes
	private dir = $d/dc/private
	lock directory = $d/dc
	state directory = $d/dc/state
	cache directory = $d/dc/cache
	binddns dir = $d/dc/bind-dns
	pid directory = $d/run
	ncalrpc dir = $d/run/ncalrpc
	winbindd socket directory = $d/run/winbindd
	log file = $d/samba.log
	log level = 1
	tls enabled = yes
	tls keyfile = $d/pki/dc1.key
	tls certfile = $d/pki/dc1.pem
	tls cafile = $d/pki/ca.pem
	idmap_ldb:use rfc2307 = yes
EOF
}

_ad_answers() {
	LDAPTLS_CACERT=$(ad_ca) ldapsearch -x -H "ldap://$AD_ADDR" -s base \
	    -b "" -LLL dnsHostName >/dev/null 2>&1
}

ad_start() {
	local d=$T_DIR/ad tpl pid
	if [ ! -d "$d/dc" ]; then
		tpl=$(_ad_template) || return 1
		mkdir -p "$d/run" && cp -a "$tpl/dc" "$tpl/pki" "$d/" || return 1
		_ad_smb_conf "$d" >"$d/smb.conf"
	fi
	samba -F -M single -s "$d/smb.conf" </dev/null >>"$d/samba.out" 2>&1 &
	pid=$!
	echo "$pid" >"$d/pid"
	at_exit ad_stop
	if ! wait_for _ad_answers; then
		echo "ad_start: samba does not answer on $AD_ADDR:389; log:" >&2
		tail -20 "$d/samba.out" "$d/samba.log" >&2
		return 1
	fi
}

ad_stop() {
	local d=$T_DIR/ad pid i state
	[ -f "$d/pid" ] || return 0
	pid=$(cat "$d/pid")
	rm -f "$d/pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		sleep 0.1
	done
	[ -z "$state" ] || [ "$state" = Z ] || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

ad_restart() { ad_stop && ad_start; }

ad_search() {
	local b=(-b "$AD_BASE") a
	for a in "$@"; do [ "$a" = -b ] && b=(); done
	LDAPTLS_CACERT=$(ad_ca) ldapsearch -x -LLL -o ldif-wrap=no \
	    -H "ldaps://$AD_HOST" -D "$AD_BIND_UPN" -w "$AD_PASSWORD" \
	    "${b[@]}" "$@"
}

ad_modify() {
	LDAPTLS_CACERT=$(ad_ca) ldapmodify -x -H "ldaps://$AD_HOST" \
	    -D "Administrator@${AD_REALM,,}" -w "$AD_ADMIN_PASSWORD"
}

ad_dn() {
	local dn
	dn=$(ad_search "(cn=$1)" 1.1 | sed -n 's/^dn: //p' | head -1)
	[ -n "$dn" ] || { echo "ad_dn: no entry CN=$1" >&2; return 1; }
	echo "$dn"
}

ad_add_user() {
	local name=$1 mail=$2 p
	shift 2
	{
		echo "dn: CN=$name,OU=Staff,$AD_BASE"
		echo "changetype: add"
		echo "objectClass: user"
		echo "sAMAccountName: $name"
		echo "userPrincipalName: $name@${AD_REALM,,}"
		echo "mail: $mail"
		for p in "$@"; do echo "proxyAddresses: $p"; done
		echo "unicodePwd:: $(_ad_pwd "$AD_PASSWORD")"
		echo "userAccountControl: 512"
	} | ad_modify >/dev/null
}

ad_add_contact() {
	local name=$1 target=$2 p
	shift 2
	{
		echo "dn: CN=$name,OU=Contacts,$AD_BASE"
		echo "changetype: add"
		echo "objectClass: contact"
		echo "targetAddress: $target"
		for p in "$@"; do echo "proxyAddresses: $p"; done
	} | ad_modify >/dev/null
}

ad_delete() {
	local dn
	dn=$(ad_dn "$1") || return 1
	printf 'dn: %s\nchangetype: delete\n' "$dn" | ad_modify >/dev/null
}

_ad_uac() {
	local dn
	dn=$(ad_dn "$1") || return 1
	printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: %s\n' \
	    "$dn" "$2" | ad_modify >/dev/null
}
ad_disable_user() { _ad_uac "$1" 514; }
ad_enable_user() { _ad_uac "$1" 512; }

# _ad_proxies NAME OP [PROXY...]: OP (replace, add, delete) proxyAddresses.
_ad_proxies() {
	local dn op=$2 p
	dn=$(ad_dn "$1") || return 1
	shift 2
	{
		printf 'dn: %s\nchangetype: modify\n%s: proxyAddresses\n' "$dn" "$op"
		for p in "$@"; do echo "proxyAddresses: $p"; done
	} | ad_modify >/dev/null
}
ad_set_proxies() { local n=$1; shift; _ad_proxies "$n" replace "$@"; }
ad_add_proxy() { _ad_proxies "$1" add "$2"; }
ad_del_proxy() { _ad_proxies "$1" delete "$2"; }

ad_directory() {
	ini_section "directory ad" "uri = ldaps://$AD_HOST" \
		"bind_dn = $AD_BIND_UPN" \
		"bind_password_file = $(ad_secret_file)" \
		"tls_ca_file = $(ad_ca)" "base = $AD_BASE" \
		"filter = $AD_FILTER_ENABLED" "target_attribute = targetAddress" \
		"timeout = 2s" -- "$@"
}

ad_domain() {
	ini_section "domain corp.example" "type = authoritative" \
		"directories = ad"
}
