#!/usr/bin/env python3
"""Golden reference data for WeightedCausalLMLoss, computed in NumPy float64 (an implementation that
shares no code with plw4j) from the contract in docs/SPEC.md: shift, ignore index, role weights with
the prompt loss weight, the five normalisations, label smoothing, z-loss and logit soft-capping, the
prompt/completion metrics and the gradient with respect to the logits.

Every case is generated from a fixed seed, so the output is the same on every run. The analytic
gradient of each case is checked against central finite differences of the loss before it is written.

Command (from the repository root):
    python3 core/src/test/resources/golden/generate_loss_golden.py > core/src/test/resources/golden/loss-golden.properties
"""
import platform
import sys

import numpy as np

IGNORE, PROMPT, COMPLETION = 0, 1, 2
MODES = ("WEIGHTED_MEAN", "SUM", "SEQUENCE_MEAN", "GLOBAL_DENOMINATOR", "NONZERO_COUNT")


def logits_for(rng, b, n, v, scale=2.5):
    """Float32-exact logits (so FLOAT and DOUBLE arrays hold the same numbers) with a clear arg-max."""
    z = (rng.standard_normal((b, n, v)) * scale).astype(np.float32).astype(np.float64)
    for i in range(b):
        for t in range(n):
            while True:
                top = np.sort(z[i, t])[-2:]
                if top[1] - top[0] > 1e-3:
                    break
                z[i, t] = (rng.standard_normal(v) * scale).astype(np.float32).astype(np.float64)
    return z


def roles_for(rng, b, n):
    """Random role codes with at least one PROMPT and one COMPLETION in the batch."""
    while True:
        r = rng.choice([IGNORE, PROMPT, COMPLETION], size=(b, n), p=[0.2, 0.4, 0.4])
        if (r == PROMPT).any() and (r == COMPLETION).any():
            return r


def plan(case):
    """Targets, weights and measured roles per logit position (SPEC sections 2-3)."""
    b, n = case["roles"].shape
    ids, roles = case["inputIds"], case["roles"]
    target = np.full((b, n), -1, dtype=np.int64)
    weight = np.zeros((b, n))
    measured = np.zeros((b, n), dtype=np.int64)
    for i in range(b):
        for t in range(n):
            s = t + 1 if case["shift"] else t
            if s >= n or ids[i, s] == case["ignoreIndex"] or roles[i, s] == IGNORE:
                continue
            target[i, t] = ids[i, s]
            measured[i, t] = roles[i, s]
            weight[i, t] = 1.0 if roles[i, s] == COMPLETION else case["plw"]
    return target, weight, measured


def token_terms(case, x):
    """Per-token loss, softmax, lse and the cap's derivative, for raw logits x [B, N, V]."""
    c, eps, lam = case["softCap"], case["labelSmoothing"], case["zLoss"]
    if c > 0:
        z = c * np.tanh(x / c)
        dcap = 1.0 - np.tanh(x / c) ** 2
    else:
        z = x
        dcap = np.ones_like(x)
    m = z.max(axis=2, keepdims=True)
    e = np.exp(z - m)
    se = e.sum(axis=2, keepdims=True)
    lse = (m + np.log(se))[..., 0]
    p = e / se
    return z, p, lse, dcap, eps, lam


