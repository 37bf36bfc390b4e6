#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the guest: iperf3 through the same two namespaces and router, in one
# boot.  Cases: esptcp (ESP-in-TCP), upstream espintcp (on a kernel that
# has it), ESP-in-UDP, plain ESP, and TCP with no IPsec.  The cases take
# turns: each round sets up every case's tunnel in turn and runs each test
# once through it, so a burst of load on the host falls on every case of a
# round alike, not on one case's runs.  Each figure is the median over the
# rounds (5 by default) with its min and max; each ratio is taken within a
# round (esptcp and upstream of the same round) and reported as its median
# over the rounds with its min and max.  Tests:
#
#   throughput  iperf3 TCP, 1 and 4 streams, null cipher and AES-GCM (Mbit/s)
#   udp64       iperf3 UDP, 64-byte payloads offered at 1 Gbit/s, both
#               ciphers: packets per second that reach the receiver (kpps)
#   lossy       iperf3 TCP, 1 stream, AES-GCM, netem on the router: 1% loss
#               and 5 ms delay towards n2, 5 ms delay back (Mbit/s)
#   failover    a 20 ms ping through an IKE tunnel (esptcp ike, UDP with TCP
#               fallback): UDP blocked on the router mid-ping (default
#               settings, and without the standby connection; both also on
#               a path of 100 ms round trip), pings lost and
#               seconds without a reply; 1% loss for 5 minutes (moves); the
#               move back to UDP (pings lost); the gateway's sockets and
#               kernel memory per standby connection (failover_bench.sh;
#               lossy_s=N shortens the lossy run)
#   scale       the module at 1,000 and 10,000 peers (esptcp_scale.c): time
#               and kernel memory to attach and bind them (an inbound and
#               an outbound SA each), `esptcp show` over them, and one SA's
#               packet rate into its stream with their outbound SAs bound
#               and unbound, in turns (ratio); scale_peers=A,B sets the counts;
#               and the aggregate packet rate, out, in and both at once, of 100 active
#               peers against one (scale_active=K sets the 100; 0: not run)
#   handshakes  IKE handshakes a second completed by esptcp ike and by
#               strongSwan's charon as a dial-up gateway, PSK and ECDSA
#               (handshake_bench.sh: one load generator, 500 instances;
#               handshakes=N sets the count)
#   tunnels     time and memory to bring up 1,000 and 10,000 TCP-carried
#               tunnels through IKE against esptcp ike as a dial-up gateway
#               (tunnels_bench.sh: one load generator); tunnels=A,B sets
#               the counts; tunnels_perf=N prints a 20-s system-wide perf
#               profile taken once N tunnels are up, to tunnels.log
#
# Each row is shown as a ratio to upstream espintcp, when the kernel has it,
# and to ESP-in-UDP.  Writes $OUT/bench.json (one object per row) and the
# table to $OUT/bench.txt; progress lines go to fd 3, the harness's results.
# Arguments (make bench BENCH_ARGS="..."): runs=N (rounds), secs=N and cases=A,B (of
# tcp, esptcp, espintcp, esp-udp, esp, failover, scale, handshakes, tunnels) for a
# quick try;
# profile also records a cpu-clock profile (perf, software events) of one
# null-cipher, 1-stream throughput run per tunnel, in $OUT/profile-CASE.txt;
# profile=gcm the same with AES-GCM, in $OUT/profile-CASE-gcm.txt.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT
exec 3>&1 1>&2	# progress goes to fd 3, the chatter to the console

RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-4}
LOSSY_SECS=${BENCH_LOSSY_SECS:-6}
UDP_RATE=${BENCH_UDP_RATE:-1G}
LOSS=${BENCH_LOSS:-1%}
DELAY=${BENCH_DELAY:-5ms}
PROFILE=0
PROFILE_CIPHER=null
CASES=" tcp esptcp espintcp esp-udp esp failover scale handshakes tunnels "
SCALE_PEERS="1000 10000"
SCALE_ACTIVE=100
for a in "$@"; do	# BENCH_ARGS="runs=1 secs=1 profile"
	case $a in
	runs=*) RUNS=${a#*=} ;;
	secs=*) SECS=${a#*=} LOSSY_SECS=${a#*=} ;;
	cases=*) CASES=" ${a#*=} " && CASES=${CASES//,/ } ;;
	lossy_s=*) export FAILOVER_LOSSY_S=${a#*=} ;;
	scale_peers=*) SCALE_PEERS=${a#*=} && SCALE_PEERS=${SCALE_PEERS//,/ } ;;
	scale_active=*) SCALE_ACTIVE=${a#*=} ;;
	handshakes=*) export HANDSHAKES=${a#*=} ;;
	tunnels=*) TUNNELS=${a#*=} && export TUNNELS=${TUNNELS//,/ } ;;
	tunnels_perf=*) export TUNNELS_PERF=${a#*=} ;;
	profile) PROFILE=1 ;;
	profile=null | profile=gcm) PROFILE=1 PROFILE_CIPHER=${a#*=} ;;
	*) echo "bench: unknown argument $a" >&2; exit 2 ;;
	esac
done
rows=$OUT/bench.rows
: >"$rows"
t_bench=$SECONDS

# iperf_value TEST FILE: the figure of one iperf3 run, from its JSON
iperf_value() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
test, path = sys.argv[1:3]
try:
    r = json.load(open(path))["end"]["sum_received"]
    if test == "udp64":
        # packets that reached the server: its byte count over 64-byte payloads
        print(round(r["bytes"] / 64 / r["seconds"] / 1e3, 2))
    else:
        print(round(r["bits_per_second"] / 1e6, 1))
except Exception:
    print("-")	# no figure: the run failed (a 0 would skew medians and ratios)
EOF
}

# measure TEST CASE CIPHER STREAMS: one iperf3 run from n1 to n2's inner
# address; one row "TEST CASE CIPHER STREAMS ROUND V" in $rows
measure() {
	local test=$1 c=$2 cipher=$3 streams=$4 secs=$SECS v
	local -a args=(-P "$streams")
	case $test in
	udp64) args+=(-u -l 64 -b "$UDP_RATE") ;;
	lossy) secs=$LOSSY_SECS ;;
	esac
	ip netns exec $NS2 timeout $((secs + 20)) iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
	local srv=$!
	wait_for 50 iperf_listening $NS2
	ip netns exec $NS1 timeout $((secs + 15)) iperf3 -c "$T2" -B "$T1" -t "$secs" \
		"${args[@]}" -J >"$_tmp/iperf.json" 2>/dev/null || true
	wait $srv || true
	v=$(iperf_value "$test" "$_tmp/iperf.json")
	echo "$test $c $cipher $streams $ROUND $v" >>"$rows"
	echo "# bench: round $ROUND: $test $c $cipher x$streams: $v $([ "$test" = udp64 ] && echo kpps || echo Mbit/s)" >&3
}

# warm_up: one short run whose figure is not kept; under TCG a code path's
# first use pays for its translation, and the first run came out low
warm_up() {
	ip netns exec $NS2 timeout 20 iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
	local srv=$!
	wait_for 50 iperf_listening $NS2
	ip netns exec $NS1 timeout 15 iperf3 -c "$T2" -B "$T1" -t 1 >/dev/null 2>&1 || true
	wait $srv || true
}

# modsyms: filter that names esptcp's raw addresses (0xffff...) in perf output
modsyms() {
	python3 -c '
import bisect, re, sys
syms = sorted((int(a, 16), n) for a, t, n, *m in (l.split() for l in open("/proc/kallsyms"))
              if m == ["[esptcp]"] and t in "tT")
keys = [a for a, _ in syms]
def name(m):
    a = int(m.group(0), 16)
    i = bisect.bisect_right(keys, a) - 1
    return f"{syms[i][1]}+0x{a - syms[i][0]:x}" if i >= 0 and a - syms[i][0] < 0x4000 else m.group(0)
for line in sys.stdin:
    sys.stdout.write(re.sub(r"0xffffffff[0-9a-f]{8}", name, line))'
}

