#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make dkms-check: prove that dkms.conf works the way a distribution user
# installs the module.  Copies the source tree to /usr/src/esptcp-VERSION,
# runs `dkms add` and `dkms build -k KVER`, checks that esptcp.ko was built
# for that kernel, and removes everything again (`dkms remove --all`, the
# /usr/src copy, dkms's signing key and the /lib/modules/KVER/build link
# when this script created them: the host may run another kernel).
# Nothing is installed into /lib/modules.
#
# The kernels: the stock Debian 12 6.1 headers installed on this host
# (linux-headers-amd64), then Debian 13's 6.12 and the newest
# trixie-backports kernel, each in the trixie build root (scripts/trixie.sh)
# with trixie's own dkms and gcc-14, as on a Debian 13 machine.
# ESPTCP_DKMS_KVER=KVER checks that one kernel only, with the headers in
# /usr/src/linux-headers-KVER (how the script runs itself in the root).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[dkms] %s\n' "$*" >&2; }
t0=$SECONDS

[ "$(id -u)" = 0 ] || { log "needs root (dkms writes /usr/src and /var/lib/dkms)"; exit 1; }
command -v dkms >/dev/null || { log "dkms missing: ESPTCP_WITH_DKMS=1 scripts/deps.sh"; exit 1; }

if [ -s "$repo/VERSION" ]; then
	version=$(tr -d ' \n' <"$repo/VERSION")
else
	version=$(git -C "$repo" describe --tags --always 2>/dev/null | sed 's/^v//')
fi
[ -n "$version" ] || { log "no VERSION file and no git description"; exit 1; }

# Debian 13's kernels, each in the trixie build root: the script runs itself
# there, on a copy of the tree
if [ -z "${ESPTCP_DKMS_KVER:-}" ] && [ "${ESPTCP_DKMS_HOST_ONLY:-0}" != 1 ]; then
	ESPTCP_DKMS_HOST_ONLY=1 "$0"
	# shellcheck source=trixie.sh
	. "$repo/scripts/trixie.sh"
	for flavour in trixie trixie-backports; do
		(
			eval "$("$repo/selftests/qemu/kernel.sh" "$flavour")"
			inroot=/build/dkms-src
			rm -rf "${BUILDROOT:?}$inroot" && mkdir -p "$BUILDROOT$inroot"
			rsync -a --exclude .git --exclude /build "$repo/" "$BUILDROOT$inroot/"
			log "$flavour: in the trixie build root"
			trixie_chroot "$BUILDROOT" env ESPTCP_DKMS_KVER="$KVER" \
				bash "$inroot/scripts/dkms-check.sh"
			if [ "$flavour" = trixie ]; then
				# a Debian 13 user builds the tool with gcc-14, -Werror included
				trixie_chroot "$BUILDROOT" make -s -C "$inroot/userspace" >&2
				log "the esptcp tool builds with $(trixie_chroot "$BUILDROOT" cc --version | head -n 1)"
			fi
			rm -rf "${BUILDROOT:?}$inroot"
		)
	done
	echo "dkms: ok: host 6.1, trixie and trixie-backports ($((SECONDS - t0)) s)"
	exit 0
fi

if [ -n "${ESPTCP_DKMS_KVER:-}" ]; then
	hdr=/usr/src/linux-headers-$ESPTCP_DKMS_KVER
	[ -d "$hdr" ] || { log "no $hdr"; exit 1; }
else
	# the newest stock 6.1 headers on the host (never a hard-coded ABI)
	hdr=$(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$hdr" ] || { log "no /usr/src/linux-headers-6.1.*-amd64: apt-get install linux-headers-amd64"; exit 1; }
fi
kver=${hdr#/usr/src/linux-headers-}
src=/usr/src/esptcp-$version
made_dir=0
made_link=0
# dkms signs what it builds with a machine key it generates on first use;
# drop that key again if this check is what created it
had_mok=0
[ -e /var/lib/dkms/mok.key ] && had_mok=1

unregister() {
	if dkms status -m esptcp -v "$version" 2>/dev/null | grep -q .; then
		dkms remove "esptcp/$version" --all >/dev/null 2>&1 || true
	fi
	rm -rf "$src"
}

cleanup() {
	unregister
	[ $made_link = 1 ] && rm -f "/lib/modules/$kver/build"
	[ $made_dir = 1 ] && rmdir "/lib/modules/$kver" 2>/dev/null
	[ $had_mok = 1 ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	return 0
}
trap cleanup EXIT

# dkms finds the headers through /lib/modules/KVER/build
if [ ! -e "/lib/modules/$kver/build" ]; then
	[ -d "/lib/modules/$kver" ] || { mkdir -p "/lib/modules/$kver"; made_dir=1; }
	ln -sfn "$hdr" "/lib/modules/$kver/build"
	made_link=1
	log "linked /lib/modules/$kver/build -> $hdr (removed afterwards)"
fi

# leftovers of an interrupted earlier run would make `dkms add` refuse
unregister
log "esptcp $version -> $src"
mkdir -p "$src"
rsync -a --exclude .git --exclude /build --exclude '*.o' --exclude '*.ko' \
	--exclude '*.cmd' --exclude '*.mod' --exclude '*.mod.c' \
	--exclude Module.symvers --exclude modules.order \
	"$repo/" "$src/"
sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$version\"/" "$src/dkms.conf"

log "dkms add"
dkms add "esptcp/$version"
log "dkms build -k $kver"
if ! dkms build "esptcp/$version" -k "$kver"; then
	cat "/var/lib/dkms/esptcp/$version/build/make.log" >&2 2>/dev/null || true
	log "FAILED: dkms build"
	exit 1
fi

ko=/var/lib/dkms/esptcp/$version/$kver/$(uname -m)/module/esptcp.ko
for f in "$ko" "$ko.xz" "$ko.zst"; do
	[ -f "$f" ] && { ko=$f; break; }
done
[ -f "$ko" ] || { log "FAILED: dkms build left no esptcp.ko"; dkms status -m esptcp >&2; exit 1; }
vermagic=$(modinfo -F vermagic "$ko")
case $vermagic in
"$kver "*) ;;
*) log "FAILED: $ko has vermagic '$vermagic', expected $kver"; exit 1 ;;
esac
log "built $(basename "$ko") for $kver: vermagic $vermagic"
dkms status -m esptcp -v "$version" >&2

log "dkms remove esptcp/$version --all"
dkms remove "esptcp/$version" --all
rm -rf "$src"
if dkms status -m esptcp | grep -q . || [ -e "/var/lib/dkms/esptcp/$version" ]; then
	log "FAILED: dkms still lists esptcp"
	exit 1
fi
echo "dkms: ok: esptcp $version built for $kver with dkms and removed ($((SECONDS - t0)) s)"
