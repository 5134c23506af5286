package org.plw4j.kernel;

/**
 * The inner loops of {@link FusedCpuKernel} over heap arrays: one vocabulary row at a time (NWC and
 * general strides), or a tile of time steps side by side (NCW, one lane per time step). Two
 * implementations: {@link ScalarRowOps} (plain Java) and {@code VectorRowOps} (the Vector API, loaded
 * reflectively only when the incubator module {@code jdk.incubator.vector} is resolved, so that this
 * class and the kernel load on a JVM without it).
 *
 * <p>Instances carry small scratch arrays and are confined to one thread: {@link #fresh()} gives each
 * worker its own. Every loop has a fixed order that does not depend on the thread or on the JIT tier
 * (lane sums are reduced through an array, never by {@code reduceLanes(ADD)}, whose order is
 * unspecified), so results are reproducible bit for bit on one machine.
 *
 * <p>Exponentials are {@link FastExp}'s; partial sums of exponentials are fp32 over at most 64 terms
 * per lane, then accumulated in double.
 */
abstract class RowOps {
    static final System.Logger LOG = System.getLogger(FusedCpuKernel.class.getName());
    /** System property: {@code false} forces the scalar path even when the Vector API is available. */
    static final String VECTOR_PROPERTY = "plw4j.vector";
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    /** @return a new instance of the same kind, for one worker thread */
    abstract RowOps fresh();

    /** @return a description for logs, e.g. {@code vector (512-bit, 16 float lanes)} */
    abstract String describe();

    /** @return whether this is the Vector API implementation */
    abstract boolean vectorized();

    /**
     * The operations one kernel call should use now: this instance, except for the Vector API
     * implementation while its code is still interpreted. Until C2 has compiled them (a few thousand calls),
     * Vector API operations run through their Java fallbacks, 100 times slower or worse than scalar code,
     * for the first calls and, on small problems, for hundreds of calls (benchmarks/RESULTS.md). So {@code VectorRowOps} answers with a scalar
     * twin that sums in the same lane order (bitwise the same results) and compiles its own code on a
     * background thread; once that is done, calls get the vector code. Disabled (the vector code from the
     * first call) by the system property {@value #WARMUP_PROPERTY}{@code =false}.
     *
     * @return the operations for one call (all its workers use {@link #fresh()} copies of the same kind)
     */
    RowOps forCall() {
        return this;
    }

    /** Compiles this implementation's code now, on the calling thread (see {@link #forCall()}); default: nothing. */
    void warmUpNow() {
    }

    /** System property: {@code false} turns off the background warm-up of the vector code ({@link #forCall()}). */
    static final String WARMUP_PROPERTY = "plw4j.vector.warmup";

    // ---------------------------------------------------------------- fp32 rows

    /**
     * @return the maximum of {@code a[off .. off+n)} with {@link Math#max(float, float)} semantics:
     *         NaN if any element is NaN, +0 over -0; -Inf for n = 0
     */
    abstract float max(float[] a, int off, int n);

    /** @return whether some {@code a[off + k] >= m}, {@code 0 <= k < n} */
    abstract boolean anyAtLeast(float[] a, int off, int n, float m);

    /**
     * Requires every {@code a[off + k] <= shift} and none NaN (the kernel passes a row's finite maximum);
     * otherwise the terms are unspecified (the vector implementation clamps on the bits, see
     * {@code VectorRowOps}).
     *
     * @return {@code Σ_k exp(a[off + k] - shift)} (fp32 terms and partial sums of at most 64 terms per
     *         lane, accumulated in double)
     */
    abstract double expSum(float[] a, int off, int n, float shift);

    /**
     * Like {@link #expSum(float[], int, int, float)} (same requirement), and stores each term at
     * {@code dst[doff + k]} (may alias).
     */
    abstract double expSumStore(float[] a, int off, int n, float shift, float[] dst, int doff);

    /** {@code a[off + k] *= f}. */
    abstract void scale(float[] a, int off, int n, float f);

    /**
     * The entropy term of the last {@link #expSumStoreEntropy} call: {@code Σ_k e_k · max(x_k, X_MIN)} with
     * {@code x_k = a[off + k] - shift} and {@code e_k} its term (summed as the terms are), so that a row's
     * entropy is {@code log(S) - T / S}; a {@code -Inf} logit adds {@code 0 · X_MIN = 0}.
     */
    double entropyTerms;

