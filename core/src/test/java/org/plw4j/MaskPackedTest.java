package org.plw4j;

import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import org.junit.jupiter.api.Test;

/**
 * {@link PromptCompletionMask#ofPacked} (SPEC section 8: each example as prompt lengths would make it, the
 * first token of every example IGNORE as a target). Expected roles worked out by hand.
 */
class MaskPackedTest {

    @Test
    void examplesEndToEnd() {
        PromptCompletionMask m = PromptCompletionMask.ofPacked(new int[][][] {{{2, 2}, {1, 2}}, {{3, 5}}}, 8);
        assertRoles(m, "IPCCICCI", "IPPCCCCC");
    }

    @Test
    void explicitStartsWithGap() {
        PromptCompletionMask m = PromptCompletionMask.ofPacked(new int[][][] {{{0, 1, 1}, {3, 2, 1}}}, 7);
        assertRoles(m, "ICIIPCI");
    }

    @Test
    void exampleWithoutPromptAndEmptyRow() {
        PromptCompletionMask m = PromptCompletionMask.ofPacked(new int[][][] {{{0, 3}, {1, 0}}, {}}, 5);
        assertRoles(m, "ICCII", "IIIII");
    }

    @Test
    void noTargetIsPredictedAcrossAnExampleBoundary() {
        // under the loss's shift, logit t predicts token t + 1 with the role of t + 1; every example start is IGNORE
        int[][][] rows = {{{3, 4}, {2, 6}, {5, 1}, {1, 1}}};
        PromptCompletionMask m = PromptCompletionMask.ofPacked(rows, 30);
        int start = 0;
        for (int[] ex : rows[0]) {
            assert m.role(0, start) == TokenRole.IGNORE;
            start += ex[0] + ex[1];
        }
        assertRoles(m, "IPPCCCCIPCCCCCCIPPPPCICIIIIIII");
    }

    @Test
    void rejectsOverflow() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{2, 2}}, {{2, 2}, {1, 2}}}, 6),
                "row 1", "example 1", "[4, 7)", "maxLength = 6");
    }

    @Test
    void rejectsOverlap() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{0, 2, 2}, {3, 1, 1}}}, 8),
                "row 0", "example 1", "starts at 3", "ends at 4");
    }

    @Test
    void rejectsNegativeLength() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{2, -1}}}, 8),
                "row 0", "example 0", "2 and -1");
    }

    @Test
    void rejectsNegativeStart() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{-1, 2, 1}}}, 8),
                "row 0", "example 0", "start", "-1");
    }

    @Test
    void rejectsEmptyExample() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{1, 1}, {0, 0}}}, 8),
                "row 0", "example 1", "at least one token");
    }

    @Test
    void rejectsMalformedEntry() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{1, 1, 1, 1}}}, 8),
                "row 0", "example 0", "[1, 1, 1, 1]");
    }

    @Test
    void rejectsNullRow() {
        assertRejects(() -> PromptCompletionMask.ofPacked(new int[][][] {{{1, 1}}, null}, 8), "row 1");
    }
}
