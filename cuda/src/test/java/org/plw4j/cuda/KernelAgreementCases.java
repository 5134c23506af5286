package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.Half;
import org.plw4j.kernel.LossExtensions;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The CUDA kernel against {@link ReferenceKernel} (the oracle: double accumulators) on the same
 * problems: layouts (NWC, NCW, padded and offset views, byte-buffer memory), element types, vocab
 * sizes around the 16-byte vector width, gradients (separate, in place, fp32 for 16-bit logits)
 * and the special values of the kernel contract (NaN, +-Inf, all -Inf rows, ties, inactive and
 * zero-weight rows). Subclasses supply the kernel: a real device or the CPU emulation.
 *
 * <p>Tolerances, from the precision of the GPU path (fp32 accumulation and {@code expf}, against
 * double): loss relative 1e-5 (absolute 1e-6 near 0); gradient elements relative 1e-5 (absolute
 * 1e-7) in fp32; in bf16 and fp16 one rounding of the output type apart (relative 2^-7 for bf16,
 * 2^-10 for fp16, absolute 1e-7). NaN must meet NaN, +-Inf the same infinity, the arg-max hit must
 * be equal, exact zeros (rows without weight) must be exact zeros, and gradient elements outside
 * the rows (stride gaps) must keep their sentinel. The extensions of SPEC section 7 (label smoothing
 * 0.1, z-loss 1e-3, soft-cap 5: the logits of up to 6 reach the bent part of tanh) are held to the same
 * tolerances: the capping adds one tanhf rounding (relative 2^-23) to every logit.
 */
abstract class KernelAgreementCases {
    static final double SENTINEL = 12345.0;

    /** @return the kernel under test */
    abstract LossKernel kernel();

    enum Layout { NWC, NCW, PADDED_VIEW, BUFFER }

    enum Grad { NONE, SEPARATE, IN_PLACE, FP32 }

