package org.plw4j;

import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link PromptCompletionMask#ofHfLabels} (SPEC section 8: attention 0 IGNORE, label == ignoreIndex PROMPT,
 * otherwise COMPLETION). Expected roles worked out by hand.
 */
class MaskHfLabelsTest {

    @Test
    void labelsAndAttention() {
        INDArray labels = Nd4j.createFromArray(new long[][] {{-100, -100, 17, 42, -100}, {-100, -100, -100, 5, 6}});
        INDArray att = Nd4j.createFromArray(new long[][] {{1, 1, 1, 1, 0}, {0, 1, 1, 1, 1}});
        assertRoles(PromptCompletionMask.ofHfLabels(labels, att, -100), "PPCCI", "IPPCC");
    }

    @Test
    void nullAttentionMeansAllAttended() {
        INDArray labels = Nd4j.createFromArray(new int[][] {{-100, 3, -100}});
        assertRoles(PromptCompletionMask.ofHfLabels(labels, null, -100), "PCP");
    }

    @Test
    void customIgnoreIndex() {
        INDArray labels = Nd4j.createFromArray(new int[][] {{-1, -1, 0, -100}});
        assertRoles(PromptCompletionMask.ofHfLabels(labels, null, -1), "PPCC");
    }

    @Test
    void rejectsShapeMismatch() {
        assertRejects(() -> PromptCompletionMask.ofHfLabels(Nd4j.createFromArray(new int[][] {{1, 2, 3}}),
                Nd4j.createFromArray(new int[][] {{1, 1}}), -100), "same shape", "[1, 3]", "[1, 2]");
    }

    @Test
    void rejectsNonBinaryAttention() {
        assertRejects(() -> PromptCompletionMask.ofHfLabels(Nd4j.createFromArray(new int[][] {{1, 2}}),
                Nd4j.createFromArray(new int[][] {{1, -1}}), -100), "attentionMask", "[0, 1]", "-1");
    }

    @Test
    void rejectsNonIntegralLabels() {
        assertRejects(() -> PromptCompletionMask.ofHfLabels(Nd4j.createFromArray(new double[][] {{1.0, 2.5}}),
                null, -100), "labels", "integral", "2.5");
    }

    @Test
    void rejectsWrongRank() {
        assertRejects(() -> PromptCompletionMask.ofHfLabels(Nd4j.createFromArray(new int[] {1, 2}), null, -100),
                "labels", "rank 2");
    }
}
