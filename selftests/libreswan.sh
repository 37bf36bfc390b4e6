#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The IKEv2 helper against libreswan (Debian's pluto 4.10) over TCP, the
# real RFC 9329 peer: libreswan uses upstream espintcp, so this needs the
# project's debug/reference kernel, which has both modules.  libreswan
# initiates (enable-tcp=yes) to our responder, and our initiator connects to
# libreswan listening on TCP (listen-tcp=yes); a ping crosses each tunnel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
. "$(dirname "$0")/ike_lib.sh"
. "$(dirname "$0")/pki.sh"
trap 'peers_stop_all; stop_all; topo_down; rm -rf "$_tmp"' EXIT

need_espintcp() {
	grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp ||
		t_skip "kernel $(uname -r) has no espintcp for libreswan's side (debug/reference kernels have it)"
}

# the ESP of our side went through esptcp: counters moved, states bound
through_esptcp() {
	local ns=$1
	ip netns exec "$ns" "$ESPTCP" show
	[ "$(stat_of "$ns" rx_esp_pkts)" -ge 3 ]
	[ "$(stat_of "$ns" tx_esp_pkts)" -ge 3 ]
}

t_pluto_initiates() {
	local fam=$1
	trap case_cleanup EXIT
	need_espintcp
	inner_addrs "$fam"
	mine $NS2 responder tcp
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" tcp=yes
	pluto_initiate "$_tmp/pluto1" c1
	mine_up
	pluto_up "$_tmp/pluto1" c1
	ip -n $NS1 xfrm state | grep -q "encap type espintcp"
	peers_ping n1 3
	peers_ping n2 2
	through_esptcp $NS2
}

t_we_initiate() {
	local fam=$1
	trap case_cleanup EXIT
	need_espintcp
	inner_addrs "$fam"
	pluto_start $NS2 "$_tmp/pluto2" listen-tcp=yes
	pluto_conf "$_tmp/pluto2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" tcp=yes
	mine $NS1 initiator tcp
	mine_up
	pluto_up "$_tmp/pluto2" c1
	grep -q 'IKETCP ACCEPTED' "$(cat "$_tmp/pluto2/log")"
	ip -n $NS2 xfrm state | grep -q "encap type espintcp"
	peers_ping n1 3
	peers_ping n2 2
	through_esptcp $NS1
}

# libreswan's defaults (pfs=yes: a KE in every CHILD_SA rekey) with short
# lifetimes, over TCP: the tunnel must outlive several rekeys
t_pluto_rekeys() {
	local got
	trap case_cleanup EXIT
	need_espintcp
	inner_addrs 4
	mine $NS2 responder tcp
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" tcp=yes \
		rekey=15s raw="rekeymargin=6s rekeyfuzz=0%"
	pluto_initiate "$_tmp/pluto1" c1
	mine_up
	# libreswan rekeys every ~9 s: three or four times in 45 s
	ip netns exec $NS1 ping -c 180 -i 0.25 -W 1 -I "$T1" "$T2" >"$_tmp/ping.txt" 2>&1 || true
	tail -n 2 "$_tmp/ping.txt"
	grep -E "rekey|installed|removed|refused" "$_tmp/mine.out" | sed 's/^/# /'
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$_tmp/ping.txt")
	echo "# ping: $got of 180 replies across libreswan's rekeys"
	# a rekey that crossed another exchange may be refused once and retried
	[ "$(mine_stat child_rekeyed)" -ge 2 ]
	[ "$got" -ge 165 ]
	pluto_up "$_tmp/pluto1" c1
}

