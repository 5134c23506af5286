package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.kernel.ReferenceKernel;

/**
 * Finite-difference gradient checks in double precision for every normalisation and both layouts, on
 * the reference kernel and the default CPU kernel: central differences {@code (L(z+h) - L(z-h)) / 2h}
 * with {@code h = 1e-6}; truncation error O(h^2 * L''') ~ 1e-12 and rounding error ~ eps * L / h ~ 1e-10,
 * so analytic and numeric gradients must agree to 1e-7 absolute (relative to entries of order 1e-2).
 */
class GradientCheckTest {

    static Stream<Arguments> cases() {
        return Stream.of(Normalization.values()).flatMap(m -> Stream.of(LogitsLayout.values())
                .flatMap(l -> Stream.of(Arguments.of(m, l, "reference"), Arguments.of(m, l, "cpu"))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void analyticGradientMatchesCentralDifferences(Normalization mode, LogitsLayout layout, String kernel) {
        Random rnd = new Random(mode.ordinal() * 10 + layout.ordinal());
        int b = 2;
        int n = 5;
        int v = 7;
        boolean ncw = layout == LogitsLayout.NCW;
        INDArray z = TestData.logits(rnd, b, n, v, ncw, DataType.DOUBLE, TestData.ViewKind.C_ORDER, 1.5);
        INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 2, 2, 0}, {1, 2, 2, 2, 2}});
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.3).withLayout(layout)
                .withKernel(kernel.equals("reference") ? ReferenceKernel.INSTANCE : null);
        loss = mode == Normalization.GLOBAL_DENOMINATOR ? loss.withGlobalDenominator(4.5) : loss.withNormalization(mode);
        INDArray g = loss.computeWithGradient(z, ids, mask).gradient();
        double h = 1e-6;
        long[] shape = z.shape();
        for (int i = 0; i < shape[0]; i++) {
            for (int j = 0; j < shape[1]; j++) {
                for (int k = 0; k < shape[2]; k++) {
                    double orig = z.getDouble(i, j, k);
                    z.putScalar(new long[] {i, j, k}, orig + h);
                    double up = loss.compute(z, ids, mask).loss();
                    z.putScalar(new long[] {i, j, k}, orig - h);
                    double down = loss.compute(z, ids, mask).loss();
                    z.putScalar(new long[] {i, j, k}, orig);
                    double numeric = (up - down) / (2 * h);
                    double tol = 1e-7;
                    assertEquals(numeric, g.getDouble(i, j, k), tol, mode + " " + layout + " at " + i + "," + j + "," + k);
                }
            }
        }
    }
}
