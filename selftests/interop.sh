#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On the wire with upstream espintcp (CONFIG_INET_ESPINTCP, the reference and
# debug kernels): one namespace uses upstream's type-7 states and its
# "espintcp" ULP, the other esptcp with plain ESP states.  Each side takes
# each TCP role; IKE messages cross the pair both ways; and both modules
# run tunnels side by side in one kernel without touching each other's.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT
PEER="python3 $(dirname "$0")/ike_peer.py"

have_upstream() {
	grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp ||
		t_skip "kernel $(uname -r) has no CONFIG_INET_ESPINTCP (runs on the reference/debug kernel)"
}

# upstream_sas NS SRC DST ME PEER SPI_OUT SPI_IN SPORT DPORT [REQID]: type-7
# states (reqids REQID, REQID + 1; default 1) and their policies
upstream_sas() {
	local ns=$1 src=$2 dst=$3 me=$4 peer=$5 so=$6 si=$7 sp=$8 dp=$9 r=${10:-1}
	algo gcm
	pp ip -n "$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$so" reqid $r \
		mode tunnel replay-window 128 "${ALGO[@]}" encap espintcp "$sp" "$dp" 0.0.0.0
	pp ip -n "$ns" xfrm state add src "$dst" dst "$src" proto esp spi "$si" reqid $((r + 1)) \
		mode tunnel replay-window 128 "${ALGO[@]}" encap espintcp "$dp" "$sp" 0.0.0.0
	pp ip -n "$ns" xfrm policy add src "$me" dst "$peer" dir out \
		tmpl src "$src" dst "$dst" proto esp reqid $r mode tunnel
	pp ip -n "$ns" xfrm policy add src "$peer" dst "$me" dir in \
		tmpl src "$dst" dst "$src" proto esp reqid $((r + 1)) mode tunnel
}

traffic() {
	n1 ping -c 4 -i 0.3 -W 2 -I "$T1" "$T2"
	n2 ping -c 2 -i 0.3 -W 2 -I "$T2" "$T1"
	ip netns exec $NS2 iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
	wait_for 50 iperf_listening $NS2
	n1 iperf3 -c "$T2" -B "$T1" -t 2 -f m | grep -E 'sender|receiver'
	n2 iperf3 -c "$T1" -B "$T2" -t 2 -f m -R 2>/dev/null | grep -E 'receiver' || true
}

# n1 runs esptcp and originates; n2 runs upstream espintcp and listens
t_esptcp_to_upstream() {
	local fam=$1
	have_upstream
	inner_addrs "$fam"
	sa_setup $NS1 "$O1" "$O2" tunnel gcm esp "$T1" "$T2" $SPI_12 $SPI_21
	ip netns exec $NS2 $PEER listen -"$fam" 4500 --ulp espintcp --hold \
		>"$_tmp/u.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/u.out"
	ip netns exec $NS1 "$ESPTCP" connect -"$fam" -p 4500 --out $SPI_12 --in $SPI_21 "$O2" \
		>"$_tmp/c.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/c.out"
	wait_for 50 grep -q ready "$_tmp/u.out"
	cat "$_tmp/c.out" "$_tmp/u.out"
	local cport
	cport=$(sed -n 's/.*peer port \([0-9]*\).*/\1/p' "$_tmp/u.out")
	upstream_sas $NS2 "$O2" "$O1" "$T2" "$T1" $SPI_21 $SPI_12 4500 "$cport"
	traffic
	[ "$(stat_of $NS1 rx_esp_pkts)" -ge 6 ]
}

