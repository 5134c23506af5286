/*
 * Fused CPU kernel.
 *
 * Math, per active position (row z of V logits, target y, gradient scale s), as ReferenceKernel:
 *   m = max_v z[v];  S = Σ_v exp(z[v] - m);  lse = m + log S;  loss = lse - z[y]
 *   correct = (first arg-max == y)            [NaN counts as the max, first NaN wins; all -Inf -> 0]
 *   grad[v] = s·(exp(z[v] - m)/S - [v == y])  [target entry: s·(exp(z[y] - lse) - 1) in double]
 * fp32, fp16 and bf16 logits are computed in fp32 inside a row (16-bit values widened exactly), exp
 * by FastExp (1 ulp), Σ in fp32 over at most 64 terms per lane then in double; fp64 logits in double.
 * m + log S and lse - z[y] are formed in double. Rows with a non-finite m or a NaN: loss NaN, gradient
 * NaN if s != 0. Inactive rows and rows with s == 0: loss 0 / gradient +0, their logits never read.
 * Extensions (SPEC section 7, class FusedExtensions): z is first replaced by z' = c·tanh(z/c)
 * (FastExp.softCap, one exponential and one division per logit), loss = (1-eps)(lse - z'[y]) + eps(lse - Σz'/V) + λ·lse²
 * (on rows Σz' = Σ(z' - m) + V·m from the exp-sum pass, on NCW tiles and fp64 rows a cache-resident pass),
 * grad[v] = (s(1+2λ·lse)·e[v]/S - s·eps/V)(1 - (z'[v]/c)²) with the target entry in double; the bytes
 * moved stay those below (the capped row lives in the scratch).
 * Outputs (SPEC section 13, when asked for): entropy H = log S - Σ e[v](z'[v] - m)/S, its terms summed in the
 * exp-sum pass (one fma per logit; fp64 rows from the stored exponentials); arg-max index, a scan of the
 * cache-resident row up to its first maximum (NCW: the running arg-max each lane keeps anyway).
 *
 * Code: this class chooses the path and the number of threads; KernelCall holds what a call's workers
 * share, WorkerPool runs them; FloatRowWorker and DoubleRowWorker (the rows paths) and NcwWorker (the
 * tiles) hold each thread's scratch and loops; RowOps (vector or scalar) the inner loops.
 *
 * Paths:
 *   rows (strideV == 1: NWC, and any layout whose vocabulary axis is contiguous): each row is copied
 *     once into a per-thread heap scratch (or read in place when the logits are a heap float[]),
 *     then three passes over that cache-resident copy: max, exp-sum (storing the exponentials in the
 *     gradient row or scratch when a gradient is wanted), then the scale s/S and the target fix-up.
 *   NCW tiles (strideT == 1): W time steps side by side (W = 4 vector lengths, 64 with AVX-512), the
 *     vocabulary streamed in blocks of 64 rows of W contiguous values: an online soft-max per lane
 *     (running max, running sum rescaled by exp(old max - new max) once per block), no transposed copy.
 *     The gradient is a second pass over the logits.
 *   general strides (any other view): rows gathered through Memory.readFloats/readDoubles with their
 *     stride into the scratch, then as "rows".
 *
 * Bytes moved per token (V logits of b bytes, b = 4 fp32, 2 bf16/fp16, 8 fp64):
 *   forward: V·b read from memory once (the floor), plus V·4 written and read back in L1/L2 for the
 *     scratch copy (none for heap float[] logits);
 *   forward + gradient: rows path V·b read + V·b written; NCW path 2·V·b read + V·b written.
 *   Plus 17 bytes per position for targets, scales, losses, flags. Exponentials: V per row (NCW: V + V/64).
 *
 * Threading: positions are cut into fixed work units (rows path: ceil(16384 / V) consecutive rows;
 * NCW: one tile of W time steps of one sequence), taken dynamically from an atomic counter by up to
 * `parallelism` workers (WorkerPool: the caller plus a shared daemon ForkJoinPool per parallelism).
 * A position's outputs depend only on its own row and on fixed loop orders, never on the unit it fell in or the
 * thread that ran it, so results are bitwise identical for every thread count. Extra memory per call:
 * per worker one V-float (or V-double) scratch, one V-short buffer for 16-bit types, a 64·W tile.
 */
package org.plw4j.kernel;

import java.util.Locale;

