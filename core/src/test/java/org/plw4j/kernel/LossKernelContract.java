package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every {@link LossKernel} honours, checked against {@link ReferenceKernel} (the oracle)
 * and, for the edge cases, against values worked out by hand from SPEC.md §3, §5, §6 and §10.
 * A backend's test extends this class and implements {@link #kernel()}; the cuda module reaches it
 * through the core test-jar.
 *
 * <p>Problems are built from plain Java arrays and byte buffers (no ND4J): every dtype
 * ({@link ElementType}), heap arrays and direct-buffer windows so small that rows straddle windows,
 * contiguous NWC, NCW ({@code strideT = 1}), padded NCW, strided views with offsets and a time-major
 * layout. Storage outside the view is filled with NaN, so a kernel that reads past its view poisons
 * its losses, and the gradient's padding holds a sentinel that must survive.
 *
 * <p>Tolerances (overridable, with a reason, by a subclass):
 * <ul>
 * <li>token loss, fp32/fp16/bf16 logits: {@code |Δ| <= 1e-5 * (1 + |ℓ_ref|)}. SPEC §3 lets a kernel
 * work in fp32 inside a row; the reference works in double. Budget: each {@code exp} within a few ulp
 * (≤ 5e-7 relative), the rounding of {@code z - max} in fp32 (≤ |z - max|·2^-24 on the exponent, about
 * 1e-6 for the terms that matter), and fp32 partial sums of at most ~64 terms (≤ 64·2^-24 ≈ 4e-6)
 * give ≤ ~6e-6 relative on Σexp, that is ≤ 6e-6 absolute on {@code lse}; {@code lse - z[y]} is formed
 * in double. 1e-5 leaves a margin of ~1.7×.</li>
 * <li>token loss, fp64 logits: {@code |Δ| <= 1e-11 * (1 + |ℓ_ref|)}: double accuracy is required;
 * V ≤ 50 000 double terms summed in any order lose at most V·2^-53 ≈ 6e-12 relative.</li>
 * <li>gradient: {@code |Δ| <= ulp_T(g_ref) + a·|scale| + r·|g_ref|} with {@code a = 2e-6, r = 1e-5} for
 * 32-bit math (the error of {@code softmax} above, relative to 1, times the scale), {@code a = 1e-12,
 * r = 1e-11} for fp64; {@code ulp_T} is one unit in the last place of the gradient's element type at the
 * reference value (the reference rounds its double result to that type once; a kernel whose fp32 value
 * differs by 1e-6 may round to the neighbour).</li>
 * <li>arg-max correctness, non-finite classes (NaN, ±Inf), and the zeros of inactive or zero-scale
 * rows: exact.</li>
 * </ul>
 */
public abstract class LossKernelContract {

    /** @return the kernel under test */
    protected abstract LossKernel kernel();

    /**
     * @param type the logits' element type
     * @return the relative part of the token-loss tolerance, see the class comment
     */
    protected double lossTolerance(ElementType type) {
        return type == ElementType.FLOAT64 ? 1e-11 : 1e-5;
    }

    /**
     * @param type the gradient's element type
     * @return {a, r}: the absolute (times |scale|) and relative parts of the gradient tolerance
     */
    protected double[] gradientTolerance(ElementType type) {
        return type == ElementType.FLOAT64 ? new double[] {1e-12, 1e-11} : new double[] {2e-6, 1e-5};
    }

    // ------------------------------------------------------------------ problem construction

    /** How the logits (or gradient) are stored. */
    protected enum Storage {
        /** A Java array of the element type. */
        ARRAY,
        /** Direct byte buffers of 13 elements each: rows straddle windows. */
        BUFFERS,
        /** One direct byte buffer. */
        BUFFER
    }

    /** Where logical element (b, t, v) lives. */
    protected enum Layout {
        /** [B, N, V] contiguous. */
        NWC,
        /** [B, V, N] contiguous: strideT = 1, strideV = N. */
        NCW,
        /** NCW with an offset and padding after each vocabulary row and each batch. */
        NCW_PADDED,
        /** strideV = 2, padded time and batch strides, an offset: a general view. */
        STRIDED,
        /** [N, B, V]: strideV = 1 but rows of one sequence are not adjacent. */
        TIME_MAJOR;

        long[] geometry(int bN, int n, int vN) {
            switch (this) {
                case NWC:
                    return new long[] {0, (long) n * vN, vN, 1};
                case NCW:
                    return new long[] {0, (long) vN * n, 1, n};
                case NCW_PADDED:
                    return new long[] {3, (long) vN * (n + 2) + 5, 1, n + 2};
                case STRIDED:
                    return new long[] {5, (long) n * (2L * vN + 3) + 1, 2L * vN + 3, 2};
                default:
                    return new long[] {0, vN, (long) bN * vN, 1};
            }
        }
    }

    /**
     * The optional extensions of SPEC §7, alone and together: label smoothing 0.1 (the common choice),
     * z-loss 1e-3 (ten times PaLM's 1e-4, so that {@code lambda·lse²} moves the loss by 0.01 to 1 here), soft-cap
     * 20 (logits of std 3 to 12 reach the saturated part of tanh).
     */
    protected enum Ext {
        NONE(0, 0, 0),
        LABEL_SMOOTHING(0.1, 0, 0),
        Z_LOSS(0, 1e-3, 0),
        SOFT_CAP(0, 0, 20),
        ALL(0.1, 1e-3, 20);

        final double labelSmoothing;
        final double zLoss;
        final double softCap;

        Ext(double labelSmoothing, double zLoss, double softCap) {
            this.labelSmoothing = labelSmoothing;
            this.zLoss = zLoss;
            this.softCap = softCap;
        }
    }

    private static final int WINDOW = 13;
    /** Value of gradient storage outside the view: it must survive the kernel. */
    private static final double SENTINEL = 12.5;

    /** A logical problem: values by (b, t, v), targets, scales, and how to store them. */
    protected static final class Case {
        final String label;
        final int bN;
        final int n;
        final int vN;
        final double[] values;
        final int[] targets;
        final double[] scale;
        ElementType type = ElementType.FLOAT32;
        Storage storage = Storage.ARRAY;
        Layout layout = Layout.NWC;
        Layout gradLayout;
        boolean gradient;
        boolean inPlace;
        Ext ext = Ext.NONE;
        /** Whether the entropy and arg-max outputs (SPEC §13) are asked for. */
        boolean outputs;

