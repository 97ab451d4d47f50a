#!/usr/bin/env bash
# Builds the `fuzz` preset (clang, libFuzzer, ASan + UBSan) and runs every
# fuzz target through ctest for SKIFF_FUZZ_SECONDS (default 60) each. A crash, a sanitizer report, a leak or a timeout fails
# the target (reproducer in build/fuzz/tests/fuzz/artifacts/); the script
# fails if any target did. The targets run side by side (each for the full
# time, sharing the cores: executions per target fall, the wall time does
# not add up). Each target appends a row to
# build/fuzz/scoreboard.tsv:
#
#   YYYY-MM-DD HH:MM <TAB> fuzz.<name> <TAB> N executions in S s, C corpus units, cov X <TAB> PASS|FAIL
#
# (<name>: the target without its fuzz_ prefix, e.g. fuzz.rx) and prints
# `score fuzz.<name> | <figure> | <result>`.
#
#   bash tests/fuzz/run.sh            (after tests/host/setup.sh)
#   SKIFF_FUZZ_SECONDS=600 bash tests/fuzz/run.sh
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${SKIFF_FUZZ_SECONDS:-60}
build=$top/build/fuzz
board=$build/scoreboard.tsv

cd "$top"
cmake --preset fuzz -DSKIFF_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build --preset fuzz -j2 --target skiff_fuzzers

# The fuzz targets ctest knows (their corpus-directory fixtures aside).
mapfile -t targets < <(ctest --test-dir "$build" -L '^fuzz$' -N |
	sed -n 's/^ *Test *#[0-9]*: *\([A-Za-z0-9_]*\)$/\1/p' | grep -v '_corpus_dir$')
((${#targets[@]})) || { echo "run.sh: no fuzz targets registered" >&2; exit 1; }

# The last value of "<key>: N" in a libFuzzer log.
last() { grep -oE "$1: *[0-9]+" "$2" | tail -n1 | grep -oE '[0-9]+$' || true; }

# One target: its log, then its verdict and figure in $build/fuzz-$t.result.
run_one() {
	local t=$1 log=$build/fuzz-$1.log start result elapsed
	start=$(date +%s)
	if ctest --test-dir "$build" -L '^fuzz$' -R "^${t}(_corpus_dir)?\$" --output-on-failure -V \
		>"$log" 2>&1; then
		result=PASS
	else
		result=FAIL
	fi
	elapsed=$(($(date +%s) - start))
	echo "$result $elapsed" >"$build/fuzz-$t.result"
}

echo "run.sh: ${#targets[@]} fuzz targets side by side, ${seconds} s each"
for t in "${targets[@]}"; do
	rm -f "$build/fuzz-$t.result"
	run_one "$t" &
done
wait

failed=0
for t in "${targets[@]}"; do
	log=$build/fuzz-$t.log
	read -r result elapsed <"$build/fuzz-$t.result" || { result=FAIL elapsed=0; }
	[[ $result == PASS ]] || failed=1
	execs=$(last 'stat::number_of_executed_units' "$log")
	corp=$(last 'corp' "$log")
	cov=$(last 'cov' "$log")
	if [[ $result == FAIL ]]; then
		echo "run.sh: $t failed; its log: $log" >&2
		grep -E 'ERROR|SUMMARY|fuzz_[a-z_]*: |Test unit written' "$log" | head -n 20 >&2 || true
	fi
	figure="${execs:-0} executions in ${elapsed} s, ${corp:-0} corpus units, cov ${cov:-0}"
	name=fuzz.${t#fuzz_}
	printf '%s\t%s\t%s\t%s\n' "$(date '+%Y-%m-%d %H:%M')" "$name" "$figure" "$result" >>"$board"
	echo "score $name | $figure | $result"
done
exit "$failed"