    static Stream<Arguments> randomCases() {
        List<Arguments> out = new ArrayList<>();
        int[] vocabs = {1, 3, 8, 33, 517, 4099};
        int k = 0;
        for (ElementType t : new ElementType[] {ElementType.FLOAT32, ElementType.BFLOAT16, ElementType.FLOAT16}) {
            for (int v : vocabs) {
                Layout layout = Layout.values()[k % Layout.values().length];
                Grad grad = Grad.values()[(k / 2) % Grad.values().length];
                if (grad == Grad.FP32 && t == ElementType.FLOAT32) {
                    grad = Grad.SEPARATE;
                }
                if (grad == Grad.IN_PLACE && layout == Layout.BUFFER) {
                    grad = Grad.SEPARATE;
                }
                out.add(Arguments.of(t, v, layout, grad, 1000 + k));
                k++;
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} V={1} {2} grad={3}")
    @MethodSource("randomCases")
    void randomProblemsAgree(ElementType t, int vocab, Layout layout, Grad grad, int seed) {
        Case c = new Case(t, 2, 5, vocab, layout, grad, seed);
        c.fillRandom();
        c.check(kernel());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("float64Cases")
    void float64LogitsRunOnTheCpuKernel(Grad grad) {
        Case c = new Case(ElementType.FLOAT64, 2, 3, 37, Layout.NCW, grad, 3);
        c.fillRandom();
        c.check(kernel());
    }

    static Stream<Grad> float64Cases() {
        return Stream.of(Grad.NONE, Grad.SEPARATE, Grad.IN_PLACE);
    }

    static final LossExtensions SMOOTHING = new LossExtensions(0.1, 0, 0);
    static final LossExtensions Z_LOSS = new LossExtensions(0, 1e-3, 0);
    static final LossExtensions SOFT_CAP = new LossExtensions(0, 0, 5);
    static final LossExtensions ALL = new LossExtensions(0.1, 1e-3, 5);

    static Stream<Arguments> extensionCases() {
        List<Arguments> out = new ArrayList<>();
        int[] vocabs = {3, 33, 517, 4099};
        int k = 0;
        for (ElementType t : new ElementType[] {ElementType.FLOAT32, ElementType.BFLOAT16, ElementType.FLOAT16}) {
            for (LossExtensions ext : new LossExtensions[] {SMOOTHING, Z_LOSS, SOFT_CAP, ALL}) {
                Layout layout = Layout.values()[k % Layout.values().length];
                Grad grad = Grad.values()[(k + 1) % Grad.values().length];
                if (grad == Grad.FP32 && t == ElementType.FLOAT32) {
                    grad = Grad.IN_PLACE;
                }
                if (grad == Grad.IN_PLACE && layout == Layout.BUFFER) {
                    grad = Grad.SEPARATE;
                }
                out.add(Arguments.of(t, vocabs[k % vocabs.length], layout, grad, ext, 3000 + k));
                k++;
            }
        }
        return out.stream();
    }

    @Test
    void supportsTheExtensions() {
        assertTrue(kernel().supportsExtensions(), "SPEC section 7 runs in the GPU kernels");
    }

    /** Each extension alone and all together: dtypes, layouts, vocab sizes, gradient kinds (in place, fp32). */
    @ParameterizedTest(name = "{0} V={1} {2} grad={3} {4}")
    @MethodSource("extensionCases")
    void extensionProblemsAgree(ElementType t, int vocab, Layout layout, Grad grad, LossExtensions ext, int seed) {
        Case c = new Case(t, 2, 5, vocab, layout, grad, seed).extensions(ext);
        c.fillRandom();
        c.check(kernel());
    }

    /** The special values of {@link #specialValuesAgree} under soft-capping alone and all extensions. */
    @ParameterizedTest(name = "{0} V={1} grad={2}")
    @MethodSource("specialCases")
    void specialValuesAgreeWithExtensions(ElementType t, int vocab, Grad grad) {
        for (LossExtensions ext : new LossExtensions[] {SOFT_CAP, ALL, SMOOTHING}) {
            Case c = new Case(t, 1, 19, vocab, Layout.NWC, grad, 7).extensions(ext);
            c.fillRandom();
            c.setSpecialValues();
            c.check(kernel());
        }
    }

    /**
     * The fp32 gradient of each extension against central finite differences of the double-precision
     * reference loss (h = 1e-3: truncation error h^2/6 times the third derivative, below 1e-6 here;
     * rounding 1e-13), times the row's scale; tolerance 2e-6 absolute plus 1e-5 relative (the fp32
     * soft-max of the class comment).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("extensionsEach")
    void extensionGradientsMatchFiniteDifferences(LossExtensions ext) {
        int rows = 3;
        int vocab = 37;
        SplittableRandom rnd = new SplittableRandom(17);
        float[] z = new float[rows * vocab];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) ((rnd.nextDouble() * 2 - 1) * 6);
        }
        int[] targets = {5, 36, 0};
        double[] scale = {1.0, 0.5, 0.25};
        float[] g = new float[z.length];
        kernel().run(LossProblem.builder().shape(1, rows, vocab).logitsNwc(Memory.of(z.clone())).targets(targets)
                .extensions(ext).gradientNwc(scale, Memory.of(g)).build(), new double[rows], new boolean[rows]);
        double h = 1e-3;
        for (int r = 0; r < rows; r++) {
            double[] row = new double[vocab];
            for (int v = 0; v < vocab; v++) {
                row[v] = z[r * vocab + v];
            }
            for (int v = 0; v < vocab; v++) {
                double x = row[v];
                row[v] = x + h;
                double up = referenceLoss(row, targets[r], ext);
                row[v] = x - h;
                double down = referenceLoss(row, targets[r], ext);
                row[v] = x;
                double want = scale[r] * (up - down) / (2 * h);
                double got = g[r * vocab + v];
                assertTrue(Math.abs(got - want) <= 2e-6 + 1e-5 * Math.abs(want), String.format(Locale.ROOT,
                        "%s row %d v %d: kernel %.9g, finite differences %.9g", ext, r, v, got, want));
            }
        }
    }

    static Stream<LossExtensions> extensionsEach() {
        return Stream.of(SMOOTHING, Z_LOSS, SOFT_CAP, ALL);
    }

    private static double referenceLoss(double[] row, int target, LossExtensions ext) {
        double[] loss = new double[1];
        ReferenceKernel.INSTANCE.run(LossProblem.builder().shape(1, 1, row.length).logitsNwc(Memory.of(row.clone()))
                .targets(new int[] {target}).extensions(ext).build(), loss, new boolean[1]);
        return loss[0];
    }

    @Test
    void emptyVocabularyAndNoPositionsGiveZeros() {
        int[] targets = {-1, -1, -1};
        double[] loss = {5, 5, 5};
        boolean[] hit = {true, true, true};
        kernel().run(LossProblem.builder().shape(1, 3, 0).logitsNwc(Memory.of(new float[0])).targets(targets).build(),
                loss, hit);
        assertArrayEquals(new double[3], loss);
        assertArrayEquals(new boolean[3], hit);
        kernel().run(LossProblem.builder().shape(0, 4, 10).logitsNwc(Memory.of(new float[0])).targets(new int[0])
                .build(), new double[0], new boolean[0]);
    }

    static Stream<Arguments> specialCases() {
        List<Arguments> out = new ArrayList<>();
        for (ElementType t : new ElementType[] {ElementType.FLOAT32, ElementType.BFLOAT16, ElementType.FLOAT16}) {
            for (int v : new int[] {5, 40}) {
                out.add(Arguments.of(t, v, Grad.SEPARATE));
                out.add(Arguments.of(t, v, Grad.IN_PLACE));
            }
            out.add(Arguments.of(t, 40, Grad.NONE));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} V={1} grad={2}")
    @MethodSource("specialCases")
    void specialValuesAgree(ElementType t, int vocab, Grad grad) {
        Case c = new Case(t, 1, 19, vocab, Layout.NWC, grad, 7);
        c.fillRandom();
        c.setSpecialValues();
        c.check(kernel());
    }

    /** One problem: logits and gradient memories with their strides, targets and scales. */
    static final class Case {
        final ElementType type;
        final int batch;
        final int seqLen;
        final int vocab;
        final Layout layout;
        final Grad grad;
        final SplittableRandom rnd;
        final Memory logits;
        final long offset;
        final long sB;
        final long sT;
        final long sV;
        final long length;
        final int[] targets;
        final double[] scale;
        LossExtensions ext = LossExtensions.NONE;

        /** The special values of {@link KernelAgreementCases#specialValuesAgree} in rows 0 to 18. */
        void setSpecialValues() {
            int v = vocab;
            double nan = Double.NaN;
            double inf = Double.POSITIVE_INFINITY;
            // row 0: a NaN after the max (first NaN is the arg-max; loss NaN)
            set(0, v / 2, 50.0);
            set(0, v - 1, nan);
            // row 1: two NaNs and a +Inf: the first NaN wins
            set(1, 1, inf);
            set(1, 2, nan);
            set(1, v - 2, nan);
            // row 2: +Inf alone: loss NaN
            set(2, v - 1, inf);
            // row 3: every logit -Inf: loss NaN, arg-max 0
            for (int j = 0; j < v; j++) {
                set(3, j, -inf);
            }
            // row 4: the target logit -Inf in a finite row: loss +Inf
            set(4, targets[4], -inf);
            // row 5: masked vocabulary (-Inf entries, legal), finite loss
            for (int j = 0; j < v; j += 2) {
                if (j != targets[5]) {
                    set(5, j, -inf);
                }
            }
            // row 6: ties at the maximum: the lowest index wins
            set(6, 1, 9.0);
            set(6, v - 1, 9.0);
            targets[6] = v - 1;
            // row 7: inactive with NaN logits: loss 0, gradient exact zeros
            set(7, 0, nan);
            targets[7] = -1;
            // row 8: active, zero gradient scale, NaN logits: loss NaN, gradient exact zeros
            set(8, v - 1, nan);
            scale[8] = 0.0;
            // row 9: inactive with +Inf logits
            set(9, 0, inf);
            targets[9] = -1;
            // row 10: all -Inf but one (the target): loss 0, correct
            for (int j = 0; j < v; j++) {
                set(10, j, j == targets[10] ? 1.5 : -inf);
            }
            // row 11: a -Inf first element before finite ones (the online max starts at -Inf)
            set(11, 0, -inf);
            // row 12: large logits (overflow without the max shift)
            for (int j = 0; j < v; j++) {
                set(12, j, 60000.0 - j);
            }
            // row 13: target is the max with a large margin (loss near 0)
            set(13, targets[13], 30.0);
            // rows 14-18: NaNs the kernels find only through a NaN sum or a -Inf max (no per-element test):
            // 14: the row starts with NaNs only (a whole first vector: no maximum yet when they are folded)
            for (int j = 0; j < Math.min(v, 8); j++) {
                set(14, j, nan);
            }
            // 15: -Inf, then a NaN, then finite values (a thread's prefix has nothing above -Inf)
            set(15, 0, -inf);
            set(15, 1, nan);
            // 16: NaN and -Inf only
            for (int j = 0; j < v; j++) {
                set(16, j, j == v - 2 ? nan : -inf);
            }
            // 17: one NaN in the last element (the tail of the row)
            set(17, v - 1, nan);
            // 18: NaN first, +Inf later: the first NaN is the arg-max
            set(18, 0, nan);
            set(18, v - 1, inf);
        }

        Case(ElementType type, int batch, int seqLen, int vocab, Layout layout, Grad grad, int seed) {
            this.type = type;
            this.batch = batch;
            this.seqLen = seqLen;
            this.vocab = vocab;
            this.layout = layout;
            this.grad = grad;
            this.rnd = new SplittableRandom(seed);
            switch (layout) {
                case NCW:          // [B, V, N]: V has stride N
                    offset = 0;
                    sV = seqLen;
                    sT = 1;
                    sB = (long) vocab * seqLen;
                    break;
                case PADDED_VIEW:  // rows padded by 3 elements, a view starting at element 1 (misaligned)
                    offset = 1;
                    sV = 1;
                    sT = vocab + 3;
                    sB = (long) seqLen * (vocab + 3) + 2;
                    break;
                default:           // NWC, contiguous
                    offset = 0;
                    sV = 1;
                    sT = vocab;
                    sB = (long) seqLen * vocab;
                    break;
            }
            this.length = offset + (batch - 1) * sB + (seqLen - 1) * sT + (vocab - 1) * sV + 1;
            this.logits = newMemory(type, length, layout == Layout.BUFFER);
            for (long i = 0; i < length; i++) {
                logits.set(i, -SENTINEL);   // gaps of the view hold something the kernel must not read
            }
            int n = batch * seqLen;
            this.targets = new int[n];
            this.scale = new double[n];
            for (int i = 0; i < n; i++) {
                targets[i] = i % 5 == 4 ? -1 : rnd.nextInt(vocab);
                scale[i] = targets[i] < 0 ? 0.0 : (i % 7 == 3 ? 0.0 : 0.01 + rnd.nextDouble());
            }
        }

        static Memory newMemory(ElementType t, long n, boolean buffer) {
            if (buffer) {
                ByteBuffer b = ByteBuffer.allocateDirect((int) (n * t.bytes())).order(ByteOrder.nativeOrder());
                return Memory.ofBuffer(t, b);
            }
            switch (t) {
                case FLOAT32:
                    return Memory.of(new float[(int) n]);
                case FLOAT64:
                    return Memory.of(new double[(int) n]);
                default:
                    return Memory.ofShorts(new short[(int) n], t);
            }
        }

        long index(int row, int v) {
            int b = row / seqLen;
            int t = row % seqLen;
            return offset + b * sB + t * sT + v * sV;
        }

        void set(int row, int v, double x) {
            logits.set(index(row, v), x);
        }

        void fillRandom() {
            for (int r = 0; r < batch * seqLen; r++) {
                for (int v = 0; v < vocab; v++) {
                    set(r, v, (rnd.nextDouble() * 2 - 1) * 6);
                }
            }
        }

        /** A copy of the logits memory (for in-place runs, which overwrite it). */
        Memory copyOfLogits() {
            Memory m = newMemory(type, length, layout == Layout.BUFFER);
            for (long i = 0; i < length; i++) {
                m.set(i, logits.get(i));
            }
            return m;
        }

        Case extensions(LossExtensions e) {
            this.ext = e;
            return this;
        }

        ElementType gradType() {
            return grad == Grad.FP32 ? ElementType.FLOAT32 : type;
        }

        /** Runs the kernel on its own copy of the inputs; returns {loss, correct, gradient}. */
        Object[] run(LossKernel k) {
            Memory z = copyOfLogits();
            Memory g = null;
            LossProblem.Builder b = LossProblem.builder().shape(batch, seqLen, vocab).logits(z, offset, sB, sT, sV)
                    .targets(targets.clone()).extensions(ext);
            if (grad == Grad.IN_PLACE) {
                g = z;
                b.gradient(scale.clone(), z, offset, sB, sT, sV);
            } else if (grad != Grad.NONE) {
                g = newMemory(gradType(), length, layout == Layout.BUFFER);
                for (long i = 0; i < length; i++) {
                    g.set(i, SENTINEL);
                }
                b.gradient(scale.clone(), g, offset, sB, sT, sV);
            }
            double[] loss = new double[batch * seqLen];
            boolean[] correct = new boolean[batch * seqLen];
            Arrays.fill(loss, -7.0);
            k.run(b.build(), loss, correct);
            return new Object[] {loss, correct, g};
        }

        void check(LossKernel k) {
            Object[] want = run(ReferenceKernel.INSTANCE);
            Object[] got = run(k);
            double[] wl = (double[]) want[0];
            double[] gl = (double[]) got[0];
            boolean[] wc = (boolean[]) want[1];
            boolean[] gc = (boolean[]) got[1];
            for (int i = 0; i < wl.length; i++) {
                String where = String.format(Locale.ROOT, "%s V=%d %s grad=%s %s position %d", type, vocab, layout, grad,
                        ext, i);
                assertClose(wl[i], gl[i], 1e-5, 1e-6, "loss at " + where);
                assertEquals(wc[i], gc[i], "arg-max hit at " + where);
            }
            if (grad == Grad.NONE) {
                return;
            }
            Memory wg = (Memory) want[2];
            Memory gg = (Memory) got[2];
            ElementType gt = gradType();
            double rel = gt == ElementType.FLOAT32 ? 1e-5 : gt == ElementType.BFLOAT16 ? 0x1p-7 : 0x1p-10;
            for (long i = 0; i < length; i++) {
                double w = wg.get(i);
                double g = gg.get(i);
                if (w == 0.0 && Double.doubleToRawLongBits(w) == 0 && g != 0.0) {
                    fail("gradient element " + i + " must be an exact zero, was " + g + " (" + type + " V=" + vocab
                            + " " + layout + " grad=" + grad + ")");
                }
                assertClose(w, g, rel, 1e-7, "gradient element " + i + " (" + type + " V=" + vocab + " " + layout
                        + " grad=" + grad + ")");
            }
        }

        static void assertClose(double want, double got, double rel, double abs, String what) {
            if (Double.isNaN(want) || Double.isNaN(got) || Double.isInfinite(want) || Double.isInfinite(got)) {
                if (!(Double.compare(want, got) == 0 || (Double.isNaN(want) && Double.isNaN(got)))) {
                    fail(what + ": expected " + want + ", was " + got);
                }
                return;
            }
            if (!(Math.abs(want - got) <= Math.max(abs, rel * Math.abs(want)))) {
                fail(what + ": expected " + want + ", was " + got + " (difference " + Math.abs(want - got) + ")");
            }
        }
    }

    /** Narrowing of a double to the 16-bit types, for tests that build raw values. */
    static short narrow(ElementType t, double x) {
        return t == ElementType.BFLOAT16 ? Half.floatToBf16((float) x) : Half.floatToFp16((float) x);
    }
}
