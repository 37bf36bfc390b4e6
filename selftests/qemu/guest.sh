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

# Static keys on the packet path, held on for the whole run.  A key that
# goes from 0 to 1 or back is patched into code every CPU runs (int3, then
# the new bytes), and under TCG a CPU has run the stale int3 after the
# patch was done: "Oops: int3" in __ip_local_out() on Debian 13's 6.12
# when the last namespace's output hooks went (the test had just ended).
# The tests make and drop namespaces, netfilter hooks and UDP
# encapsulation sockets hundreds of times, each a patch of the hot path
# when no other user holds the key; with these holders no test patches
# one.  What the module registers is unchanged (its hooks are per
# namespace: esptcp_ulp counts their runs).
pin_keys() {
	local h
	if command -v nft >/dev/null; then
		{
			echo "table inet esptcp_keys {"
			for h in prerouting input forward output postrouting; do
				echo "chain $h { type filter hook $h priority 0; policy accept; }"
			done
			echo "}"
			echo "table netdev esptcp_keys {"
			echo "chain in { type filter hook ingress device lo priority 0; policy accept; }"
			echo "}"
		} | nft -f - || echo "# guest: netfilter keys not pinned (nft failed)" >&3
	else
		echo "# guest: netfilter keys not pinned (no nft)" >&3
	fi
	# UDP_ENCAP (100) = UDP_ENCAP_ESPINUDP (2) on a v4 and a v6 socket;
	# SO_TIMESTAMP (29) holds the receive path's netstamp key, which every
	# ping flipped (the same oops in __netif_receive_skb_core() on 7.3,
	# from the send work's softirq, as teardown started)
	python3 -c '
import signal, socket
s = [socket.socket(f, socket.SOCK_DGRAM) for f in (socket.AF_INET, socket.AF_INET6)]
for x in s:
    x.setsockopt(socket.IPPROTO_UDP, 100, 2)
s[0].setsockopt(socket.SOL_SOCKET, 29, 1)  # SO_TIMESTAMP
print("ready", flush=True)
signal.pause()' >/run/keys.ready 2>&1 &
	for h in 1 2 3 4 5 6 7 8 9 10; do
		grep -q ready /run/keys.ready && return
		sleep 0.5
	done
	echo "# guest: UDP encapsulation keys not pinned: $(head -c 300 /run/keys.ready)" >&3
}
pin_keys

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
