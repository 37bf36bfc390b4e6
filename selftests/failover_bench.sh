#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The failover figures for make bench, through an IKE tunnel set up over UDP
# (udp-fallback-tcp), a 20 ms ping from n1 to n2's inner address:
#
#   default      UDP (and ESP) blocked on the router mid-ping, default
#                settings: the move goes over the warm standby connection
#   no-standby   the same with tcp-standby = no: a new TCP connection
#   *-rtt100     both again on a path of 100 ms round trip (netem delay)
#   lossy        no block, 1% random loss each way on the router (netem)
#                for FAILOVER_LOSSY_S seconds (300): moves (goal: none)
#   back         on TCP, UDP unblocked under the ping: the move back, and
#                the pings lost across it (goal: none)
#   standby-cost the gateway's cost of a standby connection: its TCP
#                sockets and kernel memory (slab), 16 clients with and
#                without one, divided by 16
#
# Outage: the longest time without a reply after the block, from ping's own
# timestamps.  Prints one JSON object per line on stdout; progress to stderr.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; unblock; topo_down; rm -rf "$_tmp"' EXIT

KERNEL_NAME=${FLAVOUR:-unknown}
LOSSY_S=${FAILOVER_LOSSY_S:-300}

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

block() {
	ip netns exec $NSR nft add table inet esptcp_block
	ip netns exec $NSR nft add chain inet esptcp_block filt '{ type filter hook forward priority 0; }'
	ip netns exec $NSR nft add rule inet esptcp_block filt meta l4proto '{ udp, esp }' drop
}

unblock() {
	ip netns exec $NSR nft delete table inet esptcp_block 2>/dev/null || true
	ip netns exec $NSR tc qdisc del dev r1 root 2>/dev/null || true
	ip netns exec $NSR tc qdisc del dev r2 root 2>/dev/null || true
}

# up [INITIATOR KEY=VALUE...]: both helpers, the tunnel on UDP
up() {
	conf "$_tmp/r.conf" responder
	conf "$_tmp/i.conf" initiator "$@"
	ip netns exec $NS2 "$ESPTCP" ike "$_tmp/r.conf" >"$_tmp/r.out" 2>&1 &
	pids+=($!)
	PID_r=$!
	wait_for 50 grep -q running "$_tmp/r.out"
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/i.conf" >"$_tmp/i.out" 2>&1 &
	pids+=($!)
	PID_i=$!
	wait_for 200 grep -q "CHILD_SA installed" "$_tmp/i.out" || { cat "$_tmp/i.out" >&2; return 1; }
	grep -q "established (.*UDP" "$_tmp/i.out"
}

down() {
	stop_all
	unblock
	xfrm_flush
}

# row SETTINGS PING-FILE T-BLOCK|- [KEY=JSON...]: one JSON row from a ping's output
row() {
	python3 - "$@" "kernel=\"$KERNEL_NAME\"" "kver=\"$(uname -r)\"" <<'PY'
import json, re, sys
name, path, t_block = sys.argv[1], sys.argv[2], sys.argv[3]
replies, tx, rx = [], 0, 0
for line in open(path):
    m = re.match(r"\[(\d+\.\d+)\].*icmp_seq=(\d+)", line)
    if m:
        replies.append(float(m.group(1)))
    m = re.search(r"(\d+) packets transmitted, (\d+) received", line)
    if m:
        tx, rx = int(m.group(1)), int(m.group(2))
outage = None
if t_block != "-":
    # the block takes effect a little after t_block: the longest time
    # without a reply, from the last one before it to the first after it
    ts = sorted(replies)
    gaps = [b - a for a, b in zip(ts, ts[1:]) if b > float(t_block)]
    outage = round(max(gaps), 3) if gaps else None
row = {"test": "failover", "case": "failover", "settings": name, "cipher": "aes128gcm16",
       "unit": "s", "outage_s": outage, "lost_pings": tx - rx, "pings": tx}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    row[k] = json.loads(v)
print(json.dumps(row))
extra = ", ".join(f"{k} {row[k]}" for k in row if k in ("moves", "moved_by", "checks"))
print("# bench: failover %s: outage %s s, %d of %d pings lost%s" %
      (name, outage, tx - rx, tx, ", " + extra if extra else ""), file=sys.stderr)
PY
}

# block_mid NAME [INITIATOR KEY=VALUE...]: UDP blocked 3 s into a 20 ms ping;
# with DELAY set (netem on both router ports), on a path of that much
# delay each way
block_mid() {
	local name=$1 t_block by
	shift
	if [ -n "${DELAY:-}" ]; then
		ip netns exec $NSR tc qdisc add dev r1 root netem delay "$DELAY"
		ip netns exec $NSR tc qdisc add dev r2 root netem delay "$DELAY"
	fi
	up "$@"
	wait_for 100 grep -q "standby TCP connection ready" "$_tmp/i.out" || true
	ip netns exec $NS1 ping -D -c 300 -i 0.02 -W 1 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 &
	local p=$!
	sleep 3
	t_block=$(date +%s.%N)
	block
	wait $p || true
	by='"new connection"'
	grep -q "over the standby connection" "$_tmp/i.out" && by='"standby"'
	row "$name" "$_tmp/ping.txt" "$t_block" "moved_by=$by"
	grep -E "moving|now on" "$_tmp/i.out" >&2 || true
	down
}

