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

# libreswan needs espintcp on its side: in CI only the debug kernel has it,
# and runs libreswan initiating over TCP; the reference kernel (make check
# KERNEL=reference) runs all of it
debug_subset="pluto_initiates"

esptcp_load
topo_up
t_case_subset pluto_initiates "libreswan initiates over TCP (enable-tcp=yes), esptcp responds" \
	t_pluto_initiates 4
t_case_subset we_initiate "esptcp initiates over TCP, libreswan responds (listen-tcp=yes)" \
	t_we_initiate 4
t_case_subset pluto_rekeys "libreswan's defaults (PFS on rekey) with 15 s lifetimes over TCP: the tunnel stays up" \
	t_pluto_rekeys
t_done
