# SPDX-License-Identifier: GPL-2.0
# Real IKEv2 peers for interop tests: strongSwan (charon + swanctl, IKE over
# UDP) and libreswan (pluto 4.10, IKE over UDP, and over TCP with upstream
# espintcp).  Sourced after lib.sh, whose topology (n1 / nr / n2) it uses.
# scripts/deps.sh installs libreswan and unpacks strongSwan into
# $ESPTCP_CACHE/strongswan/root (apt will not install both).
#
# Every daemon has a folder DIR of its own (configuration, run folder with
# pid file and control socket, NSS db); DIR is the handle all functions
# take.  Use one under $_tmp: the run folder holds unix sockets, which 9p
# (the guest's $OUT) does not.  Daemon logs go to $PEERS_LOGS/<case>-<DIR
# basename>.log ($OUT/logs/peers/ in the guest, so build/run/*/logs/peers/
# on the host), and each is linked as $_tmp/<DIR basename>.out, so the
# failure trap of t_case tails it.
#
#   (inner_addrs FAM in lib.sh gives n1 and n2 their inner addresses)
#   peers_proposal SET      proposal strings of a named set, for both daemons:
#                           SWAN_IKE SWAN_ESP PLUTO_IKE PLUTO_ESP.  Sets:
#                           gcm-ecp256     aes128gcm16-prfsha256-ecp256 / aes128gcm16
#                           cbc-modp2048   aes256-sha256-modp2048 / aes256-sha256
#                           gcm-x25519     aes128gcm16-prfsha384-x25519 / aes128gcm16
#                           chacha-ecp384  chacha20poly1305-prfsha256-ecp384 / chacha20poly1305
#                           cbc384-modp3072 aes256-sha384-modp3072 / aes256-sha512
#
#   swan_start NS DIR [roadwarrior]
#                           start charon in NS, in a mount namespace of its own
#                           (DIR/run bound on /run: pid file, vici socket);
#                           loads DIR/swanctl.conf when there is one.  With
#                           roadwarrior, charon installs the virtual address
#                           it is given, routes (table 220) for the selectors
#                           it gets, and DNS servers into DIR/resolv.conf
#                           (the resolve plugin), as a client's would
#   swan_conf DIR NAME KEY=VALUE...
#                           write connection NAME (IKE and child both called
#                           NAME) with its PSK; loads it when charon runs.
#                           Keys: local= remote= (outer addresses, required),
#                           lts= rts= (traffic selectors, default the outer
#                           /32: transport-like), lid= rid= (IDs, default the
#                           addresses), psk=, ike= esp= (strongSwan strings,
#                           default the gcm-ecp256 set), mode=tunnel|transport,
#                           encap=yes|no (force UDP encapsulation), start=
#                           none|trap|start (start_action), rekey= (IKE and
#                           child rekey_time, default 0 = never; ike_rekey=
#                           and child_rekey= set one), dpd= (dpd_delay,
#                           default 0 = none), vips= (addresses to ask for),
#                           pools= (pools to give from: swan_pool); auth=pubkey
#                           with cert= key= (ours, PEM) and ca= (the peer's
#                           CA) for certificates instead of the PSK; lauth=
#                           rauth= (one side's auth, e.g. eap-mschapv2),
#                           leap_id= reap_id= (eap_id of a side) and
#                           eap_users="NAME:PASSWORD ..." (EAP secrets)
#   swan_pool DIR NAME ADDRS [DNS]
#                           an address pool for clients (swanctl pools { }),
#                           with DNS servers (comma-separated)
#   swan_load DIR           reload DIR/swanctl.conf (conns/*.conf, secrets/*.conf)
#   swan_initiate DIR NAME [SECS]
#                           swanctl --initiate under timeout (default 40 s)
#   swan_up DIR NAME        true when IKE SA NAME is ESTABLISHED and its child
#                           INSTALLED
#   swanctl_ DIR ARGS...    swanctl against this charon (e.g. --list-sas),
#                           under timeout $PEERS_TIMEOUT (default 20 s)
#   swan_stop DIR           stop charon (SIGTERM, then SIGKILL), flush the
#                           namespace's xfrm states and policies
#
#   pluto_start NS DIR [KEY=VALUE...]
#                           start pluto in NS with its own run folder (ctl
#                           socket), NSS db, secrets and ipsec.conf; the keys
#                           go to "config setup" (e.g. listen-tcp=yes)
#   pluto_conf DIR NAME KEY=VALUE...
#                           write conn NAME and its PSK; adds it when pluto
#                           runs.  Keys as swan_conf (ike= esp= in libreswan
#                           syntax, default the gcm-ecp256 set), plus
#                           tcp=no|yes|fallback (enable-tcp=), tcp_port=
#                           (tcp-remoteport=), auto=add|start|ondemand,
#                           updown= (leftupdown=, default %disabled), lts=
#                           or rts=dynamic (no leftsubnet=/rightsubnet=: a
#                           mode config client's or pool's side),
#                           raw="key=value" lines copied into the conn, and
#                           cert= key= ca= (PEM: an RSA certificate, its key
#                           and the peer's CA, into the NSS db) for
#                           authby=rsasig instead of the PSK
#   pluto_add DIR NAME      addconn NAME again and reread the secrets
#   pluto_initiate DIR NAME [SECS]
#                           whack --initiate under timeout (default 40 s)
#   pluto_up DIR NAME       true when NAME has an established child SA
#   whack_ DIR ARGS...      ipsec whack against this pluto (e.g. --trafficstatus),
#                           under timeout $PEERS_TIMEOUT (default 20 s)
#   pluto_stop DIR          whack --shutdown (then SIGKILL), flush xfrm
#
#   radius_start NS DIR SECRET USER:PASSWORD[:CLASS]...
#                           FreeRADIUS in NS on 127.0.0.1:1812, EAP-MSCHAPv2
#                           for these users (CLASS: the Class attribute of
#                           their Access-Accept); its client is 127.0.0.1
#   radius_stop DIR         stop it
#
#   peers_stop_all          stop every daemon this script started
#   peers_dump [LINES]      the tail of every daemon log of this case and the
#                           xfrm states and policies of its namespace, as TAP
#                           comments (for an EXIT trap on failure)
#   peers_ping n1|n2 [COUNT]
#                           ping through the tunnel (n1: T1 -> T2, n2: T2 -> T1)
#
# The PSK is shared by default ($PEERS_PSK).  Retransmits are bounded (charon:
# 5 tries from 2 s, x1.5; pluto: 500 ms doubling, 40 s in all: the first SA
# install under a debug kernel in TCG takes seconds) so a failing case
# ends in seconds, not minutes.

