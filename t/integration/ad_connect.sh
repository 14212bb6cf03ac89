#!/bin/bash
# ad_connect.sh - how nsmilter connects and binds to a real Active Directory
# (a Samba AD DC, t/lib/samba-ad.sh): LDAPS (636) and StartTLS (389) with a
# bind by DN, by user principal name and by down-level name (CORP\user);
# a simple bind over plain ldap:// is refused by AD (strong authentication
# required) and the admin sees AD's reason; an untrusted CA, a host name
# the certificate does not name and a wrong password are tempfails, never
# an accept, and the message says which TLS step failed and why; tls_verify
# = no connects anyway.  nsmilter -n warns about a bind password sent over
# plain ldap:// and about tls_verify = no.  The Global Catalog (3268
# StartTLS, 3269 LDAPS) is searched from the root, with base = empty.
. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/samba-ad.sh"
ad_netns "$@"
ad_start || { fail "samba AD DC"; done_testing; }

# ini NAME URI BIND-DN STARTTLS CA-FILE BASE [extra line...]: $T_DIR/NAME.ini
ini() {
	local name=$1 uri=$2 bind=$3 starttls=$4 ca=$5 base=$6
	shift 6
	{
		ini_section milter "cache_ttl = 0" "negative_cache_ttl = 0"
		ad_directory "uri = $uri" "bind_dn = $bind" \
			"starttls = $starttls" "tls_ca_file = $ca" "base = $base" \
			"filter = $AD_FILTER_PLAIN" "timeout = 3s" "$@"
		ad_domain
	} > "$T_DIR/$name.ini"
}
q() { "$NSMILTER" -c "$T_DIR/$1.ini" -q alice@corp.example carol@corp.example 2>&1; }
GOOD="alice@corp.example accept directory=ad
carol@corp.example route to=carol@partner.example directory=ad target=yes"

# --- LDAPS and StartTLS, three ways to name the account ------------------------
for tls in ldaps starttls; do
	for bind in dn upn downlevel; do
		case $tls in
		ldaps) uri=ldaps://$AD_HOST; st=no ;;
		starttls) uri=ldap://$AD_HOST; st=yes ;;
		esac
		case $bind in
		dn) b=$AD_BIND_DN ;;
		upn) b=$AD_BIND_UPN ;;
		downlevel) b=$AD_BIND_DOWNLEVEL ;;
		esac
		ini "$tls-$bind" "$uri" "$b" "$st" "$(ad_ca)" "$AD_BASE"
		assert_eq "$(q "$tls-$bind")" "$GOOD" "$tls ($uri), bind by $bind ($b)"
	done
done

# --- Global Catalog: ports 3269 (LDAPS) and 3268 (StartTLS), the whole forest --
ini gc-ldaps "ldaps://$AD_HOST:3269" "$AD_BIND_UPN" no "$(ad_ca)" ""
ini gc-starttls "ldap://$AD_HOST:3268" "$AD_BIND_DOWNLEVEL" yes "$(ad_ca)" ""
out=$("$NSMILTER" -c "$T_DIR/gc-ldaps.ini" -n 2>&1); rc=$?
assert_eq "$rc:$out" "0:" "-n accepts base = (empty) for the Global Catalog"
assert_eq "$(q gc-ldaps)" "$GOOD" "Global Catalog over LDAPS (3269), base = (empty)"
assert_eq "$(q gc-starttls)" "$GOOD" "Global Catalog over StartTLS (3268), base = (empty)"

# --- the right DirSync needs (README): the service account has it -------------
out=$(ad_search -E '!dirSync=0/0' '(mail=alice@corp.example)' mail 2>&1)
assert_match "$out" '^dn: CN=Alice Smith,' "DirSync: the service account (Replicating Directory Changes) reads changes"
out=$(LDAPTLS_CACERT=$(ad_ca) ldapsearch -x -LLL -H "ldaps://$AD_HOST" -D alice@corp.example \
    -w "$AD_PASSWORD" -b "$AD_BASE" -E '!dirSync=0/0' '(mail=alice@corp.example)' mail 2>&1)
assert_match "$out" 'Insufficient access' "DirSync: an account without that right is refused"