# profile CASE CIPHER: one iperf3 run under perf record (cpu-clock, all CPUs)
profile() {
	local c=$1 f=profile-$1
	[ "$2" = null ] || f=$f-$2
	[ $PROFILE = 1 ] || return 0
	command -v perf >/dev/null || { echo "# bench: no perf: profile skipped" >&3; return 0; }
	ip netns exec $NS2 timeout $((SECS + 20)) iperf3 -s -1 -B "$T2" >/dev/null 2>&1 &
	local srv=$!
	wait_for 50 iperf_listening $NS2
	perf record -q -a -g -e cpu-clock -o "$_tmp/perf.data" -- \
		ip netns exec $NS1 iperf3 -c "$T2" -B "$T1" -t "$SECS" >/dev/null 2>&1 || true
	wait $srv || true
	# perf finds no esptcp.ko under /lib/modules: name its addresses from kallsyms
	perf report -i "$_tmp/perf.data" --no-children --sort sym --stdio 2>/dev/null |
		grep -v '^$' | modsyms | head -n 600 >"$OUT/$f.txt" || true
	perf report -i "$_tmp/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | modsyms | head -n 40 >"$OUT/$f.flat.txt" || true
	echo "# bench: profile of $c ($2) written to $f.txt" >&3
}

inner_up() {
	T1=$IN1 T2=$IN2
	ip -n $NS1 addr add "$IN1/32" dev lo 2>/dev/null || true
	ip -n $NS2 addr add "$IN2/32" dev lo 2>/dev/null || true
	ip -n $NS1 route replace "$IN2/32" via 192.0.2.254 src "$IN1"
	ip -n $NS2 route replace "$IN1/32" via 198.51.100.254 src "$IN2"
}

# lossy_path on|off: netem on both router ports, loss on the data direction
lossy_path() {
	if [ "$1" = on ]; then
		nr tc qdisc add dev r2 root netem delay "$DELAY" loss "$LOSS" limit 10000
		nr tc qdisc add dev r1 root netem delay "$DELAY" limit 10000
	else
		ip netns exec $NSR tc qdisc del dev r2 root 2>/dev/null || true
		ip netns exec $NSR tc qdisc del dev r1 root 2>/dev/null || true
	fi
}

# run_tests CASE CIPHER: every test for a tunnel that is up
run_tests() {
	local c=$1 cipher=$2
	warm_up
	measure throughput "$c" "$cipher" 1
	measure throughput "$c" "$cipher" 4
	[ "$cipher" = "$PROFILE_CIPHER" ] && [ "$ROUND" = 1 ] && profile "$c" "$cipher"
	measure udp64 "$c" "$cipher" 1
	if [ "$cipher" = gcm ] && [ "$c" != esp ]; then
		lossy_path on
		measure lossy "$c" "$cipher" 1
		lossy_path off
	fi
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
	run_tests "$c" "$cipher"
	tunnel_down
}

bench_esptcp() {
	local cipher=$1
	tunnel_up 4 tunnel "$cipher" esp >/dev/null
	run_tests esptcp "$cipher"
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
	wait_for 150 grep -q listening "$_tmp/u2.out"
	ip netns exec $NS1 python3 "$(dirname "$0")/ike_peer.py" connect "$IP2" 4500 --ulp espintcp --hold \
		>"$_tmp/u1.out" 2>&1 &
	pids+=($!)
	if ! wait_for 150 grep -q ready "$_tmp/u1.out" || ! wait_for 150 grep -q ready "$_tmp/u2.out"; then
		# no figures rather than zeros; the why goes to the console
		echo "# bench: espintcp $cipher: no carrier connection, case left out" >&3
		tail -n 20 "$_tmp/u1.out" "$_tmp/u2.out"
		ip netns exec $NS1 ss -tanp
		ip netns exec $NS2 ss -tanp
		tunnel_down
		return 0
	fi
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
	run_tests espintcp "$cipher"
	tunnel_down
}

