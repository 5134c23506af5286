package org.plw4j.kernel;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link RowOps} on the Vector API ({@code jdk.incubator.vector}), at the platform's preferred width
 * (AVX2: 8 float lanes, AVX-512: 16). Only heap-array loads and stores, whose signatures are the same
 * from JDK 17 to 25 (the {@code ByteBuffer} ones changed after 17). Loaded reflectively by
 * {@link RowOps#best()}, never referenced by name, so the kernel runs without the module.
 *
 * <p>The exponential is {@link FastExp}'s algorithm lane-wise (the same operations, hence the same
 * bits as the scalar {@link FastExp#expf(float)}): about 17 vector operations per element, no table,
 * no division. Sums: one fp32 accumulator flushed to a double every {@value #FLUSH_ITER} vectors, so
 * each fp32 lane sums at most 64 terms.
 *
 * <p>C2 keeps vectors in registers only when every method taking or returning a vector is inlined.
 * The Vector API's own methods are force-inlined, but a helper of ours is inlined only while C2's
 * heuristics allow: past its node budget (a big caller such as the kernel's row loop, into which the
 * whole row is inlined) or at a call site it deems cold once the helper has its own compiled code
 * ("already compiled into a medium method"), the call stays and every vector crossing it is boxed: on
 * JDK 17, depending on compilation order, up to 15 bytes allocated per logit and 10x slower. Splitting
 * the exponential into helpers of 22 to 81 bytecodes does not avoid it: C2 still declined them at cold
 * call sites ("already compiled into a medium method", {@code -XX:+PrintInlining}), and a bf16 forward then
 * ran 4x slower in one JVM out of five. So no
 * method of the compiled class takes or returns a vector: this file is a template, and the build
 * ({@code core/src/build/InlineAtBuild.java}, docs/building.md) writes the body of each method marked
 * {@code // @inline-at-build} out in place of its calls and leaves the method out of the class, so the
 * exponential's steps stand once here and in full in each loop of the generated VectorRowOps
 * (the same operations as {@link FastExp#expf(float)}, checked bitwise by the tests); running sums
 * go through a small array (load, add, store: no vector phi at a loop exit, which C2 also boxed at
 * times), which costs nothing measurable next to the exponential (speeds in benchmarks/RESULTS.md).
 *
 * <p>The scalar tail of a blocked loop runs once, after the last block, not inside the block loop: with
 * the tail's scalar code inside it, C2 kept the polynomial's broadcast constants on the stack and
 * reloaded about ten of them in every vector iteration (the scalar registers alias the vector ones), and
 * the entropy and label-smoothing passes ran 1.7 to 1.9 times as long as the plain one at 512 bits
 * (1.1 with the tail after the loop; benchmarks/RESULTS.md). The sums are the same bit for bit, since the
 * tail was the last term added either way.
 */
final class VectorRowOps extends RowOps {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int LD = D.length();
    /** Vectors summed in fp32 between flushes to double: at most 64 terms per lane. */
    private static final int FLUSH_ITER = 64;
    private static final int CHUNK = FLUSH_ITER * L;

    /**
     * The bits of {@link FastExp#X_MIN_F}. For {@code x <= 0} (not NaN), {@code x < X_MIN} exactly when the
     * bits of {@code x} with the sign bit set, read as a signed int, exceed these (the magnitude grows with the
     * int for negative floats; {@code +0} becomes {@code -0}, whose exponential is the same 1). So the clamp
     * {@code max(x, X_MIN)} is one OR and one signed integer MIN on the bits, about 20 % faster per
     * exponential than a compare and blend (benchmarks/RESULTS.md), with bitwise the same result for every {@code x <= 0}, {@code -Inf} included. The row callers guarantee {@code x <= 0}:
     * their shift is the row's finite maximum, NaN rows never reach the exponential; NCW tiles keep the
     * compare and blend, since their lanes may hold NaN.
     */
    private static final int X_MIN_BITS = Float.floatToRawIntBits(FastExp.X_MIN_F);

    private final boolean immediate;
    private final float[] lanes = new float[L];
    private final float[] lanesT = new float[L];
    private final float[] acc4 = new float[4 * L];
    private final double[] lanesD = new double[LD];
    private final float[] tmpB = new float[4 * L];
    private final float[] tmpT = new float[4 * L];
    /** The bias of {@link #ncwGradient}'s call to {@link #ncwGradientExtended}: zeros, never written. */
    private final float[] zeroBias = new float[4 * L];

    /**
     * Public for the reflective load.
     *
     * @throws IllegalStateException if the preferred species has fewer than 4 float lanes (no useful SIMD)
     */
    public VectorRowOps() {
        this(false);
    }

    /**
     * @param immediate true: {@link #forCall()} answers this instance from the first call, without waiting
     *        for the warm-up (tests of the vector code itself)
     */
    VectorRowOps(boolean immediate) {
        if (L < 4 || S.length() != L || LD < 2) {
            throw new IllegalStateException("preferred vector species too narrow: " + F);
        }
        this.immediate = immediate;
    }

    @Override
    RowOps fresh() {
        return new VectorRowOps(immediate);
    }

    /** @return a scalar implementation summing in this species' lane order: bitwise the same results */
    static ScalarRowOps scalarTwin() {
        return new ScalarRowOps(L, LD);
    }

    @Override
    String describe() {
        return "vector (" + F.vectorBitSize() + "-bit, " + L + " float lanes)";
    }

    @Override
    RowOps forCall() {
        if (immediate || Warmup.done) {
            return this;
        }
        Warmup.start();
        return Warmup.done ? this : Warmup.TWIN;
    }

    @Override
    void warmUpNow() {
        if (!Warmup.done) {
            Warmup.run();
        }
    }

    /**
     * Compiles the vector code before calls use it (see {@link RowOps#forCall()}): one daemon thread calls
     * every operation {@value #CALLS} times on rows of {@value #ROW} elements (a full fp32 block and a
     * tail; C2 compiles them after a few thousand calls, seconds on one thread), then lets calls switch.
     */
    static final class Warmup {
        static final int CALLS = 12_000;
        static final int ROW = 1027;
        static final ScalarRowOps TWIN = scalarTwin();
        static volatile boolean done = !Boolean.parseBoolean(System.getProperty(WARMUP_PROPERTY, "true").trim());
        private static final AtomicBoolean STARTED = new AtomicBoolean();
        /** Keeps the warm-up's results observable so that C2 cannot drop the calls. */
        static volatile double sink;

        private Warmup() {
        }

        static void start() {
            if (done || !STARTED.compareAndSet(false, true)) {
                return;
            }
            Thread t = new Thread(Warmup::run, "plw4j-vector-warmup");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            t.start();
        }

        /** Exercises every operation; {@code done} is set even if one throws (the vector code then runs as it is). */
        static void run() {
            long t0 = System.nanoTime();
            try {
                exercise(new VectorRowOps(), CALLS);
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.DEBUG, "plw4j: vector warm-up failed", e);
            } finally {
                done = true;
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            LOG.log(System.Logger.Level.DEBUG, () -> "plw4j: vector code warmed up in " + ms + " ms");
        }

        static void exercise(VectorRowOps ops, int calls) {
            float[] a = new float[ROW];
            float[] d = new float[ROW];
            double[] ad = new double[ROW];
            double[] dd = new double[ROW];
            short[] h = new short[ROW];
            for (int k = 0; k < ROW; k++) {
                a[k] = -0.037f * (k % 131);
                ad[k] = a[k];
            }
            int w = ops.tileWidth();
            int kb = 16;
            float[] tile = new float[kb * w];
            float[] max = new float[w];
            float[] arg = new float[w];
            float[] shift = new float[w];
            double[] sum = new double[w];
            double[] ent = new double[w];
            float[] factor = new float[w];
            float[] zero = new float[w];
            double acc = 0;
            for (int i = 0; i < calls; i++) {
                acc += ops.max(a, 0, ROW);
                acc += ops.anyAtLeast(a, 1, ROW - 1, 1f) ? 1 : 0;
                acc += ops.expSum(a, 0, ROW, 0f);
                acc += ops.expSumStore(a, 0, ROW, 0f, d, 0);
                acc += ops.expSumStoreEntropy(a, 0, ROW, 0f, d, 0) + ops.entropyTerms;
                acc += ops.expSumStoreShifted(a, 0, ROW, 0f, d, 0) + ops.shiftedLogitSum;
                ops.scale(d, 0, ROW, 0.5f);
                ops.narrowBf16(d, 0, h, 0, ROW);
                ops.widenBf16(h, 0, d, 0, ROW);
                acc += ops.widenBf16Max(h, 0, d, 0, ROW);
                acc += ops.max(ad, 0, ROW);
                acc += ops.anyAtLeast(ad, 1, ROW - 1, 1.0) ? 1 : 0;
                acc += ops.expSumStore(ad, 0, ROW, 0.0, dd, 0);
                ops.scale(dd, 0, ROW, 0.5);
                acc += ops.softCapMax(a, 0, d, 0, ROW, 30f, 1f / 30f);
                acc += ops.sum(d, 0, ROW);
                ops.scaleAdd(d, 0, ROW, 0.5f, -1e-6f);
                ops.scaleAddCapped(d, 0, ROW, 0.5f, -1e-6f, a, 0, 1f / 30f);
                if (i % 4 == 0) {   // tiles are 4x a row's work per call
                    for (int k = 0; k < tile.length; k++) {
                        tile[k] = a[k % ROW];
                    }
                    Arrays.fill(max, Float.NEGATIVE_INFINITY);
                    Arrays.fill(shift, 0f);
                    Arrays.fill(sum, 0.0);
                    Arrays.fill(factor, 0.25f);
                    ops.ncwForward(tile, kb, 0, max, arg, shift, sum);
                    ops.ncwForwardEntropy(tile, kb, 0, max, arg, shift, sum, ent);
                    ops.ncwGradient(tile, kb, shift, factor, zero);
                    ops.ncwSum(tile, kb, sum);
                    ops.ncwGradientExtended(tile, kb, shift, factor, factor, zero, (i & 8) == 0, 1f / 30f);
                    acc += sum[i % w] + tile[i % tile.length];
                }
            }
            sink = acc;
        }
    }

    @Override
    boolean vectorized() {
        return true;
    }

    /** Sum of the lanes stored in {@link #lanes}, in lane order, in double. */
    private double foldLanes() {
        double s = 0;
        for (int k = 0; k < L; k++) {
            s += lanes[k];
        }
        return s;
    }

    // ---------------------------------------------------------------- the fp32 exponential, lane-wise
    // FastExp's steps on vectors, the same operations (hence the same bits), written out at each call by the build
    // (see the class comment): these methods are the template's only, not the generated class's.
    /**
     * @return {@code x} with the lanes below {@link FastExp#X_MIN_F} raised to it, for {@code x <= 0} (not NaN):
     *         on the bits (see {@link #X_MIN_BITS})
     */
    // @inline-at-build
    private static FloatVector clampNonPositive(FloatVector x) {
        return x.reinterpretAsInts().or(Integer.MIN_VALUE).min(X_MIN_BITS).reinterpretAsFloats();
    }

    /** @return {@code x} with the lanes below {@link FastExp#X_MIN_F} raised to it, NaN lanes kept: compare and blend */
    // @inline-at-build
    private static FloatVector clamp(FloatVector x) {
        return x.blend(FastExp.X_MIN_F, x.compare(VectorOperators.LT, FastExp.X_MIN_F));
    }

    /** @return {@code e^xc} for {@code xc} clamped: {@link FastExp#expf(float)} after its clamp */
    // @inline-at-build
    private static FloatVector expClamped(FloatVector xc) {
        FloatVector kk = shifted(xc);
        FloatVector r = reduced(xc, kk);
        FloatVector p = expm1OverR(r);
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        return p.mul(pow2(kk));
    }

    /** @return {@code k = x·log2e + MAGIC_F}, whose low mantissa bits hold {@code n = round(x·log2e)} */
    // @inline-at-build
    private static FloatVector shifted(FloatVector x) {
        return x.fma(FloatVector.broadcast(F, FastExp.LOG2E_F), FloatVector.broadcast(F, FastExp.MAGIC_F));
    }

    /** @return {@code r = x - n·ln2} for {@code n = kk - MAGIC_F}, with {@code ln2} in two parts */
    // @inline-at-build
    private static FloatVector reduced(FloatVector x, FloatVector kk) {
        FloatVector nn = kk.sub(FastExp.MAGIC_F);
        FloatVector r = nn.fma(FloatVector.broadcast(F, -FastExp.LN2_HI_F), x);
        r = nn.fma(FloatVector.broadcast(F, -FastExp.LN2_LO_F), r);
        return r;
    }

    /** @return {@code (e^r - 1) / r}: the C6..C1 part of the polynomial, Horner form */
    // @inline-at-build
    private static FloatVector expm1OverR(FloatVector r) {
        FloatVector p = FloatVector.broadcast(F, FastExp.C6_F).fma(r, FloatVector.broadcast(F, FastExp.C5_F));
        p = p.fma(r, FloatVector.broadcast(F, FastExp.C4_F));
        p = p.fma(r, FloatVector.broadcast(F, FastExp.C3_F));
        p = p.fma(r, FloatVector.broadcast(F, FastExp.C2_F));
        p = p.fma(r, FloatVector.broadcast(F, FastExp.C1_F));
        return p;
    }

    /** @return {@code 2^n} for the {@code n} held in {@code kk}, built from the exponent bits */
    // @inline-at-build
    private static FloatVector pow2(FloatVector kk) {
        return kk.reinterpretAsInts().add(FastExp.BIAS_F).lanewise(VectorOperators.LSHL, 23)
                .reinterpretAsFloats();
    }

    // ---------------------------------------------------------------- fp32 rows

    @Override
    float max(float[] a, int off, int n) {
        // four independent running maxima in registers (loop phis of JDK types only: C2 keeps them unboxed)
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0;
        FloatVector m2 = m0;
        FloatVector m3 = m0;
        int k = 0;
        for (; k <= n - 4 * L; k += 4 * L) {
            m0 = m0.max(FloatVector.fromArray(F, a, off + k));
            m1 = m1.max(FloatVector.fromArray(F, a, off + k + L));
            m2 = m2.max(FloatVector.fromArray(F, a, off + k + 2 * L));
            m3 = m3.max(FloatVector.fromArray(F, a, off + k + 3 * L));
        }
        for (; k <= n - L; k += L) {
            m0 = m0.max(FloatVector.fromArray(F, a, off + k));
        }
        m0.max(m1).max(m2.max(m3)).intoArray(acc4, 0);
        return maxFrom(maxFrom(Float.NEGATIVE_INFINITY, acc4, 0, 0, L), a, off, k, n);
    }

    @Override
    boolean anyAtLeast(float[] a, int off, int n, float m) {
        int k = 0;
        for (; k <= n - L; k += L) {
            if (FloatVector.fromArray(F, a, off + k).compare(VectorOperators.GE, m).anyTrue()) {
                return true;
            }
        }
        return anyAtLeastFrom(a, off, k, n, m);
    }

    @Override
    double expSum(float[] a, int off, int n, float shift) {
        // the store behind a loop-invariant null test: within 1-3 % of a loop of its own on both vector widths
        // (BuildAB, benchmarks/RESULTS.md), one copy of the exponential fewer
        return expSumStore(a, off, n, shift, null, 0);
    }

    @Override
    double expSumStore(float[] a, int off, int n, float shift, float[] dst, int doff) {
        double total = 0;
        int k = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector.zero(F).intoArray(lanes, 0);
            for (k = c; k <= end - L; k += L) {
                FloatVector x = FloatVector.fromArray(F, a, off + k).sub(shift);
                // e^x, FastExp.expf lane-wise, written out: a helper method taking a vector would be boxed
                // whenever C2 declines to inline it (see the class comment). The clamp to X_MIN is done on
                // the bits (see X_MIN_BITS): x <= 0 here
                FloatVector xc = clampNonPositive(x);
                FloatVector e = expClamped(xc);
                if (dst != null) {   // loop-invariant
                    e.intoArray(dst, doff + k);
                }
                FloatVector.fromArray(F, lanes, 0).add(e).intoArray(lanes, 0);
            }
            total += foldLanes();
        }
        return total + expTail(a, off, k, n, shift, dst, doff);
    }

    @Override
    double expSumStoreShifted(float[] a, int off, int n, float shift, float[] dst, int doff) {
        return expSumStoreTerms(a, off, n, shift, dst, doff, false);
    }

    @Override
    double expSumStoreEntropy(float[] a, int off, int n, float shift, float[] dst, int doff) {
        return expSumStoreTerms(a, off, n, shift, dst, doff, true);
    }

    /**
     * The exp-sum with a second sum: the entropy terms ({@code entropy}) or the shifted logits. Written out by the
     * build in each of the two methods above, where {@code entropy} is a constant, so that javac compiles only its
     * branches and each has a loop of its own: one loop shared behind a loop-invariant choice of the second sum ran
     * 1.4 to 2.1 times as long as the plain exp-sum (ExpSumProbe, 256 and 512 bits), each of the two alone about 1.1.
     */
    // @inline-at-build
    private double expSumStoreTerms(float[] a, int off, int n, float shift, float[] dst, int doff, boolean entropy) {
        double total = 0;
        entropyTerms = 0;
        shiftedLogitSum = 0;
        int k = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            // the two running sums in registers (loop phis of JDK types, as in max(): C2 keeps them unboxed),
            // stored once per block; through lanes arrays the second store-to-load chain cost more
            FloatVector acc = FloatVector.zero(F);
            FloatVector second = FloatVector.zero(F);
            for (k = c; k <= end - L; k += L) {
                FloatVector x = FloatVector.fromArray(F, a, off + k).sub(shift);
                // e^x as in expSumStore (FastExp.expf lane-wise, clamp on the bits: x <= 0 here)
                FloatVector xc = clampNonPositive(x);
                FloatVector e = expClamped(xc);
                e.intoArray(dst, doff + k);
                acc = acc.add(e);
                if (entropy) {
                    second = e.fma(xc, second);
                } else {
                    second = second.add(x);
                }
            }
            if (entropy) {
                second.intoArray(lanesT, 0);
                acc.intoArray(lanes, 0);
                total += foldLanes();
                double t = 0;
                for (int j = 0; j < L; j++) {
                    t += lanesT[j];
                }
                entropyTerms += t;
            } else {
                acc.intoArray(lanes, 0);
                total += foldLanes();
                second.intoArray(lanes, 0);
                shiftedLogitSum += foldLanes();
            }
        }
        return total + expTailEntropy(a, off, k, n, shift, dst, doff);
    }

    @Override
    void scale(float[] a, int off, int n, float f) {
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector.fromArray(F, a, off + k).mul(f).intoArray(a, off + k);
        }
        scaleFrom(a, off, k, n, f);
    }

    @Override
    void widenBf16(short[] src, int soff, float[] dst, int doff, int n) {
        int k = 0;
        for (; k <= n - L; k += L) {
            IntVector bits = (IntVector) ShortVector.fromArray(S, src, soff + k).convertShape(VectorOperators.S2I, I, 0);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, doff + k);
        }
        widenBf16From(src, soff, dst, doff, k, n);
    }

    @Override
    float widenBf16Max(short[] src, int soff, float[] dst, int doff, int n) {
        // two running maxima in registers (loop phis of JDK types, as in max)
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        FloatVector m1 = m0;
        int k = 0;
        for (; k <= n - 2 * L; k += 2 * L) {
            FloatVector x0 = ((IntVector) ShortVector.fromArray(S, src, soff + k).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector x1 = ((IntVector) ShortVector.fromArray(S, src, soff + k + L)
                    .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            x0.intoArray(dst, doff + k);
            x1.intoArray(dst, doff + k + L);
            m0 = m0.max(x0);
            m1 = m1.max(x1);
        }
        for (; k <= n - L; k += L) {
            FloatVector x = ((IntVector) ShortVector.fromArray(S, src, soff + k).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            x.intoArray(dst, doff + k);
            m0 = m0.max(x);
        }
        m0.max(m1).intoArray(acc4, 0);
        return widenBf16MaxFrom(maxFrom(Float.NEGATIVE_INFINITY, acc4, 0, 0, L), src, soff, dst, doff, k, n);
    }

    @Override
    void narrowBf16(float[] src, int soff, short[] dst, int doff, int n) {
        int k = 0;
        for (; k <= n - L; k += L) {
            IntVector b = FloatVector.fromArray(F, src, soff + k).reinterpretAsInts();
            IntVector hi = b.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = b.add(hi.and(1)).add(0x7FFF).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = b.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector r = rounded.blend(hi.or(0x40), nan);
            ((ShortVector) r.convertShape(VectorOperators.I2S, S, 0)).intoArray(dst, doff + k);
        }
        narrowBf16From(src, soff, dst, doff, k, n);
    }

    // ---------------------------------------------------------------- fp32 rows, extensions

    @Override
    float softCapMax(float[] src, int soff, float[] dst, int doff, int n, float cap, float invCap) {
        int full = n - n % L;
        return softCapMaxFrom(softCapMaxVectors(src, soff, dst, doff, full, cap, invCap), src, soff, dst, doff, full, n,
                cap, invCap);
    }

    /**
     * {@link #softCapMax} over {@code n}, a multiple of {@link #L}: the vector loop in a method of its own, without
     * the scalar tail (with FastExp.softCap inlined beside it the loop ran 16 % slower
     * at 256 bits, benchmarks/RESULTS.md).
     *
     * @return the maximum of the capped values, -Inf for none
     */
    private float softCapMaxVectors(float[] src, int soff, float[] dst, int doff, int n, float cap, float invCap) {
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int k = 0; k < n; k += L) {
            FloatVector z = FloatVector.fromArray(F, src, soff + k);
            // FastExp.softCap lane-wise, written out (see the class comment): -expm1(-2|z/c|), then tanh
            FloatVector y = z.abs().mul(-2f * invCap);
            y = clamp(y);
            FloatVector kk = shifted(y);
            FloatVector r = reduced(y, kk);
            FloatVector p = expm1OverR(r);
            FloatVector q = p.mul(r);
            FloatVector m = pow2(kk);
            FloatVector m1 = m.neg().fma(q, FloatVector.broadcast(F, 1f).sub(m));
            FloatVector t = m1.div(FloatVector.broadcast(F, 2f).sub(m1));
            FloatVector x = t.reinterpretAsInts().or(z.reinterpretAsInts().and(Integer.MIN_VALUE))
                    .reinterpretAsFloats().mul(cap);
            x.intoArray(dst, doff + k);
            m0 = m0.max(x);
        }
        m0.intoArray(acc4, 0);
        return maxFrom(Float.NEGATIVE_INFINITY, acc4, 0, 0, L);
    }

    @Override
    double sum(float[] a, int off, int n) {
        double total = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector.zero(F).intoArray(lanes, 0);
            int k = c;
            for (; k <= end - L; k += L) {
                FloatVector.fromArray(F, lanes, 0).add(FloatVector.fromArray(F, a, off + k)).intoArray(lanes, 0);
            }
            total += foldLanes();
            total += sumFrom(a, off, k, end);
        }
        return total;
    }

    @Override
    void scaleAdd(float[] a, int off, int n, float factor, float bias) {
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector.fromArray(F, a, off + k).fma(factor, bias).intoArray(a, off + k);
        }
        scaleAddFrom(a, off, k, n, factor, bias);
    }

    @Override
    void scaleAddCapped(float[] a, int off, int n, float factor, float bias, float[] z, int zoff, float invCap) {
        int k = 0;
        for (; k <= n - L; k += L) {
            FloatVector u = FloatVector.fromArray(F, z, zoff + k).mul(invCap);
            FloatVector.fromArray(F, a, off + k).fma(factor, bias).mul(u.neg().fma(u, FloatVector.broadcast(F, 1f)))
                    .intoArray(a, off + k);
        }
        scaleAddCappedFrom(a, off, k, n, factor, bias, z, zoff, invCap);
    }

    // ---------------------------------------------------------------- fp64 rows

    @Override
    double max(double[] a, int off, int n) {
        DoubleVector.broadcast(D, Double.NEGATIVE_INFINITY).intoArray(lanesD, 0);
        int k = 0;
        for (; k <= n - LD; k += LD) {
            DoubleVector.fromArray(D, lanesD, 0).max(DoubleVector.fromArray(D, a, off + k)).intoArray(lanesD, 0);
        }
        return maxFrom(maxFrom(Double.NEGATIVE_INFINITY, lanesD, 0, 0, LD), a, off, k, n);
    }

    @Override
    boolean anyAtLeast(double[] a, int off, int n, double m) {
        int k = 0;
        for (; k <= n - LD; k += LD) {
            if (DoubleVector.fromArray(D, a, off + k).compare(VectorOperators.GE, m).anyTrue()) {
                return true;
            }
        }
        return anyAtLeastFrom(a, off, k, n, m);
    }

    @Override
    double expSum(double[] a, int off, int n, double shift) {
        return expSumStore(a, off, n, shift, null, 0);
    }

    @Override
    double expSumStore(double[] a, int off, int n, double shift, double[] dst, int doff) {
        DoubleVector.zero(D).intoArray(lanesD, 0);
        final double[] c = FastExp.INV_FACT;
        int k = 0;
        for (; k <= n - LD; k += LD) {
            DoubleVector x = DoubleVector.fromArray(D, a, off + k).sub(shift);
            // e^x, FastExp.exp lane-wise, written out (see the class comment)
            DoubleVector xc = x.blend(FastExp.X_MIN_D, x.compare(VectorOperators.LT, FastExp.X_MIN_D));
            DoubleVector kk = xc.fma(DoubleVector.broadcast(D, FastExp.LOG2E_D), DoubleVector.broadcast(D, FastExp.MAGIC_D));
            DoubleVector nn = kk.sub(FastExp.MAGIC_D);
            DoubleVector r = nn.fma(DoubleVector.broadcast(D, -FastExp.LN2_HI_D), xc);
            r = nn.fma(DoubleVector.broadcast(D, -FastExp.LN2_LO_D), r);
            DoubleVector p = DoubleVector.broadcast(D, c[13]).fma(r, DoubleVector.broadcast(D, c[12]));
            p = p.fma(r, DoubleVector.broadcast(D, c[11]));
            p = p.fma(r, DoubleVector.broadcast(D, c[10]));
            p = p.fma(r, DoubleVector.broadcast(D, c[9]));
            p = p.fma(r, DoubleVector.broadcast(D, c[8]));
            p = p.fma(r, DoubleVector.broadcast(D, c[7]));
            p = p.fma(r, DoubleVector.broadcast(D, c[6]));
            p = p.fma(r, DoubleVector.broadcast(D, c[5]));
            p = p.fma(r, DoubleVector.broadcast(D, c[4]));
            p = p.fma(r, DoubleVector.broadcast(D, c[3]));
            p = p.fma(r, DoubleVector.broadcast(D, c[2]));
            p = p.fma(r, DoubleVector.broadcast(D, 1.0));
            p = p.fma(r, DoubleVector.broadcast(D, 1.0));
            DoubleVector e = p.mul(kk.reinterpretAsLongs().add(FastExp.BIAS_D).lanewise(VectorOperators.LSHL, 52)
                    .reinterpretAsDoubles());

            if (dst != null) {
                e.intoArray(dst, doff + k);
            }
            DoubleVector.fromArray(D, lanesD, 0).add(e).intoArray(lanesD, 0);
        }
        return expSumTail(lanesD, LD, a, off, k, n, shift, dst, doff);
    }

    @Override
    void scale(double[] a, int off, int n, double f) {
        int k = 0;
        for (; k <= n - LD; k += LD) {
            DoubleVector.fromArray(D, a, off + k).mul(f).intoArray(a, off + k);
        }
        scaleFrom(a, off, k, n, f);
    }

    // ---------------------------------------------------------------- NCW tiles: W = 4 vectors of time lanes

    @Override
    int tileWidth() {
        return 4 * L;
    }

    @Override
    void ncwForward(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum) {
        ncwForwardEntropy(tile, kb, v0, max, arg, shift, sum, null);
    }

    /** The running max and its index per lane over one block (ties keep the first); arrays in, arrays out. */
    private static void ncwMax(float[] tile, int kb, int v0, float[] max, float[] arg) {
        final int w = 4 * L;
        for (int v = 0; v < kb; v++) {
            for (int j = 0; j < w; j += L) {
                FloatVector m = FloatVector.fromArray(F, max, j);
                FloatVector x = FloatVector.fromArray(F, tile, v * w + j);
                VectorMask<Float> gt = x.compare(VectorOperators.GT, m);
                m.blend(x, gt).intoArray(max, j);
                FloatVector.fromArray(F, arg, j).blend((float) (v0 + v), gt).intoArray(arg, j);
            }
        }
    }

    /** {@inheritDoc} With {@code ent} null, {@link #ncwForward}: no entropy terms. */
    @Override
    void ncwForwardEntropy(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum,
            double[] ent) {
        final int w = 4 * L;
        final boolean entropy = ent != null;
        ncwMax(tile, kb, v0, max, arg);
        rescale(w, max, shift, sum, ent);
        for (int j = 0; j < w; j += L) {
            FloatVector.zero(F).intoArray(tmpB, j);
            FloatVector.zero(F).intoArray(tmpT, j);
            for (int v = 0; v < kb; v++) {
                FloatVector x = FloatVector.fromArray(F, tile, v * w + j).sub(FloatVector.fromArray(F, shift, j));
                // e^x, FastExp.expf lane-wise, written out (see the class comment); lanes may hold NaN: compare
                // and blend
                FloatVector xc = clamp(x);
                FloatVector e = expClamped(xc);
                FloatVector.fromArray(F, tmpB, j).add(e).intoArray(tmpB, j);
                if (entropy) {   // loop-invariant
                    e.fma(xc, FloatVector.fromArray(F, tmpT, j)).intoArray(tmpT, j);
                }
            }
        }
        for (int t = 0; t < w; t++) {
            sum[t] += tmpB[t];
        }
        if (entropy) {
            for (int t = 0; t < w; t++) {
                ent[t] += tmpT[t];
            }
        }
    }

    @Override
    void ncwGradient(float[] tile, int kb, float[] shift, float[] factor, float[] zero) {
        // the extended loop with bias 0 and no cap: fma(e, f, +0) is e·f bit for bit (e >= +0, f >= +0 or NaN)
        ncwGradientExtended(tile, kb, shift, factor, zeroBias, zero, false, 0f);
    }

    @Override
    void ncwSum(float[] tile, int kb, double[] total) {
        final int w = 4 * L;
        for (int j = 0; j < w; j += L) {
            FloatVector.zero(F).intoArray(tmpB, j);
            for (int v = 0; v < kb; v++) {
                FloatVector.fromArray(F, tmpB, j).add(FloatVector.fromArray(F, tile, v * w + j)).intoArray(tmpB, j);
            }
        }
        for (int t = 0; t < w; t++) {
            total[t] += tmpB[t];
        }
    }

    @Override
    void ncwGradientExtended(float[] tile, int kb, float[] shift, float[] factor, float[] bias, float[] zero,
            boolean capped, float invCap) {
        final int w = 4 * L;
        for (int j = 0; j < w; j += L) {
            FloatVector h = FloatVector.fromArray(F, shift, j);
            FloatVector f = FloatVector.fromArray(F, factor, j);
            FloatVector c = FloatVector.fromArray(F, bias, j);
            VectorMask<Float> z = FloatVector.fromArray(F, zero, j).compare(VectorOperators.NE, 0f);
            for (int v = 0; v < kb; v++) {
                int o = v * w + j;
                FloatVector logit = FloatVector.fromArray(F, tile, o);
                FloatVector x = logit.sub(h);
                // e^x, FastExp.expf lane-wise, written out (see the class comment)
                FloatVector xc = clamp(x);
                FloatVector e = expClamped(xc);
                FloatVector g = e.fma(f, c);
                if (capped) {
                    FloatVector u = logit.mul(invCap);
                    g = g.mul(u.neg().fma(u, FloatVector.broadcast(F, 1f)));
                }
                g.blend(0f, z).intoArray(tile, o);
            }
        }
    }
}
