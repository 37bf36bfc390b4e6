#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The handshake figures for make bench (case "scale", what "handshakes"):
# IKE_SA_INIT + IKE_AUTH handshakes a second that a responder completes,
# esptcp ike against strongSwan's charon in the same VM, with the same
# proposals (aes128gcm16-prfsha256-ecp256, ESP aes128gcm16), over UDP
# (charon has no TCP), each a dial-up gateway with a pool:
#
#   psk     clients and gateway by PSK
#   ecdsa   the gateway signs with an ECDSA P-256 certificate, the clients
#           by PSK (the gateway's cost of a certificate: a signature each)
#
# The clients are one load generator, esptcp ike with instances =
# HANDSHAKES (500) and install = no, in n1; the same for both responders.
# A run: from the generator's start to its last CHILD_SA; both responders
# take any number of half-open SAs from one address (charon's
# block_threshold and cookie_threshold, our half-open-per-source and
# cookie-threshold), and log only errors.  ROUNDS (3) runs each, in turns.
# Prints one JSON object per line on stdout; progress to stderr.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peers.sh"
. "$(dirname "$0")/pki.sh"
trap 'peers_stop_all; stop_all; topo_down; rm -rf "$_tmp"' EXIT

KERNEL_NAME=${FLAVOUR:-unknown}
N=${HANDSHAKES:-500}
ROUNDS=${HANDSHAKE_ROUNDS:-3}
PSK="handshake bench group key 0123456789"
POOL=10.4.0.0/20
P=$_tmp/pki

# generator AUTH: the load generator in n1 (AUTH: psk or ecdsa, the gateway's)
generator() {
	{
		echo "[conn lg]"
		echo "role = initiator"
		echo "transport = udp"
		echo "local = $IP1"
		echo "remote = $IP2"
		echo "local-id = c%u@example.org"
		echo "remote-id = @gw.example"
		echo "psk = \"$PSK\""
		echo "vip = yes"
		echo "remote-ts = $IN2/32"
		echo "instances = $N"
		echo "install = no"
		if [ "$1" = ecdsa ]; then
			echo "local-auth = psk"
			echo "remote-auth = pubkey"
			echo "ca = $P/ca.pem"
		fi
	} >"$_tmp/lg.conf"
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/lg.conf" >"$_tmp/lg.out" 2>&1 &
	LG_PID=$!
	pids+=($!)
}

negotiated() { # how many CHILD_SAs the generator has
	grep -c "CHILD_SA negotiated" "$_tmp/lg.out" || true
}

# ours AUTH: esptcp ike as the gateway in n2
ours() {
	{
		echo "[global]"
		echo "half-open-per-source = $((N * 2))"
		echo "half-open-max = $((N * 2))"
		echo "cookie-threshold = $((N * 2))"
		echo "[conn dialup]"
		echo "role = responder"
		echo "local = $IP2"
		echo "local-id = @gw.example"
		echo "remote-id = *@example.org"
		echo "psk = \"$PSK\""
		echo "local-ts = $IN2/32"
		echo "pool = $POOL"
		if [ "$1" = ecdsa ]; then
			echo "local-auth = pubkey"
			echo "remote-auth = psk"
			echo "cert = $P/gw.pem"
			echo "key = $P/gw.key"
		fi
	} >"$_tmp/gw.conf"
	ip netns exec $NS2 "$ESPTCP" ike "$_tmp/gw.conf" >"$_tmp/gw.out" 2>&1 &
	GW_PID=$!
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/gw.out"
}

# charon AUTH: strongSwan's charon as the gateway in n2
charon() {
	local -a kv=(local="$IP2" remote=%any lid=gw.example rid=%any lts="$IN2/32"
		     rts=dynamic pools=lgpool psk="$PSK")
	[ "$1" = ecdsa ] && kv+=(lauth=pubkey rauth=psk cert="$P/gw.pem" key="$P/gw.key")
	rm -rf "$_tmp/swan"
	PEERS_SWAN_QUIET=1 PEERS_SWAN_CHARON="block_threshold = $((N * 2))
	cookie_threshold = $((N * 2))
	init_limit_half_open = 0" swan_start $NS2 "$_tmp/swan" || return 1
	swan_pool "$_tmp/swan" lgpool "$POOL" >/dev/null
	swan_conf "$_tmp/swan" gw "${kv[@]}" >/dev/null
	# with a certificate swan_conf writes the key alone: the clients' PSK too
	[ "$1" = ecdsa ] && cat >>"$_tmp/swan/secrets/gw.conf" <<EOF
ike-group {
	id = gw.example
	secret = "$PSK"
}
EOF
	swan_load "$_tmp/swan"
}

# run RESPONDER AUTH ROUND: one run; a row
run() {
	local who=$1 auth=$2 round=$3 t0 ms got
	topo_up >/dev/null
	n2 ip addr replace "$IN2/32" dev lo
	if [ "$who" = esptcp ]; then ours "$auth"; else charon "$auth" || return 1; fi
	t0=$(date +%s%N)
	generator "$auth"
	wait_for $((N + 300)) sh -c "[ \$(grep -c 'CHILD_SA negotiated' '$_tmp/lg.out') -ge $N ]" || true
	ms=$((($(date +%s%N) - t0) / 1000000))
	got=$(negotiated)
	if [ "$got" -lt "$N" ]; then
		# why not all: the ends of both logs
		echo "# bench: handshakes: $who $auth: only $got of $N; the generator's log:" >&2
		tail -n 20 "$_tmp/lg.out" | sed 's/^/#   /' >&2
		echo "# the responder's log:" >&2
		tail -n 40 "$([ "$who" = esptcp ] && echo "$_tmp/gw.out" || cat "$_tmp/swan/log")" |
			sed 's/^/#   /' >&2
	fi
	kill "$LG_PID" 2>/dev/null || true
	wait "$LG_PID" 2>/dev/null || true
	peers_stop_all >/dev/null 2>&1 || true
	stop_all >/dev/null 2>&1
	echo "# bench: handshakes: $who $auth round $round: $got of $N in $ms ms" >&2
	printf '{"case": "scale", "what": "handshakes", "kernel": "%s", "responder": "%s", "auth": "%s", "round": %d, "n": %d, "done": %d, "ms": %d, "per_s": %s}\n' \
		"$KERNEL_NAME" "$who" "$auth" "$round" "$N" "$got" "$ms" \
		"$([ "$got" -eq "$N" ] && echo "$((got * 1000 / (ms ? ms : 1)))" || echo null)"
}

esptcp_load
mkdir -p "$P"
pki_ca "$P" ca >/dev/null
pki_issue "$P" ca gw p256 DNS:gw.example >/dev/null
for round in $(seq 1 "$ROUNDS"); do
	for auth in psk ecdsa; do
		run esptcp "$auth" "$round"
		run charon "$auth" "$round"
	done
done
