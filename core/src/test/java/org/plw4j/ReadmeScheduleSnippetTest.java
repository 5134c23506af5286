package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The README's custom-loop schedule snippet (after {@code <!-- snippet:schedule -->}) is the code below and
 * runs. Expected PLWs from {@code linear(1, 0, 1000)}: {@code 1 - step/1000}, to 1e-15 absolute (one
 * rounding).
 */
class ReadmeScheduleSnippetTest {

    @Test
    void readmeSnippetRuns() {
        INDArray logits = Nd4j.randn(DataType.FLOAT, 2, 6, 100);
        INDArray inputIds = Nd4j.createFromArray(new int[][] {{5, 17, 42, 8, 99, 1}, {7, 3, 12, 0, 0, 0}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        // README-BEGIN
        PromptLossWeightSchedule schedule = PromptLossWeightSchedule.parse("linear:1:0:1000");
        WeightedCausalLMLoss base = WeightedCausalLMLoss.withDefaults();
        for (long step = 0; step < 3; step++) {       // logits, inputIds, mask: your batch of the step
            LossResult r = base.withPromptLossWeight(schedule.at(step))
                    .computeWithGradient(logits, inputIds, mask);
            System.out.printf("step %d: PLW %.3f, loss %.4f%n", step, schedule.at(step), r.loss());
        }
        // README-END
        double[] plw = {1.0, 0.999, 0.998};
        for (int step = 0; step < 3; step++) {
            assertEquals(plw[step], schedule.at(step), 1e-15);
        }
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:schedule -->",
                "src/test/java/org/plw4j/ReadmeScheduleSnippetTest.java");
    }
}
