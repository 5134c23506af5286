package org.plw4j;

/**
 * The optional per-token outputs of a {@link WeightedCausalLMLoss} call (SPEC section 13), asked for with
 * {@link WeightedCausalLMLoss#withPerTokenOutputs(PerTokenOutput...)}: computed in the kernel's pass over
 * the logits, nothing at all when not asked for.
 */
public enum PerTokenOutput {
    /**
     * The entropy {@code H_t = lse_t - Σ_v p_t[v] z_t[v]} of the distribution the loss uses (after
     * soft-capping), per logit position: {@link LossResult#perTokenEntropy()}.
     */
    ENTROPY,
    /** The predicted token (the arg-max of SPEC section 5) per logit position: {@link LossResult#perTokenArgMax()}. */
    ARG_MAX
}
