package org.plw4j;

/**
 * What the fused linear path ({@code WeightedCausalLMLoss.computeFromHidden*}) does with targets of weight 0
 * whose role is PROMPT or COMPLETION, e.g. every prompt target at PLW 0. Such rows never enter the two
 * backward GEMMs in either mode; the modes differ in the forward GEMM {@code z = h * W^T}.
 */
public enum ZeroWeightRows {
    /**
     * Their logits are computed (forward GEMM and the row kernel, no gradient), so that their losses and
     * accuracies appear in the prompt/completion metrics and the per-token losses, as on the logits path
     * (the default).
     */
    MEASURED,
    /**
     * Their logits are never computed: the metrics cover only targets of weight &gt; 0, so at PLW 0 the prompt
     * metrics are those of a mean over no tokens ({@code promptTokens() == 0}, {@code promptLoss()} NaN) and
     * their per-token losses are 0. The loss and the gradients are the same as with {@link #MEASURED}.
     * Completion-only training on data with few completion tokens then costs only their share of the GEMM work.
     */
    SKIPPED
}
