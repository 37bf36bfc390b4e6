#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo, guest side (root; REPO, KO and OUT come from the harness).
# Loads esptcp, joins two network namespaces through a router namespace,
# opens a TCP connection from n1 to n2 port 4500 with the esptcp tool (IKETCP
# prefix, then the ULP attached on both ends), and shows what the kernel
# reports about it.  Everything it prints goes to the user's terminal.
. "$(dirname "$0")/lib.sh"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_down
}
trap 'cleanup; rm -rf "$_tmp"' EXIT

heading() { printf '\n==== %s\n' "$*"; }
die() {
	echo "demo: $*"
	exit 1
}

heading "esptcp demo on $(uname -r)"
echo "n1 $IP1 (originator) -- nr (router) -- n2 $IP2 (responder), TCP port 4500"

heading "load the module"
pp insmod "$KO" || die "insmod failed"

heading "network namespaces"
topo_up >"$_tmp/topo.out" 2>&1 || { cat "$_tmp/topo.out"; die "topology setup failed"; }
echo "n1, nr and n2 are up; n1 reaches $IP2 through nr (log: $(grep -c '^# \[' "$_tmp/topo.out") commands)"

heading "carrier connection: esptcp listen in n2, esptcp connect in n1"
echo "# [n2] esptcp listen -p 4500 &"
ip netns exec $NS2 "$ESPTCP" listen -p 4500 >"$_tmp/l.out" 2>&1 &
pids+=($!)
wait_for 50 grep -q listening "$_tmp/l.out" || { cat "$_tmp/l.out"; die "no listener"; }
echo "# [n1] esptcp connect -p 4500 $IP2 &"
ip netns exec $NS1 "$ESPTCP" connect -p 4500 "$IP2" >"$_tmp/c.out" 2>&1 &
pids+=($!)
wait_for 50 grep -q attached "$_tmp/c.out" || { cat "$_tmp/c.out"; die "connect did not attach"; }
wait_for 50 grep -q attached "$_tmp/l.out" || { cat "$_tmp/l.out"; die "listen did not attach"; }
sed 's/^/n2: /' "$_tmp/l.out"
sed 's/^/n1: /' "$_tmp/c.out"

# ss -e reports each socket's cgroup and complains when no cgroup2 is
# mounted; `ip netns exec` remounts /sys, so mount it outside /sys
grep -q ' cgroup2 ' /proc/mounts || {
	mkdir -p /run/cgroup2 && mount -t cgroup2 cgroup2 /run/cgroup2
} 2>/dev/null || true

heading "ss -tie in n1 (originator)"
ip netns exec $NS1 ss -tie | tee "$_tmp/ss1"
heading "ss -tie in n2 (responder)"
ip netns exec $NS2 ss -tie | tee "$_tmp/ss2"
for ns in 1 2; do
	if grep -q 'tcp-ulp-esptcp' "$_tmp/ss$ns"; then
		echo "n$ns: tcp-ulp-esptcp is attached"
	else
		echo "n$ns: tcp-ulp-esptcp NOT shown"
	fi
done

heading "cat /proc/sys/net/ipv4/tcp_available_ulp"
cat /proc/sys/net/ipv4/tcp_available_ulp

heading "lsmod | grep esptcp"
lsmod | grep esptcp
echo "(the use count is the number of sockets holding the ULP)"

heading "dmesg | grep 'esptcp: '"
dmesg | grep -E '(^|[] ])esptcp: ' 

heading "stop"
cleanup
pids=()
# the attached sockets go away with their TCP teardown, not at once
if wait_for 100 rmmod esptcp; then
	echo "connections closed, namespaces removed, esptcp unloaded"
else
	echo "connections closed, namespaces removed; rmmod esptcp still refused"
fi
grep -q 'tcp-ulp-esptcp' "$_tmp/ss1" && grep -q 'tcp-ulp-esptcp' "$_tmp/ss2"