def evaluate(case, x):
    """The loss, the metrics and the gradient (SPEC sections 3-7)."""
    b, n, v = x.shape
    target, w, measured = plan(case)
    z, p, lse, dcap, eps, lam = token_terms(case, x)
    active = target >= 0
    ty = np.where(active, target, 0)
    zy = np.take_along_axis(z, ty[..., None], axis=2)[..., 0]
    with np.errstate(invalid="ignore"):
        mean_z = z.mean(axis=2)
        loss_t = (1 - eps) * (lse - zy) + (eps * (lse - mean_z) if eps > 0 else 0.0) + lam * lse ** 2
    loss_t = np.where(active, loss_t, 0.0)
    correct = np.argmax(z, axis=2) == ty   # np.argmax returns the lowest index of a tie

    wl = w * loss_t
    wsum = w.sum()
    mode = case["normalization"]
    row_w = w.sum(axis=1)
    seqs = int((row_w > 0).sum())
    if mode == "WEIGHTED_MEAN":
        loss = 0.0 if wsum == 0 else wl.sum() / wsum
        scale = w / wsum if wsum > 0 else np.zeros_like(w)
    elif mode == "SUM":
        loss = wl.sum()
        scale = w.copy()
    elif mode == "NONZERO_COUNT":
        count = int((w > 0).sum())
        loss = 0.0 if count == 0 else wl.sum() / count
        scale = w / count if count > 0 else np.zeros_like(w)
    elif mode == "GLOBAL_DENOMINATOR":
        d = case["globalDenominator"]
        loss = wl.sum() / d
        scale = w / d
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            per_row = np.where(row_w > 0, wl.sum(axis=1) / row_w, 0.0)
            scale = np.where(row_w[:, None] > 0, w / (row_w[:, None] * max(seqs, 1)), 0.0)
        loss = 0.0 if seqs == 0 else per_row[row_w > 0].sum() / seqs

    onehot = np.zeros_like(z)
    for i in range(b):
        for t in range(n):
            if active[i, t]:
                onehot[i, t, target[i, t]] = 1.0
    dz = p * (1 + 2 * lam * lse)[..., None] - (1 - eps) * onehot - eps / v
    grad = np.where((scale > 0)[..., None], scale[..., None] * dz * dcap, 0.0)

    prompt, completion = measured == PROMPT, measured == COMPLETION
    with np.errstate(invalid="ignore"):
        pz = np.where(p > 0, p * z, 0.0)
    entropy_t = np.where(active, lse - pz.sum(axis=2), 0.0)

    def mean(mask, values):
        return float(values[mask].mean()) if mask.any() else float("nan")

    return {
        "loss": float(loss),
        "weightSum": float(wsum),
        "weightedLossSum": float(wl.sum()),
        "promptLoss": mean(prompt, loss_t),
        "completionLoss": mean(completion, loss_t),
        "promptTokens": int(prompt.sum()),
        "completionTokens": int(completion.sum()),
        "promptAccuracy": mean(prompt, correct.astype(np.float64)),
        "completionAccuracy": mean(completion, correct.astype(np.float64)),
        "nonFiniteTokens": int((~np.isfinite(loss_t) & (w > 0)).sum()),
        "perTokenLoss": loss_t.ravel(),
        "gradient": grad.ravel(),
        # SPEC section 13: the entropy of the distribution the loss uses (after the cap), H = lse - sum p z,
        # a masked (-inf) entry having p = 0 and adding nothing; its per-role means; the arg-max
        "promptEntropy": mean(prompt, entropy_t),
        "completionEntropy": mean(completion, entropy_t),
        "perTokenEntropy": entropy_t.ravel(),
        "perTokenArgMax": np.where(active, np.argmax(z, axis=2), -1).ravel(),
    }


def check_gradient(name, case, expected):
    """Central differences of the loss against the analytic gradient (finite logits only)."""
    x = case["logits"]
    g = expected["gradient"].reshape(x.shape)
    h = 1e-6
    worst = 0.0
    for idx in np.ndindex(x.shape):
        if not np.isfinite(x[idx]):
            continue
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd = (evaluate(case, xp)["loss"] - evaluate(case, xm)["loss"]) / (2 * h)
        worst = max(worst, abs(fd - g[idx]))
    if worst > 1e-6:
        sys.exit(f"{name}: analytic gradient differs from central differences by {worst}")


def case(rng, b=2, n=6, v=11, plw=0.5, normalization="WEIGHTED_MEAN", shift=True, ignoreIndex=-100,
         labelSmoothing=0.0, zLoss=0.0, softCap=0.0, globalDenominator=9.5):
    return {
        "B": b, "N": n, "V": v, "plw": plw, "normalization": normalization,
        "globalDenominator": globalDenominator if normalization == "GLOBAL_DENOMINATOR" else 0.0,
        "shift": shift, "ignoreIndex": ignoreIndex, "labelSmoothing": labelSmoothing, "zLoss": zLoss,
        "softCap": softCap, "logits": logits_for(rng, b, n, v),
        "inputIds": rng.integers(0, v, size=(b, n)), "roles": roles_for(rng, b, n),
    }


