#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Many initiators against one responder: each `esptcp ike` client in a
# namespace of its own behind the router.  A gateway with a conn per client
# (over TCP), and a dial-up gateway with one conn and a pool for all of
# them (road warriors with vip = yes): every tunnel must come up and pass a
# ping; a pool too small refuses the client beyond it and no other.
. "$(dirname "$0")/lib.sh"
trap 'many_down $((N > D ? N : D)) >/dev/null 2>&1; stop_all; topo_down; rm -rf "$_tmp"' EXIT

# a conn per client (N), and one dial-up conn for all of them (D)
N=${ESPTCP_MANY:-10}
D=${ESPTCP_DIALUP:-100}
# a load generator's instances (t_loadgen)
L=${ESPTCP_LOADGEN:-200}

installed() { # installed LOG: CHILD_SAs installed so far
	grep -c "CHILD_SA installed" "$1" || true
}

tcpext() { # tcpext NS NAME: a TcpExt counter of the namespace (/proc/net/netstat)
	ip netns exec "$1" awk -v k="$2" '$1 == "TcpExt:" {
		if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		for (i = 2; i <= NF; i++) if (n[i] == k) print $i }' /proc/net/netstat
}

all_up() { # all_up N: the gateway has N CHILD_SAs; progress every 10th try
	local got
	got=$(installed "$_tmp/gw.out")
	_tries=$((${_tries:-0} + 1))
	[ $((_tries % 25)) -eq 0 ] && echo "# $got of $1 tunnels up"
	[ "$got" -ge "$1" ]
}

# ping_all N [inner]: every client pings $IN2 at once (from its inner
# address 203.0.113.100+i, or the source its routes pick); prints how many
# got a reply
ping_all() {
	local i pings=() src=() ok=0
	for i in $(seq 1 "$1"); do
		[ "${2:-}" = inner ] && src=(-I 203.0.113.$((100 + i)))
		ip netns exec esptcp-c$i ping -c 1 -W 5 "${src[@]}" "$IN2" >"$_tmp/p$i.txt" 2>&1 &
		pings+=($!)
	done
	wait "${pings[@]}" || true
	for i in $(seq 1 "$1"); do
		grep -q " 1 received" "$_tmp/p$i.txt" && ok=$((ok + 1))
	done
	echo "$ok"
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
	clients_up "$n"
	for i in $(seq 1 "$n"); do
		ns=esptcp-c$i
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
	ok=$(ping_all "$n" inner)
	echo "# $ok of $n clients got a reply through their tunnel"
	local socks
	socks=$(ip netns exec $NS2 "$ESPTCP" show | grep -c "^socket ino" || true)
	echo "# esptcp sockets on the gateway: $socks"
	[ "$ok" -eq "$n" ]
	[ "$socks" -eq "$n" ]
}

# dialup_gw POOL [GLOBAL-LINE]: the dial-up gateway: one conn for every
# client (remote-id = *@example.org, one group PSK), a pool of POOL, the
# split list $IN2
dialup_gw() {
	n2 ip addr replace "$IN2/32" dev lo
	cat >"$_tmp/gw.conf" <<-EOC
	[global]
	${2:-}
	[conn dialup]
	role = responder
	local = $IP2
	local-id = @gw.example
	remote-id = *@example.org
	psk = "the dial-up group's psk"
	local-ts = $IN2/32
	pool = $1
	EOC
	echo "# [n2] esptcp ike gw.conf & (pool $1)"
	ip netns exec $NS2 "$ESPTCP" ike -v "$_tmp/gw.conf" >"$_tmp/gw.out" 2>&1 &
	GW_PID=$!
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/gw.out"
}

# rss_kb PID: the resident memory of a process, kB
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# vip_of I: the virtual address client I has on its lo (none: empty)
vip_of() {
	ip -n esptcp-c$1 -4 -o addr show dev lo | awk '$4 != "127.0.0.1/8" { sub(/\/.*/, "", $4); print $4 }'
}

