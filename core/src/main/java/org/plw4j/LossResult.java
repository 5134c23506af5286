package org.plw4j;

import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The result of one {@link WeightedCausalLMLoss} computation: the loss in the chosen normalisation,
 * the prompt/completion metrics of SPEC section 5, the per-token losses and, from
 * {@code computeWithGradient}, the gradient with respect to the logits. Immutable apart from the
 * gradient array, which belongs to the caller. Thread-safe. The fused linear path's
 * {@link LinearLossResult} adds the gradients with respect to the hidden states and the weight.
 */
public sealed class LossResult permits LinearLossResult {
    private final double loss;
    private final Normalization normalization;
    private final double denominator;
    private final LossSummary summary;
    private final double[] perToken;
    private final int batch;
    private final int length;
    private final INDArray gradient;
    private final String kernel;
    private final double[] perTokenEntropy;
    private final int[] perTokenArgMax;

    LossResult(double loss, Normalization normalization, double denominator, LossSummary summary, double[] perToken,
            int batch, int length, INDArray gradient, String kernel, double[] perTokenEntropy, int[] perTokenArgMax) {
        this.loss = loss;
        this.normalization = normalization;
        this.denominator = denominator;
        this.summary = summary;
        this.perToken = perToken;
        this.batch = batch;
        this.length = length;
        this.gradient = gradient;
        this.kernel = kernel;
        this.perTokenEntropy = perTokenEntropy;
        this.perTokenArgMax = perTokenArgMax;
    }

    /** A copy of {@code r}'s fields, for {@link LinearLossResult}. */
    LossResult(LossResult r) {
        this(r.loss, r.normalization, r.denominator, r.summary, r.perToken, r.batch, r.length, r.gradient, r.kernel,
                r.perTokenEntropy, r.perTokenArgMax);
    }

    /**
     * @return the loss per the normalisation: e.g. {@code sum(w*l)/sum(w)} for WEIGHTED_MEAN; 0 when
     *         the denominator is 0 (everything ignored); non-finite when a weighted target's loss is
     */
    public double loss() {
        return loss;
    }

    /** @return the normalisation that produced {@link #loss()} */
    public Normalization normalization() {
        return normalization;
    }

    /**
     * @return the value {@code sum(w*l)} was divided by: {@code sum(w)} for WEIGHTED_MEAN, 1 for SUM,
     *         {@code d} for GLOBAL_DENOMINATOR, the number of sequences with weight for SEQUENCE_MEAN (each
     *         sequence being first divided by its own weight); 0 when everything is ignored
     */
    public double denominator() {
        return denominator;
    }

    /** @return {@code sum(w)} over the batch */
    public double weightSum() {
        return summary.weightSum();
    }

    /** @return {@code sum(w * l)} over the batch */
    public double weightedLossSum() {
        return summary.weightedLossSum();
    }

    /** @return the unweighted mean loss over PROMPT targets (whatever their weight, PLW 0 included); NaN if none */
    public double promptLoss() {
        return summary.promptLoss();
    }

    /** @return the unweighted mean loss over COMPLETION targets; NaN if none */
    public double completionLoss() {
        return summary.completionLoss();
    }

    /** @return the number of PROMPT targets */
    public long promptTokens() {
        return summary.promptTokens();
    }

    /** @return the number of COMPLETION targets */
    public long completionTokens() {
        return summary.completionTokens();
    }

    /** @return share of PROMPT targets whose arg-max logit is the target (ties to the lowest id); NaN if none */
    public double promptAccuracy() {
        return summary.promptAccuracy();
    }

    /** @return share of COMPLETION targets whose arg-max logit is the target; NaN if none */
    public double completionAccuracy() {
        return summary.completionAccuracy();
    }

    /** @return the number of targets with weight &gt; 0 whose loss is not finite */
    public long nonFiniteTokens() {
        return summary.nonFiniteTokens();
    }

