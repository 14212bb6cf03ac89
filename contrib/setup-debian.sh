#!/bin/sh
# contrib/setup-debian.sh - install everything nsmilter needs to build, run
# its demo and its tests on Debian 12, as root.  Idempotent.
#
#   build:  cmake, a C compiler, libmilter, libldap, GnuTLS, iniparser,
#           cmocka, libmicrohttpd (the /metrics endpoint)
#   tests:  slapd + ldap-utils (directories), postfix + postfix-ldap
#           (the MTA, smtp-sink, smtp-source), swaks (SMTP client), m4,
#           gnutls-bin (test CA), prometheus (promtool checks the
#           exposition and contrib/prometheus), clang + sanitizer
#           runtime, a Samba AD
#           domain controller (samba, samba-ad-dc, samba-ad-provision for
#           "samba-tool domain provision", ldb-tools for ldbadd/ldbmodify;
#           see t/lib/samba-ad.sh), man-db (man page checks), debhelper +
#           dpkg-dev + lintian (the Debian package, contrib/build-deb.sh),
#           liblmdb-dev + libmicrohttpd-dev, graphviz (diagrams), systemd
#           (systemd-analyze), and a private Sendmail unpacked from Debian's
#           packages (it conflicts with postfix as a package; see
#           t/setup-sendmail.sh).
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "$0: run me as root (apt-get install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential cmake pkg-config clang libclang-rt-14-dev \
	libmilter-dev libldap-dev libgnutls28-dev libiniparser-dev \
	libcmocka-dev liblmdb-dev \
	slapd ldap-utils postfix postfix-ldap swaks m4 gnutls-bin prometheus \
	samba samba-ad-dc samba-ad-provision ldb-tools \
	iproute2 util-linux procps ca-certificates openssl python3 man-db \
	debhelper dpkg-dev lintian liblmdb-dev libmicrohttpd-dev graphviz \
	systemd adduser
# Postfix, slapd and Samba are started by the tests, never as system
# services (nor is Prometheus: only its promtool is used).
for svc in postfix slapd samba-ad-dc smbd nmbd winbind prometheus; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
	if [ -x /etc/init.d/$svc ]; then /etc/init.d/$svc stop >/dev/null 2>&1 || true; fi
done
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$here/t/setup-sendmail.sh" ] || [ -f "$here/t/setup-sendmail.sh" ]; then
	sh "$here/t/setup-sendmail.sh"
fi
echo "setup-debian: done"