    /**
     * The shifted logit sum of the last {@link #expSumStoreShifted} call: {@code Σ_k x_k}, {@code x_k = a[off + k]
     * - shift} (summed as the terms are), so that {@code Σ a = X + n · shift} (label smoothing's mean logit without
     * a pass of its own); {@code -Inf} when a logit is.
     */
    double shiftedLogitSum;

    /**
     * {@link #expSumStore(float[], int, int, float, float[], int)} (same requirement, same sum bit for bit), and
     * {@link #shiftedLogitSum} of the same terms in the same pass (label smoothing, SPEC section 7).
     */
    abstract double expSumStoreShifted(float[] a, int off, int n, float shift, float[] dst, int doff);

    /**
     * {@link #expSumStore(float[], int, int, float, float[], int)} (same requirement, same sum bit for bit), and
     * {@link #entropyTerms} of the same terms in the same pass (SPEC section 13).
     */
    abstract double expSumStoreEntropy(float[] a, int off, int n, float shift, float[] dst, int doff);

    /**
     * The tail of {@link #expSumStoreEntropy} and {@link #expSumStoreShifted}: as {@link #expTail}, also adding the
     * tail's entropy terms and shifted logits (fp32, in order) to {@link #entropyTerms} and {@link #shiftedLogitSum}.
     */
    final float expTailEntropy(float[] a, int off, int from, int end, float shift, float[] dst, int doff) {
        float tail = 0f;
        float t = 0f;
        float xs = 0f;
        for (int k = from; k < end; k++) {
            float x = a[off + k] - shift;
            float e = FastExp.expf(x);
            dst[doff + k] = e;
            tail += e;
            t = Math.fma(e, Math.max(x, FastExp.X_MIN_F), t);
            xs += x;
        }
        entropyTerms += t;
        shiftedLogitSum += xs;
        return tail;
    }

    /** @return the first {@code k < n} with {@code a[off + k] == m} ({@code m} not NaN), or -1 */
    static int indexOf(float[] a, int off, int n, float m) {
        for (int k = 0; k < n; k++) {
            if (a[off + k] == m) {
                return k;
            }
        }
        return -1;
    }

    /** @return the first {@code k < n} with {@code a[off + k] == m} ({@code m} not NaN), or -1 */
    static int indexOf(double[] a, int off, int n, double m) {
        for (int k = 0; k < n; k++) {
            if (a[off + k] == m) {
                return k;
            }
        }
        return -1;
    }

    /**
     * @return {@code Σ_k e[eoff + k] · (z[zoff + k] - shift)} over the terms {@code e > 0}, in double in index
     *         order: the entropy term of an fp64 row from its stored exponentials (a {@code -Inf} logit has
     *         {@code e = 0} and adds nothing)
     */
    static double entropyTerms(double[] e, int eoff, double[] z, int zoff, int n, double shift) {
        double t = 0.0;
        for (int k = 0; k < n; k++) {
            double ek = e[eoff + k];
            if (ek > 0.0) {
                t += ek * (z[zoff + k] - shift);
            }
        }
        return t;
    }

    /**
     * The tail of a block of {@link #expSumStore(float[], int, int, float, float[], int)}: the terms of
     * {@code k} in {@code [from, end)} summed in order in fp32 (stored at {@code dst[doff + k]} unless
     * {@code dst} is null). Shared by both implementations, so their tails sum alike.
     *
     * @return the fp32 sum of the tail's terms
     */
    static float expTail(float[] a, int off, int from, int end, float shift, float[] dst, int doff) {
        float tail = 0f;
        for (int k = from; k < end; k++) {
            float e = FastExp.expf(a[off + k] - shift);
            if (dst != null) {
                dst[doff + k] = e;
            }
            tail += e;
        }
        return tail;
    }

    /** Widens bfloat16 bits to float: {@code dst[doff + k] = bf16(src[soff + k])}. */
    abstract void widenBf16(short[] src, int soff, float[] dst, int doff, int n);

    /**
     * {@link #widenBf16} and {@link #max(float[], int, int)} of the widened values in one pass.
     *
     * @return the maximum of the widened values, with {@link Math#max(float, float)} semantics
     */
    abstract float widenBf16Max(short[] src, int soff, float[] dst, int doff, int n);

    /** Narrows floats to bfloat16 bits, round to nearest even (as {@link Half#floatToBf16(float)}). */
    abstract void narrowBf16(float[] src, int soff, short[] dst, int doff, int n);

    // ---------------------------------------------------------------- fp32 rows, extensions (SPEC section 7)

    /**
     * Soft-caps a row: {@code dst[doff + k] = FastExp.softCap(src[soff + k], cap, invCap)} (may alias).
     *
     * @return the maximum of the capped values, with {@link Math#max(float, float)} semantics
     */
    abstract float softCapMax(float[] src, int soff, float[] dst, int doff, int n, float cap, float invCap);

