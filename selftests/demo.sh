#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, guest side (root; REPO, KO and OUT come from the harness).
# A real ESP-in-TCP tunnel between two namespaces through a router: SAs with
# stock `ip xfrm`, the carrier connection from the esptcp tool, then ping
# and a short iperf3 through it, what the router sees on the wire, and the
# counters.  Everything it prints goes to the user's terminal.
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
  ESP for $IN1 <-> $IN2 travels in one TCP connection, port 4500
EOF

heading "load the module"
pp insmod "$KO" || die "insmod failed"
grep -q 'INET_ESPINTCP=y' "/boot/config-$(uname -r)" 2>/dev/null ||
	echo "(this kernel has no CONFIG_INET_ESPINTCP: 'encap espintcp' states cannot exist here)"

heading "namespaces and router"
topo_up >"$_tmp/topo.out" 2>&1 || { cat "$_tmp/topo.out"; die "topology setup failed"; }
echo "n1, nr and n2 are up"

heading "SAs and policies, with stock ip xfrm (tunnel mode, AES-GCM)"
tunnel_up 4 tunnel gcm esp >"$_tmp/tun.out" 2>&1 || { cat "$_tmp/tun.out"; die "tunnel setup failed"; }
grep -E '^# \[\+\] ip -n esptcp-n1 xfrm' "$_tmp/tun.out" | sed 's/^# \[+\] /  /'
echo "  (the same, mirrored, in n2)"

heading "the carrier: esptcp listen in n2, esptcp connect in n1"
echo "  n2# esptcp listen -p 4500 --in $SPI_12 --out $SPI_21"
sed 's/^/    /' "$_tmp/l4500.out"
echo "  n1# esptcp connect -p 4500 --out $SPI_12 --in $SPI_21 $IP2"
sed 's/^/    /' "$_tmp/c4500.out"

heading "ping $IN2 from $IN1, through the tunnel"
ip netns exec $NSR tcpdump -nqUi r1 -w "$_tmp/r1.pcap" 2>"$_tmp/dump.err" &
dump=$!
wait_for 50 grep -q listening "$_tmp/dump.err"
ip netns exec $NS1 ping -c 4 -i 0.3 -I "$IN1" "$IN2"

heading "iperf3 through the tunnel, 3 s"
ip netns exec $NS2 iperf3 -s -1 -B "$IN2" >/dev/null 2>&1 &
sleep 0.5
ip netns exec $NS1 iperf3 -c "$IN2" -B "$IN1" -t 3 -f m | grep -E 'sender|receiver'
sleep 0.5
kill -INT $dump
wait $dump 2>/dev/null

heading "what the router saw between the peers"
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

heading "ip -s xfrm state, in n1: the SAs are ordinary ESP states"
ip -n $NS1 -s xfrm state | grep --no-group-separator -E '^src|proto esp|oseq' | sed 's/^/  /'

heading "done"
