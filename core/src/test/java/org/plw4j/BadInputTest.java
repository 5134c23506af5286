package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SPEC section 10, one test per rule: an IllegalArgumentException whose message names the parameter,
 * the rule and the offending index/value, thrown before anything is written (the in-place variant
 * leaves the logits untouched).
 */
class BadInputTest {
    private final INDArray z = TestData.logits(new Random(1), 2, 4, 8, false, DataType.FLOAT,
            TestData.ViewKind.C_ORDER, 1);
    private final INDArray ids = Nd4j.createFromArray(new int[][] {{1, 2, 3, 4}, {5, 6, 7, 0}});
    private final PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 2, 2}, {1, 2, 2, 0}});
    private final WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);

    private void rejects(Executable call, String... fragments) {
        INDArray before = z.dup();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should contain '" + f + "'");
        }
        assertEquals(before, z, "nothing written");
    }

    @Test
    void wrongRankOfLogits() {
        rejects(() -> loss.compute(z.reshape(8, 8), ids, mask), "logits", "rank 3", "rank 2");
    }

    @Test
    void wrongRankOfIds() {
        rejects(() -> loss.compute(z, ids.reshape(8), mask), "inputIds", "rank 2", "rank 1");
    }

    @Test
    void mismatchedBatch() {
        rejects(() -> loss.compute(z, Nd4j.createFromArray(new int[][] {{1, 2, 3, 4}}), mask), "inputIds", "[2, 4]",
                "[1, 4]");
    }

    @Test
    void mismatchedLength() {
        rejects(() -> loss.compute(z, ids, PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2}, {1, 2, 2}})), "mask",
                "[2, 4]", "[2, 3]");
    }

    @Test
    void targetIdOutOfRange() {
        INDArray bad = Nd4j.createFromArray(new int[][] {{1, 2, 8, 4}, {5, 6, 7, 0}});
        rejects(() -> loss.compute(z, bad, mask), "inputIds", "[0, 8)", "[0, 2]", "was 8");
        rejects(() -> loss.computeWithGradientInPlace(z, bad, mask), "inputIds", "was 8");
        INDArray neg = Nd4j.createFromArray(new int[][] {{1, -5, 3, 4}, {5, 6, 7, 0}});
        rejects(() -> loss.compute(z, neg, mask), "inputIds", "[0, 1]", "was -5");
    }

    @Test
    void outOfRangeIdsAreAllowedWhereTheRoleIsIgnore() {
        // row 1, position 3 is IGNORE (padding): any id there is fine; so is the ignore index anywhere
        INDArray pad = Nd4j.createFromArray(new int[][] {{1, 2, -100, 4}, {5, 6, 7, 123456}});
        assertTrue(Double.isFinite(loss.compute(z, pad, mask).loss()));
    }

    @Test
    void nonIntegralId() {
        INDArray frac = Nd4j.createFromArray(new double[][] {{1, 2, 3.5, 4}, {5, 6, 7, 0}});
        rejects(() -> loss.compute(z, frac, mask), "inputIds", "integral", "[0, 2]", "3.5");
        INDArray nan = Nd4j.createFromArray(new float[][] {{1, 2, 3, 4}, {5, 6, 7, Float.NaN}});
        rejects(() -> loss.compute(z, nan, mask), "inputIds", "integral", "NaN");
    }

    @Test
    void integralFloatIdsAreAccepted() {
        INDArray f = Nd4j.createFromArray(new float[][] {{1, 2, 3, 4}, {5, 6, 7, 0}});
        assertEquals(loss.compute(z, ids, mask).loss(), loss.compute(z, f, mask).loss(), 0.0);
    }

    @Test
    void promptLossWeightNaNInfiniteOrOutsideUnitInterval() {
        for (double plw : new double[] {Double.NaN, Double.POSITIVE_INFINITY, -0.1, 1.0001}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> loss.withPromptLossWeight(plw));
            assertTrue(e.getMessage().contains("promptLossWeight") && e.getMessage().contains("[0, 1]")
                    && e.getMessage().contains(String.valueOf(plw)), e.getMessage());
        }
    }

    @Test
    void negativeOrNonFiniteExplicitWeight() {
        for (double w : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
            INDArray weights = Nd4j.ones(DataType.DOUBLE, 2, 4);
            weights.putScalar(1, 2, w);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PromptCompletionMask.ofWeights(weights));
            assertTrue(e.getMessage().contains("weights") && e.getMessage().contains("[1, 2]")
                    && e.getMessage().contains(String.valueOf(w)), e.getMessage());
        }
    }

    @Test
    void unsupportedLogitsDtype() {
        rejects(() -> loss.compute(z.castTo(DataType.INT), ids, mask), "logits", "FLOAT, DOUBLE, HALF or BFLOAT16",
                "INT");
    }

    @Test
    void unsupportedIdDtype() {
        rejects(() -> loss.compute(z, ids.castTo(DataType.BOOL), mask), "inputIds", "BOOL");
    }

    @Test
    void badRoleCode() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PromptCompletionMask.ofRoles(new int[][] {{1, 3}}));
        assertTrue(e.getMessage().contains("roles") && e.getMessage().contains("[0, 1]") && e.getMessage().contains("3"));
    }

    @Test
    void badGlobalDenominatorAndNulls() {
        assertThrows(IllegalArgumentException.class, () -> loss.withGlobalDenominator(0));
        assertThrows(IllegalArgumentException.class, () -> loss.withGlobalDenominator(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> loss.withNormalization(Normalization.GLOBAL_DENOMINATOR));
        assertThrows(IllegalArgumentException.class, () -> loss.withNormalization(null));
        assertThrows(IllegalArgumentException.class, () -> loss.withLayout(null));
        rejects(() -> loss.compute(null, ids, mask), "logits");
        rejects(() -> loss.compute(z, null, mask), "inputIds");
        rejects(() -> loss.compute(z, ids, null), "mask");
    }

    @Test
    void emptyVocabulary() {
        rejects(() -> loss.compute(Nd4j.create(DataType.FLOAT, 2, 4, 0), ids, mask), "V >= 1");
    }
}
