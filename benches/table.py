#!/usr/bin/env python3
"""Turns `cargo bench` output into BENCHMARKS.md's table.

Usage: cargo bench --workspace -- --warm-up-time 1 --measurement-time 3 | tee bench.log
       python3 benches/table.py bench.log

Every criterion group whose functions are named `gort` and `tokio` becomes
a row: gort time, tokio time, ratio gort/tokio (lower is better), and the
width of criterion's confidence interval as a noise figure. Groups with
other function names are listed as they are.
"""
import re
import sys

UNITS = {"ps": 1e-12, "ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
LINE = re.compile(r"^(\S+)/(\S+)\s+time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]")


def secs(v, u):
    return float(v) * UNITS[u]


def fmt(t):
    for u, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if t >= f:
            return f"{t / f:.3g} {u}"
    return f"{t / 1e-12:.3g} ps"


def main(path):
    groups = {}
    order = []
    pending = None
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        m = LINE.match(line.strip())
        if not m and pending and "time:" in line:
            m = LINE.match(pending + " " + line.strip())
        if m:
            g, f = m.group(1), m.group(2)
            lo, mid, hi = secs(m.group(3), m.group(4)), secs(m.group(5), m.group(6)), secs(m.group(7), m.group(8))
            if g not in groups:
                groups[g] = {}
                order.append(g)
            groups[g][f] = (lo, mid, hi)
            pending = None
        elif re.match(r"^\S+/\S+$", line.strip()):
            pending = line.strip()
    print("| workload | gort | tokio | gort/tokio | noise (CI width, gort / tokio) |")
    print("|---|---|---|---|---|")
    others = []
    for g in order:
        fs = groups[g]
        if "gort" in fs and "tokio" in fs:
            a, b = fs["gort"], fs["tokio"]
            ratio = a[1] / b[1]
            noise = f"±{100 * (a[2] - a[0]) / 2 / a[1]:.0f}% / ±{100 * (b[2] - b[0]) / 2 / b[1]:.0f}%"
            print(f"| {g} | {fmt(a[1])} | {fmt(b[1])} | {ratio:.2f} | {noise} |")
        else:
            others.append(g)
    if others:
        print()
        print("| workload | function | time |")
        print("|---|---|---|")
        for g in others:
            for f, t in groups[g].items():
                print(f"| {g} | {f} | {fmt(t[1])} |")


if __name__ == "__main__":
    main(sys.argv[1])
