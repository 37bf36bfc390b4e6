#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the QEMU harness, PID 1 in the overlay root.  Sets up the
# mounts, runs the mode's script with results on the second serial port
# (ttyS1), and powers the VM off.  Never exits: PID 1 exiting is a panic.
out=$1
. "$out/guest.env"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb OUT REPO KVER KO FLAVOUR TIER MODE TESTS CASES BENCH_ARGS

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

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
echo "# guest: $FLAVOUR kernel $(uname -r), mode $MODE, tier $TIER" >&3

case $MODE in
check) bash "$REPO/selftests/run_tests.sh" >&3 2>/dev/console 3>&- ;;
demo) bash "$REPO/selftests/demo.sh" >&3 2>&1 ;;
bench) bash "$REPO/selftests/bench.sh" $BENCH_ARGS >&3 2>/dev/console ;;
esac
echo "# guest: done" >&3
exec 3>&-
sync
echo o >/proc/sysrq-trigger
# init must not exit while the power-off runs, and nothing may be started
# from the 9p root any more: its transport may already be shut down (an exec
# of sleep failed with EIO, and init's exit then panicked)
while :; do read -r -t 30 <>/run/guest-idle || true; done