esptcp_load
topo_up
have_upstream=0
grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp && have_upstream=1
want() { [[ $CASES == *" $1 "* ]]; }
for ROUND in $(seq "$RUNS"); do
	echo "# bench: round $ROUND of $RUNS" >&3
	T1=$IP1 T2=$IP2
	if want tcp; then
		warm_up
		measure throughput tcp none 1
		measure throughput tcp none 4
		measure udp64 udp none 1	# no tunnel: plain UDP, the packet rate's ceiling
		lossy_path on
		measure lossy tcp none 1
		lossy_path off
	fi
	for cipher in null gcm; do
		want esptcp && bench_esptcp "$cipher"
		want espintcp && [ $have_upstream = 1 ] && bench_espintcp "$cipher"
		want esp-udp && bench_plain esp-udp "$cipher" udp
		want esp && bench_plain esp "$cipher" esp
	done
done
if want failover; then
	stop_all
	bash "$(dirname "$0")/failover_bench.sh" >"$OUT/failover.rows" 2>"$_tmp/failover.err" ||
		echo "# bench: failover: $(tail -n 1 "$_tmp/failover.err")" >&3
	grep '^# bench' "$_tmp/failover.err" >&3 || true
fi
if want handshakes; then
	stop_all
	bash "$(dirname "$0")/handshake_bench.sh" >"$OUT/handshakes.rows" 2>"$OUT/handshakes.log" ||
		echo "# bench: handshakes: $(tail -n 1 "$OUT/handshakes.log")" >&3
	grep "^# bench" "$OUT/handshakes.log" >&3 || true
fi
if want tunnels; then
	stop_all
	bash "$(dirname "$0")/tunnels_bench.sh" >"$OUT/tunnels.rows" 2>"$OUT/tunnels.log" ||
		echo "# bench: tunnels: $(tail -n 1 "$OUT/tunnels.log")" >&3
	grep "^# bench" "$OUT/tunnels.log" >&3 || true
fi
if want scale; then
	stop_all
	[ "$SCALE_ACTIVE" != 0 ] || SCALE_ACTIVE=
	# shellcheck disable=SC2086 # the counts, one argument each
	ESPTCP=$ESPTCP "$TBIN/esptcp_scale" $SCALE_PEERS ${SCALE_ACTIVE:+active=$SCALE_ACTIVE} \
		>"$OUT/scale.rows" 2>"$_tmp/scale.err" ||
		echo "# bench: scale: $(tail -n 1 "$_tmp/scale.err")" >&3
	sed 's/^/# bench: scale: /' "$OUT/scale.rows" >&3
fi
echo "# bench: all cases in $((SECONDS - t_bench)) s" >&3

python3 - "$rows" "$OUT" "$(uname -r)" "${FLAVOUR:-}" "$have_upstream" \
	"$LOSS" "$DELAY" "$UDP_RATE" "$((SECONDS - t_bench))" <<'EOF'
import json, statistics, sys
rows, out, kver, flavour, have_up, loss, delay, rate, secs = sys.argv[1:10]
# one row per run: TEST CASE CIPHER STREAMS ROUND VALUE
runs = {}
for line in open(rows):
    test, c, cipher, streams, rnd, v = line.split()
    byround = runs.setdefault((test, c, cipher, int(streams)), {})
    if v != "-":  # a failed run is left out of figures and ratios alike
        byround[int(rnd)] = float(v)
res = []
for (test, c, cipher, streams), byround in runs.items():
    v = [byround[k] for k in sorted(byround)]
    if not v:
        continue
    res.append({"test": test, "case": c, "cipher": "aes-gcm" if cipher == "gcm" else cipher,
                "streams": streams, "unit": "kpps" if test == "udp64" else "Mbit/s",
                "mbps": statistics.median(v), "min": min(v), "max": max(v),
                "spread": round(max(v) - min(v), 2), "runs": v, "rounds": byround,
                "kernel": flavour or kver, "kver": kver})


def ratio(r, ref):
    """A ratio per round to REF's run of the same round: median, min, max."""
    other = next((x for x in res if x["case"] == ref and x["test"] == r["test"]
                  and x["cipher"] == r["cipher"] and x["streams"] == r["streams"]), None)
    if not other:
        return None, None
    q = [r["rounds"][k] / other["rounds"][k] for k in r["rounds"]
         if other["rounds"].get(k)]
    if not q:
        return None, None
    return round(statistics.median(q), 2), [round(min(q), 2), round(max(q), 2)]


