# SPDX-License-Identifier: GPL-2.0
# Sourced by the netns test scripts.  Every command that changes the test
# network is echoed with its namespace before it runs (pp, n1, n2, nr), and
# every case runs in a subshell under `set -e`, so the first failing command
# fails the case and is the last thing in the log.
#
# Topology (documentation address ranges; the guest has no NIC at all):
#
#   n1 (initiator)          nr (router)            n2 (responder)
#   v1 192.0.2.1/24  ---  r1 192.0.2.254           198.51.100.254 r2  ---  v2 198.51.100.2/24
#      2001:db8:1::1/64       2001:db8:1::fe       2001:db8:2::fe         2001:db8:2::2/64
set -u

NS1=esptcp-n1
NS2=esptcp-n2
NSR=esptcp-nr
IP1=192.0.2.1
IP2=198.51.100.2
IP1_6=2001:db8:1::1
IP2_6=2001:db8:2::2
ESPTCP=${ESPTCP:-$REPO/build/userspace/esptcp}
TBIN=${TBIN:-$REPO/build/selftests}

_ncase=0
_tmp=$(mktemp -d)
trap 'rm -rf "$_tmp"' EXIT

pp() { printf '# [+] %s\n' "$*"; "$@"; }
n1() { printf '# [n1] %s\n' "$*"; ip netns exec $NS1 "$@"; }
n2() { printf '# [n2] %s\n' "$*"; ip netns exec $NS2 "$@"; }
nr() { printf '# [nr] %s\n' "$*"; ip netns exec $NSR "$@"; }

# t_skip REASON: end the current case as skipped
t_skip() {
	echo "$*" >"$_tmp/skip"
	exit 4
}

# t_case NAME FUNCTION [ARGS...]: run one case, print its TAP line
t_case() {
	local name=$1 rc=0
	shift
	_ncase=$((_ncase + 1))
	rm -f "$_tmp/skip"
	echo "# --- $name"
	(
		set -eE
		trap 'echo "# FAILED (status $?): $BASH_COMMAND"; tail -n 5 "$_tmp"/*.out 2>/dev/null' ERR
		"$@"
	)
	rc=$?
	if [ $rc -eq 4 ] && [ -f "$_tmp/skip" ]; then
		echo "ok $_ncase $name # SKIP $(cat "$_tmp/skip")"
	elif [ $rc -eq 0 ]; then
		echo "ok $_ncase $name"
	else
		echo "not ok $_ncase $name"
	fi
	_failed=$((${_failed:-0} + (rc != 0 && rc != 4)))
}

t_done() {
	echo "1..$_ncase"
	[ "${_failed:-0}" -eq 0 ]
}

# expect_fail CMD...: the command must fail
expect_fail() {
	if "$@"; then
		echo "# expected failure: $*"
		return 1
	fi
	return 0
}

# wait_for TRIES CMD...: retry CMD every 0.2 s
wait_for() {
	local i=$1
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i - 1))
		if [ $i -le 0 ]; then
			echo "# gave up waiting for: $*"
			return 1
		fi
		sleep 0.2
	done
}

esptcp_load() {
	grep -q '^esptcp ' /proc/modules || pp insmod "$KO"
}

topo_down() {
	local ns
	for ns in $NS1 $NS2 $NSR; do
		ip netns del $ns 2>/dev/null || true
	done
}

topo_up() {
	topo_down
	pp ip netns add $NS1
	pp ip netns add $NS2
	pp ip netns add $NSR
	nr ip link add r1 type veth peer name v1 netns $NS1
	nr ip link add r2 type veth peer name v2 netns $NS2
	nr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	n1 sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	n2 sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	nr sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	nr ip addr add 192.0.2.254/24 dev r1
	nr ip addr add 198.51.100.254/24 dev r2
	nr ip addr add 2001:db8:1::fe/64 dev r1 nodad
	nr ip addr add 2001:db8:2::fe/64 dev r2 nodad
	n1 ip addr add $IP1/24 dev v1
	n1 ip addr add $IP1_6/64 dev v1 nodad
	n2 ip addr add $IP2/24 dev v2
	n2 ip addr add $IP2_6/64 dev v2 nodad
	local ns
	for ns in $NS1 $NS2 $NSR; do
		ip -n $ns link set lo up
	done
	nr ip link set r1 up
	nr ip link set r2 up
	n1 ip link set v1 up
	n2 ip link set v2 up
	n1 ip route add default via 192.0.2.254
	n1 ip -6 route add default via 2001:db8:1::fe
	n2 ip route add default via 198.51.100.254
	n2 ip -6 route add default via 2001:db8:2::fe
	wait_for 50 ip netns exec $NS1 ping -c1 -W1 $IP2
	wait_for 50 ip netns exec $NS1 ping -c1 -W1 $IP2_6
}
