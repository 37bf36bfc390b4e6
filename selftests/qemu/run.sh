#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of the QEMU harness:  run.sh check|demo|bench [KERNEL]
#
# Resolves the kernel, builds the module against it, builds the tool and the
# tests, boots the kernel under TCG with the host's root shared read-only
# over 9p (a tmpfs overlay on top in the guest), and reads the results the
# guest writes to its second serial port.  The run fails if any test failed,
# if the guest never said it was done, or if the console shows a kernel
# splat (BUG, WARNING, KASAN, UBSAN, lockdep, kmemleak).
set -euo pipefail

mode=${1:?usage: run.sh check|demo|bench|fuzz-kernel|soak [KERNEL]}
flavour=${2:-stock}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$repo/build
say() { printf '[%s] %s\n' "$flavour" "$*" >&2; }

t0=$SECONDS
# the kernel first (a cold build of a built flavour takes a while): it has a
# lock of its own, so the VM lock below is not held while it builds
# BUILDROOT comes from kernel.sh alone, never from the caller's environment
unset BUILDROOT
kout=$("$here/kernel.sh" "$flavour") || exit 1
eval "$kout"
say "kernel $KVER"

# one VM at a time on this machine: TCG on 2 cores has nothing to spare
exec 9>"${ESPTCP_LOCK:-/tmp/esptcp-run.lock}"
if ! flock -n 9; then
	say "waiting for another harness run to finish"
	flock 9
fi

# --- module: built in a copy per kernel, so kernels never share objects ---
kmod=$build/kmod/$KVER
mkdir -p "$kmod"
rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '*.cmd' \
	"$repo/espintcp" "$repo/include" "$kmod/"
cp "$repo/Kbuild" "$kmod/Kbuild"
say "building esptcp.ko${BUILDROOT:+ in $BUILDROOT}"
if [ -n "${BUILDROOT:-}" ]; then
	# shellcheck source=../../scripts/trixie.sh
	. "$repo/scripts/trixie.sh"
	inroot=/build/esptcp/$KVER
	mkdir -p "$BUILDROOT$inroot"
	rsync -a --delete "$kmod/" "$BUILDROOT$inroot/"
	trixie_chroot "$BUILDROOT" make -s -C "$KDIR" M="$inroot" modules >"$kmod/build.log" 2>&1 || {
		cat "$kmod/build.log" >&2
		exit 1
	}
	cp "$BUILDROOT$inroot/esptcp.ko" "$kmod/esptcp.ko"
else
	make -s -C "$KDIR" M="$kmod" modules >"$kmod/build.log" 2>&1 || {
		cat "$kmod/build.log" >&2
		exit 1
	}
fi
grep -E 'warning:' "$kmod/build.log" >&2 || true

# --- userspace tool and tests: built on the host, run in the guest ---
say "building the tool and the tests"
make -s -C "$repo/userspace" >&2
# ESPTCP_SANITIZE=1: the suite runs the tool built with ASan and UBSan
sanitize=${ESPTCP_SANITIZE:-}
if [ -n "$sanitize" ]; then
	say "building the tool with ASan and UBSan"
	make -s -C "$repo/userspace" SANITIZE=1 >&2
fi
make -s -C "$repo/selftests" >&2

