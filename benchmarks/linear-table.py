#!/usr/bin/env python3
"""Turns JMH JSON results of LinearLossBenchmark into the Markdown tables of RESULTS.md (fused linear section).

Usage: python3 benchmarks/linear-table.py benchmarks/results/jmh-linear*.json
Time per call is JMH's average (ms/op, +- its 99.9 % error); heap B/op is -prof gc's gc.alloc.rate.norm.
Ratios are of averages from the same run.
"""
import json
import sys

ORDER = ["fusedForward", "floorForward", "materialisedForward", "naiveForward",
         "fusedForwardGradient", "floorForwardGradient", "materialisedForwardGradient", "naiveForwardGradient"]
RATIOS = [  # (label, numerator, denominator, plw of numerator, plw of denominator, target)
    ("fused fwd+grad / floor fwd+grad", "fusedForwardGradient", "floorForwardGradient", "0.1", "0.1", "<= 1.10"),
    ("fused fwd / floor fwd", "fusedForward", "floorForward", "0.1", "0.1", "<= 1.10"),
    ("fused fwd+grad PLW 0.1 (= PLW 1 work) / PLW 0 skipped", "fusedForwardGradient", "fusedForwardGradient",
     "0.1", "0", ">= 20"),
    ("fused fwd PLW 0.1 / PLW 0 skipped", "fusedForward", "fusedForward", "0.1", "0", ""),
    ("materialised fwd+grad / fused fwd+grad", "materialisedForwardGradient", "fusedForwardGradient", "0.1", "0.1",
     ""),
    ("naive fwd+grad / fused fwd+grad", "naiveForwardGradient", "fusedForwardGradient", "0.1", "0.1", ""),
    ("naive fwd / fused fwd", "naiveForward", "fusedForward", "0.1", "0.1", ""),
]


def main(paths):
    rows = {}
    shapes = []
    for p in paths:
        for r in json.load(open(p)):
            name = r["benchmark"].rsplit(".", 1)[1]
            shape = r["params"]["shape"]
            plw = r["params"]["plw"]
            if shape not in shapes:
                shapes.append(shape)
            pm = r["primaryMetric"]
            heap = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", r.get("secondaryMetrics", {}).get("\u00b7gc.alloc.rate.norm", {})).get("score")
            rows[(shape, plw, name)] = (pm["score"], pm["scoreError"], heap)
    for shape in shapes:
        print(f"\n(B*N, H, V) = ({shape.replace('x', ', ')})\n")
        print("| method | PLW | ms/op | heap MB/op |")
        print("| --- | --- | ---: | ---: |")
        for plw in ("0.1", "0"):
            for name in ORDER:
                v = rows.get((shape, plw, name))
                if v:
                    heap = "" if v[2] is None else f"{v[2] / 1e6:.2f}"
                    err = float(v[1]) if isinstance(v[1], (int, float)) and v[1] == v[1] else 0.0
                    print(f"| {name} | {plw} | {v[0]:.1f} ± {err:.1f} | {heap} |")
    print("\n| ratio | target | " + " | ".join(f"({s.replace('x', ', ')})" for s in shapes) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in shapes) + " |")
    for label, num, den, pn, pd, target in RATIOS:
        cells = []
        for shape in shapes:
            a = rows.get((shape, pn, num))
            b = rows.get((shape, pd, den))
            cells.append(f"{a[0] / b[0]:.2f}" if a and b else "")
        print(f"| {label} | {target} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