# mode config (RFC 7296 3.15) with libreswan, both ways, over TCP (UDP on
# kernels without espintcp for libreswan's side: the same exchange, no
# stream).  libreswan as a road warrior (leftmodecfgclient=yes, asking for
# leftsubnet=0.0.0.0/0 with narrowing=yes, as its documentation's client
# does) gets the first address of our gateway's pool and the DNS server,
# and pings from it through the CHILD_SA (its own updown script puts the
# address and the route in)
LVIP=10.4.0.1
t_pluto_modecfg() {
	local tr=$1 tcp=no log
	trap case_cleanup EXIT
	[ "$tr" = tcp ] && need_espintcp && tcp=yes
	inner_addrs 4
	mine $NS2 responder "$tr" "pool=$LVIP-10.4.0.9" "dns=10.1.0.53"
	# its updown keeps the resolv.conf it replaces there (the guest's own
	# /run and /etc, on tmpfs)
	mkdir -p /run/pluto
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts=0.0.0.0/0 rts="$T2" tcp=$tcp \
		updown='"ipsec _updown"' raw="leftmodecfgclient=yes narrowing=yes"
	pluto_initiate "$_tmp/pluto1" c1
	mine_up
	grep -q "virtual address $LVIP leased to the client" "$_tmp/mine.out"
	log=$(cat "$_tmp/pluto1/log")
	grep -E "INTERNAL_IP4|updown|up-client" "$log" | sed 's/^/# pluto: /'
	grep -q "received INTERNAL_IP4_ADDRESS $LVIP" "$log"
	grep -q "received INTERNAL_IP4_DNS 10.1.0.53" "$log"
	whack_ "$_tmp/pluto1" --trafficstatus | grep -q "lease=$LVIP/32"
	ip -n $NS1 xfrm policy | grep -q "^src $LVIP/32 dst $T2/32"
	[ "$tcp" = no ] || ip -n $NS1 xfrm state | grep -q "encap type espintcp"
	# libreswan's updown: the address and a route from it
	wait_for 50 sh -c "ip -n $NS1 route get $T2 | grep -q 'src $LVIP'"
	n1 ping -c 3 -i 0.3 -W 3 "$T2"
	[ "$tcp" = no ] || through_esptcp $NS2
	[ "$(mine_stat vip_leased)" = 1 ]
}

# our road warrior (vip = yes) against libreswan's pool
# (rightaddresspool=, modecfgdns=): the address and the route from it, the
# DNS server in the updown script's environment, ping
t_we_modecfg() {
	local tr=$1 tcp=no listen=() log=$_tmp/updown.log
	trap case_cleanup EXIT
	[ "$tr" = tcp ] && need_espintcp && tcp=yes listen=(listen-tcp=yes)
	inner_addrs 4
	pluto_start $NS2 "$_tmp/pluto2" "${listen[@]}"
	pluto_conf "$_tmp/pluto2" c1 local="$O2" remote="$O1" lts="$T2" rts=dynamic tcp=$tcp \
		raw="rightaddresspool=$LVIP-10.4.0.9 leftmodecfgserver=yes rightmodecfgclient=yes modecfgdns=10.1.0.53 narrowing=yes"
	updown_script "$_tmp/updown.sh" "$log"
	mine $NS1 initiator "$tr" vip=yes "updown=$_tmp/updown.sh"
	mine_up
	pluto_up "$_tmp/pluto2" c1
	grep -E "virtual address|selectors" "$_tmp/mine.out" | sed 's/^/# /'
	grep -q "virtual address $LVIP on lo, routes in table 220" "$_tmp/mine.out"
	ip -n $NS1 route show table 220 | grep -q "^$T2 via 192.0.2.254 dev v1 .*src $LVIP"
	ip -n $NS2 xfrm policy | grep -q "^src $T2/32 dst $LVIP/32"
	[ "$tcp" = no ] || ip -n $NS2 xfrm state | grep -q "encap type espintcp"
	n1 ping -c 3 -i 0.3 -W 3 "$T2"
	[ "$tcp" = no ] || through_esptcp $NS1
	wait_for 50 updown_seen "$log" up
	[ "$(updown_var "$log" up ESPTCP_VIP)" = "$LVIP" ]
	[ "$(updown_var "$log" up ESPTCP_DNS)" = 10.1.0.53 ]
	[ "$(updown_var "$log" up ESPTCP_TRANSPORT)" = "$tr" ]
}

cleanup() {
	rm -f "$_tmp/updown.log"
	ip -n $NS1 addr del "$LVIP/32" dev v1 2>/dev/null || true
	ip -n $NS1 route flush table 220 2>/dev/null || true
	ip -n $NS1 rule del table 220 2>/dev/null || true
}

# certificates both ways (RSA: libreswan signs RSASSA-PSS, RFC 7427), made
# at test time; TR is tcp or udp
P=$_tmp/pki
cert_pki() {
	[ -f "$P/gw.pem" ] && return 0
	mkdir -p "$P"
	pki_ca "$P" ca
	pki_issue "$P" ca gw rsa "DNS:gw.test"
	pki_issue "$P" ca client rsa "DNS:client.test"
}