/**
 * The fused CPU kernel, the default of the {@code cpu} backend: one read of the logits for the loss,
 * the arg-max and the gradient, Vector API inner loops when {@code jdk.incubator.vector} is resolved
 * (start the JVM with {@code --add-modules jdk.incubator.vector}; otherwise a scalar path runs and
 * says so once in the log), multi-threaded over positions.
 *
 * <p>Outputs follow {@link LossKernel} and {@link ReferenceKernel}'s rules exactly (arg-max, non-finite
 * rows, zero rows). fp32/fp16/bf16 logits are computed in fp32 inside a row: token losses agree with
 * the double-precision reference within about 5e-6 absolute ({@link FastExp} is within 1 ulp; fp32
 * partial sums hold at most 64 terms); fp64 logits are computed in double.
 *
 * <p>Results are deterministic and bitwise independent of {@link #parallelism()}. Instances are
 * immutable and thread-safe; concurrent calls share the worker pool.
 *
 * <p>Usage: {@code LossKernel k = FusedCpuKernel.withParallelism(4); k.run(problem, loss, correct);}
 *
 * <p>The optional extensions of SPEC section 7 (label smoothing, z-loss, soft-capping; {@link
 * LossProblem#hasExtensions()}) are computed in the same pass, on every path and dtype, with the formulas
 * of {@link ReferenceKernel}: the capped logits {@code c·tanh(z/c)} in fp32 (double for fp64 logits) to a
 * few ulp, the mean logit of label smoothing summed like the exponentials. So are the entropy and arg-max
 * outputs of SPEC section 13 ({@link #supportsOutputs()}).
 *
 * <p>In-place gradients: the gradient may be the logits memory with the same offset and strides
 * ({@link LossProblem#inPlace()}); any other gradient must not overlap the logits.
 */
public final class FusedCpuKernel implements LossKernel {
    /** System property: default parallelism of {@link #create()} (default: available processors). */
    public static final String THREADS_PROPERTY = "plw4j.cpu.threads";
    /** Fewer elements than this per worker and fewer workers are started. */
    private static final long MIN_ELEMENTS_PER_WORKER = 1 << 16;

    private final int parallelism;
    private final RowOps ops;

    FusedCpuKernel(int parallelism, RowOps ops) {
        if (parallelism < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "parallelism must be >= 1, was %d", parallelism));
        }
        this.parallelism = parallelism;
        this.ops = ops;
    }

    /**
     * @return a kernel with the default parallelism: the system property {@value #THREADS_PROPERTY}
     *         if set, else {@link Runtime#availableProcessors()}
     * @throws IllegalArgumentException if the property is set but not an integer >= 1
     */
    public static FusedCpuKernel create() {
        return new FusedCpuKernel(defaultParallelism(), RowOps.best());
    }

    /**
     * @param threads the number of threads one call may use (the caller counts as one)
     * @return a kernel using at most {@code threads} threads
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public static FusedCpuKernel withParallelism(int threads) {
        return new FusedCpuKernel(threads, RowOps.best());
    }

    static int defaultParallelism() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p == null || p.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        try {
            int n = Integer.parseInt(p.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "system property %s must be an integer >= 1, was '%s'", THREADS_PROPERTY, p));
    }

    @Override
    public String name() {
        return "fused-cpu";
    }

    /** @return the maximum number of threads of one call */
    public int parallelism() {
        return parallelism;
    }

    /**
     * Compiles the Vector API code now, on the calling thread, instead of in the background. Until the JIT
     * has compiled it, calls run a scalar twin of the vector code that gives bitwise the same results (the
     * Vector API's uncompiled fallbacks are 100 times slower); the first call starts a background thread
     * that compiles the vector code in a few seconds. Call this at start-up (or before timing anything) to
     * have the vector code from the first call. Does nothing on the scalar path or once done.
     *
     * @return whether the vector code is in use (false: the scalar path runs, e.g. without
     *         {@code --add-modules jdk.incubator.vector})
     */
    public static boolean warmUp() {
        RowOps best = RowOps.best();
        if (!best.vectorized()) {
            return false;
        }
        best.warmUpNow();
        return true;
    }

    /** @return whether the Vector API path runs (false: the scalar fallback) */
    public boolean vectorized() {
        return ops.vectorized();
    }

    /** @return true: label smoothing, z-loss and soft-capping are fused into every path */
    @Override
    public boolean supportsExtensions() {
        return true;
    }

    /** @return true: the entropy and arg-max outputs of SPEC section 13, in the same pass */
    @Override
    public boolean supportsOutputs() {
        return true;
    }

    @Override
    public String toString() {
        return "FusedCpuKernel[parallelism=" + parallelism + ", " + ops.describe() + "]";
    }

    @Override
    public void run(LossProblem p, double[] tokenLoss, boolean[] tokenCorrect) {
        final int positions = p.positions();
        if (positions == 0) {
            return;
        }
        final KernelCall call = new KernelCall(p, tokenLoss, tokenCorrect);
        final RowOps callOps = ops.forCall();   // the scalar twin while the vector code warms up: same bits
        final int units = call.units(callOps.tileWidth());
        final long elements = (long) positions * Math.max(1, p.vocab());
        final int workers = (int) Math.min(Math.min(parallelism, units),
                Math.max(1, elements / MIN_ELEMENTS_PER_WORKER));
        WorkerPool.run(parallelism, workers, units, () -> call.newWorker(callOps.fresh()));
    }
}
