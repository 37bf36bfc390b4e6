#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The datapath's edges: SAs moved between connections and back to plain ESP
# while traffic flows, IKE and ESP interleaved under load, a peer that stops
# reading, a spliced file that must stay untouched, rmmod with live tunnels.
. "$(dirname "$0")/lib.sh"

trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT
PEER="python3 $(dirname "$0")/ike_peer.py"

# oseq NS SPI: the outbound sequence number xfrm has reached for an SA
oseq() {
	ip -n "$1" -s xfrm state get src "$3" dst "$4" proto esp spi "$2" |
		sed -n 's/.*oseq 0x\([0-9a-f]*\).*/\1/p' | head -n 1 | xargs -I{} printf '%d\n' 0x{}
}

# sock_stat NS INO NAME: one socket's counter, from `esptcp show -j`
sock_stat() {
	ip netns exec "$1" "$ESPTCP" show -j | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(next(s['stats']['$3'] for s in d['sockets'] if s['ino'] == $2))"
}

ping_ok() {
	n1 ping -c 3 -i 0.2 -W 2 -I "$T1" "$T2"
}

t_rebind() {
	tunnel_up 4 tunnel gcm esp
	local a1=$INO1 a2=$INO2 s0 s1 s2 s3
	ping_ok
	# a ping that runs through every move below
	ip netns exec $NS1 ping -i 0.2 -I "$T1" "$T2" >"$_tmp/bgping.out" 2>&1 &
	local bgping=$!
	s0=$(oseq $NS1 $SPI_12 "$O1" "$O2")
	# a second connection, no SAs yet; move both SAs of both sides to it
	carrier_up 4 4501 "$O2"
	echo "# first carrier ino $a1/$a2, second $INO1/$INO2"
	n1 "$ESPTCP" bind --sock "$INO1" --out $SPI_12 --in $SPI_21
	n2 "$ESPTCP" bind --sock "$INO2" --in $SPI_12 --out $SPI_21
	ping_ok
	[ "$(sock_stat $NS1 "$INO1" tx_esp_pkts)" -ge 3 ]
	s1=$(oseq $NS1 $SPI_12 "$O1" "$O2")
	# the old connection can go now
	kill "${pids[0]}" "${pids[1]}"
	ping_ok
	# back to plain ESP: the router must see ESP again
	n1 "$ESPTCP" unbind --out "$SPI_12@$O2" --in "$SPI_21@$O1"
	n2 "$ESPTCP" unbind --in "$SPI_12@$O2" --out "$SPI_21@$O1"
	ip netns exec $NSR tcpdump -nqUi r1 -c 3 -w "$_tmp/esp.pcap" esp 2>"$_tmp/dump.err" &
	local dump=$!
	wait_for 50 grep -q listening "$_tmp/dump.err"
	ping_ok
	wait $dump
	s2=$(oseq $NS1 $SPI_12 "$O1" "$O2")
	# and into TCP again
	n1 "$ESPTCP" bind --sock "$INO1" --out $SPI_12 --in $SPI_21
	n2 "$ESPTCP" bind --sock "$INO2" --in $SPI_12 --out $SPI_21
	ping_ok
	s3=$(oseq $NS1 $SPI_12 "$O1" "$O2")
	kill -INT $bgping
	wait $bgping || true
	tail -n 2 "$_tmp/bgping.out"
	local tx rx
	tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$_tmp/bgping.out")
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$_tmp/bgping.out")
	# reported, not asserted: between one side's command and the other's,
	# frames reach a socket their inbound SA is not (or no longer) bound to
	echo "# background ping across the moves: $rx of $tx answered"
	[ "$tx" -ge 10 ]
	[ "$rx" -gt 0 ]
	echo "# oseq of SA $SPI_12: $s0 -> $s1 -> $s2 -> $s3"
	[ "$s0" -gt 0 ]
	[ "$s1" -gt "$s0" ]
	[ "$s2" -gt "$s1" ]
	[ "$s3" -gt "$s2" ]
	pp ip -n $NS1 -s xfrm state list spi $SPI_12
	echo "# XfrmInStateSeqError n1 $(seq_errors $NS1) n2 $(seq_errors $NS2)"
	[ "$(seq_errors $NS1)" = 0 ]
	[ "$(seq_errors $NS2)" = 0 ]
	tunnel_down
}

