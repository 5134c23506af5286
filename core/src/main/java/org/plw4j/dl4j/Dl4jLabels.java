package org.plw4j.dl4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.LogitsLayout;
import org.plw4j.PromptCompletionMask;

/**
 * Builds the DL4J training pair for {@link LossWeightedCausalLM} from token ids and a
 * {@link PromptCompletionMask}, doing the shift by one that DL4J expects to be done in the data: the input at
 * time {@code t} is token {@code t}, the label is token {@code t+1} with the role of token {@code t+1}
 * (SPEC section 2), so sequences of {@code N} tokens give {@code T = N - 1} time steps.
 *
 * <pre>{@code
 * PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(promptLens, seqLens, n, Padding.RIGHT);
 * INDArray features = Dl4jLabels.inputTokens(inputIds);                        // [B, N-1]
 * INDArray labels = Dl4jLabels.nextToken(inputIds, mask, LogitsLayout.NCW);    // [B, 2, N-1]
 * net.fit(new DataSet(features, labels));
 * }</pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class Dl4jLabels {
    private Dl4jLabels() {
    }

    /**
     * The labels of {@link LossWeightedCausalLM}: channel 0 the next token's id, channel 1 its role code.
     *
     * @param inputIds {@code [B, N]} token ids, {@code N >= 2}, any numeric dtype
     * @param mask the roles of the {@code [B, N]} input positions (a mask with roles, not weights only)
     * @param layout {@link LogitsLayout#NCW} for {@code [B, 2, N-1]} (DL4J's {@code RNNFormat.NCW}) or
     *        {@link LogitsLayout#NWC} for {@code [B, N-1, 2]} ({@code RNNFormat.NWC})
     * @return a new FLOAT array (token ids up to 2^24 are exact)
     * @throws IllegalArgumentException if {@code inputIds} is not {@code [B, N]} with {@code N >= 2}, the mask's
     *         shape differs or the mask carries no roles
     * @throws NullPointerException if an argument is null
     */
    public static INDArray nextToken(INDArray inputIds, PromptCompletionMask mask, LogitsLayout layout) {
        Objects.requireNonNull(mask, "mask");
        Objects.requireNonNull(layout, "layout");
        checkIds(inputIds);
        int b = (int) inputIds.size(0);
        int n = (int) inputIds.size(1);
        if (mask.batchSize() != b || mask.sequenceLength() != n) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "mask must have the shape of inputIds [%d, %d], was [%d, %d]", b, n, mask.batchSize(),
                    mask.sequenceLength()));
        }
        if (!mask.hasRoles()) {
            throw new IllegalArgumentException("mask must carry roles (PROMPT/COMPLETION/IGNORE), it has only weights");
        }
        int[][] roles = mask.rolesAsInts();
        double[] ids = inputIds.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        int t = n - 1;
        float[] out = new float[b * 2 * t];
        for (int r = 0; r < b; r++) {
            for (int k = 0; k < t; k++) {
                float id = (float) ids[r * n + k + 1];
                float role = roles[r][k + 1];
                if (layout == LogitsLayout.NCW) {
                    out[(r * 2 + LossWeightedCausalLM.TARGET_CHANNEL) * t + k] = id;
                    out[(r * 2 + LossWeightedCausalLM.ROLE_CHANNEL) * t + k] = role;
                } else {
                    out[(r * t + k) * 2 + LossWeightedCausalLM.TARGET_CHANNEL] = id;
                    out[(r * t + k) * 2 + LossWeightedCausalLM.ROLE_CHANNEL] = role;
                }
            }
        }
        long[] shape = layout == LogitsLayout.NCW ? new long[] {b, 2, t} : new long[] {b, t, 2};
        return Nd4j.create(out, shape, 'c');
    }

    /**
     * The matching inputs: tokens {@code 0 .. N-2} of every row, for an {@code EmbeddingSequenceLayer}.
     *
     * @param inputIds {@code [B, N]} token ids, {@code N >= 2}
     * @return a new FLOAT array {@code [B, N-1]}
     * @throws IllegalArgumentException if {@code inputIds} is not {@code [B, N]} with {@code N >= 2}
     * @throws NullPointerException if {@code inputIds} is null
     */
    public static INDArray inputTokens(INDArray inputIds) {
        checkIds(inputIds);
        return inputIds.get(NDArrayIndex.all(), NDArrayIndex.interval(0, inputIds.size(1) - 1))
                .castTo(DataType.FLOAT).dup('c');
    }

    private static void checkIds(INDArray inputIds) {
        Objects.requireNonNull(inputIds, "inputIds");
        if (inputIds.rank() != 2 || inputIds.size(1) < 2 || inputIds.size(0) < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "inputIds must be [B, N] with B >= 1 and N >= 2 (N tokens give N-1 next-token targets), was %s",
                    Arrays.toString(inputIds.shape())));
        }
    }
}
