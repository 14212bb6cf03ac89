#!/bin/sh
# t/fuzz/run.sh [SECONDS] - build the libFuzzer targets of t/fuzz with clang,
# ASan and UBSan (build-fuzz/, cmake -DNSMILTER_FUZZ=ON) and run each for
# SECONDS (default 30), starting from its seed corpus t/fuzz/corpus/TARGET
# (new inputs go to build-fuzz/corpus/TARGET, not into the tree).  A crash
# input is kept as t/fuzz/crashes/TARGET/crash-*: commit it with the fix,
# and ctest replays it in every normal build (fuzz/TARGET).  Prints one
# line per target, "TARGET execs=N crashes=M", and exits 1 if any crashed.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
build=$here/build-fuzz
CC=clang cmake -S "$here" -B "$build" -DNSMILTER_FUZZ=ON -DNSMILTER_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(cd "$here/t/fuzz" && ls fuzz_*.c | sed -e 's/^fuzz_//' -e 's/\.c$//' | grep -vx util)
for t in $targets; do
	cmake --build "$build" -j"$(nproc)" --target "fuzz_$t" >/dev/null
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in $targets; do
	work=$build/corpus/$t
	crashes=$here/t/fuzz/crashes/$t
	mkdir -p "$work" "$crashes"
	log=$build/fuzz_$t.log
	before=$(ls "$crashes" | wc -l)
	"$build/t/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" "$here/t/fuzz/corpus/$t" \
		>"$log" 2>&1 || true
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	after=$(ls "$crashes" | wc -l)
	new=$((after - before))
	echo "$t execs=${execs:-?} crashes=$new"
	if [ "$new" -gt 0 ]; then
		status=1
		grep -E '^(==[0-9]+==ERROR|SUMMARY)' "$log" | sed 's/^/  /' | head -5
	fi
	rmdir "$crashes" 2>/dev/null || true
done
exit $status