# mappings FILE: how many XFRM_MSG_MAPPING the listener has printed, once
# the count has stopped changing (the listener prints as they come)
mappings() {
	local a b i
	b=$(grep -c '^mapping' "$1" || true)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.5
		a=$b
		b=$(grep -c '^mapping' "$1" || true)
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}

# a bound state updated in place (new NAT-T port of the peer, as a helper
# that follows a NAT does): binding it again to the same socket makes the
# receive path rebuild the state's new header, so xfrm stops reporting a
# mapping change on every packet
t_follow_state() {
	tunnel_up 4 tunnel gcm udp
	local lis m0 m1 m2
	ip netns exec $NS2 python3 -c '
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 6)   # NETLINK_XFRM
s.bind((0, 1 << 7))                                         # XFRMNLGRP_MAPPING
print("listening", flush=True)
while True:
    d = s.recv(65536)
    off = 0
    while off + 16 <= len(d):
        n, t = struct.unpack_from("=IH", d, off)
        if t == 0x26:                                       # XFRM_MSG_MAPPING
            print("mapping", flush=True)
        if n < 16:
            break
        off += (n + 3) & ~3
' >"$_tmp/map.out" 2>&1 &
	lis=$!
	pids+=($lis)
	wait_for 50 grep -q listening "$_tmp/map.out"
	ping_ok
	m0=$(mappings "$_tmp/map.out")
	algo gcm
	pp ip -n $NS2 xfrm state update src "$O1" dst "$O2" proto esp spi $SPI_12 reqid 2 \
		mode tunnel replay-window 128 "${ALGO[@]}" encap espinudp 4999 4500 0.0.0.0
	ping_ok
	m1=$(mappings "$_tmp/map.out")
	n2 "$ESPTCP" bind --sock "$INO2" --in $SPI_12
	ping_ok
	m2=$(mappings "$_tmp/map.out")
	echo "# XFRM_MSG_MAPPING seen: $m0 before the update, $m1 after it, $m2 after the re-bind"
	[ "$m0" = 0 ]
	[ "$m1" -gt 0 ]
	[ "$m2" = "$m1" ]
	[ "$(seq_errors $NS2)" = 0 ]
	kill $lis
}

# peer_result FILE: the IKE peer has finished its exchange, well or not
peer_result() {
	grep -qE 'intact|damaged|EOF' "$1"
}

