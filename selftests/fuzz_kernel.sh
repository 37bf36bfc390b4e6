#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module under a stream fuzzer (esptcp_fuzz.c): many attached
# connections fed framed, mutated and random input, with binds, unbinds,
# moves, dumps and shutdowns racing it and ESP flowing through a tunnel
# pair.  Each slice runs in a namespace of its own, which is deleted with
# its sockets still open.  `make check` runs a bounded slice per family
# (FUZZ_BYTES, default 16 MiB each, at most 30 s; FUZZ_BYTES=1073741824
# takes about 45 s a family on the stock kernel, where the old receive
# buffer's stall came twice a GiB); `make fuzz-kernel` runs one long slice
# (FUZZ_BYTES=1G) on the debug kernel and writes $OUT/fuzz-kernel.json.
. "$(dirname "$0")/lib.sh"

NSF=esptcp-fz
FUZZ_BYTES=${FUZZ_BYTES:-16777216}
# the debug kernel (KASAN, about 20 times slower) stops a slice at 15 s
FUZZ_SECONDS=${FUZZ_SECONDS:-}
if [ -z "$FUZZ_SECONDS" ] && [ -z "${FUZZ_LONG:-}" ]; then
	FUZZ_SECONDS=30
	[ "${TIER:-}" != debug ] || FUZZ_SECONDS=15
fi
FUZZ_CONNS=${FUZZ_CONNS:-16}
trap 'ip netns del $NSF 2>/dev/null; rm -rf "$_tmp"' EXIT

fz() { ip netns exec $NSF "$@"; }

# fuzz_net FAMILY CONNS: the namespace, its addresses, the SAs and policies
fuzz_net() {
	local fam=$1 conns=$2 gw peer i spi
	ip netns del $NSF 2>/dev/null || true
	pp ip netns add $NSF
	fz ip link set lo up
	if [ "$fam" = 4 ]; then
		gw=10.77.0.1 peer=10.77.0.2
		fz ip addr add $gw/32 dev lo
		fz ip addr add $peer/32 dev lo
		# the peer's address is local too: ESP from it is not martian
		# and IPv4's lo skips xfrm unless told not to
		fz sysctl -qw net.ipv4.conf.lo.accept_local=1 net.ipv4.conf.all.accept_local=1 \
			net.ipv4.conf.lo.disable_xfrm=0 net.ipv4.conf.lo.disable_policy=0
	else
		gw=fd77::1 peer=fd77::2
		fz ip -6 addr add $gw/128 dev lo nodad
		fz ip -6 addr add $peer/128 dev lo nodad
	fi
	# transport mode, null cipher, no replay window: the fuzzer writes
	# ESP by hand, and mutated copies may repeat a sequence number
	sa() { # sa SRC DST SPI REQID
		echo "state add src $1 dst $2 proto esp spi $3 reqid $4 mode transport replay-window 0 enc cipher_null \"\""
	}
	{
		for ((i = 0; i < conns; i++)); do
			sa $peer $gw $((0x00100000 + i)) 0
		done
		for ((i = 0; i < 8; i++)); do
			sa $peer $gw $((0x00200000 + i)) 0
		done
		sa $peer $gw 0x00300001 301
		sa $gw $peer 0x00300002 302
		sa $gw $peer 0x00300003 303
		echo "policy add src $peer dst $gw proto udp dport 30001 dir out tmpl src $peer dst $gw proto esp reqid 301 mode transport"
		echo "policy add src $gw dst $peer proto udp dport 30002 dir out tmpl src $gw dst $peer proto esp reqid 302 mode transport"
		echo "policy add src $gw dst $peer proto udp dport 30003 dir out tmpl src $gw dst $peer proto esp reqid 303 mode transport"
	} | sed 's/^/xfrm /' >"$_tmp/xfrm.batch"
	fz ip -batch "$_tmp/xfrm.batch"
	echo "# $(fz ip xfrm state | grep -c '^src') states, $(fz ip xfrm policy | grep -c '^src') policies"
}

# t_fuzz FAMILY BYTES [ARGS]: one slice; the namespace goes with it
t_fuzz() {
	local fam=$1 bytes=$2 rc=0 flag=
	shift 2
	[ "$fam" = 6 ] && flag=-6
	fuzz_net "$fam" "$FUZZ_CONNS"
	# nsenter, not ip netns exec: the fuzzer needs the debugfs of faults.sh
	nsenter --net=/run/netns/$NSF "$TBIN/esptcp_fuzz" $flag ${FUZZ_ARGS:-} -c "$FUZZ_CONNS" -b "$bytes" \
		${FUZZ_SECONDS:+-t $FUZZ_SECONDS} -j "$_tmp/fuzz.json" "$@" || rc=$?
	# where ESP went, when something was lost
	fz ip -s xfrm state | grep -E '^src|spi|bytes' | head -n 12 | sed 's/^/# /' 
	fz grep -vE '\s0$' /proc/net/xfrm_stat | sed 's/^/# xfrm: /' || true
	fz nstat -a 2>/dev/null | grep -E '^(Ip|Udp|Ip6|Udp6)' | sed 's/^/# /' || true
	[ ! -f "$_tmp/fuzz.json" ] || cp "$_tmp/fuzz.json" "$OUT/fuzz-kernel-ipv$fam.json"
	# away with the namespace, sockets, bindings and SAs and all
	pp ip netns del $NSF
	return $rc
}

esptcp_load
if [ "${FUZZ_LONG:-}" ]; then
	t_case "stream fuzzer: $FUZZ_BYTES bytes over IPv4" t_fuzz 4 "$FUZZ_BYTES"
	cp "$OUT/fuzz-kernel-ipv4.json" "$OUT/fuzz-kernel.json" 2>/dev/null || true
	cat "$OUT/fuzz-kernel.json" 2>/dev/null | sed 's/^/# /' || true
else
	for fam in ${FUZZ_FAMILIES:-4 6}; do
		t_case "stream fuzzer: $FUZZ_BYTES bytes over IPv$fam" t_fuzz $fam "$FUZZ_BYTES"
	done
fi
t_done
