#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Gateways behind Linux IPVS (Documentation/esptcp.rst, "Past one machine:
# gateways behind IPVS"): two dial-up gateways, each in a namespace of its
# own (g1, g2), are the real servers of one IPVS service on the director
# (n2, whose address is the service's): UDP 500 and 4500 and TCP 4500
# under one firewall mark, NAT (masquerading) to the gateways, source
# hashing with persistence so that a client's UDP and TCP go to one
# gateway.  Road warriors behind the router (half over UDP, half over TCP)
# come up on both; then g1 dies (its namespace deleted with its helper),
# a health check takes it out of the service, and its clients notice (DPD),
# start over through the same address on g2 and pass traffic again.  The
# time that takes is printed.
. "$(dirname "$0")/lib.sh"
trap 'many_down $NC >/dev/null 2>&1; lb_down >/dev/null 2>&1; stop_all; topo_down; rm -rf "$_tmp"' EXIT

NC=${ESPTCP_IPVS_CLIENTS:-20}
VIP=$IP2		# the service's address: the director's own
IN=10.90.0.1		# behind every gateway, on its lo: what the clients reach

# gw G: the namespace of gateway G
gw() {
	local g=$1
	shift
	printf '# [g%s] %s\n' "$g" "$*"
	ip netns exec esptcp-g$g "$@"
}

lb_down() {
	local g
	for g in 1 2; do
		ip netns pids esptcp-g$g 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del esptcp-g$g 2>/dev/null || true
	done
}

# the director and its two real servers
lb_up() {
	local g
	modprobe ip_vs 2>/dev/null && modprobe ip_vs_sh 2>/dev/null ||
		t_skip "kernel $(uname -r) has no IPVS (ip_vs, ip_vs_sh): Debian's kernels have it as modules"
	command -v ipvsadm >/dev/null || t_skip "no ipvsadm (make deps installs it)"
	for g in 1 2; do
		pp ip netns add esptcp-g$g
		n2 ip link add gv$g type veth peer name eth0 netns esptcp-g$g
		n2 ip addr add 10.99.$g.254/24 dev gv$g
		n2 ip link set gv$g up
		gw $g ip link set lo up
		gw $g ip addr add 10.99.$g.1/24 dev eth0
		gw $g ip link set eth0 up
		# NAT mode: the answers go back through the director
		gw $g ip route add default via 10.99.$g.254
		gw $g ip addr add $IN/32 dev lo
	done
	# a real server taken out: its connections and persistence go with it
	n2 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.vs.expire_nodest_conn=1 \
		net.ipv4.vs.expire_quiescent_template=1
	# one service for IKE and ESP in UDP on 500 and 4500 and for TCP on
	# 4500: a client's UDP and TCP are one flow for persistence
	n2 nft -f - <<-EOF
	table ip esptcp_lb {
		chain pre {
			type filter hook prerouting priority mangle; policy accept;
			ip daddr $VIP udp dport { 500, 4500 } meta mark set 1
			ip daddr $VIP tcp dport 4500 meta mark set 1
		}
	}
	EOF
	n2 ipvsadm -A -f 1 -s sh -p 600
	n2 ipvsadm -a -f 1 -r 10.99.1.1 -m
	n2 ipvsadm -a -f 1 -r 10.99.2.1 -m
}

# gw_start G: the dial-up gateway of g$G, its own pool, DPD every 2 s
gw_start() {
	cat >"$_tmp/g$1.conf" <<-EOC
	[conn dialup]
	role = responder
	local = 10.99.$1.1
	local-id = @gw.example
	remote-id = *@example.org
	psk = "the dial-up group's psk"
	local-ts = $IN/32
	pool = 10.3.$1.0/24
	dpd = 2
	EOC
	ip netns exec esptcp-g$1 "$ESPTCP" ike -v "$_tmp/g$1.conf" >"$_tmp/g$1.out" 2>&1 &
	pids+=($!)
	eval "G$1_PID=$!"
	wait_for 50 grep -q "running" "$_tmp/g$1.out"
}

installed() { # installed G: CHILD_SAs gateway G installed so far
	grep -c "CHILD_SA installed" "$_tmp/g$1.out" 2>/dev/null || true
}

