#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The IKEv2 helper against strongSwan (Debian's charon + swanctl), IKE and
# ESP over UDP: strongSwan has no TCP encapsulation, so this checks our
# IKEv2 against a widely deployed implementation.  Both roles, every
# proposal set; a ping crosses each tunnel both ways.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
. "$(dirname "$0")/ike_lib.sh"
trap 'peers_stop_all; stop_all; topo_down; rm -rf "$_tmp"' EXIT

# swan_to_mine "OUR KEY=VALUE..." [SWAN KEY=VALUE...]: our responder in n2
# (words of the first argument go to its conn), strongSwan in n1 initiates
# conn c1 (T1 <-> T2); returns with the CHILD_SA up on both sides
swan_to_mine() {
	local ours=$1
	shift
	# shellcheck disable=SC2086
	mine $NS2 responder udp $ours
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" "$@"
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	mine_up
}

# sw_ping COUNT INTERVAL FILE: ping T1 -> T2 from n1 in the background; PING_PID
sw_ping() {
	ip netns exec $NS1 ping -c "$1" -i "$2" -W 1 -I "$T1" "$T2" >"$3" 2>&1 &
	PING_PID=$!
}

replies() { # replies FILE: how many echo replies a finished ping got
	sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1"
}

# out_packets NS SRC DST: packets through the outbound state SRC -> DST
out_packets() {
	ip -s -n "$1" xfrm state | awk -v s="$2" -v d="$3" '
		$1 == "src" { cur = ($2 == s && $4 == d) }
		cur && $1 ~ /^[0-9]+\(bytes\),$/ { sub(/\(packets\)/, "", $2); print $2; exit }'
}

# strongSwan in n2 responds; our helper in n1 initiates
t_we_initiate() {
	local set=$1
	trap case_cleanup EXIT
	inner_addrs 4
	peers_proposal "$set"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
		ike="$SWAN_IKE" esp="$SWAN_ESP"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp "ike=$SWAN_IKE" "esp=$SWAN_ESP"
	mine_up
	swan_up "$_tmp/swan2" c1
	swanctl_ "$_tmp/swan2" --list-sas | sed 's/^/# /'
	peers_ping n1 3
	peers_ping n2 2
}

# our helper in n2 responds; strongSwan in n1 initiates
t_swan_initiates() {
	local set=$1
	trap case_cleanup EXIT
	inner_addrs 4
	peers_proposal "$set"
	mine $NS2 responder udp "ike=$SWAN_IKE" "esp=$SWAN_ESP"
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" \
		ike="$SWAN_IKE" esp="$SWAN_ESP"
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	mine_up
	swan_up "$_tmp/swan1" c1
	peers_ping n1 3
	peers_ping n2 2
}

# both sides rekey on short lifetimes while a ping runs (WHO initiates)
t_rekey_both() {
	local who=$1 ours=$NS2 theirs=$NS1 got
	trap case_cleanup EXIT
	inner_addrs 4
	if [ "$who" = swan ]; then
		swan_to_mine "child-rekey=5s ike-rekey=9s" child_rekey=6s ike_rekey=8s
	else
		ours=$NS1 theirs=$NS2
		swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
			child_rekey=6s ike_rekey=8s
		swan_start $NS2 "$_tmp/swan2"
		mine $NS1 initiator udp child-rekey=5s ike-rekey=9s
		mine_up
	fi
	sw_ping 80 0.25 "$_tmp/ping.txt"
	wait $PING_PID || true
	tail -n 2 "$_tmp/ping.txt"
	grep -E "rekey|installed|removed|collision" "$_tmp/mine.out" | sed 's/^/# /'
	got=$(replies "$_tmp/ping.txt")
	echo "# ping: $got of 80 replies through the rekeys"
	# rekeys by us and by strongSwan, of both the CHILD_SA and the IKE SA
	[ "$(grep -c "rekeying CHILD_SA" "$_tmp/mine.out")" -ge 1 ]
	[ "$(grep -c "CHILD_SA installed" "$_tmp/mine.out")" -ge 4 ]
	[ "$(grep -c "IKE SA rekeyed" "$_tmp/mine.out")" -ge 1 ]
	[ "$got" -ge 76 ]
	# between rekeys, one pair on our side: no redundant SA left behind;
	# strongSwan keeps a rekeyed inbound SA 5 s more (delete_rekeyed_delay)
	wait_for 75 eval '[ "$(nstates '"$ours"')" = 2 ] && [ "$(nstates '"$theirs"')" -le 3 ]'
	peers_ping n1 2
}

# our encap = yes alone: our NAT_DETECTION_SOURCE_IP hashes no address of
# ours, so strongSwan sees a NAT in front of us and puts its ESP in UDP
# too; both sides' states are ESP in UDP and the tunnel passes traffic
t_we_encap() {
	trap case_cleanup EXIT
	inner_addrs 4
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp encap=yes
	mine_up
	swan_up "$_tmp/swan2" c1
	ip -n $NS1 xfrm state | grep -q "encap type espinudp sport 4500 dport 4500"
	ip -n $NS2 xfrm state | grep -q "encap type espinudp sport 4500 dport 4500"
	peers_ping n1 3
	peers_ping n2 2
}

# both rekey the CHILD_SA at once (RFC 7296 2.8.1): with 2 s each way on the
# router, requests sent less than 2 s apart cross (swanctl takes a moment to
# start; ours goes 0.8 s after it); one pair survives on both sides
t_collision() {
	local i n=0
	trap case_cleanup EXIT
	inner_addrs 4
	swan_to_mine ""
	nr tc qdisc add dev r1 root netem delay 2000ms
	nr tc qdisc add dev r2 root netem delay 2000ms
	for i in 1 2 3; do
		swanctl_ "$_tmp/swan1" --rekey --child c1 >/dev/null 2>&1 &
		sleep 0.8
		kill -USR2 "$MINE_PID"
		wait $! || true
		sleep 9
		n=$(mine_stat rekey_collisions)
		echo "# attempt $i: $n collision(s) seen"
		[ "$n" -ge 1 ] && break
	done
	nr tc qdisc del dev r1 root
	nr tc qdisc del dev r2 root
	grep -E "rekey|collision|installed|removed" "$_tmp/mine.out" | sed 's/^/# /'
	[ "$n" -ge 1 ]
	wait_for 75 eval '[ "$(nstates $NS1)" = 2 ] && [ "$(nstates $NS2)" = 2 ]'
	ip -n $NS2 xfrm state | grep -E '^src|proto esp' | sed 's/^/# /'
	peers_ping n1 3
	peers_ping n2 2
}

