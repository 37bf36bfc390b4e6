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
	local name=$1 rc=0 t0=$SECONDS
	shift
	_ncase=$((_ncase + 1))
	rm -f "$_tmp/skip"
	touch "$_tmp/.case-start"
	echo "# --- $name"
	(
		set -eE
		# the outputs this case wrote, then the command again (last, where a
		# tail of the log shows it)
		trap 'rc=$?; echo "# FAILED (status $rc): $BASH_COMMAND"
			find "$_tmp" -maxdepth 1 -name "*.out" -newer "$_tmp/.case-start" \
				-exec tail -n 5 {} + 2>/dev/null
			echo "# FAILED (status $rc): $BASH_COMMAND"' ERR
		"$@"
	)
	rc=$?
	# what each case costs, for placing it in a leg (README, "What each kernel runs")
	[ $rc -eq 4 ] || echo "# case took $((SECONDS - t0)) s"
	if [ $rc -eq 4 ] && [ -f "$_tmp/skip" ]; then
		echo "ok $_ncase $name # SKIP $(cat "$_tmp/skip")"
	elif [ $rc -eq 0 ]; then
		echo "ok $_ncase $name"
	else
		echo "not ok $_ncase $name"
	fi
	_failed=$((${_failed:-0} + (rc != 0 && rc != 4)))
}

# t_case_skipped NAME REASON: a case left out, without running anything (on
# the debug kernel each exec costs a second)
t_case_skipped() {
	_ncase=$((_ncase + 1))
	echo "# --- $1"
	echo "ok $_ncase $1 # SKIP $2"
}

# t_case_subset KEY NAME FUNCTION [ARGS...]: t_case, as far as the leg's
# tier ($TIER, set by the harness from the kernel: README, "What each
# kernel runs") goes:
#   full    every case
#   kernel  all but the keys in $helper_only: cases of the IKE helper's own
#           logic (proposals, PSK, limits...), which no kernel changes and
#           the full leg runs
#   debug   only the keys in $debug_subset: the debug kernel (KASAN,
#           lockdep, kmemleak) is ~20 times slower under TCG
#   smoke   as debug, and the harness runs fewer suites
# A case left out prints a SKIP with the reason, and t_ran then fails, so
# that what follows it for clean-up can be left out too (t_ran && tunnel_down).
t_case_subset() {
	local key=$1
	shift
	_ran=0
	if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $key "* ]]; then
		t_case_skipped "$1" "not among CASES=\"$CASES\""
		return 0
	fi
	# the lists are written over several lines: $(echo ...) makes them one
	case ${TIER:-full} in
	kernel)
		# shellcheck disable=SC2086
		if [[ " $(echo ${helper_only:-}) " == *" $key "* ]]; then
			t_case_skipped "$1" "the IKE helper's own logic: the full (stock 6.1) leg runs this case"
			return 0
		fi
		;;
	debug | smoke)
		# shellcheck disable=SC2086
		if [[ " $(echo ${debug_subset:-}) " != *" $key "* ]]; then
			t_case_skipped "$1" "the $TIER tier runs a subset; the full and kernel tiers run this case"
			return 0
		fi
		;;
	esac
	_ran=1
	t_case "$@"
}

# t_ran: did the last t_case_subset run its case?  For the clean-up after
# it: `t_ran && cleanup`.  Never `t_case_subset ... && cleanup`: a case run
# on the left of && runs with set -e off (bash ignores -e there, in every
# function and subshell below), so only its last command could fail it.
t_ran() {
	[ "${_ran:-0}" = 1 ]
}

