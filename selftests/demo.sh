#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, guest side (root; REPO, KO and OUT come from the harness).
# The dial-up gateway esptcp replaces (a FortiGate phase1 of type dynamic
# with mode-cfg): a pool of five addresses, DNS and a split list of two
# subnets, UDP first and TCP on port 5500.  A road warrior connects over
# UDP and gets its address and routes; a ping runs; the router blocks UDP;
# the tunnel carries on over TCP by itself, with the same address and SAs,
# and the demo prints how long the ping was without answers, what the
# router saw, the gateway's `esptcp show`, and a clean DELETE.  Everything
# it prints goes to the user's terminal.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; unblock; topo_down; rm -rf "$_tmp"' EXIT

heading() { printf '\n==== %s\n' "$*"; }
die() {
	echo "demo: $*"
	exit 1
}
unblock() {
	ip netns exec $NSR nft delete table inet demo_block 2>/dev/null || true
}

NET1=10.1.0.1 NET2=10.2.0.1 VIP=192.168.111.1 PORT=5500

heading "esptcp demo on $(uname -r): a dial-up gateway and a road warrior"
cat <<EOF
  n1 (road warrior) $IP1 --- nr (router) --- $IP2 n2 (gateway)
  the gateway's split list: 10.1.0.0/16 ($NET1) and 10.2.0.0/16 ($NET2)
  its pool: 192.168.111.1-192.168.111.5, DNS 10.1.0.53; UDP first, TCP on port $PORT
EOF

heading "load the module"
pp insmod "$KO" || die "insmod failed"

heading "namespaces and router"
topo_up >"$_tmp/topo.out" 2>&1 || { cat "$_tmp/topo.out"; die "topology setup failed"; }
n2 ip addr add "$NET1/32" dev lo >/dev/null
n2 ip addr add "$NET2/32" dev lo >/dev/null
echo "n1, nr and n2 are up; $NET1 and $NET2 are on n2's lo"

heading "the gateway (n2) and the road warrior (n1)"
cat >"$_tmp/gw.conf" <<EOC
[conn dialup]
role = responder
local = $IP2
port = $PORT
local-id = @gw.example.org
remote-id = *@example.org
psk = "demo pre-shared key, long enough"
local-ts = 10.1.0.0/16, 10.2.0.0/16
pool = 192.168.111.1-192.168.111.5
dns = 10.1.0.53
EOC
cat >"$_tmp/updown.sh" <<'EOS'
#!/bin/sh
echo "    updown $1: address $ESPTCP_VIP, DNS $ESPTCP_DNS, over $ESPTCP_TRANSPORT, to $ESPTCP_PEER_TS"
EOS
chmod +x "$_tmp/updown.sh"
cat >"$_tmp/rw.conf" <<EOC
[conn office]
role = initiator
transport = udp-fallback-tcp
local = $IP1
remote = $IP2
port = $PORT
local-id = laptop@example.org
remote-id = @gw.example.org
psk = "demo pre-shared key, long enough"
vip = yes
updown = $_tmp/updown.sh
udp-timeout = 1s
EOC
echo "  n2# cat gateway.conf"
sed 's/^/    /' "$_tmp/gw.conf"
echo "  n1# cat roadwarrior.conf"
sed 's/^/    /' "$_tmp/rw.conf"

heading "the road warrior connects over UDP and gets its address"
ip netns exec $NSR tcpdump -nqUi r1 -w "$_tmp/r1.pcap" 2>"$_tmp/dump.err" &
dump=$!
wait_for 50 grep -q listening "$_tmp/dump.err"
ip netns exec $NS2 "$ESPTCP" ike "$_tmp/gw.conf" >"$_tmp/gw.log" 2>&1 &
pids+=($!)
wait_for 50 grep -q running "$_tmp/gw.log" || die "the gateway's helper did not start"
ip netns exec $NS1 "$ESPTCP" ike "$_tmp/rw.conf" >"$_tmp/rw.log" 2>&1 &
client=$!
pids+=($client)
wait_for 150 grep -q "virtual address $VIP on lo" "$_tmp/rw.log" ||
	{ cat "$_tmp/rw.log" "$_tmp/gw.log"; die "the tunnel did not come up"; }
