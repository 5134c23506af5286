package org.plw4j;

/**
 * How the weighted token losses of a batch are reduced to one loss (SPEC section 4). In every mode a
 * zero denominator (everything ignored) gives loss 0 and an all-zero gradient, never NaN.
 *
 * <p>Which to use: {@link #WEIGHTED_MEAN} is the prompt-loss-weight method itself (dividing by
 * {@code sum(w)} makes a PLW of 0.1 change how much the prompt counts, not the scale of the loss);
 * {@link #GLOBAL_DENOMINATOR} is the same quantity when one step is split into micro-batches or across
 * workers; {@link #NONZERO_COUNT} divides by the number of weighted tokens instead, as TRL's proposed
 * prompt-loss-weight option and SameDiff's {@code MEAN_BY_NONZERO_WEIGHT_COUNT} do: every weighted token
 * counts as one whatever its weight, so a small PLW scales the whole loss down; {@link #SUM} leaves the division to
 * the caller; {@link #SEQUENCE_MEAN} weighs every sequence alike whatever its length.
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
    GLOBAL_DENOMINATOR,
    /**
     * {@code L = sum(w*l) / #{t : w_t > 0}}, the number of tokens that carry a positive weight (0 when there
     * are none); its gradient is {@code (w_t / count) * (softmax(z_t) - onehot(y_t))}.
     */
    NONZERO_COUNT
}
