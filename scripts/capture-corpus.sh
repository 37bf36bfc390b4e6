#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Refresh the IKE parser's fuzzing corpus (userspace/fuzz/corpus) from real
# messages: the interop suites run with ESPTCP_CAPTURE, so the helper writes
# every message it accepts from strongSwan, libreswan and itself, decrypted
# (esptcp(8), ENVIRONMENT).  Keeps the smallest distinct few of each
# exchange and direction.
#
#   scripts/capture-corpus.sh [KERNEL]     (default stock; about 15 min)
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=${1:-stock}
per_kind=${CORPUS_PER_KIND:-12}
out=build/run/$kernel-check/capture
ESPTCP_CAPTURE=1 TESTS="ike strongswan libreswan" make check KERNEL="$kernel" || true
[ -d "$out" ] && [ -n "$(ls -A "$out")" ] || { echo "nothing captured in $out" >&2; exit 1; }
dst=userspace/fuzz/corpus
mkdir -p "$dst"
rm -f "$dst"/*
# files are PID-N-xEXCHANGE-q|r: keep the per_kind smallest distinct ones
# of each exchange and direction
for kind in $(ls "$out" | sed 's/^[0-9]*-[0-9]*-//' | sort -u); do
	n=0
	for f in $(ls -S -r "$out"/*-"$kind"); do
		sum=$(sha1sum "$f" | cut -c1-16)
		[ ! -e "$dst/$kind-$sum" ] || continue
		cp "$f" "$dst/$kind-$sum"
		n=$((n + 1))
		[ $n -lt "$per_kind" ] || break
	done
done
echo "corpus: $(ls "$dst" | wc -l) messages in $dst"
ls "$dst" | sed 's/-[0-9a-f]*$//' | sort | uniq -c
