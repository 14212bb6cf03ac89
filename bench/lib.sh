# bench/lib.sh - what the benchmark scripts share (bash; source it after
# t/lib/common.sh): progress lines, results read from the tools' RESULT
# lines, /proc readings, and the two generated directories.

T0=$(date +%s)
say() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
die() { say "FAILED: $*"; T_FAILS=1; exit 1; }

# kv FILE KEY: KEY=value from the RESULT line of a tool's output.
kv() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | tail -1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_directories DIR N: DIR/hq.ldif (the even users u2, u4, ... of N,
# AD-like, each with an alias) and DIR/legacy.ldif (the odd users,
# inetLocalMailRecipient), as t/lib/slapd.sh's hq and legacy fixtures.
bench_directories() {
	say "generating $2 users"
	awk -v n="$2" 'BEGIN {
		print "dn: DC=corp,DC=example\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp Example\n"
		print "dn: OU=Service,DC=corp,DC=example\nobjectClass: organizationalUnit\nou: Service\n"
		print "dn: CN=nsmilter,OU=Service,DC=corp,DC=example\nobjectClass: user\ncn: nsmilter\nsn: nsmilter\nsAMAccountName: nsmilter\nuserPassword: hq-Secret-42\n"
		print "dn: OU=Users,DC=corp,DC=example\nobjectClass: organizationalUnit\nou: Users\n"
		for (i = 2; i <= n; i += 2)
			printf "dn: CN=User %d,OU=Users,DC=corp,DC=example\nobjectClass: user\ncn: User %d\nsn: %d\nsAMAccountName: u%d\nmail: %du@corp.example\nproxyAddresses: SMTP:%du@corp.example\nproxyAddresses: smtp:alias%d@corp.example\n\n", i, i, i, i, i, i, i
	}' >"$1/hq.ldif"
	awk -v n="$2" 'BEGIN {
		print "dn: dc=legacy,dc=example\nobjectClass: dcObject\nobjectClass: organization\ndc: legacy\no: Legacy Example\n"
		print "dn: ou=people,dc=legacy,dc=example\nobjectClass: organizationalUnit\nou: people\n"
		for (i = 1; i <= n; i += 2)
			printf "dn: uid=u%d,ou=people,dc=legacy,dc=example\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\nuid: u%d\ncn: User %d\nsn: %d\nmail: %du@corp.example\nmailLocalAddress: %du@corp.example\n\n", i, i, i, i, i, i
	}' >"$1/legacy.ldif"
}
