#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Authentication as gateways use it, against strongSwan over UDP: X.509
# certificates (RSA, ECDSA, Ed25519; RFC 7427 signatures) in both roles,
# and the certificates a gateway must refuse: an unknown CA, an expired or
# revoked certificate, one for another identity.  Test certificates are made
# here (pki.sh); nothing secret is in the tree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
. "$(dirname "$0")/ike_lib.sh"
. "$(dirname "$0")/pki.sh"
trap 'peers_stop_all; stop_all; topo_down; rm -rf "$_tmp"' EXIT

P=$_tmp/pki
GW_DN="O=$PKI_O, CN=gw"

# one CA for the tests (ECDSA P-256) and one nobody trusts; the CRL names
# nothing yet (a case that revokes writes it again)
pki_setup() {
	[ -f "$P/ca.pem" ] && return 0
	mkdir -p "$P"
	pki_ca "$P" ca
	pki_ca "$P" rogue
	pki_crl "$P" ca
}

# strongSwan in n1 initiates with an RSA certificate (client.test); our
# gateway in n2 signs with ECDSA P-256 and names itself by its DN
t_swan_to_mine() {
	trap case_cleanup EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw p256 "DNS:gw.test"
	pki_issue "$P" ca client rsa "DNS:client.test"
	mine $NS2 responder udp auth=pubkey "cert=$P/gw.pem" "key=$P/gw.key" "ca=$P/ca.pem" \
		"crl=$P/ca.crl" remote-id=client.test
	swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" auth=pubkey \
		lid=client.test rid="$GW_DN" cert="$P/client.pem" key="$P/client.key" ca="$P/ca.pem"
	swan_start $NS1 "$_tmp/swan1"
	swan_initiate "$_tmp/swan1" c1
	mine_up
	swanctl_ "$_tmp/swan1" --list-sas | sed 's/^/# /'
	grep -q "peer client.test by certificate" "$_tmp/mine.out"
	peers_ping n1 3
	peers_ping n2 2
}

# our client in n1 initiates with KEY (a P-384 or Ed25519 key, client.test);
# strongSwan's gateway in n2 has an RSA certificate (gw.test)
t_mine_to_swan() {
	local key=$1
	trap case_cleanup EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw rsa "DNS:gw.test"
	pki_issue "$P" ca client "$key" "DNS:client.test"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" auth=pubkey \
		lid=gw.test rid=client.test cert="$P/gw.pem" key="$P/gw.key" ca="$P/ca.pem"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp auth=pubkey "cert=$P/client.pem" "key=$P/client.key" \
		"ca=$P/ca.pem" local-id=client.test remote-id=gw.test
	mine_up
	swan_up "$_tmp/swan2" c1
	swanctl_ "$_tmp/swan2" --list-sas | sed 's/^/# /'
	grep -q "peer gw.test by certificate" "$_tmp/mine.out"
	peers_ping n1 3
	peers_ping n2 2
}

# swan_refused NAME WHY: strongSwan's conn NAME fails, and our log says WHY
swan_refused() {
	local before
	before=$(grep -c "AUTHENTICATION_FAILED" "$_tmp/mine.out" || true)
	expect_fail swan_initiate "$_tmp/swan1" "$1" 20
	wait_for 50 sh -c "[ \$(grep -c AUTHENTICATION_FAILED '$_tmp/mine.out') -gt $before ]"
	grep "AUTHENTICATION_FAILED" "$_tmp/mine.out" | tail -n 1 | sed 's/^/# /'
	grep "AUTHENTICATION_FAILED" "$_tmp/mine.out" | tail -n 1 | grep -q "$2"
	[ "$(nstates $NS2)" = 0 ]
}

