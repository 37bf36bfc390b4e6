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

# the debug kernel is ~20x slower: it runs one case per role
debug_subset="we-gcm-ecp256 swan-cbc-modp2048"

esptcp_load
topo_up
for set in gcm-ecp256 cbc-modp2048 gcm-x25519; do
	for who in we swan; do
		if [ "$who" = we ]; then
			name="esptcp initiates, strongSwan responds ($set)" fn=t_we_initiate
		else
			name="strongSwan initiates, esptcp responds ($set)" fn=t_swan_initiates
		fi
		t_case_subset "$who-$set" "$name" $fn "$set"
	done
done
t_done
