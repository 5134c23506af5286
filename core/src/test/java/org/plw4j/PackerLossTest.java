package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * End to end: the loss over packed rows equals the sum of the losses of the examples computed one by one
 * (each from the same logits, sliced), so nothing is ever predicted across an example boundary. Both sides
 * come from {@link WeightedCausalLMLoss} in SUM mode over double logits; tolerance 1e-12 relative (sums of a
 * few hundred double terms in different orders).
 */
class PackerLossTest {

    @Test
    void packedLossEqualsSumOfExampleLosses() {
        Random rnd = new Random(5);
        int n = 24;
        int v = 11;
        int e = 12;
        int[][] ids = new int[e][];
        int[] p = new int[e];
        for (int i = 0; i < e; i++) {
            int len = 1 + rnd.nextInt(n);
            ids[i] = new int[len];
            for (int j = 0; j < len; j++) {
                ids[i][j] = rnd.nextInt(v);
            }
            p[i] = rnd.nextInt(len + 1);
        }
        for (PackingStrategy s : PackingStrategy.values()) {
            PackedBatch b = SequencePacker.of(n, 0).withStrategy(s).pack(ids, p);
            INDArray logits = Nd4j.rand(DataType.DOUBLE, b.rows(), n, v).muli(6).subi(3);
            WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.3)
                    .withNormalization(Normalization.SUM);
            LossResult packed = loss.compute(logits, b.inputIdsArray(), b.mask());
            double sum = 0;
            long promptTokens = 0;
            long completionTokens = 0;
            for (int i = 0; i < e; i++) {
                int r = b.rowOf(i);
                int off = b.offsetOf(i);
                int len = ids[i].length;
                INDArray z = logits.get(NDArrayIndex.interval(r, r + 1), NDArrayIndex.interval(off, off + len),
                        NDArrayIndex.all());
                LossResult one = loss.compute(z, Nd4j.createFromArray(new int[][] {ids[i]}),
                        PromptCompletionMask.ofPromptLengths(new int[] {p[i]}, new int[] {len}, len, Padding.RIGHT));
                sum += one.weightedLossSum();
                promptTokens += one.promptTokens();
                completionTokens += one.completionTokens();
            }
            assertEquals(sum, packed.weightedLossSum(), 1e-12 * Math.abs(sum), s.name());
            assertEquals(promptTokens, packed.promptTokens(), s.name());
            assertEquals(completionTokens, packed.completionTokens(), s.name());
        }
    }
}
