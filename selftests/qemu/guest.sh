#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the QEMU harness, PID 1 in the overlay root.  Sets up the
# mounts, runs the mode's script with results on the second serial port
# (ttyS1), and powers the VM off.  Never exits: PID 1 exiting is a panic.
out=$1
. "$out/guest.env"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb OUT REPO KVER KO FLAVOUR TIER MODE TESTS CASES BENCH_ARGS \
	FUZZ_BYTES FUZZ_FAMILIES FUZZ_ARGS SOAK_MINUTES CAPTURE

# /tmp stays the overlay's (writable already): the repo or the run's output
# folder may live under the host's /tmp, and a fresh tmpfs would hide them
mount -t tmpfs run /run
mkdir -p /run/netns /run/lock
mkfifo /run/guest-idle		# for the wait at power-off, below
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs mods /lib/modules
mkdir -p "/lib/modules/$KVER"
mount --bind "$MODDIR" "/lib/modules/$KVER"
ip link set lo up
hostname esptcp-guest 2>/dev/null

# the sanitized tool: every report goes to a file of its own, which fails
# the run (run_tests.sh, "sanitizers"); a leak at exit is a report too
if [ -n "${SANITIZE:-}" ]; then
	mkdir -p "$OUT/sanitizer"
	export ESPTCP=$REPO/build/userspace-asan/esptcp SANITIZE
	export ASAN_OPTIONS=log_path=$OUT/sanitizer/asan:detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=log_path=$OUT/sanitizer/ubsan:print_stacktrace=1:halt_on_error=1
fi

# ESPTCP_CAPTURE=1 on the host: the helper writes every message it
# accepts to $OUT/capture (scripts/capture-corpus.sh)
if [ -n "${CAPTURE:-}" ]; then
	mkdir -p "$OUT/capture"
	export ESPTCP_CAPTURE=$OUT/capture
fi

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
echo "# guest: $FLAVOUR kernel $(uname -r), mode $MODE, tier $TIER" >&3

case $MODE in
check) bash "$REPO/selftests/run_tests.sh" >&3 2>/dev/console 3>&- ;;
demo) bash "$REPO/selftests/demo.sh" >&3 2>&1 ;;
bench) bash "$REPO/selftests/bench.sh" $BENCH_ARGS >&3 2>/dev/console ;;
# the long runs: one suite each, then kmemleak, as in a check
fuzz-kernel) TESTS=fuzz_kernel FUZZ_LONG=1 FUZZ_BYTES=${FUZZ_BYTES:-1073741824} \
	ESPTCP_TEST_TIMEOUT=10000 bash "$REPO/selftests/run_tests.sh" >&3 2>/dev/console 3>&- ;;
soak) TESTS=soak ESPTCP_TEST_TIMEOUT=$(((${SOAK_MINUTES:-30} + 15) * 60)) \
	bash "$REPO/selftests/run_tests.sh" >&3 2>/dev/console 3>&- ;;
esac
echo "# guest: done" >&3
exec 3>&-
sync
echo o >/proc/sysrq-trigger
# init must not exit while the power-off runs, and nothing may be started
# from the 9p root any more: its transport may already be shut down (an exec
# of sleep failed with EIO, and init's exit then panicked)
while :; do read -r -t 30 <>/run/guest-idle || true; done