# IKE messages interleaved with ESP in both directions of one stream, for as
# long as the exchange lasts: the peers take the SAs, iperf3 runs, and the
# messages go only once ESP flows; the peers keep the SAs bound until iperf3
# is stopped, so no ESP leaves the stream
t_ike_under_load() {
	tunnel_up 4 tunnel gcm esp 4500
	# the tool's carrier goes; IKE-speaking ones take the SAs
	stop_all
	local q1 q2 g1 g2 e0 n msgs=300
	# the debug kernel moves a tenth of the bytes in the same time
	[ "${FLAVOUR:-}" = debug ] && msgs=100
	q1=$(seq_errors $NS1)
	q2=$(seq_errors $NS2)
	g1=$(stat_of $NS1 tx_seq_gaps)
	g2=$(stat_of $NS2 tx_seq_gaps)
	ip netns exec $NS2 $PEER listen 4510 --in "$SPI_12@$IP2" --out "$SPI_21@$IP1" \
		--count $msgs --go "$_tmp/go" --linger >"$_tmp/p2.out" 2>&1 &
	local p2=$!
	wait_for 50 grep -q listening "$_tmp/p2.out"
	ip netns exec $NS1 $PEER connect "$IP2" 4510 --out "$SPI_12@$IP2" --in "$SPI_21@$IP1" \
		--count $msgs --go "$_tmp/go" --linger >"$_tmp/p1.out" 2>&1 &
	local p1=$!
	wait_for 50 grep -q ready "$_tmp/p1.out"
	wait_for 50 grep -q ready "$_tmp/p2.out"
	# from here on, ESP of these SAs outside the stream is a failure
	ip netns exec $NSR tcpdump -nqUi r1 -w "$_tmp/plain.pcap" esp 2>"$_tmp/dump.err" &
	local dump=$!
	wait_for 50 grep -q listening "$_tmp/dump.err"
	ip netns exec $NS2 iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
	local srv=$!
	wait_for 50 iperf_listening $NS2
	# stopped once the exchange is over (and so directly, not through n1)
	# (as long as the exchange takes: on the debug kernel that can pass a minute)
	ip netns exec $NS1 iperf3 -c "$T2" -B "$T1" -t 600 -P 4 -f m >"$_tmp/iperf.txt" 2>&1 &
	local cli=$!
	e0=$(stat_of $NS2 rx_esp_pkts)
	wait_for 100 stat_ge $NS2 rx_esp_pkts $((e0 + 200))
	touch "$_tmp/go"
	wait_for 600 peer_result "$_tmp/p1.out"
	wait_for 100 peer_result "$_tmp/p2.out"
	# ESP still flowed when the exchange ended
	kill -0 $cli || { cat "$_tmp/iperf.txt"; false; }
	echo "# ESP frames received by n2 during the exchange: $(($(stat_of $NS2 rx_esp_pkts) - e0))"
	kill $cli
	wait $cli || true
	# stopped early, the client has only its own (sender) side
	grep sender "$_tmp/iperf.txt" | tail -n 1 || true
	wait $srv || true
	kill $dump
	wait $dump || true
	local rc1=0 rc2=0
	kill $p1 $p2
	wait $p1 || rc1=$?
	wait $p2 || rc2=$?
	cat "$_tmp/p1.out" "$_tmp/p2.out"
	[ $rc1 = 0 ]
	[ $rc2 = 0 ]
	n=$(tcpdump -nr "$_tmp/plain.pcap" 2>/dev/null | wc -l)
	echo "# ESP packets outside the stream: $n"
	[ "$n" = 0 ]
	q1=$(($(seq_errors $NS1) - q1))
	q2=$(($(seq_errors $NS2) - q2))
	g1=$(($(stat_of $NS1 tx_seq_gaps) - g1))
	g2=$(($(stat_of $NS2 tx_seq_gaps) - g2))
	echo "# tx_reordered n1 $(stat_of $NS1 tx_reordered) n2 $(stat_of $NS2 tx_reordered)," \
		"tx_seq_gaps n1 +$g1 n2 +$g2, XfrmInStateSeqError n1 +$q1 n2 +$q2"
	# one stream keeps order: replay drops only follow a sender's given-up gap
	[ "$q2" = 0 ] || [ "$g1" -gt 0 ]
	[ "$q1" = 0 ] || [ "$g2" -gt 0 ]
	tunnel_down
}

t_peer_stops_reading() {
	local q=/sys/module/esptcp/parameters/tx_queue_bytes old
	old=$(cat $q)
	echo 65536 >$q
	n1 sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536"
	sa_setup $NS1 "$IP1" "$IP2" tunnel gcm esp "$IN1" "$IN2" $SPI_12 $SPI_21
	n1 ip addr add "$IN1/32" dev lo
	n1 ip route add "$IN2/32" via 192.0.2.254 src "$IN1"
	# a responder that takes the connection and never reads from it
	ip netns exec $NS2 python3 -c '
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 4520)); l.listen(1); print("listening", flush=True)
c, _ = l.accept(); time.sleep(60)' >"$_tmp/sink.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/sink.out"
	ip netns exec $NS1 "$ESPTCP" connect -4 -p 4520 --out $SPI_12 "$IP2" >"$_tmp/c.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/c.out"
	# queued ESP stays charged to the sending socket, which throttles a
	# local sender first (ping sets a small SO_SNDBUF); a forced large send
	# buffer lets this one outrun esptcp's queue, as forwarded traffic would
	n1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 32, 64 << 20)  # SO_SNDBUFFORCE
s.bind(("'"$IN1"'", 0))
sent = 0
for i in range(3000):
    try:
        s.sendto(bytes(1000), ("'"$IN2"'", 9))
        sent += 1
    except OSError:
        pass
print("sent", sent, "datagrams")'

	local drops
	n1 "$ESPTCP" show
	drops=$(stat_of $NS1 tx_drop_queue)
	echo "# tx_drop_queue $drops"
	echo "$old" >$q
	n1 sysctl -qw net.ipv4.tcp_wmem="4096 16384 4194304"
	[ "$drops" -gt 0 ]
	stop_all
	xfrm_flush
	n1 ip addr del "$IN1/32" dev lo
}

