package org.plw4j;

import java.util.Locale;
import java.util.Objects;

/**
 * The mergeable sums and counts of one or more loss computations (SPEC section 5): merging the
 * summaries of micro-batches, shards or workers gives exactly the summary of the whole batch,
 * bitwise, in any order (sums are kept exactly and rounded once when read). {@link #empty()} is the
 * identity of {@link #merge}. Immutable and thread-safe.
 *
 * <pre>{@code
 * LossSummary epoch = LossSummary.empty();
 * for (Batch b : validation) {
 *     epoch = epoch.merge(loss.compute(b.logits(), b.ids(), b.mask()).summary());
 * }
 * double completionLoss = epoch.completionLoss();
 * }</pre>
 *
 * <p>{@link #loss()} is the WEIGHTED_MEAN of everything merged: {@code weightedLossSum / weightSum},
 * 0 when the weight sum is 0. Means over no tokens ({@link #promptLoss()} with 0 prompt tokens, ...)
 * are NaN, reported together with the count 0: they are metrics, not the training loss.
 */
public final class LossSummary {
    private static final LossSummary EMPTY = new LossSummary(new ExactSum(), new ExactSum(), new ExactSum(),
            new ExactSum(), 0, 0, 0, 0, 0, 0, new ExactSum(), new ExactSum(), 0, 0);

    private final ExactSum weightedLoss;
    private final ExactSum weight;
    private final ExactSum promptLoss;
    private final ExactSum completionLoss;
    private final long promptTokens;
    private final long completionTokens;
    private final long promptCorrect;
    private final long completionCorrect;
    private final long nonFiniteTokens;
    private final long weightedTokens;
    private final ExactSum promptEntropy;
    private final ExactSum completionEntropy;
    private final long promptEntropyTokens;
    private final long completionEntropyTokens;
    // rounded values, computed once
    private final double weightedLossSumValue;
    private final double weightSumValue;
    private final double promptLossSumValue;
    private final double completionLossSumValue;
    private final double promptEntropySumValue;
    private final double completionEntropySumValue;

    LossSummary(ExactSum weightedLoss, ExactSum weight, ExactSum promptLoss, ExactSum completionLoss,
            long promptTokens, long completionTokens, long promptCorrect, long completionCorrect,
            long nonFiniteTokens, long weightedTokens, ExactSum promptEntropy, ExactSum completionEntropy,
            long promptEntropyTokens, long completionEntropyTokens) {
        this.weightedLoss = weightedLoss;
        this.weight = weight;
        this.promptLoss = promptLoss;
        this.completionLoss = completionLoss;
        this.promptTokens = promptTokens;
        this.completionTokens = completionTokens;
        this.promptCorrect = promptCorrect;
        this.completionCorrect = completionCorrect;
        this.nonFiniteTokens = nonFiniteTokens;
        this.weightedTokens = weightedTokens;
        this.promptEntropy = promptEntropy;
        this.completionEntropy = completionEntropy;
        this.promptEntropyTokens = promptEntropyTokens;
        this.completionEntropyTokens = completionEntropyTokens;
        this.promptEntropySumValue = promptEntropy.value();
        this.completionEntropySumValue = completionEntropy.value();
        this.weightedLossSumValue = weightedLoss.value();
        this.weightSumValue = weight.value();
        this.promptLossSumValue = promptLoss.value();
        this.completionLossSumValue = completionLoss.value();
    }

    /** @return the summary of nothing: the identity of {@link #merge} */
    public static LossSummary empty() {
        return EMPTY;
    }

    /**
     * @param other another summary
     * @return the summary of both (this and {@code other} are unchanged); exact, associative, commutative
     * @throws NullPointerException if {@code other} is null
     */
    public LossSummary merge(LossSummary other) {
        Objects.requireNonNull(other, "other");
        return new LossSummary(sumOf(weightedLoss, other.weightedLoss), sumOf(weight, other.weight),
                sumOf(promptLoss, other.promptLoss), sumOf(completionLoss, other.completionLoss),
                promptTokens + other.promptTokens, completionTokens + other.completionTokens,
                promptCorrect + other.promptCorrect, completionCorrect + other.completionCorrect,
                nonFiniteTokens + other.nonFiniteTokens, weightedTokens + other.weightedTokens,
                sumOf(promptEntropy, other.promptEntropy), sumOf(completionEntropy, other.completionEntropy),
                promptEntropyTokens + other.promptEntropyTokens, completionEntropyTokens + other.completionEntropyTokens);
    }

    /** @return a new exact sum of {@code a} and {@code b} (both unchanged) */
    private static ExactSum sumOf(ExactSum a, ExactSum b) {
        ExactSum s = a.copy();
        s.addAll(b);
        return s;
    }

    /** @return {@code weightedLossSum / weightSum}, or 0 when the weight sum is 0 (everything ignored) */
    public double loss() {
        return weightSumValue == 0.0 ? 0.0 : weightedLossSumValue / weightSumValue;
    }

