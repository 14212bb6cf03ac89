#!/bin/sh
# t/run-tests.sh [--sanitize] [--compiler CC] - build nsmilter and run every
# test (unit and integration) under ctest.  Integration tests start their own
# slapd, Postfix, Sendmail and nsmilter on loopback: run as root.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
sanitize=OFF
cc=${CC:-gcc}
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) sanitize=ON; build="$here/build-sanitize" ;;
	--compiler) cc=$2; shift ;;
	*) echo "usage: $0 [--sanitize] [--compiler CC]" >&2; exit 64 ;;
	esac
	shift
done
[ "$cc" = gcc ] || build="$build-$cc"
CC=$cc cmake -S "$here" -B "$build" -DNSMILTER_SANITIZE=$sanitize \
	-DNSMILTER_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
if [ "$sanitize" = ON ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
ctest --output-on-failure --timeout 900
