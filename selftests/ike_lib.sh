# SPDX-License-Identifier: GPL-2.0
# Our IKE helper as one side of an interop test (sourced after lib.sh and
# peers.sh; uses inner_addrs' T1 T2 O1 O2).  IDs are the outer addresses
# and the PSK is $PEERS_PSK, as the peer fixtures default to.
#
#   mine NS ROLE TRANSPORT [KEY=VALUE...]   write the conn and start
#                                           `esptcp ike` in NS; log $_tmp/mine.out
#   mine_up [TRIES]                         wait for its CHILD_SA
#   mine_stat NAME                          one of its counters (SIGUSR1)
#   nstates NS                              how many xfrm states NS has
#   mine_dump                               its log, for a failure
#   case_cleanup                            a case's EXIT trap: logs on failure,
#                                           then no daemon, SA or address left

mine() {
	local ns=$1 role=$2 tr=$3 l r lts rts p=32 kv
	shift 3
	if [ "$ns" = "$NS1" ]; then
		l=$O1 r=$O2 lts=$T1 rts=$T2
	else
		l=$O2 r=$O1 lts=$T2 rts=$T1
	fi
	[[ $lts == *:* ]] && p=128
	{
		echo "[conn peer]"
		echo "role = $role"
		echo "transport = $tr"
		echo "local = $l"
		echo "remote = $r"
		echo "psk = \"$PEERS_PSK\""
		# a client asking for a virtual address has no selector of its own
		[[ " $* " == *" vip=yes "* ]] || echo "local-ts = $lts/$p"
		# a gateway's clients take selectors from its pool
		[[ " $* " == *" pool="* ]] || echo "remote-ts = $rts/$p"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$_tmp/mine.conf"
	sed 's/^/#   /' "$_tmp/mine.conf"
	echo "# [$ns] esptcp ike -v mine.conf &"
	ip netns exec "$ns" "$ESPTCP" ike -v "$_tmp/mine.conf" >"$_tmp/mine.out" 2>&1 &
	MINE_PID=$!
	pids+=($!)
	wait_for 50 grep -q "running" "$_tmp/mine.out"
}

mine_up() {
	wait_for "${1:-200}" grep -q "CHILD_SA installed" "$_tmp/mine.out"
	grep -E "established|installed" "$_tmp/mine.out" | sed 's/^/# /'
}

# installed_ge N: our helper has logged N CHILD_SA installations or more
installed_ge() {
	[ "$(grep -c "CHILD_SA installed" "$_tmp/mine.out")" -ge "$1" ]
}

mine_stat() { # mine_stat NAME
	helper_stat "$MINE_PID" "$_tmp/mine.out" "$1"
}

nstates() { # nstates NS: how many xfrm states
	ip -n "$1" xfrm state | grep -c '^src' || true
}

mine_dump() {
	echo "# --- esptcp ike log"
	sed 's/^/#   /' "$_tmp/mine.out" 2>/dev/null | tail -n 40
}

# the EXIT trap of each case: logs on a failure, then nothing left behind
# case_cleanup_with CMD...: as an EXIT trap, CMD (undoing what the case
# changed outside the helpers) and then case_cleanup, with the case's status
case_cleanup_with() {
	local rc=$?
	set +e
	trap - ERR
	# the logs as the failure left them, before the undoing adds to them
	case_dump $rc
	"$@"
	(exit $rc)
	_case_dumped=1 case_cleanup
}

case_dump() { # case_dump RC: the peers' and our logs, when the case failed
	if [ "$1" -ne 0 ] && [ "$1" -ne 4 ]; then
		peers_dump 40
		mine_dump
	fi
}

case_cleanup() {
	local rc=$?
	set +e
	trap - ERR
	[ -n "${_case_dumped:-}" ] || case_dump $rc
	peers_stop_all
	tunnel_down
	exit $rc
}
