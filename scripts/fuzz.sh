#!/bin/bash
# Runs each libFuzzer harness given as argument for FUZZ_SECONDS (default
# 30), two at a time (the CI machine has two cores), starting from its
# committed seeds in tests/fuzz/corpus/<harness>/. Prints one line per
# harness (executions, coverage) and exits non-zero if any harness found a
# crash, a leak, a timeout or ran out of memory: the input that did it is
# kept under build/fuzz/artifacts/ and the end of the log is printed.
# What a run discovers goes to build/fuzz/corpus/<harness>/ (not committed;
# `make fuzz-seeds` makes the committed seeds).
set -u
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
out=build/fuzz
mkdir -p "$out/corpus" "$out/artifacts" "$out/logs"

run_one() {
	local bin=$1 name
	name=$(basename "$bin")
	local seeds=tests/fuzz/corpus/$name work=$out/corpus/$name log=$out/logs/$name.log
	local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		    -artifact_prefix="$out/artifacts/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
	mkdir -p "$work"
	# The first folder receives what the run finds; the seeds are only read.
	if [ -d "$seeds" ]; then
		"$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
	else
		"$bin" "${args[@]}" "$work" >"$log" 2>&1
	fi
	echo $? >"$log.rc"
}

pids=()
for bin in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$bin" &
	pids+=($!)
done
wait

failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	log=$out/logs/$name.log
	rc=$(cat "$log.rc" 2>/dev/null || echo 255)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz: %-18s ok      %ss, %s execs, %s, %s, peak rss %s MB\n' "$name" "$seconds" \
			"${execs:-?}" "${cov:-cov: ?}" "${corpus:-corp: ?}" "${rss:-?}"
	else
		failed=$((failed + 1))
		printf 'fuzz: %-18s FAILED  exit %s after %s execs; log %s\n' "$name" "$rc" "${execs:-?}" "$log"
		# The report (ASan's, or UBSan's runtime error) and where the input is.
		grep -E 'runtime error:|deadly signal|ERROR: libFuzzer|Test unit written' "$log" | head -n 10
		sed -n '/^==[0-9]*==ERROR/,/^SUMMARY/p' "$log" | head -n 60
	fi
done
echo "fuzz: $(( $# - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
