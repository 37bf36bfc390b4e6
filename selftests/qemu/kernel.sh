#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Resolve a test kernel and print the shell assignments the harness needs:
#   KVER=...  BZIMAGE=...  KDIR=...  MODDIR=...  FLAVOUR=...  [BUILDROOT=...]
# BUILDROOT, when set, is the build root the module must be built in (KDIR is
# then a path inside it): trixie's headers need trixie's gcc-14.
#
#   kernel.sh stock        Debian 12's linux-image-amd64 (6.1)
#   kernel.sh stock-6.12   the newest linux-image-6.12.*-amd64-unsigned in the archive
#   kernel.sh trixie       Debian 13's linux-image-amd64 (6.12, with security updates)
#   kernel.sh trixie-backports
#                          the linux-image-amd64 of trixie-backports (the newest
#                          kernel Debian 13 offers; 7.3 today)
#   kernel.sh debug        built from linux-source-6.1: base.config + debug.config
#   kernel.sh reference    built from the newest linux-source of trixie-backports
#                          (7.3 today) in the trixie build root, with its gcc-14:
#                          base.config + reference.config
#   kernel.sh reference-6.1
#                          built from linux-source-6.1: base.config +
#                          reference-6.1.config
#
# Everything lands in $ESPTCP_CACHE (default /var/cache/esptcp), outside the
# git tree, so a warm machine starts fast and a fresh clone stays clean.
# Progress goes to stderr; only the assignments go to stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/trixie.sh
. "$here/../../scripts/trixie.sh"
cache=${ESPTCP_CACHE:-/var/cache/esptcp}
flavour=${1:-stock}
log() { printf '[kernel] %s\n' "$*" >&2; }

