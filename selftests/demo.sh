#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, guest side (root; REPO, KO and OUT come from the harness).
# A real ESP-in-TCP tunnel between two namespaces through a router,
# negotiated by the IKEv2 helper over TCP (`esptcp ike` on both sides), then
# ping and a short iperf3 through it, what the router sees on the wire, the
# counters, and a clean DELETE.  Everything it prints goes to the user's terminal.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT

heading() { printf '\n==== %s\n' "$*"; }
die() {
	echo "demo: $*"
	exit 1
}

heading "esptcp demo on $(uname -r)"
cat <<EOF
  n1 (client)  $IP1 --- nr (router) --- $IP2  n2 (gateway)
  inner        $IN1                       $IN2
  IKE and ESP for $IN1 <-> $IN2 travel in one TCP connection, port 4500
EOF

heading "load the module"
pp insmod "$KO" || die "insmod failed"
grep -q 'INET_ESPINTCP=y' "/boot/config-$(uname -r)" 2>/dev/null ||
	echo "(this kernel has no CONFIG_INET_ESPINTCP: 'encap espintcp' states cannot exist here)"

heading "namespaces and router"
topo_up >"$_tmp/topo.out" 2>&1 || { cat "$_tmp/topo.out"; die "topology setup failed"; }
echo "n1, nr and n2 are up"

heading "inner addresses on lo, routes via the router"
n1 ip addr add "$IN1/32" dev lo >/dev/null
n2 ip addr add "$IN2/32" dev lo >/dev/null
n1 ip route add "$IN2/32" via 192.0.2.254 src "$IN1" >/dev/null
n2 ip route add "$IN1/32" via 198.51.100.254 src "$IN2" >/dev/null
echo "  n1: $IN1 on lo;  n2: $IN2 on lo"

heading "IKEv2 over TCP: esptcp ike in n2 (gateway) and n1 (client)"
cat >"$_tmp/gw.conf" <<EOC
[conn client]
role = responder
local = $IP2
local-id = @gw.example
remote-id = @client.example
psk = "demo pre-shared key, long enough"
local-ts = $IN2/32
remote-ts = $IN1/32
ike = aes128gcm16-prfsha256-ecp256
esp = aes128gcm16
EOC
cat >"$_tmp/client.conf" <<EOC
[conn gw]
role = initiator
transport = tcp
local = $IP1
remote = $IP2
local-id = @client.example
remote-id = @gw.example
psk = "demo pre-shared key, long enough"
local-ts = $IN1/32
remote-ts = $IN2/32
ike = aes128gcm16-prfsha256-ecp256
esp = aes128gcm16
EOC
echo "  n2# cat gw.conf"
sed 's/^/    /' "$_tmp/gw.conf"
echo "  n1# cat client.conf"
sed 's/^/    /' "$_tmp/client.conf"
ip netns exec $NSR tcpdump -nqUi r1 -w "$_tmp/r1.pcap" 2>"$_tmp/dump.err" &
dump=$!
wait_for 50 grep -q listening "$_tmp/dump.err"
ip netns exec $NS2 "$ESPTCP" ike "$_tmp/gw.conf" >"$_tmp/gw.log" 2>&1 &
pids+=($!)
wait_for 50 grep -q running "$_tmp/gw.log" || die "the gateway's helper did not start"
ip netns exec $NS1 "$ESPTCP" ike "$_tmp/client.conf" >"$_tmp/client.log" 2>&1 &
client=$!
pids+=($client)
wait_for 150 grep -q "CHILD_SA installed" "$_tmp/client.log" ||
	{ cat "$_tmp/client.log" "$_tmp/gw.log"; die "the tunnel did not come up"; }
wait_for 50 grep -q "CHILD_SA installed" "$_tmp/gw.log"
echo "  n2# esptcp ike gw.conf"
sed 's/^/    /' "$_tmp/gw.log"
echo "  n1# esptcp ike client.conf"
sed 's/^/    /' "$_tmp/client.log"

heading "ping $IN2 from $IN1, through the tunnel"
ip netns exec $NS1 ping -c 4 -i 0.3 -I "$IN1" "$IN2"

heading "iperf3 through the tunnel, 3 s"
ip netns exec $NS2 iperf3 -s -1 -B "$IN2" >/dev/null 2>&1 &
wait_for 50 iperf_listening $NS2
ip netns exec $NS1 iperf3 -c "$IN2" -B "$IN1" -t 3 -f m | grep -E 'sender|receiver'
sleep 0.5
kill -INT $dump
wait $dump 2>/dev/null

heading "what the router saw between the peers (IKE and ESP)"
printf '  TCP port 4500: %s packets;  ESP: %s;  UDP: %s\n' \
	"$(tcpdump -nqr "$_tmp/r1.pcap" 'tcp port 4500' 2>/dev/null | wc -l)" \
	"$(tcpdump -nqr "$_tmp/r1.pcap" esp 2>/dev/null | wc -l)" \
	"$(tcpdump -nqr "$_tmp/r1.pcap" udp 2>/dev/null | wc -l)"
tcpdump -nqr "$_tmp/r1.pcap" 'tcp port 4500' 2>/dev/null | head -n 3 | sed 's/^/  /'

heading "esptcp show, in n1"
ip netns exec $NS1 "$ESPTCP" show

heading "ss -tie in n1: the carrier socket"
grep -q ' cgroup2 ' /proc/mounts || {
	mkdir -p /run/cgroup2 && mount -t cgroup2 cgroup2 /run/cgroup2
} 2>/dev/null || true
ip netns exec $NS1 ss -tieH '( dport = :4500 )'

heading "ip -s xfrm state, in n1: the negotiated SAs are ordinary ESP states"
ip -n $NS1 -s xfrm state | grep --no-group-separator -E '^src|proto esp|oseq' | sed 's/^/  /'

heading "stop the client: it sends DELETE, both kernels are clean"
kill -TERM $client
wait_for 50 grep -q "the peer deleted the IKE SA" "$_tmp/gw.log"
sleep 0.5
tail -n 3 "$_tmp/gw.log" | sed 's/^/    /'
printf '  states left: n1 %s, n2 %s\n' "$(ip -n $NS1 xfrm state | grep -c '^src')" \
	"$(ip -n $NS2 xfrm state | grep -c '^src')"

heading "done"