# libreswan in n1 initiates with its certificate to our gateway
t_cert_pluto() {
	local tr=$1
	trap case_cleanup EXIT
	[ "$tr" = tcp ] && need_espintcp
	inner_addrs 4
	cert_pki
	mine $NS2 responder "$tr" auth=pubkey "cert=$P/gw.pem" "key=$P/gw.key" "ca=$P/ca.pem" \
		local-id=gw.test remote-id=client.test
	pluto_start $NS1 "$_tmp/pluto1"
	pluto_conf "$_tmp/pluto1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" \
		tcp=$([ "$tr" = tcp ] && echo yes || echo no) lid=@client.test rid=@gw.test \
		cert="$P/client.pem" key="$P/client.key" ca="$P/ca.pem"
	pluto_initiate "$_tmp/pluto1" c1
	mine_up
	grep -q "peer client.test by certificate" "$_tmp/mine.out"
	peers_ping n1 3
	peers_ping n2 2
	[ "$tr" = tcp ] && through_esptcp $NS2
	return 0
}

# our client in n1 initiates with its certificate to libreswan's gateway
t_cert_we() {
	local tr=$1
	trap case_cleanup EXIT
	[ "$tr" = tcp ] && need_espintcp
	inner_addrs 4
	cert_pki
	pluto_start $NS2 "$_tmp/pluto2" listen-tcp=yes
	pluto_conf "$_tmp/pluto2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
		tcp=$([ "$tr" = tcp ] && echo yes || echo no) lid=@gw.test rid=@client.test \
		cert="$P/gw.pem" key="$P/gw.key" ca="$P/ca.pem"
	mine $NS1 initiator "$tr" auth=pubkey "cert=$P/client.pem" "key=$P/client.key" \
		"ca=$P/ca.pem" local-id=client.test remote-id=gw.test
	mine_up
	pluto_up "$_tmp/pluto2" c1
	grep -q "peer gw.test by certificate" "$_tmp/mine.out"
	peers_ping n1 3
	peers_ping n2 2
	[ "$tr" = tcp ] && through_esptcp $NS1
	return 0
}

# libreswan needs espintcp on its side: in CI only the debug kernel has it,
# and runs libreswan's road warrior over TCP to us (libreswan initiating,
# mode config); the rest runs over UDP on the full tier, and the reference
# kernel (make check KERNEL=reference) runs all of it
debug_subset="modecfg_pluto"
# the mode config exchange over UDP, for the kernels whose libreswan has no
# TCP: the helper's own logic, run by the full tier
helper_only="modecfg_pluto_udp modecfg_we_udp cert_pluto_udp cert_we_udp"

esptcp_load
topo_up
t_case_subset pluto_initiates "libreswan initiates over TCP (enable-tcp=yes), esptcp responds" \
	t_pluto_initiates 4
t_case_subset we_initiate "esptcp initiates over TCP, libreswan responds (listen-tcp=yes)" \
	t_we_initiate 4
t_case_subset pluto_rekeys "libreswan's defaults (PFS on rekey) with 15 s lifetimes over TCP: the tunnel stays up" \
	t_pluto_rekeys
t_case_subset modecfg_pluto "libreswan road warrior over TCP: an address and DNS from our pool" \
	t_pluto_modecfg tcp
t_ran && cleanup
t_case_subset modecfg_we "our road warrior over TCP: an address and DNS from libreswan's pool" \
	t_we_modecfg tcp
t_ran && cleanup
t_case_subset modecfg_pluto_udp "libreswan road warrior over UDP: an address and DNS from our pool" \
	t_pluto_modecfg udp
t_ran && cleanup
t_case_subset modecfg_we_udp "our road warrior over UDP: an address and DNS from libreswan's pool" \
	t_we_modecfg udp
t_ran && cleanup
t_case_subset cert_pluto "libreswan initiates over TCP with an RSA certificate; our gateway's is RSA too" \
	t_cert_pluto tcp
t_case_subset cert_we "our client initiates over TCP with an RSA certificate to libreswan" \
	t_cert_we tcp
t_case_subset cert_pluto_udp "libreswan initiates over UDP with an RSA certificate" t_cert_pluto udp
t_case_subset cert_we_udp "our client initiates over UDP with an RSA certificate to libreswan" \
	t_cert_we udp
t_done