# --- plain ldap:// with a simple bind: AD requires strong authentication -------
ini plain "ldap://$AD_HOST" "$AD_BIND_UPN" no "" "$AD_BASE"
out=$(q plain); rc=$?
assert_eq "$rc" 75 "plain ldap:// + simple bind: -q exits 75 (tempfail)"
assert_match "$out" '^alice@corp.example tempfail code=451 dsn=4.4.3 error="ad: Strong\(er\) authentication required \(BindSimple: Transport encryption required\.\)"$' \
	"plain ldap:// + simple bind: AD's refusal is shown to the admin"
assert_no_match "$out" "accept|$AD_PASSWORD" "plain ldap://: no accept, no password in the message"
# -n warns about it beforehand, and still accepts the configuration
out=$("$NSMILTER" -c "$T_DIR/plain.ini" -n 2>&1); rc=$?
assert_eq "$rc:$out" "0:$T_DIR/plain.ini: [directory ad] starttls: warning: 'no': the bind password goes in clear text to 'ldap://$AD_HOST' (use starttls = yes, or an ldaps:// uri)" \
	"-n: a warning for the bind password over plain ldap://, exit 0"

# --- a wrong password: AD's reason, never the password -----------------------
printf 'not-the-password\n' > "$T_DIR/bad.secret"
ini badpw "ldaps://$AD_HOST" "$AD_BIND_DOWNLEVEL" no "$(ad_ca)" "$AD_BASE"
sed -i "s|^bind_password_file = .*|bind_password_file = $T_DIR/bad.secret|" "$T_DIR/badpw.ini"
out=$(q badpw)
assert_match "$out" '^alice@corp.example tempfail code=451 dsn=4.4.3 error="ad: Invalid credentials \(80090308: LdapErr: .* data 52e' \
	"wrong password: tempfail with AD's reason (data 52e: bad credentials)"
assert_no_match "$out" "not-the-password|accept" "wrong password: no accept, no password in the message"

# --- certificates: untrusted CA, wrong host name -> tempfail, never accept -----
ini ca-ldaps "ldaps://$AD_HOST" "$AD_BIND_UPN" no "$(ad_other_ca)" "$AD_BASE"
ini ca-starttls "ldap://$AD_HOST" "$AD_BIND_UPN" yes "$(ad_other_ca)" "$AD_BASE"
ini host-ldaps "ldaps://$AD_ADDR" "$AD_BIND_UPN" no "$(ad_ca)" "$AD_BASE"
ini host-starttls "ldap://$AD_ADDR" "$AD_BIND_UPN" yes "$(ad_ca)" "$AD_BASE"
# The reason names the TLS step (TLS for ldaps://, StartTLS) and what is
# wrong with the certificate, not "Can't contact LDAP server".
OTHER=$(ad_other_ca)
ISSUER='issued by cn=nsmilter AD test CA,o=nsmilter tests'
while IFS='|' read -r c want; do
	out=$(q "$c"); rc=$?
	assert_eq "$rc" 75 "$c: -q exits 75"
	assert_eq "$(printf '%s\n' "$out" | head -1)" "alice@corp.example tempfail code=451 dsn=4.4.3 error=\"ad: $want\"" \
		"$c: tempfail with the certificate's problem"
	assert_no_match "$out" ' (accept|route|reject) ' "$c: never an accept (nor a reject)"
done <<CASES
ca-ldaps|TLS: certificate not trusted (tls_ca_file $OTHER; $ISSUER)
ca-starttls|StartTLS: certificate not trusted (tls_ca_file $OTHER; $ISSUER)
host-ldaps|TLS: host name $AD_ADDR does not match certificate $AD_HOST
host-starttls|StartTLS: host name $AD_ADDR does not match certificate $AD_HOST
CASES

# --- tls_verify = no: the same wrong CA and host name connect --------------------
ini noverify "ldaps://$AD_ADDR" "$AD_BIND_UPN" no "$(ad_other_ca)" "$AD_BASE" "tls_verify = no"
assert_eq "$(q noverify)" "$GOOD" "tls_verify = no: connects despite CA and host name"
out=$("$NSMILTER" -c "$T_DIR/noverify.ini" -n 2>&1); rc=$?
assert_eq "$rc" 0 "-n: tls_verify = no is accepted"
assert_match "$out" "^$T_DIR/noverify.ini: \[directory ad\] tls_verify: warning: 'no': the server's certificate is not checked" \
	"-n: ... with a warning"
out=$("$NSMILTER" -c "$T_DIR/starttls-upn.ini" -n 2>&1); rc=$?
assert_eq "$rc:$out" "0:" "-n: nothing to say about StartTLS with certificates checked"
done_testing