# both rekey the IKE SA at once (RFC 7296 2.8.2): strongSwan rekeys 12 s
# after it established, we up to a tenth earlier at random, and the router
# delays each way by 2 s, so the two requests cross.  The nonces decide; the
# redundant IKE SA is deleted, one is left on each side with the CHILD_SA
# under it, and it works: a CHILD_SA rekey through it, and pings
ike_sas_swan() { # how many IKE SAs strongSwan has in n1
	swanctl_ "$_tmp/swan1" --list-sas | grep -c "^c1: #" || true
}
ike_sas_mine() { # how many IKE SAs our helper shows
	n2 "$ESPTCP" show | grep -c "^  ike " || true
}
t_ike_collision() {
	local n r
	trap 'case_cleanup_with netem_off' EXIT
	inner_addrs 4
	swan_to_mine "ike-rekey=12s" ike_rekey=12s
	nr tc qdisc add dev r1 root netem delay 2000ms
	nr tc qdisc add dev r2 root netem delay 2000ms
	wait_for 150 grep -q "IKE rekey collision" "$_tmp/mine.out"
	netem_off
	grep -E "IKE|collision|DELETE|deleting" "$_tmp/mine.out" | sed 's/^/# /'
	[ "$(mine_stat rekey_collisions)" -ge 1 ]
	wait_for 100 eval '[ "$(ike_sas_swan)" = 1 ] && [ "$(ike_sas_mine)" = 1 ]'
	swanctl_ "$_tmp/swan1" --list-sas | sed 's/^/# /'
	n2 "$ESPTCP" show | grep "^  ike " | sed 's/^/# /'
	n=$(grep -c "CHILD_SA installed" "$_tmp/mine.out")
	# both sides keep rekeying the IKE SA every 12 s: rekey the CHILD_SA
	# just after one of those, not across it (strongSwan then keeps a
	# third state a while, and the count below is not yet 2)
	r=$(grep -c "IKE SA rekeyed" "$_tmp/mine.out")
	wait_for 150 eval '[ "$(grep -c "IKE SA rekeyed" "$_tmp/mine.out")" -gt '"$r"' ]'
	kill -USR2 "$MINE_PID"
	wait_for 100 installed_ge $((n + 1))
	wait_for 75 eval '[ "$(nstates $NS1)" = 2 ] && [ "$(nstates $NS2)" = 2 ]'
	peers_ping n1 3
	peers_ping n2 2
}
netem_off() {
	ip netns exec $NSR tc qdisc del dev r1 root 2>/dev/null || true
	ip netns exec $NSR tc qdisc del dev r2 root 2>/dev/null || true
}

# strongSwan rekeys its CHILD_SA with PFS, its KE in MODP-2048 first while
# our conn wants ECP-256 (RFC 7296 1.3): INVALID_KE_PAYLOAD names our group,
# strongSwan tries again with it, and the rekey completes; the DH groups of
# its IKE_AUTH proposal were ignored, as 1.2 says
t_invalid_ke_rekey() {
	trap case_cleanup EXIT
	inner_addrs 4
	swan_to_mine "esp=aes128gcm16-ecp256" esp=aes128gcm16-modp2048-ecp256
	peers_ping n1 2
	swanctl_ "$_tmp/swan1" --rekey --child c1 >/dev/null
	wait_for 100 installed_ge 2
	grep -E "rekey|installed|removed" "$_tmp/mine.out" | sed 's/^/# /'
	[ "$(mine_stat invalid_ke_sent)" -ge 1 ]
	grep -q "N(INVAL_KE)" "$(cat "$_tmp/swan1/log")"
	wait_for 75 eval '[ "$(nstates $NS2)" = 2 ]'
	peers_ping n1 3
	peers_ping n2 2
}

# liveness: strongSwan's DPD answered (WHO=swan), or ours answered and a
# dead strongSwan noticed within dpd-timeout (WHO=we).  Each side's request
# is liveness to the other, so one side checks at a time.
t_dpd() {
	local who=$1 sent ok answered
	trap case_cleanup EXIT
	inner_addrs 4
	if [ "$who" = swan ]; then
		swan_to_mine "dpd=0" dpd=2s
	else
		swan_to_mine "dpd=2s dpd-timeout=8s"
	fi
	sleep 7
	sent=$(mine_stat dpd_sent) ok=$(mine_stat dpd_answered) answered=$(mine_stat info_answered)
	echo "# our DPD requests $sent, answered $ok; strongSwan's answered by us $answered"
	if [ "$who" = swan ]; then
		[ "$answered" -ge 2 ]
		swan_up "$_tmp/swan1" c1
		return
	fi
	[ "$sent" -ge 2 ]
	[ "$ok" -ge 2 ]
	# the path dies: nothing crosses the router any more
	nr tc qdisc add dev r1 root netem loss 100%
	nr tc qdisc add dev r2 root netem loss 100%
	wait_for 100 grep -q "the peer stopped answering" "$_tmp/mine.out"
	wait_for 25 eval '[ "$(nstates $NS2)" = 0 ]'
	nr tc qdisc del dev r1 root
	nr tc qdisc del dev r2 root
}