    /**
     * @return the mean entropy (nats) of the distribution the loss uses over the PROMPT targets (SPEC section
     *         12), NaN when {@link WeightedCausalLMLoss#withEntropy(boolean)} is off or there is none
     */
    public double promptEntropy() {
        return summary.promptEntropy();
    }

    /** @return the mean entropy over the COMPLETION targets, NaN when not asked for or there is none */
    public double completionEntropy() {
        return summary.completionEntropy();
    }

    /**
     * Per-token entropies indexed by logit position, at the positions {@link #perTokenLoss()} reports (0
     * elsewhere); NaN where the loss is NaN.
     *
     * @return a new {@code [B, N]} DOUBLE array
     * @throws IllegalStateException if {@link PerTokenOutput#ENTROPY} was not asked for
     */
    public INDArray perTokenEntropy() {
        return Nd4j.createFromArray(perTokenEntropyArray()).reshape(batch, length);
    }

    /** @return a copy of {@link #perTokenEntropy()} as a flat {@code double[B*N]} in row-major order */
    public double[] perTokenEntropyArray() {
        return asked(perTokenEntropy, PerTokenOutput.ENTROPY, "entropy").clone();
    }

    /**
     * The predicted token (arg-max of SPEC section 5, of the capped logits) per logit position, at the
     * positions {@link #perTokenLoss()} reports; -1 elsewhere.
     *
     * @return a new {@code [B, N]} INT array
     * @throws IllegalStateException if {@link PerTokenOutput#ARG_MAX} was not asked for
     */
    public INDArray perTokenArgMax() {
        return Nd4j.createFromArray(perTokenArgMaxArray()).reshape(batch, length);
    }

    /** @return a copy of {@link #perTokenArgMax()} as a flat {@code int[B*N]} in row-major order */
    public int[] perTokenArgMaxArray() {
        return asked(perTokenArgMax, PerTokenOutput.ARG_MAX, "arg-max").clone();
    }

    /**
     * Per-token losses indexed by logit position: under shift, entry {@code [b, t]} is the loss of
     * predicting token {@code t+1} and the last position holds 0. Every target whose role is PROMPT or
     * COMPLETION has its loss whatever its weight; other entries are 0. With explicit weights and no
     * roles, every target with weight &gt; 0 has its loss.
     *
     * @return a new {@code [B, N]} DOUBLE array
     */
    public INDArray perTokenLoss() {
        return Nd4j.createFromArray(perToken.clone()).reshape(batch, length);
    }

    /** @return a copy of the per-token losses as a flat {@code double[B*N]} in row-major order */
    public double[] perTokenLossArray() {
        return perToken.clone();
    }

    /**
     * @return the gradient of {@link #loss()} with respect to the logits, in the logits' shape, layout and
     *         dtype (the logits array itself after an in-place computation), or null from {@code compute}
     *         and from the fused linear path (which never materialises the logits)
     */
    public INDArray gradient() {
        return gradient;
    }

    /** @return the mergeable sums and counts of this batch */
    public LossSummary summary() {
        return summary;
    }

    /** @return the name of the kernel that computed this result (e.g. {@code fused-cpu}, {@code reference}) */
    public String kernelName() {
        return kernel;
    }

    /**
     * @param values a per-token output, or null when it was not asked for
     * @param output the output
     * @param name its name in the message
     * @return {@code values}
     * @throws IllegalStateException if {@code values} is null
     */
    private static <T> T asked(T values, PerTokenOutput output, String name) {
        if (values == null) {
            throw new IllegalStateException("per-token " + name + " was not asked for: use"
                    + " withPerTokenOutputs(PerTokenOutput." + output.name() + ") (the fused linear path does not"
                    + " compute it)");
        }
        return values;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "LossResult[loss=%.6g (%s), prompt=%.6g over %d, completion=%.6g over %d, nonFinite=%d, kernel=%s]",
                loss, normalization, promptLoss(), promptTokens(), completionLoss(), completionTokens(),
                nonFiniteTokens(), kernel);
    }
}
