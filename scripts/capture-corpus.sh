#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Refresh the IKE parser's fuzzing corpus (userspace/fuzz/corpus) from real
# messages: the interop suites run with ESPTCP_CAPTURE, so the helper writes
# every message it accepts from strongSwan, libreswan and itself, decrypted
# (esptcp(8), ENVIRONMENT), in a directory per suite.  Keeps the smallest
# distinct few of each suite, exchange and direction, so each peer's own
# messages are in: files are SUITE-xEXCHANGE-q|r-HASH.
#
#   scripts/capture-corpus.sh [KERNEL]     (default stock; about 15 min)
#   CAPTURED=build/run/stock-check/capture scripts/capture-corpus.sh
#                                          (messages an earlier run captured)
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=${1:-stock}
per_kind=${CORPUS_PER_KIND:-12}
out=${CAPTURED:-build/run/$kernel-check/capture}
if [ -z "${CAPTURED:-}" ]; then
	rm -rf "$out"
	ESPTCP_CAPTURE=1 TESTS="ike strongswan libreswan" make check KERNEL="$kernel" || true
fi
[ -d "$out" ] && [ -n "$(ls -A "$out")" ] || { echo "nothing captured in $out" >&2; exit 1; }
dst=userspace/fuzz/corpus
mkdir -p "$dst"
rm -f "$dst"/*
for dir in "$out"/*/; do
	suite=$(basename "$dir")
	[ -n "$(ls -A "$dir")" ] || continue
	# captured files are PID-N-xEXCHANGE-q|r
	for kind in $(ls "$dir" | sed 's/^[0-9]*-[0-9]*-//' | sort -u); do
		n=0
		for f in $(ls -S -r "$dir"/*-"$kind"); do
			sum=$(sha1sum "$f" | cut -c1-16)
			[ -z "$(ls "$dst"/*-"$sum" 2>/dev/null)" ] || continue
			cp "$f" "$dst/$suite-$kind-$sum"
			n=$((n + 1))
			[ $n -lt "$per_kind" ] || break
		done
	done
done
echo "corpus: $(ls "$dst" | wc -l) messages in $dst"
ls "$dst" | sed 's/-[0-9a-f]*$//' | sort | uniq -c
