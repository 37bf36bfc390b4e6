#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# UDP with TCP fallback: the IKE helper keeps one IKE SA and its CHILD_SAs
# across transports.  The router (nr) blocks UDP and ESP with nftables or
# resets TCP; the tunnel must carry on with the same SPIs and ESP sequence
# numbers, and without a new IKE_SA_INIT.  Also: NAT on the router for both
# transports, MOBIKE back to UDP, and libreswan's fallback where it applies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
. "$(dirname "$0")/pki.sh"
trap 'peers_stop_all; stop_all; unblock; topo_down; rm -rf "$_tmp"' EXIT

PSK='"failover test key"'

# conf FILE ROLE [KEY=VALUE...]: n1 initiator, n2 responder; IPv4, or
# IPv6 outside and inside with FAM=6
conf() {
	local file=$1 role=$2 kv o1=$IP1 o2=$IP2 i1=$IN1/32 i2=$IN2/32
	shift 2
	[ "${FAM:-4}" = 6 ] && o1=$IP1_6 o2=$IP2_6 i1=$IN1_6/128 i2=$IN2_6/128
	{
		# [global] keys for the responder (a gateway's limits)
		if [ "$role" = responder ] && [ -n "${R_GLOBAL:-}" ]; then
			echo "[global]"
			echo "$R_GLOBAL"
		fi
		echo "[conn t]"
		echo "role = $role"
		if [ "$role" = initiator ]; then
			echo "local = $o1"
			echo "remote = $o2"
			echo "local-id = @client.example"
			echo "remote-id = @gw.example"
			# a road warrior's selector is the address it gets
			[[ " $* " == *" vip=yes "* ]] || echo "local-ts = $i1"
			echo "remote-ts = $i2"
		else
			echo "local = $o2"
			echo "local-id = @gw.example"
			echo "remote-id = @client.example"
			echo "local-ts = $i2"
			echo "remote-ts = $i1"
		fi
		echo "psk = $PSK"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$file"
	sed 's/^/#   /' "$file"
}

# the router drops UDP and ESP between the peers: only TCP gets through;
# it counts the TCP handshakes (SYNs) it forwards from then on (syns_since_block)
# (in one transaction: a client that moves within the ~0.5 s one nft
# command takes under TCG must not send its SYN between the drop and the count)
block_udp() {
	nr nft -f - <<-'EOF'
	table inet esptcp_block {
		chain filt {
			type filter hook forward priority 0;
			meta l4proto { udp, esp } drop
			tcp flags syn counter
		}
	}
	EOF
}

syns_since_block() {
	ip netns exec $NSR nft list chain inet esptcp_block filt |
		sed -n 's/.*tcp flags syn counter packets \([0-9]*\).*/\1/p'
}

# the initiator's standby TCP connection is proved (or refused)
standby_ready() {
	wait_for 100 grep -q "standby TCP connection ready" "$_tmp/i.out"
}

unblock() {
	ip netns exec $NSR nft delete table inet esptcp_block 2>/dev/null || true
	ip netns exec $NSR nft delete table inet esptcp_reset 2>/dev/null || true
	ip netns exec $NSR nft delete table ip esptcp_nat 2>/dev/null || true
	ip netns exec $NSR nft delete table inet esptcp_ka 2>/dev/null || true
}

# start [r:KEY=V | i:KEY=V | KEY=V ...]: both helpers
start() {
	local kv ra=() ia=()
	for kv in "$@"; do
		case $kv in
		r:*) ra+=("${kv#r:}") ;;
		i:*) ia+=("${kv#i:}") ;;
		*) ra+=("$kv"); ia+=("$kv") ;;
		esac
	done
	conf "$_tmp/r.conf" responder "${ra[@]}"
	conf "$_tmp/i.conf" initiator "${ia[@]}"
	echo "# [n2] esptcp ike -v r.conf &"
	ip netns exec $NS2 "$ESPTCP" ike -v "$_tmp/r.conf" >"$_tmp/r.out" 2>&1 &
	pids+=($!)
	PID_r=$!
	wait_for 50 grep -q running "$_tmp/r.out"
	echo "# [n1] esptcp ike -v i.conf &"
	ip netns exec $NS1 "$ESPTCP" ike -v "$_tmp/i.conf" >"$_tmp/i.out" 2>&1 &
	pids+=($!)
	PID_i=$!
	wait_for 200 grep -q "CHILD_SA installed" "$_tmp/i.out"
	wait_for 50 grep -q "CHILD_SA installed" "$_tmp/r.out"
}

# spis NS: the namespace's ESP SPIs, sorted, one line
spis() {
	ip -n "$1" xfrm state | awk '/proto esp spi/ {print $4}' | sort | tr '\n' ' '
}

# oseq NS: the outbound state's sequence number (the state whose src is ours)
oseq() {
	local src=$IP1 hex
	[ "$1" = "$NS2" ] && src=$IP2
	hex=$(ip -n "$1" xfrm state | grep -A8 "^src $src " | grep -o 'oseq 0x[0-9a-f]*' |
		head -n 1 | cut -d' ' -f2)
	echo $((hex))
}

# stat_i NAME: one of the initiator helper's counters (SIGUSR1 prints them)
stat_i() {
	helper_stat "$PID_i" "$_tmp/i.out" "$1"
}

