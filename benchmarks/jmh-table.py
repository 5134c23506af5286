#!/usr/bin/env python3
"""Turns JMH JSON results of LossBenchmark/ReferenceKernelBenchmark into the Markdown tables of RESULTS.md.

Usage: python3 benchmarks/jmh-table.py benchmarks/results/jmh-*.json
Time per call is JMH's average (ms/op, +- its 99.9 % error); tokens/s = B*N / time; GB/s = bytes of the
logits / time (1 GB = 1e9 B); heap B/op is -prof gc's gc.alloc.rate.norm.
"""
import json
import sys

ORDER = ["streamRead", "fusedForward", "fusedForwardGradient", "fusedForwardGradientReused",
         "fusedForwardGradientWorkspace", "fusedForwardGradientInPlace",
         "referenceForward", "referenceForwardGradient", "naiveForward", "naiveForwardGradient",
         "naiveForwardWorkspace", "naiveForwardGradientWorkspace", "nd4jSparseSoftmaxCE",
         "dl4jMcxentForward", "dl4jMcxentForwardGradient"]
RATIOS = [  # (label, numerator, denominator, target)
    ("naive forward / fused forward", "naiveForward", "fusedForward", ">= 20"),
    ("naive forward (workspace) / fused forward", "naiveForwardWorkspace", "fusedForward", ""),
    ("fused forward / streaming read", "fusedForward", "streamRead", "<= 2.5"),
    ("naive fwd+grad / fused fwd+grad", "naiveForwardGradient", "fusedForwardGradient", ">= 10"),
    ("naive fwd+grad / fused fwd+grad into a reused array", "naiveForwardGradient", "fusedForwardGradientReused",
     ""),
    ("naive fwd+grad / fused fwd+grad in a workspace", "naiveForwardGradient", "fusedForwardGradientWorkspace", ""),
    ("naive fwd+grad / fused fwd+grad in place", "naiveForwardGradient", "fusedForwardGradientInPlace", ""),
    ("naive fwd+grad (workspace) / fused fwd+grad (workspace)", "naiveForwardGradientWorkspace",
     "fusedForwardGradientWorkspace", ""),
    ("naive fwd+grad (workspace) / fused fwd+grad into a reused array", "naiveForwardGradientWorkspace",
     "fusedForwardGradientReused", ""),
    ("ND4J sparse softmax CE / fused forward", "nd4jSparseSoftmaxCE", "fusedForward", ""),
    ("DL4J LossMCXENT forward / fused forward", "dl4jMcxentForward", "fusedForward", ""),
    ("DL4J LossMCXENT fwd+grad / fused fwd+grad", "dl4jMcxentForwardGradient", "fusedForwardGradient", ""),
    ("reference forward / fused forward", "referenceForward", "fusedForward", ""),
]


def main(paths):
    rows = {}
    for p in paths:
        for r in json.load(open(p)):
            name = r["benchmark"].rsplit(".", 1)[1]
            shape, dtype = r["params"]["shape"], r["params"]["dtype"]
            alloc = r.get("secondaryMetrics", {}).get("gc.alloc.rate.norm", {}).get("score")
            rows[(shape, dtype, name)] = (r["primaryMetric"]["score"], r["primaryMetric"]["scoreError"], alloc)
    for shape in sorted({k[0] for k in rows}, key=lambda s: [int(x) for x in s.split("x")]):
        b, n, v = (int(x) for x in shape.split("x"))
        for dtype in ("FLOAT", "BFLOAT16"):
            if not any(k[0] == shape and k[1] == dtype for k in rows):
                continue
            width = 4 if dtype == "FLOAT" else 2
            gbytes = b * n * v * width / 1e9
            print(f"\n#### (B, N, V) = ({b}, {n}, {v}), {dtype}: logits {gbytes * 1000:.0f} MB, {b * n} tokens\n")
            print("| method | ms/call | tokens/s | GB/s of logits | heap B/call |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for m in ORDER:
                if (shape, dtype, m) not in rows:
                    continue
                s, e, a = rows[(shape, dtype, m)]
                err = f" ± {e:.1f}" if e == e else ""
                alloc = f"{a:,.0f}" if a is not None else "n/a"
                print(f"| {m} | {s:,.1f}{err} | {b * n / (s / 1e3):,.0f} | {gbytes / (s / 1e3):.2f} | {alloc} |")
            print("\n| ratio | value | target |")
            print("| --- | ---: | --- |")
            for label, num, den, target in RATIOS:
                if (shape, dtype, num) in rows and (shape, dtype, den) in rows:
                    ratio = rows[(shape, dtype, num)][0] / rows[(shape, dtype, den)][0]
                    print(f"| {label} | {ratio:.1f} | {target} |")


if __name__ == "__main__":
    main(sys.argv[1:])
