package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link PromptCompletionMask#ofAttentionMask} (SPEC section 8: attention 0 IGNORE, the first p attended
 * tokens PROMPT, the rest COMPLETION). Expected roles worked out by hand.
 */
class MaskAttentionTest {

    @Test
    void leftAndRightPadding() {
        INDArray att = Nd4j.createFromArray(new long[][] {{0, 0, 1, 1, 1}, {1, 1, 1, 1, 0}});
        assertRoles(PromptCompletionMask.ofAttentionMask(att, new int[] {1, 3}), "IIPCC", "PPPCI");
    }

    @Test
    void holesAreSkippedWhenCountingPromptTokens() {
        INDArray att = Nd4j.createFromArray(new int[][] {{1, 0, 1, 1, 0, 1}});
        assertRoles(PromptCompletionMask.ofAttentionMask(att, new int[] {2}), "PIPCIC");
    }

    @Test
    void javaArrayAndBoolAndFloatMasksAgree() {
        int[][] att = {{0, 1, 1, 1}, {1, 1, 0, 0}};
        int[] p = {2, 0};
        PromptCompletionMask expected = PromptCompletionMask.ofAttentionMask(att, p);
        assertRoles(expected, "IPPC", "CCII");
        assertEquals(expected, PromptCompletionMask.ofAttentionMask(Nd4j.createFromArray(att).castTo(DataType.BOOL), p));
        assertEquals(expected, PromptCompletionMask.ofAttentionMask(Nd4j.createFromArray(att).castTo(DataType.FLOAT), p));
    }

    @Test
    void rejectsPromptLongerThanAttendedTokens() {
        INDArray att = Nd4j.createFromArray(new int[][] {{1, 1, 1, 0}, {0, 1, 1, 0}});
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(att, new int[] {3, 3}),
                "row 1", "promptLengths[1] = 3", "2 attended");
    }

    @Test
    void rejectsNegativePrompt() {
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(new int[][] {{1, 1}}, new int[] {-1}),
                "row 0", "promptLengths[0]", "-1");
    }

    @Test
    void rejectsNonBinaryMask() {
        INDArray att = Nd4j.createFromArray(new int[][] {{1, 2}});
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(att, new int[] {1}), "attentionMask", "[0, 1]", "2");
    }

    @Test
    void rejectsRowCountMismatch() {
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(new int[][] {{1, 1}}, new int[] {1, 1}),
                "promptLengths", "1", "2");
    }

    @Test
    void rejectsWrongRank() {
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(Nd4j.ones(2, 2, 2), new int[] {1, 1}),
                "attentionMask", "rank 2", "3");
    }

    @Test
    void rejectsRaggedJavaMask() {
        assertRejects(() -> PromptCompletionMask.ofAttentionMask(new int[][] {{1, 1}, {1}}, new int[] {1, 1}),
                "row 1", "length 2", "1");
    }
}