# our gateway refuses an unknown CA, an expired certificate, a revoked one,
# and an identity its conn does not name; a client that refuses our
# identity takes our SA down with it; then a good client gets its tunnel
t_refused() {
	trap case_cleanup EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw p256 "DNS:gw.test"
	pki_issue "$P" rogue mallory p256 "DNS:client.test"
	pki_issue "$P" ca old p256 "DNS:client.test" 20240101000000Z 20240201000000Z
	pki_issue "$P" ca gone p256 "DNS:client.test"
	pki_issue "$P" ca other p256 "DNS:other.test"
	pki_issue "$P" ca client p256 "DNS:client.test"
	pki_revoke "$P" ca gone
	mine $NS2 responder udp auth=pubkey "cert=$P/gw.pem" "key=$P/gw.key" "ca=$P/ca.pem" \
		"crl=$P/ca.crl" remote-id=client.test
	for c in mallory old gone other client; do
		local id=client.test
		[ $c = other ] && id=other.test
		swan_conf "$_tmp/swan1" "$c" local="$O1" remote="$O2" lts="$T1" rts="$T2" \
			auth=pubkey lid=$id rid=gw.test cert="$P/$c.pem" key="$P/$c.key" \
			ca="$P/ca.pem"
	done
	swan_start $NS1 "$_tmp/swan1"
	swan_refused mallory "certificate: unable to get local issuer certificate"
	swan_refused old "certificate: certificate has expired"
	swan_refused gone "certificate: certificate revoked"
	swan_refused other "no conn for this identity"
	[ "$(mine_stat auth_failed)" -ge 4 ]
	# a client that expects gw.test while we name ourselves by our DN:
	# it refuses us after IKE_AUTH (INFORMATIONAL), and our SA goes
	expect_fail swan_initiate "$_tmp/swan1" client 20
	wait_for 50 grep -q "the peer refused our authentication" "$_tmp/mine.out"
	wait_for 50 sh -c "[ \$(ip -n $NS2 xfrm state | grep -c '^src') = 0 ]"
	# and the same client expecting our DN gets its tunnel
	swan_conf "$_tmp/swan1" good local="$O1" remote="$O2" lts="$T1" rts="$T2" \
		auth=pubkey lid=client.test rid="$GW_DN" cert="$P/client.pem" key="$P/client.key" \
		ca="$P/ca.pem"
	swan_initiate "$_tmp/swan1" good
	mine_up
	peers_ping n1 2
}

# our client refuses a gateway whose certificate is of an unknown CA
t_we_refuse() {
	trap case_cleanup EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" rogue gw p256 "DNS:gw.test"
	pki_issue "$P" ca client p256 "DNS:client.test"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" auth=pubkey \
		lid=gw.test rid=client.test cert="$P/gw.pem" key="$P/gw.key" ca="$P/ca.pem"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp auth=pubkey "cert=$P/client.pem" "key=$P/client.key" \
		"ca=$P/ca.pem" local-id=client.test remote-id=gw.test
	wait_for 100 grep -q "the responder failed authentication" "$_tmp/mine.out"
	grep "the responder failed authentication" "$_tmp/mine.out" | head -n 1 | sed 's/^/# /'
	grep -q "failed authentication: certificate: unable to get local issuer" "$_tmp/mine.out"
	[ "$(nstates $NS1)" = 0 ]
}

# a path of 1280 bytes that drops IP fragments (at the router's ingress,
# before any reassembly): a large IKE message crosses it only in IKE
# fragments (RFC 7383)
small_path() {
	local d
	for d in r1 r2; do
		nr ip link set $d mtu 1280
	done
	n1 ip link set v1 mtu 1280
	n2 ip link set v2 mtu 1280
	nr nft add table netdev esptcp_frag
	for d in r1 r2; do
		nr nft add chain netdev esptcp_frag in_$d "{ type filter hook ingress device $d priority 0; }"
		nr nft add rule netdev esptcp_frag in_$d ip frag-off and 0x3fff != 0 counter drop
	done
	# the path drops what IP cuts
	expect_fail n1 ping -c 1 -W 1 -s 2000 "$O2"
}
small_path_undo() {
	ip netns exec $NSR nft delete table netdev esptcp_frag 2>/dev/null
	ip -n $NSR link set r1 mtu 1500
	ip -n $NSR link set r2 mtu 1500
	ip -n $NS1 link set v1 mtu 1500
	ip -n $NS2 link set v2 mtu 1500
}

