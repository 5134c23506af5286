package org.plw4j.kernel;

/**
 * The optional extensions of SPEC section 7 as the fused CPU kernel computes them, on the soft-capped
 * logits {@code z' = c·tanh(z/c)} ({@link FastExp#softCap}) when {@code c > 0}, with
 * {@code lse = log Σ exp z'}:
 * <pre>
 *   loss      = (1 - eps)(lse - z'[y]) + eps (lse - Σ z' / V) + lambda lse²
 *   dloss/dz  = (p (1 + 2 lambda lse) - (1 - eps)[v = y] - eps / V) (1 - (z'/c)²),   p = exp(z' - lse)
 * </pre>
 * the same formulas, in the same order, as {@link ReferenceKernel}. The per-logit work (the capping, the
 * sum of the logits, the affine gradient) is the row operations'; these are the per-row scalars, in double.
 */
final class FusedExtensions {
    final double labelSmoothing;
    final double zLoss;
    final double softCap;
    final boolean capped;
    final float capFloat;
    final float inverseCapFloat;
    final double inverseCap;
    final int vocab;

    private FusedExtensions(LossProblem p) {
        this.labelSmoothing = p.labelSmoothing();
        this.zLoss = p.zLoss();
        this.softCap = p.softCap();
        this.capped = softCap > 0.0;
        this.capFloat = (float) softCap;
        this.inverseCap = capped ? 1.0 / softCap : 0.0;
        this.inverseCapFloat = (float) inverseCap;
        this.vocab = p.vocab();
    }

    /** @return the extensions of {@code p}, or null when it uses none */
    static FusedExtensions of(LossProblem p) {
        return p.hasExtensions() ? new FusedExtensions(p) : null;
    }

    /** @return whether the loss needs {@code Σ z'} (label smoothing is on) */
    boolean needsLogitSum() {
        return labelSmoothing != 0.0;
    }

    /**
     * @param lse {@code log Σ exp z'}
     * @param targetLogit {@code z'[y]}
     * @param logitSum {@code Σ z'} (ignored without label smoothing)
     * @return the token loss
     */
    double loss(double lse, double targetLogit, double logitSum) {
        double loss = lse - targetLogit;
        if (labelSmoothing != 0.0) {
            loss = (1.0 - labelSmoothing) * loss + labelSmoothing * (lse - logitSum / vocab);
        }
        if (zLoss != 0.0) {
            loss += zLoss * lse * lse;
        }
        return loss;
    }

    /** @return the factor {@code 1 + 2 lambda lse} of the soft-max in the gradient */
    double softmaxFactor(double lse) {
        return 1.0 + 2.0 * zLoss * lse;
    }

    /** @return {@code -scale · eps / V}, the part of every gradient entry that label smoothing adds */
    double uniformGradient(double scale) {
        return -scale * (labelSmoothing / vocab);
    }

    /**
     * @param scale the row's gradient scale
     * @param lse {@code log Σ exp z'}
     * @param targetLogit {@code z'[y]}
     * @return the gradient at the target, in double
     */
    double targetGradient(double scale, double lse, double targetLogit) {
        double d = Math.exp(targetLogit - lse) * softmaxFactor(lse) - (1.0 - labelSmoothing) - labelSmoothing / vocab;
        if (capped) {
            double u = targetLogit * inverseCap;
            d *= 1.0 - u * u;
        }
        return scale * d;
    }

    /** @return {@code z'} of one fp32 logit, bitwise as the row operations cap it */
    float cap(float x) {
        return capped ? FastExp.softCap(x, capFloat, inverseCapFloat) : x;
    }
}