# reaching N: how many of the N clients get an answer from $IN through
# their tunnel, all at once
reaching() {
	local i p=() ok=0
	for i in $(seq 1 "$1"); do
		ip netns exec esptcp-c$i ping -c 1 -W 2 "$IN" >"$_tmp/p$i.txt" 2>&1 &
		p+=($!)
	done
	wait "${p[@]}" || true
	for i in $(seq 1 "$1"); do
		grep -q " 1 received" "$_tmp/p$i.txt" && ok=$((ok + 1))
	done
	echo "$ok"
}

all_reach() { # all_reach N: every client reaches $IN; progress now and then
	local ok
	ok=$(reaching "$1")
	_tries=$((${_tries:-0} + 1))
	[ $((_tries % 5)) -eq 0 ] && echo "# $ok of $1 clients reach $IN"
	[ "$ok" -eq "$1" ]
}

# what ldirectord or keepalived does: a real server that stops answering
# leaves the service
health_check() {
	while ip netns exec $NS2 ping -c 1 -W 1 "$1" >/dev/null 2>&1; do
		sleep 0.5
	done
	ip netns exec $NS2 ipvsadm -d -f 1 -r "$1"
	date +%s%N >"$_tmp/removed"
}

t_ipvs() {
	local i on1 on2 t0 t1 removed
	lb_up
	gw_start 1
	gw_start 2
	clients_up "$NC"
	for i in $(seq 1 "$NC"); do
		# $IP2 is the service's address; DPD every 2 s, given up after 6
		dialup_client "$i" "$([ $((i % 2)) -eq 0 ] && echo tcp || echo udp)" \
			"$(printf '%s\n' "remote-ts = $IN/32" "dpd = 2" "dpd-timeout = 6" "retry = 1")"
	done
	wait_for 1500 sh -c "[ \$((\$(grep -c 'CHILD_SA installed' '$_tmp/g1.out') + \
		\$(grep -c 'CHILD_SA installed' '$_tmp/g2.out'))) -ge $NC ]" ||
		{ tail -n 20 "$_tmp/g1.out" "$_tmp/g2.out" "$_tmp/c1.log" "$_tmp/c2.log"; false; }
	on1=$(installed 1)
	on2=$(installed 2)
	echo "# tunnels: $on1 on g1, $on2 on g2"
	n2 ipvsadm -Ln | sed 's/^/# /'
	# both gateways serve clients (source hashing of 20 addresses)
	[ "$on1" -gt 0 ]
	[ "$on2" -gt 0 ]
	wait_for 50 all_reach "$NC"
	# over each transport, on each gateway
	grep -q "IKE SA established (.*, TCP" "$_tmp/g1.out"
	grep -q "IKE SA established (.*, UDP" "$_tmp/g1.out"
	grep -q "IKE SA established (.*, TCP" "$_tmp/g2.out"
	grep -q "IKE SA established (.*, UDP" "$_tmp/g2.out"
	health_check 10.99.1.1 &
	pids+=($!)
	# g1 dies: its helper, its kernel state, its link
	t0=$(date +%s%N)
	kill -9 "$G1_PID"
	ip netns pids esptcp-g1 | xargs -r kill -9 2>/dev/null || true
	pp ip netns del esptcp-g1
	wait_for 100 test -s "$_tmp/removed"
	removed=$(cat "$_tmp/removed")
	echo "# g1 out of the service after $(((removed - t0) / 1000000)) ms"
	_tries=0
	wait_for 60 all_reach "$NC" ||
		{ tail -n 20 "$_tmp/g2.out"; grep -l "IKE SA down" "$_tmp"/c*.log | head -n 3; false; }
	t1=$(date +%s%N)
	echo "# all $NC clients reach $IN again $(((t1 - t0) / 1000000)) ms after g1 died" \
		"($on1 of them started over on g2; DPD every 2 s, dpd-timeout 6 s, retry 1 s)"
	# g2 took them: their second tunnels; its own clients kept theirs
	[ "$(installed 2)" -ge "$NC" ]
	[ "$(grep -c "IKE SA down" "$_tmp/g2.out" || true)" = 0 ]
	grep -c "peer stopped answering" "$_tmp"/c*.log | awk -F: '$2 > 0' | wc -l |
		sed 's/^/# clients that saw their gateway stop answering: /'
}

esptcp_load
topo_up
t_case "$NC road warriors over UDP and TCP behind IPVS on two gateways; one dies, its clients move to the other" t_ipvs
t_done
