package org.plw4j.kernel;

/**
 * The optional extensions of the token loss (SPEC section 7), off when 0: label smoothing
 * {@code eps}, PaLM's z-loss {@code lambda} and Gemma 2's logit soft-cap {@code c}. With them the
 * token loss is {@code (1-eps)(lse - z[y]) + eps(lse - mean_v z) + lambda * lse^2}, every logit
 * first capped as {@code z <- c * tanh(z / c)} when {@code c > 0}.
 *
 * <p>The API layer validates the values ({@code eps} in {@code [0, 1)}, {@code lambda} finite and
 * {@code >= 0}, {@code c} finite and {@code >= 0}); kernels trust them.
 *
 * @param labelSmoothing eps, 0 for off
 * @param zLoss lambda, 0 for off
 * @param softCap c, 0 for off
 */
public record LossExtensions(double labelSmoothing, double zLoss, double softCap) {
    /** No extension: the plain token loss {@code lse - z[y]}. */
    public static final LossExtensions NONE = new LossExtensions(0.0, 0.0, 0.0);

    /** @return whether any extension is on */
    public boolean any() {
        return labelSmoothing != 0.0 || zLoss != 0.0 || softCap != 0.0;
    }

    /** @return a copy with that label smoothing eps */
    public LossExtensions withLabelSmoothing(double eps) {
        return new LossExtensions(eps, zLoss, softCap);
    }

    /** @return a copy with that z-loss lambda */
    public LossExtensions withZLoss(double lambda) {
        return new LossExtensions(labelSmoothing, lambda, softCap);
    }

    /** @return a copy with that soft-cap c */
    public LossExtensions withSoftCap(double c) {
        return new LossExtensions(labelSmoothing, zLoss, c);
    }
}