# Debian ships the headers Makefile with absolute includes of the -common
# package; point them at our unpacked copy instead.
fix_headers() {
	local root=$1 f
	for f in "$root"/usr/src/linux-headers-*/Makefile; do
		sed -i "s|/usr/src/|$root/usr/src/|g" "$f"
	done
	# kbuild symlinks into /usr/lib/linux-kbuild-*: make them relative to root
	find "$root/usr/src" -maxdepth 2 -type l | while read -r l; do
		local t
		t=$(readlink "$l")
		case $t in
		/*) ln -sfn "$root$t" "$l" ;;
		esac
	done
}

# Unpack image + headers (+ their -common and kbuild deps) of one ABI; with
# no headers named, the image only.
stock_fetch() {
	local img=$1 hdr=$2 dir=$3
	[ -e "$dir/.done" ] && return 0
	log "fetching $img $hdr"
	rm -rf "$dir" && mkdir -p "$dir/debs"
	# root downloads (no world-writable folder for _apt): dpkg -x unpacks
	# what lands here, as root
	chmod 0700 "$dir/debs"
	if [ -n "$hdr" ]; then
		local deps
		deps=$(apt-cache depends "$hdr" | awk '/Depends: linux-(headers|kbuild)/ {print $2}')
		(cd "$dir/debs" && apt-get -o APT::Sandbox::User=root download -q "$img" "$hdr" $deps >&2)
	else
		# 7.x splits the image: linux-base-, linux-binary-, linux-modules-ABI
		local abi=${img#linux-image-} parts
		parts=$(trixie_apt_cache depends "$img" |
			awk -v abi="$abi" '/Depends: linux-(base|binary|modules)-/ && index($2, abi) {print $2}')
		(cd "$dir/debs" && trixie_apt -o APT::Sandbox::User=root download -q "$img" $parts >&2)
	fi
	for d in "$dir"/debs/*.deb; do
		dpkg -x "$d" "$dir/root"
	done
	[ -z "$hdr" ] || fix_headers "$dir/root"
	# 7.x packages are merged-/usr only: modules and vmlinuz in /usr/lib/modules
	if [ ! -e "$dir/root/lib" ] && [ -d "$dir/root/usr/lib/modules" ]; then
		ln -s usr/lib "$dir/root/lib"
	fi
	local kver
	kver=$(ls "$dir/root/lib/modules")
	depmod -b "$dir/root" "$kver"
	rm -rf "$dir/debs"
	touch "$dir/.done"
}

stock() {
	local img hdr abi
	if [ "$flavour" = stock ]; then
		# the ABI the linux-image-amd64 metapackage points at today
		img=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		abi=${img#linux-image-}
		hdr=linux-headers-$abi
	else
		img=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb[0-9]+-amd64-unsigned$' |
			awk '{print $1}' | sort -V | tail -n 1)
		abi=${img#linux-image-}
		abi=${abi%-unsigned}
		hdr=linux-headers-$abi
	fi
	[ -n "$img" ] || { log "cannot resolve the $flavour kernel package (apt-get update?)"; exit 1; }
	local dir=$cache/stock/$abi
	stock_fetch "$img" "$hdr" "$dir"
	local kver
	kver=$(ls "$dir/root/lib/modules")
	echo "FLAVOUR=$flavour"
	echo "KVER=$kver"
	echo "BZIMAGE=$dir/root/boot/vmlinuz-$kver"
	echo "KDIR=$dir/root/usr/src/linux-headers-$kver"
	echo "MODDIR=$dir/root/lib/modules/$kver"
}

# Debian 13: the image is unpacked as for stock; the headers go into the
# trixie build root, whose gcc-14 they need.
trixie() {
	local meta ver img abi
	# once here, not in each $(...) below: the lists are then fresh for all
	trixie_apt_update
	if [ "$flavour" = trixie ]; then
		ver=$(trixie_apt_cache madison linux-image-amd64 | awk -F' [|] ' '$3 !~ /backports/ {print $2; exit}')
	else
		ver=$(trixie_apt_cache madison linux-image-amd64 | awk -F' [|] ' '$3 ~ /backports/ {print $2; exit}')
	fi
	[ -n "$ver" ] || { log "cannot resolve the $flavour kernel package"; exit 1; }
	meta="linux-image-amd64=$ver"
	img=$(trixie_apt_cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$img" ] || { log "cannot resolve what $meta depends on"; exit 1; }
	abi=${img#linux-image-}
	local dir=$cache/stock/$abi root
	stock_fetch "$img" "" "$dir"
	root=$(trixie_root)
	trixie_headers "$root" "$abi"
	local kver
	kver=$(ls "$dir/root/lib/modules")
	local bz=$dir/root/boot/vmlinuz-$kver
	[ -f "$bz" ] || bz=$dir/root/lib/modules/$kver/vmlinuz
	echo "FLAVOUR=$flavour"
	echo "KVER=$kver"
	echo "BZIMAGE=$bz"
	echo "KDIR=/usr/src/linux-headers-$kver"
	echo "MODDIR=$dir/root/lib/modules/$kver"
	echo "BUILDROOT=$root"
}

# Configure and build a kernel: kbuild SRC OUT FRAGMENTS... [-- RUN...]
# RUN is the command prefix to run make with (empty on the host; the trixie
# chroot for a kernel of trixie's); SRC and OUT are paths as RUN sees them,
# HOSTOUT is OUT as the host sees it.
kbuild() {
	local src=$1 out=$2 hostout=$3
	shift 3
	local -a frags=() run=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do frags+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	run=("$@")
	local t0=$SECONDS
	log "building the $flavour kernel in $hostout (cold build: expect 15-30 min on 2 cores)"
	rm -rf "$hostout" && mkdir -p "$hostout"
	cat "${frags[@]}" >"$hostout/fragments.config"
	"${run[@]}" make -s -C "$src" O="$out" defconfig >&2
	"${run[@]}" make -s -C "$src" O="$out" kvm_guest.config >&2
	"${run[@]}" env KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "$out/fragments.config" >/dev/null
	"${run[@]}" make -s -C "$src" O="$out" olddefconfig >&2
	# every option the fragments ask for must have survived olddefconfig:
	# =y/=m set as asked, =n not on (absent is fine: a name this kernel
	# does not have).  Else the kernel would not be the one the suite and
	# the bench describe: stop before a long build.
	local miss
	miss=$(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$hostout/fragments.config" | while read -r l; do
		grep -qx "$l" "$hostout/.config" || echo "$l"; done
		grep -E '^CONFIG_[A-Z0-9_]+=n$' "$hostout/fragments.config" | while read -r l; do
		! grep -qE "^${l%=n}=[ym]$" "$hostout/.config" || echo "$l"; done)
	if [ -n "$miss" ]; then
		log "options not honoured by olddefconfig: $(echo $miss)"
		exit 1
	fi
	# progress: one line per 500 objects built, so CI logs show it moving
	"${run[@]}" make -C "$src" O="$out" -j"$(nproc)" bzImage modules 2>&1 |
		awk '/^  CC|^  LD|^  AR/ {n++; if (n % 500 == 0) printf "[kernel] %d objects\n", n > "/dev/stderr"}
		     /error:|Error [0-9]/ {print > "/dev/stderr"}'
	[ -f "$hostout/arch/x86/boot/bzImage" ] || { log "kernel build failed"; exit 1; }
	"${run[@]}" make -s -C "$src" O="$out" INSTALL_MOD_PATH="$out/modroot" modules_install >&2
	echo $((SECONDS - t0)) >"$hostout/build-seconds"
	log "$flavour kernel built in $((SECONDS - t0)) s"
	touch "$hostout/.done"
}

# unpack TARBALL (as the host sees it) into DIR once
unpack_source() {
	local tarball=$1 dir=$2 what=$3
	[ -e "$dir/.done" ] && return 0
	log "unpacking $what"
	rm -rf "$dir" && mkdir -p "$dir"
	tar -C "$dir" --strip-components=1 -xf "$tarball"
	touch "$dir/.done"
}

# the debug kernel and the 6.1 reference: bookworm's linux-source-6.1 and
# gcc-12, on the host
built() {
	local srcver srctar=/usr/src/linux-source-6.1.tar.xz
	[ -f "$srctar" ] || { log "$srctar missing: install linux-source-6.1"; exit 1; }
	srcver=$(dpkg-query -W -f '${Version}' linux-source-6.1)
	local src=$cache/src/linux-source-6.1-$srcver
	unpack_source "$srctar" "$src" "linux-source-6.1 $srcver"
	local frags=("$here/base.config" "$here/$flavour.config")
	local key
	key=$( (echo "$srcver"; cat "${frags[@]}") | sha256sum | cut -c1-16)
	local out=$cache/kbuild/$flavour-$key
	if [ ! -e "$out/.done" ]; then
		# the build has a lock of its own: the other kernels' fetches go
		# on meanwhile (CI builds this one in the background, .ci/run)
		mkdir -p "$cache/kbuild"
		exec 7>"$out.lock"
		flock -u 8
		if ! flock -n 7; then
			log "waiting for the $flavour kernel being built in $out"
			flock 7
		fi
		[ -e "$out/.done" ] || kbuild "$src" "$out" "$out" "${frags[@]}"
	fi
	local kver
	kver=$(cat "$out/include/config/kernel.release")
	echo "FLAVOUR=$flavour"
	echo "KVER=$kver"
	echo "BZIMAGE=$out/arch/x86/boot/bzImage"
	echo "KDIR=$out"
	echo "MODDIR=$out/modroot/lib/modules/$kver"
}

# The reference kernel: the newest upstream Debian carries for trixie, the
# linux-source of trixie-backports (7.3 today), built in the trixie root
# with its gcc-14.  Source and build live in the root (/build/...), so the
# module is built against it there too; a new root builds it again.
built_trixie() {
	local ver pkg root
	trixie_apt_update
	ver=$(trixie_apt_cache madison linux-source | awk -F' [|] ' '$3 ~ /backports/ {print $2; exit}')
	[ -n "$ver" ] || { log "cannot resolve linux-source in trixie-backports"; exit 1; }
	pkg=$(trixie_apt_cache depends "linux-source=$ver" | awk '/Depends: linux-source-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { log "cannot resolve what linux-source=$ver depends on"; exit 1; }
	root=$(trixie_root)
	trixie_install "$root" "$pkg=$ver" || exit 1
	local tar=/usr/src/$pkg.tar.xz
	local src=/build/src/$pkg-$ver
	unpack_source "$root$tar" "$root$src" "$pkg $ver"
	local frags=("$here/base.config" "$here/$flavour.config")
	local key
	key=$( (echo "$ver"; cat "${frags[@]}") | sha256sum | cut -c1-16)
	local out=/build/kbuild/$flavour-$key
	[ -e "$root$out/.done" ] || kbuild "$src" "$out" "$root$out" "${frags[@]}" -- trixie_chroot "$root"
	local kver
	kver=$(cat "$root$out/include/config/kernel.release")
	echo "FLAVOUR=$flavour"
	echo "KVER=$kver"
	echo "BZIMAGE=$root$out/arch/x86/boot/bzImage"
	echo "KDIR=$out"
	echo "MODDIR=$root$out/modroot/lib/modules/$kver"
	echo "BUILDROOT=$root"
}

# one fetch or build at a time per cache: two runs would share its folders
mkdir -p "$cache"
exec 8>"$cache/.kernel.lock"
if ! flock -n 8; then
	log "waiting for another kernel fetch or build to finish"
	flock 8
fi

case $flavour in
stock | stock-6.12) stock ;;
trixie | trixie-backports) trixie ;;
debug | reference-6.1) built ;;
reference) built_trixie ;;
*) log "unknown KERNEL=$flavour (stock, stock-6.12, trixie, trixie-backports, debug, reference, reference-6.1)"; exit 2 ;;
esac
