#!/bin/sh
# Runs the C unit test binaries given as arguments and totals their counts.
# Exits non-zero if any check failed or any binary crashed or printed no total.
set -u
passed=0
failed=0
broken=0
for t in "$@"; do
	out=$("$t") || true
	line=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s: %s\n' "$(basename "$t")" "$line"
	p=$(printf '%s\n' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(printf '%s\n' "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		echo "$(basename "$t"): crashed or printed no summary" >&2
		broken=$((broken + 1))
		continue
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "unit: $passed passed, $((failed + broken)) failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
