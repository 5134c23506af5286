package org.plw4j.samediff;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.LogitsLayout;
import org.plw4j.Normalization;
import org.plw4j.TokenRole;

/**
 * The prompt-loss-weighted causal-LM loss as a SameDiff graph, differentiable by SameDiff's autodiff.
 *
 * <p>For logits {@code z}, target ids {@code y} and role codes {@code r} (all aligned: the logits at
 * position {@code t} predict {@code y[b,t]}, whose role is {@code r[b,t]}; no shift is applied) it builds
 * <pre>
 *   lp      = logSoftmax(z) over the vocabulary axis
 *   l[b,t]  = - sum_v [y[b,t] == v] * lp[b,t,v]                     (per-token cross-entropy)
 *   w[b,t]  = [r == COMPLETION] + PLW * [r == PROMPT], times [y != ignoreIndex]
 *   S       = sum w,   L = sum(w * l) / (S + [S == 0])
 * </pre>
 * which is SPEC section 4's {@code WEIGHTED_MEAN}: {@code L = sum w*l / sum w}, and {@code 0} with an
 * all-zero gradient when every token is ignored ({@code S = 0}), never {@code NaN}. The gradient that
 * SameDiff derives is {@code dL/dz = (w / S) * (softmax(z) - onehot(y))}.
 *
 * <pre>{@code
 * SameDiff sd = SameDiff.create();
 * SDVariable logits = sd.placeHolder("logits", DataType.FLOAT, -1, -1, vocab); // [B, N, V]
 * SDVariable ids = sd.placeHolder("ids", DataType.INT32, -1, -1);               // [B, N] next-token ids
 * SDVariable roles = sd.placeHolder("roles", DataType.INT32, -1, -1);           // [B, N] 0/1/2
 * SDVariable loss = PlwSameDiff.weightedCausalLMLoss(sd, logits, ids, roles, 0.1);
 * Map<String, INDArray> grads = sd.calculateGradients(feed, "logits");           // or sd.fit(...)
 * }</pre>
 *
 * <h2>Why not {@code sd.loss.sparseSoftmaxCrossEntropy}</h2>
 * In ND4J 1.0.0-M2.1, {@code SparseSoftmaxCrossEntropyLossWithLogits.doDiff(grad)} returns the
 * gradient of the <em>unweighted</em> sum of its per-token outputs and never multiplies by the incoming
 * gradient {@code grad}. Any weighting or normalisation applied after it (prompt weights, a division by
 * the weight sum) is therefore invisible to backpropagation: the forward value is right, the gradient is
 * {@code softmax - onehot} for every token. This class uses {@code logSoftmax} and a product with a
 * one-hot mask built by comparing the ids with {@code range(V)} ({@code V} read at run time, so the logits
 * may come from any op), whose backward passes the incoming gradient on (verified against finite differences by SameDiff's
 * {@code GradCheckUtil} in the tests, which also demonstrate the sparse op's wrong gradient).
 * {@code NCW} logits are permuted to {@code NWC} inside the graph, because in 1.0.0-M2.1 a
 * {@code logSoftmax(x, dimension)} with an explicit dimension makes {@code calculateGradients} fail
 * (its boxed {@code Integer} property is mistaken for an enum when the graph is cloned).
 *
 * <h2>Limits</h2>
 * A target id outside {@code [0, V)} that is not the ignore index cannot be rejected inside a graph: its
 * one-hot row is all zeros, so that token's loss reads as 0; validate ids before feeding them (the
 * ND4J API {@code WeightedCausalLMLoss} does). Non-finite logits in a row of weight 0 still reach the
 * sum as {@code 0 * NaN}; the ND4J API path handles them per SPEC section 10. The graph holds
 * {@code [B, N, V]} temporaries (log-softmax and one-hot), as any SameDiff cross-entropy does.
 *
 * <p>The methods are stateless and thread-safe; a {@link SameDiff} instance itself is not.
 */
public final class PlwSameDiff {
    /** The default ignore index (Hugging Face's {@code -100}); a target equal to it has weight 0. */
    public static final int DEFAULT_IGNORE_INDEX = -100;

    private PlwSameDiff() {
    }

