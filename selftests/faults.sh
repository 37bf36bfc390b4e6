#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Allocation faults (the debug kernel: CONFIG_FAULT_INJECTION, FAILSLAB,
# FAIL_PAGE_ALLOC): every allocation of each socket and netlink call failed
# in turn (esptcp_faults.c, /proc/thread-self/fail-nth), then the stream
# fuzzer's traffic with slab and page allocations failing at random in
# every context.  A failure must end in an errno or a counted drop; the
# kernel's checkers and kmemleak watch the rest.  Other kernels skip, saying
# why.
. "$(dirname "$0")/lib.sh"

NSX=esptcp-ft
DBG=/sys/kernel/debug
trap 'faults_off; ip netns del $NSX 2>/dev/null; rm -rf "$_tmp"' EXIT

faults_off() {
	local f
	for f in failslab fail_page_alloc; do
		[ -w $DBG/$f/probability ] && echo 0 >$DBG/$f/probability
	done
	return 0
}

# the namespace esptcp_faults.c expects
faults_net() {
	ip netns del $NSX 2>/dev/null || true
	pp ip netns add $NSX
	ip -n $NSX link set lo up
	ip -n $NSX addr add 10.78.0.1/32 dev lo
	ip -n $NSX addr add 10.78.0.2/32 dev lo
	ip netns exec $NSX sysctl -qw net.ipv4.conf.lo.accept_local=1 \
		net.ipv4.conf.all.accept_local=1 net.ipv4.conf.lo.disable_xfrm=0 \
		net.ipv4.conf.lo.disable_policy=0
	ip -n $NSX xfrm state add src 10.78.0.2 dst 10.78.0.1 proto esp spi 0x400 reqid 40 \
		mode transport replay-window 0 enc cipher_null ""
	ip -n $NSX xfrm policy add src 10.78.0.2 dst 10.78.0.1 proto udp dport 31001 dir out \
		tmpl src 10.78.0.2 dst 10.78.0.1 proto esp reqid 40 mode transport
}

t_fail_nth() {
	local f
	# sleeping allocations too (failslab's default leaves them alone);
	# the probabilities stay 0: only fail-nth injects
	for f in failslab fail_page_alloc; do
		if [ -w $DBG/$f/ignore-gfp-wait ]; then
			echo N >$DBG/$f/ignore-gfp-wait
			echo 0 >$DBG/$f/verbose
		fi
	done
	faults_net
	ip netns exec $NSX "$TBIN/esptcp_faults"
	pp ip netns del $NSX
}

# failslab and fail_page_alloc at random, atomic allocations only (those
# the datapath makes in softirq; sleeping ones would fail the shell too),
# under the stream fuzzer in its lenient mode
t_random_faults() {
	[ -w $DBG/failslab/probability ] ||
		t_skip "kernel $(uname -r) has no failslab (CONFIG_FAILSLAB): the debug kernel runs this"
	local f
	for f in failslab fail_page_alloc; do
		echo 1 >$DBG/$f/ignore-gfp-wait
		echo 0 >$DBG/$f/verbose
		echo -1 >$DBG/$f/times
		echo 0 >$DBG/$f/space
		echo 1 >$DBG/$f/interval
		echo N >$DBG/$f/task-filter
	done
	echo 1 >$DBG/fail_page_alloc/ignore-gfp-highmem
	echo 0 >$DBG/fail_page_alloc/min-order
	# the fuzzer turns them on itself, once its pages are locked in
	local rc=0
	FUZZ_FAULTS="2 1" FUZZ_ARGS=-f FUZZ_BYTES=8388608 FUZZ_SECONDS=12 bash "$(dirname "$0")/fuzz_kernel.sh" >"$_tmp/fz.out" 2>&1 || rc=$?
	faults_off
	# all of it (the nested TAP lines made comments)
	grep -vE '^# \[|^# --- ' "$_tmp/fz.out" | sed 's/^\([no]\)/# \1/'
	[ $rc -eq 0 ]
	# and with the faults gone, a strict slice passes: nothing stayed broken
	FUZZ_FAMILIES=4 FUZZ_BYTES=4194304 FUZZ_SECONDS=10 bash "$(dirname "$0")/fuzz_kernel.sh" \
		>"$_tmp/fz2.out" 2>&1 || rc=$?
	grep -E '^# (fed|failures|FAIL|conn)|^(not )?ok' "$_tmp/fz2.out" | sed 's/^\([no]\)/# \1/'
	[ $rc -eq 0 ]
}

esptcp_load
t_case "every allocation of each call failed in turn" t_fail_nth
t_case "random slab and page allocation faults under the fuzzer" t_random_faults
t_done