# n1 runs upstream espintcp and originates; n2 runs esptcp and listens
t_upstream_to_esptcp() {
	local fam=$1
	have_upstream
	inner_addrs "$fam"
	sa_setup $NS2 "$O2" "$O1" tunnel gcm esp "$T2" "$T1" $SPI_21 $SPI_12
	ip netns exec $NS2 "$ESPTCP" listen -"$fam" -p 4500 --in $SPI_12 --out $SPI_21 \
		>"$_tmp/l.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/l.out"
	ip netns exec $NS1 $PEER connect "$O2" 4500 --ulp espintcp --hold >"$_tmp/u.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/u.out"
	wait_for 50 grep -q ready "$_tmp/l.out"
	cat "$_tmp/u.out" "$_tmp/l.out"
	local lport
	lport=$(sed -n 's/.*local port \([0-9]*\).*/\1/p' "$_tmp/u.out")
	upstream_sas $NS1 "$O1" "$O2" "$T1" "$T2" $SPI_12 $SPI_21 "$lport" 4500
	traffic
	[ "$(stat_of $NS2 rx_esp_pkts)" -ge 6 ]
}

# IKE messages across the pair, both ways at once, 100 each
t_ike_across() {
	have_upstream
	ip netns exec $NS2 $PEER listen 4510 --ulp espintcp --count 100 >"$_tmp/p2.out" 2>&1 &
	local p2=$!
	wait_for 50 grep -q listening "$_tmp/p2.out"
	ip netns exec $NS1 $PEER connect "$IP2" 4510 --count 100 >"$_tmp/p1.out" 2>&1 &
	local p1=$! rc1=0 rc2=0
	wait $p1 || rc1=$?
	wait $p2 || rc2=$?
	cat "$_tmp/p1.out" "$_tmp/p2.out"
	[ $rc1 = 0 ] && [ $rc2 = 0 ]
}

# upstream's tunnel beside esptcp's: its own inner addresses, SPIs, reqids, port
UIN1=203.0.113.11
UIN2=203.0.113.12
USPI_12=0x3001
USPI_21=0x4001

# sa_pkts NS SRC DST SPI: the packets an SA has carried, as xfrm counts them
sa_pkts() {
	ip -n "$1" -s xfrm state get src "$2" dst "$3" proto esp spi "$4" |
		sed -n 's/.*(bytes), *\([0-9]*\)(packets).*/\1/p' | head -n 1
}

# counters NS: esptcp's tx_esp_pkts and rx_esp_pkts in NS, as "TX RX"
counters() {
	echo "$(stat_of "$1" tx_esp_pkts) $(stat_of "$1" rx_esp_pkts)"
}

