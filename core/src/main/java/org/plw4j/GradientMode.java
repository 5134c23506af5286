package org.plw4j;

/**
 * How {@code WeightedCausalLMLoss.computeFromHiddenWithGradient} writes the weight and bias gradients into
 * caller-owned arrays. The hidden-state gradient is always overwritten: it belongs to one micro-batch.
 */
public enum GradientMode {
    /** The arrays receive {@code dL/dW} and {@code dL/db}; their previous contents are discarded. */
    OVERWRITE,
    /**
     * {@code dL/dW} and {@code dL/db} are added to the arrays' contents, so that the micro-batches of one
     * accumulated step add up in one pair of arrays without a temporary (with a global denominator,
     * {@link WeightedCausalLMLoss#withGlobalDenominator}, the sum is the gradient of the whole step).
     */
    ACCUMULATE
}
