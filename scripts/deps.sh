#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build, the QEMU harness and the tests need.
# Idempotent: does nothing (and needs no root) when everything is present.
#
# The IKE peers for the interop fixtures (selftests/peers.sh): libreswan is
# installed; strongSwan's charon conflicts with it in apt, so its packages are
# only unpacked (apt-get download + dpkg-deb -x) into
# $ESPTCP_CACHE/strongswan/root, where peers.sh finds them.
set -euo pipefail

cache=${ESPTCP_CACHE:-/var/cache/esptcp}

pkgs=(
	build-essential bc bison flex cpio kmod xz-utils rsync python3
	libelf-dev libssl-dev libmnl-dev dwarves sparse pkg-config
	linux-source-6.1 qemu-system-x86 busybox-static
	iproute2 iperf3 iputils-ping nftables tcpdump procps ipvsadm
	gnuplot-nox linux-perf clang libclang-rt-14-dev
	libreswan libnss3-tools mmdebstrap
	libcap2 libgmp10 libsystemd0 libssl3 libip4tc2
)
# dkms-check builds against the host's stock 6.1 headers, as a user would
[ "${ESPTCP_WITH_DKMS:-0}" = 1 ] && pkgs+=(dkms linux-headers-amd64)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

# strongSwan, unpacked only: charon + swanctl with the plugins for PSK,
# AES-GCM/CBC, SHA1/2, MODP/ECP/curve25519 (standard-plugins: openssl, gcm),
# certificates and EAP-MSCHAPv2 (extauth- and extra-plugins: eap-mschapv2, eap-identity)
swan_pkgs=(strongswan-charon strongswan-swanctl libstrongswan strongswan-libcharon
	libstrongswan-standard-plugins libcharon-extauth-plugins
	libcharon-extra-plugins)
swan=$cache/strongswan
swan_ok() { [ "$(cat "$swan/root/.done" 2>/dev/null)" = "${swan_pkgs[*]}" ]; }
# FreeRADIUS, unpacked too (its package would start a server on this
# host): radiusd, its EAP and MS-CHAP modules, the dictionaries and the
# libraries Debian 12 does not have installed; peers.sh writes its config
rad_pkgs=(freeradius freeradius-common libfreeradius3 libct4 libtalloc2 libwbclient0)
rad=$cache/freeradius
rad_ok() { [ "$(cat "$rad/root/.done" 2>/dev/null)" = "${rad_pkgs[*]}" ]; }

[ ${#missing[@]} -eq 0 ] && swan_ok && rad_ok && exit 0

if [ "$(id -u)" != 0 ]; then
	[ ${#missing[@]} -gt 0 ] && echo "esptcp: missing Debian packages: ${missing[*]}" >&2
	swan_ok || echo "esptcp: strongSwan is not unpacked in $swan" >&2
	rad_ok || echo "esptcp: FreeRADIUS is not unpacked in $rad" >&2
	echo "esptcp: run as root (make deps)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
updated=0
if [ ${#missing[@]} -gt 0 ]; then
	echo "esptcp: installing ${missing[*]}" >&2
	apt-get update -q >&2
	updated=1
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# unpack DIR PKG...: Debian packages downloaded as root and unpacked into DIR/root
unpack() {
	local dir=$1
	shift
	rm -rf "$dir" && mkdir -p "$dir/debs"
	# root downloads: no world-writable folder whose .debs root then unpacks
	chmod 0700 "$dir/debs"
	if ! (cd "$dir/debs" && apt-get -o APT::Sandbox::User=root download -q "$@" >&2) 2>/dev/null; then
		[ $updated = 1 ] || apt-get update -q >&2
		updated=1
		(cd "$dir/debs" && apt-get -o APT::Sandbox::User=root download -q "$@" >&2)
	fi
	for d in "$dir"/debs/*.deb; do
		dpkg-deb -x "$d" "$dir/root"
	done
	rm -rf "$dir/debs"
}

if ! swan_ok; then
	echo "esptcp: unpacking ${swan_pkgs[*]} into $swan/root" >&2
	unpack "$swan" "${swan_pkgs[@]}"
	test -x "$swan/root/usr/lib/ipsec/charon"
	test -x "$swan/root/usr/sbin/swanctl"
	echo "${swan_pkgs[*]}" >"$swan/root/.done"
fi

if ! rad_ok; then
	echo "esptcp: unpacking ${rad_pkgs[*]} into $rad/root" >&2
	unpack "$rad" "${rad_pkgs[@]}"
	test -x "$rad/root/usr/sbin/freeradius"
	test -f "$rad/root/usr/lib/freeradius/rlm_eap_mschapv2.so"
	echo "${rad_pkgs[*]}" >"$rad/root/.done"
fi