t_blocked_from_start() {
	inner_addrs 4
	block_udp
	start i:fallback-timeout=1s
	grep -E "trying TCP|established|installed" "$_tmp/i.out"
	grep -q "no answer over UDP in 1000 ms: trying TCP" "$_tmp/i.out"
	grep -q "IKE SA established (.*TCP" "$_tmp/i.out"
	n1 ping -c 3 -i 0.3 -W 2 -I "$IN1" "$IN2"
	n1 "$ESPTCP" show
	[ "$(n1 "$ESPTCP" show | grep -c '^socket ino')" = 1 ]
}

# block_under_ping [PING-ARGS]: 100 pings from n1 to IN2 (into ping.txt),
# UDP blocked after 2 s; returns once the responder is on TCP and the pings
# are done
block_under_ping() {
	ip netns exec $NS1 ping -c 100 -i 0.1 -W 1 "$@" "$IN2" >"$_tmp/ping.txt" 2>&1 &
	local p=$!
	sleep 2
	block_udp
	wait_for 100 grep -q "now on TCP" "$_tmp/r.out"
	wait $p || true
	tail -n 2 "$_tmp/ping.txt"
}

# UDP dies under a ping (and, with iperf, under iperf3), default settings:
# TCP takes over on the warm standby connection, so the router forwards no
# TCP handshake after the block
t_blocked_mid() {
	local perf=${1:-} s1 s2 o1 o2 got
	inner_addrs 4
	start
	grep -q "IKE SA established (.*UDP" "$_tmp/i.out"
	standby_ready
	n2 "$ESPTCP" show | grep "standby tcp"
	s1=$(spis $NS1)
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	o1=$(oseq $NS1)
	echo "# SPIs before: $s1; oseq $o1"
	if [ -n "$perf" ]; then
		ip netns exec $NS2 iperf3 -s -1 -B "$IN2" >/dev/null 2>&1 &
		wait_for 50 iperf_listening $NS2
		ip netns exec $NS1 iperf3 -c "$IN2" -B "$IN1" -t 10 -f m >"$_tmp/perf.txt" 2>&1 &
		local ip=$!
		sleep 2
		block_udp
		wait $ip
		grep -E "sender|receiver" "$_tmp/perf.txt"
		grep -q receiver "$_tmp/perf.txt"
	else
		block_under_ping -I "$IN1"
		got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$_tmp/ping.txt")
		echo "# background ping: $got of 100 replies across the block (reported, not asserted)"
	fi
	grep -E "moving|now on" "$_tmp/i.out" "$_tmp/r.out"
	grep -q "moving to TCP over the standby connection: no inbound ESP, and no answer to a path check" "$_tmp/i.out"
	grep -q "now on TCP (UDP path lost)" "$_tmp/r.out"
	echo "# TCP handshakes through the router after the block: $(syns_since_block)"
	[ "$(syns_since_block)" = 0 ]
	[ "$(stat_i moves_standby)" = 1 ]
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	s2=$(spis $NS1)
	o2=$(oseq $NS1)
	echo "# SPIs after: $s2; oseq $o2"
	[ "$s1" = "$s2" ]
	[ "$o2" -gt "$o1" ]
	[ "$(n1 "$ESPTCP" show | grep -c '^socket ino')" = 1 ]
	got=$(stat_i ike_sa_init_sent)
	echo "# IKE_SA_INIT sent by the initiator in all: $got"
	[ "$got" = 1 ]
	cp "$_tmp/i.out" "$_tmp/mid-i.log"
}

