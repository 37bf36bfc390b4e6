#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The tunnel figures for make bench (case "scale", what "tunnels"): the
# time and the memory to bring up N TCP-carried tunnels through IKE, for
# each N in TUNNELS (1000 10000).  esptcp ike is a dial-up gateway in n2
# with a pool: it installs each client's CHILD_SA (two states, the
# client's policies) and binds it to the client's own TCP connection.  The
# clients are one load generator in n1 (instances = N over TCP, install =
# no), so n1's kernel holds their connections and nothing else.
#
# A row: the time from the generator's start to the gateway's Nth
# CHILD_SA; the kernel's memory for them (the growth of Slab + Percpu +
# page tables in /proc/meminfo, both ends of each connection: it is one
# kernel) and per tunnel; the gateway's and the generator's resident
# memory, and the growth of the gateway's per IKE SA.  Prints one JSON object per line on stdout; progress
# to stderr.
. "$(dirname "$0")/lib.sh"
trap 'stop_all; topo_down; rm -rf "$_tmp"' EXIT

KERNEL_NAME=${FLAVOUR:-unknown}
COUNTS=${TUNNELS:-1000 10000}
PSK="tunnels bench group key 0123456789"

kmem_kb() { # the kernel's own allocations that grow with tunnels, kB
	awk '/^(Slab|Percpu|PageTables|KernelStack):/ { s += $2 } END { print s }' /proc/meminfo
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

installed() {
	grep -c "CHILD_SA installed" "$_tmp/gw.out" || true
}

# Each helper holds a descriptor a connection, and raises its soft limit
# to the hard one; the guest's PID 1 leaves the kernel's default hard limit
# of 4,096, where 10,000 stopped at 4,083 tunnels.  (A systemd service has
# a hard limit of 524,288 on Debian 12 and 13.)
ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 65536
cpu_s() { # the CPU seconds process $1 has used, user and system
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null
}

busy_s() { # the kernel's and everyone's: CPU seconds in system and softirq, all CPUs
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%d", ($4 + $7 + $8) / hz }' /proc/stat
}

exec 4>&2	# progress past wait_for, which silences what it runs
all_up() { # all_up N T0: the gateway has N; its progress every 50th try
	local got
	got=$(installed)
	_tries=$((${_tries:-0} + 1))
	[ $((_tries % 50)) -eq 0 ] &&
		echo "# bench: tunnels: $got of $1 after $((($(date +%s%N) - $2) / 1000000000)) s;" \
			"CPU s: gateway $(cpu_s "$GW_PID"), generator $(cpu_s "$LG_PID")," \
			"system+irq $(($(busy_s) - _busy0))" >&4
	if [ -n "${TUNNELS_PERF:-}" ] && [ "$got" -ge "$TUNNELS_PERF" ] && [ -z "${_perf:-}" ]; then
		_perf=1
		profile "$got" &
	fi
	[ "$got" -ge "$1" ]
}

# profile N: with tunnels_perf=N, where the CPU goes for 20 s once N are up
profile() {
	if ! command -v perf >/dev/null; then
		echo "# bench: tunnels: no profile: perf is not installed" >&4
		return
	fi
	perf record -q -a -g -o "$_tmp/perf.data" -- sleep 20 >/dev/null 2>&1
	{
		echo "# bench: tunnels: the profile from $1 up, 20 s, by process:"
		perf report -q -i "$_tmp/perf.data" --stdio --no-children --sort comm,dso \
			-g none --percent-limit 1 2>/dev/null | head -n 20 | sed 's/^/#   /'
		echo "# bench: tunnels: the helpers' own, with their callers:"
		perf report -q -i "$_tmp/perf.data" --stdio --no-children --comms esptcp \
			--sort dso,sym -g caller,0.5,callee,function,percent --percent-limit 1.5 \
			2>/dev/null | grep -v '^$' | head -n 150 | sed 's/^/#   /'
	} >&4
}

# run N: one row
run() {
	local n=$1 k0 k1 g0 t0 ms got up gw lg
	topo_up >/dev/null
	n2 ip addr replace "$IN2/32" dev lo >/dev/null
	cat >"$_tmp/gw.conf" <<-EOC
	[global]
	half-open-per-source = $n
	half-open-max = $n
	cookie-threshold = $n
	[conn dialup]
	role = responder
	local = $IP2
	local-id = @gw.example
	remote-id = *@example.org
	psk = "$PSK"
	local-ts = $IN2/32
	pool = 10.64.0.0/16
	EOC
	cat >"$_tmp/lg.conf" <<-EOC
	[conn lg]
	role = initiator
	transport = tcp
	local = $IP1
	remote = $IP2
	local-id = c%u@example.org
	remote-id = @gw.example
	psk = "$PSK"
	vip = yes
	remote-ts = $IN2/32
	instances = $n
	install = no
	EOC
	ip netns exec $NS2 "$ESPTCP" ike "$_tmp/gw.conf" >"$_tmp/gw.out" 2>&1 &
	GW_PID=$!
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/gw.out"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	k0=$(kmem_kb)
	g0=$(rss_kb "$GW_PID")
	_busy0=$(busy_s)
	t0=$(date +%s%N)
	ip netns exec $NS1 "$ESPTCP" ike "$_tmp/lg.conf" >"$_tmp/lg.out" 2>&1 &
	LG_PID=$!
	pids+=($!)
	# about 20 a second under TCG, and a margin
	_tries=0
	wait_for $((n / 2 + 300)) all_up "$n" "$t0" || true
	ms=$((($(date +%s%N) - t0) / 1000000))
	got=$(installed)
	# an install a client made twice (an instance that started over, and
	# instances send no INITIAL_CONTACT) is one tunnel: the distinct
	# clients with a CHILD_SA in the gateway's status file
	kill -USR1 "$GW_PID" "$LG_PID" 2>/dev/null || true
	sleep 3
	# their counters, timer_visits among them: where a helper's time goes
	echo "# bench: tunnels: gateway $(grep 'esptcp: stats' "$_tmp/gw.out" | tail -n 1 |
		grep -oE '(timer_visits|heap_bytes) [0-9]+' | tr '\n' ' ')" >&2
	echo "# bench: tunnels: generator $(grep 'esptcp: stats' "$_tmp/lg.out" | tail -n 1 |
		grep -oE '(timer_visits|heap_bytes) [0-9]+' | tr '\n' ' ')" >&2
	up=$(grep -E '^ike dialup .* children [1-9]' "/run/esptcp/ike-$GW_PID.status" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "peer") { print $(i + 1); break } }' |
		sort -u | wc -l)
	k1=$(kmem_kb)
	gw=$(rss_kb "$GW_PID")
	lg=$(rss_kb "$LG_PID")
	echo "# bench: tunnels: $got of $n in $ms ms ($up clients up at the end); kernel +$((k1 - k0)) kB;" \
		"gateway $gw kB, generator $lg kB resident" >&2
	if [ "$got" -gt "$up" ]; then
		# the lines without their SA's name and SPI, counted
		echo "# more installs than tunnels up: the generator's and the gateway's" \
			"lines other than the usual ones:" >&2
		cat "$_tmp/lg.out" "$_tmp/gw.out" | sed -E 's/^esptcp\[[^]]*\] [0-9a-f]+: //' |
			grep -vE "^(IKE SA established|CHILD_SA installed|esptcp|  )" |
			sed -E 's/0x[0-9a-f]+|[0-9]+/N/g' | sort | uniq -c | sort -rn | head -n 8 |
			sed 's/^/#   /' >&2
	fi
	if [ "$got" -lt "$n" ]; then
		echo "# the gateway's log:" >&2
		tail -n 20 "$_tmp/gw.out" | sed 's/^/#   /' >&2
		echo "# the generator's log:" >&2
		tail -n 10 "$_tmp/lg.out" | sed 's/^/#   /' >&2
	fi
	printf '{"case": "scale", "what": "tunnels", "kernel": "%s", "n": %d, "done": %d, "up": %d, "ms": %d, "kernel_kb": %d, "kernel_b_per_tunnel": %d, "gw_rss_kb": %d, "lg_rss_kb": %d, "gw_b_per_sa": %d}\n' \
		"$KERNEL_NAME" "$n" "$got" "${up:-0}" "$ms" "$((k1 - k0))" "$(((k1 - k0) * 1024 / (got ? got : 1)))" \
		"$gw" "$lg" "$(((gw - g0) * 1024 / (got ? got : 1)))"
	stop_all >/dev/null 2>&1
	topo_down >/dev/null 2>&1 || true
}

esptcp_load
for n in $COUNTS; do
	run "$n"
done
