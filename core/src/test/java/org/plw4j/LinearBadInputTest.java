package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.plw4j.MaskFixtures.assertRejects;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Bad input to the fused linear path: each is an IllegalArgumentException whose message names the parameter,
 * the rule and the value, and the caller's gradient arrays (filled with 7 beforehand) are untouched.
 */
class LinearBadInputTest {
    private static final WeightedCausalLMLoss LOSS = WeightedCausalLMLoss.withDefaults();
    private INDArray hidden;
    private INDArray weight;
    private INDArray bias;
    private INDArray ids;
    private PromptCompletionMask mask;
    private INDArray dh;
    private INDArray dw;
    private INDArray db;

    @BeforeEach
    void inputs() {
        hidden = Nd4j.rand(DataType.DOUBLE, 2, 3, 4);
        weight = Nd4j.rand(DataType.DOUBLE, 5, 4);
        bias = Nd4j.rand(DataType.DOUBLE, 5);
        ids = Nd4j.createFromArray(new int[][] {{0, 1, 2}, {3, 4, 0}});
        mask = PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2}, {1, 1, 2}});
        dh = Nd4j.create(DataType.DOUBLE, 2, 3, 4).assign(7);
        dw = Nd4j.create(DataType.DOUBLE, 5, 4).assign(7);
        db = Nd4j.create(DataType.DOUBLE, 5).assign(7);
    }

    private void rejectsUntouched(Executable call, String... fragments) {
        assertRejects(call, fragments);
        for (INDArray g : new INDArray[] {dh, dw, db}) {
            assertEquals(7.0, g.minNumber().doubleValue(), "nothing written");
            assertEquals(7.0, g.maxNumber().doubleValue(), "nothing written");
        }
    }

    private Executable withGradients(WeightedCausalLMLoss loss, INDArray h, INDArray w, INDArray b, INDArray i) {
        return () -> loss.computeFromHiddenWithGradient(h, w, b, i, mask, dh, dw, db, GradientMode.ACCUMULATE);
    }

    @Test
    void hiddenSizeMismatch() {
        INDArray w = Nd4j.rand(DataType.DOUBLE, 5, 3);
        rejectsUntouched(() -> LOSS.computeFromHidden(hidden, w, ids, mask), "weight must be [V, H] with H = 4",
                "[5, 3]");
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, w, bias, ids, mask, dh, null, db,
                GradientMode.OVERWRITE), "weight must be [V, H] with H = 4");
    }

    @Test
    void ranksDtypesAndNulls() {
        rejectsUntouched(withGradients(LOSS, hidden.reshape(6, 4), weight, bias, ids), "hidden must have rank 3",
                "[6, 4]");
        rejectsUntouched(withGradients(LOSS, hidden, weight.reshape(20), bias, ids), "weight must have rank 2");
        rejectsUntouched(withGradients(LOSS, hidden.castTo(DataType.FLOAT), weight, bias, ids),
                "hidden must have the weight's dtype DOUBLE, was FLOAT");
        rejectsUntouched(withGradients(LOSS, hidden, weight.castTo(DataType.INT), bias, ids),
                "weight must have dtype FLOAT, DOUBLE, HALF or BFLOAT16, was INT");
        rejectsUntouched(withGradients(LOSS, null, weight, bias, ids), "hidden must not be null");
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, dw, db, null),
                "gradientMode must not be null");
        rejectsUntouched(withGradients(LOSS, hidden, weight, bias, Nd4j.createFromArray(new int[][] {{0, 1}})),
                "inputIds must have shape [B, N] = [2, 3]");
    }

    @Test
    void biasOfTheWrongLength() {
        rejectsUntouched(withGradients(LOSS, hidden, weight, Nd4j.rand(DataType.DOUBLE, 6), ids),
                "bias must be a vector of length V = 5", "[6]");
        rejectsUntouched(withGradients(LOSS, hidden, weight, Nd4j.rand(DataType.DOUBLE, 5, 2), ids),
                "bias must be a vector of length V = 5", "[5, 2]");
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, null, ids, mask, dh, dw, db,
                GradientMode.OVERWRITE), "biasGradientOut must be null when no bias is given");
    }

    @Test
    void idsOutsideTheVocabulary() {
        INDArray bad = Nd4j.createFromArray(new int[][] {{0, 5, 2}, {3, 4, 0}});
        rejectsUntouched(withGradients(LOSS, hidden, weight, bias, bad), "inputIds must hold target ids in [0, 5)",
                "was 5");
        INDArray negative = Nd4j.createFromArray(new int[][] {{0, 1, 2}, {3, -1, 0}});
        rejectsUntouched(() -> LOSS.computeFromHidden(hidden, weight, negative, mask), "was -1");
    }

    @Test
    void chunkBudgets() {
        assertRejects(() -> LOSS.withChunkBytes(0), "chunkBytes must be > 0, was 0");
        assertRejects(() -> LOSS.withChunkBytes(-8), "chunkBytes must be > 0, was -8");
        // one row needs (V + 2H) doubles = (5 + 8) * 8 = 104 bytes
        rejectsUntouched(withGradients(LOSS.withChunkBytes(103), hidden, weight, bias, ids),
                "chunkBytes must hold at least one row", "= 104 bytes", "was 103");
        assertRejects(() -> LOSS.withZeroWeightRows(null), "zeroWeightRows must not be null");
    }

    @Test
    void gradientArraysOfTheWrongShapeOrDtype() {
        INDArray small = Nd4j.create(DataType.DOUBLE, 4, 4).assign(7);
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, small, db,
                GradientMode.OVERWRITE), "weightGradientOut must have the shape [5, 4] and dtype DOUBLE", "[4, 4]");
        INDArray floats = Nd4j.create(DataType.FLOAT, 2, 3, 4).assign(7);
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, floats, dw, db,
                GradientMode.OVERWRITE), "hiddenGradientOut must have the shape [2, 3, 4] and dtype DOUBLE", "FLOAT");
        INDArray row = Nd4j.create(DataType.DOUBLE, 4).assign(7);
        INDArray broadcast = Nd4j.create(row.data(), new long[] {5, 4}, new long[] {0, 1}, 0, 'c');
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, broadcast, db,
                GradientMode.OVERWRITE), "weightGradientOut must not have overlapping elements", "stride 0");
    }

    @Test
    void gradientArraysOverlappingTheInputsOrEachOther() {
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, weight, db,
                GradientMode.OVERWRITE), "weightGradientOut must not share memory with weight");
        INDArray both = Nd4j.create(DataType.DOUBLE, 2, 3, 5);
        INDArray h = both.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, 4)).assign(1);
        INDArray g = both.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(1, 5));
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(h, weight, bias, ids, mask, g, dw, db,
                GradientMode.OVERWRITE), "hiddenGradientOut must not share memory with hidden");
        INDArray flat = Nd4j.create(DataType.DOUBLE, 25);
        INDArray w1 = flat.get(NDArrayIndex.interval(0, 20)).reshape(5, 4);
        INDArray b1 = flat.get(NDArrayIndex.interval(15, 20));
        rejectsUntouched(() -> LOSS.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, w1, b1,
                GradientMode.OVERWRITE), "weightGradientOut must not share memory with biasGradientOut");
    }
}
