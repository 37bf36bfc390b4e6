#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The soak (`make soak`, not part of `make check`): one IKE tunnel under
# traffic for SOAK_MINUTES (default 30) while
#   - the client rekeys its CHILD_SA every 10 s and its IKE SA every minute,
#   - the router blocks UDP (and ESP) for 20 s, then lets it through for 20 s,
#   - the router resets the TCP connections every 45 s,
#   - a second client (its own namespace) joins and leaves every 2 minutes.
# At the end: the helpers' memory flat after the first minutes, the module's
# counters consistent between the ends, the traffic through, no state,
# policy or socket left once the helpers stop; the harness adds kmemleak
# and the kernel's checkers.  Figures in $OUT/soak.json and on the console.
. "$(dirname "$0")/lib.sh"
trap 'soak_down; rm -rf "$_tmp"' EXIT

MIN=${SOAK_MINUTES:-30}
DUR=$((MIN * 60))
NSB=esptcp-c1			# the second client
INB=203.0.113.3
PSK='"soak test key"'

soak_down() {
	ip netns pids $NSB 2>/dev/null | xargs -r kill 2>/dev/null || true
	stop_all
	ip netns del $NSB 2>/dev/null || true
	topo_down
}

# gw_conf: one conn per client; client_conf ID LOCAL INNER [KEY=VALUE...]
gw_conf() {
	local id ts
	for id in a b; do
		ts=$IN1/32
		[ $id = b ] && ts=$INB/32
		cat <<-EOC
		[conn $id]
		role = responder
		local = $IP2
		local-id = @gw.example
		remote-id = @$id.example
		psk = $PSK
		local-ts = $IN2/32
		remote-ts = $ts
		EOC
	done >"$_tmp/gw.conf"
}