# Fragnesia (CVE-2026-46300): ESP frames spliced from the page cache must
# reach xfrm as a private copy, never as the file's own pages.
t_splice_file() {
	sa_setup $NS2 "$IP2" "$IP1" tunnel gcm esp "$IN2" "$IN1" $SPI_21 $SPI_12
	ip netns exec $NS2 "$ESPTCP" listen -4 -p 4530 --in "$SPI_12" >"$_tmp/l.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/l.out"
	# 1000 frames for the bound inbound SA, sequence numbers 1..1000: more
	# than the 256 the receive backlog holds, so the parser is paused and
	# resumed on the way, and every frame must still reach xfrm
	python3 -c '
import struct, sys
out = b""
for seq in range(1, 1001):
    esp = struct.pack("!II", 0x1001, seq) + bytes(range(8, 8 + 72))
    out += struct.pack("!H", len(esp) + 2) + esp
sys.stdout.buffer.write(out)' >"$_tmp/frames"
	local before after rx0 err0
	before=$(md5sum <"$_tmp/frames")
	rx0=$(stat_of $NS2 rx_esp_pkts)
	err0=$(xfrm_stat $NS2 XfrmInStateProtoError)
	n1 python3 -c '
import os, socket, sys, time
s = socket.create_connection(("'"$IP2"'", 4530))
s.sendall(b"IKETCP")
time.sleep(1)  # static mode binds after the attach: let it finish
with open(sys.argv[1], "rb") as f:
    n = os.sendfile(s.fileno(), f.fileno(), 0, os.fstat(f.fileno()).st_size)
print("spliced", n, "bytes"); time.sleep(2)' "$_tmp/frames"
	wait_for 100 stat_ge $NS2 rx_esp_pkts $((rx0 + 1000))
	# the backlog drains into xfrm after the parser has counted the frames
	wait_for 50 xfrm_stat_ge $NS2 XfrmInStateProtoError $((err0 + 1000)) || true
	after=$(md5sum <"$_tmp/frames")
	local err1
	err1=$(xfrm_stat $NS2 XfrmInStateProtoError)
	echo "# frames delivered $(( $(stat_of $NS2 rx_esp_pkts) - rx0 )), xfrm auth failures $((err1 - err0))"
	echo "# file md5 before $before after $after"
	[ "$before" = "$after" ]
	# xfrm did try them (and rejected the forged ones), so the copy was tested
	[ $((err1 - err0)) -ge 1000 ]
	stop_all
	xfrm_flush
}

# esp4_offload lets xfrm leave encryption to the device, after the hook:
# binding such a state for output must be refused, never sent unencrypted
t_offload_refused() {
	modprobe esp4_offload 2>/dev/null ||
		t_skip "kernel $(uname -r) has no esp4_offload module"
	sa_setup $NS1 "$IP1" "$IP2" tunnel gcm esp "$IN1" "$IN2" $SPI_12 $SPI_21
	carrier_up 4 4540 "$IP2"
	local rc=0
	n1 "$ESPTCP" bind --sock "$INO1" --out $SPI_12 2>&1 | tee "$_tmp/off.out" || rc=$?
	grep -q 'not supported' "$_tmp/off.out"
	# the inbound SA has no such restriction
	n1 "$ESPTCP" bind --sock "$INO1" --in $SPI_21
	stop_all
	xfrm_flush
	rmmod esp4_offload 2>/dev/null || true
}

t_rmmod_live() {
	tunnel_up 6 transport gcm esp
	expect_fail pp rmmod esptcp
	ping_ok
	tunnel_down
}

# the short tiers (debug, smoke) run the cases that move ESP through the
# module under load and at its edges; re-binding after an update, offload
# refusal and rmmod are checks of the bind path and of the module's
# reference, the same on every kernel (ulp.sh refuses rmmod on debug too)
# (ike_load, IKE beside 4 iperf3 streams, takes 2 to 4 minutes on the debug
# kernel: the other tiers run it)
debug_subset="move stops_reading splice"

esptcp_load
topo_up
t_case_subset move "SA moved between connections and to plain ESP and back, under ping" t_rebind
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset follow_state "a binding follows its state: re-bind after an update refreshes the header" \
	t_follow_state
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset ike_load "IKE messages intact while ESP flows (4 iperf3 streams)" t_ike_under_load
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset stops_reading "peer that stops reading: ESP dropped and counted" t_peer_stops_reading
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset splice "spliced file: page cache unchanged by ESP input" t_splice_file
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset offload "outbound SA with ESP offload possible: bind refused" t_offload_refused
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset rmmod "rmmod refused with a live tunnel" t_rmmod_live
t_ran && tunnel_down >/dev/null 2>&1
t_done