# t_case_cleaned KEY NAME CMD...: t_case_subset, then the suite's cleanup
# (a function of its own) when the case ran
t_case_cleaned() {
	t_case_subset "$@"
	if t_ran; then
		cleanup >/dev/null 2>&1
	fi
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

# updown_script FILE LOG: an updown script that records each event and its
# ESPTCP_* environment in LOG, a record at a time (one write, ending ".")
updown_script() {
	cat >"$1" <<EOF
#!/bin/sh
r=\$(echo "verb \$1"; env | grep '^ESPTCP_' | sort; echo .)
printf '%s\n' "\$r" >>"$2"
EOF
	chmod +x "$1"
}
# updown_seen LOG VERB [N]: at least N (default 1) whole VERB records
updown_seen() {
	awk -v v="$2" -v want="${3:-1}" '$0 == "verb " v { on = 1; next }
		$0 == "." { if (on) n++; on = 0 } END { exit !(n >= want) }' "$1"
}
# updown_count LOG VERB: how many whole VERB records
updown_count() {
	awk -v v="$2" '$0 == "verb " v { on = 1; next }
		$0 == "." { if (on) n++; on = 0 } END { print n + 0 }' "$1"
}
# updown_var LOG VERB NAME: NAME's value in the last whole VERB record
updown_var() {
	awk -v v="$2" -v n="$3" '$0 == "verb " v { on = 1; val = ""; next }
		on && index($0, n "=") == 1 { val = substr($0, length(n) + 2) }
		$0 == "." { if (on) last = val; on = 0 } END { print last }' "$1"
}

# helper_stat PID LOG NAME: one counter of the `esptcp ike` helper PID that
# logs to LOG: SIGUSR1 makes it print a fresh stats line
helper_stat() {
	local pid=$1 log=$2 name=$3 before
	before=$(grep -c "esptcp: stats" "$log" || true)
	kill -USR1 "$pid"
	wait_for 25 eval '[ "$(grep -c "esptcp: stats" "$log")" -gt "$before" ]'
	grep "esptcp: stats" "$log" | tail -n 1 | tr ' ' '\n' |
		awk -v n="$name" 'f { print; exit } $0 == n { f = 1 }'
}

# iperf_listening NS: an iperf3 server listens in NS (its port, 5201); a
# client started before that is refused, which the debug kernel's slow
# start made happen after a fixed 0.5 s
iperf_listening() {
	ip netns exec "$1" ss -Hltn 'sport = :5201' | grep -q .
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

# clients_up N: namespaces esptcp-c1..cN, client i at 10.77.i.1 behind nr,
# a veth and a /24 each (no bridge: not every test kernel has one)
clients_up() {
	local i
	echo "# $1 clients: namespaces esptcp-c1..c$1, client i at 10.77.i.1 behind nr"
	# batches: under TCG every exec of ip costs (100 clients: 800 of them)
	for i in $(seq 1 "$1"); do
		echo "netns add esptcp-c$i"
	done | ip -batch -
	for i in $(seq 1 "$1"); do
		echo "link add cv$i type veth peer name eth0 netns esptcp-c$i"
		echo "addr add 10.77.$i.254/24 dev cv$i"
		echo "link set cv$i up"
	done | ip -n $NSR -batch -
	for i in $(seq 1 "$1"); do
		printf '%s\n' "link set lo up" "addr add 10.77.$i.1/24 dev eth0" \
			"link set eth0 up" "route add default via 10.77.$i.254" |
			ip -n esptcp-c$i -batch -
	done
}

# dialup_client I TRANSPORT [LINES]: road warrior c$I@example.org, vip = yes,
# to the dial-up gateway at $IP2 (LINES: more of its conn, one a line)
dialup_client() {
	cat >"$_tmp/c$1.conf" <<-EOC
	[conn gw]
	role = initiator
	transport = $2
	local = 10.77.$1.1
	remote = $IP2
	local-id = c$1@example.org
	remote-id = @gw.example
	psk = "the dial-up group's psk"
	vip = yes
	${3:-}
	EOC
	ip netns exec esptcp-c$1 "$ESPTCP" ike -v "$_tmp/c$1.conf" >"$_tmp/c$1.log" 2>&1 &
	pids+=($!)
	eval "C$1_PID=$!"
}

# many_down N: the clients of clients_up gone, with what runs in them
many_down() {
	local i
	# batches, as clients_up (-force: past a namespace already gone)
	for i in $(seq 1 "$1"); do
		echo "netns pids esptcp-c$i"
	done | ip -force -batch - 2>/dev/null | xargs -r kill 2>/dev/null || true
	stop_all
	for i in $(seq 1 "$1"); do
		echo "netns del esptcp-c$i"
	done | ip -force -batch - 2>/dev/null || true
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

# inner_addrs FAM: /32 (/128) inner addresses on lo in n1 and n2, with routes
# via nr; sets T1 T2 (inner) O1 O2 (outer)
inner_addrs() {
	local fam=$1
	if [ "$fam" = 4 ]; then
		T1=$IN1 T2=$IN2 O1=$IP1 O2=$IP2
		n1 ip addr add "$IN1/32" dev lo
		n2 ip addr add "$IN2/32" dev lo
		n1 ip route add "$IN2/32" via 192.0.2.254 src "$IN1"
		n2 ip route add "$IN1/32" via 198.51.100.254 src "$IN2"
	else
		T1=$IN1_6 T2=$IN2_6 O1=$IP1_6 O2=$IP2_6
		n1 ip addr add "$IN1_6/128" dev lo
		n2 ip addr add "$IN2_6/128" dev lo
		n1 ip route add "$IN2_6/128" via 2001:db8:1::fe src "$IN1_6"
		n2 ip route add "$IN1_6/128" via 2001:db8:2::fe src "$IN2_6"
	fi
}

# --- static-key tunnels: SAs by `ip xfrm`, carrier by the esptcp tool ---

ns_empty() { # ns_empty NS: no process left in the namespace
	[ -z "$(ip netns pids "$1" 2>/dev/null)" ]
}

pids=()
# stop_all: every process of the case, ours and what it left in the
# namespaces.  Few execs: on the debug kernel each costs about a second.
stop_all() {
	local p ns left busy=()
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# cases run in subshells: also whatever they left in the namespaces
	for ns in $NS1 $NS2 $NSR; do
		left=$(ip netns pids $ns 2>/dev/null) || true
		if [ -n "$left" ]; then
			# shellcheck disable=SC2086
			kill $left 2>/dev/null || true
			busy+=("$ns")
		fi
	done
	wait 2>/dev/null || true
	for ns in "${busy[@]}"; do
		wait_for 25 ns_empty "$ns" >/dev/null || true
	done
	pids=()
}

# inner addresses live on lo, so no policy covers the carrier itself
IN1=203.0.113.1
IN2=203.0.113.2
IN1_6=2001:db8:ff::1
IN2_6=2001:db8:ff::2
KEY_GCM=0x0123456789abcdef0123456789abcdef01234567
SPI_12=0x1001
SPI_21=0x2001

# algo NAME: the `ip xfrm state` algorithm arguments, in ALGO
algo() {
	case $1 in
	gcm) ALGO=(aead 'rfc4106(gcm(aes))' $KEY_GCM 128) ;;
	null) ALGO=(enc 'ecb(cipher_null)' '') ;;
	esac
}

# sa_setup NS OUTER_SRC OUTER_DST MODE CIPHER ENCAP: both SAs, both policies
sa_setup() {
	local ns=$1 src=$2 dst=$3 mode=$4 cipher=$5 encap=$6 e=""
	local me=$7 peer=$8 spi_out=$9 spi_in=${10}
	[ "$encap" = udp ] && e="encap espinudp 4500 4500 0.0.0.0"
	algo "$cipher"
	pp ip -n "$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$spi_out" reqid 1 \
		mode "$mode" replay-window 128 "${ALGO[@]}" $e
	pp ip -n "$ns" xfrm state add src "$dst" dst "$src" proto esp spi "$spi_in" reqid 2 \
		mode "$mode" replay-window 128 "${ALGO[@]}" $e
	if [ "$mode" = tunnel ]; then
		pp ip -n "$ns" xfrm policy add src "$me" dst "$peer" dir out \
			tmpl src "$src" dst "$dst" proto esp reqid 1 mode tunnel
		pp ip -n "$ns" xfrm policy add src "$peer" dst "$me" dir in \
			tmpl src "$dst" dst "$src" proto esp reqid 2 mode tunnel
	else
		pp ip -n "$ns" xfrm policy add src "$src" dst "$dst" dir out \
			tmpl proto esp reqid 1 mode transport
		pp ip -n "$ns" xfrm policy add src "$dst" dst "$src" dir in \
			tmpl proto esp reqid 2 mode transport
	fi
}

xfrm_flush() {
	local ns
	for ns in $NS1 $NS2; do
		printf 'xfrm policy flush\nxfrm state flush\n' | ip -n $ns -batch -
	done
}

# tunnel_up FAM MODE CIPHER ENCAP [PORT]: states, policies, carrier, bindings;
# sets T1/T2 (the inner addresses) and O1/O2 (the outer ones)
tunnel_up() {
	local fam=$1 mode=$2 cipher=$3 encap=$4 port=${5:-4500} o1 o2 pfx
	if [ "$fam" = 4 ]; then
		o1=$IP1 o2=$IP2 T1=$IN1 T2=$IN2 pfx=32
	else
		o1=$IP1_6 o2=$IP2_6 T1=$IN1_6 T2=$IN2_6 pfx=128
	fi
	O1=$o1 O2=$o2
	if [ "$mode" = transport ]; then
		T1=$o1 T2=$o2
	else
		n1 ip addr add "$T1/$pfx" dev lo
		n2 ip addr add "$T2/$pfx" dev lo
		n1 ip route add "$T2/$pfx" via "$( [ "$fam" = 4 ] && echo 192.0.2.254 || echo 2001:db8:1::fe)" src "$T1"
		n2 ip route add "$T1/$pfx" via "$( [ "$fam" = 4 ] && echo 198.51.100.254 || echo 2001:db8:2::fe)" src "$T2"
	fi
	sa_setup $NS1 "$o1" "$o2" "$mode" "$cipher" "$encap" "$T1" "$T2" $SPI_12 $SPI_21
	sa_setup $NS2 "$o2" "$o1" "$mode" "$cipher" "$encap" "$T2" "$T1" $SPI_21 $SPI_12

	carrier_up "$fam" "$port" "$o2" --in $SPI_12 --out $SPI_21 -- --out $SPI_12 --in $SPI_21
}

# carrier_up FAM PORT PEER [RESPONDER ARGS] -- [ORIGINATOR ARGS]: a carrier
# between n2 (listen) and n1 (connect); its logs are $_tmp/l$PORT.out and
# $_tmp/c$PORT.out, and its socket inode numbers INO1 (n1) and INO2 (n2)
carrier_up() {
	local fam=$1 port=$2 peer=$3 largs=() cargs=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do largs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	cargs=("$@")
	ip netns exec $NS2 "$ESPTCP" listen -"$fam" -p "$port" "${largs[@]}" \
		>"$_tmp/l$port.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q listening "$_tmp/l$port.out"
	ip netns exec $NS1 "$ESPTCP" connect -"$fam" -p "$port" "${cargs[@]}" "$peer" \
		>"$_tmp/c$port.out" 2>&1 &
	pids+=($!)
	# 20 s: a connection whose first SYNs were lost (once on 7.3 in CI,
	# nothing attached after 10 s) still has its fourth and fifth
	if ! wait_for 100 grep -q ready "$_tmp/c$port.out"; then
		echo "# the carrier did not come up; what each side's TCP holds:"
		ip netns exec $NS1 ss -tanio 2>&1 | sed 's/^/# n1: /' || true
		ip netns exec $NS2 ss -tanl 2>&1 | sed 's/^/# n2: /' || true
		return 1
	fi
	wait_for 50 grep -q ready "$_tmp/l$port.out"
	cat "$_tmp/c$port.out" "$_tmp/l$port.out"
	INO1=$(sed -n 's/.* ino \([0-9]*\)$/\1/p' "$_tmp/c$port.out")
	INO2=$(sed -n 's/.* ino \([0-9]*\)$/\1/p' "$_tmp/l$port.out")
}

tunnel_down() {
	stop_all
	xfrm_flush
	# one ip per namespace: global addresses of both families on lo, and
	# the inner routes (they went with the addresses; these catch the rest)
	printf 'addr flush dev lo scope global\nroute del %s/32\nroute del %s/128\n' \
		"$IN2" "$IN2_6" | ip -n $NS1 -force -batch - >/dev/null 2>&1 || true
	printf 'addr flush dev lo scope global\nroute del %s/32\nroute del %s/128\n' \
		"$IN1" "$IN1_6" | ip -n $NS2 -force -batch - >/dev/null 2>&1 || true
}

stat_of() { # stat_of NS NAME
	ip netns exec "$1" "$ESPTCP" stats | awk -v n="$2" '$1 == n {print $2}'
}

stat_ge() { # stat_ge NS NAME MIN: the counter has reached MIN
	local v
	v=$(stat_of "$1" "$2")
	[ "${v:-0}" -ge "$3" ]
}

xfrm_stat() { # xfrm_stat NS NAME: one counter of the netns' /proc/net/xfrm_stat
	ip netns exec "$1" awk -v n="$2" '$1 == n {print $2}' /proc/net/xfrm_stat
}

xfrm_stat_ge() { # xfrm_stat_ge NS NAME MIN: that counter has reached MIN
	local v
	v=$(xfrm_stat "$1" "$2")
	[ "${v:-0}" -ge "$3" ]
}

seq_errors() { # seq_errors NS
	xfrm_stat "$1" XfrmInStateSeqError
}


# udp_encap NS: a UDP socket on 4500 with UDP_ENCAP_ESPINUDP, as an IKE
# daemon holds one; without it ESP-in-UDP that arrives by UDP has no taker
udp_encap() {
	ip netns exec "$1" python3 -c '
import socket, time
for fam, any in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((any, 4500))
    s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
    globals()["keep_" + str(fam)] = s
print("udp_encap: ready", flush=True)
time.sleep(86400)' >"$_tmp/udpencap-$1.out" 2>&1 &
	pids+=($!)
	wait_for 50 grep -q ready "$_tmp/udpencap-$1.out"
}
