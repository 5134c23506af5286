package org.plw4j.dl4j;

import java.util.Locale;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.plw4j.LogitsLayout;
import org.plw4j.LossResult;
import org.plw4j.Normalization;
import org.plw4j.PromptCompletionMask;
import org.plw4j.TokenRole;
import org.plw4j.WeightedCausalLMLoss;

/**
 * The prompt-loss-weighted causal-LM loss as a DL4J {@link ILossFunction}, for an {@code RnnOutputLayer}
 * (or {@code OutputLayer}) with the {@code IDENTITY} activation whose {@code nOut} is the vocabulary size.
 *
 * <p><b>Labels</b> are {@code [mb, 2, T]} ({@code RNNFormat.NCW}) or {@code [mb, T, 2]} ({@code NWC}):
 * channel {@value #TARGET_CHANNEL} holds the target token id (the token that the output at time {@code t}
 * must predict: DL4J's labels are already shifted, so plw4j's shift is off), channel {@value #ROLE_CHANNEL}
 * the role code of that target, 0 IGNORE, 1 PROMPT, 2 COMPLETION ({@link TokenRole}). DL4J accepts labels
 * whose size differs from {@code nOut}; it flattens them to {@code [mb*T, 2]} next to the pre-output
 * {@code [mb*T, V]} before calling the loss. A target id equal to the ignore index ({@value #DEFAULT_IGNORE_INDEX}
 * by default) is ignored whatever its role; the id of an ignored target may be any value.
 * {@link Dl4jLabels#nextToken} builds these labels from token ids and a {@link org.plw4j.PromptCompletionMask}.
 *
 * <p><b>Loss.</b> {@link #computeScore} returns plw4j's {@code WEIGHTED_MEAN} (the default; or the
 * {@linkplain #normalization() normalisation} given) over all the tokens it is given, {@code L = sum(w * l) / sum(w)} with {@code l = logsumexp(z) - z[y]}, {@code w} = 1 for completion,
 * PLW for prompt, 0 for ignored targets (0 with a zero gradient when every target is ignored), computed by
 * {@link WeightedCausalLMLoss} on the pre-output in place (no copy of the logits; the only
 * {@code [mb*T, V]} array created is the gradient that DL4J asks for). The {@code average} flag is ignored:
 * the loss is already normalised by the weight sum. {@link #computeGradient} returns {@code dL/dz}.
 *
 * <p><b>DL4J's minibatch division: use {@link WeightedCausalLMOutputLayer}, or build the network with
 * {@code .miniBatch(false)}.</b> {@link WeightedCausalLMOutputLayer} is an {@code RnnOutputLayer} with this
 * loss that undoes DL4J's division itself, so {@code net.score()} is {@code L} and the update uses
 * {@code dL/dparams} with the default {@code miniBatch(true)} as well; it is the recommended route. With a
 * plain {@code RnnOutputLayer} and this loss, the following holds. In DL4J 1.0.0-M2.1,
 * {@code BaseOutputLayer.computeScore} divides the loss function's score by the minibatch size (the number
 * of sequences, not tokens) when the configuration's {@code miniBatch} flag is true (the default), and
 * {@code BaseMultiLayerUpdater} divides the gradient by the same number before the updater step. A loss
 * function only ever sees the flattened {@code [mb*T, ...]} arrays, so it cannot know {@code mb} and cannot
 * undo the division. With {@code NeuralNetConfiguration.Builder().miniBatch(false)} neither division happens:
 * {@code net.score()} is exactly {@code L} and the update uses exactly {@code dL/dparams}. With the default
 * {@code miniBatch(true)}, score and gradient are both {@code 1/mb} of that (still consistent with each other,
 * so training works, as with a learning rate divided by {@code mb}). Use {@code RnnOutputLayer} or
 * {@code OutputLayer}: {@code RnnLossLayer} and {@code LossLayer} divide their score by {@code mb} whatever
 * the flag, and {@code RnnLossLayer} with {@code NWC} scores the input in place of the labels in 1.0.0-M2.1.
 * One side effect of {@code miniBatch(false)} in 1.0.0-M2.1: {@code MultiLayerNetwork.getInputMiniBatchSize()}
 * then returns 1, which it hands to input preprocessors, so a {@code MultiLayerNetwork} that needs a
 * {@code FeedForwardToRnnPreProcessor} (e.g. a {@code DenseLayer} between recurrent layers) fails with a
 * sequence-length mismatch; keep the layers recurrent-shaped ({@code EmbeddingSequenceLayer}, {@code LSTM},
 * attention layers) or use a {@code ComputationGraph}, whose preprocessors see the real minibatch size.
 *
 * <p><b>Set the output layer's {@code dataFormat}</b> ({@code RNNFormat.NCW} or {@code NWC}) or the network's
 * input type: otherwise, in 1.0.0-M2.1, {@code RnnOutputLayer}'s format is null and its sequence-length check
 * compares axis 1 (the channels), which fails for 2-channel labels.
 *
 * <p><b>Labels mask.</b> A per-time-step labels mask ({@code [mb, T]}, DL4J flattens it to {@code [mb*T, 1]})
 * may only hold 0 or 1: 0 makes the target IGNORE. A fractional mask is rejected, because DL4J multiplies the
 * pre-output rows by the mask before the loss sees them (it would scale the logits, not the weight);
 * fractional weights are what the role channel and the PLW are for. Per-output masks are rejected.
 *
 * <p><b>Per-example scores.</b> {@link #computeScoreArray} returns, per row, {@code w * l / sum(w)} (the
 * row's share of {@code L}), so the rows sum to {@link #computeScore}; DL4J's {@code scoreExamples} sums
 * them per sequence, and the per-sequence scores of a batch sum to {@code L}.
 *
 * <p>The {@code miniBatch(false)} alternative to {@link WeightedCausalLMOutputLayer}:
 *
 * <pre>{@code
 * MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
 *         .miniBatch(false)                       // net.score() = the weighted mean over tokens
 *         .updater(new Adam(1e-3))
 *         .list()
 *         .layer(new EmbeddingSequenceLayer.Builder().nIn(vocab).nOut(embed).build())
 *         .layer(new LSTM.Builder().nIn(embed).nOut(hidden).build())
 *         .layer(new RnnOutputLayer.Builder(new LossWeightedCausalLM(0.1))
 *                 .activation(Activation.IDENTITY).nIn(hidden).nOut(vocab).dataFormat(RNNFormat.NCW).build())
 *         .build();
 * }</pre>
 *
 * <p>Immutable and thread-safe; serialised in the network's JSON as
 * {@code {"@class": "org.plw4j.dl4j.LossWeightedCausalLM", "ignoreIndex": -100, "normalization": "WEIGHTED_MEAN",
 * "promptLossWeight": 0.1}} (a JSON without {@code normalization} reads as WEIGHTED_MEAN).
 */
