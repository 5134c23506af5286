package org.plw4j;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The result of {@code WeightedCausalLMLoss.computeFromHiddenWithGradient}: every metric of {@link LossResult}
 * (the loss, the prompt/completion metrics, the per-token losses) and the gradients of {@link #loss()} with
 * respect to the hidden states, the weight and the bias. The logits {@code z = h * W^T + b} are never
 * materialised, so {@link #gradient()} is null. Immutable apart from the gradient arrays, which belong to the
 * caller. Thread-safe.
 */
public final class LinearLossResult extends LossResult {
    private final INDArray hiddenGradient;
    private final INDArray weightGradient;
    private final INDArray biasGradient;

    LinearLossResult(LossResult metrics, INDArray hiddenGradient, INDArray weightGradient, INDArray biasGradient) {
        super(metrics);
        this.hiddenGradient = hiddenGradient;
        this.weightGradient = weightGradient;
        this.biasGradient = biasGradient;
    }

    /**
     * @return {@code dL/dh}, shape {@code [B, N, H]} and dtype of the hidden states (the caller's array when one
     *         was given); rows whose target weighs nothing are exactly 0
     */
    public INDArray hiddenGradient() {
        return hiddenGradient;
    }

    /**
     * @return {@code dL/dW}, shape {@code [V, H]} and dtype of the weight (the caller's array when one was
     *         given, then holding its previous contents plus {@code dL/dW} when accumulating)
     */
    public INDArray weightGradient() {
        return weightGradient;
    }

    /**
     * @return {@code dL/db}, shape and dtype of the bias (the caller's array when one was given, accumulated
     *         like {@link #weightGradient()}), or null when no bias was given
     */
    public INDArray biasGradient() {
        return biasGradient;
    }
}
