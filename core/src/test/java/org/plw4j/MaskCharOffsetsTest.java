package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link PromptCompletionMask#ofCharOffsets} (SPEC section 8: PROMPT when end &lt;= c, COMPLETION otherwise;
 * empty offsets take the role of the token before). The texts and offsets below are written out by hand;
 * the expected roles follow from the rule token by token.
 */
class MaskCharOffsetsTest {
    // Text "Q: hi\nA: yo", prompt "Q: hi\n", c = 6.
    // tokens: BOS(0,0) "Q:"(0,2) " hi"(2,5) "\n"(5,6) "A:"(6,8) " yo"(8,11) EOS(0,0)
    private static final int[] STARTS = {0, 0, 2, 5, 6, 8, 0};
    private static final int[] ENDS = {0, 2, 5, 6, 8, 11, 0};
    // Same text, another tokenisation: "\nA"(5,7) straddles the boundary at 6
    private static final int[] STARTS_STRADDLE = {0, 0, 2, 5, 7, 8, 0};
    private static final int[] ENDS_STRADDLE = {0, 2, 5, 7, 8, 11, 0};

    @Test
    void tokenEndingAtTheBoundaryIsPromptAndStraddlingTokenIsCompletion() {
        PromptCompletionMask m = PromptCompletionMask.ofCharOffsets(new int[][] {STARTS, STARTS_STRADDLE},
                new int[][] {ENDS, ENDS_STRADDLE}, new int[] {6, 6}, 8, Padding.RIGHT);
        // row 0: "\n"(5,6) ends exactly at c = 6 -> PROMPT; EOS after " yo" -> COMPLETION
        // row 1: "\nA"(5,7) holds completion text -> COMPLETION
        assertRoles(m, "PPPPCCCI", "PPPCCCCI");
    }

    @Test
    void leftPaddingJavaArrays() {
        PromptCompletionMask m = PromptCompletionMask.ofCharOffsets(new int[][] {STARTS}, new int[][] {ENDS},
                new int[] {6}, 9, Padding.LEFT);
        assertRoles(m, "IIPPPPCCC");
    }

    @Test
    void consecutiveSpecialTokensChainTheRoleBeforeThem() {
        // "ab" + "cd", c = 2: "ab"(0,2) P, <sep>(0,0) P, "cd"(2,4) C, <eos>(0,0) C, <pad-like special>(4,4) C
        PromptCompletionMask m = PromptCompletionMask.ofCharOffsets(new int[][] {{0, 0, 2, 0, 4}},
                new int[][] {{2, 0, 4, 0, 4}}, new int[] {2}, 5, Padding.RIGHT);
        assertRoles(m, "PPCCC");
    }

    @Test
    void emptyPromptMakesEveryRealTokenCompletionButALeadingSpecialTokenPrompt() {
        PromptCompletionMask m = PromptCompletionMask.ofCharOffsets(new int[][] {{0, 0, 3}},
                new int[][] {{0, 3, 5}}, new int[] {0}, 3, Padding.RIGHT);
        assertRoles(m, "PCC");
    }

    @Test
    void ndArrayWithHuggingFaceStylePaddingAndAttentionMask() {
        // row 0 left-padded (pads have offsets (0,0) and attention 0); BOS after the padding has no attended
        // token before it -> PROMPT. Row 1 right-padded with the straddling tokenisation.
        int[][][] off = new int[2][9][2];
        for (int k = 0; k < 7; k++) {
            off[0][k + 2] = new int[] {STARTS[k], ENDS[k]};
            off[1][k] = new int[] {STARTS_STRADDLE[k], ENDS_STRADDLE[k]};
        }
        INDArray offsets = Nd4j.createFromArray(off);
        INDArray att = Nd4j.createFromArray(new int[][] {{0, 0, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0, 0}});
        PromptCompletionMask m = PromptCompletionMask.ofCharOffsets(offsets, att, new int[] {6, 6});
        assertRoles(m, "IIPPPPCCC", "PPPCCCCII");
        // the same roles from the Java-array overload, and from views of row 0
        assertEquals(PromptCompletionMask.ofCharOffsets(new int[][] {STARTS}, new int[][] {ENDS}, new int[] {6}, 9,
                Padding.LEFT), PromptCompletionMask.ofCharOffsets(
                        offsets.get(NDArrayIndex.interval(0, 1), NDArrayIndex.all(), NDArrayIndex.all()),
                        att.get(NDArrayIndex.interval(0, 1), NDArrayIndex.all()), new int[] {6}));
    }

    @Test
    void ndArrayWithoutAttentionMask() {
        int[][][] off = new int[1][7][];
        for (int k = 0; k < 7; k++) {
            off[0][k] = new int[] {STARTS[k], ENDS[k]};
        }
        assertRoles(PromptCompletionMask.ofCharOffsets(Nd4j.createFromArray(off), null, new int[] {6}), "PPPPCCC");
    }

    @Test
    void unattendedOffsetsAreNotChecked() {
        INDArray offsets = Nd4j.createFromArray(new int[][][] {{{-5, -9}, {0, 3}}});
        INDArray att = Nd4j.createFromArray(new int[][] {{0, 1}});
        assertRoles(PromptCompletionMask.ofCharOffsets(offsets, att, new int[] {1}), "IC");
    }

    @Test
    void rejectsNegativeStart() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(new int[][] {{0, -1}}, new int[][] {{1, 2}},
                new int[] {1}, 4, Padding.RIGHT), "row 0", "token 1", "-1");
    }

    @Test
    void rejectsEndBeforeStart() {
        INDArray offsets = Nd4j.createFromArray(new int[][][] {{{0, 2}, {4, 3}}});
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(offsets, null, new int[] {1}),
                "row 0", "position 1", "end offset 3", "start offset 4");
    }

    @Test
    void rejectsNegativePromptChars() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(new int[][] {{0}}, new int[][] {{1}},
                new int[] {-4}, 4, Padding.RIGHT), "row 0", "promptChars[0]", "-4");
    }

    @Test
    void rejectsRowLongerThanMaxLength() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(new int[][] {{0, 1, 2}}, new int[][] {{1, 2, 3}},
                new int[] {1}, 2, Padding.RIGHT), "row 0", "3 tokens", "maxLength = 2");
    }

    @Test
    void rejectsStartsEndsMismatch() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(new int[][] {{0, 1}}, new int[][] {{1}},
                new int[] {1}, 4, Padding.RIGHT), "row 0", "2 tokens", "1");
    }

    @Test
    void rejectsWrongOffsetsShape() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(Nd4j.zeros(1, 3, 3), null, new int[] {1}),
                "offsets", "[B, N, 2]", "[1, 3, 3]");
    }

    @Test
    void rejectsAttentionShapeMismatch() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(Nd4j.zeros(1, 3, 2), Nd4j.ones(1, 2), new int[] {1}),
                "attentionMask", "[1, 3]", "[1, 2]");
    }

    @Test
    void rejectsPromptCharsCountMismatch() {
        assertRejects(() -> PromptCompletionMask.ofCharOffsets(Nd4j.zeros(2, 3, 2), null, new int[] {1}),
                "promptChars", "2", "1");
    }
}