# strongSwan takes its CHILD_SA down and makes a new one in the same IKE
# SA (CREATE_CHILD_SA without REKEY_SA): an IKE SA without a child takes one
t_new_child() {
	trap case_cleanup EXIT
	inner_addrs 4
	swan_to_mine ""
	swanctl_ "$_tmp/swan1" --terminate --child c1 >/dev/null
	wait_for 50 grep -q "CHILD_SA removed" "$_tmp/mine.out"
	swanctl_ "$_tmp/swan1" --initiate --child c1 >/dev/null
	wait_for 100 installed_ge 2
	[ "$(grep -c "IKE SA established" "$_tmp/mine.out")" -eq 1 ]
	expect_fail grep -q "NO_ADDITIONAL_SAS\|notify 35" "$(cat "$_tmp/swan1/log")"
	peers_ping n1 3
	peers_ping n2 2
}

# strongSwan's host changes its address (MOBIKE, RFC 4555): its
# UPDATE_SA_ADDRESSES moves the IKE SA, and the CHILD_SAs are migrated to
# the new address with their sequence numbers; the tunnel carries on
ROAM=192.0.2.31
roam_back() {
	ip -n $NS1 addr add "$O1/24" dev v1 2>/dev/null || true
	ip -n $NS1 addr del "$ROAM/24" dev v1 2>/dev/null || true
	ip -n $NS1 route replace default via 192.0.2.254 2>/dev/null || true
	# only now: with it off, deleting the primary address takes O1 with it
	ip netns exec $NS1 sysctl -qw net.ipv4.conf.v1.promote_secondaries=0
}

# n1 takes ROAM instead of O1
roam() {
	n1 sysctl -qw net.ipv4.conf.v1.promote_secondaries=1
	n1 ip addr add "$ROAM/24" dev v1
	n1 ip addr del "$O1/24" dev v1
	n1 ip route replace default via 192.0.2.254
}

# roamed NS: its states and policies are between ROAM and O2
roamed() {
	ip -n "$1" xfrm state | grep -E '^src' | sed 's/^/# /'
	ip -n "$1" xfrm state | grep -q "^src $ROAM dst $O2"
	ip -n "$1" xfrm state | grep -q "^src $O2 dst $ROAM"
	ip -n "$1" xfrm policy | grep -q "tmpl src $2 dst $3"
}

spis() { # spis NS: its ESP SPIs, sorted
	ip -n "$1" xfrm state | awk '/proto esp spi/ {print $4}' | sort | tr '\n' ' '
}

t_mobike_roam() {
	local spis1 spis2
	trap 'case_cleanup_with roam_back' EXIT
	inner_addrs 4
	swan_to_mine ""
	peers_ping n1 2
	spis1=$(spis $NS2)
	roam
	wait_for 150 grep -q "the peer moved to $ROAM" "$_tmp/mine.out"
	grep -E "moved|now on" "$_tmp/mine.out" | sed 's/^/# /'
	roamed $NS2 "$O2" "$ROAM"
	peers_ping n1 3
	peers_ping n2 2
	spis2=$(spis $NS2)
	echo "# SPIs $spis1-> $spis2"
	[ "$spis1" = "$spis2" ]
	[ "$(mine_stat moved_address)" -ge 1 ]
}

# strongSwan's address changes while one of its exchanges is on the way
# (RFC 4555, RFC 7296 2.11): the answer to the old address is lost, and
# strongSwan sends its retransmission from the new one; it must be answered
# there (a copy of the same answer), or strongSwan gives the IKE SA up.  The
# answer to the old address is dropped on purpose, so that the race is
# certain instead of the rare timing it is on a real host.
race_back() {
	ip netns exec $NS1 nft delete table inet esptcp_race 2>/dev/null || true
	roam_back
}

t_mobike_race() {
	local spis1 spis2
	trap 'case_cleanup_with race_back' EXIT
	inner_addrs 4
	swan_to_mine ""
	peers_ping n1 2
	spis1=$(spis $NS2)
	# our IKE answers to the old address are lost from now on
	n1 nft add table inet esptcp_race
	n1 nft add chain inet esptcp_race in '{ type filter hook input priority 0; }'
	n1 nft add rule inet esptcp_race in ip daddr "$O1" udp sport 4500 drop
	n1 sysctl -qw net.ipv4.conf.v1.promote_secondaries=1
	# a second address: strongSwan tells us (its address list) from the old one
	n1 ip addr add "$ROAM/24" dev v1
	wait_for 150 grep -q "sending address list update" "$_tmp/swan1.out"
	sleep 1
	# the old address goes before our answer got through
	n1 ip addr del "$O1/24" dev v1
	n1 ip route replace default via 192.0.2.254
	wait_for 150 grep -q "the peer moved to $ROAM" "$_tmp/mine.out"
	grep -E "moved|now on" "$_tmp/mine.out" | sed 's/^/# /'
	roamed $NS2 "$O2" "$ROAM"
	peers_ping n1 3
	spis2=$(spis $NS2)
	echo "# SPIs $spis1-> $spis2"
	[ "$spis1" = "$spis2" ]
	echo "# retransmissions answered at another address: $(mine_stat rx_retransmits_moved)"
	[ "$(mine_stat rx_retransmits_moved)" -ge 1 ]
}

# strongSwan behind a NAT whose mapping changes while the tunnel is idle
# (RFC 7296 2.23): its next ESP comes from a new port; the kernel reports
# the mapping and the SAs and the IKE SA follow, with the same SPIs, without
# an IKE message from strongSwan (no DPD, no rekey) to show the way
nat_off() {
	ip netns exec $NSR nft delete table ip esptcp_nat 2>/dev/null || true
	ip netns exec $NSR sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 \
		net.netfilter.nf_conntrack_udp_timeout_stream=120 2>/dev/null || true
}

