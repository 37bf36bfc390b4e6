#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The IKE peer fixtures of peers.sh at work, so interop tests can trust them:
# strongSwan <-> libreswan over UDP with two proposal sets (one with forced
# UDP encapsulation), and libreswan <-> libreswan over TCP/4500 with
# upstream espintcp (reference/debug kernel only).  A ping crosses every
# tunnel both ways.  Run it alone with: make check TESTS=peers KERNEL=debug
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
trap 'peers_stop_all; stop_all; topo_down; rm -rf "$_tmp"' EXIT

# every case ends with no daemon, SA, policy or inner address left, and on
# a failure with the tail of the daemons' logs in the test log
case_cleanup() {
	local rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 4 ] && peers_dump 40
	peers_stop_all
	tunnel_down
	return $rc
}

# the xfrm states of NS: COUNT of them, all with ENCAP (none|espinudp|espintcp)
states() {
	local ns=$1 want=$2 encap=$3 n e
	n=$(ip -n "$ns" xfrm state | grep -c '^src ' || true)
	case $encap in
	none) e=$(ip -n "$ns" xfrm state | grep -c 'encap type' || true); e=$((n - e)) ;;
	*) e=$(ip -n "$ns" xfrm state | grep -c "encap type $encap" || true) ;;
	esac
	echo "# $ns: $n states, $e with encap $encap"
	[ "$n" -eq "$want" ] && [ "$e" -eq "$want" ]
}

# strongSwan in n1 initiates to libreswan in n2, IKE and ESP over UDP
t_swan_to_pluto() {
	local fam=$1 set=$2
	trap case_cleanup EXIT
	inner_addrs "$fam"
	peers_proposal "$set"
	pluto_conf "$_tmp/pluto2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
		ike="$PLUTO_IKE" esp="$PLUTO_ESP"
	pluto_start $NS2 "$_tmp/pluto2"
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" \
		ike="$SWAN_IKE" esp="$SWAN_ESP"
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	pluto_up "$_tmp/pluto2" c1
	swanctl_ "$_tmp/swan1" --list-sas | sed 's/^/# /'
	states $NS1 2 none
	states $NS2 2 none
	peers_ping n1 3
	peers_ping n2 2
}

# libreswan in n1 initiates to strongSwan in n2, forcing UDP encapsulation
t_pluto_to_swan_encap() {
	local fam=$1 set=$2
	trap case_cleanup EXIT
	inner_addrs "$fam"
	peers_proposal "$set"
	swan_start $NS2 "$_tmp/swan2"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
		ike="$SWAN_IKE" esp="$SWAN_ESP"
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" \
		ike="$PLUTO_IKE" esp="$PLUTO_ESP" encap=yes
	pluto_initiate "$_tmp/pluto1" c1
	swan_up "$_tmp/swan2" c1
	whack_ "$_tmp/pluto1" --trafficstatus | sed 's/^/# /'
	states $NS1 2 espinudp
	states $NS2 2 espinudp
	peers_ping n1 3
	peers_ping n2 2
}

# libreswan <-> libreswan, IKE and ESP over TCP/4500 with upstream espintcp
t_pluto_tcp() {
	local fam=$1
	trap case_cleanup EXIT
	if ! grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp; then
		t_skip "no espintcp in this kernel"
	fi
	inner_addrs "$fam"
	pluto_start $NS2 "$_tmp/pluto2" listen-tcp=yes
	pluto_conf "$_tmp/pluto2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" tcp=yes
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" tcp=yes
	pluto_initiate "$_tmp/pluto1" c1
	pluto_up "$_tmp/pluto2" c1
	grep -q 'IKETCP ACCEPTED' "$(cat "$_tmp/pluto2/log")"
	states $NS1 2 espintcp
	states $NS2 2 espintcp
	n2 ss -tn state established "( sport = :4500 )"
	peers_ping n1 3
	peers_ping n2 2
}

topo_up
t_case "strongSwan -> libreswan, UDP, aes128gcm16-prfsha256-ecp256" t_swan_to_pluto 4 gcm-ecp256
t_case "libreswan -> strongSwan, UDP encap, aes256-sha256-modp2048" t_pluto_to_swan_encap 4 cbc-modp2048
t_case "libreswan -> libreswan, TCP/4500" t_pluto_tcp 4
t_done
