#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module with 1,000 peers, for the debug kernel's checkers: 1,000
# loopback connections attached, each with an inbound and an outbound SA;
# `esptcp show` over them; one SA's packets with the 1,000 outbound SAs
# bound and unbound; 100 of them busy both ways at once; then their
# namespace goes with all of them open.  esptcp_scale (the bench's "scale"
# rows) does the work, with few packets a measurement; KASAN, lockdep and
# kmemleak (at the end of the run) judge it, and every row must be there
# with every rate above zero.
. "$(dirname "$0")/lib.sh"

module_unused() {
	[ "$(awk '$1 == "esptcp" {print $3}' /proc/modules)" = 0 ]
}

t_peers() {
	local t pkts=1000
	# the debug kernel moves some 300 packets a second under TCG
	[ "${TIER:-full}" != debug ] || pkts=300
	ESPTCP_SCALE_PKTS=${SCALE_PKTS:-$pkts} ESPTCP=$ESPTCP \
		"$TBIN/esptcp_scale" 1000 active=100 >"$_tmp/rows.out"
	sed 's/^/# /' "$_tmp/rows.out"
	for t in bringup dump idle active; do
		grep -q "\"test\": \"$t\"" "$_tmp/rows.out"
	done
	# a rate of 0 (e.g. "[0, 512, 498]"): packets that did not go through
	expect_fail grep -qE '(\[|, )0[],]' "$_tmp/rows.out"
	# the namespace is gone: every socket with it, and the module's references
	wait_for 600 module_unused
}

esptcp_load
t_case "1,000 peers: attached and bound, dumped, 100 busy both ways, gone with their namespace" t_peers
t_done
