#!/usr/bin/env python3
"""PyTorch baseline for cuda/gpu-check.sh: F.cross_entropy(reduction='none') with per-token weights,
forward and forward+backward, on the same inputs as org.plw4j.cuda.GpuCheck's benchmark.

Inputs (identical on the three sides: plw4j_fill.cu, GpuCheck.java, this file):
  logit i of a [rows, V] array (64-bit index, seed s):
    h = lo32(i)*0x45d9f3b + hi32(i)*0x27d4eb2f + s*0x165667b1 (mod 2^32),
    three rounds of h ^= h >> 16; h *= 0x45d9f3b (mod 2^32), then h ^= h >> 16;
    value = (h >> 8) * 2^-20 - 8 in fp32, rounded to nearest even for bf16;
  row r: r % 16 == 0 -> ignored (target -100, weight 0); r % 16 < 6 -> prompt (weight 0.1);
    else completion (weight 1); target = hash32(r, s ^ 0x5bd1e995) mod V.
The hash runs in int64 arithmetic with masks, in NumPy (self-test, CPU) or PyTorch (GPU): every
product stays below 2^63.

Timing: CUDA events around each repetition after two warm-ups, median of --reps. Forward+backward is
  loss = (F.cross_entropy(z, y, reduction='none', ignore_index=-100) * w).sum() / w.sum(); loss.backward()
on logits of the benchmark's dtype (bf16 stays bf16, as a training step would feed it). The weighted
mean loss is also computed on the fp32 upcast of the same logits, the cross-check for plw4j's value.
Two ceilings on the same tensor: a device-to-device copy (dst.copy_(src), bytes read + written) and a
read-only full reduction (torch.amax, bytes read), the reference for the forward kernel, which reads once.

  python3 torch_ce_bench.py --out torch.jsonl [--quick]   (GPU, PyTorch)
  python3 torch_ce_bench.py --selftest                    (CPU, NumPy only: the hash against Java's values)
"""
import argparse
import json
import sys
import time

M32 = 0xFFFFFFFF
PLW = 0.1
SIZES = [(16384, 128256), (8192, 32000)]
QUICK_SIZES = [(512, 128256), (256, 32000)]

# (index, seed, float32 bits of GpuCheck.hashValue(index, seed)), from the Java implementation
JAVA_VALUES = [(0, 42, 1050450272), (1, 42, -1061651064), (2, 42, -1071122964), (12345, 42, -1064506602),
               (4294967295, 42, 1071102272), (4294967296, 42, -1069410768), (4294968296, 42, -1063962086),
               (2101346303, 42, 1083275782)]
# (row, V, seed, GpuCheck.target(row, V, seed))
JAVA_TARGETS = [(0, 128256, 42, -1), (1, 128256, 42, 34726), (5, 128256, 42, 8776), (6, 128256, 42, 105503),
                (17, 128256, 42, 93493), (16383, 128256, 42, 127960)]


def hash32(i, seed):
    """i: int64 array or tensor of non-negative indices; returns int64 values in [0, 2^32)."""
    lo = i & M32
    hi = (i >> 32) & M32
    h = (lo * 0x45D9F3B + hi * 0x27D4EB2F + (seed & M32) * 0x165667B1) & M32
    for _ in range(3):
        h = h ^ (h >> 16)
        h = (h * 0x45D9F3B) & M32
    return h ^ (h >> 16)


def targets_and_weights(rows, vocab, seed, xp):
    """Returns (targets int64 with -100 for ignored rows, weights float32) as NumPy arrays."""
    r = xp.arange(rows, dtype=xp.int64)
    t = hash32(r, (seed ^ 0x5BD1E995) & M32) % vocab
    k = r % 16
    t = xp.where(k == 0, -100, t)
    w = xp.where(k == 0, 0.0, xp.where(k < 6, PLW, 1.0)).astype(xp.float32)
    return t, w


def selftest():
    import numpy as np
    for i, seed, bits in JAVA_VALUES:
        h = hash32(np.array([i], dtype=np.int64), seed)
        v = ((h >> 8).astype(np.float32) * np.float32(2.0 ** -20) - np.float32(8.0)).astype(np.float32)
        got = int(v.view(np.int32)[0])
        if got != bits:
            print(f"selftest: hash value of index {i} is {got}, Java says {bits}", file=sys.stderr)
            return 1
    for row, vocab, seed, want in JAVA_TARGETS:
        t, _ = targets_and_weights(row + 1, vocab, seed, np)
        got = int(t[row])
        if (want < 0 and got != -100) or (want >= 0 and got != want):
            print(f"selftest: target of row {row} is {got}, Java says {want}", file=sys.stderr)
            return 1
    print(json.dumps({"kind": "torch-selftest", "pass": True, "values": len(JAVA_VALUES),
                      "targets": len(JAVA_TARGETS)}))
    return 0


