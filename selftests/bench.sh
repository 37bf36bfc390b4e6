#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the guest: iperf3 throughput through the same two namespaces and
# router, one case after another in one boot: esptcp (ESP-in-TCP), plain ESP,
# ESP-in-UDP, TCP with no IPsec and, on a kernel that has it, upstream
# espintcp; null cipher and AES-GCM; 1 and 4 streams.  Each figure is the
# median of BENCH_RUNS runs, with the spread (max - min).  Writes
# $OUT/bench.json and prints a table with each row as a ratio to ESP-in-UDP.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT
exec 3>&1 1>&2	# the table goes to fd 3, the chatter to the console

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-4}
rows=$OUT/bench.rows
: >"$rows"

# measure CASE CIPHER STREAMS: iperf3 from n1 to n2's inner address
measure() {
	local c=$1 cipher=$2 streams=$3 i
	local -a mbps=()
	for i in $(seq "$RUNS"); do
		ip netns exec $NS2 timeout $((SECS + 20)) iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
		local srv=$!
		sleep 0.5
		ip netns exec $NS1 timeout $((SECS + 15)) iperf3 -c "$T2" -B "$T1" -t "$SECS" \
			-P "$streams" -J >"$_tmp/iperf.json" 2>/dev/null || true
		wait $srv || true
		mbps+=("$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(round(d["end"]["sum_received"]["bits_per_second"] / 1e6, 1))
except Exception:
    print(0)' "$_tmp/iperf.json")")
	done
	echo "$c $cipher $streams ${mbps[*]}" >>"$rows"
	echo "bench: $c $cipher x$streams: ${mbps[*]} Mbit/s" >&3
}

bench_plain() { # bench_plain CASE CIPHER ENCAP: xfrm only, no carrier
	local c=$1 cipher=$2 encap=$3
	sa_setup $NS1 "$IP1" "$IP2" tunnel "$cipher" "$encap" "$IN1" "$IN2" $SPI_12 $SPI_21
	sa_setup $NS2 "$IP2" "$IP1" tunnel "$cipher" "$encap" "$IN2" "$IN1" $SPI_21 $SPI_12
	if [ "$encap" = udp ]; then
		udp_encap $NS1
		udp_encap $NS2
	fi
	inner_up
	measure "$c" "$cipher" 1
	measure "$c" "$cipher" 4
	stop_all
	xfrm_flush
}

inner_up() {
	T1=$IN1 T2=$IN2
	ip -n $NS1 addr add "$IN1/32" dev lo 2>/dev/null || true
	ip -n $NS2 addr add "$IN2/32" dev lo 2>/dev/null || true
	ip -n $NS1 route replace "$IN2/32" via 192.0.2.254 src "$IN1"
	ip -n $NS2 route replace "$IN1/32" via 198.51.100.254 src "$IN2"
}

bench_esptcp() {
	local cipher=$1
	tunnel_up 4 tunnel "$cipher" esp >/dev/null
	measure esptcp "$cipher" 1
	measure esptcp "$cipher" 4
	tunnel_down
}

# Upstream espintcp (CONFIG_INET_ESPINTCP): type-7 states and its own ULP.
bench_espintcp() {
	local cipher=$1
	algo "$cipher"
	inner_up
	ip netns exec $NS2 python3 "$(dirname "$0")/ike_peer.py" listen 4500 --ulp espintcp --hold \
		>"$_tmp/u2.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/u2.out"
	ip netns exec $NS1 python3 "$(dirname "$0")/ike_peer.py" connect "$IP2" 4500 --ulp espintcp --hold \
		>"$_tmp/u1.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/u1.out"
	wait_for 50 grep -q ready "$_tmp/u2.out"
	local sport
	sport=$(sed -n 's/.*local port \([0-9]*\).*/\1/p' "$_tmp/u1.out")
	local ns src dst me peer sp dp
	for ns in $NS1 $NS2; do
		if [ $ns = $NS1 ]; then
			src=$IP1 dst=$IP2 me=$IN1 peer=$IN2 sp=$sport dp=4500
		else
			src=$IP2 dst=$IP1 me=$IN2 peer=$IN1 sp=4500 dp=$sport
		fi
		ip -n $ns xfrm state add src $src dst $dst proto esp spi \
			"$([ $ns = $NS1 ] && echo $SPI_12 || echo $SPI_21)" reqid 1 mode tunnel \
			replay-window 128 "${ALGO[@]}" encap espintcp "$sp" "$dp" 0.0.0.0
		ip -n $ns xfrm state add src $dst dst $src proto esp spi \
			"$([ $ns = $NS1 ] && echo $SPI_21 || echo $SPI_12)" reqid 2 mode tunnel \
			replay-window 128 "${ALGO[@]}" encap espintcp "$dp" "$sp" 0.0.0.0
		ip -n $ns xfrm policy add src $me dst $peer dir out \
			tmpl src $src dst $dst proto esp reqid 1 mode tunnel
		ip -n $ns xfrm policy add src $peer dst $me dir in \
			tmpl src $dst dst $src proto esp reqid 2 mode tunnel
	done
	measure espintcp "$cipher" 1
	measure espintcp "$cipher" 4
	stop_all
	xfrm_flush
}

esptcp_load
topo_up
T1=$IP1 T2=$IP2
measure tcp none 1
measure tcp none 4
have_upstream=0
grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp && have_upstream=1
for cipher in null gcm; do
	bench_plain esp "$cipher" esp
	bench_plain esp-udp "$cipher" udp
	bench_esptcp "$cipher"
	[ $have_upstream = 1 ] && bench_espintcp "$cipher"
done

python3 - "$rows" "$OUT/bench.json" "$(uname -r)" "${FLAVOUR:-}" >&3 <<'EOF'
import json, statistics, sys
rows, out, kver, flavour = sys.argv[1:5]
res = []
for line in open(rows):
    c, cipher, streams, *v = line.split()
    v = [float(x) for x in v]
    res.append({"case": c, "cipher": "aes-gcm" if cipher == "gcm" else cipher,
                "streams": int(streams), "mbps": statistics.median(v),
                "spread": round(max(v) - min(v), 1), "runs": v,
                "kernel": flavour or kver})
ref = {(r["cipher"], r["streams"]): r["mbps"] for r in res if r["case"] == "esp-udp"}
up = {(r["cipher"], r["streams"]): r["mbps"] for r in res if r["case"] == "espintcp"}
print(f"\n{'case':<10} {'cipher':<8} {'streams':>7} {'Mbit/s':>8} {'spread':>7} "
      f"{'x esp-udp':>9} {'x espintcp':>10}")
for r in res:
    k = (r["cipher"], r["streams"])
    a = f"{r['mbps'] / ref[k]:.2f}" if ref.get(k) else "-"
    b = f"{r['mbps'] / up[k]:.2f}" if up.get(k) else "-"
    r["ratio_esp_udp"] = float(a) if a != "-" else None
    print(f"{r['case']:<10} {r['cipher']:<8} {r['streams']:>7} {r['mbps']:>8.1f} "
          f"{r['spread']:>7.1f} {a:>9} {b:>10}")
json.dump(res, open(out, "w"), indent=1)
print(f"\nkernel {kver}; medians of {len(res[0]['runs'])} runs; written to bench.json")
EOF