# An esptcp tunnel and an upstream espintcp tunnel between the same two
# namespaces at the same time, both pinging at once.  Each module must
# carry exactly its own packets: esptcp's counters grow by esptcp's pings
# only, upstream's SAs count upstream's pings only, and `esptcp show` lists
# only esptcp's socket.
t_side_by_side() {
	local n_e=10 n_u=20
	have_upstream
	# esptcp: $IN1 <-> $IN2, port 4500, SPIs $SPI_12/$SPI_21, reqids 1/2
	tunnel_up 4 tunnel gcm esp
	# upstream: $UIN1 <-> $UIN2, port 4501, SPIs $USPI_12/$USPI_21, reqids 3/4
	n1 ip addr add "$UIN1/32" dev lo
	n2 ip addr add "$UIN2/32" dev lo
	n1 ip route add "$UIN2/32" via 192.0.2.254 src "$UIN1"
	n2 ip route add "$UIN1/32" via 198.51.100.254 src "$UIN2"
	ip netns exec $NS2 $PEER listen 4501 --ulp espintcp --hold >"$_tmp/u2.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/u2.out"
	ip netns exec $NS1 $PEER connect "$IP2" 4501 --ulp espintcp --hold >"$_tmp/u1.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/u1.out"
	wait_for 50 grep -q ready "$_tmp/u2.out"
	cat "$_tmp/u1.out" "$_tmp/u2.out"
	local uport
	uport=$(sed -n 's/.*local port \([0-9]*\).*/\1/p' "$_tmp/u1.out")
	upstream_sas $NS1 "$IP1" "$IP2" "$UIN1" "$UIN2" $USPI_12 $USPI_21 "$uport" 4501 3
	upstream_sas $NS2 "$IP2" "$IP1" "$UIN2" "$UIN1" $USPI_21 $USPI_12 4501 "$uport" 3

	# both carriers, each with its own ULP
	n1 ss -tnie state established
	n1 ss -tnie state established "( dport = :4500 )" | grep -q 'tcp-ulp-esptcp'
	n1 ss -tnie state established "( dport = :4501 )" | grep -q 'tcp-ulp-espintcp'

	local c1 c2 u_out u_in e_out
	c1=$(counters $NS1) c2=$(counters $NS2)
	u_out=$(sa_pkts $NS1 "$IP1" "$IP2" $USPI_12)
	u_in=$(sa_pkts $NS1 "$IP2" "$IP1" $USPI_21)
	e_out=$(sa_pkts $NS1 "$IP1" "$IP2" $SPI_12)
	echo "# before: esptcp n1 tx/rx $c1, n2 tx/rx $c2;" \
		"upstream SA packets n1 out $u_out in $u_in"

	# both at once: upstream's ping starts first and ends last
	ip netns exec $NS1 ping -c $n_u -i 0.1 -W 2 -I "$UIN1" "$UIN2" >"$_tmp/uping.out" 2>&1 &
	local uping=$!
	sleep 0.3
	n1 ping -c $n_e -i 0.1 -W 2 -I "$T1" "$T2"
	local rc=0
	wait $uping || rc=$?
	echo "# upstream espintcp ping:"
	tail -n 2 "$_tmp/uping.out"
	[ $rc -eq 0 ]

	local a1 a2 du_out du_in de_out
	a1=$(counters $NS1) a2=$(counters $NS2)
	du_out=$(($(sa_pkts $NS1 "$IP1" "$IP2" $USPI_12) - u_out))
	du_in=$(($(sa_pkts $NS1 "$IP2" "$IP1" $USPI_21) - u_in))
	de_out=$(($(sa_pkts $NS1 "$IP1" "$IP2" $SPI_12) - e_out))
	echo "# after: esptcp n1 tx/rx $a1, n2 tx/rx $a2;" \
		"upstream SAs carried $du_out out, $du_in in; esptcp's SA $de_out out"
	# esptcp carried its $n_e echo requests and replies, and nothing of upstream's
	[ "$a1" = "$(( ${c1% *} + n_e )) $(( ${c1#* } + n_e ))" ]
	[ "$a2" = "$(( ${c2% *} + n_e )) $(( ${c2#* } + n_e ))" ]
	[ $de_out -eq $n_e ]
	# upstream carried its $n_u, in its own SAs
	[ $du_out -eq $n_u ]
	[ $du_in -eq $n_u ]
	# esptcp knows one socket per side: its own carrier, not upstream's
	n1 "$ESPTCP" show
	[ "$(ip netns exec $NS1 "$ESPTCP" show -j | python3 -c \
		'import json, sys; print(len(json.load(sys.stdin)["sockets"]))')" = 1 ]
	[ "$(ip netns exec $NS2 "$ESPTCP" show -j | python3 -c \
		'import json, sys; print(len(json.load(sys.stdin)["sockets"]))')" = 1 ]
}

# only the kernels with upstream espintcp run this.  The debug kernel (CI)
# runs esptcp originating over IPv4, IKE across and side by side; the
# reference kernel (make check KERNEL=reference) all of it
debug_subset="out4 ike side_by_side"

esptcp_load
topo_up
t_case_subset out4 "esptcp originator -> upstream espintcp responder (IPv4)" t_esptcp_to_upstream 4
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset in4 "upstream espintcp originator -> esptcp responder (IPv4)" t_upstream_to_esptcp 4
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset out6 "esptcp originator -> upstream espintcp responder (IPv6)" t_esptcp_to_upstream 6
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset in6 "upstream espintcp originator -> esptcp responder (IPv6)" t_upstream_to_esptcp 6
t_ran && tunnel_down >/dev/null 2>&1
t_case_subset ike "IKE messages between esptcp and upstream espintcp" t_ike_across
t_ran && stop_all
t_case_subset side_by_side "esptcp and upstream espintcp tunnels at once, each counting its own" t_side_by_side
t_ran && tunnel_down >/dev/null 2>&1
t_done
