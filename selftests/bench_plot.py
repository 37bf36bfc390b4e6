#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Chart of a benchmark run, with gnuplot:  bench_plot.py BENCH.json OUT.png

One panel per test (throughput, 64-byte UDP packet rate, lossy path), one
group of bars per cipher and stream count, one bar per case with its
min-max range and its median written above it.
"""
import json
import os
import subprocess
import sys
import tempfile

CASES = [("esptcp", "#1f77b4"), ("espintcp", "#d62728"), ("esp-udp", "#2ca02c"),
         ("esp", "#7f7f7f")]
PANELS = [("throughput", "iperf3 TCP throughput (Mbit/s)"),
          ("udp64", "64-byte UDP packets delivered (thousand packets/s)"),
          ("lossy", "TCP throughput on a lossy path (Mbit/s)")]


def main():
    src, png = sys.argv[1:3]
    # rows with runs: the throughput-type tests (the failover row has none)
    rows = [r for r in json.load(open(src)) if "runs" in r]
    if not rows:
        print("bench_plot: no throughput rows to chart", file=sys.stderr)
        return
    kernel = rows[0].get("kver", rows[0].get("kernel", "?"))
    flavour = rows[0].get("kernel", "")
    tmp = tempfile.mkdtemp()
    panels = [(t, title) for t, title in PANELS if any(r.get("test", "throughput") == t
                                                         for r in rows)]
    gp = [f'set terminal pngcairo size 1100,{330 * len(panels) + 60} font "DejaVu Sans,10"',
          f'set output "{png}"',
          f'set multiplot layout {len(panels)},1 title '
          f'"esptcp benchmark: kernel {kernel} ({flavour}), QEMU TCG, medians of '
          f'{len(rows[0]["runs"])} rounds, bars show min-max" font ",12"',
          "set style fill solid 0.85 border -1",
          "set grid ytics lc rgb '#dddddd'",
          "set key outside right top vertical",
          
          "set xtics nomirror scale 0", "set ytics nomirror", "set border 3"]
    for t, title in panels:
        sel = [r for r in rows if r.get("test", "throughput") == t]
        groups = sorted({(r["cipher"], r["streams"]) for r in sel if r["case"] in dict(CASES)},
                        key=lambda g: (g[0] != "null", g[1]))
        cases = [(c, col) for c, col in CASES if any(r["case"] == c for r in sel)]
        n = len(cases) + 1
        tics, plots = [], []
        top = max([r["max"] if "max" in r else r["mbps"] for r in sel
                   if r["case"] in dict(CASES)] or [1])
        for gi, (cipher, streams) in enumerate(groups):
            label = cipher if t != "throughput" else f"{cipher}, {streams} stream" + \
                ("s" if streams > 1 else "")
            tics.append(f'"{label}" {gi * n + (len(cases) - 1) / 2}')
        for ci, (c, col) in enumerate(cases):
            path = os.path.join(tmp, f"{t}-{c}.dat")
            with open(path, "w") as f:
                for gi, g in enumerate(groups):
                    for r in sel:
                        if r["case"] == c and (r["cipher"], r["streams"]) == g:
                            f.write(f'{gi * n + ci} {r["mbps"]} {r.get("min", r["mbps"])} '
                                    f'{r.get("max", r["mbps"])}\n')
            if os.path.getsize(path):
                plots.append(f'"{path}" using 1:2:(0.9) with boxes lc rgb "{col}" title "{c}"')
                plots.append(f'"{path}" using 1:3:(0):($4 - $3) with vectors nohead lc rgb "black" '
                             "notitle")
                plots.append(f'"{path}" using 1:($4 + {top * 0.03}):(sprintf("%.0f", $2)) '
                             'with labels font ",9" notitle')
        # the same bar width in every panel, however few the groups
        span = max(len(groups) * n - 1, 10)
        mid = (len(groups) * n - 2) / 2
        base = [r for r in sel if r["case"] in ("tcp", "udp")]
        note = f" - no IPsec: {base[0]['mbps']:.0f}" if base else ""
        gp += [f'set title "{title}{note}"', f"set xtics ({', '.join(tics)})",
               f"set yrange [0:{top * 1.15}]",
               f"set xrange [{mid - span / 2}:{mid + span / 2}]", "plot " + ", ".join(plots)]
    gp.append("unset multiplot")
    script = os.path.join(tmp, "bench.gp")
    open(script, "w").write("\n".join(gp) + "\n")
    subprocess.run(["gnuplot", script], check=True)


if __name__ == "__main__":
    main()
