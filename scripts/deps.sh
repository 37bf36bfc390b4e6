#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build, the QEMU harness and the tests need.
# Idempotent: does nothing (and needs no root) when everything is present.
set -euo pipefail

pkgs=(
	build-essential bc bison flex cpio kmod xz-utils rsync python3
	libelf-dev libssl-dev libmnl-dev dwarves sparse pkg-config
	linux-source-6.1 qemu-system-x86 busybox-static
	iproute2 iperf3 iputils-ping nftables tcpdump procps
	gnuplot-nox
)
[ "${ESPTCP_WITH_DKMS:-0}" = 1 ] && pkgs+=(dkms)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "esptcp: missing Debian packages: ${missing[*]}" >&2
	echo "esptcp: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "esptcp: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
