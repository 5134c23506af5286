package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The API contract over random cases: every dtype, layout, view kind, normalisation, mask kind, shift
 * and ignore index, against the independent float64 {@link Oracle} (which reads the stored logits
 * through ND4J's own getDouble). Runs against the reference kernel and the default CPU backend.
 *
 * <p>Tolerances: the oracle sees exactly the stored (already rounded) logits, so differences come
 * only from arithmetic. Reference kernel (double accumulators): relative 1e-10. The default CPU
 * kernel computes inside a row in float32 (its exp has relative error below 1e-6, sums over V ≤ 64
 * terms add at most ~64 ulp): relative 2e-5 on losses. Gradients are stored in the logits' dtype, so
 * their tolerance adds the dtype's rounding: half an ulp, i.e. 2^-24, 2^-53, 2^-11, 2^-8 relative for
 * FLOAT, DOUBLE, HALF, BFLOAT16, plus the kernel's own error, plus an absolute floor of 1e-7 (HALF: 6e-8
 * is its smallest subnormal) times the row scale.
 */
class LossContractTest {

    static Stream<Arguments> cases() {
        return IntStream.range(0, 160).mapToObj(i -> Arguments.of(i, "reference"))
                .flatMap(a -> Stream.of(a, Arguments.of(a.get()[0], "cpu")));
    }

    static LossKernel kernel(String name) {
        return name.equals("reference") ? ReferenceKernel.INSTANCE : Backends.byName(name);
    }