# lossy: netem loss on both router ports, a 20 ms ping, no block
lossy() {
	local n=$((LOSSY_S * 50)) moves checks
	up
	ip netns exec $NSR tc qdisc add dev r1 root netem loss 1%
	ip netns exec $NSR tc qdisc add dev r2 root netem loss 1%
	echo "# bench: failover lossy: ${LOSSY_S} s of 20 ms pings with 1% loss each way" >&2
	ip netns exec $NS1 ping -c "$n" -i 0.02 -W 1 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 || true
	moves=$(helper_stat "$PID_i" "$_tmp/i.out" moved_to_tcp)
	checks=$(helper_stat "$PID_i" "$_tmp/i.out" quiet_checks)
	row "lossy-1%" "$_tmp/ping.txt" - "moves=${moves:-null}" "checks=${checks:-null}" \
		"seconds=$LOSSY_S"
	down
}

# back: onto TCP, then UDP unblocked under a 20 ms ping
back() {
	local moves
	up udp-probe=2s
	wait_for 100 grep -q "standby TCP connection ready" "$_tmp/i.out" || true
	block
	ip netns exec $NS1 ping -c 20 -i 0.1 -W 1 -I "$IN1" "$IN2" >/dev/null 2>&1 || true
	wait_for 100 grep -q "now on TCP" "$_tmp/r.out"
	unblock
	ip netns exec $NS1 ping -c 400 -i 0.02 -W 2 -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 || true
	grep -q "now on UDP" "$_tmp/i.out" || echo "# bench: failover back: did not return to UDP" >&2
	moves=$(helper_stat "$PID_i" "$_tmp/i.out" moved_to_udp)
	row back "$_tmp/ping.txt" - "moves=${moves:-null}"
	down
}

# kernel memory in slab caches, bytes (active objects times their size)
slab_bytes() {
	awk 'NR > 2 { s += $2 * $4 } END { print s }' /proc/slabinfo
}

# the gateway's TCP sockets on its IKE port
gw_sockets() {
	ip netns exec $NS2 ss -tnH state established '( sport = :4500 )' | wc -l
}

# many_up N KEY=VALUE...: N IKE SAs from n1 (one conn each, its own inner
# address 10.99.0.I), one gateway conn for all of them
many_up() {
	local n=$1 i kv
	shift
	{
		echo "[conn gw]"
		echo "role = responder"; echo "local = $IP2"; echo "remote-id = %any"
		echo "local-ts = $IN2/32"; echo "remote-ts = 10.99.0.0/24"
		echo 'psk = "failover bench key"'
	} >"$_tmp/r.conf"
	: >"$_tmp/i.conf"
	for i in $(seq 1 "$n"); do
		{
			echo "[conn c$i]"
			echo "role = initiator"; echo "local = $IP1"; echo "remote = $IP2"
			echo "local-id = @c$i.example"
			echo "local-ts = 10.99.0.$i/32"; echo "remote-ts = $IN2/32"
			echo 'psk = "failover bench key"'
			for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
		} >>"$_tmp/i.conf"
	done
	ip netns exec $NS2 "$ESPTCP" ike "$_tmp/r.conf" >"$_tmp/r.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q running "$_tmp/r.out"
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/i.conf" >"$_tmp/i.out" 2>&1 &
	pids+=($!)
	wait_for 600 eval '[ "$(grep -c "CHILD_SA installed" "$_tmp/i.out")" -ge '"$n"' ]' ||
		echo "# bench: failover standby-cost: not all $n SAs came up" >&2
}

# the gateway's kernel memory in slab caches: the median of 5 looks
gw_slab() {
	local i
	for i in 1 2 3 4 5; do slab_bytes; sleep 0.3; done | sort -n | sed -n 3p
}

# standby-cost: the gateway with N clients' standby connections and without
standby_cost() {
	local n=16 s0 s1 k0 k1
	many_up $n tcp-standby=no
	sleep 3
	s0=$(gw_sockets)
	k0=$(gw_slab)
	down
	many_up $n
	wait_for 300 eval '[ "$(grep -c "standby TCP connection ready" "$_tmp/i.out")" -ge '"$n"' ]' ||
		echo "# bench: failover standby-cost: not all $n standbys came up" >&2
	sleep 1
	s1=$(gw_sockets)
	k1=$(gw_slab)
	down
	python3 - "$n" "$s0" "$s1" "$k0" "$k1" "$KERNEL_NAME" "$(uname -r)" <<'PY'
import json, sys
n, s0, s1, k0, k1 = (int(x) for x in sys.argv[1:6])
row = {"test": "failover", "case": "failover", "settings": "standby-cost",
       "cipher": "aes128gcm16", "unit": "bytes", "outage_s": None, "lost_pings": None,
       "pings": None, "clients": n, "gw_sockets_per_standby": round((s1 - s0) / n, 2),
       "gw_kernel_bytes_per_standby": round((k1 - k0) / n),
       "kernel": sys.argv[6], "kver": sys.argv[7]}
print(json.dumps(row))
print("# bench: failover standby cost on the gateway, %d clients: %.2f socket(s) and ~%d "
      "kernel bytes (slab) per standby" % (n, row["gw_sockets_per_standby"],
                                          row["gw_kernel_bytes_per_standby"]), file=sys.stderr)
PY
}

esptcp_load >&2
topo_up >&2
n1 ip addr add "$IN1/32" dev lo >&2
n2 ip addr add "$IN2/32" dev lo >&2
n1 ip route add "$IN2/32" via 192.0.2.254 src "$IN1" >&2
n2 ip route add "$IN1/32" via 198.51.100.254 src "$IN2" >&2
block_mid default
block_mid no-standby tcp-standby=no
# a 100 ms round trip, where the standby saves the TCP handshake
DELAY=50ms block_mid default-rtt100
DELAY=50ms block_mid no-standby-rtt100 tcp-standby=no
back
standby_cost
lossy
