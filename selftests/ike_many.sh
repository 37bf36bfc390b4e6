#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Many initiators against one responder: each `esptcp ike` client in a
# namespace of its own on a bridge behind the router, all over TCP to one
# gateway with a conn per client.  Every tunnel must come up and pass a ping.
. "$(dirname "$0")/lib.sh"
trap 'many_down "$N" >/dev/null 2>&1; stop_all; topo_down; rm -rf "$_tmp"' EXIT

N=${ESPTCP_MANY:-50}

installed() { # installed LOG: CHILD_SAs installed so far
	grep -c "CHILD_SA installed" "$1" || true
}

all_up() { # all_up N: the gateway has N CHILD_SAs; progress every 10th try
	local got
	got=$(installed "$_tmp/gw.out")
	_tries=$((${_tries:-0} + 1))
	[ $((_tries % 25)) -eq 0 ] && echo "# $got of $1 tunnels up"
	[ "$got" -ge "$1" ]
}

# N initiators, each in its own namespace behind the router, against one
# responder with a conn per client: all tunnels up, all pass traffic
t_many() {
	local n=$1 i ns conf="$_tmp/gw.conf" ok=0
	n2 ip addr add "$IN2/32" dev lo
	n2 ip route add 203.0.113.0/24 via 198.51.100.254 src "$IN2"
	: >"$conf"
	for i in $(seq 1 "$n"); do
		cat >>"$conf" <<-EOC
		[conn c$i]
		role = responder
		local = $IP2
		local-id = @gw.example
		remote-id = @c$i.example
		psk = "psk of client $i"
		local-ts = $IN2/32
		remote-ts = 203.0.113.$((100 + i))/32
		EOC
	done
	# a veth and a /24 each (no bridge: not every test kernel has one)
	echo "# $n clients: namespaces esptcp-c1..c$n, client i at 10.77.i.1 behind nr"
	for i in $(seq 1 "$n"); do
		ns=esptcp-c$i
		ip netns add $ns
		ip -n $NSR link add cv$i type veth peer name eth0 netns $ns
		ip -n $NSR addr add 10.77.$i.254/24 dev cv$i
		ip -n $NSR link set cv$i up
		ip -n $ns link set lo up
		ip -n $ns addr add 10.77.$i.1/24 dev eth0
		ip -n $ns link set eth0 up
		ip -n $ns route add default via 10.77.$i.254
		ip -n $ns addr add 203.0.113.$((100 + i))/32 dev lo
		ip -n $ns route add "$IN2/32" via 10.77.$i.254 src 203.0.113.$((100 + i))
		cat >"$_tmp/c$i.conf" <<-EOC
		[conn gw]
		role = initiator
		transport = tcp
		local = 10.77.$i.1
		remote = $IP2
		local-id = @c$i.example
		remote-id = @gw.example
		psk = "psk of client $i"
		local-ts = 203.0.113.$((100 + i))/32
		remote-ts = $IN2/32
		EOC
	done
	echo "# [n2] esptcp ike gw.conf &"
	ip netns exec $NS2 "$ESPTCP" ike "$conf" >"$_tmp/gw.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/gw.out"
	for i in $(seq 1 "$n"); do
		ip netns exec esptcp-c$i "$ESPTCP" ike "$_tmp/c$i.conf" >"$_tmp/c$i.log" 2>&1 &
		pids+=($!)
	done
	wait_for 1500 all_up "$n" ||
		{ tail -n 30 "$_tmp/gw.out"; tail -n 5 "$_tmp"/c1.log; false; }
	local pings=()
	for i in $(seq 1 "$n"); do
		ip netns exec esptcp-c$i ping -c 1 -W 5 -I 203.0.113.$((100 + i)) "$IN2" \
			>"$_tmp/p$i.txt" 2>&1 &
		pings+=($!)
	done
	wait "${pings[@]}" || true
	for i in $(seq 1 "$n"); do
		grep -q " 1 received" "$_tmp/p$i.txt" && ok=$((ok + 1))
	done
	echo "# $ok of $n clients got a reply through their tunnel"
	local socks
	socks=$(ip netns exec $NS2 "$ESPTCP" show | grep -c "^socket ino" || true)
	echo "# esptcp sockets on the gateway: $socks"
	[ "$ok" -eq "$n" ]
	[ "$socks" -eq "$n" ]
}

many_down() {
	local i
	for i in $(seq 1 "$1"); do
		ip netns pids esptcp-c$i 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	stop_all
	for i in $(seq 1 "$1"); do
		ip netns del esptcp-c$i 2>/dev/null || true
	done
}

esptcp_load
topo_up
t_case_subset many "$N initiators in their own namespaces against one responder over TCP" t_many "$N"
t_done
