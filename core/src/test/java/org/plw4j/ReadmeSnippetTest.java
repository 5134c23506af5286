package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Keeps the README honest: the Java block after {@code <!-- snippet:quickstart -->} in README.md must be
 * exactly the code between the README markers below (whitespace-normalised), and that code runs here.
 */
class ReadmeSnippetTest {

    @Test
    void readmeSnippetRuns() {
        // README-BEGIN
        INDArray logits = Nd4j.randn(DataType.FLOAT, 2, 6, 100);      // [B, N, V] from your model
        INDArray inputIds = Nd4j.createFromArray(new int[][] {
                {5, 17, 42, 8, 99, 1},
                {7, 3, 12, 0, 0, 0}});
        // row 0: 3 prompt tokens, 3 completion tokens; row 1: 2 prompt, 1 completion, 3 padding
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
        LossResult r = loss.computeWithGradient(logits, inputIds, mask);
        System.out.printf("loss %.4f, prompt loss %.4f, completion loss %.4f%n",
                r.loss(), r.promptLoss(), r.completionLoss());
        INDArray dLogits = r.gradient();                              // [B, N, V], for your backward pass
        // README-END
        assertNotNull(dLogits);
        // shifted targets (the first token is never a target): prompt = row 0 tokens 1, 2 and row 1 token 1;
        // completion = row 0 tokens 3, 4, 5 and row 1 token 2
        assertEquals(3, r.promptTokens());
        assertEquals(4, r.completionTokens());
        assertTrue(Double.isFinite(r.loss()));
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:quickstart -->",
                "src/test/java/org/plw4j/ReadmeSnippetTest.java");
    }
}
