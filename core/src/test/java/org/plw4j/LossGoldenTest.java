package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
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
 * The loss against golden data computed outside the project: {@code golden/loss-golden.properties},
 * written by {@code golden/generate_loss_golden.py} (NumPy float64, the command and the versions in the
 * file's header), which checks its own gradients against central finite differences. The cases cover PLW
 * 0, 0.1, 0.5, 1 under all five normalisations, shift on and off, the ignore index (also inside the
 * vocabulary, and padding holding out-of-range ids), label smoothing, z-loss and soft-capping alone and
 * together, masked ({@code -inf}) vocabulary entries, rows and batches without weight, and V = 67 (vector
 * lanes plus a tail); and the entropy and arg-max outputs of SPEC section 13. Each case runs on the reference kernel and the default CPU kernel, each with FLOAT
 * and DOUBLE logits in the NWC layout, and once more on the CPU kernel with FLOAT logits in the NCW layout.
 *
 * <p>Tolerances. The logits are float32 values, so both dtypes hold exactly the numbers NumPy used, and
 * differences come only from arithmetic. Reference kernel (double accumulators): relative 1e-12 on losses
 * and metrics (NumPy sums in another order: a few ulp over at most 67 terms). Default CPU kernel: relative
 * 2e-5 (it computes inside a row in float32; its exp has relative error below 1e-6 and a sum over V terms
 * adds at most V ulp; the same bound as {@link LossContractTest}). Weight sums and token counts are exact
 * up to 1e-15 relative. Gradients: the kernel's relative tolerance times 10, plus the rounding of the
 * gradient's dtype (2^-24 FLOAT, 2^-53 DOUBLE) relative, plus the kernel tolerance times the largest
 * gradient entry of the case as an absolute floor; rows without weight must be exactly zero. Accuracies
 * are exact: the generator keeps the two largest logits of every row more than 1e-3 apart, far above any
 * rounding here.
 */
class LossGoldenTest {
    private static final Properties GOLDEN = load();

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = LossGoldenTest.class.getResourceAsStream("/golden/loss-golden.properties")) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    static Stream<Arguments> cases() {
        return Arrays.stream(GOLDEN.getProperty("cases").split(",")).flatMap(c -> Stream.of(
                Arguments.of(c, "reference", DataType.DOUBLE, LogitsLayout.NWC),
                Arguments.of(c, "reference", DataType.FLOAT, LogitsLayout.NWC),
                Arguments.of(c, "cpu", DataType.DOUBLE, LogitsLayout.NWC),
                Arguments.of(c, "cpu", DataType.FLOAT, LogitsLayout.NWC),
                Arguments.of(c, "cpu", DataType.FLOAT, LogitsLayout.NCW)));
    }

    @ParameterizedTest(name = "{0} on {1}, {2}, {3}")
    @MethodSource("cases")
    void matchesNumPy(String name, String kernelName, DataType dt, LogitsLayout layout) {
        int b = integer(name, "B");
        int n = integer(name, "N");
        int v = integer(name, "V");
        double[] flat = floats(name + ".logits");
        INDArray logits = Nd4j.createFromArray(flat).reshape(b, n, v).castTo(dt);
        if (layout == LogitsLayout.NCW) {
            logits = logits.permute(0, 2, 1).dup('c');
        }
        INDArray ids = Nd4j.createFromArray(longs(name + ".inputIds")).reshape(b, n);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(
                Nd4j.createFromArray(longs(name + ".roles")).reshape(b, n));
        WeightedCausalLMLoss loss = configured(name).withLayout(layout).withKernel(kernel(kernelName));
        LossResult r = loss.computeWithGradient(logits, ids, mask);

        boolean ref = kernelName.equals("reference");
        double rel = ref ? 1e-12 : 2e-5;
        String ctx = String.format(Locale.ROOT, "%s on %s, %s, %s", name, kernelName, dt, layout);
        assertClose(expected(name, "loss"), r.loss(), rel, ctx + " loss");
        assertClose(expected(name, "weightSum"), r.weightSum(), 1e-15, ctx + " weightSum");
        assertClose(expected(name, "weightedLossSum"), r.weightedLossSum(), rel, ctx + " weightedLossSum");
        assertClose(expected(name, "promptLoss"), r.promptLoss(), rel, ctx + " promptLoss");
        assertClose(expected(name, "completionLoss"), r.completionLoss(), rel, ctx + " completionLoss");
        assertEquals((long) expected(name, "promptTokens"), r.promptTokens(), ctx + " promptTokens");
        assertEquals((long) expected(name, "completionTokens"), r.completionTokens(), ctx + " completionTokens");
        assertClose(expected(name, "promptAccuracy"), r.promptAccuracy(), 0.0, ctx + " promptAccuracy");
        assertClose(expected(name, "completionAccuracy"), r.completionAccuracy(), 0.0, ctx + " completionAccuracy");
        assertEquals((long) expected(name, "nonFiniteTokens"), r.nonFiniteTokens(), ctx + " nonFiniteTokens");

        double[] perToken = doubles(name + ".expected.perTokenLoss");
        double[] got = r.perTokenLossArray();
        for (int i = 0; i < perToken.length; i++) {
            assertClose(perToken[i], got[i], rel, ctx + " perTokenLoss " + i);
        }

        // SPEC section 13, on a second, forward call: the entropies (formed like the loss: the same tolerance)
        // and the arg-max (exact: the two largest logits of a row are more than 1e-3 apart)
        LossResult o = loss.withEntropy(true).withPerTokenOutputs(PerTokenOutput.ENTROPY, PerTokenOutput.ARG_MAX)
                .compute(logits, ids, mask);
        assertClose(expected(name, "promptEntropy"), o.promptEntropy(), rel, ctx + " promptEntropy");
        assertClose(expected(name, "completionEntropy"), o.completionEntropy(), rel, ctx + " completionEntropy");
        double[] entropy = doubles(name + ".expected.perTokenEntropy");
        double[] gotEntropy = o.perTokenEntropyArray();
        for (int i = 0; i < entropy.length; i++) {
            assertClose(entropy[i], gotEntropy[i], rel, ctx + " perTokenEntropy " + i);
        }
        assertArrayEquals(Arrays.stream(longs(name + ".expected.perTokenArgMax")).mapToInt(Math::toIntExact).toArray(),
                o.perTokenArgMaxArray(), ctx + " perTokenArgMax");

        double[] grad = doubles(name + ".expected.gradient");
        INDArray g = r.gradient();
        if (layout == LogitsLayout.NCW) {
            g = g.permute(0, 2, 1);
        }
        double[] gotGrad = g.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double scale = 0.0;
        for (double x : grad) {
            scale = Math.max(scale, Math.abs(x));
        }
        double dtRel = dt == DataType.FLOAT ? 0x1p-24 : 0x1p-53;
        for (int i = 0; i < grad.length; i++) {
            double tol = (rel * 10 + dtRel) * Math.abs(grad[i]) + rel * scale;
            if (rowIsZero(grad, i / v * v, v)) {
                assertEquals(0.0, gotGrad[i], 0.0, ctx + " gradient row without weight, element " + i);
            } else {
                assertEquals(grad[i], gotGrad[i], tol, ctx + " gradient " + i);
            }
        }
    }

    private static WeightedCausalLMLoss configured(String name) {
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults()
                .withPromptLossWeight(number(name, "plw"))
                .withShift(Boolean.parseBoolean(property(name + ".shift")))
                .withIgnoreIndex(integer(name, "ignoreIndex"))
                .withLabelSmoothing(number(name, "labelSmoothing"))
                .withZLoss(number(name, "zLoss"))
                .withLogitSoftCap(number(name, "softCap"));
        Normalization mode = Normalization.valueOf(property(name + ".normalization"));
        return mode == Normalization.GLOBAL_DENOMINATOR ? loss.withGlobalDenominator(number(name, "globalDenominator"))
                : loss.withNormalization(mode);
    }

    private static LossKernel kernel(String name) {
        return name.equals("reference") ? ReferenceKernel.INSTANCE : Backends.byName(name);
    }

    private static boolean rowIsZero(double[] a, int from, int length) {
        for (int i = from; i < from + length; i++) {
            if (a[i] != 0.0) {
                return false;
            }
        }
        return true;
    }

    private static void assertClose(double expected, double actual, double rel, String msg) {
        if (Double.isNaN(expected)) {
            assertTrue(Double.isNaN(actual), msg + ": expected NaN, was " + actual);
            return;
        }
        assertEquals(expected, actual, rel * Math.max(1.0, Math.abs(expected)), msg);
    }

    private static String property(String key) {
        String s = GOLDEN.getProperty(key);
        if (s == null) {
            throw new IllegalStateException("golden data has no key " + key);
        }
        return s;
    }

    private static double number(String name, String key) {
        return Double.parseDouble(property(name + "." + key));
    }

    private static int integer(String name, String key) {
        return Integer.parseInt(property(name + "." + key));
    }

    private static double expected(String name, String key) {
        return number(name, "expected." + key);
    }

    private static double[] doubles(String key) {
        return Arrays.stream(property(key).split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    /** The logits are float32 values written in their shortest float32 spelling. */
    private static double[] floats(String key) {
        return Arrays.stream(property(key).split(",")).mapToDouble(Float::parseFloat).toArray();
    }

    private static long[] longs(String key) {
        return Arrays.stream(property(key).split(",")).mapToLong(Long::parseLong).toArray();
    }
}