    /**
     * @return {@code Σ_k a[off + k]}, summed as {@link #expSum(float[], int, int, float)} sums its terms
     *         (fp32 partial sums of at most 64 terms per lane, accumulated in double)
     */
    abstract double sum(float[] a, int off, int n);

    /** {@code a[off + k] = fma(a[off + k], factor, bias)}. */
    abstract void scaleAdd(float[] a, int off, int n, float factor, float bias);

    /**
     * {@code a[off + k] = fma(a[off + k], factor, bias) · fma(-u, u, 1)} with {@code u = z[zoff + k] · invCap}:
     * the gradient of soft-capped logits {@code z}.
     */
    abstract void scaleAddCapped(float[] a, int off, int n, float factor, float bias, float[] z, int zoff,
            float invCap);

    // ---------------------------------------------------------------- fp64 rows

    /** @return the maximum with {@link Math#max(double, double)} semantics */
    abstract double max(double[] a, int off, int n);

    /** @return whether some {@code a[off + k] >= m} */
    abstract boolean anyAtLeast(double[] a, int off, int n, double m);

    /** @return {@code Σ_k exp(a[off + k] - shift)}, in double */
    abstract double expSum(double[] a, int off, int n, double shift);

    /** Like {@link #expSum(double[], int, int, double)}, and stores each term at {@code dst[doff + k]}. */
    abstract double expSumStore(double[] a, int off, int n, double shift, double[] dst, int doff);

    /** {@code a[off + k] *= f}. */
    abstract void scale(double[] a, int off, int n, double f);

    // ---------------------------------------------------------------- fp64 rows, extensions (scalar in both implementations)