    @ParameterizedTest(name = "case {0} on {1}")
    @MethodSource("cases")
    void randomCaseMatchesOracle(int seed, String kernelName) {
        Random rnd = new Random(1000 + seed);
        DataType[] dts = {DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16};
        DataType dt = dts[seed % 4];
        boolean ncw = (seed / 4) % 2 == 1;
        TestData.ViewKind kind = TestData.ViewKind.values()[(seed / 8) % 4];
        Normalization mode = Normalization.values()[(seed / 32) % Normalization.values().length];
        boolean shift = rnd.nextInt(4) != 0;
        boolean explicit = seed % 5 == 3;
        boolean withRolesToo = explicit && rnd.nextBoolean();
        int b = 1 + rnd.nextInt(3);
        int n = 1 + rnd.nextInt(7);
        int v = 1 + rnd.nextInt(seed % 7 == 0 ? 300 : 40);
        double plw = new double[] {0.0, 0.01, 0.1, 0.5, 1.0}[rnd.nextInt(5)];
        int ignoreIndex = rnd.nextBoolean() ? -100 : v - 1;
        INDArray logits = TestData.logits(rnd, b, n, v, ncw, dt, kind, 1 + rnd.nextInt(4));
        long[][] ids = TestData.ids(rnd, b, n, v);
        if (rnd.nextBoolean()) {
            ids[0][n - 1] = ignoreIndex; // a Hugging Face style ignored label
        }
        int[][] roles = TestData.roles(rnd, b, n);
        double[][] w = null;
        if (explicit) {
            w = new double[b][n];
            for (int r = 0; r < b; r++) {
                for (int t = 0; t < n; t++) {
                    w[r][t] = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 2;
                    if (!withRolesToo && w[r][t] == 0 && ids[r][t] >= v) {
                        ids[r][t] = 0;
                    }
                }
            }
        }
        // ids where the role is IGNORE may be anything integral: put junk there to check they are not read
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                boolean ignored = explicit && !withRolesToo ? w[r][t] == 0 : roles[r][t] == 0;
                if (ignored && (!explicit || w[r][t] == 0) && rnd.nextInt(3) == 0) {
                    ids[r][t] = v + 1000 + rnd.nextInt(5);
                }
            }
        }
        double globalD = 3.7;
        PromptCompletionMask mask = !explicit ? PromptCompletionMask.ofRoles(roles)
                : withRolesToo ? PromptCompletionMask.ofWeights(Nd4j.createFromArray(w), Nd4j.createFromArray(roles))
                        : PromptCompletionMask.ofWeights(Nd4j.createFromArray(w));
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw)
                .withLayout(ncw ? LogitsLayout.NCW : LogitsLayout.NWC).withShift(shift).withIgnoreIndex(ignoreIndex)
                .withKernel(kernel(kernelName));
        loss = mode == Normalization.GLOBAL_DENOMINATOR ? loss.withGlobalDenominator(globalD)
                : loss.withNormalization(mode);
        INDArray idArr = TestData.idArray(ids, seed % 3 == 0 ? DataType.INT : seed % 3 == 1 ? DataType.LONG
                : DataType.DOUBLE);
        INDArray before = logits.dup();
        LossResult r = loss.computeWithGradient(logits, idArr, mask);
        LossResult f = loss.compute(logits, idArr, mask);
        assertEquals(before, logits, "inputs are never modified");
        assertNull(f.gradient());
        Oracle o = Oracle.compute(logits, ncw, ids, explicit && !withRolesToo ? null : roles, w, plw, shift,
                ignoreIndex, mode, globalD);
        boolean ref = kernelName.equals("reference");
        double rel = ref ? 1e-10 : 2e-5;
        String ctx = String.format(Locale.ROOT, "dt=%s ncw=%s kind=%s mode=%s shift=%s explicit=%s B=%d N=%d V=%d plw=%s",
                dt, ncw, kind, mode, shift, explicit, b, n, v, plw);
        assertClose(o.loss, r.loss(), rel, ctx + " loss");
        assertEquals(r.loss(), f.loss(), 0.0, "compute and computeWithGradient agree bitwise");
        assertClose(o.weightSum, r.weightSum(), 1e-12, ctx + " weightSum");
        assertClose(o.weightedLossSum, r.weightedLossSum(), rel, ctx + " weightedLossSum");
        assertEquals(o.promptTokens, r.promptTokens(), ctx);
        assertEquals(o.completionTokens, r.completionTokens(), ctx);
        assertClose(o.promptTokens == 0 ? Double.NaN : o.promptLossSum / o.promptTokens, r.promptLoss(), rel, ctx);
        assertClose(o.completionTokens == 0 ? Double.NaN : o.completionLossSum / o.completionTokens,
                r.completionLoss(), rel, ctx);
        if (ref || dt == DataType.DOUBLE) {
            // arg-max ties are decided on the stored values; float32 rounding could flip a near-tie
            assertEquals(o.promptTokens == 0 ? Double.NaN : (double) o.promptCorrect / o.promptTokens,
                    r.promptAccuracy(), 0.0, ctx);
            assertEquals(o.completionTokens == 0 ? Double.NaN : (double) o.completionCorrect / o.completionTokens,
                    r.completionAccuracy(), 0.0, ctx);
        }
        assertEquals(0, r.nonFiniteTokens());
        double[] per = r.perTokenLossArray();
        for (int row = 0; row < b; row++) {
            for (int t = 0; t < n; t++) {
                assertClose(o.perToken[row][t], per[row * n + t], rel, ctx + " perToken " + row + "," + t);
            }
        }
        INDArray g = r.gradient();
        assertEquals(logits.dataType(), g.dataType());
        assertEquals(Arrays.toString(logits.shape()), Arrays.toString(g.shape()));
        double dtRel = dt == DataType.FLOAT ? 0x1p-24 : dt == DataType.DOUBLE ? 0x1p-53
                : dt == DataType.HALF ? 0x1p-11 : 0x1p-8;
        double[][] gn = TestData.toNwc(g, ncw);
        double gScale = 0;
        for (double[][] rowG : o.grad) {
            for (double[] x : rowG) {
                for (double y : x) {
                    gScale = Math.max(gScale, Math.abs(y));
                }
            }
        }
        for (int row = 0; row < b; row++) {
            for (int t = 0; t < n; t++) {
                for (int c = 0; c < v; c++) {
                    double exp = o.grad[row][t][c];
                    double got = gn[row * n + t][c];
                    double tol = (rel * 10 + dtRel) * Math.abs(exp) + 1e-7 * Math.max(gScale, 1e-30)
                            + (dt == DataType.HALF ? 6e-8 : 0);
                    if (exp == 0.0 && o.grad[row][t][0] == 0.0 && allZero(o.grad[row][t])) {
                        assertEquals(0.0, got, 0.0, ctx + " zero gradient row " + row + "," + t);
                    } else {
                        assertEquals(exp, got, tol, ctx + " gradient " + row + "," + t + "," + c);
                    }
                }
            }
        }
    }

    private static boolean allZero(double[] a) {
        for (double x : a) {
            if (x != 0.0) {
                return false;
            }
        }
        return true;
    }

    static void assertClose(double expected, double actual, double rel, String msg) {
        if (Double.isNaN(expected)) {
            assertTrue(Double.isNaN(actual), msg + ": expected NaN, was " + actual);
            return;
        }
        assertEquals(expected, actual, rel * Math.max(1.0, Math.abs(expected)), msg);
    }
}