wait_for 50 grep -q "^    updown up" "$_tmp/rw.log"
echo "  n1# esptcp ike roadwarrior.conf"
sed 's/^/    /' "$_tmp/rw.log"
echo "  n1# ip addr show dev lo; ip route show table 220"
ip -n $NS1 -br addr show dev lo | sed 's/^/    /'
ip -n $NS1 route show table 220 | sed 's/^/    /'
spis_before=$(ip -n $NS1 xfrm state | awk '/proto esp spi/ {print $4}' | sort | tr '\n' ' ')

heading "ping $NET1 from the road warrior; after 3 s the router blocks UDP"
ip netns exec $NS1 ping -D -c 60 -i 0.2 -W 1 "$NET1" >"$_tmp/ping.txt" 2>&1 &
ping=$!
sleep 3
echo "  nr# nft: drop UDP and ESP between the peers"
ip netns exec $NSR nft -f - <<EON
table inet demo_block {
	chain f { type filter hook forward priority 0; meta l4proto { udp, esp } drop; }
}
EON
wait_for 100 grep -q "now on TCP" "$_tmp/gw.log" || die "the tunnel did not move to TCP"
wait $ping || true
grep -E "moving|now on|updown move" "$_tmp/rw.log" "$_tmp/gw.log" | sed "s|$_tmp/||; s/^/    /"
# the outage: the longest time between two answered pings
awk '/bytes from/ { t = substr($1, 2, length($1) - 2) + 0; if (last && t - last > gap) gap = t - last; last = t }
	/packets transmitted/ { summary = $0 }
	END { printf "  ping: %s\n  longest time without an answer: %.1f s (pings every 0.2 s)\n", summary, gap }' \
	"$_tmp/ping.txt"
spis_after=$(ip -n $NS1 xfrm state | awk '/proto esp spi/ {print $4}' | sort | tr '\n' ' ')
echo "  SPIs before: $spis_before"
echo "  SPIs after:  $spis_after"
[ "$spis_before" = "$spis_after" ] && echo "  the same SAs, the same address $VIP: the user pressed nothing"
ip netns exec $NS1 ping -c 2 -i 0.3 -W 2 "$NET2" | grep -E "bytes from|transmitted"

heading "esptcp show, on the gateway: the client's lease and transport"
ip netns exec $NS2 "$ESPTCP" show | sed -n '/^ike helper/,$p'

heading "what the router saw"
kill -INT $dump
wait $dump 2>/dev/null
printf '  UDP: %s packets;  ESP: %s;  TCP port %s: %s\n' \
	"$(tcpdump -nqr "$_tmp/r1.pcap" udp 2>/dev/null | wc -l)" \
	"$(tcpdump -nqr "$_tmp/r1.pcap" esp 2>/dev/null | wc -l)" "$PORT" \
	"$(tcpdump -nqr "$_tmp/r1.pcap" "tcp port $PORT" 2>/dev/null | wc -l)"
tcpdump -nqr "$_tmp/r1.pcap" "tcp port $PORT" 2>/dev/null | head -n 2 | sed 's/^/  /'

heading "ss -tie in n1: the carrier socket"
grep -q ' cgroup2 ' /proc/mounts || {
	mkdir -p /run/cgroup2 && mount -t cgroup2 cgroup2 /run/cgroup2
} 2>/dev/null || true
ip netns exec $NS1 ss -tieH "( dport = :$PORT )"

heading "stop the road warrior: DELETE, address and routes gone, both kernels clean"
kill -TERM $client
wait_for 50 grep -q "the peer deleted the IKE SA" "$_tmp/gw.log"
wait $client 2>/dev/null || true
grep "updown down" "$_tmp/rw.log" | sed 's/^/  /'
printf '  states left: n1 %s, n2 %s;  table 220 in n1: %s routes;  %s on n1: %s\n' \
	"$(ip -n $NS1 xfrm state | grep -c '^src')" "$(ip -n $NS2 xfrm state | grep -c '^src')" \
	"$(ip -n $NS1 route show table 220 | wc -l)" "$VIP" \
	"$(ip -n $NS1 addr show dev lo | grep -c "inet $VIP/")"

heading "done"