t_nat_rebind() {
	local spis1 spis2 port
	trap 'case_cleanup_with nat_off' EXIT
	inner_addrs 4
	nr nft add table ip esptcp_nat
	nr nft add chain ip esptcp_nat post '{ type nat hook postrouting priority 100; }'
	nr nft add rule ip esptcp_nat post oifname r2 masquerade
	# idle mappings go in 2 s, so that the next packet makes a new one
	nr sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 \
		net.netfilter.nf_conntrack_udp_timeout_stream=2
	# behind the NAT, strongSwan's address (its identity) is not the one we see
	swan_to_mine "remote=any remote-id=$O1"
	grep -q "behind NAT" "$_tmp/mine.out"
	peers_ping n1 2
	spis1=$(spis $NS2)
	# new mappings from other ports; the old one times out unused
	nr nft flush chain ip esptcp_nat post
	nr nft add rule ip esptcp_nat post oifname r2 meta l4proto udp masquerade to :40000-40099
	sleep 4
	peers_ping n1 4
	wait_for 50 grep -q "the peer moved to 198.51.100.254:400.. (NAT mapping)" "$_tmp/mine.out"
	grep -E "moved|NAT" "$_tmp/mine.out" | sed 's/^/# /'
	ip -n $NS2 xfrm state | grep -E '^src|encap' | sed 's/^/# /'
	port=$(ip -n $NS2 xfrm state | sed -n 's/.*encap type espinudp sport \([0-9]*\) dport 4500.*/\1/p' |
		head -n 1)
	echo "# strongSwan's ESP now comes from port $port"
	[ "${port:0:3}" = 400 ]
	peers_ping n2 3
	spis2=$(spis $NS2)
	[ "$spis1" = "$spis2" ]
	[ "$(mine_stat nat_mappings)" -ge 1 ]
	# the IKE SA moved too: our rekey reaches strongSwan at the new port
	kill -USR2 "$MINE_PID"
	wait_for 100 installed_ge 2
	peers_ping n1 2
}

# our host changes its address (MOBIKE, RFC 4555, as the initiator): with
# local = %any the helper sees routing pick the new address, sends
# UPDATE_SA_ADDRESSES from it, and on strongSwan's answer migrates its
# CHILD_SAs; strongSwan moves its side; same SPIs
t_mobike_we() {
	local spis1 spis2
	trap 'case_cleanup_with roam_back' EXIT
	inner_addrs 4
	swan_conf "$_tmp/swan2" c1 local="$O2" remote=%any lts="$T2" rts="$T1" rid="$O1"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp "local=%any"
	mine_up
	peers_ping n1 2
	spis1=$(spis $NS1)
	roam
	wait_for 150 grep -q "moved to our new address $ROAM" "$_tmp/mine.out"
	grep -E "moved|now on" "$_tmp/mine.out" | sed 's/^/# /'
	roamed $NS1 "$ROAM" "$O2"
	# strongSwan followed: its states and its IKE SA are at the new address
	wait_for 50 eval 'ip -n $NS2 xfrm state | grep -q "^src $O2 dst $ROAM"'
	swanctl_ "$_tmp/swan2" --list-sas | grep -E "remote|local" | sed 's/^/# /'
	swanctl_ "$_tmp/swan2" --list-sas | grep -q "$ROAM\[4500\]"
	peers_ping n1 3
	peers_ping n2 2
	spis2=$(spis $NS1)
	echo "# SPIs $spis1-> $spis2"
	[ "$spis1" = "$spis2" ]
}

# a second client of the gateway's conn: an address in n1 beside O1, and
# its inner address beside T1
second_client() {
	O1B=192.0.2.11 T1B=203.0.113.11
	n1 ip addr replace $O1B/24 dev v1
	n1 ip addr replace $T1B/32 dev lo
	n2 ip route replace $T1B/32 via 198.51.100.254 src "$T2"
}