for r in res:
    r["ratio_esp_udp"], r["ratio_esp_udp_range"] = ratio(r, "esp-udp")
    r["ratio_espintcp"], r["ratio_espintcp_range"] = ratio(r, "espintcp")
for r in res:
    del r["rounds"]

order = {"esptcp": 0, "espintcp": 1, "esp-udp": 2, "esp": 3, "tcp": 4, "udp": 4}
tests = [("throughput", "throughput, iperf3 TCP (Mbit/s)"),
         ("udp64", f"small packets, iperf3 UDP 64-byte payloads offered at {rate}bit/s "
                   "(thousand packets/s at the receiver)"),
         ("lossy", f"lossy path, netem on the router: {loss} loss and {delay} delay on the "
                   f"data direction, {delay} on the return (Mbit/s)")]
lines = []
f = lambda x: "-" if x is None else f"{x:.2f}"
g = lambda x: "" if x is None else f"{x[0]:.2f}-{x[1]:.2f}"
for test, title in tests:
    sel = [r for r in res if r["test"] == test]
    if not sel:
        continue
    sel.sort(key=lambda r: (r["cipher"] != "none", r["cipher"] != "null", r["streams"],
                            order.get(r["case"], 9)))
    lines += ["", title,
              f"  {'case':<9} {'cipher':<8} {'streams':>7} {'median':>8} {'min':>8} {'max':>8}"
              f" {'x espintcp':>10} {'(min-max)':>11} {'x esp-udp':>9} {'(min-max)':>11}"]
    for r in sel:
        lines.append(f"  {r['case']:<9} {r['cipher']:<8} {r['streams']:>7} {r['mbps']:>8.1f}"
                     f" {r['min']:>8.1f} {r['max']:>8.1f} {f(r['ratio_espintcp']):>10}"
                     f" {g(r['ratio_espintcp_range']):>11}"
                     f" {f(r['ratio_esp_udp']):>9} {g(r['ratio_esp_udp_range']):>11}")
def json_rows(name):
    """The JSON objects, one a line, of a case's rows file (none if it did not run)."""
    try:
        return [json.loads(x) for x in open(f"{out}/{name}") if x.startswith("{")]
    except OSError:
        return []


fo = json_rows("failover.rows")
if fo:
    lines += ["", "failover: 20 ms ping through an IKE tunnel (udp-fallback-tcp); default and "
              "no-standby: UDP blocked on the router mid-ping; lossy-1%: no block, 1% loss "
              "each way; back: UDP unblocked while on TCP",
              f"  {'settings':<17} {'outage (s)':>10} {'lost pings':>10} {'of':>6}  notes"]
    for r in fo:
        r["kernel"] = flavour or kver
        if r["settings"] == "standby-cost":
            lines.append(f"  {'standby-cost':<17} gateway per standby connection "
                         f"({r['clients']} clients): {r['gw_sockets_per_standby']} TCP "
                         f"socket(s), ~{r['gw_kernel_bytes_per_standby']} bytes of kernel slab")
            continue
        notes = ", ".join(f"{k} {r[k]}" for k in ("moved_by", "moves", "checks", "seconds")
                          if k in r)
        lines.append(f"  {r['settings']:<17} {f(r['outage_s']):>10} {r['lost_pings']:>10}"
                     f" {r['pings']:>6}  {notes}")