    /**
     * The weighted loss for {@link LogitsLayout#NWC} logits {@code [B, N, V]}, with the default ignore index.
     * The result is marked as a loss variable of {@code sd}.
     *
     * @param sd the graph
     * @param logits {@code [B, N, V]}, a floating-point variable (any op's output; shapes may be dynamic)
     * @param targetIds {@code [B, N]} target token ids (any numeric dtype holding integral values)
     * @param roles {@code [B, N]} role codes 0 IGNORE, 1 PROMPT, 2 COMPLETION (any numeric dtype)
     * @param promptLossWeight PLW in {@code [0, 1]}
     * @return the scalar loss variable
     * @throws IllegalArgumentException if the PLW is NaN or outside {@code [0, 1]}, or the logits are not
     *         floating point or have a known rank other than 3
     * @throws NullPointerException if an argument is null
     */
    public static SDVariable weightedCausalLMLoss(SameDiff sd, SDVariable logits, SDVariable targetIds,
            SDVariable roles, double promptLossWeight) {
        return weightedCausalLMLoss(sd, null, logits, targetIds, roles, promptLossWeight, LogitsLayout.NWC,
                DEFAULT_IGNORE_INDEX);
    }

    /**
     * The weighted loss for either layout. The result is marked as a loss variable of {@code sd}.
     *
     * @param sd the graph
     * @param name the loss variable's name, or null for a generated one
     * @param logits {@code [B, N, V]} ({@link LogitsLayout#NWC}) or {@code [B, V, N]} ({@link LogitsLayout#NCW}),
     *        a floating-point variable (any op's output; shapes may be dynamic)
     * @param targetIds {@code [B, N]} target token ids (any numeric dtype holding integral values)
     * @param roles {@code [B, N]} role codes 0 IGNORE, 1 PROMPT, 2 COMPLETION (any numeric dtype)
     * @param promptLossWeight PLW in {@code [0, 1]}
     * @param layout where the vocabulary axis is
     * @param ignoreIndex a target id equal to it gets weight 0 whatever its role
     * @return the scalar loss variable
     * @throws IllegalArgumentException if the PLW is NaN or outside {@code [0, 1]}, or the logits are not
     *         floating point or have a known rank other than 3
     * @throws NullPointerException if an argument other than {@code name} is null
     */
    public static SDVariable weightedCausalLMLoss(SameDiff sd, String name, SDVariable logits,
            SDVariable targetIds, SDVariable roles, double promptLossWeight, LogitsLayout layout, int ignoreIndex) {
        return weightedCausalLMLoss(sd, name, logits, targetIds, roles, promptLossWeight, layout, ignoreIndex,
                Normalization.WEIGHTED_MEAN);
    }

