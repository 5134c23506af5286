package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link PromptCompletionMask#ofPromptLengths} (SPEC section 8, first row of the table). Expected roles
 * are worked out by hand from the rule: right padding [0,p) P, [p,n) C, rest I; left padding shifted by N - n.
 */
class MaskPromptLengthsTest {

    @Test
    void rightPadding() {
        PromptCompletionMask m = PromptCompletionMask.ofPromptLengths(new int[] {3, 2}, new int[] {5, 4}, 6,
                Padding.RIGHT);
        assertRoles(m, "PPPCCI", "PPCCII");
        assertEquals(5, m.promptCount());
        assertEquals(4, m.completionCount());
    }

    @Test
    void leftPadding() {
        PromptCompletionMask m = PromptCompletionMask.ofPromptLengths(new int[] {2, 1}, new int[] {5, 3}, 6,
                Padding.LEFT);
        assertRoles(m, "IPPCCC", "IIIPCC");
    }

    @Test
    void edgeLengths() {
        // no prompt, all prompt, empty row, full row
        PromptCompletionMask m = PromptCompletionMask.ofPromptLengths(new int[] {0, 3, 0, 1},
                new int[] {2, 3, 0, 4}, 4, Padding.LEFT);
        assertRoles(m, "IICC", "IPPP", "IIII", "PCCC");
    }

    @Test
    void rolesArrayIsIntCodes() {
        INDArray r = PromptCompletionMask.ofPromptLengths(new int[] {1}, new int[] {3}, 4, Padding.RIGHT).roles();
        assertArrayEquals(new long[] {1, 4}, r.shape());
        assertArrayEquals(new int[] {1, 2, 2, 0}, r.toIntVector());
    }

    @Test
    void rejectsPromptLongerThanSequence() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[] {1, 5}, new int[] {3, 4}, 6, Padding.RIGHT),
                "row 1", "promptLengths[1] = 5", "sequenceLengths[1] = 4");
    }

    @Test
    void rejectsSequencePastMaxLength() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[] {1}, new int[] {7}, 6, Padding.LEFT),
                "row 0", "sequenceLengths[0] = 7", "maxLength = 6");
    }

    @Test
    void rejectsNegativePrompt() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[] {0, -1}, new int[] {3, 4}, 6, Padding.RIGHT),
                "row 1", "promptLengths[1]", "-1");
    }

    @Test
    void rejectsNegativeSequence() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[] {0}, new int[] {-2}, 6, Padding.RIGHT),
                "row 0", "sequenceLengths[0]", "-2");
    }

    @Test
    void rejectsMismatchedArrays() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[] {1, 1}, new int[] {3}, 6, Padding.RIGHT),
                "sequenceLengths", "2", "1");
    }

    @Test
    void rejectsNonPositiveMaxLength() {
        assertRejects(() -> PromptCompletionMask.ofPromptLengths(new int[0], new int[0], 0, Padding.RIGHT),
                "maxLength", "0");
    }

    @Test
    void rejectsNullSide() {
        assertThrows(NullPointerException.class,
                () -> PromptCompletionMask.ofPromptLengths(new int[] {1}, new int[] {1}, 1, null));
    }
}