# esptcp_client NAME LOCAL-ID KEY=VALUE...: our helper as a client from
# O1B over TCP, inner address T1B unless local-ts= says otherwise
esptcp_client() {
	local name=$1 kv
	shift
	{
		echo "[conn $name]"
		echo "role = initiator"
		echo "transport = tcp"
		echo "local = $O1B"
		echo "remote = $O2"
		echo "psk = \"$PEERS_PSK\""
		echo "local-ts = $T1B/32"
		echo "remote-ts = $T2/32"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$_tmp/$name.conf"
	sed 's/^/#   /' "$_tmp/$name.conf"
	ip netns exec $NS1 "$ESPTCP" ike -v "$_tmp/$name.conf" >"$_tmp/$name.out" 2>&1 &
	pids+=($!)
}

# two clients of one conn, each with INITIAL_CONTACT: neither evicts the other
t_two_clients() {
	trap case_cleanup EXIT
	inner_addrs 4
	second_client
	swan_to_mine "remote=any remote-ts=203.0.113.0/24"
	peers_ping n1 2
	esptcp_client b
	wait_for 150 grep -q "CHILD_SA installed" "$_tmp/b.out"
	n1 ping -c 2 -i 0.3 -W 3 -I "$T1B" "$T2"
	# strongSwan's SA is still the gateway's: both tunnels carry traffic
	peers_ping n1 3
	peers_ping n2 2
	expect_fail grep -q "INITIAL_CONTACT" "$_tmp/mine.out"
	[ "$(grep -c "IKE SA established" "$_tmp/mine.out")" -eq 2 ]
	swan_up "$_tmp/swan1" c1
}

# strongSwan asks for a second CHILD_SA, with selectors outside the conn's:
# our refusal (NO_ADDITIONAL_SAS, one CHILD_SA per IKE SA) is lost once on
# the router (the first CREATE_CHILD_SA response to n1), strongSwan
# retransmits, and the retransmission gets the same answer again from the
# cache; the IKE SA and the first tunnel stay up
once_off() {
	ip netns exec $NSR nft delete table inet esptcp_once 2>/dev/null
}

t_retransmitted_error() {
	trap 'case_cleanup_with once_off' EXIT
	inner_addrs 4
	swan_to_mine ""
	sed -i "s|^\tchildren {|&\n\t\tc1x {\n\t\t\tlocal_ts = 203.0.113.11/32\n\t\t\tremote_ts = $T2/32\n\t\t\tesp_proposals = aes128gcm16\n\t\t\tstart_action = none\n\t\t}|" \
		"$_tmp/swan1/conns/c1.conf"
	swan_load "$_tmp/swan1"
	nr nft add table inet esptcp_once
	nr nft add set inet esptcp_once seen '{ type ipv4_addr; flags dynamic; }'
	nr nft add chain inet esptcp_once filt '{ type filter hook forward priority 0; }'
	# the IKE exchange type, 36 for CREATE_CHILD_SA, is UDP payload byte 18
	# on port 500 and byte 22 (after the non-ESP marker) on 4500
	nr nft add rule inet esptcp_once filt ip saddr "$O2" udp sport 500 @th,208,8 36 \
		ip daddr != @seen add @seen '{ ip daddr }' counter drop
	nr nft add rule inet esptcp_once filt ip saddr "$O2" udp sport 4500 @th,240,8 36 \
		ip daddr != @seen add @seen '{ ip daddr }' counter drop
	PEERS_TIMEOUT=30 swanctl_ "$_tmp/swan1" --initiate --child c1x --timeout 25 \
		>"$_tmp/c1x.out" 2>&1 || true
	sed 's/^/# /' "$_tmp/c1x.out" | tail -n 4
	ip netns exec $NSR nft list set inet esptcp_once seen | grep -q "$O1"
	grep -qE "received (NO_ADDITIONAL_SAS|TS_UNACCEPTABLE) notify" "$_tmp/c1x.out"
	[ "$(mine_stat rx_retransmits)" -ge 1 ]
	[ "$(grep -c "IKE SA established" "$_tmp/mine.out")" -eq 1 ]
	swan_up "$_tmp/swan1" c1
	peers_ping n1 2
}

# gw_conn NAME PSK REMOTE-TS [KEY=VALUE...]: a responder conn of the gateway
# in n2 for clients with identity @NAME.example
gw_conn() {
	local kv
	echo "[conn $1]"
	echo "role = responder"
	echo "local = $O2"
	echo "remote = any"
	echo "remote-id = @$1.example"
	echo "psk = \"$2\""
	echo "local-ts = $T2/32"
	echo "remote-ts = $3"
	shift 3
	for kv in "$@"; do
		echo "${kv%%=*} = ${kv#*=}"
	done
}

# mine_run: our helper in n2 with $_tmp/mine.conf as it is
mine_run() {
	sed 's/^/#   /' "$_tmp/mine.conf"
	ip netns exec $NS2 "$ESPTCP" ike -v "$_tmp/mine.conf" >"$_tmp/mine.out" 2>&1 &
	MINE_PID=$!
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/mine.out"
}

# two conns on one listener with different IKE proposals: a client of the
# second proposes only the second's suite and gets its SA (the suite is
# chosen in IKE_SA_INIT, before the identity shows which conn it is)
t_shared_listener() {
	trap case_cleanup EXIT
	inner_addrs 4
	peers_proposal cbc384-modp3072
	{
		gw_conn a "$PEERS_PSK" "$T1/32"
		gw_conn b "b-$PEERS_PSK" "$T1/32" "ike=$SWAN_IKE" "esp=$SWAN_ESP"
	} >"$_tmp/mine.conf"
	mine_run
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" lid=@b.example \
		psk="b-$PEERS_PSK" ike="$SWAN_IKE" esp="$SWAN_ESP"
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	mine_up
	grep -q "esptcp\[b\].*IKE SA established" "$_tmp/mine.out"
	peers_ping n1 3
	peers_ping n2 2
}

# a client of another conn asks for the first conn's selectors: refused,
# and the first tunnel's traffic stays in its own SA
t_foreign_ts() {
	local before after
	trap case_cleanup EXIT
	inner_addrs 4
	second_client
	{
		gw_conn a "$PEERS_PSK" "$T1/32"
		gw_conn b "b-$PEERS_PSK" 203.0.113.0/24
	} >"$_tmp/mine.conf"
	mine_run
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" lid=@a.example
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	mine_up
	# b proves its own PSK but proposes a's inner address
	esptcp_client b local-id=@b.example "psk=\"b-$PEERS_PSK\"" local-ts=$T1/32
	wait_for 150 grep -q "refused the CHILD_SA" "$_tmp/b.out"
	grep "refused" "$_tmp/b.out" "$_tmp/mine.out" | sed 's/^/# /'
	grep -q "refused the CHILD_SA (notify 38)" "$_tmp/b.out"
	[ "$(mine_stat ts_refused)" -ge 1 ]
	before=$(out_packets $NS2 "$O2" "$O1")
	peers_ping n2 5
	after=$(out_packets $NS2 "$O2" "$O1")
	echo "# a's outbound state at the gateway: $before -> $after packets"
	[ "$after" -ge $((before + 5)) ]
	peers_ping n1 2
}

# several selectors a side (a split list, as a dial-up gateway's split
# include): our side's list has two hosts of n2, T2 and SPLIT2.  WHO=swan:
# strongSwan initiates asking for 0.0.0.0/0 and our responder narrows it to
# the list; WHO=we: we initiate proposing the list, strongSwan's conn has
# it too.  Each selector pair gets its policies, and a ping to each host
# crosses the one CHILD_SA.
SPLIT2=203.0.113.12
# dir_policies NS: NS's policies of a direction (not the IKE sockets' bypass ones)
dir_policies() {
	ip -n "$1" xfrm policy | grep -cE "^[[:space:]]dir (in|out|fwd) " || true
}
# split_ping N [SRC]: N pings to each host of the split list, from SRC
# (without: the source the routes pick), cross n1's outbound state
split_ping() {
	local before after src=()
	[ -n "${2:-}" ] && src=(-I "$2")
	before=$(out_packets $NS1 "$O1" "$O2")
	n1 ping -c "$1" -i 0.3 -W 3 "${src[@]}" "$T2"
	n1 ping -c "$1" -i 0.3 -W 3 "${src[@]}" "$SPLIT2"
	after=$(out_packets $NS1 "$O1" "$O2")
	echo "# n1's outbound state: $before -> $after packets"
	[ "$after" -ge $((before + 2 * $1)) ]
	SPLIT_AFTER=$after
}
t_split_ts() {
	local who=$1 ours sel spi np
	trap case_cleanup EXIT
	inner_addrs 4
	n2 ip addr add "$SPLIT2/32" dev lo
	n1 ip route replace "$SPLIT2/32" via 192.0.2.254 src "$T1"
	# the list in either order: strongSwan need not keep ours
	sel="($T2/32, $SPLIT2/32|$SPLIT2/32, $T2/32)"
	if [ "$who" = swan ]; then
		ours=$NS2
		mine $NS2 responder udp "local-ts=$T2/32, $SPLIT2/32"
		swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts=0.0.0.0/0
		swan_start $NS1 "$_tmp/swan1"
		swan_initiate "$_tmp/swan1" c1
		mine_up
		wait_for 100 swan_up "$_tmp/swan1" c1
		grep -qE "CHILD_SA selectors $sel === $T1/32" "$_tmp/mine.out"
	else
		ours=$NS1
		swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32,$SPLIT2/32" rts="$T1"
		swan_start $NS2 "$_tmp/swan2"
		mine $NS1 initiator udp "remote-ts=$T2/32, $SPLIT2/32"
		mine_up
		wait_for 100 swan_up "$_tmp/swan2" c1
		grep -qE "CHILD_SA selectors $T1/32 === $sel" "$_tmp/mine.out"
	fi
	grep "selectors" "$_tmp/mine.out" | sed 's/^/# /'
	# one policy pair a host, out from n1 (and in, fwd on both sides)
	ip -n $NS1 xfrm policy | grep -q "^src $T1/32 dst $T2/32"
	ip -n $NS1 xfrm policy | grep -q "^src $T1/32 dst $SPLIT2/32"
	ip -n $NS2 xfrm policy | grep -q "^src $SPLIT2/32 dst $T1/32"
	split_ping 3 "$T1"
	# a CHILD_SA rekey (ours) keeps both selectors on the new SAs
	np=$(dir_policies "$ours")
	echo "# our policies: $np"
	# out, in and fwd for each of the two pairs
	[ "$np" = 6 ]
	spi=$(ip -n "$ours" xfrm state | awk '$1 == "proto" { print $4; exit }')
	kill -USR2 "$MINE_PID"
	wait_for 100 sh -c "! ip -n $ours xfrm state | grep -q 'spi $spi '"
	[ "$(dir_policies "$ours")" = 6 ]
	split_ping 2 "$T1"
	# strongSwan deletes the IKE SA: no policy of the list is left on our side
	if [ "$who" = swan ]; then
		swanctl_ "$_tmp/swan1" --terminate --ike c1 >/dev/null
	else
		swanctl_ "$_tmp/swan2" --terminate --ike c1 >/dev/null
	fi
	wait_for 100 sh -c "! ip -n $ours xfrm policy | grep -qE '^[[:space:]]dir (in|out|fwd) '"
	wait_for 100 sh -c "[ -z \"\$(ip -n $ours xfrm state)\" ]"
}

# a dial-up gateway's virtual address, as a road warrior sees it:
# strongSwan asks for an address (vips = 0.0.0.0) and everything
# (0.0.0.0/0) and installs what it is given (address, routes, DNS: swan_start
# roadwarrior).  Our responder leases the first of its pool to strongSwan's
# identity, with the DNS server, and narrows the selectors to the split list
# (two hosts of n2).  Pings from the virtual address reach both hosts through
# the CHILD_SA; a host outside the list is reached in the clear.  A second
# connection of the same identity gets the same address again.
VIP=192.168.111.1
OUTSIDE=203.0.113.99
vip_cleanup() {
	# charon takes its address and routes along when it stops; a killed one
	# does not
	n1 ip addr del "$VIP/32" dev v1 2>/dev/null
	n1 ip route flush table 220 2>/dev/null
	n1 ip rule del table 220 2>/dev/null
	n2 ip addr del "$SPLIT2/32" dev lo
	n2 ip addr del "$OUTSIDE/32" dev lo
	nr ip route del "$OUTSIDE/32"
}
t_vip() {
	local log
	trap 'case_cleanup_with vip_cleanup' EXIT
	inner_addrs 4
	n2 ip addr add "$SPLIT2/32" dev lo
	# a host outside the split list, which the router reaches in the clear
	n2 ip addr add "$OUTSIDE/32" dev lo
	nr ip route add "$OUTSIDE/32" via "$O2"
	mine $NS2 responder udp "pool=$VIP-192.168.111.5" "dns=10.1.0.53, 10.1.0.54" \
		"local-ts=$T2/32, $SPLIT2/32"
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts=dynamic rts=0.0.0.0/0 vips=0.0.0.0
	swan_start $NS1 "$_tmp/swan1" roadwarrior
	log=$(cat "$_tmp/swan1/log")
	swan_initiate "$_tmp/swan1" c1
	mine_up
	wait_for 100 swan_up "$_tmp/swan1" c1
	grep -q "virtual address $VIP leased to the client" "$_tmp/mine.out"
	grep -E "virtual IP|DNS server" "$log" | sed 's/^/# swan: /'
	grep -q "installing new virtual IP $VIP" "$log"
	grep -q "installing DNS server 10.1.0.53" "$log"
	grep -q "installing DNS server 10.1.0.54" "$log"
	grep -q "^nameserver 10.1.0.53" "$_tmp/swan1/resolv.conf"
	swanctl_ "$_tmp/swan1" --list-sas | sed 's/^/# /'
	swanctl_ "$_tmp/swan1" --list-sas | grep -q "local  $VIP/32"
	swanctl_ "$_tmp/swan1" --list-sas | grep -qE "remote ($T2/32 $SPLIT2/32|$SPLIT2/32 $T2/32)\$"
	ip -n $NS2 xfrm policy | grep -q "^src $T2/32 dst $VIP/32"
	ip -n $NS2 xfrm policy | grep -q "^src $SPLIT2/32 dst $VIP/32"
	# strongSwan's routes pick the source
	n1 ip route get "$SPLIT2" | grep -q "src $VIP"
	split_ping 3
	# outside the split list: not through the tunnel, not from the address
	expect_fail sh -c "ip -n $NS1 route get $OUTSIDE | grep -q 'src $VIP'"
	n1 ping -c 2 -i 0.3 -W 3 "$OUTSIDE"
	[ "$(out_packets $NS1 "$O1" "$O2")" = "$SPLIT_AFTER" ]
	[ "$(mine_stat vip_leased)" = 1 ]
	# the gateway's show: the client's identity, address and transport, the
	# lease's age and bytes (refreshed every 10 s, and on SIGUSR1)
	kill -USR1 "$MINE_PID"
	wait_for 50 sh -c "ip netns exec $NS2 $ESPTCP show | grep -qE '^  lease $VIP to $O1 since [0-9]+s bytes in [1-9][0-9]* out [1-9]'"
	n2 "$ESPTCP" show | grep -E "^  (ike|lease)" | sed 's/^/# /'
	n2 "$ESPTCP" show | grep -qE "^  ike peer .* responder peer $O1 at $O1:(500|4500) udp children 1 since [0-9]+s: "
	# the same identity again, after its IKE SA went: the same address, kept
	# for it meanwhile
	swanctl_ "$_tmp/swan1" --terminate --ike c1 >/dev/null
	wait_for 100 expect_fail swan_up "$_tmp/swan1" c1
	wait_for 50 sh -c "ip netns exec $NS2 $ESPTCP show | grep -qE '^  lease $VIP to $O1 conn peer released, kept for (9m5[0-9]s|10m00s)'"
	swan_initiate "$_tmp/swan1" c1
	wait_for 100 swan_up "$_tmp/swan1" c1
	# (evaluated on each try, not once)
	wait_for 50 sh -c "[ \$(grep -c 'virtual address $VIP leased' '$_tmp/mine.out') -ge 2 ]"
	wait_for 50 sh -c "ip -n $NS1 route get $T2 | grep -q 'src $VIP'"
	n1 ping -c 2 -i 0.3 -W 3 "$T2"
}

# the reverse: our client (vip = yes) against a strongSwan gateway with a
# pool and DNS servers, whose selectors are two hosts of n2.  The address
# goes on lo, a route per selector into table 220 with it as source, and the
# updown script hears up and down with the address, the DNS servers and the
# selectors; on down, address, routes and rule are gone.
CVIP=10.3.0.1
vip_client_cleanup() {
	n2 ip addr del "$SPLIT2/32" dev lo
}
t_vip_client() {
	local log=$_tmp/updown.log v
	trap 'case_cleanup_with vip_client_cleanup' EXIT
	inner_addrs 4
	n2 ip addr add "$SPLIT2/32" dev lo
	swan_pool "$_tmp/swan2" rw "$CVIP-10.3.0.9" "10.1.0.53, 10.1.0.54"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32,$SPLIT2/32" rts=dynamic pools=rw
	swan_start $NS2 "$_tmp/swan2"
	updown_script "$_tmp/updown.sh" "$log"
	mine $NS1 initiator udp vip=yes "remote-ts=0.0.0.0/0" "updown=$_tmp/updown.sh"
	mine_up
	wait_for 100 swan_up "$_tmp/swan2" c1
	grep -E "virtual address|selectors" "$_tmp/mine.out" | sed 's/^/# /'
	grep -q "virtual address $CVIP on lo, routes in table 220" "$_tmp/mine.out"
	ip -n $NS1 addr show dev lo | grep -q "inet $CVIP/32"
	ip -n $NS1 route show table 220 | sed 's/^/# table 220: /'
	ip -n $NS1 route show table 220 | grep -q "^$T2 via 192.0.2.254 dev v1 .*src $CVIP"
	ip -n $NS1 route show table 220 | grep -q "^$SPLIT2 via 192.0.2.254 dev v1 .*src $CVIP"
	ip -n $NS1 rule | grep -q "^220:.*lookup 220"
	ip -n $NS1 xfrm policy | grep -q "^src $CVIP/32 dst $T2/32"
	# the routes pick the source
	split_ping 3
	# the updown script's view of "up"
	wait_for 50 updown_seen "$log" up
	sed 's/^/# updown: /' "$log"
	[ "$(updown_var "$log" up ESPTCP_VIP)" = "$CVIP" ]
	[ "$(updown_var "$log" up ESPTCP_DNS)" = "10.1.0.53 10.1.0.54" ]
	[ "$(updown_var "$log" up ESPTCP_LOCAL_TS)" = "$CVIP/32" ]
	v=$(updown_var "$log" up ESPTCP_PEER_TS)
	[ "$v" = "$T2/32 $SPLIT2/32" ] || [ "$v" = "$SPLIT2/32 $T2/32" ]
	[ "$(updown_var "$log" up ESPTCP_TRANSPORT)" = udp ]
	[ "$(updown_var "$log" up ESPTCP_INTERFACE)" = v1 ]
	[ "$(updown_var "$log" up ESPTCP_VIP_INTERFACE)" = lo ]
	[ "$(updown_var "$log" up ESPTCP_PEER_ADDR)" = "$O2" ]
	[ "$(updown_var "$log" up ESPTCP_PEER_ID)" = "$O2" ]
	[ "$(updown_var "$log" up ESPTCP_ROLE)" = initiator ]
	# the gateway ends it: down, and our client connects again for the
	# same address
	swanctl_ "$_tmp/swan2" --terminate --ike c1 >/dev/null
	wait_for 100 updown_seen "$log" down
	[ "$(updown_var "$log" down ESPTCP_VIP)" = "$CVIP" ]
	wait_for 150 updown_seen "$log" up 2
	wait_for 50 sh -c "ip -n $NS1 route show table 220 | grep -q '^$T2 '"
	n1 ping -c 2 -i 0.3 -W 3 "$T2"
	# our helper stops: everything of the address goes with it
	kill "$MINE_PID"
	wait "$MINE_PID" || true
	updown_seen "$log" down 2
	expect_fail sh -c "ip -n $NS1 addr show dev lo | grep -q 'inet $CVIP/'"
	[ -z "$(ip -n $NS1 route show table 220)" ]
	expect_fail sh -c "ip -n $NS1 rule | grep -q 'lookup 220'"
}

# a gateway that hands out an address of our host (n1's own outer one, on
# v1) or one on our link: refused, nothing of it installed, our routes as
# they were; and one whose selector is the gateway itself alone gets no
# route from the address (IKE keeps its source)
t_vip_hostile() {
	local routes
	trap case_cleanup EXIT
	inner_addrs 4
	routes=$(ip -n $NS1 route show table all | md5sum)
	# (a pool a connection, so that no lease strongSwan still holds is in the way)
	swan_pool "$_tmp/swan2" rw1 "$O1"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32" rts=dynamic pools=rw1
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp vip=yes retry=1s "remote-ts=0.0.0.0/0"
	wait_for 150 grep -q "the virtual address $O1 is an address of this host already: refused" \
		"$_tmp/mine.out"
	swan_pool "$_tmp/swan2" rw2 192.0.2.77
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32" rts=dynamic pools=rw2
	wait_for 150 grep -q "the virtual address 192.0.2.77 is on a link of this host: refused" \
		"$_tmp/mine.out"
	grep "refused" "$_tmp/mine.out" | sed 's/^/# /' | head -n 2
	[ "$(ip -n $NS1 route show table all | md5sum)" = "$routes" ]
	expect_fail sh -c "ip -n $NS1 rule | grep -q 'lookup 220'"
	# a usable address, and the gateway itself among its selectors
	swan_pool "$_tmp/swan2" rw3 10.3.0.5
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32,$O2/32" rts=dynamic pools=rw3
	wait_for 150 grep -q "virtual address 10.3.0.5 on lo" "$_tmp/mine.out"
	ip -n $NS1 route show table 220 | sed 's/^/# table 220: /'
	ip -n $NS1 route show table 220 | grep -q "^$T2 .*src 10.3.0.5"
	ip -n $NS1 route show table 220 | grep -qE "^$O2 via 192.0.2.254 dev v1 proto 229 *$"
	n1 ping -c 2 -i 0.3 -W 3 "$T2"
	# IKE to the gateway still from our outer address
	ip -n $NS1 route get "$O2" | grep -q "src $O1"
}

# the debug kernel is ~20x slower: strongSwan speaks UDP only, so its cases
# never reach the module, except this one (an esptcp client over TCP beside
# strongSwan, policies of two peers); the stock kernels run them all
debug_subset="foreign-ts"
# CI time: the kernel tier runs the cases that reach the kernel differently
# (policies, migrate, collisions) and each direction once with GCM and with
# CBC states; these are the helper's logic alone
helper_only="swan-gcm-ecp256 we-cbc-modp2048 we-gcm-x25519 swan-gcm-x25519
	we-chacha-ecp384 swan-chacha-ecp384 we-cbc384-modp3072 swan-cbc384-modp3072
	rekey-we dpd-swan dpd-we new-child two-clients shared-listener retransmit-error invalid-ke
	ike-collision we-encap mobike-race
	split-we vip vip-client vip-hostile"

esptcp_load
topo_up
for set in gcm-ecp256 cbc-modp2048 gcm-x25519 chacha-ecp384 cbc384-modp3072; do
	for who in we swan; do
		if [ "$who" = we ]; then
			name="esptcp initiates, strongSwan responds ($set)" fn=t_we_initiate
		else
			name="strongSwan initiates, esptcp responds ($set)" fn=t_swan_initiates
		fi
		t_case_subset "$who-$set" "$name" $fn "$set"
	done
done
t_case_subset rekey-swan "strongSwan initiates; both sides rekey IKE and CHILD SAs under ping" \
	t_rekey_both swan
t_case_subset rekey-we "esptcp initiates; both sides rekey IKE and CHILD SAs under ping" \
	t_rekey_both we
t_case_subset collision "CHILD_SA rekey collision with strongSwan: one pair survives" t_collision
t_case_subset we-encap "our encap = yes alone: strongSwan's ESP goes in UDP too" t_we_encap
t_case_subset ike-collision "IKE SA rekey collision with strongSwan: one IKE SA survives, and works" \
	t_ike_collision
t_case_subset invalid-ke "strongSwan's PFS rekey in another group gets INVALID_KE_PAYLOAD, then succeeds" \
	t_invalid_ke_rekey
t_case_subset dpd-swan "strongSwan's DPD requests are answered" t_dpd swan
t_case_subset dpd-we "our DPD is answered; a dead strongSwan is noticed within dpd-timeout" t_dpd we
t_case_subset new-child "an IKE SA without a CHILD_SA accepts a new one from strongSwan" t_new_child
t_case_subset mobike-roam "MOBIKE: strongSwan changes its address; the SAs follow with the same SPIs" \
	t_mobike_roam
t_case_subset mobike-race "MOBIKE: strongSwan's retransmission from its new address is answered there" \
	t_mobike_race
t_case_subset mobike-we "MOBIKE: our host changes its address; strongSwan and our SAs follow" \
	t_mobike_we
t_case_subset nat-rebind "NAT rebinding seen in ESP: the SAs follow strongSwan's new port" \
	t_nat_rebind
t_case_subset two-clients "two clients of one conn with INITIAL_CONTACT keep both tunnels" \
	t_two_clients
t_case_subset retransmit-error "a retransmitted request that drew an error is answered again" \
	t_retransmitted_error
t_case_subset shared-listener "two conns with different IKE proposals share a listener" \
	t_shared_listener
t_case_subset foreign-ts "a client proposing another conn's selectors is refused" t_foreign_ts
t_case_subset split-swan "two selectors on our side: strongSwan asks for 0.0.0.0/0 and gets both" \
	t_split_ts swan
t_case_subset split-we "we propose two selectors for strongSwan's side; both hosts through one CHILD_SA" \
	t_split_ts we
t_case_subset vip "a virtual address from the pool for strongSwan's identity, again on reconnect" \
	t_vip
t_case_subset vip-client "our client gets a virtual address, DNS and routes from strongSwan's pool" \
	t_vip_client
t_case_subset vip-hostile "a gateway's address of our own host or link is refused; its own address gets no route" \
	t_vip_hostile
t_done