public final class LossWeightedCausalLM implements ILossFunction {
    private static final long serialVersionUID = 1L;

    /** The PLW of the no-argument constructor: 1.0, the plain full-sequence loss (as {@link WeightedCausalLMLoss#withDefaults()}). */
    public static final double DEFAULT_PROMPT_LOSS_WEIGHT = 1.0;
    /** The default ignore index, Hugging Face's {@code -100}. */
    public static final int DEFAULT_IGNORE_INDEX = -100;
    /** Label channel of the target token id. */
    public static final int TARGET_CHANNEL = 0;
    /** Label channel of the role code (0 IGNORE, 1 PROMPT, 2 COMPLETION). */
    public static final int ROLE_CHANNEL = 1;

    private final double promptLossWeight;
    private final int ignoreIndex;
    private final Normalization normalization;

    /** The plain full-sequence loss: PLW {@value #DEFAULT_PROMPT_LOSS_WEIGHT}, ignore index -100. */
    public LossWeightedCausalLM() {
        this(DEFAULT_PROMPT_LOSS_WEIGHT, DEFAULT_IGNORE_INDEX);
    }

    /**
     * @param promptLossWeight the weight of prompt tokens in {@code [0, 1]} (0 completion-only, 1 full sequence)
     * @throws IllegalArgumentException if {@code promptLossWeight} is NaN or outside {@code [0, 1]}
     */
    public LossWeightedCausalLM(double promptLossWeight) {
        this(promptLossWeight, DEFAULT_IGNORE_INDEX);
    }

    /**
     * @param promptLossWeight the weight of prompt tokens in {@code [0, 1]}
     * @param ignoreIndex a target id equal to it is ignored whatever its role
     * @throws IllegalArgumentException if {@code promptLossWeight} is NaN or outside {@code [0, 1]}
     */
    public LossWeightedCausalLM(double promptLossWeight, int ignoreIndex) {
        this(promptLossWeight, ignoreIndex, Normalization.WEIGHTED_MEAN);
    }