# big_leaf CA NAME TYPE SAN: a certificate of about 3.6 KB (a long SAN list)
big_leaf() {
	local san=$4 i
	for i in $(seq 1 110); do
		san="$san,DNS:name-$i.alt.$3.example.test"
	done
	pki_issue "$P" "$1" "$2" p256 "$san"
}

# certificate chains of about 4 KB both ways over the small path; WHO
# initiates (we: our client; swan: strongSwan's)
t_frag() {
	local who=$1
	trap 'case_cleanup_with small_path_undo' EXIT
	inner_addrs 4
	pki_setup
	[ -f "$P/sub.pem" ] || pki_subca "$P" ca sub
	big_leaf sub gw gw "DNS:gw.test"
	big_leaf sub client client "DNS:client.test"
	cat "$P/gw.pem" "$P/sub.pem" >"$P/gw-chain.pem"
	cat "$P/client.pem" "$P/sub.pem" >"$P/client-chain.pem"
	mkdir -p "$_tmp/swan$([ $who = we ] && echo 2 || echo 1)/x509ca"
	small_path
	if [ "$who" = we ]; then
		cp "$P/sub.pem" "$_tmp/swan2/x509ca/"
		swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2" rts="$T1" \
			auth=pubkey lid=gw.test rid=client.test cert="$P/gw.pem" key="$P/gw.key" \
			ca="$P/ca.pem"
		swan_start $NS2 "$_tmp/swan2"
		mine $NS1 initiator udp auth=pubkey "cert=$P/client-chain.pem" \
			"key=$P/client.key" "ca=$P/ca.pem" local-id=client.test remote-id=gw.test
		mine_up
		swan_up "$_tmp/swan2" c1
	else
		cp "$P/sub.pem" "$_tmp/swan1/x509ca/"
		mine $NS2 responder udp auth=pubkey "cert=$P/gw-chain.pem" "key=$P/gw.key" \
			"ca=$P/ca.pem" local-id=gw.test remote-id=client.test
		swan_conf "$_tmp/swan1" c1 local="$O1" remote="$O2" lts="$T1" rts="$T2" \
			auth=pubkey lid=client.test rid=gw.test cert="$P/client.pem" \
			key="$P/client.key" ca="$P/ca.pem"
		swan_start $NS1 "$_tmp/swan1"
		swan_initiate "$_tmp/swan1" c1
		mine_up
	fi
	grep -h "IKE_AUTH" "$_tmp"/swan*.out 2>/dev/null | grep -i "frag\|EF(" | head -n 4 | sed 's/^/# /' || true
	echo "# ours: $(mine_stat frag_sent) fragments sent, $(mine_stat frag_received) received"
	[ "$(mine_stat frag_sent)" -ge 3 ]
	[ "$(mine_stat frag_received)" -ge 3 ]
	peers_ping n1 2
	peers_ping n2 2
}

EVIP=10.3.0.1
# users of our EAP gateway: alice and carol in testgrp, bob outside it
# (alice's password as its NT hash, as a RADIUS server would hold it)
eap_users() {
	local f=$_tmp/users nt
	nt=$(printf '%s' alice-secret-1 | iconv -t UTF-16LE | openssl dgst -md4 -provider legacy \
		-provider default -r | cut -d' ' -f1)
	{
		echo "# EAP users"
		echo "alice nthash=$nt groups=testgrp,staff"
		echo "bob password=\"bob-secret-2\" groups=staff"
		echo "carol password=\"carol-secret-3\" groups=testgrp"
	} >"$f"
	chmod 600 "$f"
	echo "$f"
}

# swan_eap NAME USER PASSWORD: a strongSwan road warrior conn that logs in
# with EAP-MSCHAPv2 and asks for an address
swan_eap() {
	swan_conf "$_tmp/swan1" "$1" local="$O1" remote="$O2" lts=dynamic rts=0.0.0.0/0 \
		vips=0.0.0.0 lauth=eap-mschapv2 rauth=pubkey lid="$2" leap_id="$2" rid=gw.test \
		ca="$P/ca.pem" eap_users="$2:$3"
}