    /** Like {@link #softCapMax(float[], int, float[], int, int, float, float)} in double. */
    final double softCapMax(double[] src, int soff, double[] dst, int doff, int n, double cap, double invCap) {
        double m = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            double x = FastExp.softCap(src[soff + k], cap, invCap);
            dst[doff + k] = x;
            m = Math.max(m, x);
        }
        return m;
    }

    /** @return {@code Σ_k a[off + k]} in double, in index order */
    final double sum(double[] a, int off, int n) {
        double s = 0.0;
        for (int k = 0; k < n; k++) {
            s += a[off + k];
        }
        return s;
    }

    /** {@code a[off + k] = fma(a[off + k], factor, bias)}. */
    final void scaleAdd(double[] a, int off, int n, double factor, double bias) {
        for (int k = 0; k < n; k++) {
            a[off + k] = Math.fma(a[off + k], factor, bias);
        }
    }

    /** Like {@link #scaleAddCapped(float[], int, int, float, float, float[], int, float)} in double. */
    final void scaleAddCapped(double[] a, int off, int n, double factor, double bias, double[] z, int zoff,
            double invCap) {
        for (int k = 0; k < n; k++) {
            double u = z[zoff + k] * invCap;
            a[off + k] = Math.fma(a[off + k], factor, bias) * Math.fma(-u, u, 1.0);
        }
    }

    // ---------------------------------------------------------------- scalar loops over part of a row

    // Each loop runs over k in [from, end), so that one loop serves a whole row (ScalarRowOps, from 0) and the
    // entries a vector loop leaves at a row's end, and both compute those entries alike. A running maximum or sum
    // comes in as an argument and goes out as the result, so its order is the caller's.

    /** @return {@code m} folded with each {@code a[off + k]} in order by {@link Math#max(float, float)} */
    static float maxFrom(float m, float[] a, int off, int from, int end) {
        for (int k = from; k < end; k++) {
            m = Math.max(m, a[off + k]);
        }
        return m;
    }

    /** @return {@code m} folded with each {@code a[off + k]} in order by {@link Math#max(double, double)} */
    static double maxFrom(double m, double[] a, int off, int from, int end) {
        for (int k = from; k < end; k++) {
            m = Math.max(m, a[off + k]);
        }
        return m;
    }

    /** @return whether some {@code a[off + k] >= m} */
    static boolean anyAtLeastFrom(float[] a, int off, int from, int end, float m) {
        for (int k = from; k < end; k++) {
            if (a[off + k] >= m) {
                return true;
            }
        }
        return false;
    }

    /** @return whether some {@code a[off + k] >= m} */
    static boolean anyAtLeastFrom(double[] a, int off, int from, int end, double m) {
        for (int k = from; k < end; k++) {
            if (a[off + k] >= m) {
                return true;
            }
        }
        return false;
    }

    /** {@code a[off + k] *= f}. */
    static void scaleFrom(float[] a, int off, int from, int end, float f) {
        for (int k = from; k < end; k++) {
            a[off + k] *= f;
        }
    }

    /** {@code a[off + k] *= f}. */
    static void scaleFrom(double[] a, int off, int from, int end, double f) {
        for (int k = from; k < end; k++) {
            a[off + k] *= f;
        }
    }

    /**
     * The end of an fp64 exp-sum: the lane sums {@code lanes[0 .. w)} added in lane order, then the terms
     * {@code e = FastExp.exp(a[off + k] - shift)} of the tail, each added in index order (stored at
     * {@code dst[doff + k]} unless {@code dst} is null), all in double.
     *
     * @return the exp-sum
     */
    static double expSumTail(double[] lanes, int w, double[] a, int off, int from, int end, double shift, double[] dst,
            int doff) {
        double total = 0;
        for (int j = 0; j < w; j++) {
            total += lanes[j];
        }
        for (int k = from; k < end; k++) {
            double e = FastExp.exp(a[off + k] - shift);
            if (dst != null) {
                dst[doff + k] = e;
            }
            total += e;
        }
        return total;
    }

    /** @return the fp32 sum of the {@code a[off + k]}, in order */
    static float sumFrom(float[] a, int off, int from, int end) {
        float s = 0f;
        for (int k = from; k < end; k++) {
            s += a[off + k];
        }
        return s;
    }

    /** {@code a[off + k] = fma(a[off + k], factor, bias)}. */
    static void scaleAddFrom(float[] a, int off, int from, int end, float factor, float bias) {
        for (int k = from; k < end; k++) {
            a[off + k] = Math.fma(a[off + k], factor, bias);
        }
    }

    /** {@code a[off + k] = fma(a[off + k], factor, bias) · fma(-u, u, 1)} with {@code u = z[zoff + k] · invCap}. */
    static void scaleAddCappedFrom(float[] a, int off, int from, int end, float factor, float bias, float[] z, int zoff,
            float invCap) {
        for (int k = from; k < end; k++) {
            float u = z[zoff + k] * invCap;
            a[off + k] = Math.fma(a[off + k], factor, bias) * Math.fma(-u, u, 1f);
        }
    }

    /**
     * {@code dst[doff + k] = FastExp.softCap(src[soff + k], cap, invCap)} (may alias).
     *
     * @return {@code m} folded with each capped value in order by {@link Math#max(float, float)}
     */
    static float softCapMaxFrom(float m, float[] src, int soff, float[] dst, int doff, int from, int end, float cap,
            float invCap) {
        for (int k = from; k < end; k++) {
            float x = FastExp.softCap(src[soff + k], cap, invCap);
            dst[doff + k] = x;
            m = Math.max(m, x);
        }
        return m;
    }

    /** {@code dst[doff + k] = bf16(src[soff + k])}, widened exactly. */
    static void widenBf16From(short[] src, int soff, float[] dst, int doff, int from, int end) {
        for (int k = from; k < end; k++) {
            dst[doff + k] = Float.intBitsToFloat(src[soff + k] << 16);
        }
    }

    /**
     * {@link #widenBf16From}.
     *
     * @return {@code m} folded with each widened value in order by {@link Math#max(float, float)}
     */
    static float widenBf16MaxFrom(float m, short[] src, int soff, float[] dst, int doff, int from, int end) {
        for (int k = from; k < end; k++) {
            float x = Float.intBitsToFloat(src[soff + k] << 16);
            dst[doff + k] = x;
            m = Math.max(m, x);
        }
        return m;
    }

    /** {@code dst[doff + k] = Half.floatToBf16(src[soff + k])}. */
    static void narrowBf16From(float[] src, int soff, short[] dst, int doff, int from, int end) {
        for (int k = from; k < end; k++) {
            dst[doff + k] = Half.floatToBf16(src[soff + k]);
        }
    }

    // ---------------------------------------------------------------- NCW tiles (fp32, one lane per time step)

    /** @return W, the number of time steps in a tile; tiles are {@code rows x W} floats, row-major */
    abstract int tileWidth();

    /**
     * One block of the online soft-max over a tile: for every lane {@code t < W} and tile row
     * {@code v < kb} (vocabulary index {@code v0 + v}), with {@code x = tile[v*W + t]}:
     * updates {@code max[t]} (NaN ignored; ties keep the first), {@code arg[t]} (vocabulary index of
     * {@code max[t]}, as float), and the running sum {@code sum[t]} of {@code exp(x - shift[t])}:
     * {@code shift[t]} becomes {@code max[t]}, or 0 while {@code max[t]} is -Inf, the old sum is
     * rescaled by {@link #rescale} and the block's fp32 sum added. Lanes holding NaN or +Inf end with a
     * NaN sum or a non-finite max, which the caller treats.
     */
    abstract void ncwForward(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum);

    /**
     * {@link #ncwForward} (the same max, arg, shift and sum bit for bit), and each lane's entropy term
     * {@code ent[t]}: {@code Σ e · max(x - shift[t], X_MIN)} over the lane's terms so far, rescaled with the sum
     * when the shift moves ({@code ent <- a (ent + sum (old - new))}, {@code a = exp(old - new)}, in double).
     */
    abstract void ncwForwardEntropy(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift,
            double[] sum, double[] ent);

    /**
     * Moves every lane's shift to its new max (0 while the max is -Inf) and rescales its running sum by
     * {@code exp(oldShift - newShift)} in double. Scalar on purpose: a lane's max changes only a few
     * times per row (about ln(V/64) times for random rows), and a second inlined vector exponential
     * in the caller would exceed C2's inlining budget (see {@code VectorRowOps}).
     */
    static void rescale(int w, float[] max, float[] shift, double[] sum) {
        rescale(w, max, shift, sum, null);
    }

    /** {@link #rescale(int, float[], float[], double[])}, also moving the entropy terms {@code ent} (or null). */
    static void rescale(int w, float[] max, float[] shift, double[] sum, double[] ent) {
        for (int t = 0; t < w; t++) {
            float m = max[t];
            float h = m == Float.NEGATIVE_INFINITY ? 0f : m;
            float old = shift[t];
            if (h != old) {
                if (sum[t] != 0.0) {
                    double a = Math.exp((double) old - h);
                    if (ent != null) {
                        ent[t] = a * (ent[t] + sum[t] * ((double) old - h));
                    }
                    sum[t] *= a;
                }
                shift[t] = h;
            }
        }
    }

    /**
     * Gradient of one block: {@code tile[v*W + t] = zero[t] != 0 ? 0 : exp(tile[v*W + t] - shift[t]) * factor[t]}.
     */
    abstract void ncwGradient(float[] tile, int kb, float[] shift, float[] factor, float[] zero);

    /**
     * Adds each lane's sum over the block to {@code total}: {@code total[t] += Σ_{v < kb} tile[v*W + t]},
     * the block's sum in fp32 in order of {@code v}.
     */
    abstract void ncwSum(float[] tile, int kb, double[] total);

    /**
     * Gradient of one block with the extensions: {@code tile[v*W + t] = zero[t] != 0 ? 0 :
     * fma(exp(x - shift[t]), factor[t], bias[t]) · (capped ? fma(-u, u, 1) : 1)}, {@code x = tile[v*W + t]}
     * (the capped logit), {@code u = x · invCap}.
     */
    abstract void ncwGradientExtended(float[] tile, int kb, float[] shift, float[] factor, float[] bias,
            float[] zero, boolean capped, float invCap);

    // ---------------------------------------------------------------- choice

    /** @return the row operations of this JVM: the Vector API when usable, the scalar code otherwise */
    static RowOps best() {
        return Holder.BEST;
    }

    private static final class Holder {
        static final RowOps BEST = choose();

        private static RowOps choose() {
            String prop = System.getProperty(VECTOR_PROPERTY, "true").trim();
            if (prop.equalsIgnoreCase("false")) {
                LOG.log(System.Logger.Level.INFO, () -> "plw4j: fused CPU kernel uses its scalar path (" + VECTOR_PROPERTY
                        + "=false)");
                return new ScalarRowOps();
            }
            if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "plw4j: the JDK module " + VECTOR_MODULE + " is not resolved, so the fused CPU kernel"
                        + " uses its scalar path (several times slower). Start the JVM with --add-modules "
                        + VECTOR_MODULE + " to enable the Vector API path.");
                return new ScalarRowOps();
            }
            try {
                RowOps ops = (RowOps) Class.forName("org.plw4j.kernel.VectorRowOps").getDeclaredConstructor()
                        .newInstance();
                LOG.log(System.Logger.Level.INFO, () -> "plw4j: fused CPU kernel uses the Vector API path, "
                        + ops.describe());
                return ops;
            } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "plw4j: the Vector API path of the fused CPU kernel failed to load; using the"
                        + " scalar path", e);
                return new ScalarRowOps();
            }
        }
    }
}