# a one-way flow: datagrams from n1 through the tunnel that nothing
# answers, so no ESP comes in while ESP goes out.  With ESP in UDP on IKE's
# own path (encap = yes) that is no dead path: the initiator checks the
# path with a liveness request, which is answered, and the tunnel stays on
# UDP (on a stalled path the same check goes unanswered and the tunnel
# moves: mid_ping, roadwarrior)
t_one_way() {
	local out0 out1 checks
	inner_addrs 4
	start i:encap=yes
	grep -q "IKE SA established (.*UDP" "$_tmp/i.out"
	grep -q "CHILD_SA installed, .* (ESP in UDP)" "$_tmp/r.out"
	out0=$(out_esp $NS1)
	ip netns exec $NS2 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$IN2', 9999))
s.settimeout(3)
try:
    while True:
        s.recv(2000)
except OSError:
    pass" &
	pids+=($!)
	sleep 0.5
	echo "# [n1] 6 s of datagrams to $IN2:9999, 20 a second, none answered"
	ip netns exec $NS1 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$IN1', 0))
for i in range(120):
    s.sendto(b'x' * 100, ('$IN2', 9999))
    time.sleep(0.05)"
	out1=$(out_esp $NS1)
	checks=$(stat_i quiet_checks)
	echo "# outbound ESP $out0 -> $out1; liveness checks for the quiet path: $checks, answered $(stat_i dpd_answered)"
	[ "$out1" -ge $((out0 + 100)) ]
	[ "$checks" -ge 2 ]
	[ "$(stat_i dpd_answered)" -ge "$checks" ]
	expect_fail grep -q "moving to TCP" "$_tmp/i.out"
	[ "$(stat_i moved_to_tcp)" = 0 ]
	n2 "$ESPTCP" show | grep -qE "^  ike t .* udp children 1"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# plain ESP (protocol 50) is another path than IKE's UDP: a router that
# drops ESP and passes UDP leaves IKE's liveness answered while ESP is
# lost, so quiet ESP alone moves the tunnel to TCP
t_esp_only() {
	inner_addrs 4
	start i:udp-timeout=1s
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	nr nft add table inet esptcp_block
	nr nft add chain inet esptcp_block filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_block filt meta l4proto esp drop
	n1 ping -c 30 -i 0.1 -W 1 -I "$IN1" "$IN2" >/dev/null || true
	wait_for 100 grep -q "now on TCP" "$_tmp/r.out"
	grep -E "moving|now on" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	grep -q "moving to TCP.*: no inbound ESP for 1000 ms while sending" "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# a lossy but working UDP path: 5% of packets lost each way on the router
# (netem) under a 20 ms ping for 10 s, default settings: no move
t_lossy() {
	local lost
	inner_addrs 4
	start
	standby_ready
	nr tc qdisc add dev r1 root netem loss 5%
	nr tc qdisc add dev r2 root netem loss 5%
	ip netns exec $NS1 ping -c 500 -i 0.02 -W 1 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 || true
	nr tc qdisc del dev r1 root
	nr tc qdisc del dev r2 root
	tail -n 2 "$_tmp/ping.txt"
	echo "# path checks: $(stat_i quiet_checks), moves to TCP: $(stat_i moved_to_tcp)"
	expect_fail grep -q "moving to TCP" "$_tmp/i.out"
	[ "$(stat_i moved_to_tcp)" = 0 ]
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# the router resets the standby connection (its TCP keepalive draws the
# reset): the initiator opens a new one, the gateway replaces the old one,
# and the tunnel stays on UDP throughout
t_standby_reset() {
	inner_addrs 4
	start i:keepalive=1s
	standby_ready
	nr nft add table inet esptcp_reset
	nr nft add chain inet esptcp_reset filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_reset filt tcp dport 4500 reject with tcp reset
	wait_for 100 grep -q "standby TCP connection lost" "$_tmp/i.out"
	nr nft delete table inet esptcp_reset
	wait_for 150 eval '[ "$(grep -c "standby TCP connection ready" "$_tmp/i.out")" -ge 2 ]'
	wait_for 50 grep -q "replaced by a new standby connection" "$_tmp/r.out"
	grep -E "standby|moving|now on" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	expect_fail grep -q "moving to TCP" "$_tmp/i.out"
	n2 "$ESPTCP" show | grep -qE "^  ike t .* udp children 1"
	[ "$(n2 "$ESPTCP" show | grep -c "standby tcp .* ready")" = 1 ]
	[ "$(n2 "$ESPTCP" show | grep -c '^socket ino')" = 1 ]
	[ "$(stat_r standby_open)" = 1 ]
}

# a gateway at its limit of standby connections (standby-max = 0 here)
# refuses the client's: the tunnel works on UDP, and when UDP dies it
# moves over a new TCP connection as before
t_standby_limit() {
	inner_addrs 4
	R_GLOBAL="standby-max = 0" start
	wait_for 100 grep -q "the gateway refused a standby TCP connection" "$_tmp/i.out"
	grep -q "standby TCP connection from .* refused: standby-max reached" "$_tmp/r.out"
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	wait_for 50 eval '[ "$(n2 "$ESPTCP" show | grep -c "^socket ino")" = 0 ]'
	[ "$(stat_r standby_refused)" -ge 1 ]
	block_under_ping -I "$IN1"
	grep -q "moving to TCP: " "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	[ "$(syns_since_block)" -ge 1 ]
}

# out_esp NS: packets of the namespace's outbound ESP state (the one from its address)
out_esp() {
	local src=$IP1
	[ "$1" = "$NS2" ] && src=$IP2
	ip -s -n "$1" xfrm state | awk -v s="$src" '
		$1 == "src" { cur = ($2 == s) }
		cur && $1 ~ /^[0-9]+\(bytes\),$/ { sub(/\(packets\)/, "", $2); print $2; exit }'
}

# stat_r NAME: one of the responder helper's counters
stat_r() {
	helper_stat "$PID_r" "$_tmp/r.out" "$1"
}

# the responder's own DPD request is out when the connection breaks; after
# the initiator reconnects it goes again on the new connection (RFC 9329
# 7.2) and is answered there, so the tunnel outlives dpd-timeout
t_responder_dpd_reconnect() {
	inner_addrs 4
	local sent
	start i:transport=tcp i:dpd=0 r:dpd=1s r:dpd-timeout=10s
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	# nothing from the responder reaches the initiator: its next DPD goes unanswered
	sent=$(stat_r dpd_sent)
	nr nft add table inet esptcp_reset
	nr nft add chain inet esptcp_reset filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_reset filt tcp sport 4500 drop
	wait_for 50 eval '[ "$(stat_r dpd_sent)" -gt "$sent" ]'
	# then the initiator's connection is reset; it reconnects
	nr nft add rule inet esptcp_reset filt tcp dport 4500 reject with tcp reset
	n1 ping -c 2 -i 0.2 -W 1 -I "$IN1" "$IN2" || true
	wait_for 50 grep -q "TCP connection lost" "$_tmp/i.out"
	nr nft delete table inet esptcp_reset
	wait_for 100 grep -q "now on TCP (the initiator reconnected)" "$_tmp/r.out"
	# past the dpd-timeout of the request sent on the old connection
	sleep 12
	grep -E "lost|reconnect|now on|stopped" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	expect_fail grep -q "the peer stopped answering" "$_tmp/r.out"
	[ "$(stat_r dpd_answered)" -ge 1 ]
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# the router resets the TCP connection; the initiator reconnects
t_tcp_reset() {
	local s1 s2 o1 o2
	inner_addrs 4
	start i:transport=tcp
	s1=$(spis $NS1)
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	o1=$(oseq $NS1)
	nr nft add table inet esptcp_reset
	nr nft add chain inet esptcp_reset filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_reset filt tcp dport 4500 reject with tcp reset
	n1 ping -c 2 -i 0.2 -W 1 -I "$IN1" "$IN2" || true
	wait_for 50 grep -q "TCP connection lost" "$_tmp/i.out"
	nr nft delete table inet esptcp_reset
	wait_for 100 grep -q "now on TCP (the initiator reconnected)" "$_tmp/r.out"
	grep -E "lost|reconnect|now on" "$_tmp/i.out" "$_tmp/r.out"
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	s2=$(spis $NS1)
	o2=$(oseq $NS1)
	echo "# SPIs $s1 -> $s2; oseq $o1 -> $o2"
	[ "$s1" = "$s2" ]
	[ "$o2" -gt "$o1" ]
	[ "$(stat_i ike_sa_init_sent)" = 1 ]
}

# with MOBIKE, once UDP passes again the SAs go back to it
t_back_to_udp() {
	local s1 s2 tx rx
	inner_addrs 4
	start i:udp-probe=2s
	s1=$(spis $NS1)
	standby_ready
	block_udp
	n1 ping -c 30 -i 0.1 -W 1 -I "$IN1" "$IN2" >/dev/null || true
	wait_for 100 grep -q "now on TCP" "$_tmp/r.out"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	unblock
	# a 20 ms ping across the way back: nothing may be lost
	ip netns exec $NS1 ping -c 400 -i 0.02 -W 2 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 &
	local p=$!
	wait_for 150 grep -q "now on UDP (UDP works again)" "$_tmp/i.out"
	wait $p || true
	wait_for 50 grep -q "now on UDP (UDP works again)" "$_tmp/r.out"
	grep -E "now on|standby|fell back" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	tail -n 2 "$_tmp/ping.txt"
	tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$_tmp/ping.txt")
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$_tmp/ping.txt")
	echo "# answered checks over UDP before the move back: $(stat_i return_checks); pings lost across it: $((tx - rx)) of $tx"
	[ "$(stat_i return_checks)" -ge 2 ]
	[ "$tx" -ge 400 ] && [ "$rx" = "$tx" ]
	# the connection stays as the standby, on both sides
	wait_for 50 eval 'n1 "$ESPTCP" show | grep -q "standby tcp .* ready"'
	n2 "$ESPTCP" show | grep -q "standby tcp .* ready"
	local tx0
	tx0=$(stat_of $NS1 tx_esp_pkts)
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	# esptcp carries nothing now
	[ "$(stat_of $NS1 tx_esp_pkts)" = "$tx0" ]
	s2=$(spis $NS1)
	[ "$s1" = "$s2" ]
	n1 "$ESPTCP" show | grep "^ike\|^  ike\|standby"
	# UDP fails again soon after coming back: over the standby again (no
	# handshake through the router), and the hold-down before the next
	# try doubles
	block_udp
	n1 ping -c 30 -i 0.1 -W 1 -I "$IN1" "$IN2" >/dev/null || true
	wait_for 100 eval '[ "$(grep -c "now on TCP" "$_tmp/r.out")" -ge 2 ]'
	grep -q "fell back to TCP 1 time soon after returning: UDP is tried again in 4 s" \
		"$_tmp/i.out"
	[ "$(syns_since_block)" = 0 ]
	[ "$(stat_i flap_holddowns)" = 1 ]
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# UDP comes back in one direction only: the gateway's datagrams to the
# client are dropped, so the client's checks over UDP arrive and are
# answered, but the answers are lost.  Each check goes again over TCP and
# must be answered there (the gateway answered it on UDP already), or the
# SA would hang until dpd-timeout and die; the tunnel stays on TCP
t_return_half() {
	inner_addrs 4
	start i:udp-probe=2s i:dpd-timeout=8s r:dpd-timeout=8s
	standby_ready
	block_udp
	n1 ping -c 20 -i 0.1 -W 1 -I "$IN1" "$IN2" >/dev/null || true
	wait_for 100 grep -q "now on TCP" "$_tmp/r.out"
	# both ways blocked to one way blocked in one transaction: between
	# two commands, UDP would work both ways for a moment, and a check
	# answered then starts a move the one-way block cuts in half
	echo "# [nr] nft: UDP and ESP from $IP2 only dropped from now on"
	ip netns exec $NSR nft -f - <<-EOF
	flush chain inet esptcp_block filt
	add rule inet esptcp_block filt ip saddr $IP2 meta l4proto { udp, esp } drop
	EOF
	wait_for 100 eval '[ "$(stat_i return_failed)" -ge 1 ]'
	# past the dpd-timeout of the first check sent again over TCP
	sleep 10
	echo "# checks over UDP that failed: $(stat_i return_failed); answered: $(stat_i return_checks)"
	grep -E "now on|stopped|down" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	expect_fail grep -q "the peer stopped answering" "$_tmp/i.out"
	expect_fail grep -q "now on UDP" "$_tmp/i.out"
	[ "$(stat_i return_failed)" -ge 2 ]
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
}

# the seed's dial-up gateway: a pool of 5, DNS, TCP on port 5500, UDP
# first.  A road warrior (vip = yes) gets the pool's first address and
# routes; UDP dies under a ping, and the tunnel carries on over TCP with the
# same address, routes and SPIs, then returns to UDP.  Its updown script
# hears up (UDP), the moves (TCP, then UDP) and down, and the gateway's show
# lists the lease with the client's identity and transport.
RW_VIP=192.168.111.1
t_roadwarrior() {
	local s1 s2 log=$_tmp/updown.log
	inner_addrs 4
	updown_script "$_tmp/updown.sh" "$log"
	start port=5500 i:vip=yes i:udp-timeout=1s i:udp-probe=2s "i:updown=$_tmp/updown.sh" \
		"r:pool=$RW_VIP-192.168.111.5" "r:dns=10.1.0.53"
	wait_for 50 grep -q "virtual address $RW_VIP on lo" "$_tmp/i.out"
	grep -q "virtual address $RW_VIP leased to the client" "$_tmp/r.out"
	ip -n $NS1 route show table 220 | grep -q "^$IN2 via 192.0.2.254 dev v1 .*src $RW_VIP"
	# the route picks the source: no -I
	n1 ping -c 3 -i 0.2 -W 2 "$IN2"
	s1=$(spis $NS1)
	block_under_ping
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	s2=$(spis $NS1)
	[ "$s1" = "$s2" ]
	ip -n $NS1 addr show dev lo | grep -q "inet $RW_VIP/32"
	ip -n $NS1 route show table 220 | grep -q "^$IN2 .*src $RW_VIP"
	n2 "$ESPTCP" show | grep -E "^  (ike|lease)"
	n2 "$ESPTCP" show | grep -qE "^  ike t .* responder peer client.example at .* tcp children 1"
	n2 "$ESPTCP" show | grep -qE "^  lease $RW_VIP to client.example since [0-9]+s"
	wait_for 50 updown_seen "$log" move 1
	[ "$(updown_var "$log" move ESPTCP_TRANSPORT)" = tcp ]
	[ "$(updown_var "$log" move ESPTCP_VIP)" = "$RW_VIP" ]
	# and back to UDP: the same again
	unblock
	wait_for 100 grep -q "now on UDP (UDP works again)" "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	[ "$(spis $NS1)" = "$s1" ]
	ip -n $NS1 route show table 220 | grep -q "^$IN2 .*src $RW_VIP"
	wait_for 50 updown_seen "$log" move 2
	[ "$(updown_count "$log" move)" = 2 ]
	[ "$(updown_var "$log" move ESPTCP_TRANSPORT)" = udp ]
	[ "$(updown_var "$log" up ESPTCP_TRANSPORT)" = udp ]
	[ "$(updown_var "$log" up ESPTCP_VIP)" = "$RW_VIP" ]
	[ "$(updown_var "$log" up ESPTCP_DNS)" = 10.1.0.53 ]
	[ "$(updown_var "$log" up ESPTCP_PEER_ID)" = gw.example ]
	# a CHILD_SA rekey is no down (nor an up), and the routes stay
	kill -USR2 "$PID_i"
	wait_for 100 grep -q "CHILD_SA removed" "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	[ "$(updown_count "$log" down)" = 0 ]
	[ "$(updown_count "$log" up)" = 1 ]
	ip -n $NS1 route show table 220 | grep -q "^$IN2 .*src $RW_VIP"
	# the client stops: down, and the address and routes go
	kill "$PID_i"
	wait "$PID_i" || true
	updown_seen "$log" down
	[ "$(updown_var "$log" down ESPTCP_VIP)" = "$RW_VIP" ]
	expect_fail sh -c "ip -n $NS1 addr show dev lo | grep -q 'inet $RW_VIP/'"
	[ -z "$(ip -n $NS1 route show table 220)" ]
	sed 's/^/# updown: /' "$log" | grep -E "verb|TRANSPORT|VIP="
}

# a road warrior that roams: its default router changes (the routes
# follow without a move), its host moves to an address on another
# subnet (MOBIKE over UDP, local = %any), then UDP dies and the router resets
# its TCP connection, so it reconnects.  Through all of it the virtual
# address and the SPIs stay, and the routes follow the new next hop.  The
# gateway runs an updown script too, which records its view and then fails:
# the failure is logged and counted, and the tunnel stays.
RW_NET=198.18.1
t_rw_roam() {
	local s1 log=$_tmp/updown.log glog=$_tmp/gw-updown.log
	inner_addrs 4
	updown_script "$_tmp/updown.sh" "$log"
	updown_script "$_tmp/gw-updown.sh" "$glog"
	echo "exit 3" >>"$_tmp/gw-updown.sh"
	start i:vip=yes "i:local=%any" i:udp-timeout=1s "i:updown=$_tmp/updown.sh" \
		"r:pool=$RW_VIP-192.168.111.5" "r:dns=10.1.0.53" "r:updown=$_tmp/gw-updown.sh"
	wait_for 50 grep -q "virtual address $RW_VIP on lo" "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	s1=$(spis $NS1)
	# the gateway's script: the client's lease and identity, then its failure
	wait_for 50 updown_seen "$glog" up
	[ "$(updown_var "$glog" up ESPTCP_ROLE)" = responder ]
	[ "$(updown_var "$glog" up ESPTCP_VIP)" = "$RW_VIP" ]
	[ "$(updown_var "$glog" up ESPTCP_DNS)" = 10.1.0.53 ]
	[ "$(updown_var "$glog" up ESPTCP_PEER_ID)" = client.example ]
	[ "$(updown_var "$glog" up ESPTCP_PEER_TS)" = "$RW_VIP/32" ]
	[ "$(updown_var "$glog" up ESPTCP_LOCAL_TS)" = "$IN2/32" ]
	wait_for 50 grep -q "updown script for the up of conn t failed (exit status 3); the tunnel stays" \
		"$_tmp/r.out"
	[ "$(stat_r updown_failed)" = 1 ]
	# a new default router on the same link, the address unchanged: no
	# move, but the routes follow the next hop
	nr ip addr add 192.0.2.253/24 dev r1
	n1 ip route replace default via 192.0.2.253
	wait_for 50 eval 'ip -n $NS1 route show table 220 | grep -q "^$IN2 via 192.0.2.253 dev v1 .*src $RW_VIP"'
	grep -q "the route to the gateway changed: the virtual address's routes follow" "$_tmp/i.out"
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	# MOBIKE: the host's new address is on another subnet, behind another
	# next hop
	# (the new next hop before the old address goes: the move then sees
	# the route it will have, whichever step it follows under TCG)
	nr ip addr add "$RW_NET.254/24" dev r1
	n1 ip addr add "$RW_NET.1/24" dev v1
	n1 ip route replace default via "$RW_NET.254"
	n1 ip addr del "$IP1/24" dev v1
	wait_for 150 grep -q "moved to our new address $RW_NET.1" "$_tmp/i.out"
	# the move put the routes in again, not the look at the next hop
	[ "$(grep -c "the route to the gateway changed" "$_tmp/i.out")" = 1 ]
	wait_for 50 eval 'ip -n $NS1 route show table 220 | grep -q "^$IN2 via $RW_NET.254 dev v1 .*src $RW_VIP"'
	ip -n $NS1 route show table 220 | sed 's/^/# table 220: /'
	n1 ping -c 2 -i 0.2 -W 2 "$IN2"
	[ "$(spis $NS1)" = "$s1" ]
	wait_for 50 updown_seen "$log" move 1
	# UDP dies: over TCP from the new address; then the router resets TCP
	block_under_ping
	nr nft add table inet esptcp_reset
	nr nft add chain inet esptcp_reset filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_reset filt tcp dport 4500 reject with tcp reset
	n1 ping -c 2 -i 0.2 -W 1 "$IN2" || true
	wait_for 50 grep -q "TCP connection lost" "$_tmp/i.out"
	nr nft delete table inet esptcp_reset
	wait_for 100 grep -q "now on TCP (the initiator reconnected)" "$_tmp/r.out"
	grep -E "moved|now on|lost|virtual" "$_tmp/i.out" "$_tmp/r.out" | sed 's/^/# /'
	n1 ping -c 3 -i 0.2 -W 2 "$IN2"
	[ "$(spis $NS1)" = "$s1" ]
	ip -n $NS1 addr show dev lo | grep -q "inet $RW_VIP/32"
	ip -n $NS1 route show table 220 | grep -q "^$IN2 via $RW_NET.254 dev v1 .*src $RW_VIP"
	n2 "$ESPTCP" show | grep -E "^  (ike|lease)" | sed 's/^/# /'
	n2 "$ESPTCP" show | grep -qE "^  ike t .* responder peer client.example at $RW_NET.1:[0-9]+ tcp children 1"
	n2 "$ESPTCP" show | grep -qE "^  lease $RW_VIP to client.example since [0-9]+s"
	[ "$(updown_count "$log" up)" = 1 ]
	[ "$(updown_count "$log" down)" = 0 ]
	[ "$(updown_var "$log" move ESPTCP_VIP)" = "$RW_VIP" ]
	[ "$(updown_var "$log" move ESPTCP_LOCAL_ADDR)" = "$RW_NET.1" ]
	[ "$(stat_i ike_sa_init_sent)" = 1 ]
}

# the same road warrior over IPv6, with an address from an IPv6 pool and an
# IPv6 DNS server: the address on lo as a /128, the route through the tunnel
# from it, ping; a reconnect gets the same address again
RW_VIP6=2001:db8:111::1
t_roadwarrior6() {
	local log=$_tmp/updown.log
	FAM=6
	inner_addrs 6
	updown_script "$_tmp/updown.sh" "$log"
	start i:vip=yes "i:updown=$_tmp/updown.sh" \
		"r:pool=$RW_VIP6-2001:db8:111::5" "r:dns=2001:db8:2::53"
	wait_for 50 grep -q "virtual address $RW_VIP6 on lo" "$_tmp/i.out"
	grep -q "virtual address $RW_VIP6 leased to the client" "$_tmp/r.out"
	ip -n $NS1 addr show dev lo | grep -q "inet6 $RW_VIP6/128"
	ip -n $NS1 -6 route show table 220 | sed 's/^/# table 220: /'
	ip -n $NS1 -6 route show table 220 | grep -q "^$IN2_6 via 2001:db8:1::fe dev v1 .*src $RW_VIP6"
	ip -n $NS1 -6 rule | grep -q "^220:.*lookup 220"
	ip -n $NS1 xfrm policy | grep -q "^src $RW_VIP6/128 dst $IN2_6/128"
	n1 ping -c 3 -i 0.2 -W 2 "$IN2_6"
	wait_for 50 updown_seen "$log" up
	[ "$(updown_var "$log" up ESPTCP_VIP)" = "$RW_VIP6" ]
	[ "$(updown_var "$log" up ESPTCP_DNS)" = 2001:db8:2::53 ]
	# the client goes and comes back: the same address for the same identity
	kill "$PID_i"
	wait "$PID_i" || true
	expect_fail sh -c "ip -n $NS1 addr show dev lo | grep -q 'inet6 $RW_VIP6/'"
	[ -z "$(ip -n $NS1 -6 route show table 220)" ]
	echo "# [n1] esptcp ike -v i.conf & (again)"
	ip netns exec $NS1 "$ESPTCP" ike -v "$_tmp/i.conf" >"$_tmp/i2.out" 2>&1 &
	pids+=($!)
	wait_for 200 grep -q "virtual address $RW_VIP6 on lo" "$_tmp/i2.out"
	n1 ping -c 2 -i 0.2 -W 2 "$IN2_6"
}

# the initiator's host changes its address while on TCP (local = %any): the
# old connection can only time out, so the initiator reconnects from the new
# address; the responder migrates the states there and binds them to the
# new connection: same SPIs, and the tunnel carries on
ROAM=192.0.2.31
t_tcp_new_address() {
	local s1 s2
	inner_addrs 4
	start i:transport=tcp "i:local=%any"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	s1=$(spis $NS2)
	n1 sysctl -qw net.ipv4.conf.v1.promote_secondaries=1
	n1 ip addr add "$ROAM/24" dev v1
	n1 ip addr del "$IP1/24" dev v1
	n1 ip route replace default via 192.0.2.254
	wait_for 100 grep -q "our address is gone" "$_tmp/i.out"
	wait_for 150 grep -q "the peer moved to $ROAM" "$_tmp/r.out"
	grep -E "moved|now on|closed|reconnect" "$_tmp/i.out" "$_tmp/r.out"
	# each side names who moved: the initiator itself, not its peer
	wait_for 50 grep -q "moved to our new address $ROAM" "$_tmp/i.out"
	expect_fail grep -q "the peer moved" "$_tmp/i.out"
	ip -n $NS2 xfrm state | grep -q "^src $ROAM dst $IP2"
	ip -n $NS1 xfrm state | grep -q "^src $ROAM dst $IP2"
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	s2=$(spis $NS2)
	echo "# SPIs $s1-> $s2"
	[ "$s1" = "$s2" ]
	[ "$(n1 "$ESPTCP" show | grep -c '^socket ino')" = 1 ]
}

nat_on() {
	nr nft add table ip esptcp_nat
	nr nft add chain ip esptcp_nat post '{ type nat hook postrouting priority 100; }'
	nr nft add rule ip esptcp_nat post oifname r2 masquerade
}

t_nat() {
	local tr=$1
	inner_addrs 4
	nat_on
	# the router counts one-byte UDP datagrams to 4500: NAT keepalives
	nr nft add table inet esptcp_ka
	nr nft add chain inet esptcp_ka filt '{ type filter hook forward priority 0; }'
	nr nft add rule inet esptcp_ka filt udp dport 4500 udp length 9 counter
	start "i:transport=$tr" i:keepalive=1s
	grep "established" "$_tmp/i.out" "$_tmp/r.out"
	n1 ping -c 3 -i 0.2 -W 2 -I "$IN1" "$IN2"
	sleep 3
	local ka
	ka=$(ip netns exec $NSR nft list chain inet esptcp_ka filt | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
	nr nft delete table inet esptcp_ka
	echo "# NAT keepalives seen by the router: $ka"
	if [ "$tr" = udp ]; then
		grep -q "behind NAT" "$_tmp/r.out"
		ip -n $NS1 xfrm state | grep -q "encap type espinudp"
		[ "$ka" -ge 2 ]
	else
		[ "$(n1 "$ESPTCP" show | grep -c '^socket ino')" = 1 ]
		[ "$ka" = 0 ]
	fi
}

# libreswan (enable-tcp=fallback) against our responder, UDP blocked
t_libreswan_fallback() {
	grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp ||
		t_skip "kernel $(uname -r) has no espintcp for libreswan's side (debug/reference kernels have it)"
	inner_addrs 4
	block_udp
	conf "$_tmp/r.conf" responder
	sed -i '/local-id\|remote-id/d' "$_tmp/r.conf"
	sed -i "s/^psk = .*/psk = \"$PEERS_PSK\"/" "$_tmp/r.conf"
	ip netns exec $NS2 "$ESPTCP" ike -v "$_tmp/r.conf" >"$_tmp/r.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q running "$_tmp/r.out"
	pluto_start $NS1 "$_tmp/pluto1"
	# pluto falls back on its next keying try, after the UDP one times out
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" tcp=fallback \
		keyingtries=3 retransmit_timeout=10s
	pluto_initiate "$_tmp/pluto1" c1 90 || true
	wait_for 300 grep -q "CHILD_SA installed" "$_tmp/r.out"
	pluto_up "$_tmp/pluto1" c1
	ip -n $NS1 xfrm state | grep -q "encap type espintcp"
	peers_ping n1 3
}

cleanup() {
	peers_stop_all
	stop_all
	unblock
	ip -n $NS1 addr add "$IP1/24" dev v1 2>/dev/null || true
	ip -n $NS1 addr del "$ROAM/24" dev v1 2>/dev/null || true
	ip -n $NS1 route replace default via 192.0.2.254 2>/dev/null || true
	ip netns exec $NS1 sysctl -qw net.ipv4.conf.v1.promote_secondaries=0
	# a road warrior killed before it could take its address away
	ip -n $NS1 addr del "$RW_VIP/32" dev lo 2>/dev/null || true
	ip -n $NS1 route flush table 220 2>/dev/null || true
	ip -n $NS1 rule del table 220 2>/dev/null || true
	ip -n $NS1 addr del "$RW_VIP6/128" dev lo 2>/dev/null || true
	ip -n $NS1 -6 route flush table 220 2>/dev/null || true
	ip -n $NS1 -6 rule del table 220 2>/dev/null || true
	ip -n $NS1 addr del "$RW_NET.1/24" dev v1 2>/dev/null || true
	ip -n $NSR addr del "$RW_NET.254/24" dev r1 2>/dev/null || true
	ip -n $NSR addr del 192.0.2.253/24 dev r1 2>/dev/null || true
	tunnel_down
	# each case's updown records its own events
	rm -f "$_tmp"/*.out "$_tmp"/*updown.log
}

# a road warrior that logged in with EAP-MSCHAPv2 (the gateway with a
# certificate and a users file): UDP dies under ping, the tunnel carries on
# over TCP with the same SAs, and no new IKE SA means no new EAP round
t_eap_moves() {
	local P=$_tmp/pki s1 s2
	inner_addrs 4
	mkdir -p "$P"
	pki_ca "$P" ca
	pki_issue "$P" ca gw p256 "DNS:gw.example"
	printf 'alice password="alice-secret-1" groups=testgrp\n' >"$_tmp/users"
	chmod 600 "$_tmp/users"
	start i:udp-timeout=1s r:auth=pubkey r:remote-auth=eap "r:cert=$P/gw.pem" \
		"r:key=$P/gw.key" "r:users=$_tmp/users" r:group=testgrp r:remote-id=%any \
		i:local-auth=eap i:remote-auth=pubkey "i:ca=$P/ca.pem" i:eap-identity=alice \
		'i:eap-password="alice-secret-1"'
	grep -q "IKE SA established (.*UDP.*peer alice by EAP-MSCHAPv2 (group testgrp)" \
		"$_tmp/r.out"
	s1=$(spis $NS1)
	block_under_ping -I "$IN1"
	grep -q "now on TCP (UDP path lost)" "$_tmp/r.out"
	n1 ping -c 2 -i 0.2 -W 2 -I "$IN1" "$IN2"
	s2=$(spis $NS1)
	echo "# SPIs before $s1, after $s2"
	[ "$s1" = "$s2" ]
	[ "$(grep -c "IKE SA established" "$_tmp/r.out")" = 1 ]
	[ "$(grep -c "IKE SA established" "$_tmp/i.out")" = 1 ]
	[ "$(stat_i ike_sa_init_sent)" = 1 ]
}

# In CI the debug tier leaves this suite out: rebind.sh moves bound SAs
# between connections, to plain ESP and back, and closes connections under
# them, under ping, which is the module's side of mid_ping and reset.  Run
# on debug by hand (TESTS=failover), it keeps libreswan's fallback, which
# needs espintcp: the reference kernel has it too.
debug_subset="libreswan"
# the kernel tier has the same moves without a virtual address (mid_ping, mobike)
helper_only="roadwarrior rw_roam roadwarrior6 one_way esp_only eap_moves return_half"

esptcp_load
topo_up
t_case_cleaned start "UDP blocked from the start: the tunnel comes up over TCP" t_blocked_from_start
t_case_cleaned mid_ping "UDP blocked under ping: same SPIs over TCP, seq grows, no new IKE_SA_INIT" t_blocked_mid
t_case_cleaned mid_iperf "UDP blocked under iperf3: the transfer completes over TCP" t_blocked_mid iperf
t_case_cleaned one_way "a one-way flow over UDP (nothing comes back) is no dead path: checked, no move" \
	t_one_way
t_case_cleaned esp_only "plain ESP dropped, UDP passed: quiet ESP alone moves the tunnel to TCP" \
	t_esp_only
t_case_cleaned lossy "5% loss each way on the UDP path under a 20 ms ping: no move" t_lossy
t_case_cleaned standby_reset "the standby connection reset by the router: opened again, the tunnel stays on UDP" \
	t_standby_reset
t_case_cleaned standby_limit "a gateway over its standby limit refuses one; tunnels work, moves go on a new connection" \
	t_standby_limit
t_case_cleaned eap_moves "an EAP road warrior: UDP blocked under ping, same SAs over TCP, no new EAP" \
	t_eap_moves
t_case_cleaned reset "TCP reset by the router: the initiator reconnects, same SAs" t_tcp_reset
t_case_cleaned resp_dpd "the responder's DPD, out when TCP broke, is answered on the new connection" \
	t_responder_dpd_reconnect
t_case_cleaned tcp_new_address "TCP: the initiator's address changes; it reconnects from the new one" \
	t_tcp_new_address
t_case_cleaned mobike "MOBIKE: UDP unblocked, checks, back to UDP under a 20 ms ping with no loss; a flap doubles the hold-down" \
	t_back_to_udp
t_case_cleaned return_half "on TCP, UDP back one way only: checks fail, each answered over TCP, no hang" \
	t_return_half
t_case_cleaned roadwarrior "dial-up: a road warrior's virtual address and routes survive UDP -> TCP -> UDP" \
	t_roadwarrior
t_case_cleaned rw_roam "dial-up: the address and routes follow MOBIKE to another subnet and a TCP reconnect; gateway updown fails" \
	t_rw_roam
t_case_cleaned roadwarrior6 "dial-up over IPv6: an address from an IPv6 pool, DNS, routes, the same address again" \
	t_roadwarrior6
t_case_cleaned nat_udp "NAT (masquerade) on the router, UDP: ESP in UDP" t_nat udp
t_case_cleaned nat_tcp "NAT (masquerade) on the router, TCP" t_nat tcp
t_case_cleaned libreswan "libreswan with enable-tcp=fallback, UDP blocked: over TCP to esptcp" t_libreswan_fallback
t_done