def cases():
    rng = np.random.default_rng(20261202)
    out = {}
    for plw in (0.0, 0.1, 0.5, 1.0):
        for mode in MODES:
            for shift in (True, False) if plw in (0.1, 1.0) else (True,):
                out[f"plw{plw}-{mode}-shift{'On' if shift else 'Off'}"] = case(
                    rng, plw=plw, normalization=mode, shift=shift)
    # ignore index: -100 among the ids where the role is not IGNORE, any id (even out of range) where it is
    for shift in (True, False):
        c = case(rng, shift=shift)
        c["inputIds"][0, 2] = -100
        c["inputIds"][1, 4] = -100
        c["roles"][0, 2], c["roles"][1, 4] = PROMPT, COMPLETION
        c["roles"][1, 1] = IGNORE
        c["inputIds"][1, 1] = c["V"] + 5
        out[f"ignoreIndex-100-shift{'On' if shift else 'Off'}"] = c
    c = case(rng, ignoreIndex=3)
    c["inputIds"][0, 1] = 3
    c["inputIds"][1, 3] = 3
    out["ignoreIndex3-inVocabulary"] = c
    # extensions, alone and together
    out["labelSmoothing0.1"] = case(rng, labelSmoothing=0.1)
    out["zLoss0.01"] = case(rng, zLoss=0.01)
    out["softCap4"] = case(rng, softCap=4.0)
    out["allExtensions-WEIGHTED_MEAN"] = case(rng, labelSmoothing=0.2, zLoss=0.001, softCap=5.0)
    out["allExtensions-SUM-shiftOff"] = case(rng, plw=0.1, normalization="SUM", shift=False, labelSmoothing=0.05,
                                             zLoss=0.01, softCap=3.0)
    out["allExtensions-SEQUENCE_MEAN"] = case(rng, b=3, plw=0.0, normalization="SEQUENCE_MEAN",
                                              labelSmoothing=0.1, zLoss=0.001, softCap=6.0)
    out["allExtensions-GLOBAL_DENOMINATOR"] = case(rng, plw=1.0, normalization="GLOBAL_DENOMINATOR",
                                                   labelSmoothing=0.1, zLoss=0.0001, softCap=30.0)
    out["allExtensions-NONZERO_COUNT-shiftOff"] = case(rng, plw=0.5, normalization="NONZERO_COUNT", shift=False,
                                                       labelSmoothing=0.1, zLoss=0.001, softCap=5.0)
    # masked vocabulary entries (-inf, never a target) are legal: probability 0, gradient 0
    c = case(rng, plw=0.3)
    target, _, _ = plan(c)
    for i in range(c["B"]):
        for t in range(c["N"]):
            banned = [k for k in (0, 5, 9) if k != target[i, t]]
            c["logits"][i, t, banned[:2]] = -np.inf
    out["maskedVocabulary"] = c
    c = case(rng, plw=0.3, softCap=4.0)
    c["logits"][:, :, 7] = -np.inf
    c["inputIds"][c["inputIds"] == 7] = 6
    out["maskedVocabulary-softCap4"] = c
    # a sequence without weight under SEQUENCE_MEAN, and a batch without any weight
    c = case(rng, b=3, normalization="SEQUENCE_MEAN")
    c["roles"][2, :] = IGNORE
    out["SEQUENCE_MEAN-emptyRow"] = c
    c = case(rng)
    c["roles"][:, :] = IGNORE
    out["allIgnored"] = c
    c = case(rng, plw=0.0)
    c["roles"][c["roles"] == COMPLETION] = PROMPT
    out["plw0-promptOnly"] = c
    # a vocabulary wider than a few vector lanes, with a tail (67 = 8 * 8 + 3)
    out["V67-WEIGHTED_MEAN"] = case(rng, b=2, n=5, v=67, plw=0.25)
    out["V67-SEQUENCE_MEAN-shiftOff-allExtensions"] = case(rng, b=2, n=5, v=67, normalization="SEQUENCE_MEAN",
                                                           shift=False, labelSmoothing=0.1, zLoss=0.001,
                                                           softCap=5.0)
    return out


def fmt(x):
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def values(a):
    return ",".join(fmt(x) for x in np.asarray(a).ravel())


def float32_values(a):
    """The logits are float32-exact: the shortest float32 spelling reads back as the same double."""
    return ",".join(np.format_float_positional(np.float32(x), unique=True, trim="-") if np.isfinite(x) else fmt(x)
                    for x in np.asarray(a).ravel())


def main():
    all_cases = cases()
    print("# Golden reference data for WeightedCausalLMLoss (LossGoldenTest), NumPy float64.")
    print("# Generated by generate_loss_golden.py in this folder; do not edit by hand. Command:")
    print("#   python3 core/src/test/resources/golden/generate_loss_golden.py"
          " > core/src/test/resources/golden/loss-golden.properties")
    print(f"# Python {platform.python_version()}, NumPy {np.__version__}")
    print("# Arrays are comma-separated, row-major: logits and gradient [B, N, V] (NWC), the others [B, N];")
    print("# logits are float32 values in their shortest float32 spelling (read them with Float.parseFloat).")
    print("cases=" + ",".join(all_cases))
    for name, c in all_cases.items():
        exp = evaluate(c, c["logits"])
        check_gradient(name, c, exp)
        print()
        for key in ("B", "N", "V", "plw", "normalization", "globalDenominator", "shift", "ignoreIndex",
                    "labelSmoothing", "zLoss", "softCap"):
            print(f"{name}.{key}={c[key] if isinstance(c[key], str) else fmt(c[key])}")
        print(f"{name}.logits={float32_values(c['logits'])}")
        for key in ("inputIds", "roles"):
            print(f"{name}.{key}={values(c[key])}")
        for key, val in exp.items():
            print(f"{name}.expected.{key}={values(val) if isinstance(val, np.ndarray) else fmt(val)}")


if __name__ == "__main__":
    main()
