package org.plw4j.examples;

import java.util.Arrays;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.LossResult;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.WeightedCausalLMLoss;

/**
 * The README's code snippet as a program: the weighted loss of a small batch at PLW 0.1, with the
 * prompt and completion losses apart. The text between the {@code snippet:quickstart} markers is the
 * README's snippet, character for character ({@code QuickStartTest} checks it).
 *
 * <pre>
 * mvn -q -B -pl examples -am package -DskipTests -Drun=QuickStart
 * </pre>
 */
public final class QuickStart {

    private QuickStart() {
    }

    /**
     * Runs the snippet and prints the loss, the prompt and completion losses and a few more metrics.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        Nd4j.getRandom().setSeed(42); // fixed logits, so that the printed numbers repeat
        LossResult r = snippet();
        System.out.printf(Locale.ROOT, "weights: prompt %.1f, completion 1; targets: %d prompt, %d completion%n",
                0.1, r.promptTokens(), r.completionTokens());
        System.out.printf(Locale.ROOT, "accuracy: prompt %.3f, completion %.3f; gradient shape %s%n",
                r.promptAccuracy(), r.completionAccuracy(), Arrays.toString(r.gradient().shape()));
    }

    /** @return the snippet's result */
    static LossResult snippet() {
        // snippet:quickstart begin
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
        // snippet:quickstart end
        assert dLogits.equalShapes(logits);
        return r;
    }
}
