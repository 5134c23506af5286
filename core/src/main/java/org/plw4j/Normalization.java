package org.plw4j;

/**
 * How the weighted token losses of a batch are reduced to one loss (SPEC section 4). In every mode a
 * zero denominator (everything ignored) gives loss 0 and an all-zero gradient, never NaN.
 */
public enum Normalization {
    /** {@code L = sum(w*l) / sum(w)} over all tokens of the batch (the default; the article's formula). */
    WEIGHTED_MEAN,
    /** {@code L = sum(w*l)}, for callers who normalise globally. */
    SUM,
    /**
     * Mean over sequences with positive weight of each sequence's {@code sum(w*l) / sum(w)}.
     */
    SEQUENCE_MEAN,
    /**
     * {@code L = sum(w*l) / d} with {@code d > 0} given by the caller: the total weight of the whole
     * accumulated step (gradient accumulation, data parallel). Set it with
     * {@code WeightedCausalLMLoss.withGlobalDenominator(double)}.
     */
    GLOBAL_DENOMINATOR
}