def logits(torch, rows, vocab, seed, dtype, device, chunk_rows=512):
    z = torch.empty((rows, vocab), dtype=dtype, device=device)
    col = torch.arange(vocab, dtype=torch.int64, device=device)
    for r0 in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - r0)
        idx = (torch.arange(r0, r0 + n, dtype=torch.int64, device=device) * vocab)[:, None] + col[None, :]
        h = hash32(idx, seed)
        z[r0:r0 + n] = ((h >> 8).to(torch.float32) * (2.0 ** -20) - 8.0).to(dtype)
        del idx, h
    return z


def time_ms(torch, fn, reps):
    fn()
    fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ms.append(a.elapsed_time(b))
    ms.sort()
    n = len(ms)
    return ms[n // 2] if n % 2 else 0.5 * (ms[n // 2 - 1] + ms[n // 2]), ms[0]


def bench(torch, F, rows, vocab, dtype_name, reps, seed=42):
    import numpy as np
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    dev = torch.device("cuda")
    t_np, w_np = targets_and_weights(rows, vocab, seed, np)
    y = torch.from_numpy(t_np).to(dev)
    w = torch.from_numpy(w_np).to(dev)
    z = logits(torch, rows, vocab, seed, dtype, dev).requires_grad_(True)
    wsum = w.sum()

    def fwd():
        with torch.no_grad():
            return F.cross_entropy(z, y, reduction="none", ignore_index=-100)

    def fwd_bwd():
        z.grad = None
        loss = (F.cross_entropy(z, y, reduction="none", ignore_index=-100) * w).sum() / wsum
        loss.backward()
        return loss

    fwd_ms, fwd_min = time_ms(torch, fwd, reps)
    fb_ms, fb_min = time_ms(torch, fwd_bwd, reps)
    with torch.no_grad():
        native = float(((F.cross_entropy(z, y, reduction="none", ignore_index=-100).float() * w).sum() / wsum).item())
        z32 = z.detach().float()
        exact = float(((F.cross_entropy(z32, y, reduction="none", ignore_index=-100) * w).sum() / wsum).item())
        del z32
        src = z.detach()
        dst = torch.empty_like(src)
        copy_ms, _ = time_ms(torch, lambda: dst.copy_(src), reps)
        nbytes = src.numel() * src.element_size()
        # read-only ceiling: a full reduction reads every logit once and writes one value
        read_ms, _ = time_ms(torch, lambda: torch.amax(src), reps)
        del dst, src
    z.grad = None
    del z
    torch.cuda.empty_cache()
    return {"kind": "torch", "dtype": dtype_name, "rows": rows, "V": vocab, "reps": reps,
            "fwdMs": fwd_ms, "fwdMinMs": fwd_min, "fwdBwdMs": fb_ms, "fwdBwdMinMs": fb_min,
            "weightedLossNative": native, "weightedLossFp32": exact,
            "copyMs": copy_ms, "copyGBs": 2.0 * nbytes / (copy_ms * 1e-3) / 1e9,
            "readMs": read_ms, "readGBs": nbytes / (read_ms * 1e-3) / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="append JSON lines to this file (default: stdout)")
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--selftest", action="store_true", help="check the hash against Java's values (NumPy, no GPU)")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    out = open(args.out, "a") if args.out else sys.stdout

    def emit(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        emit({"kind": "torch-error", "error": f"PyTorch not importable: {e}"})
        return 3
    if not torch.cuda.is_available():
        emit({"kind": "torch-error", "error": "torch.cuda.is_available() is False"})
        return 3
    emit({"kind": "torch-env", "torch": torch.__version__, "cuda": torch.version.cuda,
          "device": torch.cuda.get_device_name(0)})
    status = 0
    for rows, vocab in (QUICK_SIZES if args.quick else SIZES):
        for dt in ("f32", "bf16"):
            t0 = time.time()
            try:
                r = bench(torch, F, rows, vocab, dt, 3 if args.quick else args.reps)
                r["seconds"] = time.time() - t0
                emit(r)
            except Exception as e:  # report and go on: one size failing must not lose the others
                emit({"kind": "torch-error", "dtype": dt, "rows": rows, "V": vocab, "error": repr(e)})
                status = 1
                torch.cuda.empty_cache()
    return status


if __name__ == "__main__":
    sys.exit(main())