# N road warriors against one dial-up conn over TCP: each its own address
# from the pool, all distinct, all ping from it
t_dialup() {
	local n=$1 i ok=0 addrs rss0 rss1 heap0 heap1
	clients_up "$n"
	dialup_gw 10.3.0.0/24
	rss0=$(rss_kb "$GW_PID")
	# the heap from the first SA on: libcrypto's tables come with the first
	dialup_client 1 tcp
	wait_for 500 all_up 1
	heap0=$(helper_stat "$GW_PID" "$_tmp/gw.out" heap_bytes)
	for i in $(seq 2 "$n"); do
		dialup_client "$i" tcp
	done
	wait_for 1500 all_up "$n" ||
		{ tail -n 30 "$_tmp/gw.out"; tail -n 5 "$_tmp"/c1.log; false; }
	# what an IKE SA costs the helper (with its CHILD_SA, lease and TCP link)
	rss1=$(rss_kb "$GW_PID")
	heap1=$(helper_stat "$GW_PID" "$_tmp/gw.out" heap_bytes)
	echo "# gateway helper RSS: $rss0 kB alone, $rss1 kB with $n IKE SAs:" \
		"$(((rss1 - rss0) * 1024 / n)) bytes an IKE SA"
	# (ASan's allocator is not glibc's: its heap_bytes say nothing)
	[ "$heap1" -gt 0 ] && [ "$n" -gt 1 ] &&
		echo "# gateway helper heap in use: $heap0 bytes with 1 IKE SA, $heap1 with $n:" \
			"$(((heap1 - heap0) / (n - 1))) bytes an IKE SA"
	for i in $(seq 1 "$n"); do
		wait_for 50 grep -q "virtual address .* on lo" "$_tmp/c$i.log"
	done
	addrs=$(for i in $(seq 1 "$n"); do vip_of "$i"; done | sort -u | wc -l)
	echo "# distinct virtual addresses: $addrs of $n clients"
	[ "$addrs" -eq "$n" ]
	# the route in table 220 picks the virtual address
	ok=$(ping_all "$n")
	echo "# $ok of $n clients got a reply from their virtual address"
	[ "$ok" -eq "$n" ]
	[ "$(ip netns exec $NS2 "$ESPTCP" show | grep -c '^  lease 10.3.0.')" -eq "$n" ]
	# idle, the gateway's SAs cost its timer passes nothing until their DPD
	# or rekey is due (a scan of all of them each 100 ms tick: 10 a second each)
	local v0 v1 t0
	v0=$(helper_stat "$GW_PID" "$_tmp/gw.out" timer_visits)
	t0=$(date +%s%N)
	sleep 3
	v1=$(helper_stat "$GW_PID" "$_tmp/gw.out" timer_visits)
	t0=$((($(date +%s%N) - t0) / 1000000))
	echo "# gateway timer visits with $n idle IKE SAs: $((v1 - v0)) in $t0 ms"
	[ $(((v1 - v0) * 1000)) -lt $((n * t0)) ]
}

# One load generator (instances = L, install = no) against the dial-up
# gateway from one address, over TRANSPORT: L IKE SAs, each its own
# identity and (TCP) connection, each a distinct address from the pool;
# the generator's kernel holds nothing; when it stops, its DELETEs take
# every SA and lease off the gateway.  Prints the rate it reached.
t_loadgen() {
	local l=$1 tr=$2 t0 t1 socks leases over0 over v0 v1
	dialup_gw 10.4.0.0/20 "half-open-per-source = $l"
	over0=$(tcpext $NS2 ListenOverflows)
	cat >"$_tmp/lg.conf" <<-EOC
	[conn gw]
	role = initiator
	transport = $tr
	local = $IP1
	remote = $IP2
	local-id = c%u@example.org
	remote-id = @gw.example
	psk = "the dial-up group's psk"
	vip = yes
	instances = $l
	install = no
	EOC
	t0=$(date +%s%N)
	echo "# [n1] esptcp ike lg.conf & ($l instances over $tr)"
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/lg.conf" >"$_tmp/lg.out" 2>&1 &
	LG_PID=$!
	pids+=($!)
	wait_for 1500 all_up "$l" ||
		{ tail -n 30 "$_tmp/gw.out"; tail -n 5 "$_tmp/lg.out"; false; }
	t1=$((($(date +%s%N) - t0) / 1000000))
	echo "# $l tunnels up in $t1 ms: $((l * 1000 / (t1 ? t1 : 1))) a second"
	# the gateway took the burst of connections without dropping any
	# (no listen queue overflow, so no SYN retransmitted a second later)
	over=$(($(tcpext $NS2 ListenOverflows) - over0))
	echo "# gateway's listen queue overflowed $over times"
	[ "$over" -eq 0 ]
	[ "$(grep -c "CHILD_SA negotiated.*install = no" "$_tmp/lg.out")" -eq "$l" ]
	[ "$(grep -o "peer c[0-9]*@example.org" "$_tmp/gw.out" | sort -u | wc -l)" -eq "$l" ]
	leases=$(ip netns exec $NS2 "$ESPTCP" show | grep '^  lease 10\.4\..* since ' |
		awk '{print $2}' | sort -u | wc -l)
	socks=$(ip netns exec $NS2 "$ESPTCP" show | grep -c "^socket ino" || true)
	echo "# gateway: $leases distinct leases, $socks esptcp sockets"
	[ "$leases" -eq "$l" ]
	if [ "$tr" = tcp ]; then [ "$socks" -eq "$l" ]; else [ "$socks" -eq 0 ]; fi
	# nothing in the generator's kernel: no states, policies or addresses
	[ -z "$(ip -n $NS1 xfrm state)" ]
	# (its sockets' own bypass policies aside)
	[ "$(ip -n $NS1 xfrm policy | grep -cE '^[[:space:]]*dir (in|out|fwd) ' || true)" = 0 ]
	[ "$(ip -n $NS1 -4 -o addr show dev lo | grep -cv 127.0.0.1 || true)" = 0 ]
	if [ "$tr" = tcp ]; then
		# its initiators on TCP alone have nothing due for a while: the
		# timer wheel leaves them be (each was visited 10 times a second)
		v0=$(helper_stat "$LG_PID" "$_tmp/lg.out" timer_visits)
		sleep 3
		v1=$(helper_stat "$LG_PID" "$_tmp/lg.out" timer_visits)
		echo "# the generator's timers visited $((v1 - v0)) SAs in 3 idle seconds"
		[ $((v1 - v0)) -lt $((3 * l)) ]
	fi
	kill "$LG_PID"
	wait "$LG_PID" || true
	# (their leases stay the identities', released: "kept")
	wait_for 300 sh -c "! ip netns exec $NS2 \"$ESPTCP\" show | grep -q '^  lease 10\.4\..* since '"
	wait_for 100 sh -c "[ -z \"\$(ip -n $NS2 xfrm state)\" ]"
	echo "# the generator stopped: the gateway's $l SAs and their states gone"
}