        Case(String label, int bN, int n, int vN, double[] values, int[] targets, double[] scale) {
            this.label = label;
            this.bN = bN;
            this.n = n;
            this.vN = vN;
            this.values = values;
            this.targets = targets;
            this.scale = scale;
        }

        Case type(ElementType t) {
            this.type = t;
            return this;
        }

        Case storage(Storage s) {
            this.storage = s;
            return this;
        }

        Case layout(Layout l) {
            this.layout = l;
            return this;
        }

        Case gradient(boolean g) {
            this.gradient = g;
            return this;
        }

        Case gradLayout(Layout l) {
            this.gradLayout = l;
            this.gradient = true;
            return this;
        }

        Case ext(Ext e) {
            this.ext = e;
            return this;
        }

        Case outputs(boolean o) {
            this.outputs = o;
            return this;
        }

        Case inPlace(boolean p) {
            this.inPlace = p;
            if (p) {
                this.gradient = true;
            }
            return this;
        }

        double value(int b, int t, int v) {
            return values[((b * n) + t) * vN + v];
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s B=%d N=%d V=%d %s %s %s%s%s%s%s", label, bN, n, vN, type, storage,
                    layout, gradient ? " grad" + (gradLayout != null ? "->" + gradLayout : "") : "",
                    inPlace ? " in-place" : "", ext == Ext.NONE ? "" : " " + ext, outputs ? " outputs" : "");
        }
    }

    /** A case laid out in memory, ready to run. */
    protected static final class Realised {
        final Case c;
        final Memory logits;
        final long[] lg;
        final Memory grad;
        final long[] gg;
        final LossProblem problem;
        final double[] tokenLoss;
        final boolean[] tokenCorrect;
        final boolean inPlace;
        /** The outputs of SPEC §13, null when the case does not ask for them. */
        final double[] entropy;
        final int[] argMax;

        Realised(Case c) {
            this.c = c;
            this.inPlace = c.inPlace;
            this.lg = c.layout.geometry(c.bN, c.n, c.vN);
            this.logits = allocate(c.type, c.storage, extent(lg, c), Double.NaN);
            for (int b = 0; b < c.bN; b++) {
                for (int t = 0; t < c.n; t++) {
                    for (int v = 0; v < c.vN; v++) {
                        logits.set(index(lg, b, t, v), c.value(b, t, v));
                    }
                }
            }
            LossProblem.Builder pb = LossProblem.builder().shape(c.bN, c.n, c.vN)
                    .logits(logits, lg[0], lg[1], lg[2], lg[3]).targets(c.targets.clone())
                    .extensions(c.ext.labelSmoothing, c.ext.zLoss, c.ext.softCap);
            if (c.inPlace) {
                this.grad = logits;
                this.gg = lg;
            } else if (c.gradient) {
                this.gg = (c.gradLayout != null ? c.gradLayout : c.layout).geometry(c.bN, c.n, c.vN);
                this.grad = allocate(c.type, c.storage, extent(gg, c), SENTINEL);
            } else {
                this.grad = null;
                this.gg = null;
            }
            if (grad != null) {
                pb.gradient(c.scale.clone(), grad, gg[0], gg[1], gg[2], gg[3]);
            }
            int positions = c.bN * c.n;
            this.entropy = c.outputs ? new double[positions] : null;
            this.argMax = c.outputs ? new int[positions] : null;
            if (c.outputs) {
                Arrays.fill(entropy, -3.0);   // garbage that the kernel must overwrite
                Arrays.fill(argMax, -7);
                pb.entropyOut(entropy).argMaxOut(argMax);
            }
            this.problem = pb.build();
            this.tokenLoss = new double[positions];
            this.tokenCorrect = new boolean[positions];
            // garbage that the kernel must overwrite
            Arrays.fill(tokenLoss, Double.NaN);
            Arrays.fill(tokenCorrect, true);
        }

        void run(LossKernel k) {
            k.run(problem, tokenLoss, tokenCorrect);
        }

        double gradient(int b, int t, int v) {
            return grad.get(index(gg, b, t, v));
        }
    }

    static long index(long[] g, int b, int t, int v) {
        return g[0] + b * g[1] + t * g[2] + v * g[3];
    }

    static long extent(long[] g, Case c) {
        return index(g, c.bN - 1, c.n - 1, c.vN - 1) + 1 + 4; // 4 trailing padding elements
    }

    static Memory allocate(ElementType type, Storage storage, long length, double fill) {
        Memory m;
        int len = Math.toIntExact(length);
        switch (storage) {
            case ARRAY:
                switch (type) {
                    case FLOAT32:
                        m = Memory.of(new float[len]);
                        break;
                    case FLOAT64:
                        m = Memory.of(new double[len]);
                        break;
                    default:
                        m = Memory.ofShorts(new short[len], type);
                        break;
                }
                break;
            case BUFFER:
                m = Memory.ofBuffer(type, ByteBuffer.allocateDirect(len * type.bytes()).order(ByteOrder.nativeOrder()));
                break;
            default: {
                int windows = (len + WINDOW - 1) / WINDOW;
                ByteBuffer[] w = new ByteBuffer[windows];
                for (int i = 0; i < windows; i++) {
                    int elems = i < windows - 1 ? WINDOW : len - WINDOW * (windows - 1);
                    w[i] = ByteBuffer.allocateDirect(elems * type.bytes());
                }
                m = Memory.ofBuffers(type, len, WINDOW, w);
                break;
            }
        }
        for (long i = 0; i < len; i++) {
            m.set(i, fill);
        }
        return m;
    }

    /** Rounds a value to what {@code type} stores, so cases hold exactly representable logits. */
    static double representable(ElementType type, double x) {
        switch (type) {
            case FLOAT64:
                return x;
            case FLOAT32:
                return (float) x;
            case FLOAT16:
                return Half.fp16ToFloat(Half.floatToFp16((float) x));
            default:
                return Half.bf16ToFloat(Half.floatToBf16((float) x));
        }
    }

    /**
     * Random logits with a mix of row shapes: smooth (std 3), peaked (one logit 15 above the rest:
     * loss near 0, the cancellation case), quantised to 0.5 (ties for the arg-max), wide (std 12).
     * About 20 % of the positions are inactive (target -1, with a non-zero scale that the kernel must
     * ignore), about 15 % of the active ones have scale 0.
     */
    protected static Case randomCase(String label, long seed, int bN, int n, int vN) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] values = new double[bN * n * vN];
        int[] targets = new int[bN * n];
        double[] scale = new double[bN * n];
        for (int i = 0; i < bN * n; i++) {
            int kind = rnd.nextInt(4);
            int hot = rnd.nextInt(vN);
            for (int v = 0; v < vN; v++) {
                double x;
                switch (kind) {
                    case 0:
                        x = 3 * gaussian(rnd);
                        break;
                    case 1:
                        x = gaussian(rnd) + (v == hot ? 15 : 0);
                        break;
                    case 2:
                        x = Math.rint(2 * gaussian(rnd)) / 2;
                        break;
                    default:
                        x = 12 * gaussian(rnd);
                        break;
                }
                values[i * vN + v] = x;
            }
            double u = rnd.nextDouble();
            targets[i] = u < 0.2 ? -1 : (kind == 1 && u < 0.6 ? hot : rnd.nextInt(vN));
            scale[i] = rnd.nextDouble() < 0.15 ? 0.0 : 0.05 + rnd.nextDouble();
        }
        return new Case(label, bN, n, vN, values, targets, scale);
    }

    private static double gaussian(SplittableRandom rnd) {
        // Box-Muller; SplittableRandom has no nextGaussian on JDK 17
        double u1 = rnd.nextDouble();
        double u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Rounds every value of a case to its element type. */
    static Case fit(Case c) {
        for (int i = 0; i < c.values.length; i++) {
            c.values[i] = representable(c.type, c.values[i]);
        }
        return c;
    }

    // ------------------------------------------------------------------ comparison

    /** Runs the kernel under test and the reference on two copies of the case and compares them. */
    protected Realised checkAgainstReference(Case c) {
        fit(c);
        Realised mine = new Realised(c);
        Realised ref = new Realised(c);
        mine.run(kernel());
        ref.run(ReferenceKernel.INSTANCE);
        assertSameOutputs(ref, mine);
        return mine;
    }

    void assertSameOutputs(Realised ref, Realised mine) {
        Case c = mine.c;
        double lossTol = lossTolerance(c.type);
        for (int b = 0; b < c.bN; b++) {
            for (int t = 0; t < c.n; t++) {
                int i = b * c.n + t;
                String where = c + " at (b=" + b + ", t=" + t + ", y=" + c.targets[i] + ")";
                double r = ref.tokenLoss[i];
                double m = mine.tokenLoss[i];
                if (c.targets[i] < 0) {
                    assertEquals(0L, Double.doubleToRawLongBits(m), "inactive loss must be +0: " + where);
                    assertFalse(mine.tokenCorrect[i], "inactive position counted correct: " + where);
                } else if (Double.isNaN(r) || Double.isInfinite(r)) {
                    assertEquals(Double.doubleToLongBits(r), Double.doubleToLongBits(m), "non-finite loss: " + where);
                } else {
                    double tol = lossTol * (1 + Math.abs(r));
                    if (!(Math.abs(m - r) <= tol)) {
                        fail(String.format(Locale.ROOT, "loss %s: kernel %.17g, reference %.17g, |diff| %.3g > tol %.3g",
                                where, m, r, Math.abs(m - r), tol));
                    }
                }
                assertEquals(ref.tokenCorrect[i], mine.tokenCorrect[i], "arg-max == target: " + where);
                if (c.outputs) {
                    assertEquals(ref.argMax[i], mine.argMax[i], "arg-max: " + where);
                    assertClose(ref.entropy[i], mine.entropy[i], lossTol, "entropy: " + where);
                }
            }
        }
        if (c.gradient) {
            assertGradientsMatch(ref, mine);
        }
    }

    /** {@code |Δ| <= tol·(1 + |ref|)}; non-finite values must match in class (NaN, ±Inf) exactly. */
    static void assertClose(double ref, double mine, double tol, String where) {
        if (!Double.isFinite(ref)) {
            assertEquals(Double.doubleToLongBits(ref), Double.doubleToLongBits(mine), where);
        } else if (!(Math.abs(mine - ref) <= tol * (1 + Math.abs(ref)))) {
            fail(String.format(Locale.ROOT, "%s: kernel %.17g, reference %.17g, |diff| %.3g > tol %.3g", where, mine,
                    ref, Math.abs(mine - ref), tol * (1 + Math.abs(ref))));
        }
    }

    void assertGradientsMatch(Realised ref, Realised mine) {
        Case c = mine.c;
        double[] tol = gradientTolerance(c.type);
        for (int b = 0; b < c.bN; b++) {
            for (int t = 0; t < c.n; t++) {
                int i = b * c.n + t;
                boolean zeroRow = c.targets[i] < 0 || c.scale[i] == 0.0;
                for (int v = 0; v < c.vN; v++) {
                    double r = ref.gradient(b, t, v);
                    double m = mine.gradient(b, t, v);
                    if (zeroRow) {
                        if (Double.doubleToRawLongBits(m) != 0L) {
                            fail("gradient of a row without weight must be +0, was " + m + ": " + c + " at (" + b
                                    + ", " + t + ", " + v + ")");
                        }
                        continue;
                    }
                    if (Double.isNaN(r) || Double.isInfinite(r)) {
                        assertEquals(Double.doubleToLongBits(r), Double.doubleToLongBits(m),
                                "non-finite gradient: " + c + " at (" + b + ", " + t + ", " + v + ")");
                        continue;
                    }
                    double bound = ulpIn(c.type, r) + tol[0] * Math.abs(c.scale[i]) + tol[1] * Math.abs(r);
                    if (!(Math.abs(m - r) <= bound)) {
                        fail(String.format(Locale.ROOT,
                                "gradient %s at (%d, %d, %d): kernel %.17g, reference %.17g, |diff| %.3g > tol %.3g",
                                c, b, t, v, m, r, Math.abs(m - r), bound));
                    }
                }
            }
        }
        if (!mine.inPlace) {
            assertPaddingIntact(mine);
        }
    }

    /** One unit in the last place of {@code type} at {@code x}. */
    static double ulpIn(ElementType type, double x) {
        switch (type) {
            case FLOAT64:
                return Math.ulp(x);
            case FLOAT32:
                return Math.ulp((float) x);
            case FLOAT16:
                return Math.max(Math.ulp((float) x) * 8192.0, 0x1p-24);
            default:
                return Math.max(Math.ulp((float) x) * 65536.0, 0x1p-133);
        }
    }

    static void assertPaddingIntact(Realised r) {
        long len = extent(r.gg, r.c);
        boolean[] inView = new boolean[Math.toIntExact(len)];
        for (int b = 0; b < r.c.bN; b++) {
            for (int t = 0; t < r.c.n; t++) {
                for (int v = 0; v < r.c.vN; v++) {
                    inView[Math.toIntExact(index(r.gg, b, t, v))] = true;
                }
            }
        }
        for (int i = 0; i < len; i++) {
            if (!inView[i]) {
                assertEquals(SENTINEL, r.grad.get(i), "gradient storage outside the view was written at " + i + ": "
                        + r.c);
            }
        }
    }

    // ------------------------------------------------------------------ random cases

    static Stream<Arguments> smallCases() {
        List<Arguments> list = new ArrayList<>();
        long seed = 1;
        for (ElementType type : ElementType.values()) {
            for (Storage storage : new Storage[] {Storage.ARRAY, Storage.BUFFERS}) {
                for (Layout layout : Layout.values()) {
                    for (boolean grad : new boolean[] {false, true}) {
                        list.add(Arguments.of(type, storage, layout, grad, seed++));
                    }
                }
            }
        }
        return list.stream();
    }

    /** Small odd shapes (B=3, N=9, V=61): every dtype, storage, layout, with and without a gradient. */
    @ParameterizedTest(name = "{0} {1} {2} grad={3}")
    @MethodSource("smallCases")
    void randomSmall(ElementType type, Storage storage, Layout layout, boolean grad, long seed) {
        checkAgainstReference(randomCase("random", seed, 3, 9, 61).type(type).storage(storage).layout(layout)
                .gradient(grad));
    }

    static Stream<Arguments> mediumCases() {
        List<Arguments> list = new ArrayList<>();
        long seed = 1000;
        for (ElementType type : ElementType.values()) {
            for (Layout layout : Layout.values()) {
                list.add(Arguments.of(type, layout.ordinal() % 2 == 0 ? Storage.ARRAY : Storage.BUFFER, layout, seed++));
            }
        }
        return list.stream();
    }

    /**
     * Shapes large enough for vector lanes, unrolled loops and time tiles with tails
     * (B=2, N=45, V=1031), every dtype and layout, with a gradient.
     */
    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("mediumCases")
    void randomMedium(ElementType type, Storage storage, Layout layout, long seed) {
        checkAgainstReference(randomCase("medium", seed, 2, 45, 1031).type(type).storage(storage).layout(layout)
                .gradient(true));
    }

    /** The gradient in a layout other than the logits' (NCW logits, NWC gradient and back). */
    @ParameterizedTest(name = "{0}")
    @EnumSource(ElementType.class)
    void gradientInAnotherLayout(ElementType type) {
        checkAgainstReference(randomCase("ncw->nwc", 11, 2, 37, 203).type(type).layout(Layout.NCW)
                .gradLayout(Layout.NWC));
        checkAgainstReference(randomCase("nwc->ncw", 12, 2, 37, 203).type(type).layout(Layout.NWC)
                .gradLayout(Layout.NCW_PADDED));
        checkAgainstReference(randomCase("strided->nwc", 13, 2, 5, 203).type(type).layout(Layout.STRIDED)
                .gradLayout(Layout.NWC).storage(Storage.BUFFERS));
    }

    static Stream<Arguments> inPlaceCases() {
        List<Arguments> list = new ArrayList<>();
        for (ElementType type : ElementType.values()) {
            for (Layout layout : Layout.values()) {
                list.add(Arguments.of(type, layout));
            }
        }
        return list.stream();
    }

    /** In place: the gradient memory is the logits memory; compared with the reference writing elsewhere. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("inPlaceCases")
    void inPlaceGradient(ElementType type, Layout layout) {
        Case c = fit(randomCase("in-place", 77 + layout.ordinal(), 2, 33, 301).type(type).layout(layout)
                .storage(layout == Layout.STRIDED ? Storage.BUFFERS : Storage.ARRAY));
        Realised mine = new Realised(c.inPlace(true));
        assertTrue(mine.problem.inPlace());
        mine.run(kernel());
        c.inPlace = false;
        Realised ref = new Realised(c);
        ref.run(ReferenceKernel.INSTANCE);
        assertSameOutputs(ref, mine);
    }

    /** Large vocabularies on few rows (V=50 000; and V=128 256 in fp32 NWC). */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("largeVocabCases")
    void largeVocabulary(ElementType type, Layout layout, int vN) {
        checkAgainstReference(randomCase("large-V", 5 + vN, 1, 3, vN).type(type).layout(layout).gradient(true));
    }

    static Stream<Arguments> largeVocabCases() {
        return Stream.of(Arguments.of(ElementType.FLOAT32, Layout.NWC, 50_000),
                Arguments.of(ElementType.FLOAT32, Layout.NWC, 128_256),
                Arguments.of(ElementType.FLOAT32, Layout.NCW, 50_000),
                Arguments.of(ElementType.BFLOAT16, Layout.NWC, 50_000),
                Arguments.of(ElementType.FLOAT16, Layout.NCW, 50_000),
                Arguments.of(ElementType.FLOAT64, Layout.NWC, 50_000));
    }

    /** Logits around 1000 (fp32, fp64): the max subtraction keeps the loss exact to the tolerance. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = ElementType.class, names = {"FLOAT32", "FLOAT64"})
    void largeLogitOffset(ElementType type) {
        Case c = randomCase("offset", 9, 2, 17, 257);
        for (int i = 0; i < c.values.length; i++) {
            c.values[i] += 1000;
        }
        checkAgainstReference(c.type(type).gradient(true));
        checkAgainstReference(randomCase("offset-ncw", 9, 2, 17, 257).type(type).layout(Layout.NCW).gradient(true));
    }

    /** The same problem twice gives bitwise the same losses, flags and gradient. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("determinismCases")
    void deterministic(ElementType type, Layout layout) {
        Case c = fit(randomCase("determinism", 31, 3, 40, 777).type(type).layout(layout).gradient(true));
        Realised a = new Realised(c);
        Realised b = new Realised(c);
        a.run(kernel());
        b.run(kernel());
        assertBitwiseEqual(a, b);
    }

    static Stream<Arguments> determinismCases() {
        return Stream.of(Arguments.of(ElementType.FLOAT32, Layout.NWC), Arguments.of(ElementType.FLOAT32, Layout.NCW),
                Arguments.of(ElementType.BFLOAT16, Layout.NWC), Arguments.of(ElementType.FLOAT64, Layout.STRIDED));
    }

    static void assertBitwiseEqual(Realised a, Realised b) {
        for (int i = 0; i < a.tokenLoss.length; i++) {
            assertEquals(Double.doubleToRawLongBits(a.tokenLoss[i]), Double.doubleToRawLongBits(b.tokenLoss[i]),
                    "token loss bits at " + i);
        }
        assertArrayEquals(a.tokenCorrect, b.tokenCorrect);
        long len = extent(a.gg, a.c);
        for (long i = 0; i < len; i++) {
            assertEquals(Double.doubleToRawLongBits(a.grad.get(i)), Double.doubleToRawLongBits(b.grad.get(i)),
                    "gradient bits at " + i);
        }
    }

    /** Without the in-place option the logits are never modified. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Layout.class)
    void logitsUntouched(Layout layout) {
        Case c = fit(randomCase("untouched", 3, 2, 21, 129).layout(layout).gradient(true));
        Realised r = new Realised(c);
        Realised copy = new Realised(c);
        r.run(kernel());
        long len = extent(r.lg, c);
        for (long i = 0; i < len; i++) {
            assertEquals(Double.doubleToRawLongBits(copy.logits.get(i)), Double.doubleToRawLongBits(r.logits.get(i)),
                    "logit changed at " + i);
        }
    }

    // ------------------------------------------------------------------ edge cases with worked expectations

    /** One row per position; values given per row. */
    static Case rows(String label, double[][] rows, int[] targets, double[] scale) {
        int vN = rows[0].length;
        double[] values = new double[rows.length * vN];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, values, i * vN, vN);
        }
        return new Case(label, 1, rows.length, vN, values, targets, scale);
    }

    private static final double NAN = Double.NaN;
    private static final double INF = Double.POSITIVE_INFINITY;

    /**
     * Worked example: z = (1, 2, 3), y = 0 → ℓ = log(e + e² + e³) − 1 (closed form in double);
     * gradient s·(softmax − onehot) with softmax = exp(z − lse).
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void workedExample(ElementType type, Layout layout) {
        Case c = rows("worked", new double[][] {{1, 2, 3}}, new int[] {0}, new double[] {0.5}).type(type).layout(layout)
                .gradient(true);
        Realised r = checkAgainstReference(c);
        double lse = Math.log(Math.E + Math.exp(2) + Math.exp(3));
        assertEquals(lse - 1, r.tokenLoss[0], lossTolerance(type) * (1 + lse));
        assertFalse(r.tokenCorrect[0]);
        double[] tol = gradientTolerance(type);
        for (int v = 0; v < 3; v++) {
            double want = 0.5 * (Math.exp(v + 1 - lse) - (v == 0 ? 1 : 0));
            assertEquals(want, r.gradient(0, 0, v), ulpIn(type, want) + tol[0] * 0.5 + tol[1] * Math.abs(want));
        }
    }

    static Stream<Arguments> dtypeAndLayout() {
        List<Arguments> list = new ArrayList<>();
        for (ElementType type : ElementType.values()) {
            for (Layout layout : Layout.values()) {
                list.add(Arguments.of(type, layout));
            }
        }
        return list.stream();
    }

    /**
     * Arg-max rules (SPEC §5, ReferenceKernel): ties go to the lowest index; -0 ties +0; a NaN counts as
     * the maximum and the first NaN wins; an all -Inf row has arg-max 0.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void argMaxRules(ElementType type, Layout layout) {
        double ninf = Double.NEGATIVE_INFINITY;
        double[][] rows = {
            {1, 3, 3, 0}, {1, 3, 3, 0}, // tie: index 1 wins
            {-0.0, 0.0, -1, -2}, {-0.0, 0.0, -1, -2}, // -0 and +0 tie: index 0 wins
            {0, NAN, 5, NAN}, {0, NAN, 5, NAN}, {0, NAN, 5, NAN}, // first NaN wins
            {ninf, ninf, ninf, ninf}, {ninf, ninf, ninf, ninf}, // all -Inf: arg-max 0
            {2, 7, INF, INF}, {2, 7, INF, INF}, // first +Inf wins
            {ninf, -5, -5, ninf}, // -Inf entries are ordinary minima
        };
        int[] targets = {1, 2, 0, 1, 1, 2, 3, 0, 1, 2, 3, 1};
        boolean[] want = {true, false, true, false, true, false, false, true, false, true, false, true};
        double[] scale = new double[rows.length];
        Arrays.fill(scale, 1.0);
        Realised r = checkAgainstReference(rows("argmax", rows, targets, scale).type(type).layout(layout).gradient(true));
        for (int i = 0; i < rows.length; i++) {
            assertEquals(want[i], r.tokenCorrect[i], "row " + i + " " + Arrays.toString(rows[i]) + " target " + targets[i]);
        }
    }

    /**
     * Non-finite logits (SPEC §10): NaN or +Inf in a row or an all -Inf row gives a NaN loss and, with a
     * non-zero scale, a NaN gradient row; a -Inf target in a finite row gives +Inf loss and a finite
     * gradient ({@code -scale} at the target, softmax elsewhere); -Inf elsewhere is legal (probability 0,
     * gradient exactly 0 there); rows without weight stay exact zeros whatever their logits.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void nonFiniteLogits(ElementType type, Layout layout) {
        double ninf = Double.NEGATIVE_INFINITY;
        double[][] rows = {
            {0.5, NAN, 1, 2, 0, 0, 0, 0, 1}, // NaN, weighted
            {0.5, NAN, 1, 2, 0, 0, 0, 0, 1}, // NaN, scale 0
            {0.5, NAN, 1, 2, 0, 0, 0, 0, 1}, // NaN, inactive
            {1, 2, INF, 0, 0, 0, 0, 0, 0}, // +Inf, weighted
            {1, 2, INF, 0, 0, 0, 0, 0, 0}, // +Inf, scale 0
            {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf}, // all -Inf, weighted
            {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf}, // all -Inf, inactive
            {1, ninf, 2, 3, 0, -1, 0, 0, 0}, // -Inf target
            {1, ninf, 2, 3, ninf, -1, 0, ninf, 0}, // -Inf elsewhere, legal
            {ninf, ninf, ninf, 4, ninf, ninf, ninf, ninf, ninf}, // a single finite logit: loss 0
            {-INF, -3e38, 3e38, 1, 2, 3, 4, 5, 6}, // huge finite logits
        };
        int[] targets = {2, 2, -1, 0, 0, 3, -1, 1, 3, 3, 2};
        double[] scale = {1, 0, 1, 0.5, 0, 1, 1, 0.25, 0.75, 1, 1};
        Case c = rows("non-finite", rows, targets, scale).type(type).layout(layout).gradient(true);
        if (type == ElementType.FLOAT16 || type == ElementType.BFLOAT16) {
            c.values[10 * 9 + 1] = -60000; // keep the huge values in range of the 16-bit formats
            c.values[10 * 9 + 2] = 60000;
        }
        Realised r = checkAgainstReference(c);
        assertTrue(Double.isNaN(r.tokenLoss[0]));
        assertTrue(Double.isNaN(r.tokenLoss[1]), "scale does not change the token loss");
        assertEquals(0.0, r.tokenLoss[2]);
        assertTrue(Double.isNaN(r.tokenLoss[3]));
        assertTrue(Double.isNaN(r.tokenLoss[5]));
        assertEquals(INF, r.tokenLoss[7]);
        assertTrue(Double.isFinite(r.tokenLoss[8]));
        double lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(-1) + 2 * Math.exp(0));
        assertEquals(lse - 3, r.tokenLoss[8], lossTolerance(type) * (1 + lse));
        assertEquals(0.0, r.tokenLoss[9], lossTolerance(type));
        assertEquals(0.0, r.tokenLoss[10], lossTolerance(type), "the max logit is the target");
        for (int v = 0; v < 9; v++) {
            assertTrue(Double.isNaN(r.gradient(0, 0, v)), "NaN row gradient");
            assertTrue(Double.isNaN(r.gradient(0, 3, v)), "+Inf row gradient");
            assertTrue(Double.isNaN(r.gradient(0, 5, v)), "all -Inf row gradient");
            assertTrue(Double.isFinite(r.gradient(0, 7, v)), "-Inf target row gradient");
            assertEquals(0L, Double.doubleToRawLongBits(r.gradient(0, 6, v)), "inactive -Inf row");
        }
        assertEquals(-0.25, r.gradient(0, 7, 1), 0.0, "-Inf target: softmax 0, gradient -scale exactly");
        assertEquals(0L, Double.doubleToRawLongBits(r.gradient(0, 8, 1)), "-Inf non-target: gradient +0");
        assertEquals(0L, Double.doubleToRawLongBits(r.gradient(0, 8, 4)), "-Inf non-target: gradient +0");
    }

    /** V = 1: the only token is certain; loss 0, arg-max correct, gradient 0. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void vocabularyOfOne(ElementType type, Layout layout) {
        Case c = rows("V=1", new double[][] {{3.25}, {-7}, {0}, {NAN}}, new int[] {0, 0, -1, 0},
                new double[] {1, 0.5, 1, 1}).type(type).layout(layout).gradient(true);
        Realised r = checkAgainstReference(c);
        double[] tol = gradientTolerance(type);
        for (int t = 0; t < 2; t++) {
            assertEquals(0.0, r.tokenLoss[t], lossTolerance(type));
            assertTrue(r.tokenCorrect[t]);
            assertEquals(0.0, r.gradient(0, t, 0), tol[0]);
        }
        assertTrue(Double.isNaN(r.tokenLoss[3]));
        assertTrue(r.tokenCorrect[3], "the NaN is the arg-max and the target");
    }

    /** Every position inactive, with and without a gradient: losses 0, gradient all +0. */
    @Test
    void nothingActive() {
        Case c = randomCase("inactive", 4, 2, 6, 50);
        Arrays.fill(c.targets, -1);
        Realised r = checkAgainstReference(c.gradient(true).layout(Layout.NCW));
        for (double l : r.tokenLoss) {
            assertEquals(0L, Double.doubleToRawLongBits(l));
        }
    }

    /** Larger batch (B=8, N=64, V=515), fp32 NWC and NCW, a spot check that threads split rows cleanly. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Layout.class, names = {"NWC", "NCW", "TIME_MAJOR"})
    void manyRows(Layout layout) {
        checkAgainstReference(randomCase("many-rows", 21, 8, 64, 515).layout(layout).gradient(true));
    }

    // ------------------------------------------------------------------ extensions (SPEC §7)

    static Stream<Arguments> extensionCases() {
        List<Arguments> list = new ArrayList<>();
        long seed = 5000;
        for (ElementType type : ElementType.values()) {
            for (Layout layout : Layout.values()) {
                for (Ext ext : new Ext[] {Ext.LABEL_SMOOTHING, Ext.Z_LOSS, Ext.SOFT_CAP, Ext.ALL}) {
                    for (boolean grad : new boolean[] {false, true}) {
                        Storage storage = (layout.ordinal() + ext.ordinal()) % 2 == 0 ? Storage.ARRAY : Storage.BUFFERS;
                        list.add(Arguments.of(type, storage, layout, ext, grad, seed++));
                    }
                }
            }
        }
        return list.stream();
    }

    /**
     * Each extension alone and all together, against the reference within the tolerances above: every dtype
     * and layout, heap arrays and windowed buffers, with and without a gradient (B=3, N=9, V=61).
     */
    @ParameterizedTest(name = "{0} {1} {2} {3} grad={4}")
    @MethodSource("extensionCases")
    void extensionsSmall(ElementType type, Storage storage, Layout layout, Ext ext, boolean grad, long seed) {
        checkAgainstReference(randomCase("ext", seed, 3, 9, 61).type(type).storage(storage).layout(layout).ext(ext)
                .gradient(grad));
    }

    /** All extensions on shapes with vector lanes, tiles and tails (B=2, N=45, V=1031), every dtype and layout. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void extensionsMedium(ElementType type, Layout layout) {
        checkAgainstReference(randomCase("ext-medium", 6000 + 7L * type.ordinal() + layout.ordinal(), 2, 45, 1031)
                .type(type).layout(layout).storage(layout.ordinal() % 2 == 0 ? Storage.ARRAY : Storage.BUFFER)
                .ext(Ext.ALL).gradient(true));
    }

    /** All extensions with the gradient written over the logits. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void extensionsInPlace(ElementType type, Layout layout) {
        for (Ext ext : new Ext[] {Ext.SOFT_CAP, Ext.ALL}) {
            Case c = fit(randomCase("ext-in-place", 7000 + layout.ordinal(), 2, 33, 301).type(type).layout(layout)
                    .storage(layout == Layout.STRIDED ? Storage.BUFFERS : Storage.ARRAY).ext(ext));
            Realised mine = new Realised(c.inPlace(true));
            mine.run(kernel());
            c.inPlace = false;
            Realised ref = new Realised(c);
            ref.run(ReferenceKernel.INSTANCE);
            assertSameOutputs(ref, mine);
        }
    }

    /**
     * Non-finite logits under the extensions, against the reference (non-finite classes exact) and SPEC §7/§10:
     * soft-capping maps ±Inf to ±c, so a +Inf row and an all -Inf row get finite losses; NaN stays NaN; with
     * label smoothing a -Inf anywhere in a weighted row makes the mean logit -Inf and the loss +Inf.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void extensionsNonFinite(ElementType type, Layout layout) {
        double ninf = Double.NEGATIVE_INFINITY;
        double[][] rows = {
            {0.5, NAN, 1, 2, 0, 0, 0, 0, 1}, // NaN
            {1, 2, INF, 0, 0, 0, 0, 0, 0}, // +Inf
            {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf}, // all -Inf
            {1, ninf, 2, 3, 0, -1, 0, 0, 0}, // -Inf target
            {1, ninf, 2, 3, ninf, -1, 0, ninf, 0}, // -Inf elsewhere
        };
        int[] targets = {2, 0, 3, 1, 3};
        double[] scale = {1, 0.5, 1, 0.25, 0.75};
        for (Ext ext : new Ext[] {Ext.LABEL_SMOOTHING, Ext.Z_LOSS, Ext.SOFT_CAP, Ext.ALL}) {
            Realised r = checkAgainstReference(rows("ext-non-finite", rows, targets, scale).type(type).layout(layout)
                    .ext(ext).gradient(true));
            boolean capped = ext.softCap > 0;
            assertTrue(Double.isNaN(r.tokenLoss[0]), ext + ": NaN row");
            assertEquals(capped, Double.isFinite(r.tokenLoss[1]), ext + ": +Inf row");
            assertEquals(capped, Double.isFinite(r.tokenLoss[2]), ext + ": all -Inf row");
            if (ext.labelSmoothing != 0 && !capped) {
                assertEquals(INF, r.tokenLoss[4], ext + ": -Inf in the row makes the mean logit -Inf");
            }
        }
    }

    /**
     * Worked example, all extensions: z = (1, 2, 3), y = 0, eps = 0.1, lambda = 1e-3, c = 20; by SPEC §7 in
     * double: z' = 20 tanh(z/20), lse = log Σ exp z', loss = 0.9 (lse - z'_0) + 0.1 (lse - mean z') + 1e-3 lse²,
     * gradient s·((1 + 2e-3 lse) softmax(z') - 0.9 [v = 0] - 0.1/3)(1 - (z'/20)²).
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void extensionsWorkedExample(ElementType type, Layout layout) {
        Case c = rows("ext-worked", new double[][] {{1, 2, 3}}, new int[] {0}, new double[] {0.5}).type(type)
                .layout(layout).ext(Ext.ALL).gradient(true);
        Realised r = checkAgainstReference(c);
        double[] zc = new double[3];
        double sum = 0;
        double mean = 0;
        for (int v = 0; v < 3; v++) {
            zc[v] = 20 * Math.tanh((v + 1) / 20.0);
            sum += Math.exp(zc[v]);
            mean += zc[v] / 3;
        }
        double lse = Math.log(sum);
        double loss = 0.9 * (lse - zc[0]) + 0.1 * (lse - mean) + 1e-3 * lse * lse;
        assertEquals(loss, r.tokenLoss[0], lossTolerance(type) * (1 + loss));
        double[] tol = gradientTolerance(type);
        for (int v = 0; v < 3; v++) {
            double u = zc[v] / 20;
            double want = 0.5 * ((1 + 2e-3 * lse) * Math.exp(zc[v] - lse) - (v == 0 ? 0.9 : 0) - 0.1 / 3) * (1 - u * u);
            assertEquals(want, r.gradient(0, 0, v), ulpIn(type, want) + tol[0] * 0.5 + tol[1] * Math.abs(want));
        }
    }

    // ------------------------------------------------------------------ outputs (SPEC §13)

    static Stream<Arguments> outputCases() {
        List<Arguments> list = new ArrayList<>();
        long seed = 9000;
        for (ElementType type : ElementType.values()) {
            for (Layout layout : Layout.values()) {
                for (Ext ext : new Ext[] {Ext.NONE, Ext.ALL}) {
                    boolean grad = (layout.ordinal() + ext.ordinal()) % 2 == 0;
                    list.add(Arguments.of(type, layout, ext, grad, seed++));
                }
            }
        }
        return list.stream();
    }

    /**
     * The entropy and arg-max outputs of SPEC §13 against the reference: arg-max exact, entropy within the
     * token-loss tolerance ({@code H = log s - T/s} is formed like the loss, from the same fp32 terms);
     * every dtype and layout, plain and with every extension (the entropy of the capped distribution),
     * with and without a gradient (B=3, N=9, V=61, then B=2, N=45, V=1031 for lanes, tiles and tails).
     */
    @ParameterizedTest(name = "{0} {1} {2} grad={3}")
    @MethodSource("outputCases")
    void outputsAgreeWithTheReference(ElementType type, Layout layout, Ext ext, boolean grad, long seed) {
        assumeTrue(kernel().supportsOutputs(), "the kernel has no outputs");
        checkAgainstReference(randomCase("outputs", seed, 3, 9, 61).type(type).layout(layout).ext(ext)
                .gradient(grad).outputs(true));
        checkAgainstReference(randomCase("outputs-medium", seed + 100, 2, 45, 1031).type(type).layout(layout)
                .ext(ext).gradient(!grad).outputs(true).storage(layout.ordinal() % 2 == 0 ? Storage.ARRAY
                        : Storage.BUFFER));
    }

    /**
     * Asking for the outputs changes nothing else: losses, arg-max hits and gradients are bitwise those of the
     * same kernel without them (the entropy's pass gives the same exp-sum), in place too.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void outputsLeaveLossAndGradientBitwiseUnchanged(ElementType type, Layout layout) {
        assumeTrue(kernel().supportsOutputs(), "the kernel has no outputs");
        for (Ext ext : new Ext[] {Ext.NONE, Ext.SOFT_CAP}) {
            for (boolean inPlace : new boolean[] {false, true}) {
                Case c = fit(randomCase("outputs-bitwise", 9500 + layout.ordinal(), 2, 17, 203).type(type)
                        .layout(layout).ext(ext).gradient(true).inPlace(inPlace));
                Realised plain = new Realised(c);
                plain.run(kernel());
                Realised with = new Realised(c.outputs(true));
                with.run(kernel());
                c.outputs(false);
                assertBitwiseEqual(plain, with);
            }
        }
    }

    /**
     * The outputs of non-finite rows (SPEC §10, §13): entropy NaN where the loss is NaN, finite for a -Inf
     * target (the distribution is still defined) and with a masked (-Inf) vocabulary, whose entries have
     * probability 0; the arg-max of §5 (first NaN, first maximum, 0 for an all -Inf row).
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void outputsOfNonFiniteRows(ElementType type, Layout layout) {
        assumeTrue(kernel().supportsOutputs(), "the kernel has no outputs");
        double ninf = Double.NEGATIVE_INFINITY;
        double[][] rows = {
            {0.5, NAN, 1, 2, 0, 0, 0, NAN, 1}, // NaN: arg-max 1
            {1, 2, INF, 0, 0, INF, 0, 0, 0}, // +Inf: arg-max 2
            {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf}, // all -Inf: arg-max 0
            {1, ninf, 2, 3, 0, -1, 0, 0, 0}, // -Inf target
            {1, ninf, 2, 3, ninf, -1, 3, ninf, 0}, // masked entries, tie at 3
        };
        int[] targets = {2, 0, 3, 1, 6};
        double[] scale = {1, 0.5, 1, 0.25, 0.75};
        for (Ext ext : new Ext[] {Ext.NONE, Ext.SOFT_CAP}) {
            Realised r = checkAgainstReference(rows("outputs-non-finite", rows, targets, scale).type(type)
                    .layout(layout).ext(ext).gradient(true).outputs(true));
            assertTrue(Double.isNaN(r.entropy[0]), ext + ": NaN row");
            assertEquals(1, r.argMax[0], ext + ": the first NaN");
            assertEquals(2, r.argMax[1], ext + ": the first +Inf");
            assertEquals(0, r.argMax[2], ext + ": all -Inf");
            assertTrue(Double.isFinite(r.entropy[3]), ext + ": -Inf target, entropy defined");
            assertEquals(3, r.argMax[4], ext + ": tie at the maximum, the first");
            assertTrue(Double.isFinite(r.entropy[4]), ext + ": masked vocabulary");
        }
    }

    /**
     * Worked example: z = (0, ln 2, ln 3) gives p = (1, 2, 3)/6, so {@code H = -Σ p ln p =
     * ln 6 - (2 ln 2 + 3 ln 3)/6 = 1.0114042647073518} (double); arg-max 2; an inactive position 0 and -1.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dtypeAndLayout")
    void entropyWorkedExample(ElementType type, Layout layout) {
        assumeTrue(kernel().supportsOutputs(), "the kernel has no outputs");
        Case c = rows("entropy-worked", new double[][] {{0, Math.log(2), Math.log(3)}, {5, 1, 2}},
                new int[] {0, -1}, new double[] {1, 1}).type(type).layout(layout).outputs(true);
        Realised r = checkAgainstReference(c);
        double[] z = {0, representable(type, Math.log(2)), representable(type, Math.log(3))};
        double s = 0;
        for (double x : z) {
            s += Math.exp(x);
        }
        double h = 0;
        for (double x : z) {
            double p = Math.exp(x) / s;
            h -= p * Math.log(p);
        }
        assertEquals(h, r.entropy[0], lossTolerance(type) * (1 + h), "H of the stored logits");
        assertEquals(1.0114042647073518, h, type == ElementType.FLOAT64 ? 1e-15 : 2e-3, "H of (1, 2, 3)/6");
        assertEquals(2, r.argMax[0]);
        assertEquals(0L, Double.doubleToRawLongBits(r.entropy[1]), "inactive: +0");
        assertEquals(-1, r.argMax[1], "inactive: -1");
    }
}
