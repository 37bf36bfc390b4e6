#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Judge a QEMU run from its two logs: results.tap (TAP from the guest) and
# console.log (the kernel console).  Prints the closing line and exits 0
# only when every test passed, the guest finished, and the kernel stayed
# silent.
out=$1
mode=${2:-check}
tap=$out/results.tap
con=$out/console.log
tr -d '\r' <"$tap" >"$tap.clean" 2>/dev/null || : >"$tap.clean"

pass=$(grep -cE '^ok [0-9]+ ' "$tap.clean" | head -1)
skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$tap.clean" | head -1)
fail=$(grep -cE '^not ok [0-9]+ ' "$tap.clean" | head -1)
pass=$((pass - skip))
rc=0

if ! grep -q '^# guest: done' "$tap.clean"; then
	echo "verdict: the guest did not finish (crash, panic or timeout); console tail:"
	tail -n 40 "$con" | sed 's/^/  | /'
	fail=$((fail + 1))
	rc=1
fi

# a kernel splat fails the run even when every test passed
splat='BUG:|WARNING:|KASAN:|UBSAN:|Kernel panic|Oops:|general protection fault|'
splat+='unreferenced object|INFO: lockdep|possible circular locking|'
splat+='inconsistent lock state|INFO: task .* blocked'
if grep -qE "$splat" "$con"; then
	echo "verdict: kernel splat in the console log ($con):"
	grep -nE -A12 "$splat" "$con" | head -n 80 | sed 's/^/  | /'
	fail=$((fail + 1))
	rc=1
fi

[ "$mode" = check ] && [ $((pass + fail + skip)) -eq 0 ] && { echo "verdict: no test ran"; rc=1; }
[ $fail -gt 0 ] && rc=1
if [ "$mode" = check ]; then
	grep -E '^not ok ' "$tap.clean" | sed 's/^/failed: /'
	echo "$pass passed, $fail failed, $skip skipped"
fi
exit $rc
