package org.plw4j.samediff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.LossResult;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.ReadmeSnippets;
import org.plw4j.WeightedCausalLMLoss;

/**
 * The README's SameDiff section (a bigram language model) runs, and its value and gradient equal
 * {@link WeightedCausalLMLoss} with the shift on, on the same logits padded with one unused last position.
 * Tolerances: 1e-6 relative for the loss, 1e-7 absolute per gradient entry (float graph vs double accumulation).
 */
class ReadmeSameDiffSnippetTest {

    @Test
    void readmeSnippetRuns() {
        // README-BEGIN
        int vocab = 100;
        int batch = 2;
        SameDiff sd = SameDiff.create();
        SDVariable tokens = sd.placeHolder("tokens", DataType.INT32, -1, -1);   // [B, N-1] input tokens
        SDVariable targets = sd.placeHolder("targets", DataType.INT32, -1, -1); // [B, N-1] next token ids
        SDVariable roles = sd.placeHolder("roles", DataType.INT32, -1, -1);     // [B, N-1] their roles
        // your model here; a bigram table keeps the example small
        SDVariable bigram = sd.var("bigram", Nd4j.randn(DataType.FLOAT, vocab, vocab).muli(0.1));
        SDVariable logits = sd.oneHot(tokens, vocab, -1, 1.0, 0.0, DataType.FLOAT)
                .reshape(-1, vocab).mmul(bigram).reshape(batch, -1, vocab);     // [B, N-1, V]
        SDVariable loss = PlwSameDiff.weightedCausalLMLoss(sd, logits, targets, roles, 0.1);

        INDArray inputIds = Nd4j.createFromArray(new int[][] {
                {5, 17, 42, 8, 99, 1},
                {7, 3, 12, 0, 0, 0}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        INDArrayIndex all = NDArrayIndex.all();
        Map<String, INDArray> feed = Map.of(                                  // position t predicts token t+1
                "tokens", inputIds.get(all, NDArrayIndex.interval(0, 5)).dup(),
                "targets", inputIds.get(all, NDArrayIndex.interval(1, 6)).dup(),
                "roles", mask.roles().get(all, NDArrayIndex.interval(1, 6)).dup());
        double value = sd.outputSingle(feed, loss.name()).getDouble(0);
        INDArray dBigram = sd.calculateGradients(feed, "bigram").get("bigram"); // or sd.fit(...) with a TrainingConfig
        // README-END

        // expected: the API on the same logits (rows of the bigram table), shift on, padded to N positions
        INDArray z = bigram.getArr().get(NDArrayIndex.indices(5, 17, 42, 8, 99, 7, 3, 12, 0, 0), all)
                .reshape(2, 5, vocab);
        INDArray padded = Nd4j.concat(1, z, Nd4j.zeros(DataType.FLOAT, 2, 1, vocab)); // [B, N, V]
        LossResult want = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1)
                .computeWithGradient(padded, inputIds, mask);
        assertEquals(want.loss(), value, 1e-6 * want.loss());
        // d loss / d bigram[i, :] = sum of d loss / d logits over the positions whose input token is i
        INDArray g = want.gradient();
        int[][] in = {{5, 17, 42, 8, 99}, {7, 3, 12, 0, 0}};
        INDArray expectedGrad = Nd4j.zeros(DataType.FLOAT, vocab, vocab);
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 5; t++) {
                expectedGrad.getRow(in[b][t]).addi(g.get(NDArrayIndex.point(b), NDArrayIndex.point(t), all));
            }
        }
        assertTrue(expectedGrad.equalsWithEps(dBigram, 1e-7), "gradient");
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:samediff -->",
                "src/test/java/org/plw4j/samediff/ReadmeSameDiffSnippetTest.java");
    }
}
