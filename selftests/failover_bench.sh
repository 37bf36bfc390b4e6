#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The failover figure for make bench: a 100 ms ping through an IKE tunnel
# set up over UDP (udp-fallback-tcp), UDP blocked on the router mid-ping.
# Reports the pings lost and the outage (last reply before the block to
# the first reply after it, from ping's own timestamps), once with the
# default settings and once with aggressive liveness settings.  Prints one
# JSON object per line on stdout; progress goes to stderr.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; ip netns exec $NSR nft delete table inet esptcp_block 2>/dev/null; topo_down; rm -rf "$_tmp"' EXIT

KERNEL_NAME=${FLAVOUR:-unknown}

conf() { # conf FILE ROLE [KEY=VALUE...]
	local file=$1 role=$2 kv
	shift 2
	{
		echo "[conn t]"
		echo "role = $role"
		if [ "$role" = initiator ]; then
			echo "local = $IP1"; echo "remote = $IP2"
			echo "local-ts = $IN1/32"; echo "remote-ts = $IN2/32"
		else
			echo "local = $IP2"
			echo "local-ts = $IN2/32"; echo "remote-ts = $IN1/32"
		fi
		echo 'psk = "failover bench key"'
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$file"
}

# measure NAME [INITIATOR KEY=VALUE...]
measure() {
	local name=$1
	shift
	conf "$_tmp/r.conf" responder
	conf "$_tmp/i.conf" initiator "$@"
	ip netns exec $NS2 "$ESPTCP" ike "$_tmp/r.conf" >"$_tmp/r.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q running "$_tmp/r.out"
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/i.conf" >"$_tmp/i.out" 2>&1 &
	pids+=($!)
	wait_for 200 grep -q "CHILD_SA installed" "$_tmp/i.out" || { cat "$_tmp/i.out" >&2; return 1; }
	grep -q "established (.*UDP" "$_tmp/i.out"
	ip netns exec $NS1 ping -D -c 150 -i 0.1 -W 1 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 &
	local p=$!
	sleep 3
	local t_block
	t_block=$(date +%s.%N)
	ip netns exec $NSR nft add table inet esptcp_block
	ip netns exec $NSR nft add chain inet esptcp_block filt '{ type filter hook forward priority 0; }'
	ip netns exec $NSR nft add rule inet esptcp_block filt meta l4proto '{ udp, esp }' drop
	wait $p || true
	python3 - "$name" "$t_block" "$_tmp/ping.txt" "$KERNEL_NAME" "$(uname -r)" <<'PY'
import json, re, sys
name, t_block, path, kernel, kver = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
replies = []
for line in open(path):
    m = re.match(r"\[(\d+\.\d+)\].*icmp_seq=(\d+)", line)
    if m:
        replies.append((float(m.group(1)), int(m.group(2))))
tx = rx = 0
for line in open(path):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", line)
    if m:
        tx, rx = int(m.group(1)), int(m.group(2))
# the block takes effect a little after t_block: the outage is the longest
# time without a reply, from the last one before the block to the first
# one after it
ts = sorted(t for t, s in replies)
gaps = [b - a for a, b in zip(ts, ts[1:]) if b > t_block]
outage = max(gaps) if gaps else None
row = {"test": "failover", "case": "failover", "settings": name, "cipher": "aes128gcm16",
       "unit": "s", "outage_s": round(outage, 2) if outage is not None else None,
       "lost_pings": tx - rx, "pings": tx, "kernel": kernel, "kver": kver}
print(json.dumps(row))
print("# bench: failover %s: outage %s s, %d of %d pings lost" %
      (name, row["outage_s"], tx - rx, tx), file=sys.stderr)
PY
	grep -E "moving|now on" "$_tmp/i.out" >&2 || true
	stop_all
	ip netns exec $NSR nft delete table inet esptcp_block
	xfrm_flush
}

esptcp_load >&2
topo_up >&2
n1 ip addr add "$IN1/32" dev lo >&2
n2 ip addr add "$IN2/32" dev lo >&2
n1 ip route add "$IN2/32" via 192.0.2.254 src "$IN1" >&2
n2 ip route add "$IN1/32" via 198.51.100.254 src "$IN2" >&2
measure default
measure aggressive udp-timeout=300ms
