#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tear-down under load: a namespace deleted with live tunnels and traffic
# in it, and the module unloaded after every socket was closed while
# traffic was flowing.  The kernel's checkers (KASAN, lockdep, kmemleak at
# the end of the run) judge what the steps cannot see.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT

# traffic through the tunnel of tunnel_up: iperf3 and a ping flood, n1 to n2.
# On the debug kernel, paced: a flood there takes both CPUs from the
# namespace's clean-up and TCP's tear-down (minutes under TCG), and paced
# traffic is as much in flight when the sockets go
traffic_on() {
	local -a iperf=(-P 4) ping=(-f)
	if [ "${TIER:-full}" = debug ]; then
		iperf=(-P 2 -b 20M)
		ping=(-i 0.01)
	fi
	ip netns exec $NS2 iperf3 -s -B "$T2" >/dev/null 2>&1 &
	pids+=($!)
	wait_for 50 iperf_listening $NS2
	ip netns exec $NS1 iperf3 -c "$T2" -B "$T1" -t 60 "${iperf[@]}" >/dev/null 2>&1 &
	pids+=($!)
	ip netns exec $NS1 ping "${ping[@]}" -I "$T1" "$T2" >/dev/null 2>&1 &
	pids+=($!)
	# both ways, for a second or two
	wait_for 50 stat_ge $NS1 tx_esp_pkts 200
	wait_for 50 stat_ge $NS2 tx_esp_pkts 200
}

# rmmod as soon as the last socket is gone (TCP tear-down is not instant),
# then load the module again for what follows
reload() {
	wait_for 300 rmmod esptcp
	expect_fail grep -q '^esptcp ' /proc/modules
	pp insmod "$KO"
}

# kill -9 everything in the namespaces and delete them at once: the
# sockets close, bindings and SAs go with the namespace, traffic in flight
t_netns_delete() {
	topo_up
	tunnel_up 4 tunnel gcm esp
	traffic_on
	local ns p
	for ns in $NS1 $NS2 $NSR; do
		for p in $(ip netns pids $ns); do kill -9 "$p" 2>/dev/null || true; done
		pp ip netns del $ns
	done
	wait 2>/dev/null || true
	pids=()
	reload
}

# close every attached socket while traffic flows (the carriers exit), then
# unload the module: no reference, binding or hook may be left behind
t_rmmod_after_close() {
	topo_up
	# tunnel mode: no policy covers the carriers themselves, so their
	# last segments (a RST for a socket gone) are never ESP of an SA
	# the closing socket had bound
	tunnel_up 6 tunnel gcm esp
	traffic_on
	# the carriers first, with iperf3 and ping still sending
	pp kill "${pids[0]}" "${pids[1]}"
	# TCP finishes with both sockets (the network is still up), and
	# with them go the module's references
	if ! wait_for 300 module_unused; then
		echo "# still in use: $(grep '^esptcp ' /proc/modules)"
		n1 ss -tanoemi | sed 's/^/# n1 /'
		n2 ss -tanoemi | sed 's/^/# n2 /'
		n1 "$ESPTCP" show | sed 's/^/# n1 /'
		n2 "$ESPTCP" show | sed 's/^/# n2 /'
		return 1
	fi
	stop_all
	topo_down
	reload
}

module_unused() {
	[ "$(awk '$1 == "esptcp" {print $3}' /proc/modules)" = 0 ]
}

esptcp_load
t_case "netns deleted with live tunnels and traffic" t_netns_delete
t_case "rmmod after the sockets closed under traffic" t_rmmod_after_close
t_done
