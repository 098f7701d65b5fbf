#!/bin/sh
# scripts/run-tests.sh BINARY... - runs each Criterion test binary, then
# prints one closing line with the totals. Fails if any binary failed.
set -u
passed=0 failed=0 status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	echo "== $t"
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	line=$(grep 'Synthesis:' "$out" | tail -n 1)
	p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	c=$(echo "$line" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${c:-0}))
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		echo "FAILED: $t (exit $rc)"
		[ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
		status=1
	fi
done
echo "tests: $passed passed, $failed failed"
exit $status