# --- initramfs: busybox plus the modules needed to reach the 9p root ---
initrd=$build/initramfs/$KVER.cpio.gz
if [ ! -s "$initrd" ] || [ "$here/init" -nt "$initrd" ]; then
	say "building the initramfs"
	ird=$build/initramfs/$KVER.d
	rm -rf "$ird" && mkdir -p "$ird"/{bin,mods,proc,sys,dev,lower,upper,newroot}
	cp /bin/busybox "$ird/bin/busybox"
	cp "$here/init" "$ird/init"
	moddir_root=${MODDIR%/lib/modules/*}
	: >"$ird/mods/order"
	modprobe -a -d "$moddir_root" -S "$KVER" --show-depends \
		virtio_pci 9pnet_virtio 9p overlay 2>/dev/null |
		awk '$1 == "insmod" {print $2}' | while read -r ko; do
			name=$(basename "$ko")
			case $name in
			*.xz) xz -dc "$ko" >"$ird/mods/${name%.xz}"; name=${name%.xz} ;;
			*.zst) zstd -qdc "$ko" >"$ird/mods/${name%.zst}"; name=${name%.zst} ;;
			*) cp "$ko" "$ird/mods/$name" ;;
			esac
			grep -qx "$name" "$ird/mods/order" || echo "$name" >>"$ird/mods/order"
		done
	(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"
fi

# --- the run ---
# how much of the suite this kernel runs (README, "What each kernel runs");
# TIER=full runs all of it anywhere
case $flavour in
stock | reference | reference-6.1) tier=full ;;
trixie-backports) tier=kernel ;;
trixie) tier=smoke ;;
stock-6.12) tier=boot ;;
debug) tier=debug ;;
esac
tier=${TIER:-$tier}
case $tier in
full | kernel | smoke | boot | debug) ;;
*) say "unknown TIER=$tier (full, kernel, smoke, boot, debug)"; exit 2 ;;
esac
out=$build/run/$flavour-$mode
rm -rf "$out" && mkdir -p "$out"
cat >"$out/guest.env" <<EOF
MODE=$mode
FLAVOUR=$flavour
TIER=$tier
KVER=$KVER
MODDIR=$MODDIR
REPO=$repo
OUT=$out
KO=$kmod/esptcp.ko
BENCH_ARGS="${BENCH_ARGS:-}"
FUZZ_BYTES="${FUZZ_BYTES:-}"
FUZZ_FAMILIES="${FUZZ_FAMILIES:-}"
FUZZ_ARGS="${FUZZ_ARGS:-}"
SANITIZE="$sanitize"
CAPTURE="${ESPTCP_CAPTURE:+1}"
SOAK_MINUTES="${SOAK_MINUTES:-}"
TESTS="${TESTS:-}"
CASES="${CASES:-}"
EOF

mem=2G
case $flavour in debug) mem=4G ;; esac
# the kernels built here (KASAN on debug) are booted with 4-level paging:
# -cpu max offers LA57, and 6.1's KASAN faults on 5-level addresses in
# early boot ("wild-memory-access in do_raw_spin_lock", swapper, 0.005 s)
paging=
case $flavour in debug | reference*) paging=no5lvl ;; esac
# a whole check takes up to 40 min on a slow day (stock, full tier, with
# the debug kernel building behind it in CI); the limit is a safety net
limit=3600
case $flavour in debug) limit=3300 ;; esac
# the long runs: 1 GiB through the debug kernel, a soak of SOAK_MINUTES
case $mode in
fuzz-kernel) limit=10800 ;;
soak) limit=$(( (${SOAK_MINUTES:-30} + 20) * 60 )) ;;
esac
limit=${ESPTCP_VM_TIMEOUT:-$limit}
say "booting QEMU (TCG, -smp 2, $mem); console log: $out/console.log"
: >"$out/results.tap"
tail -n +1 -F "$out/results.tap" 2>/dev/null | sed -u 's/\r$//' >&2 &
tailpid=$!
qemu_rc=0
timeout --foreground "$limit" qemu-system-x86_64 \
	-machine q35 -cpu max -smp 2 -m "$mem" \
	-nodefaults -display none -no-reboot \
	-kernel "$BZIMAGE" -initrd "$initrd" \
	-append "console=ttyS0 panic_on_warn=1 panic=-1 oops=panic loglevel=5 $paging esptcp_repo=$repo esptcp_out=$out" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap \
	-serial file:"$out/console.log" -serial file:"$out/results.tap" \
	</dev/null || qemu_rc=$?
sleep 1
kill $tailpid 2>/dev/null || true
[ $qemu_rc -eq 124 ] && say "QEMU timed out after $limit s"

# --- verdict ---
rc=0
"$here/verdict.sh" "$out" "$mode" || rc=$?
if [ "$mode" = bench ]; then
	if [ -s "$out/bench.json" ]; then
		mkdir -p "$build/bench"
		cp "$out/bench.json" "$build/bench/latest.json"
		stamp=$build/bench/$flavour-$(date +%Y%m%dT%H%M%S)
		cp "$out/bench.json" "$stamp.json"
		cp "$out/bench.txt" "$build/bench/latest.txt"
		rm -f "$build/bench/latest.png"
		if python3 "$here/../bench_plot.py" "$out/bench.json" "$build/bench/latest.png" >&2; then
			# a failover-only run has nothing to chart
			[ ! -f "$build/bench/latest.png" ] || cp "$build/bench/latest.png" "$stamp.png"
		else
			say "gnuplot failed: no chart"
			rc=1
		fi
		cat "$out/bench.txt"
		say "wrote $build/bench/latest.json, latest.txt and latest.png"
	else
		say "the benchmark wrote no results"
		rc=1
	fi
fi
# the long runs' reports, kept beside the bench's
case $mode in
fuzz-kernel | soak)
	if [ -s "$out/$mode.json" ]; then
		mkdir -p "$build/$mode"
		cp "$out/$mode.json" "$build/$mode/latest.json"
		cp "$out/$mode.json" "$build/$mode/$flavour-$(date +%Y%m%dT%H%M%S).json"
		say "wrote $build/$mode/latest.json"
	else
		say "the $mode run wrote no report"
		rc=1
	fi
	;;
esac
say "$mode on $flavour took $((SECONDS - t0)) s"
exit $rc