# strongSwan road warriors with EAP-MSCHAPv2 against our gateway (ECDSA
# certificate, a pool, users in a group): alice gets her address and
# pings; a wrong password, a user outside the group and an unknown user
# are refused, one log line each, nothing installed
t_eap_swan() {
	local users
	trap 'case_cleanup' EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw p256 "DNS:gw.test"
	users=$(eap_users)
	mine $NS2 responder udp auth=pubkey remote-auth=eap "cert=$P/gw.pem" "key=$P/gw.key" \
		local-id=gw.test remote-id=%any "users=$users" group=testgrp \
		"pool=$EVIP-10.3.0.9" "dns=10.1.0.53" "local-ts=$T2/32"
	swan_eap alice alice alice-secret-1
	swan_eap wrong carol not-carols-password
	swan_eap bob bob bob-secret-2
	swan_eap mallory mallory any-password-4
	swan_start $NS1 "$_tmp/swan1" roadwarrior
	swan_refused wrong "EAP user carol: wrong password"
	swan_refused bob "EAP user bob: not in the conn's group"
	swan_refused mallory "EAP user mallory: unknown user"
	swan_initiate "$_tmp/swan1" alice
	mine_up
	grep -q "peer alice by EAP-MSCHAPv2 (group testgrp)" "$_tmp/mine.out"
	grep -q "virtual address $EVIP leased to the client" "$_tmp/mine.out"
	wait_for 50 sh -c "ip -n $NS1 route get $T2 | grep -q 'src $EVIP'"
	n1 ping -c 3 -i 0.3 -W 3 "$T2"
	kill -USR1 "$MINE_PID"
	wait_for 50 sh -c "ip netns exec $NS2 $ESPTCP show | grep -q '^  eap alice group testgrp'"
	n2 "$ESPTCP" show | grep -E "^  (ike|eap|lease)" | sed 's/^/# /'
	[ "$(mine_stat auth_failed)" -ge 3 ]
}

# our client logs in with EAP-MSCHAPv2 to strongSwan's gateway (RSA
# certificate, a pool): it gets its address and pings; with a wrong
# password it gets no tunnel and says why
t_eap_we() {
	trap 'case_cleanup' EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw rsa "DNS:gw.test"
	swan_pool "$_tmp/swan2" rw "$EVIP-10.3.0.9"
	swan_conf "$_tmp/swan2" c1 local="$O2" remote="$O1" lts="$T2/32" rts=dynamic pools=rw \
		lauth=pubkey rauth=eap-mschapv2 lid=gw.test rid=%any reap_id=%any \
		cert="$P/gw.pem" key="$P/gw.key" eap_users="alice:alice-secret-1"
	swan_start $NS2 "$_tmp/swan2"
	mine $NS1 initiator udp local-auth=eap remote-auth=pubkey "ca=$P/ca.pem" \
		local-id=alice@example.test eap-identity=alice "eap-password=\"wrong-one\"" \
		remote-id=gw.test vip=yes "remote-ts=0.0.0.0/0" retry=60s
	wait_for 100 grep -q "IKE SA down:" "$_tmp/mine.out"
	grep "IKE SA down:" "$_tmp/mine.out" | head -n 1 | sed 's/^/# /'
	grep -q "IKE SA down: .*AUTHENTICATION_FAILED\|IKE SA down: EAP failed" "$_tmp/mine.out"
	[ "$(nstates $NS1)" = 0 ]
	kill "$MINE_PID"
	wait "$MINE_PID" || true
	mine $NS1 initiator udp local-auth=eap remote-auth=pubkey "ca=$P/ca.pem" \
		local-id=alice@example.test eap-identity=alice "eap-password=\"alice-secret-1\"" \
		remote-id=gw.test vip=yes "remote-ts=0.0.0.0/0"
	mine_up
	wait_for 100 swan_up "$_tmp/swan2" c1
	swanctl_ "$_tmp/swan2" --list-sas | sed 's/^/# /'
	swanctl_ "$_tmp/swan2" --list-sas | grep -q "alice"
	grep -q "peer gw.test by certificate" "$_tmp/mine.out"
	wait_for 50 sh -c "ip -n $NS1 route get $T2 | grep -q 'src $EVIP'"
	n1 ping -c 3 -i 0.3 -W 3 "$T2"
}

