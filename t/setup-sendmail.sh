#!/bin/sh
# t/setup-sendmail.sh - unpack a private Sendmail for the integration tests.
#
# Postfix (needed by the Postfix tests and for smtp-sink) and Debian's
# sendmail-bin conflict as packages, so Sendmail is never installed: its
# packages are downloaded with `apt-get download` and extracted with
# `dpkg -x` into DIR (default /opt/nsmilter-test/sendmail).  The tests find
# it there (or wherever $NSMILTER_SENDMAIL_ROOT points).
#
# Usage (as root, or as a user who may write DIR and use apt's cache):
#   t/setup-sendmail.sh [DIR]
# Idempotent: does nothing when DIR already holds a complete tree.
set -eu

DIR=${1:-/opt/nsmilter-test/sendmail}
PKGS="sendmail-bin sendmail-base sendmail-cf"

is_complete() {
	[ -x "$1/usr/libexec/sendmail/sendmail" ] &&
	[ -x "$1/usr/sbin/makemap" ] &&
	[ -f "$1/usr/share/sendmail/cf/m4/cf.m4" ] &&
	[ -f "$1/.nsmilter-setup-done" ]
}

if is_complete "$DIR"; then
	echo "setup-sendmail: $DIR already complete"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/setup-sendmail.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cd "$work"
# apt-get download drops privileges to _apt when it can: let it write here.
chown _apt "$work" 2>/dev/null || true
if ! apt-get download $PKGS; then
	apt-get update
	apt-get download $PKGS
fi

# The binary's run-time libraries (libdb, libldap, libsasl2, ...) are
# ordinary, co-installable packages: install those of sendmail-bin's
# Depends that are missing.  Never install sendmail-bin itself: it would
# remove postfix.
missing=""
for p in $(dpkg-deb -f ./sendmail-bin_*.deb Depends | tr ',' '\n' |
	sed -n 's/^ *\(lib[^ (|]*\).*/\1/p'); do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup-sendmail: installing run-time libraries:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

mkdir -p "$DIR.new.$$"
for deb in ./*.deb; do
	dpkg -x "$deb" "$DIR.new.$$"
done
[ -x "$DIR.new.$$/usr/libexec/sendmail/sendmail" ] || {
	echo "setup-sendmail: no usr/libexec/sendmail/sendmail in the packages" >&2
	exit 1
}
ls ./*.deb > "$DIR.new.$$/.nsmilter-setup-done"
rm -rf "$DIR"
# Sendmail checks the safety of every directory on the path to its files:
# the directories made here are 0755.  Existing parents are left alone
# (never chmod someone else's directory, /tmp least of all).
mkdir -p -m 755 "$(dirname "$DIR")"
mv "$DIR.new.$$" "$DIR"
chmod 755 "$DIR"
echo "setup-sendmail: Sendmail unpacked in $DIR:"
"$DIR/usr/libexec/sendmail/sendmail" -d0.1 -bt </dev/null 2>/dev/null | head -1 || true
