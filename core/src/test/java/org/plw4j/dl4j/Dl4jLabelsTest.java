package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.LogitsLayout;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;

/** {@link Dl4jLabels}: the shift by one, both layouts, checked element by element against SPEC section 2. */
class Dl4jLabelsTest {
    private static final INDArray IDS = Nd4j.createFromArray(new int[][] {{5, 17, 42, 8, 99, 1}, {7, 3, 12, 0, 0, 0}});
    /** Row 0: 3 prompt + 3 completion tokens; row 1: 2 prompt, 1 completion, 3 padding. */
    private static final PromptCompletionMask MASK = PromptCompletionMask.ofPromptLengths(new int[] {3, 2},
            new int[] {6, 3}, 6, Padding.RIGHT);

    @Test
    void nextTokenLabelsNcwAndNwc() {
        int[][] roles = MASK.rolesAsInts();
        INDArray ncw = Dl4jLabels.nextToken(IDS, MASK, LogitsLayout.NCW);
        INDArray nwc = Dl4jLabels.nextToken(IDS, MASK, LogitsLayout.NWC);
        assertArrayEquals(new long[] {2, 2, 5}, ncw.shape());
        assertArrayEquals(new long[] {2, 5, 2}, nwc.shape());
        assertEquals(DataType.FLOAT, ncw.dataType());
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < 5; t++) {
                assertEquals(IDS.getInt(b, t + 1), ncw.getInt(b, 0, t), "target id (b,t)=(" + b + "," + t + ")");
                assertEquals(roles[b][t + 1], ncw.getInt(b, 1, t), "role (b,t)=(" + b + "," + t + ")");
                assertEquals(ncw.getDouble(b, 0, t), nwc.getDouble(b, t, 0), 0.0);
                assertEquals(ncw.getDouble(b, 1, t), nwc.getDouble(b, t, 1), 0.0);
            }
        }
        // the targets of row 0 are tokens 1..5: prompt, prompt, completion x3
        assertArrayEquals(new int[] {1, 1, 2, 2, 2}, ncw.get(NDArrayIndex.point(0),
                NDArrayIndex.point(1)).toIntVector());
    }

    @Test
    void inputTokensDropTheLastToken() {
        INDArray x = Dl4jLabels.inputTokens(IDS);
        assertArrayEquals(new long[] {2, 5}, x.shape());
        assertArrayEquals(new int[] {5, 17, 42, 8, 99}, x.getRow(0).toIntVector());
        assertArrayEquals(new int[] {7, 3, 12, 0, 0}, x.getRow(1).toIntVector());
    }

    @Test
    void rejectsBadInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Dl4jLabels.inputTokens(Nd4j.zeros(DataType.INT32, 2, 1)));
        assertTrue(e.getMessage().contains("N >= 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Dl4jLabels.nextToken(Nd4j.zeros(DataType.INT32, 2, 5),
                MASK, LogitsLayout.NCW));
        assertThrows(IllegalArgumentException.class, () -> Dl4jLabels.nextToken(IDS,
                PromptCompletionMask.ofWeights(Nd4j.ones(DataType.DOUBLE, 2, 6)), LogitsLayout.NCW));
        assertThrows(IllegalArgumentException.class, () -> Dl4jLabels.nextToken(Nd4j.zeros(DataType.INT32, 6),
                MASK, LogitsLayout.NCW));
    }
}
