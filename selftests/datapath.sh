#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Static-key tunnels through ESP-in-TCP between two namespaces with a router
# between them: SAs made with stock `ip xfrm`, the carrier made and bound
# with the esptcp tool.  Each case checks traffic passes, the counters move,
# the router saw only TCP between the peers, and the replay window saw no
# sequence error.
. "$(dirname "$0")/lib.sh"

# inner addresses live on lo, so no policy covers the carrier itself
IN1=203.0.113.1
IN2=203.0.113.2
IN1_6=2001:db8:ff::1
IN2_6=2001:db8:ff::2
KEY_GCM=0x0123456789abcdef0123456789abcdef01234567
SPI_12=0x1001
SPI_21=0x2001

pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT

# algo NAME: the `ip xfrm state` algorithm arguments, in ALGO
algo() {
	case $1 in
	gcm) ALGO=(aead 'rfc4106(gcm(aes))' $KEY_GCM 128) ;;
	null) ALGO=(enc 'ecb(cipher_null)' '') ;;
	esac
}

# sa_setup NS OUTER_SRC OUTER_DST MODE CIPHER ENCAP: both SAs, both policies
sa_setup() {
	local ns=$1 src=$2 dst=$3 mode=$4 cipher=$5 encap=$6 e=""
	local me=$7 peer=$8 spi_out=$9 spi_in=${10}
	[ "$encap" = udp ] && e="encap espinudp 4500 4500 0.0.0.0"
	algo "$cipher"
	pp ip -n "$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$spi_out" reqid 1 \
		mode "$mode" replay-window 128 "${ALGO[@]}" $e
	pp ip -n "$ns" xfrm state add src "$dst" dst "$src" proto esp spi "$spi_in" reqid 2 \
		mode "$mode" replay-window 128 "${ALGO[@]}" $e
	if [ "$mode" = tunnel ]; then
		pp ip -n "$ns" xfrm policy add src "$me" dst "$peer" dir out \
			tmpl src "$src" dst "$dst" proto esp reqid 1 mode tunnel
		pp ip -n "$ns" xfrm policy add src "$peer" dst "$me" dir in \
			tmpl src "$dst" dst "$src" proto esp reqid 2 mode tunnel
	else
		pp ip -n "$ns" xfrm policy add src "$src" dst "$dst" dir out \
			tmpl proto esp reqid 1 mode transport
		pp ip -n "$ns" xfrm policy add src "$dst" dst "$src" dir in \
			tmpl proto esp reqid 2 mode transport
	fi
}

xfrm_flush() {
	local ns
	for ns in $NS1 $NS2; do
		ip -n $ns xfrm policy flush
		ip -n $ns xfrm state flush
	done
}

# tunnel_up FAM MODE CIPHER ENCAP: states, policies, carrier, bindings
tunnel_up() {
	local fam=$1 mode=$2 cipher=$3 encap=$4 o1 o2 pfx
	if [ "$fam" = 4 ]; then
		o1=$IP1 o2=$IP2 T1=$IN1 T2=$IN2 pfx=32
	else
		o1=$IP1_6 o2=$IP2_6 T1=$IN1_6 T2=$IN2_6 pfx=128
	fi
	if [ "$mode" = transport ]; then
		T1=$o1 T2=$o2
	else
		n1 ip addr add "$T1/$pfx" dev lo
		n2 ip addr add "$T2/$pfx" dev lo
		n1 ip route add "$T2/$pfx" via "$( [ "$fam" = 4 ] && echo 192.0.2.254 || echo 2001:db8:1::fe)" src "$T1"
		n2 ip route add "$T1/$pfx" via "$( [ "$fam" = 4 ] && echo 198.51.100.254 || echo 2001:db8:2::fe)" src "$T2"
	fi
	sa_setup $NS1 "$o1" "$o2" "$mode" "$cipher" "$encap" "$T1" "$T2" $SPI_12 $SPI_21
	sa_setup $NS2 "$o2" "$o1" "$mode" "$cipher" "$encap" "$T2" "$T1" $SPI_21 $SPI_12

	ip netns exec $NS2 "$ESPTCP" listen -"$fam" -p 4500 --in $SPI_12 --out $SPI_21 \
		>"$_tmp/l.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/l.out"
	ip netns exec $NS1 "$ESPTCP" connect -"$fam" -p 4500 --out $SPI_12 --in $SPI_21 "$o2" \
		>"$_tmp/c.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q attached "$_tmp/c.out"
	wait_for 50 grep -q attached "$_tmp/l.out"
	cat "$_tmp/c.out" "$_tmp/l.out"
}