res += fo
def scale_line(r):
    """One row of the scale case as a line of the table."""
    n = f"  {r['peers']:>6} peers:"
    if r["test"] == "bringup":
        return (f"{n} up in {r['seconds']:.2f} s ({r['per_second']:.0f}/s), "
                f"{r['kernel_kb']} kB kernel memory, {r['bytes_per_peer']} bytes a peer")
    if r["test"] == "dump":
        return f"{n} esptcp show -j in {r['seconds']:.2f} s"
    if r["test"] == "active":
        d = lambda k: "/".join(f"{v:.0f}" for v in r[k])
        return (f"{n} all active: out {d('out_pps_k')} pps vs {d('out_pps_1')} with one "
                f"active: ratio {r['out_ratio']:.3f}; in {d('in_pps_k')} vs {d('in_pps_1')}: "
                f"ratio {r['in_ratio']:.3f}"
                + (f"; both {d('both_pps_k')} vs {d('both_pps_1')}: ratio {r['both_ratio']:.3f}"
                   if "both_ratio" in r else ""))
    pps = {k: "/".join(f"{v:.0f}" for v in r[k]) for k in ("pps_n", "pps_0")}
    return f"{n} {pps['pps_n']} pps bound vs {pps['pps_0']} unbound: ratio {r['ratio']:.3f}"


sc = json_rows("scale.rows")
for r in sc:
    r["kernel"] = flavour or kver
if sc:
    lines += ["", "scale: the module's side of N TCP-carried tunnels (attach, an inbound and "
              "an outbound SA each); one SA's 64-byte packet rate into its stream with the N "
              "peers' outbound SAs bound and unbound, 3 turns each; with K peers all active, "
              "the aggregate packet rate out (one sender), in (one writer) and both at once "
              "against one peer active, 3 turns each"] + [scale_line(r) for r in sc]
res += sc
hs = json_rows("handshakes.rows")
if hs:
    lines += ["", "handshakes: IKE_SA_INIT + IKE_AUTH a second completed by the responder "
              "(UDP, one load generator, install = no; the gateway's auth, clients by PSK); "
              "median over rounds, and esptcp/charon taken within each round"]
    for auth in ("psk", "ecdsa"):
        per = {}
        for r in hs:
            if r["auth"] == auth and r["per_s"]:
                per.setdefault(r["round"], {})[r["responder"]] = r["per_s"]
        ours = [v["esptcp"] for v in per.values() if "esptcp" in v]
        theirs = [v["charon"] for v in per.values() if "charon" in v]
        ratios = [v["esptcp"] / v["charon"] for v in per.values() if len(v) == 2]
        if not ours and not theirs:
            continue
        med = lambda xs: f"{statistics.median(xs):.0f}/s" if xs else "-"
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" \
            if ratios else "-"
        lines.append(f"  {auth:<6} esptcp {med(ours)}, charon {med(theirs)}: ratio {ratio}")
    for r in hs:
        r["kernel"] = flavour or kver
res += hs
tu = json_rows("tunnels.rows")
if tu:
    lines += ["", "tunnels: TCP-carried tunnels brought up through IKE against esptcp ike as a "
              "dial-up gateway (one load generator over TCP, install = no); kernel memory "
              "is both ends of each connection (one kernel)"]
    for r in tu:
        rate = f"{min(r['done'], r['n']) * 1000 / r['ms']:.0f}/s" if r["ms"] else "-"
        up = r.get("up", r["done"])
        lines.append(f"  {r['n']:>6}: {r['done']} installs in {r['ms'] / 1000:.1f} s ({rate}), "
                     f"{up} clients up at the end; "
                     f"kernel {r['kernel_kb']} kB, {r['kernel_b_per_tunnel']} B a tunnel; "
                     f"gateway {r['gw_b_per_sa']} B resident an IKE SA")
        r["kernel"] = flavour or kver
res += tu
lines.append("")
nruns = max((len(r["runs"]) for r in res if "runs" in r), default=0)
lines.append(f"kernel {kver} ({flavour or 'unnamed'}); medians of {nruns} rounds, "
             f"min and max of those rounds; each ratio taken within a round, its median "
             f"and (min-max) over the rounds; bench time {secs} s")
if have_up != "1":
    lines.append(f"upstream espintcp: absent, kernel {kver} is built without "
                 "CONFIG_INET_ESPINTCP (make bench KERNEL=reference has it); "
                 "ratios are to ESP-in-UDP only")
json.dump(res, open(f"{out}/bench.json", "w"), indent=1)
open(f"{out}/bench.txt", "w").write("\n".join(lines) + "\n")
EOF