# the seed's pool of 5 and 6 clients over UDP: the sixth is refused with
# INTERNAL_ADDRESS_FAILURE and the others carry on; a client that comes
# back gets its own address again
t_pool5() {
	local i a1
	clients_up 6
	dialup_gw 192.168.111.1-192.168.111.5 "lease-file = $_tmp/leases"
	for i in 1 2 3 4 5; do
		dialup_client "$i" udp
		wait_for 100 grep -q "virtual address .* on lo" "$_tmp/c$i.log"
	done
	dialup_client 6 udp
	wait_for 100 grep -q "INTERNAL_ADDRESS_FAILURE" "$_tmp/c6.log"
	grep -E "INTERNAL_ADDRESS_FAILURE|no virtual address" "$_tmp/c6.log" "$_tmp/gw.out" |
		sed "s|$_tmp/||; s/^/# /" | head -n 4
	grep -q "no virtual address for the client: the pool of conn dialup" "$_tmp/gw.out"
	[ -z "$(vip_of 6)" ]
	for i in 1 2 3 4 5; do
		ip netns exec esptcp-c$i ping -c 1 -W 5 "$IN2" >/dev/null
	done
	[ "$(helper_stat "$GW_PID" "$_tmp/gw.out" vip_exhausted)" -ge 1 ]
	# client 1 goes (DELETE) and comes back: its address, not the waiting sixth's
	a1=$(vip_of 1)
	kill "$C1_PID"
	wait "$C1_PID" || true
	[ -z "$(vip_of 1)" ]
	dialup_client 1 udp
	wait_for 100 grep -q "virtual address .* on lo" "$_tmp/c1.log"
	echo "# client 1: $a1, again $(vip_of 1)"
	[ "$(vip_of 1)" = "$a1" ]
	ip netns exec esptcp-c1 ping -c 1 -W 5 "$IN2" >/dev/null
	[ -z "$(vip_of 6)" ]
	# the gateway restarts: its lease file keeps each address for its
	# identity, so the five get theirs back and the sixth still gets none
	local before=() i
	for i in 1 2 3 4 5; do
		before[i]=$(vip_of "$i")
	done
	sed 's/^/# leases: /' "$_tmp/leases"
	kill "$GW_PID"
	wait "$GW_PID" || true
	dialup_gw 192.168.111.1-192.168.111.5 "lease-file = $_tmp/leases"
	grep "lease file" "$_tmp/gw.out" | sed 's/^/# /'
	grep -q "5 leases kept for their identities" "$_tmp/gw.out"
	# (the clients start over after the gateway's DELETE)
	wait_for 300 sh -c "[ \$(grep -c 'leased to the client' '$_tmp/gw.out') -ge 5 ]"
	for i in 1 2 3 4 5; do
		wait_for 50 sh -c "ip netns exec esptcp-c$i ping -c 1 -W 2 $IN2 >/dev/null"
		echo "# client $i: ${before[i]}, after the restart $(vip_of "$i")"
		[ "$(vip_of "$i")" = "${before[i]}" ]
	done
	[ -z "$(vip_of 6)" ]
}

esptcp_load
topo_up
t_case_subset many "$N initiators in their own namespaces against one responder over TCP" t_many "$N"
t_ran && many_down "$N" >/dev/null 2>&1
t_ran && topo_up >/dev/null
t_case_subset dialup "$D road warriors against one dial-up conn: distinct addresses, all ping" \
	t_dialup "$D"
t_ran && many_down "$D" >/dev/null 2>&1
t_ran && topo_up >/dev/null
t_case_subset pool5 "a pool of 5 and 6 clients: the sixth refused, a returning client's address kept" \
	t_pool5
t_ran && many_down 6 >/dev/null 2>&1
t_ran && topo_up >/dev/null
t_case_subset loadgen_tcp "a load generator's $L instances over TCP against the dial-up gateway: distinct leases, nothing installed on its side, all gone when it stops" \
	t_loadgen "$L" tcp
t_ran && stop_all >/dev/null 2>&1
t_ran && topo_up >/dev/null
t_case_subset loadgen_udp "a load generator's $L instances over UDP from one socket against the dial-up gateway" \
	t_loadgen "$L" udp
t_done
