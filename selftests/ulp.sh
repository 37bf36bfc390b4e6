#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ULP between network namespaces: registration, attach through the esptcp
# tool (IKETCP prefix, bypass policy), what ss shows, unload with live sockets.
. "$(dirname "$0")/lib.sh"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_down
}
trap 'cleanup; rm -rf "$_tmp"' EXIT

# start_pair FAMILY PEERADDR: responder in n2, originator in n1, both attached
start_pair() {
	local fam=$1 peer=$2
	ip netns exec $NS2 "$ESPTCP" listen "$fam" -p 4500 >"$_tmp/l.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/l.out"
	ip netns exec $NS1 "$ESPTCP" connect "$fam" -p 4500 "$peer" >"$_tmp/c.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q attached "$_tmp/c.out"
	wait_for 50 grep -q attached "$_tmp/l.out"
	cat "$_tmp/c.out" "$_tmp/l.out"
}

stop_pair() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}

t_registered() {
	esptcp_load
	pp grep -qw esptcp /proc/sys/net/ipv4/tcp_available_ulp
}

t_ss_shows_ulp() {
	local fam=$1 peer=$2
	start_pair "$fam" "$peer"
	n2 ss -tieH state established "( sport = :4500 )" | tee "$_tmp/ss"
	grep -q 'tcp-ulp-esptcp' "$_tmp/ss"
	n1 ss -tieH state established "( dport = :4500 )" | tee "$_tmp/ss"
	grep -q 'tcp-ulp-esptcp' "$_tmp/ss"
	stop_pair
}

t_bad_prefix() {
	ip netns exec $NS2 "$ESPTCP" listen -4 -p 4501 >"$_tmp/l.out" 2>&1 &
	local lp=$!
	wait_for 50 grep -q listening "$_tmp/l.out"
	n1 bash -c "exec 3<>/dev/tcp/$IP2/4501; printf GARBAG >&3; sleep 1"
	local rc=0
	wait $lp || rc=$?
	cat "$_tmp/l.out"
	[ $rc -ne 0 ]
	grep -q 'did not send the IKETCP prefix' "$_tmp/l.out"
}

t_rmmod_busy() {
	start_pair -4 $IP2
	pp lsmod | grep '^esptcp'
	expect_fail pp rmmod esptcp
	grep -q '^esptcp ' /proc/modules
	stop_pair
	# sockets go away with their TCP teardown, not at once
	wait_for 100 rmmod esptcp
	expect_fail grep -q '^esptcp ' /proc/modules
	pp insmod "$KO"
	pp grep -qw esptcp /proc/sys/net/ipv4/tcp_available_ulp
}

topo_up
t_case "tcp_available_ulp lists esptcp" t_registered
t_case "ss -tie shows the ULP (IPv4)" t_ss_shows_ulp -4 $IP2
t_case "ss -tie shows the ULP (IPv6)" t_ss_shows_ulp -6 $IP2_6
t_case "responder refuses a stream without IKETCP" t_bad_prefix
t_case "rmmod refused while a socket holds the ULP" t_rmmod_busy
t_done