PEERS_SWAN=${PEERS_SWAN:-${ESPTCP_CACHE:-/var/cache/esptcp}/strongswan/root}
PEERS_LOGS=${PEERS_LOGS:-${OUT:+$OUT/logs/peers}}
PEERS_LOGS=${PEERS_LOGS:-$_tmp/logs}
PEERS_PSK=${PEERS_PSK:-esptcp-interop-psk-0123456789}
PLUTO=${PLUTO:-/usr/libexec/ipsec/pluto}

# _peers_log DIR DAEMON: a fresh log file for DIR, linked from $_tmp
_peers_log() {
	local dir=$1 b log
	b=$(basename "$dir")
	log=$PEERS_LOGS/c${_ncase:-0}-$b.log
	mkdir -p "$PEERS_LOGS"
	: >"$log"
	ln -sfn "$log" "$_tmp/$b.out"
	echo "$log" >"$dir/log"
	echo "$log"
}

peers_proposal() { # peers_proposal SET
	case $1 in
	gcm-ecp256)
		SWAN_IKE=aes128gcm16-prfsha256-ecp256 SWAN_ESP=aes128gcm16
		PLUTO_IKE='aes_gcm128-sha2_256;dh19' PLUTO_ESP=aes_gcm128 ;;
	cbc-modp2048)
		SWAN_IKE=aes256-sha256-modp2048 SWAN_ESP=aes256-sha256
		PLUTO_IKE='aes256-sha2_256;dh14' PLUTO_ESP=aes256-sha2_256 ;;
	gcm-x25519)
		SWAN_IKE=aes128gcm16-prfsha384-x25519 SWAN_ESP=aes128gcm16
		PLUTO_IKE='aes_gcm128-sha2_384;dh31' PLUTO_ESP=aes_gcm128 ;;
	chacha-ecp384)
		SWAN_IKE=chacha20poly1305-prfsha256-ecp384 SWAN_ESP=chacha20poly1305
		PLUTO_IKE='chacha20_poly1305-sha2_256;dh20' PLUTO_ESP=chacha20_poly1305 ;;
	cbc384-modp3072)
		SWAN_IKE=aes256-sha384-modp3072 SWAN_ESP=aes256-sha512
		PLUTO_IKE='aes256-sha2_384;dh15' PLUTO_ESP=aes256-sha2_512 ;;
	*)
		echo "# peers_proposal: unknown set $1" >&2
		return 1 ;;
	esac
}

