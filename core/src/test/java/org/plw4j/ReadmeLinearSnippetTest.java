package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The README's fused linear snippet ({@code <!-- snippet:linear -->}) is the code between the markers below and
 * runs here; {@code inputIds}, {@code mask} and {@code loss} are those of the quick-start snippet. Its loss must
 * be that of the materialised logits {@code hidden * lmHead^T} through {@code compute}: relative 1e-5 (FLOAT: the
 * GEMM rounds the logits in another order over H = 64 terms, the kernel computes rows in fp32).
 */
class ReadmeLinearSnippetTest {

    @Test
    void readmeSnippetRuns() {
        INDArray inputIds = Nd4j.createFromArray(new int[][] {
                {5, 17, 42, 8, 99, 1},
                {7, 3, 12, 0, 0, 0}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
        // README-BEGIN
        INDArray hidden = Nd4j.randn(DataType.FLOAT, 2, 6, 64);       // [B, N, H]: the last hidden states
        INDArray lmHead = Nd4j.randn(DataType.FLOAT, 100, 64).muli(0.1); // [V, H]: lm_head / nn.Linear weight
        LinearLossResult fused = loss.computeFromHiddenWithGradient(hidden, lmHead, inputIds, mask);
        System.out.printf("loss %.4f, completion loss %.4f%n", fused.loss(), fused.completionLoss());
        INDArray dHidden = fused.hiddenGradient();                     // [B, N, H], into your model
        INDArray dLmHead = fused.weightGradient();                     // [V, H]
        // README-END
        assertArrayEquals(hidden.shape(), dHidden.shape());
        assertArrayEquals(lmHead.shape(), dLmHead.shape());
        INDArray logits = hidden.reshape(12, 64).mmul(lmHead.transpose()).reshape(2, 6, 100);
        double expected = loss.compute(logits, inputIds, mask).loss();
        assertEquals(expected, fused.loss(), 1e-5 * expected);
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:linear -->",
                "src/test/java/org/plw4j/ReadmeLinearSnippetTest.java");
    }
}
