package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The optional extensions of SPEC section 7 (label smoothing, z-loss, logit soft-capping): values against
 * the section 7 formulas evaluated here in double from the stored logits (relative 1e-12), and gradients
 * against central finite differences (h = 1e-6, absolute 1e-7, as in {@link GradientCheckTest}).
 */
class ExtensionsTest {

    private static double expectedTokenLoss(double[] z, int y, double eps, double lambda, double cap) {
        int v = z.length;
        double[] zc = new double[v];
        for (int i = 0; i < v; i++) {
            zc[i] = cap > 0 ? cap * Math.tanh(z[i] / cap) : z[i];
        }
        double m = Double.NEGATIVE_INFINITY;
        for (double x : zc) {
            m = Math.max(m, x);
        }
        double s = 0;
        double mean = 0;
        for (double x : zc) {
            s += Math.exp(x - m);
            mean += x / v;
        }
        double lse = m + Math.log(s);
        return (1 - eps) * (lse - zc[y]) + eps * (lse - mean) + lambda * lse * lse;
    }

    @ParameterizedTest(name = "eps={0} lambda={1} cap={2}")
    @CsvSource({"0.1,0,0", "0,1e-2,0", "0,0,2.5", "0.2,1e-3,4", "0,0,0"})
    void valuesFollowTheSectionSevenFormulasAndGradientsMatchFiniteDifferences(double eps, double lambda, double cap) {
        Random rnd = new Random(42);
        int b = 2;
        int n = 4;
        int v = 6;
        INDArray z = TestData.logits(rnd, b, n, v, false, DataType.DOUBLE, TestData.ViewKind.C_ORDER, 3);
        long[][] ids = TestData.ids(rnd, b, n, v);
        int[][] roles = {{1, 1, 2, 2}, {1, 2, 2, 0}};
        double plw = 0.25;
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw)
                .withLabelSmoothing(eps).withZLoss(lambda).withLogitSoftCap(cap);
        INDArray idArr = TestData.idArray(ids, DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(roles);
        LossResult r = loss.computeWithGradient(z, idArr, mask);
        double num = 0;
        double den = 0;
        for (int row = 0; row < b; row++) {
            for (int t = 0; t + 1 < n; t++) {
                int role = roles[row][t + 1];
                double w = role == 2 ? 1 : role == 1 ? plw : 0;
                if (w == 0) {
                    continue;
                }
                double[] zr = new double[v];
                for (int c = 0; c < v; c++) {
                    zr[c] = z.getDouble(row, t, c);
                }
                num += w * expectedTokenLoss(zr, (int) ids[row][t + 1], eps, lambda, cap);
                den += w;
            }
        }
        assertEquals(num / den, r.loss(), 1e-12 * Math.abs(num / den));
        INDArray g = r.gradient();
        double h = 1e-6;
        for (int row = 0; row < b; row++) {
            for (int t = 0; t < n; t++) {
                for (int c = 0; c < v; c++) {
                    double orig = z.getDouble(row, t, c);
                    z.putScalar(new long[] {row, t, c}, orig + h);
                    double up = loss.compute(z, idArr, mask).loss();
                    z.putScalar(new long[] {row, t, c}, orig - h);
                    double down = loss.compute(z, idArr, mask).loss();
                    z.putScalar(new long[] {row, t, c}, orig);
                    assertEquals((up - down) / (2 * h), g.getDouble(row, t, c), 1e-7);
                }
            }
        }
    }

    @Test
    void extensionsRunOnFloatLogitsToo() {
        INDArray z = Nd4j.createFromArray(new float[][][] {{{1, 2, 3}, {0, 0, 5}}});
        INDArray ids = Nd4j.createFromArray(new int[][] {{0, 2}});
        LossResult r = WeightedCausalLMLoss.withDefaults().withLabelSmoothing(0.1)
                .compute(z, ids, PromptCompletionMask.ofRoles(new int[][] {{1, 2}}));
        double expected = expectedTokenLoss(new double[] {1, 2, 3}, 2, 0.1, 0, 0);
        // fp32 logits run on the fused kernel, in fp32 inside a row: the contract's 1e-5 * (1 + |loss|)
        assertEquals(expected, r.loss(), 1e-5 * (1 + Math.abs(expected)));
        assertEquals("fused-cpu", r.kernelName(), "the fused kernel computes the extensions itself");
    }

    @Test
    void badExtensionValuesAreRejected() {
        WeightedCausalLMLoss l = WeightedCausalLMLoss.withDefaults();
        assertThrows(IllegalArgumentException.class, () -> l.withLabelSmoothing(1.0));
        assertThrows(IllegalArgumentException.class, () -> l.withLabelSmoothing(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> l.withZLoss(-1e-4));
        assertThrows(IllegalArgumentException.class, () -> l.withLogitSoftCap(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> l.withLogitSoftCap(-30));
    }
}
