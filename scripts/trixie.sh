# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Debian 13 (trixie) from a bookworm host, sourced by the harness and by
# dkms-check:
#   trixie_apt ARGS...        apt-get with a private configuration (its own
#                             sources list, lists and cache under
#                             $ESPTCP_CACHE/apt-trixie); the host's apt
#                             sources are never touched
#   trixie_apt_cache ARGS...  apt-cache with the same configuration
#   trixie_root               prints the trixie build root (gcc-14, make,
#                             dkms...), made with mmdebstrap on first use and
#                             again only when its package list changes
#   trixie_install ROOT PKG[=VER]...
#                             installs packages into ROOT (once)
#   trixie_headers ROOT ABI   installs linux-headers-ABI into ROOT
#   trixie_chroot ROOT CMD... runs CMD in ROOT with /proc mounted
#
# trixie's kernel headers need the compiler the kernel was built with
# (gcc-14), which bookworm does not have: whatever must match such a kernel
# is built in the root; the guest keeps using the host's userland.

trixie_cache=${ESPTCP_CACHE:-/var/cache/esptcp}
trixie_mirror=http://deb.debian.org/debian
trixie_security=http://deb.debian.org/debian-security
# what the root holds: the module's build, dkms and the kernel headers'
# needs, the tool's (libmnl, OpenSSL), which is built there too, and
# rsync for dkms-check
trixie_pkgs=gcc,gcc-14,make,libc6-dev,libelf-dev,libssl-dev,libmnl-dev,pkg-config,bc,bison,flex,kmod,dkms,dwarves,xz-utils,zstd,rsync

trixie_log() { printf '[trixie] %s\n' "$*" >&2; }

trixie_sources() {
	local kr=/usr/share/keyrings/debian-archive-keyring.gpg s
	for s in trixie trixie-updates trixie-backports; do
		echo "deb [signed-by=$kr] $trixie_mirror $s main"
	done
	echo "deb [signed-by=$kr] $trixie_security trixie-security main"
}

trixie_apt_opts() {
	local d=$trixie_cache/apt-trixie
	printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" \
		-o "Dir::Cache=$d/cache" -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
		-o Debug::NoLocking=1
}

# the lists are refreshed once per harness run (ESPTCP_TRIXIE_UPDATED marks it)
trixie_apt_update() {
	local d=$trixie_cache/apt-trixie
	[ "${ESPTCP_TRIXIE_UPDATED:-}" = 1 ] && return 0
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	[ -e "$d/status" ] || : >"$d/status"
	trixie_sources >"$d/sources.list"
	local -a o
	mapfile -t o < <(trixie_apt_opts)
	trixie_log "apt-get update (trixie, trixie-updates, trixie-backports, trixie-security)"
	apt-get "${o[@]}" update -qq >&2 || { trixie_log "apt-get update failed"; return 1; }
	export ESPTCP_TRIXIE_UPDATED=1
}

trixie_apt() {
	local -a o
	trixie_apt_update || return 1
	mapfile -t o < <(trixie_apt_opts)
	apt-get "${o[@]}" "$@"
}

trixie_apt_cache() {
	local -a o
	trixie_apt_update || return 1
	mapfile -t o < <(trixie_apt_opts)
	apt-cache "${o[@]}" "$@"
}

# objtool and dkms read /proc.  Runs may share a root: the mount is counted
# (one per user) and the last one out unmounts it; an interrupted run's
# mount is taken over by the next.
trixie_chroot() {
	local root=$1 rc=0
	shift
	(
		flock 7
		mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
		echo $(($(cat "$root/.proc-users" 2>/dev/null || echo 0) + 1)) >"$root/.proc-users"
	) 7>"$root/.proc-lock"
	chroot "$root" "$@" || rc=$?
	(
		flock 7
		local n
		n=$(($(cat "$root/.proc-users" 2>/dev/null || echo 1) - 1))
		if [ $n -le 0 ]; then
			umount "$root/proc" || umount -l "$root/proc"
			n=0
		fi
		echo $n >"$root/.proc-users"
	) 7>"$root/.proc-lock"
	return $rc
}

trixie_root() {
	local key root tmp
	command -v mmdebstrap >/dev/null || {
		trixie_log "mmdebstrap missing: run make deps"
		return 1
	}
	key=$( (echo "$trixie_pkgs"; trixie_sources) | sha256sum | cut -c1-16)
	root=$trixie_cache/trixie-root/$key
	if [ ! -e "$root/.done" ]; then
		trixie_log "making the trixie build root $root (mmdebstrap, about a minute)"
		tmp=$root.tmp
		rm -rf "$tmp" && mkdir -p "$(dirname "$root")"
		local -a src
		mapfile -t src < <(trixie_sources | sed 's/\[signed-by=[^]]*\] //')
		mmdebstrap --quiet --variant=apt --mode=root --include="$trixie_pkgs" \
			trixie "$tmp" "${src[@]}" >&2 || {
			trixie_log "mmdebstrap failed"
			return 1
		}
		# (called as $(trixie_root): set -e does not reach in here)
		cp /etc/resolv.conf "$tmp/etc/resolv.conf" || return 1
		rm -rf "$root" && mv "$tmp" "$root" && touch "$root/.done" || return 1
		# roots of older package lists are not used any more; never
		# through a /proc a killed run left mounted
		local old
		for old in "$trixie_cache"/trixie-root/*; do
			[ "$old" = "$root" ] && continue
			umount -l "$old/proc" 2>/dev/null || true
			rm -rf --one-file-system "$old"
		done
	fi
	echo "$root"
}

# trixie_install ROOT PKG[=VER]...: installs packages into ROOT, unless each
# is already installed and configured (not only unpacked by a run that
# failed) at the version asked for
trixie_install() {
	local root=$1 p name ver st need=
	shift
	for p in "$@"; do
		name=${p%%=*}
		ver=
		[ "$name" = "$p" ] || ver=${p#*=}
		st=$(chroot "$root" dpkg-query -W -f '${Status} ${Version}' "$name" 2>/dev/null || true)
		if [ -n "$ver" ]; then
			[ "$st" = "install ok installed $ver" ] || need=1
		else
			case $st in "install ok installed "*) ;; *) need=1 ;; esac
		fi
	done
	[ -z "$need" ] && return 0
	trixie_log "installing $* into the build root"
	# one install at a time per root (dpkg's lock would fail the second);
	# the maintainer scripts are chatty: their output is shown on failure only
	(
		flock 6
		trixie_chroot "$root" sh -c "apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $*" \
			>"$root/install.log" 2>&1 || {
			cat "$root/install.log" >&2
			trixie_log "cannot install $* into the build root"
			exit 1
		}
	) 6>"$root/.install-lock"
}

trixie_headers() {
	trixie_install "$1" "linux-headers-$2"
}