tunnel_down() {
	stop_all
	xfrm_flush
	local ns
	for ns in $NS1 $NS2; do
		ip -n $ns addr flush dev lo scope global 2>/dev/null || true
		ip -n $ns -6 addr flush dev lo scope global 2>/dev/null || true
	done
	# the routes went with the addresses; these catch what is left
	ip -n $NS1 route del "$IN2/32" 2>/dev/null || true
	ip -n $NS2 route del "$IN1/32" 2>/dev/null || true
	ip -n $NS1 -6 route del "$IN2_6/128" 2>/dev/null || true
	ip -n $NS2 -6 route del "$IN1_6/128" 2>/dev/null || true
}

stat_of() { # stat_of NS NAME
	ip netns exec "$1" "$ESPTCP" stats | awk -v n="$2" '$1 == n {print $2}'
}

seq_errors() { # seq_errors NS
	ip netns exec "$1" awk '$1 == "XfrmInStateSeqError" {print $2}' /proc/net/xfrm_stat
}

# t_tunnel FAM MODE CIPHER ENCAP [iperf]
t_tunnel() {
	local fam=$1 mode=$2 cipher=$3 encap=$4 perf=${5:-} tx0 rx0
	tunnel_up "$fam" "$mode" "$cipher" "$encap"
	# the router must see TCP and nothing else between the peers
	echo "# [nr] tcpdump -i r1 -w r1.pcap 'esp or udp or tcp'"
	ip netns exec $NSR tcpdump -nqUi r1 -w "$_tmp/r1.pcap" 'esp or udp or tcp' \
		2>"$_tmp/dump.err" &
	local dump=$!
	wait_for 50 grep -q listening "$_tmp/dump.err"
	tx0=$(stat_of $NS1 tx_esp_pkts)
	rx0=$(stat_of $NS1 rx_esp_pkts)
	n1 ping -c 5 -i 0.2 -W 2 -I "$T1" "$T2"
	if [ -n "$perf" ]; then
		ip netns exec $NS2 iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
		sleep 0.5
		n1 iperf3 -c "$T2" -B "$T1" -t 2 -P 2 -f m | tail -n 4
	fi
	sleep 0.5
	kill -INT $dump
	wait $dump || true
	local tx rx
	tx=$(stat_of $NS1 tx_esp_pkts)
	rx=$(stat_of $NS1 rx_esp_pkts)
	echo "# n1 esp tx $tx0 -> $tx, rx $rx0 -> $rx"
	[ $((tx - tx0)) -ge 5 ]
	[ $((rx - rx0)) -ge 5 ]
	tcpdump -nqr "$_tmp/r1.pcap" 'esp or udp' >"$_tmp/leak" 2>/dev/null
	echo "# ESP or UDP seen by the router: $(wc -l <"$_tmp/leak") packets"
	cat "$_tmp/leak"
	[ ! -s "$_tmp/leak" ]
	[ "$(tcpdump -nqr "$_tmp/r1.pcap" 'tcp port 4500' 2>/dev/null | wc -l)" -gt 0 ]
	echo "# XfrmInStateSeqError n1 $(seq_errors $NS1) n2 $(seq_errors $NS2)"
	[ "$(seq_errors $NS1)" = 0 ]
	[ "$(seq_errors $NS2)" = 0 ]
	tunnel_down
}

esptcp_load
topo_up
for fam in 4 6; do
	for mode in tunnel transport; do
		for cipher in gcm null; do
			for encap in esp udp; do
				perf=
				[ "$cipher" = gcm ] && [ "$encap" = esp ] && perf=iperf
				t_case "IPv$fam $mode $cipher $encap${perf:+ + iperf3}" \
					t_tunnel $fam $mode $cipher $encap $perf
				tunnel_down >/dev/null 2>&1
			done
		done
	done
done
t_done