# our gateway relays EAP to FreeRADIUS (RFC 3579): a user in its users
# file, with the group as Class, logs in and pings; a wrong password and a
# user whose Access-Accept names no group are refused
t_eap_radius() {
	trap 'case_cleanup' EXIT
	inner_addrs 4
	pki_setup
	pki_issue "$P" ca gw p256 "DNS:gw.test"
	radius_start $NS2 "$_tmp/radius" radius-test-secret "alice:alice-secret-1:testgrp" \
		"bob:bob-secret-2" "carol:carol-secret-3:testgrp"
	mine $NS2 responder udp auth=pubkey remote-auth=eap "cert=$P/gw.pem" "key=$P/gw.key" \
		local-id=gw.test remote-id=%any radius=127.0.0.1 \
		'radius-secret="radius-test-secret"' group=testgrp \
		"pool=$EVIP-10.3.0.9" "local-ts=$T2/32"
	swan_eap alice alice alice-secret-1
	# (another user than alice: strongSwan keeps one EAP secret an identity)
	swan_eap wrong carol not-carols-password
	swan_eap bob bob bob-secret-2
	swan_start $NS1 "$_tmp/swan1" roadwarrior
	swan_refused wrong "EAP user carol: rejected by the RADIUS server"
	swan_refused bob "EAP user bob: not in the conn's group"
	swan_initiate "$_tmp/swan1" alice
	mine_up
	grep -q "peer alice by EAP-MSCHAPv2 (group testgrp)" "$_tmp/mine.out"
	wait_for 50 sh -c "ip -n $NS1 route get $T2 | grep -q 'src $EVIP'"
	n1 ping -c 3 -i 0.3 -W 3 "$T2"
	[ "$(mine_stat radius_replies)" -ge 6 ]
	[ "$(mine_stat radius_bad)" = 0 ]
}

# CI time: strongSwan speaks UDP only, so these are the helper's own logic;
# the kernel tier runs one certificate case, the full tier all of them
helper_only="we-p384 ed25519 refused refused-we eap-swan eap-we eap-radius frag-we frag-swan"
debug_subset=""

esptcp_load
topo_up
t_case_subset swan-rsa "strongSwan (RSA certificate) initiates; our gateway signs with ECDSA P-256" \
	t_swan_to_mine
t_case_subset we-p384 "our client (ECDSA P-384 certificate) initiates to strongSwan (RSA)" \
	t_mine_to_swan p384
t_case_subset ed25519 "our client (Ed25519 certificate) initiates to strongSwan (RSA)" \
	t_mine_to_swan ed25519
t_case_subset refused "our gateway refuses an unknown CA, expired, revoked and other identities" \
	t_refused
t_case_subset refused-we "our client refuses a gateway certificate of an unknown CA" t_we_refuse
t_case_subset eap-swan "strongSwan road warriors log in with EAP-MSCHAPv2: address and ping; wrong password and group refused" \
	t_eap_swan
t_case_subset eap-we "our client logs in with EAP-MSCHAPv2 to strongSwan's gateway; a wrong password is refused" \
	t_eap_we
t_case_subset eap-radius "EAP relayed to FreeRADIUS: a user logs in and pings; a wrong password and no group refused" \
	t_eap_radius
t_case_subset frag-we "4 KB chains over a 1280-byte path without IP fragments: IKE fragments (we initiate)" \
	t_frag we
t_case_subset frag-swan "4 KB chains over a 1280-byte path without IP fragments: IKE fragments (strongSwan initiates)" \
	t_frag swan
t_done