peers_ping() { # peers_ping n1|n2 COUNT
	local c=${2:-3}
	if [ "$1" = n1 ]; then
		n1 ping -c "$c" -i 0.3 -W 3 -I "$T1" "$T2"
	else
		n2 ping -c "$c" -i 0.3 -W 3 -I "$T2" "$T1"
	fi
}

# _peers_kv KEY=VALUE...: into the associative array KV
_peers_kv() {
	local a
	for a in "$@"; do
		case $a in
		*=*) KV[${a%%=*}]=${a#*=} ;;
		*) echo "# not KEY=VALUE: $a" >&2; return 1 ;;
		esac
	done
}

# _peers_ts TS: a traffic selector with its prefix length (a bare address
# becomes /32 or /128: pluto wants the prefix)
_peers_ts() {
	case $1 in
	*/* | dynamic) echo "$1" ;;
	*:*) echo "$1/128" ;;
	*) echo "$1/32" ;;
	esac
}

_peers_started() { # _peers_started KIND DIR
	echo "$1 $2" >>"$_tmp/peers.list"
}

_peers_flush() { # _peers_flush NS
	ip -n "$1" xfrm policy flush 2>/dev/null || true
	ip -n "$1" xfrm state flush 2>/dev/null || true
}

# _peers_wait_gone PID TRIES: wait for PID to exit, SIGKILL after TRIES*0.2 s
_peers_wait_gone() {
	local pid=$1 i=$2
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i - 1))
		if [ $i -le 0 ]; then
			echo "# pid $pid did not exit: SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
			sleep 0.2
			break
		fi
		sleep 0.2
	done
}

# --- strongSwan ---

# _swan_ns DIR CMD...: CMD in DIR's namespace, with the unpacked strongSwan
# bound on /usr/lib/ipsec (its plugin folder and library runpath are fixed)
# and DIR/run on /run (its pid file and vici socket are fixed)
_swan_ns() {
	local dir=$1
	shift
	ip netns exec "$(cat "$dir/ns")" unshare -m --propagation private \
		env STRONGSWAN_CONF="$dir/strongswan.conf" bash -c '
		set -e
		[ -d /usr/lib/ipsec ] || mkdir -p /usr/lib/ipsec
		mount --bind "$0/usr/lib/ipsec" /usr/lib/ipsec
		mount --bind "$1/run" /run
		shift
		exec "$@"' "$PEERS_SWAN" "$dir" "$@"
}

swanctl_() { # swanctl_ DIR ARGS...: under timeout $PEERS_TIMEOUT (20 s)
	local dir=$1
	shift
	_swan_ns "$dir" timeout "${PEERS_TIMEOUT:-20}" "$PEERS_SWAN/usr/sbin/swanctl" "$@"
}

swan_start() { # swan_start NS DIR [roadwarrior]
	local ns=$1 dir=$2 rw=${3:-} log pid
	local plugins="random nonce aes sha1 sha2 hmac gcm gmp kdf openssl pem pkcs1 pkcs8 x509 pubkey constraints eap-identity eap-mschapv2 kernel-netlink socket-default vici"
	local install=no
	[ "$rw" = roadwarrior ] && plugins="$plugins resolve" install=yes
	if [ ! -x "$PEERS_SWAN/usr/lib/ipsec/charon" ]; then
		echo "# no strongSwan in $PEERS_SWAN (make deps unpacks it)"
		return 1
	fi
	mkdir -p "$dir/run" "$dir/conns" "$dir/secrets" "$dir/pools"
	echo "$ns" >"$dir/ns"
	log=$(_peers_log "$dir")
	# PEERS_SWAN_CHARON: more lines for charon's section (a benchmark's
	# limits); PEERS_SWAN_QUIET=1: only errors in the log
	local lv=2 lv_default=1
	[ "${PEERS_SWAN_QUIET:-0}" = 1 ] && lv=-1 lv_default=-1
	cat >"$dir/strongswan.conf" <<EOF
charon {
	load_modular = no
	load = $plugins
	install_routes = $install
	install_virtual_ip = $install
	${PEERS_SWAN_CHARON:-}
	plugins {
		resolve {
			file = $dir/resolv.conf
		}
	}
	retransmit_tries = 5
	retransmit_timeout = 2.0
	retransmit_base = 1.5
	filelog {
		peers {
			path = $log
			time_format = %T
			default = $lv_default
			ike = $lv
			knl = $lv
			cfg = $lv
			flush_line = yes
			append = yes
		}
	}
	syslog {
		identifier = charon-$(basename "$dir")
	}
}
swanctl {
	load = pem pkcs1 pkcs8 x509 pubkey random nonce openssl
}
EOF
	cat >"$dir/swanctl.conf" <<EOF
connections {
	include conns/*.conf
}
pools {
	include pools/*.conf
}
secrets {
	include secrets/*.conf
}
EOF
	echo "# [$ns] charon ($dir, log $log)"
	_swan_ns "$dir" /usr/lib/ipsec/charon >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	_peers_started swan "$dir"
	if ! wait_for 150 test -S "$dir/run/charon.vici"; then
		tail -n 20 "$log"
		return 1
	fi
	swan_load "$dir"
}

swan_load() { # swan_load DIR: (re)load connections and secrets
	local dir=$1
	swanctl_ "$dir" --load-all --noprompt --file "$dir/swanctl.conf" >>"$(cat "$dir/log")" 2>&1 || {
		tail -n 20 "$(cat "$dir/log")"
		return 1
	}
}

swan_conf() { # swan_conf DIR NAME KEY=VALUE...
	local dir=$1 name=$2 encap
	shift 2
	local -A KV=([psk]=$PEERS_PSK [ike]=aes128gcm16-prfsha256-ecp256 [esp]=aes128gcm16
		[mode]=tunnel [encap]=no [start]=none [rekey]=0 [dpd]=0 [auth]=psk)
	_peers_kv "$@"
	: "${KV[ike_rekey]:=${KV[rekey]}}" "${KV[child_rekey]:=${KV[rekey]}}"
	# short test lifetimes: a hard lifetime of rekey + 10% would expire while
	# a rekey waits its turn (window size 1), so the SAs get a minute more,
	# and no random head start (it defaults to that extra minute)
	local over=0 life=0
	[ "${KV[ike_rekey]}" != 0 ] && over=60s
	[ "${KV[child_rekey]}" != 0 ] && life=$((${KV[child_rekey]%s} + 60))s
	local l=${KV[local]:?swan_conf: local= is required} r=${KV[remote]:?swan_conf: remote= is required}
	local lts rts
	lts=$(_peers_ts "${KV[lts]:-$l}") rts=$(_peers_ts "${KV[rts]:-$r}")
	mkdir -p "$dir/conns" "$dir/secrets"
	cat >"$dir/conns/$name.conf" <<EOF
$name {
	version = 2
	local_addrs = $l
	remote_addrs = $r
	proposals = ${KV[ike]}
	encap = ${KV[encap]}
	rekey_time = ${KV[ike_rekey]}
	over_time = $over
	rand_time = 0
	dpd_delay = ${KV[dpd]}
	${KV[vips]:+vips = ${KV[vips]}}
	${KV[pools]:+pools = ${KV[pools]}}
	local {
		auth = ${KV[lauth]:-${KV[auth]}}
		id = ${KV[lid]:-$l}
		${KV[cert]:+certs = ${KV[cert]}}
		${KV[leap_id]:+eap_id = ${KV[leap_id]}}
	}
	remote {
		auth = ${KV[rauth]:-${KV[auth]}}
		id = ${KV[rid]:-$r}
		${KV[ca]:+cacerts = ${KV[ca]}}
		${KV[reap_id]:+eap_id = ${KV[reap_id]}}
	}
	children {
		$name {
			local_ts = $lts
			remote_ts = $rts
			esp_proposals = ${KV[esp]}
			mode = ${KV[mode]}
			start_action = ${KV[start]}
			rekey_time = ${KV[child_rekey]}
			life_time = $life
			rand_time = 0
			updown =
		}
	}
}
EOF
	: >"$dir/secrets/$name.conf"
	if [ -n "${KV[key]:-}" ]; then
		# swanctl loads keys from private/ beside its swanctl.conf
		mkdir -p "$dir/private"
		cp "${KV[key]}" "$dir/private/$name.pem"
	fi
	local u
	# eap_users="NAME:PASSWORD ...": EAP secrets (a client's, or a gateway's users)
	for u in ${KV[eap_users]:-}; do
		printf 'eap-%s {\n\tid = %s\n\tsecret = "%s"\n}\n' "${u%%:*}" "${u%%:*}" \
			"${u#*:}" >>"$dir/secrets/$name.conf"
	done
	if [ -z "${KV[key]:-}" ] && [ -z "${KV[eap_users]:-}" ]; then
		cat >"$dir/secrets/$name.conf" <<EOF
ike-$name {
	id-1 = ${KV[lid]:-$l}
	id-2 = ${KV[rid]:-$r}
	secret = "${KV[psk]}"
}
EOF
	fi
	echo "# swan_conf $dir $name: ${KV[ike]} / ${KV[esp]}, $lts <-> $rts"
	if [ -S "$dir/run/charon.vici" ]; then
		swan_load "$dir"
	fi
}

swan_pool() { # swan_pool DIR NAME ADDRS [DNS]
	local dir=$1 name=$2
	mkdir -p "$dir/pools"
	cat >"$dir/pools/$name.conf" <<EOF
$name {
	addrs = $3
	${4:+dns = $4}
}
EOF
	echo "# swan_pool $dir $name: $3${4:+, DNS $4}"
	if [ -S "$dir/run/charon.vici" ]; then
		swan_load "$dir"
	fi
}

swan_initiate() { # swan_initiate DIR NAME [SECS]
	local dir=$1 name=$2 t=${3:-40}
	echo "# [$(cat "$dir/ns")] swanctl --initiate --child $name"
	PEERS_TIMEOUT=$t swanctl_ "$dir" --initiate --child "$name" --timeout "$t" \
		>>"$(cat "$dir/log")" 2>&1 || {
		echo "# swanctl --initiate $name failed ($?)"
		return 1
	}
	swan_up "$dir" "$name"
}

swan_up() { # swan_up DIR NAME
	local out
	out=$(swanctl_ "$1" --list-sas --ike "$2" 2>/dev/null) || return 1
	grep -q ESTABLISHED <<<"$out" && grep -q INSTALLED <<<"$out"
}

swan_stop() { # swan_stop DIR
	local dir=$1 pid ns
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	ns=$(cat "$dir/ns")
	kill "$pid" 2>/dev/null || true
	_peers_wait_gone "$pid" 50
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/pid" "$dir/run/charon.pid" "$dir/run/charon.vici"
	_peers_flush "$ns"
}

# --- FreeRADIUS ---

PEERS_RAD=${PEERS_RAD:-${ESPTCP_CACHE:-/var/cache/esptcp}/freeradius/root}

# radius_start NS DIR SECRET USER:PASSWORD[:CLASS]...: FreeRADIUS (unpacked
# by make deps) in NS on 127.0.0.1:1812 for a client at 127.0.0.1 with
# SECRET, EAP-MSCHAPv2 for the users given (a CLASS goes into the
# Access-Accept's Class attribute)
radius_start() {
	local ns=$1 dir=$2 secret=$3 log u
	shift 3
	if [ ! -x "$PEERS_RAD/usr/sbin/freeradius" ]; then
		echo "# no FreeRADIUS in $PEERS_RAD (make deps unpacks it)"
		return 1
	fi
	mkdir -p "$dir"
	echo "$ns" >"$dir/ns"
	log=$(_peers_log "$dir")
	: >"$dir/users"
	for u in "$@"; do
		IFS=: read -r name pw class <<<"$u"
		printf '%s Cleartext-Password := "%s"\n' "$name" "$pw" >>"$dir/users"
		[ -n "$class" ] && printf '\tClass := "%s"\n' "$class" >>"$dir/users"
	done
	cat >"$dir/radiusd.conf" <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = $dir
localstatedir = $dir
sbindir = /usr/sbin
logdir = $dir
raddbdir = $dir
radacctdir = $dir
name = radiusd
confdir = $dir
modconfdir = $dir
run_dir = $dir
db_dir = $dir
libdir = $PEERS_RAD/usr/lib/freeradius
pidfile = $dir/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	auth = yes
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
}
client gw {
	ipaddr = 127.0.0.1
	secret = $secret
	require_message_authenticator = yes
}
modules {
	files {
		filename = $dir/users
	}
	mschap {
	}
	eap {
		default_eap_type = mschapv2
		timer_expire = 60
		max_sessions = 64
		mschapv2 {
		}
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = 1812
	}
	authorize {
		files
		eap {
			ok = return
		}
	}
	authenticate {
		Auth-Type MS-CHAP {
			mschap
		}
		eap
	}
}
EOF
	ip -n "$ns" link set lo up
	echo "# [$ns] freeradius -X ($dir, log $log)"
	LD_LIBRARY_PATH=$PEERS_RAD/usr/lib/x86_64-linux-gnu:$PEERS_RAD/usr/lib/freeradius \
		ip netns exec "$ns" "$PEERS_RAD/usr/sbin/freeradius" -X -d "$dir" \
		-D "$PEERS_RAD/usr/share/freeradius" -n radiusd >>"$log" 2>&1 &
	echo $! >"$dir/pid"
	_peers_started radius "$dir"
	if ! wait_for 150 grep -q "Ready to process requests" "$log"; then
		tail -n 20 "$log"
		return 1
	fi
}

radius_stop() { # radius_stop DIR
	local dir=$1 pid
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null || true
	_peers_wait_gone "$pid" 50
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/pid"
}

# --- libreswan ---

whack_() { # whack_ DIR ARGS...: under timeout $PEERS_TIMEOUT (20 s)
	local dir=$1
	shift
	ip netns exec "$(cat "$dir/ns")" timeout "${PEERS_TIMEOUT:-20}" \
		ipsec whack --ctlsocket "$dir/run/pluto.ctl" "$@"
}

pluto_start() { # pluto_start NS DIR [KEY=VALUE...]
	local ns=$1 dir=$2 log pid a
	shift 2
	mkdir -p "$dir/run" "$dir/nss" "$dir/conns"
	echo "$ns" >"$dir/ns"
	log=$(_peers_log "$dir")
	_pluto_nss "$dir" >>"$log" 2>&1
	{
		echo "config setup"
		echo "	logfile=$log"
		echo "	logappend=yes"
		echo "	logtime=yes"
		echo "	plutodebug=none"
		echo "	ikev1-policy=drop"
		echo "	dumpdir=$dir/run"
		echo "	nssdir=$dir/nss"
		echo "	secretsfile=$dir/ipsec.secrets"
		echo "	ipsecdir=$dir"
		for a in "$@"; do echo "	$a"; done
		echo
		echo "include $dir/conns/*.conf"
	} >"$dir/ipsec.conf"
	touch "$dir/ipsec.secrets"
	# larval (GETSPI) states live net.core.xfrm_acq_expires (30 s); an
	# exchange under a debug kernel in TCG can come close
	ip netns exec "$ns" sysctl -qw net.core.xfrm_acq_expires=120 || true
	echo "# [$ns] pluto ($dir, log $log)"
	ip netns exec "$ns" "$PLUTO" --nofork --config "$dir/ipsec.conf" \
		--rundir "$dir/run" --nssdir "$dir/nss" --secretsfile "$dir/ipsec.secrets" \
		--ipsecdir "$dir" --logfile "$log" >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	_peers_started pluto "$dir"
	if ! wait_for 150 test -S "$dir/run/pluto.ctl"; then
		tail -n 20 "$log"
		return 1
	fi
	# the listen step: pluto answers once it has found its interfaces
	whack_ "$dir" --listen >>"$log" 2>&1
	local c
	for c in "$dir"/conns/*.conf; do
		[ -e "$c" ] && pluto_add "$dir" "$(basename "$c" .conf)"
	done
	return 0
}

pluto_add() { # pluto_add DIR NAME: (re)load conn NAME and the secrets
	local dir=$1 name=$2 log
	log=$(cat "$dir/log")
	ip netns exec "$(cat "$dir/ns")" ipsec addconn --ctlsocket "$dir/run/pluto.ctl" \
		--config "$dir/ipsec.conf" "$name" >>"$log" 2>&1 || {
		echo "# addconn $name failed:"
		tail -n 10 "$log"
		return 1
	}
	whack_ "$dir" --rereadsecrets >>"$log" 2>&1
}

_pluto_nss() { # _pluto_nss DIR: its NSS db, made once
	mkdir -p "$1/nss"
	[ -f "$1/nss/cert9.db" ] || certutil -N -d "sql:$1/nss" --empty-password
}

# _pluto_import DIR NAME CERT KEY CA: a certificate and key as NAME, a CA
# trusted for peers, into DIR's NSS db (a PKCS#12 file on the way)
_pluto_import() {
	local dir=$1 name=$2
	_pluto_nss "$dir"
	openssl pkcs12 -export -in "$3" -inkey "$4" -name "$name" -passout pass: \
		-out "$dir/$name.p12" &&
	pk12util -i "$dir/$name.p12" -d "sql:$dir/nss" -W '' &&
	certutil -A -d "sql:$dir/nss" -n "ca-$name" -t 'CT,,' -a -i "$5"
}

pluto_conf() { # pluto_conf DIR NAME KEY=VALUE...
	local dir=$1 name=$2
	shift 2
	local -A KV=([psk]=$PEERS_PSK [ike]='aes_gcm128-sha2_256;dh19' [esp]=aes_gcm128
		[mode]=tunnel [encap]=no [tcp]=no [tcp_port]=4500 [auto]=add [rekey]=0 [raw]=
		[keyingtries]=1 [retransmit_timeout]=40s [updown]=%disabled)
	_peers_kv "$@"
	local l=${KV[local]:?pluto_conf: local= is required} r=${KV[remote]:?pluto_conf: remote= is required}
	local lid rid rk=no lts rts
	lts=$(_peers_ts "${KV[lts]:-$l}") rts=$(_peers_ts "${KV[rts]:-$r}")
	lid=${KV[lid]:-$l} rid=${KV[rid]:-$r}
	[ "${KV[rekey]}" != 0 ] && rk=yes
	mkdir -p "$dir/conns"
	if [ -n "${KV[cert]:-}" ]; then
		_pluto_import "$dir" "$name" "${KV[cert]}" "${KV[key]}" "${KV[ca]}" \
			>>"$dir/import.log" 2>&1 || {
			tail -n 5 "$dir/import.log"
			return 1
		}
	fi
	{
		echo "conn $name"
		echo "	ikev2=yes"
		if [ -n "${KV[cert]:-}" ]; then
			echo "	authby=rsasig"
			echo "	leftcert=$name"
			echo "	leftsendcert=always"
		else
			echo "	authby=secret"
		fi
		echo "	left=$l"
		echo "	right=$r"
		echo "	leftid=$lid"
		echo "	rightid=$rid"
		# dynamic: a mode config client's own selector is the address
		# it gets, a server's side of the client is the pool's
		[ "$lts" = dynamic ] || echo "	leftsubnet=$lts"
		[ "$rts" = dynamic ] || echo "	rightsubnet=$rts"
		echo "	ike=${KV[ike]}"
		echo "	esp=${KV[esp]}"
		echo "	type=${KV[mode]}"
		echo "	encapsulation=${KV[encap]}"
		echo "	enable-tcp=${KV[tcp]}"
		echo "	tcp-remoteport=${KV[tcp_port]}"
		echo "	auto=${KV[auto]}"
		echo "	rekey=$rk"
		[ "$rk" = yes ] && echo "	salifetime=${KV[rekey]}"
		echo "	leftupdown=${KV[updown]}"
		echo "	retransmit-interval=500"
		echo "	retransmit-timeout=${KV[retransmit_timeout]}"
		echo "	keyingtries=${KV[keyingtries]}"
		echo "	dpddelay=0"
		[ -n "${KV[raw]}" ] && printf '\t%s\n' ${KV[raw]}
	} >"$dir/conns/$name.conf"
	# one PSK line per conn, for its pair of IDs
	grep -vF "# conn $name" "$dir/ipsec.secrets" 2>/dev/null >"$dir/ipsec.secrets.new" || true
	printf '%s %s : PSK "%s" # conn %s\n' "$lid" "$rid" "${KV[psk]}" "$name" >>"$dir/ipsec.secrets.new"
	mv "$dir/ipsec.secrets.new" "$dir/ipsec.secrets"
	echo "# pluto_conf $dir $name: ${KV[ike]} / ${KV[esp]}, tcp=${KV[tcp]}, $lts <-> $rts"
	if [ -S "$dir/run/pluto.ctl" ]; then
		pluto_add "$dir" "$name"
	fi
}

pluto_initiate() { # pluto_initiate DIR NAME [SECS]
	local dir=$1 name=$2 t=${3:-40} rc=0
	echo "# [$(cat "$dir/ns")] whack --initiate --name $name"
	PEERS_TIMEOUT=$t whack_ "$dir" --initiate --name "$name" \
		>>"$(cat "$dir/log")" 2>&1 || rc=$?
	if ! pluto_up "$dir" "$name"; then
		echo "# whack --initiate $name: no SA (whack status $rc)"
		return 1
	fi
}

pluto_up() { # pluto_up DIR NAME
	whack_ "$1" --trafficstatus 2>/dev/null | grep -q "\"$2\""
}

pluto_stop() { # pluto_stop DIR
	local dir=$1 pid ns
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	ns=$(cat "$dir/ns")
	if kill -0 "$pid" 2>/dev/null; then
		PEERS_TIMEOUT=10 whack_ "$dir" --shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	fi
	_peers_wait_gone "$pid" 50
	wait "$pid" 2>/dev/null || true
	rm -f "$dir/pid" "$dir/run/pluto.ctl" "$dir/run/pluto.pid"
	_peers_flush "$ns"
}

# --- both ---

peers_stop_all() {
	local kind dir
	[ -f "$_tmp/peers.list" ] || return 0
	while read -r kind dir; do
		case $kind in
		swan) swan_stop "$dir" ;;
		pluto) pluto_stop "$dir" ;;
		radius) radius_stop "$dir" ;;
		esac
	done <"$_tmp/peers.list"
	rm -f "$_tmp/peers.list"
}

peers_dump() { # peers_dump [LINES]
	local n=${1:-40} kind dir log
	[ -f "$_tmp/peers.list" ] || return 0
	while read -r kind dir; do
		log=$(cat "$dir/log" 2>/dev/null) || continue
		echo "# --- $kind $dir: last $n lines of $log"
		tail -n "$n" "$log" | sed 's/^/#   /'
		echo "# --- xfrm in $(cat "$dir/ns")"
		{ ip -n "$(cat "$dir/ns")" xfrm state; ip -n "$(cat "$dir/ns")" xfrm policy; } 2>&1 |
			grep -vE '^\s+(auth|enc|aead|anti|sel|lifetime|replay)' | sed 's/^/#   /'
	done <"$_tmp/peers.list"
}
