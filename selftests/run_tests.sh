#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the guest: load esptcp, run every test, and print one TAP stream on
# stdout.  Each test program prints its own TAP (kselftest_harness.h for the
# C tests, lib.sh for the scripts); its ok/not ok lines are renumbered into
# this stream, everything else goes to the console and to $OUT/logs/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$REPO/build/selftests
logs=$OUT/logs
mkdir -p "$logs"
n=0

emit() { # emit "ok"|"not ok" NAME [DIRECTIVE]
	n=$((n + 1))
	echo "$1 $n $2${3:+ # $3}"
}

# run_test NAME CMD...: fold the program's TAP into ours
run_test() {
	local name=$1 log=$logs/$1.log rc=0 seen=0 line status desc t0=$SECONDS
	shift
	echo "=== $name: $*" >&2
	# captured messages go to a directory per suite, so the corpus can
	# keep each peer's own (scripts/capture-corpus.sh)
	if [ -n "${CAPTURE:-}" ]; then
		export ESPTCP_CAPTURE=$OUT/capture/$name
		mkdir -p "$ESPTCP_CAPTURE"
	fi
	if declare -F "$1" >/dev/null; then
		"$@" >"$log" 2>&1 || rc=$?
	else
		# a safety net: the strongSwan suite alone takes ~10 min on a slow day
		timeout "${ESPTCP_TEST_TIMEOUT:-1200}" "$@" >"$log" 2>&1 || rc=$?
	fi
	cat "$log" >&2
	echo "=== $name: took $((SECONDS - t0)) s" >&2
	local -a since=()
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ ok|ok)\ [0-9]+\ (-\ )?(.*)$ ]]; then
			status=${BASH_REMATCH[1]}
			desc=${BASH_REMATCH[3]}
			seen=$((seen + 1))
			if [[ $desc == *"# SKIP"* ]]; then
				emit ok "$name: ${desc%%# SKIP*}" "SKIP${desc#*# SKIP}"
			else
				emit "$status" "$name: ${desc%% # *}"
			fi
			# a failure brings its own output along: the failed command
			# first (a CI summary may show only the first lines), then the tail
			if [ "$status" = "not ok" ]; then
				printf '%s\n' "${since[@]}" | grep -m 3 '^# FAILED' | sed 's/^/#   /' || true
				printf '%s\n' "${since[@]: -30}" | sed 's/^/#   /'
				# nothing since the last result line: a C test's own
				# lines, by its name (fixture.variant.test)
				if [ -z "$(printf '%s' "${since[*]}" | tr -d '[:space:]')" ] &&
				   [[ $desc =~ ^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$ ]]; then
					grep -F -- ":${desc##*.}:" "$log" | tail -n 30 | sed 's/^/#   /' || true
				fi
			fi
			since=()
		else
			since+=("$line")
		fi
	done <"$log"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$log"; then
		emit "not ok" "$name: exited with status $rc"
		tail -n 25 "$log" | sed 's/^/#   /'
	elif [ $seen -eq 0 ]; then
		emit "not ok" "$name: reported no result"
	fi
}

# the in-module self-tests run at load; a failure refuses the load
selftest() {
	echo "TAP version 13"
	echo "1..2"
	if insmod "$KO" selftest=1; then
		echo "ok 1 insmod with selftest=1"
	else
		echo "not ok 1 insmod with selftest=1"
	fi
	if dmesg | grep -q 'esptcp: frame selftest: pass'; then
		echo "ok 2 frame parser self-test"
	else
		echo "not ok 2 frame parser self-test"
	fi
}

kmemleak() {
	local f=/sys/kernel/debug/kmemleak
	echo "1..1"
	if [ ! -w $f ]; then
		echo "ok 1 no leaks # SKIP kernel $(uname -r) has no kmemleak"
		return 0
	fi
	# objects must be unreferenced for 5 s before kmemleak reports them
	sleep 6
	echo scan >$f
	sleep 6
	echo scan >$f
	if [ -s $f ] && grep -q unreferenced $f; then
		echo "not ok 1 no leaks"
		sed 's/^/kmemleak: /' $f >/dev/console
		return 1
	fi
	echo "ok 1 no leaks"
}

# with the sanitized tool: no ASan, LeakSanitizer or UBSan report at all
sanitizers() {
	local f
	echo "1..1"
	f=$(ls "$OUT"/sanitizer/* 2>/dev/null | head -n 20)
	if [ -n "$f" ]; then
		echo "not ok 1 no sanitizer report from the tool"
		# shellcheck disable=SC2086
		head -n 60 $f | sed 's/^/# /'
		return 1
	fi
	echo "ok 1 no sanitizer report from the tool"
}

echo "TAP version 13"
[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak

# opt-in: peers (the IKE peer fixtures; ~75 s on stock, ~8 min on debug)
all=(selftest esptcp_ulp esptcp_ike ike_unit ulp datapath rebind scale fuzz_kernel teardown faults interop ike ike_many ipvs strongswan auth libreswan failover)
# teardown before faults: a socket whose FIN a fault made TCP drop stays
# (6.1's tcp_send_fin() gives up), and with it the module's reference.
# What each tier runs (README, "What each kernel runs"): kernel leaves out
# the helper at scale (ike_many, ipvs), ike_unit (the helper's unit tests:
# userspace only, the same binary on every kernel) and strongSwan (UDP
# only: its cases never reach the module); debug also the suites of ss
# output and failover; smoke keeps the module's own suites; boot loads the
# module and runs its C tests
case ${TIER:-full} in
kernel) all=(selftest esptcp_ulp esptcp_ike ulp datapath rebind scale fuzz_kernel teardown faults interop ike auth libreswan failover) ;;
debug) all=(selftest esptcp_ulp esptcp_ike datapath rebind scale fuzz_kernel teardown faults interop ike libreswan) ;;
smoke) all=(selftest esptcp_ulp esptcp_ike ulp datapath rebind fuzz_kernel ike) ;;
boot) all=(selftest esptcp_ulp esptcp_ike) ;;
esac
tests=(${TESTS:-${all[@]}})
# a subset run (TESTS=...) without the self-test still needs the module
[[ " ${tests[*]} " == *" selftest "* ]] || insmod "$KO" || emit "not ok" "insmod $KO"
for t in "${tests[@]}"; do
	if declare -F "$t" >/dev/null; then
		run_test "$t" "$t"
	elif [ -x "$bin/$t" ]; then
		run_test "$t" "$bin/$t"
	elif [ -f "$here/${t}_selftest.sh" ]; then
		# peers.sh is the fixture library, peers_selftest.sh its test
		run_test "$t" bash "$here/${t}_selftest.sh"
	elif [ -f "$here/$t.sh" ]; then
		run_test "$t" bash "$here/$t.sh"
	else
		emit "not ok" "$t: no such test"
	fi
done
[ -z "${SANITIZE:-}" ] || run_test sanitizers sanitizers
run_test kmemleak kmemleak
echo "1..$n"