client_conf() {
	local id=$1 local=$2 inner=$3 kv
	shift 3
	{
		cat <<-EOC
		[conn gw]
		role = initiator
		transport = udp-fallback-tcp
		local = $local
		remote = $IP2
		local-id = @$id.example
		remote-id = @gw.example
		psk = $PSK
		local-ts = $inner/32
		remote-ts = $IN2/32
		EOC
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$_tmp/$id.conf"
}

# the second client: a namespace at 10.77.1.1 behind the router
client_b_net() {
	pp ip netns add $NSB
	ip -n $NSR link add cv1 type veth peer name eth0 netns $NSB
	ip -n $NSR addr add 10.77.1.254/24 dev cv1
	ip -n $NSR link set cv1 up
	printf '%s\n' "link set lo up" "addr add 10.77.1.1/24 dev eth0" "link set eth0 up" \
		"route add default via 10.77.1.254" "addr add $INB/32 dev lo" |
		ip -n $NSB -batch -
	n2 ip route add "$INB/32" via 198.51.100.254 src "$IN2"
}

B_PID=
b_join() {
	ip netns exec $NSB "$ESPTCP" ike "$_tmp/b.conf" >>"$_tmp/b.out" 2>&1 &
	B_PID=$!
	joins=$((joins + 1))
}

b_leave() {
	[ -n "$B_PID" ] || return 0
	kill "$B_PID" 2>/dev/null || true
	wait "$B_PID" 2>/dev/null || true
	B_PID=
}

udp_block() {
	ip netns exec $NSR nft -f - <<-EOF
	table inet soak_udp {
		chain f { type filter hook forward priority 0; meta l4proto { udp, esp } drop; }
	}
	EOF
	blocks=$((blocks + 1))
}

udp_unblock() {
	ip netns exec $NSR nft delete table inet soak_udp 2>/dev/null || true
}

# reset every TCP connection to the gateway for a second
tcp_reset() {
	ip netns exec $NSR nft -f - <<-EOF
	table inet soak_rst {
		chain f { type filter hook forward priority 0; tcp dport 4500 reject with tcp reset; tcp sport 4500 reject with tcp reset; }
	}
	EOF
	sleep 1
	ip netns exec $NSR nft delete table inet soak_rst
	resets=$((resets + 1))
}

rss_kb() { # rss_kb PID
	awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

counter() { # counter NS NAME
	ip netns exec "$1" "$ESPTCP" stats 2>/dev/null | awk -v n="$2" '$1 == n {print $2}'
}

esptcp_load
topo_up
inner_addrs 4
client_b_net
gw_conf
client_conf a "$IP1" "$IN1" child-rekey=10s ike-rekey=60s keepalive=5s
client_conf b 10.77.1.1 "$INB" child-rekey=10s keepalive=5s

echo "# soak: $MIN minutes"
ip netns exec $NS2 "$ESPTCP" ike "$_tmp/gw.conf" >"$_tmp/gw.out" 2>&1 &
pids+=($!)
PID_GW=$!
ip netns exec $NS1 "$ESPTCP" ike "$_tmp/a.conf" >"$_tmp/a.out" 2>&1 &
pids+=($!)
PID_A=$!

t_up() {
	wait_for 300 grep -q "CHILD_SA installed" "$_tmp/a.out"
	n1 ping -c 2 -W 3 -I "$IN1" "$IN2"
}
t_case "soak: the tunnel comes up" t_up

ip netns exec $NS2 iperf3 -s -B "$IN2" >/dev/null 2>&1 &
pids+=($!)
wait_for 50 iperf_listening $NS2
ip netns exec $NS1 iperf3 -c "$IN2" -B "$IN1" -t "$DUR" -b 1M -J >"$_tmp/iperf.json" 2>&1 &
IPERF=$!
ip netns exec $NS1 ping -i 0.5 -W 2 -w "$DUR" -I "$IN1" "$IN2" >"$_tmp/ping.txt" 2>&1 &
PING=$!

joins=0 blocks=0 resets=0
samples=()
t0=$SECONDS
blocked=0
# each event at its own pace; a slow second (TCG) never skips one
next_block=20 next_reset=45 next_join=30 next_leave=90 next_sample=0
while [ $((SECONDS - t0)) -lt "$DUR" ]; do
	sleep 1
	t=$((SECONDS - t0))
	if [ $t -ge $next_block ]; then
		if [ $blocked = 0 ]; then udp_block; blocked=1; else udp_unblock; blocked=0; fi
		next_block=$((next_block + 20))
	fi
	if [ $t -ge $next_reset ]; then
		tcp_reset
		next_reset=$((next_reset + 45))
	fi
	if [ $t -ge $next_join ]; then
		b_join
		next_join=$((next_join + 120))
	fi
	if [ $t -ge $next_leave ]; then
		b_leave
		next_leave=$((next_leave + 120))
	fi
	if [ $t -ge $next_sample ]; then
		samples+=("{\"t\": $t, \"rss_gw_kb\": $(rss_kb $PID_GW), \"rss_client_kb\": $(rss_kb $PID_A)}")
		echo "# t=${t}s rss gw $(rss_kb $PID_GW) kB client $(rss_kb $PID_A) kB, blocks $blocks resets $resets joins $joins"
		next_sample=$((next_sample + 30))
	fi
done
b_leave
udp_unblock
wait $IPERF 2>/dev/null || true
wait $PING 2>/dev/null || true

# the figures
ping_tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$_tmp/ping.txt")
ping_rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$_tmp/ping.txt")
# (no process substitution: the guest has no /dev/fd)
iperf_sum=$(python3 -c '
import json,sys
try:
    j = json.load(open(sys.argv[1]))
    e = j["end"]
    print(int(e["sum_sent"]["bytes"]), int(e["sum_received"]["bytes"]))
except Exception:
    print(0, 0)' "$_tmp/iperf.json")
ip_sent=${iperf_sum% *}
ip_rcvd=${iperf_sum#* }
child_rekeys=$(grep -c "CHILD_SA installed" "$_tmp/a.out" || true)
ike_rekeys=$(grep -c "IKE SA rekeyed" "$_tmp/a.out" || true)
declare -A c1 c2
for k in rx_esp_pkts tx_esp_pkts tx_drop_closed tx_drop_queue rx_drop_no_sa; do
	c1[$k]=$(counter $NS1 $k)
	c2[$k]=$(counter $NS2 $k)
done
seq1=$(seq_errors $NS1)
seq2=$(seq_errors $NS2)
rss_early_gw=$(echo "${samples[@]}" | grep -o '"rss_gw_kb": [0-9]*' | sed -n "$(( ${#samples[@]} > 6 ? 6 : 1 ))p" | awk '{print $2}')
rss_early_a=$(echo "${samples[@]}" | grep -o '"rss_client_kb": [0-9]*' | sed -n "$(( ${#samples[@]} > 6 ? 6 : 1 ))p" | awk '{print $2}')
rss_end_gw=$(rss_kb $PID_GW)
rss_end_a=$(rss_kb $PID_A)

# stop both helpers: nothing of theirs may stay
kill "$PID_A" "$PID_GW" 2>/dev/null || true
wait "$PID_A" "$PID_GW" 2>/dev/null || true
sleep 2
left=0
for ns in $NS1 $NS2 $NSB; do
	n=$(( $(ip -n $ns xfrm state | grep -c '^src' || true) + $(ip -n $ns xfrm policy | grep -c '^src' || true) ))
	s=$(ip netns exec $ns "$ESPTCP" show 2>/dev/null | grep -c '^socket ino' || true)
	left=$((left + n + s))
	[ $((n + s)) -eq 0 ] || echo "# $ns keeps $n states and policies, $s sockets"
done

{
	printf '{"minutes": %d, "ping_sent": %d, "ping_received": %d, ' "$MIN" "${ping_tx:-0}" "${ping_rx:-0}"
	printf '"iperf_bytes_sent": %d, "iperf_bytes_received": %d, ' "$ip_sent" "$ip_rcvd"
	printf '"child_sa_installs": %d, "ike_rekeys": %d, "udp_blocks": %d, "tcp_resets": %d, "client_joins": %d, ' \
		"$child_rekeys" "$ike_rekeys" "$blocks" "$resets" "$joins"
	printf '"client": {"rx_esp_pkts": %d, "tx_esp_pkts": %d, "tx_drop_closed": %d, "tx_drop_queue": %d, "seq_errors": %d}, ' \
		"${c1[rx_esp_pkts]:-0}" "${c1[tx_esp_pkts]:-0}" "${c1[tx_drop_closed]:-0}" "${c1[tx_drop_queue]:-0}" "${seq1:-0}"
	printf '"gateway": {"rx_esp_pkts": %d, "tx_esp_pkts": %d, "tx_drop_closed": %d, "tx_drop_queue": %d, "seq_errors": %d}, ' \
		"${c2[rx_esp_pkts]:-0}" "${c2[tx_esp_pkts]:-0}" "${c2[tx_drop_closed]:-0}" "${c2[tx_drop_queue]:-0}" "${seq2:-0}"
	printf '"rss_kb": {"gateway_early": %d, "gateway_end": %d, "client_early": %d, "client_end": %d}, ' \
		"${rss_early_gw:-0}" "$rss_end_gw" "${rss_early_a:-0}" "$rss_end_a"
	printf '"left_after_stop": %d, "samples": [%s]}\n' "$left" "$(IFS=,; echo "${samples[*]}")"
} >"$OUT/soak.json"
sed 's/^/# /' "$OUT/soak.json"

t_traffic() {
	echo "# ping $ping_rx of $ping_tx, iperf3 $ip_rcvd of $ip_sent bytes"
	[ "${ping_tx:-0}" -gt 0 ] && [ $((ping_rx * 100 / ping_tx)) -ge 80 ]
	[ "$ip_rcvd" -gt 0 ]
}
t_rekeys() {
	echo "# CHILD_SA installs $child_rekeys, IKE SA rekeys $ike_rekeys in $MIN min"
	[ "$child_rekeys" -ge $((MIN * 6 * 2 / 3)) ]
	[ "$ike_rekeys" -ge $((MIN * 2 / 3)) ]
}
t_rss() {
	echo "# gateway $rss_early_gw -> $rss_end_gw kB, client $rss_early_a -> $rss_end_a kB"
	[ $((rss_end_gw - rss_early_gw)) -le 1024 ]
	[ $((rss_end_a - rss_early_a)) -le 1024 ]
}
t_counters() {
	echo "# ESP over TCP: client sent ${c1[tx_esp_pkts]}, gateway got ${c2[rx_esp_pkts]}; gateway sent ${c2[tx_esp_pkts]}, client got ${c1[rx_esp_pkts]}"
	[ "${c2[rx_esp_pkts]}" -le "${c1[tx_esp_pkts]}" ]
	[ "${c1[rx_esp_pkts]}" -le "${c2[tx_esp_pkts]}" ]
	[ "${c1[tx_esp_pkts]}" -gt 0 ]
}
t_case "soak: traffic through (ping 80%, iperf3)" t_traffic
t_case "soak: CHILD_SA every 10 s, IKE SA every minute" t_rekeys
t_case "soak: the helpers' memory flat after the first minutes" t_rss
t_case "soak: the module's counters agree between the ends" t_counters
t_case "soak: no state, policy or socket left after the helpers stop" eval '[ "$left" -eq 0 ]'
t_done
