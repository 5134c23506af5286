package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.kernel.Backends;

/**
 * HALF and BFLOAT16 hidden states and weights on the fused linear path against the FLOAT path on widened copies
 * of the same values (widening is exact, so both compute the same fp32 problem). Expected values and
 * tolerances:
 * <ul>
 * <li>loss and metrics: the FLOAT path's, relative 1e-6 (the same fp32 GEMMs and kernel; the 16-bit path runs
 *     its GEMM on a gathered copy of the hidden rows rather than a view, which may change the GEMM's rounding
 *     in the last fp32 bit); token counts exact;</li>
 * <li>gradients (in the inputs' 16-bit type): the FLOAT path's gradient rounded once to the 16-bit type, so per
 *     element within its unit roundoff {@code u·|e|} ({@code u} = 2^-11 for HALF, 2^-8 for BFLOAT16) plus
 *     1e-5 of the largest element (fp32 differences as above, and HALF's subnormal spacing below 6.1e-5);
 *     with ACCUMULATE the caller's 16-bit contents are added in fp32 before that one rounding.</li>
 * </ul>
 */
class LinearWideningTest {

    private static double unitRoundoff(DataType dt) {
        return dt == DataType.HALF ? 0x1p-11 : 0x1p-8;
    }

    private static void assertRounded(INDArray expected32, INDArray actual16, DataType dt, String what) {
        assertEquals(dt, actual16.dataType(), what + ": dtype");
        double[] e = expected32.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] a = actual16.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double max = 0;
        for (double x : e) {
            max = Math.max(max, Math.abs(x));
        }
        assertTrue(max > 0, what + ": a gradient worth comparing");
        double u = unitRoundoff(dt);
        for (int i = 0; i < e.length; i++) {
            double tol = u * Math.abs(e[i]) + 1e-5 * max;
            assertTrue(Math.abs(a[i] - e[i]) <= tol, String.format(Locale.ROOT, "%s[%d]: expected %s (fp32, then"
                    + " rounded to %s), was %s, tolerance %s", what, i, e[i], dt, a[i], tol));
        }
    }

    /**
     * @param dtName HALF or BFLOAT16
     * @param rows the chunk budget in rows (1: a chunk per row; 64: all rows in one chunk)
     * @param withBias whether a bias is given
     * @param plw the prompt loss weight (0 with skipped zero-weight rows)
     * @param accumulate whether caller-owned gradients are accumulated into
     */
    @ParameterizedTest(name = "{0}, {1} rows per chunk, bias {2}, PLW {3}, accumulate {4}")
    @CsvSource({"HALF,1,true,0.1,false", "HALF,64,false,1.0,true", "BFLOAT16,3,true,0.0,true",
            "BFLOAT16,64,true,0.1,false", "HALF,5,false,0.0,false"})
    void sixteenBitInputsMatchTheFloatPathOnWidenedCopies(String dtName, int rows, boolean withBias, double plw,
            boolean accumulate) {
        DataType dt = DataType.valueOf(dtName);
        Random rnd = new Random(77 + rows);
        int b = 2;
        int n = 6;
        int h = 8;
        int v = 37;
        // 16-bit values first: their widening is the FLOAT problem, exactly
        INDArray hidden16 = LinearCrossEntropyTest.gaussian(rnd, 1, b, n, h).castTo(dt);
        INDArray weight16 = LinearCrossEntropyTest.gaussian(rnd, 0.5, h, v).castTo(dt).transpose(); // a view [V, H]
        INDArray bias16 = withBias ? LinearCrossEntropyTest.gaussian(rnd, 0.3, v).castTo(dt) : null;
        INDArray ids = Nd4j.createFromArray(new int[][] {{3, 7, 36, 0, 12, 5}, {9, 9, 1, 30, 2, 4}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(new int[] {2, 3}, new int[] {6, 5}, n,
                Padding.RIGHT);
        WeightedCausalLMLoss cfg = LinearCrossEntropyTest.rows(WeightedCausalLMLoss.withDefaults()
                .withPromptLossWeight(plw).withKernel(Backends.byName("cpu")), rows, v, h, DataType.FLOAT);
        if (plw == 0.0) {
            cfg = cfg.withZeroWeightRows(ZeroWeightRows.SKIPPED);
        }
        INDArray hidden32 = hidden16.castTo(DataType.FLOAT);
        INDArray weight32 = weight16.castTo(DataType.FLOAT);
        INDArray bias32 = withBias ? bias16.castTo(DataType.FLOAT) : null;

        INDArray dw0 = accumulate ? LinearCrossEntropyTest.gaussian(rnd, 0.01, v, h).castTo(dt) : null;
        INDArray db0 = accumulate && withBias ? LinearCrossEntropyTest.gaussian(rnd, 0.01, v).castTo(dt) : null;
        GradientMode mode = accumulate ? GradientMode.ACCUMULATE : GradientMode.OVERWRITE;
        LinearLossResult e = cfg.computeFromHiddenWithGradient(hidden32, weight32, bias32, ids, mask, null,
                dw0 == null ? null : dw0.castTo(DataType.FLOAT), db0 == null ? null : db0.castTo(DataType.FLOAT), mode);
        LinearLossResult r = cfg.computeFromHiddenWithGradient(hidden16, weight16, bias16, ids, mask, null,
                dw0 == null ? null : dw0.dup(), db0 == null ? null : db0.dup(), mode);

        String what = dt + ", " + rows + " rows";
        LinearCrossEntropyTest.assertMetrics(e, r, 1e-6, 0, what);
        LossResult forward = bias16 == null ? cfg.computeFromHidden(hidden16, weight16, ids, mask)
                : cfg.computeFromHidden(hidden16, weight16, bias16, ids, mask);
        LinearCrossEntropyTest.assertMetrics(e, forward, 1e-6, 0, what + ", forward only");
        assertRounded(e.hiddenGradient(), r.hiddenGradient(), dt, what + ": dL/dh");
        assertRounded(e.weightGradient(), r.weightGradient(), dt, what + ": dL/dW");
        if (withBias) {
            assertRounded(e.biasGradient(), r.biasGradient(), dt, what + ": dL/db");
        }
    }
}
