#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make style: the module's sources must be clean under
#   - checkpatch.pl --strict, taken from Debian's linux-source-6.1 (with its
#     spelling.txt and const_structs.checkpatch), unpacked into
#     $ESPTCP_CACHE/src/ exactly where selftests/qemu/kernel.sh puts it;
#   - sparse (C=2), building a scratch copy of the module under build/style/
#     against the debug kernel's build tree (6.1), and against the headers
#     of Debian 13's kernel (6.12) in the trixie build root with trixie's
#     sparse and gcc-14, so the repository stays clean.  (7.3's Makefile
#     refuses Debian's sparse 0.6.4 as too old, so 7.3 is not checked.)
# Every ERROR, WARNING or CHECK, and every warning or error the C=2 build
# reports for the module's own files, fails the run (exit 1).  Ends with one summary line.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${ESPTCP_CACHE:-/var/cache/esptcp}
work=$repo/build/style
log() { printf '[style] %s\n' "$*" >&2; }

cd "$repo"
mkdir -p "$work"

# --- checkpatch from the linux-source package (same layout as kernel.sh) ---
srctar=/usr/src/linux-source-6.1.tar.xz
[ -f "$srctar" ] || { log "$srctar missing: install linux-source-6.1 (make deps)"; exit 1; }
srcver=$(dpkg-query -W -f '${Version}' linux-source-6.1)
src=$cache/src/linux-source-6.1-$srcver
if [ ! -e "$src/.done" ]; then
	log "unpacking linux-source-6.1 $srcver into $src"
	rm -rf "$src" && mkdir -p "$src"
	tar -C "$src" --strip-components=1 -xf "$srctar"
	touch "$src/.done"
fi
checkpatch=$src/scripts/checkpatch.pl

mapfile -t files < <(find espintcp -name '*.[ch]' | sort; echo include/uapi/linux/esptcp.h)
log "checkpatch --strict over ${#files[@]} files"
cp_log=$work/checkpatch.log
# checkpatch exits 1 on findings; the counts below are the verdict
cp_rc=0
# CONST_STRUCT: a ULP's proto_ops tables are copied from the originals at
# run time (as net/tls does), so they cannot be const; every other check on.
perl "$checkpatch" --strict --ignore CONST_STRUCT --no-tree --quiet --no-summary --showfile --color=never \
	--file "${files[@]}" >"$cp_log" 2>&1 || cp_rc=$?
cp_err=$(grep -cE '^[^ ]+:[0-9]+: ERROR:' "$cp_log" || true)
cp_warn=$(grep -cE '^[^ ]+:[0-9]+: WARNING:' "$cp_log" || true)
cp_chk=$(grep -cE '^[^ ]+:[0-9]+: CHECK:' "$cp_log" || true)
if [ $cp_rc -gt 1 ] || { [ $cp_rc -ne 0 ] && [ $((cp_err + cp_warn + cp_chk)) -eq 0 ]; }; then
	# checkpatch itself failed: never call that clean
	cat "$cp_log" >&2
	log "checkpatch did not run (status $cp_rc)"
	exit 1
fi
cat "$cp_log"

# --- sparse (C=2): the debug kernel's build tree, and Debian 13's kernel
# headers in the trixie build root (its sparse, its gcc-14) ---
# shellcheck source=trixie.sh
. "$repo/scripts/trixie.sh"
command -v sparse >/dev/null || { log "sparse missing: run scripts/deps.sh as root"; exit 1; }
sp_n=0
sp_rc=0
# sparse_run NAME: KDIR and BUILDROOT (empty: the host) from kernel.sh
sparse_run() {
	local name=$1 mod=$work/mod-$1 inroot dir rc=0 lines n
	dir=$mod
	rm -rf "$mod" && mkdir -p "$mod"
	rsync -a --exclude '*.o' --exclude '*.ko' --exclude '*.cmd' --exclude '*.mod*' \
		espintcp include "$mod/"
	cp Kbuild "$mod/Kbuild"
	log "sparse (C=2) against $KDIR${BUILDROOT:+ in $BUILDROOT}"
	local sp_log=$work/sparse-$name.log
	if [ -n "${BUILDROOT:-}" ]; then
		trixie_install "$BUILDROOT" sparse || return 1
		# a folder of this run's own: runs may share the root
		mkdir -p "$BUILDROOT/build"
		inroot=$(mktemp -d "$BUILDROOT/build/style-$name.XXXXXX") || return 1
		inroot=${inroot#"$BUILDROOT"}
		rsync -a "$mod/" "$BUILDROOT$inroot/"
		dir=$inroot
		trixie_chroot "$BUILDROOT" make -C "$KDIR" M="$dir" C=2 CHECK=sparse modules \
			>"$sp_log" 2>&1 || rc=$?
		rm -rf "${BUILDROOT:?}$inroot"
	else
		make -C "$KDIR" M="$dir" C=2 CHECK=sparse modules >"$sp_log" 2>&1 || rc=$?
	fi
	# only the module's own files count (a finding's continuation lines,
	# e.g. sparse's "expected/got", carry the same file:line prefix and
	# are shown too); paths are shown relative to the repo
	lines=$(grep -E "^($dir/)?(espintcp/[^:]+|include/uapi/linux/esptcp\.h):[0-9]+(:[0-9]+)?: " "$sp_log" |
		sed "s|^$dir/||" || true)
	if [ -n "$lines" ]; then
		printf '%s\n' "$lines" | sed "s|^|$name: |"
		n=$(printf '%s\n' "$lines" | grep -cE '^[^ ]+:[0-9]+(:[0-9]+)?: (warning|error):' || true)
		sp_n=$((sp_n + n))
	fi
	if [ $rc -ne 0 ]; then
		sed "s|$dir/||g" "$sp_log" | tail -n 30 >&2
		log "the C=2 module build against $KDIR failed (status $rc)"
		sp_rc=$rc
	fi
	# the kernel's Makefile turns C=2 off, with a warning, when it finds
	# sparse too old (7.3's asks for __typeof_unqual__, which Debian's
	# sparse 0.6.4 lacks): a build that checked nothing is no pass
	n=$(grep -cE '^  CHECK +.*espintcp/' "$sp_log" || true)
	if grep -q 'is not available or not up to date' "$sp_log" || [ "$n" -eq 0 ]; then
		log "sparse checked nothing against $KDIR: $(grep -m1 'C=2' "$sp_log" || echo 'no CHECK lines')"
		sp_rc=1
	fi
	return 0
}
# each kernel's assignments replace the last one's, and a failed
# resolution stops the run rather than checking the previous kernel again
unset KDIR BUILDROOT
kout=$("$repo/selftests/qemu/kernel.sh" debug) || { log "cannot resolve the debug kernel"; exit 1; }
eval "$kout"
sparse_run debug
unset KDIR BUILDROOT
kout=$("$repo/selftests/qemu/kernel.sh" trixie) || { log "cannot resolve trixie's kernel"; exit 1; }
eval "$kout"
[ -n "${BUILDROOT:-}" ] || { log "trixie's kernel came without its build root"; exit 1; }
sparse_run trixie || sp_rc=1

total=$((cp_err + cp_warn + cp_chk + sp_n))
verdict=clean
[ $total -eq 0 ] && [ $sp_rc -eq 0 ] || verdict=FAILED
echo "style: $verdict: checkpatch $cp_err errors, $cp_warn warnings, $cp_chk checks;" \
	"sparse $sp_n findings on 6.1 and on Debian 13's 6.12 (logs in build/style/)"
[ "$verdict" = clean ]