    /**
     * The weighted loss for either layout with a choice of denominator: {@link Normalization#WEIGHTED_MEAN}
     * ({@code S = sum w}), {@link Normalization#NONZERO_COUNT} ({@code S = #{w > 0}}, as SameDiff's own
     * {@code MEAN_BY_NONZERO_WEIGHT_COUNT}) or {@link Normalization#SUM} (no division); {@code L = 0} when
     * {@code S = 0}. The result is marked as a loss variable of {@code sd}.
     *
     * @param sd the graph
     * @param name the loss variable's name, or null for a generated one
     * @param logits as in {@link #weightedCausalLMLoss(SameDiff, String, SDVariable, SDVariable, SDVariable, double,
     *        LogitsLayout, int)}
     * @param targetIds {@code [B, N]} target token ids (any numeric dtype holding integral values)
     * @param roles {@code [B, N]} role codes 0 IGNORE, 1 PROMPT, 2 COMPLETION (any numeric dtype)
     * @param promptLossWeight PLW in {@code [0, 1]}
     * @param layout where the vocabulary axis is
     * @param ignoreIndex a target id equal to it gets weight 0 whatever its role
     * @param normalization WEIGHTED_MEAN, NONZERO_COUNT or SUM
     * @return the scalar loss variable
     * @throws IllegalArgumentException as the other overloads, or if {@code normalization} is null,
     *         SEQUENCE_MEAN or GLOBAL_DENOMINATOR
     * @throws NullPointerException if an argument other than {@code name} and {@code normalization} is null
     */
    public static SDVariable weightedCausalLMLoss(SameDiff sd, String name, SDVariable logits,
            SDVariable targetIds, SDVariable roles, double promptLossWeight, LogitsLayout layout, int ignoreIndex,
            Normalization normalization) {
        if (normalization != Normalization.WEIGHTED_MEAN && normalization != Normalization.NONZERO_COUNT
                && normalization != Normalization.SUM) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "normalization must be WEIGHTED_MEAN, NONZERO_COUNT or SUM in the SameDiff graph, was %s",
                    normalization));
        }
        requireNonNull(sd, "sd");
        requireNonNull(logits, "logits");
        requireNonNull(targetIds, "targetIds");
        requireNonNull(roles, "roles");
        requireNonNull(layout, "layout");
        if (!(promptLossWeight >= 0 && promptLossWeight <= 1)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "promptLossWeight must be in [0, 1], was %s", promptLossWeight));
        }
        DataType dt = logits.dataType();
        if (dt == null || !dt.isFPType()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logits must be a floating-point variable, was %s", dt));
        }
        long[] shape = logits.getShape(); // null for most op outputs: SameDiff infers shapes at run time
        if (shape != null && shape.length != 3) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logits must have rank 3 (%s), had shape %s", layout == LogitsLayout.NWC ? "[B, N, V]" : "[B, V, N]",
                    Arrays.toString(shape)));
        }

        // Weights from roles: [COMPLETION] + PLW * [PROMPT], zero where the id is the ignore index.
        SDVariable completion = roles.eq((double) TokenRole.COMPLETION.code()).castTo(dt);
        SDVariable prompt = roles.eq((double) TokenRole.PROMPT.code()).castTo(dt);
        SDVariable kept = targetIds.neq((double) ignoreIndex).castTo(dt);
        SDVariable weights = completion.add(prompt.mul(promptLossWeight)).mul(kept);

        // Per-token cross-entropy: -sum_v onehot * logSoftmax over the last axis. OneHot of an out-of-range
        // id is all zeros. NCW logits are permuted to NWC first: in 1.0.0-M2.1 a LogSoftMax with an explicit
        // dimension cannot be cloned when SameDiff builds its gradient function (its boxed Integer
        // "dimension" property is mistaken for an enum), so only the default last-axis form is usable.
        SDVariable nwc = layout == LogitsLayout.NWC ? logits : logits.permute(0, 2, 1);
        SDVariable logProbs = sd.nn().logSoftmax(nwc);
        SDVariable oneHot = oneHot(sd, nwc, targetIds, dt);
        SDVariable tokenLoss = logProbs.mul(oneHot).sum(2).neg();

        SDVariable weighted = tokenLoss.mul(weights).sum();
        SDVariable loss;
        if (normalization == Normalization.SUM) {
            loss = weighted;
        } else {
            SDVariable denominator = normalization == Normalization.WEIGHTED_MEAN ? weights.sum()
                    : weights.gt(0.0).castTo(dt).sum();
            SDVariable guard = denominator.eq(0.0).castTo(dt); // 1 when everything is ignored: 0 / 1 = 0
            loss = weighted.div(denominator.add(guard));
        }
        if (name != null) {
            loss = sd.updateVariableNameAndReference(loss, name);
        }
        loss.markAsLoss();
        return loss;
    }

    /**
     * {@code [B, N, V]} one-hot of the ids, {@code V} read from the logits at run time (SameDiff knows no static
     * shape for the output of most ops): {@code ids[b, t] == range(V)[v]}. An id outside {@code [0, V)} gives a
     * zero row. Integer and boolean intermediates: no gradient flows through them.
     */
    private static SDVariable oneHot(SameDiff sd, SDVariable nwcLogits, SDVariable ids, DataType dt) {
        SDVariable vocab = sd.sizeAt(nwcLogits, 2).castTo(DataType.INT64);
        SDVariable range = sd.range(sd.constant(Nd4j.scalar(0L)), vocab, sd.constant(Nd4j.scalar(1L)), DataType.INT64);
        SDVariable column = sd.expandDims(ids.castTo(DataType.INT64), 2); // [B, N, 1]
        return column.eq(range).castTo(dt);
    }

    private static void requireNonNull(Object o, String param) {
        Objects.requireNonNull(o, () -> param + " must not be null");
    }
}