    /** @return {@code sum(w * l)} over targets with weight &gt; 0 (exact sum, rounded once) */
    public double weightedLossSum() {
        return weightedLossSumValue;
    }

    /** @return {@code sum(w)} (exact sum, rounded once) */
    public double weightSum() {
        return weightSumValue;
    }

    /** @return the unweighted mean loss over PROMPT targets (whatever their weight), NaN if there are none */
    public double promptLoss() {
        return promptTokens == 0 ? Double.NaN : promptLossSumValue / promptTokens;
    }

    /** @return the unweighted mean loss over COMPLETION targets, NaN if there are none */
    public double completionLoss() {
        return completionTokens == 0 ? Double.NaN : completionLossSumValue / completionTokens;
    }

    /** @return the sum of the losses of the PROMPT targets */
    public double promptLossSum() {
        return promptLossSumValue;
    }

    /** @return the sum of the losses of the COMPLETION targets */
    public double completionLossSum() {
        return completionLossSumValue;
    }

    /** @return the number of PROMPT targets */
    public long promptTokens() {
        return promptTokens;
    }

    /** @return the number of COMPLETION targets */
    public long completionTokens() {
        return completionTokens;
    }

    /** @return the number of targets with weight &gt; 0 */
    public long weightedTokens() {
        return weightedTokens;
    }

    /** @return share of PROMPT targets whose arg-max logit is the target (ties to the lowest id), NaN if none */
    public double promptAccuracy() {
        return promptTokens == 0 ? Double.NaN : (double) promptCorrect / promptTokens;
    }

    /** @return share of COMPLETION targets whose arg-max logit is the target, NaN if none */
    public double completionAccuracy() {
        return completionTokens == 0 ? Double.NaN : (double) completionCorrect / completionTokens;
    }

    /** @return number of PROMPT targets whose arg-max is the target */
    public long promptCorrect() {
        return promptCorrect;
    }

    /** @return number of COMPLETION targets whose arg-max is the target */
    public long completionCorrect() {
        return completionCorrect;
    }

    /** @return the number of targets with weight &gt; 0 whose loss is not finite */
    public long nonFiniteTokens() {
        return nonFiniteTokens;
    }

    /**
     * @return the mean entropy (nats) over the PROMPT targets whose entropy was computed
     *         ({@link WeightedCausalLMLoss#withEntropy(boolean)}, SPEC section 13); NaN if there are none
     */
    public double promptEntropy() {
        return promptEntropyTokens == 0 ? Double.NaN : promptEntropySumValue / promptEntropyTokens;
    }

    /** @return the mean entropy over the COMPLETION targets whose entropy was computed; NaN if there are none */
    public double completionEntropy() {
        return completionEntropyTokens == 0 ? Double.NaN : completionEntropySumValue / completionEntropyTokens;
    }

    /** @return the number of PROMPT targets whose entropy was computed (0 when it was not asked for) */
    public long promptEntropyTokens() {
        return promptEntropyTokens;
    }

    /** @return the number of COMPLETION targets whose entropy was computed */
    public long completionEntropyTokens() {
        return completionEntropyTokens;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LossSummary s && Double.compare(weightedLossSumValue, s.weightedLossSumValue) == 0
                && Double.compare(weightSumValue, s.weightSumValue) == 0
                && Double.compare(promptLossSumValue, s.promptLossSumValue) == 0
                && Double.compare(completionLossSumValue, s.completionLossSumValue) == 0
                && promptTokens == s.promptTokens && completionTokens == s.completionTokens
                && promptCorrect == s.promptCorrect && completionCorrect == s.completionCorrect
                && nonFiniteTokens == s.nonFiniteTokens && weightedTokens == s.weightedTokens
                && Double.compare(promptEntropySumValue, s.promptEntropySumValue) == 0
                && Double.compare(completionEntropySumValue, s.completionEntropySumValue) == 0
                && promptEntropyTokens == s.promptEntropyTokens && completionEntropyTokens == s.completionEntropyTokens;
    }

    @Override
    public int hashCode() {
        return Objects.hash(weightedLossSumValue, weightSumValue, promptLossSumValue, completionLossSumValue,
                promptTokens, completionTokens, promptCorrect, completionCorrect, nonFiniteTokens, weightedTokens,
                promptEntropySumValue, completionEntropySumValue, promptEntropyTokens, completionEntropyTokens);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "LossSummary[loss=%.6g, weightSum=%.6g, prompt=%.6g over %d (acc %.4f), completion=%.6g over %d (acc %.4f),"
                        + " nonFinite=%d%s]",
                loss(), weightSumValue, promptLoss(), promptTokens, promptAccuracy(), completionLoss(),
                completionTokens, completionAccuracy(), nonFiniteTokens,
                promptEntropyTokens + completionEntropyTokens == 0 ? "" : String.format(Locale.ROOT,
                        ", entropy prompt=%.6g completion=%.6g", promptEntropy(), completionEntropy()));
    }
}
