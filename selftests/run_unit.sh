#!/bin/sh
# Run every unit test binary in directory $1 and sum cmocka's counts.
# Prints one line per binary, then exactly `N passed, N failed`; exits 1 if anything failed.
# A binary that exits non-zero without cmocka reporting a failure (a crash, a sanitizer
# report after the tests) counts as one failed test.
set -u

dir=${1:?usage: run_unit.sh DIR}
passed=0
failed=0
found=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for bin in "$dir"/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	found=$((found + 1))
	name=$(basename "$bin")
	timeout 300 "$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -eq 0 ]; then
		echo "$name: ok ($p passed)"
	else
		echo "$name: FAILED ($p passed, $f failed, exit $rc)"
		sed 's/^/    /' "$log"
	fi
done

if [ "$found" -eq 0 ]; then
	echo "run_unit.sh: no test binaries in $dir" >&2
	echo "0 passed, 0 failed"
	exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
