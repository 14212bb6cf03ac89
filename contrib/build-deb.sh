#!/bin/sh
# contrib/build-deb.sh [OUTDIR] - build the Debian package of nsmilter.
#
# Copies this tree (without build directories and .git) to a temporary
# directory, puts contrib/debian there as debian/, runs
# "dpkg-buildpackage -us -uc -b" and leaves the .deb (and the .buildinfo
# and .changes) in OUTDIR (default: the current directory).  Needs the
# Build-Depends of contrib/debian/control (dpkg-checkbuilddeps lists what is
# missing; contrib/setup-debian.sh installs them).  Set DEB_BUILD_OPTIONS=
# nocheck to skip the unit tests of the build.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nsmilter-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

mkdir "$tmp/nsmilter"
tar -C "$here" --exclude=./.git --exclude='./build' --exclude='./build-*' \
    --exclude=./debian -cf - . | tar -C "$tmp/nsmilter" -xf -
cp -R "$here/contrib/debian" "$tmp/nsmilter/debian"
(cd "$tmp/nsmilter" && dpkg-buildpackage -us -uc -b -j"$(nproc)") \
    >"$tmp/build.log" 2>&1 || {
	tail -n 60 "$tmp/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
for f in "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes; do
	[ -e "$f" ] && cp "$f" "$out/"
done
ls "$out"/nsmilter_*.deb