    /**
     * @param promptLossWeight the weight of prompt tokens in {@code [0, 1]}
     * @param ignoreIndex a target id equal to it is ignored whatever its role
     * @param normalization {@link Normalization#WEIGHTED_MEAN} ({@code sum(w*l) / sum(w)}, the default),
     *        {@link Normalization#NONZERO_COUNT} ({@code sum(w*l) / #{w > 0}}) or {@link Normalization#SUM};
     *        the others need what DL4J's flattened {@code [mb*T, ...]} arrays do not carry (the sequences, or
     *        a caller's denominator)
     * @throws IllegalArgumentException if {@code promptLossWeight} is NaN or outside {@code [0, 1]}, or
     *         {@code normalization} is null, SEQUENCE_MEAN or GLOBAL_DENOMINATOR
     */
    public LossWeightedCausalLM(double promptLossWeight, int ignoreIndex, Normalization normalization) {
        if (!(promptLossWeight >= 0 && promptLossWeight <= 1)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "promptLossWeight must be in [0, 1], was %s", promptLossWeight));
        }
        if (normalization == null || normalization == Normalization.SEQUENCE_MEAN
                || normalization == Normalization.GLOBAL_DENOMINATOR) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "normalization must be WEIGHTED_MEAN, NONZERO_COUNT or SUM for the DL4J loss, was %s",
                    normalization));
        }
        this.promptLossWeight = promptLossWeight + 0.0; // -0.0 -> 0.0, for equals
        this.ignoreIndex = ignoreIndex;
        this.normalization = normalization;
    }

    /** Jackson: an absent property takes its default (never Java's 0 for a missing primitive). */
    @JsonCreator
    static LossWeightedCausalLM fromJson(@JsonProperty("promptLossWeight") Double promptLossWeight,
            @JsonProperty("ignoreIndex") Integer ignoreIndex, @JsonProperty("normalization") Normalization normalization) {
        return new LossWeightedCausalLM(promptLossWeight == null ? DEFAULT_PROMPT_LOSS_WEIGHT : promptLossWeight,
                ignoreIndex == null ? DEFAULT_IGNORE_INDEX : ignoreIndex,
                normalization == null ? Normalization.WEIGHTED_MEAN : normalization);
    }

    /** Java serialisation: re-validate through the constructor (a stream from before the field: the default). */
    private Object readResolve() {
        return new LossWeightedCausalLM(promptLossWeight, ignoreIndex,
                normalization == null ? Normalization.WEIGHTED_MEAN : normalization);
    }

    /**
     * @param plw the weight of prompt tokens in {@code [0, 1]}
     * @return a copy with that PLW, the same ignore index and normalisation
     * @throws IllegalArgumentException if {@code plw} is NaN or outside {@code [0, 1]}
     */
    public LossWeightedCausalLM withPromptLossWeight(double plw) {
        return new LossWeightedCausalLM(plw, ignoreIndex, normalization);
    }

    /** @return the weight of prompt tokens */
    @JsonProperty("promptLossWeight")
    public double promptLossWeight() {
        return promptLossWeight;
    }

    /** @return the ignore index */
    @JsonProperty("ignoreIndex")
    public int ignoreIndex() {
        return ignoreIndex;
    }

    /** @return the normalisation of the score */
    @JsonProperty("normalization")
    public Normalization normalization() {
        return normalization;
    }

    /** @return the ND4J loss this adapter delegates to: this normalisation, PLW and ignore index, NWC, shift off */
    public WeightedCausalLMLoss asWeightedCausalLMLoss() {
        return WeightedCausalLMLoss.withDefaults().withPromptLossWeight(promptLossWeight)
                .withIgnoreIndex(ignoreIndex).withShift(false).withLayout(LogitsLayout.NWC)
                .withNormalization(normalization);
    }

    /**
     * @param labels {@code [rows, 2]}: target id, role code
     * @param preOutput {@code [rows, V]} logits
     * @param activationFn must be {@code IDENTITY}
     * @param mask null, or {@code [rows, 1]} of 0/1 (0 = IGNORE)
     * @param average ignored: the loss is already the weighted mean
     * @return {@code L}, the weighted mean of the rows' losses
     * @throws IllegalArgumentException on a non-identity activation, wrong shapes, a role code other than
     *         0/1/2, a non-integral or out-of-range target id on a row that is not ignored, or a mask value other than 0/1
     */
    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
            boolean average) {
        Batch in = Batch.of(labels, preOutput, activationFn, mask, ignoreIndex);
        return asWeightedCausalLMLoss().compute(in.logits, in.ids, in.roles).loss();
    }

    /**
     * @param labels as in {@link #computeScore}
     * @param preOutput as in {@link #computeScore}
     * @param activationFn as in {@link #computeScore}
     * @param mask as in {@link #computeScore}
     * @return {@code [rows, 1]}: each row's share {@code w * l / d} of the loss, {@code d} the normalisation's
     *         denominator ({@code sum(w)}, the count of weighted rows, or 1 for SUM); 0 for ignored rows
     * @throws IllegalArgumentException as {@link #computeScore}
     */
    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Batch in = Batch.of(labels, preOutput, activationFn, mask, ignoreIndex);
        LossResult r = asWeightedCausalLMLoss().compute(in.logits, in.ids, in.roles);
        return Nd4j.createFromArray(rowShares(r, in.roleCodes)).reshape(in.rows, 1).castTo(preOutput.dataType());
    }

    /**
     * @param r the result of a call over rows with these role codes (positions in row order)
     * @param roleCodes the effective role code of each row
     * @return per row its share {@code w * l / d} of the loss, 0 for rows of weight 0 or when {@code d} is 0
     */
    double[] rowShares(LossResult r, int[] roleCodes) {
        double[] perToken = r.perTokenLossArray();
        double d = r.denominator();
        double[] out = new double[roleCodes.length];
        if (d > 0) {
            for (int i = 0; i < out.length; i++) {
                double w = weight(roleCodes[i]);
                out[i] = w == 0 ? 0.0 : w * perToken[i] / d;
            }
        }
        return out;
    }

    /**
     * @param labels as in {@link #computeScore}
     * @param preOutput as in {@link #computeScore}
     * @param activationFn as in {@link #computeScore}
     * @param mask as in {@link #computeScore}
     * @return {@code dL/dz}, {@code [rows, V]} in the pre-output's dtype: {@code (w/sum(w)) (softmax(z) - onehot(y))}
     * @throws IllegalArgumentException as {@link #computeScore}
     */
    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return computeGradientAndScore(labels, preOutput, activationFn, mask, false).getSecond();
    }

    /**
     * @param labels as in {@link #computeScore}
     * @param preOutput as in {@link #computeScore}
     * @param activationFn as in {@link #computeScore}
     * @param mask as in {@link #computeScore}
     * @param average ignored
     * @return the loss and its gradient, from one pass over the logits
     * @throws IllegalArgumentException as {@link #computeScore}
     */
    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
            IActivation activationFn, INDArray mask, boolean average) {
        Batch in = Batch.of(labels, preOutput, activationFn, mask, ignoreIndex);
        LossResult r = asWeightedCausalLMLoss().computeWithGradient(in.logits, in.ids, in.roles);
        INDArray g = r.gradient(); // C order [1, rows, V]: the reshape is a view
        return new Pair<>(r.loss(), g.reshape('c', in.rows, in.vocab));
    }

    private double weight(int roleCode) {
        return roleCode == TokenRole.COMPLETION.code() ? 1.0
                : roleCode == TokenRole.PROMPT.code() ? promptLossWeight : 0.0;
    }

    /** @return {@code "LossWeightedCausalLM"} */
    @Override
    public String name() {
        return "LossWeightedCausalLM";
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        return o instanceof LossWeightedCausalLM other
                && Double.compare(promptLossWeight, other.promptLossWeight) == 0 && ignoreIndex == other.ignoreIndex
                && normalization == other.normalization;
    }

    @Override
    public int hashCode() {
        return (31 * Double.hashCode(promptLossWeight) + ignoreIndex) * 31 + normalization.hashCode();
    }

    @Override
    public String toString() {
        return "LossWeightedCausalLM(promptLossWeight=" + promptLossWeight + ", ignoreIndex=" + ignoreIndex
                + (normalization == Normalization.WEIGHTED_MEAN ? "" : ", normalization=" + normalization) + ")";
    }
}
