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
 * `parallelism` workers (the caller plus a shared daemon ForkJoinPool per parallelism). A position's
 * outputs depend only on its own row and on fixed loop orders, never on the unit it fell in or the
 * thread that ran it, so results are bitwise identical for every thread count. Extra memory per call:
 * per worker one V-float (or V-double) scratch, one V-short buffer for 16-bit types, a 64·W tile.
 */
package org.plw4j.kernel;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

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
 * <p>Problems using the optional extensions of SPEC section 7 ({@link LossProblem#hasExtensions()}) are
 * delegated to {@link ReferenceKernel} ({@link #supportsExtensions()} is false).
 *
 * <p>In-place gradients: the gradient may be the logits memory with the same offset and strides
 * ({@link LossProblem#inPlace()}); any other gradient must not overlap the logits.
 */
public final class FusedCpuKernel implements LossKernel {
    /** System property: default parallelism of {@link #create()} (default: available processors). */
    public static final String THREADS_PROPERTY = "plw4j.cpu.threads";
    /** Vocabulary rows per NCW block: each fp32 partial sum holds at most this many terms. */
    private static final int KB = 64;
    /** Elements per row-path work unit (rounded up to whole rows). */
    private static final int UNIT_ELEMENTS = 1 << 14;
    /** Fewer elements than this per worker and fewer workers are started. */
    private static final long MIN_ELEMENTS_PER_WORKER = 1 << 16;
    private static final ConcurrentHashMap<Integer, ForkJoinPool> POOLS = new ConcurrentHashMap<>();

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
        if (p.hasExtensions()) {
            ReferenceKernel.INSTANCE.run(p, tokenLoss, tokenCorrect); // SPEC section 7 lives in the reference only
            return;
        }
        final int vN = p.vocab();
        final Task task = new Task(p, tokenLoss, tokenCorrect);
        final RowOps callOps = ops.forCall();   // the scalar twin while the vector code warms up: same bits
        final int units;
        if (task.mode == Mode.NCW) {
            int w = callOps.tileWidth();
            units = p.batch() * ((p.seqLen() + w - 1) / w);
        } else {
            units = (positions + task.rowsPerUnit - 1) / task.rowsPerUnit;
        }
        long elements = (long) positions * Math.max(1, vN);
        int workers = (int) Math.min(Math.min(parallelism, units), Math.max(1, elements / MIN_ELEMENTS_PER_WORKER));
        AtomicInteger next = new AtomicInteger();
        Runnable body = () -> {
            Worker w = new Worker(task, callOps.fresh());
            for (int u = next.getAndIncrement(); u < units; u = next.getAndIncrement()) {
                w.unit(u);
            }
        };
        if (workers <= 1) {
            body.run();
            return;
        }
        ForkJoinPool pool = POOLS.computeIfAbsent(parallelism, FusedCpuKernel::newPool);
        ForkJoinTask<?>[] others = new ForkJoinTask<?>[workers - 1];
        for (int k = 0; k < others.length; k++) {
            others[k] = pool.submit(body);
        }
        Throwable failure = null;
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (ForkJoinTask<?> f : others) {
            try {
                f.join();
            } catch (RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure instanceof RuntimeException) {
            throw (RuntimeException) failure;
        }
        if (failure != null) {
            throw (Error) failure;
        }
    }

    private static ForkJoinPool newPool(int parallelism) {
        AtomicInteger count = new AtomicInteger();
        return new ForkJoinPool(Math.max(1, parallelism - 1), pool -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName("plw4j-fused-cpu-" + parallelism + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    private enum Mode {
        /** fp32/fp16/bf16 rows (contiguous vocabulary, or gathered with their stride). */
        ROWS_FLOAT,
        /** fp64 rows. */
        ROWS_DOUBLE,
        /** fp32/fp16/bf16 with strideT == 1: tiles of time steps. */
        NCW
    }

    /** What one call shares between its workers (read-only, apart from the disjoint outputs). */
    private static final class Task {
        final LossProblem p;
        final double[] loss;
        final boolean[] correct;
        final Mode mode;
        final int n;
        final int vN;
        final int rowsPerUnit;
        final Memory z;
        final ElementType zType;
        final long sv;
        final float[] zArr;
        final double[] zArrD;
        final int[] targets;
        final boolean grad;
        final double[] scale;
        final Memory g;
        final ElementType gType;
        final long gsv;
        final long gst;
        final float[] gArr;
        final double[] gArrD;

        Task(LossProblem p, double[] loss, boolean[] correct) {
            this.p = p;
            this.loss = loss;
            this.correct = correct;
            this.n = p.seqLen();
            this.vN = p.vocab();
            this.rowsPerUnit = Math.max(1, (UNIT_ELEMENTS + Math.max(1, vN) - 1) / Math.max(1, vN));
            this.z = p.logits();
            this.zType = z.type();
            this.sv = p.strideV();
            this.zArr = z instanceof Memory.FloatArray && sv == 1 ? ((Memory.FloatArray) z).a : null;
            this.zArrD = z instanceof Memory.DoubleArray && sv == 1 ? ((Memory.DoubleArray) z).a : null;
            this.targets = p.targets();
            this.grad = p.wantsGradient();
            this.scale = p.gradScale();
            this.g = p.gradient();
            this.gType = grad ? g.type() : null;
            this.gsv = p.gStrideV();
            this.gst = p.gStrideT();
            this.gArr = grad && g instanceof Memory.FloatArray && gsv == 1 ? ((Memory.FloatArray) g).a : null;
            this.gArrD = grad && g instanceof Memory.DoubleArray && gsv == 1 ? ((Memory.DoubleArray) g).a : null;
            if (zType == ElementType.FLOAT64) {
                mode = Mode.ROWS_DOUBLE;
            } else if (sv != 1 && p.strideT() == 1 && vN < (1 << 24)) {
                mode = Mode.NCW;
            } else {
                mode = Mode.ROWS_FLOAT;
            }
        }
    }

    /** One worker's scratch and loops. */
    private static final class Worker {
        private final Task k;
        private final RowOps ops;
        private final LossProblem p;
        private final int vN;
        private final float[] buf;
        private final double[] bufD;
        private final short[] sbuf;
        // NCW state
        private final int tw;
        private final float[] tile;
        private final float[] max;
        private final float[] arg;
        private final float[] shift;
        private final double[] sum;
        private final float[] factor;
        private final float[] zero;
        private final double[] lse;
        private final float[] zy;

        Worker(Task k, RowOps ops) {
            this.k = k;
            this.ops = ops;
            this.p = k.p;
            this.vN = k.vN;
            boolean shorts = k.zType.bytes() == 2 || (k.grad && k.gType.bytes() == 2);
            if (k.mode == Mode.NCW) {
                this.tw = ops.tileWidth();
                this.tile = new float[KB * tw];
                this.max = new float[tw];
                this.arg = new float[tw];
                this.shift = new float[tw];
                this.sum = new double[tw];
                this.factor = new float[tw];
                this.zero = new float[tw];
                this.lse = new double[tw];
                this.zy = new float[tw];
                this.sbuf = shorts ? new short[tw] : null;
                this.buf = null;
                this.bufD = null;
            } else {
                this.tw = 0;
                this.tile = null;
                this.max = null;
                this.arg = null;
                this.shift = null;
                this.sum = null;
                this.factor = null;
                this.zero = null;
                this.lse = null;
                this.zy = null;
                this.sbuf = shorts ? new short[vN] : null;
                this.buf = k.mode == Mode.ROWS_FLOAT ? new float[vN] : null;
                this.bufD = k.mode == Mode.ROWS_DOUBLE ? new double[vN] : null;
            }
        }

        void unit(int u) {
            if (k.mode == Mode.NCW) {
                tileNcw(u);
                return;
            }
            int from = u * k.rowsPerUnit;
            int to = Math.min(p.positions(), from + k.rowsPerUnit);
            for (int i = from; i < to; i++) {
                if (k.mode == Mode.ROWS_FLOAT) {
                    rowFloat(i);
                } else {
                    rowDouble(i);
                }
            }
        }

        // ------------------------------------------------------------ fp32 / fp16 / bf16 rows

        private void rowFloat(int i) {
            final int b = i / k.n;
            final int t = i - b * k.n;
            final int y = k.targets[i];
            if (y < 0) {
                k.loss[i] = 0.0;
                k.correct[i] = false;
                if (k.grad) {
                    constRowFloat(b, t, 0f);
                }
                return;
            }
            final long start = p.rowStart(b, t);
            final float[] row;
            final int ro;
            final float m;
            if (k.zArr != null) {
                row = k.zArr;
                ro = Math.toIntExact(start);
                m = ops.max(row, ro, vN);
            } else {
                row = buf;
                ro = 0;
                m = loadRowFloat(start);
            }
            final float zyv = row[ro + y];
            final double s = k.grad ? k.scale[i] : 0.0;
            if (!(m > Float.NEGATIVE_INFINITY && m < Float.POSITIVE_INFINITY)) {
                k.loss[i] = Double.NaN;
                k.correct[i] = m != m ? firstNaN(row, ro, vN) == y : zyv == m && !ops.anyAtLeast(row, ro, y, m);
                if (k.grad) {
                    constRowFloat(b, t, s == 0.0 ? 0f : Float.NaN);
                }
                return;
            }
            k.correct[i] = zyv == m && !ops.anyAtLeast(row, ro, y, m);
            if (s != 0.0) {
                final float[] dst;
                final int doff;
                if (k.gArr != null) {
                    dst = k.gArr;
                    doff = Math.toIntExact(p.gRowStart(b, t));
                } else {
                    dst = buf;
                    doff = 0;
                }
                double sm = ops.expSumStore(row, ro, vN, m, dst, doff);
                double l = m + Math.log(sm);
                k.loss[i] = l - zyv;
                ops.scale(dst, doff, vN, (float) (s / sm));
                dst[doff + y] = (float) (s * (Math.exp(zyv - l) - 1.0));
                if (dst == buf) {
                    writeRowFloat(b, t);
                }
            } else {
                double sm = ops.expSum(row, ro, vN, m);
                double l = m + Math.log(sm);
                k.loss[i] = l - zyv;
                if (k.grad) {
                    constRowFloat(b, t, 0f);
                }
            }
        }

        /** Reads the row at {@code start} into {@code buf} as floats; @return its maximum ({@link RowOps#max}) */
        private float loadRowFloat(long start) {
            final long sv = k.sv;
            switch (k.zType) {
                case BFLOAT16:
                    if (sv == 1) {
                        k.z.readShorts(start, sbuf, 0, vN);
                        return ops.widenBf16Max(sbuf, 0, buf, 0, vN);   // widen and max in one pass
                    }
                    k.z.readFloats(start, sv, buf, 0, vN);
                    break;
                case FLOAT16:
                    if (sv == 1) {
                        k.z.readShorts(start, sbuf, 0, vN);
                        for (int v = 0; v < vN; v++) {
                            buf[v] = Half.fp16ToFloat(sbuf[v]);
                        }
                    } else {
                        k.z.readFloats(start, sv, buf, 0, vN);
                    }
                    break;
                default:
                    k.z.readFloats(start, sv, buf, 0, vN);
                    break;
            }
            return ops.max(buf, 0, vN);
        }

        private void constRowFloat(int b, int t, float value) {
            long gs = p.gRowStart(b, t);
            if (k.gArr != null) {
                int o = Math.toIntExact(gs);
                Arrays.fill(k.gArr, o, o + vN, value);
                return;
            }
            Arrays.fill(buf, 0, vN, value);
            writeRowFloat(b, t);
        }

        /** Writes buf[0, V) to the gradient row (b, t), narrowed to the gradient's type. */
        private void writeRowFloat(int b, int t) {
            long gs = p.gRowStart(b, t);
            writeFloats(gs, k.gsv, buf, 0, vN);
        }

        private void writeFloats(long gs, long stride, float[] src, int off, int len) {
            if (stride == 1 && k.gType == ElementType.BFLOAT16) {
                ops.narrowBf16(src, off, sbuf, 0, len);
                k.g.writeShorts(gs, sbuf, 0, len);
            } else if (stride == 1 && k.gType == ElementType.FLOAT16) {
                for (int v = 0; v < len; v++) {
                    sbuf[v] = Half.floatToFp16(src[off + v]);
                }
                k.g.writeShorts(gs, sbuf, 0, len);
            } else {
                k.g.writeFloats(gs, stride, src, off, len);
            }
        }

        private static int firstNaN(float[] a, int off, int n) {
            for (int v = 0; v < n; v++) {
                float x = a[off + v];
                if (x != x) {
                    return v;
                }
            }
            return -1;
        }

        // ------------------------------------------------------------ fp64 rows

        private void rowDouble(int i) {
            final int b = i / k.n;
            final int t = i - b * k.n;
            final int y = k.targets[i];
            if (y < 0) {
                k.loss[i] = 0.0;
                k.correct[i] = false;
                if (k.grad) {
                    constRowDouble(b, t, 0.0);
                }
                return;
            }
            final long start = p.rowStart(b, t);
            final double[] row;
            final int ro;
            if (k.zArrD != null) {
                row = k.zArrD;
                ro = Math.toIntExact(start);
            } else {
                k.z.readDoubles(start, k.sv, bufD, 0, vN);
                row = bufD;
                ro = 0;
            }
            final double m = ops.max(row, ro, vN);
            final double zyv = row[ro + y];
            final double s = k.grad ? k.scale[i] : 0.0;
            if (!(m > Double.NEGATIVE_INFINITY && m < Double.POSITIVE_INFINITY)) {
                k.loss[i] = Double.NaN;
                k.correct[i] = m != m ? firstNaN(row, ro, vN) == y : zyv == m && !ops.anyAtLeast(row, ro, y, m);
                if (k.grad) {
                    constRowDouble(b, t, s == 0.0 ? 0.0 : Double.NaN);
                }
                return;
            }
            k.correct[i] = zyv == m && !ops.anyAtLeast(row, ro, y, m);
            if (s != 0.0) {
                final double[] dst;
                final int doff;
                if (k.gArrD != null) {
                    dst = k.gArrD;
                    doff = Math.toIntExact(p.gRowStart(b, t));
                } else {
                    dst = bufD;
                    doff = 0;
                }
                double sm = ops.expSumStore(row, ro, vN, m, dst, doff);
                double l = m + Math.log(sm);
                k.loss[i] = l - zyv;
                ops.scale(dst, doff, vN, s / sm);
                dst[doff + y] = s * (Math.exp(zyv - l) - 1.0);
                if (dst == bufD) {
                    k.g.writeDoubles(p.gRowStart(b, t), k.gsv, bufD, 0, vN);
                }
            } else {
                double sm = ops.expSum(row, ro, vN, m);
                double l = m + Math.log(sm);
                k.loss[i] = l - zyv;
                if (k.grad) {
                    constRowDouble(b, t, 0.0);
                }
            }
        }

        private void constRowDouble(int b, int t, double value) {
            long gs = p.gRowStart(b, t);
            if (k.gArrD != null) {
                int o = Math.toIntExact(gs);
                Arrays.fill(k.gArrD, o, o + vN, value);
                return;
            }
            Arrays.fill(bufD, 0, vN, value);
            k.g.writeDoubles(gs, k.gsv, bufD, 0, vN);
        }

        private static int firstNaN(double[] a, int off, int n) {
            for (int v = 0; v < n; v++) {
                double x = a[off + v];
                if (x != x) {
                    return v;
                }
            }
            return -1;
        }

        // ------------------------------------------------------------ NCW tiles

        private void tileNcw(int u) {
            final int n = k.n;
            final int tilesPerRow = (n + tw - 1) / tw;
            final int b = u / tilesPerRow;
            final int t0 = (u - b * tilesPerRow) * tw;
            final int w = Math.min(tw, n - t0);
            final int i0 = b * n + t0;
            boolean anyActive = false;
            for (int tt = 0; tt < w; tt++) {
                anyActive |= k.targets[i0 + tt] >= 0;
            }
            Arrays.fill(max, Float.NEGATIVE_INFINITY);
            Arrays.fill(arg, 0f);
            Arrays.fill(shift, 0f);
            Arrays.fill(sum, 0.0);
            final long base = p.rowStart(b, t0);
            if (anyActive) {
                for (int v0 = 0; v0 < vN; v0 += KB) {
                    int kb = Math.min(KB, vN - v0);
                    fillTile(base, v0, kb, w);
                    ops.ncwForward(tile, kb, v0, max, arg, shift, sum);
                }
            }
            Arrays.fill(factor, 0f);
            Arrays.fill(zero, 1f);
            boolean anyGrad = false;
            for (int tt = 0; tt < w; tt++) {
                int i = i0 + tt;
                int y = k.targets[i];
                if (y < 0) {
                    k.loss[i] = 0.0;
                    k.correct[i] = false;
                    continue;
                }
                float m = max[tt];
                double sm = sum[tt];
                long rs = base + tt; // strideT == 1
                float zyv = (float) k.z.get(rs + y * k.sv);
                double s = k.grad ? k.scale[i] : 0.0;
                if (!(m > Float.NEGATIVE_INFINITY && m < Float.POSITIVE_INFINITY) || sm != sm) {
                    int fn = firstNaN(rs);
                    k.correct[i] = (fn >= 0 ? fn : (int) arg[tt]) == y;
                    k.loss[i] = Double.NaN;
                    if (s != 0.0) {
                        factor[tt] = Float.NaN;
                        zero[tt] = 0f;
                        anyGrad = true;
                    }
                    continue;
                }
                double l = m + Math.log(sm);
                k.loss[i] = l - zyv;
                k.correct[i] = (int) arg[tt] == y;
                if (s != 0.0) {
                    factor[tt] = (float) (s / sm);
                    zero[tt] = 0f;
                    lse[tt] = l;
                    zy[tt] = zyv;
                    anyGrad = true;
                }
            }
            if (!k.grad) {
                return;
            }
            final long gbase = p.gRowStart(b, t0);
            if (!anyGrad) {
                Arrays.fill(tile, 0f);
                for (int v0 = 0; v0 < vN; v0 += KB) {
                    writeTile(gbase, v0, Math.min(KB, vN - v0), w);
                }
                return;
            }
            for (int v0 = 0; v0 < vN; v0 += KB) {
                int kb = Math.min(KB, vN - v0);
                fillTile(base, v0, kb, w);
                ops.ncwGradient(tile, kb, shift, factor, zero);
                for (int tt = 0; tt < w; tt++) {
                    int y = k.targets[i0 + tt];
                    float f = factor[tt];
                    if (zero[tt] == 0f && f == f && y >= v0 && y < v0 + kb) {
                        double s = k.scale[i0 + tt];
                        tile[(y - v0) * tw + tt] = (float) (s * (Math.exp(zy[tt] - lse[tt]) - 1.0));
                    }
                }
                writeTile(gbase, v0, kb, w);
            }
        }

        /** {@code tile[v*W + t]} = logit {@code (b, t0 + t, v0 + v)} for {@code v < kb, t < w}. */
        private void fillTile(long base, int v0, int kb, int w) {
            final long sv = k.sv;
            for (int v = 0; v < kb; v++) {
                long src = base + (v0 + v) * sv;
                int off = v * tw;
                switch (k.zType) {
                    case BFLOAT16:
                        k.z.readShorts(src, sbuf, 0, w);
                        ops.widenBf16(sbuf, 0, tile, off, w);
                        break;
                    case FLOAT16:
                        k.z.readShorts(src, sbuf, 0, w);
                        for (int tt = 0; tt < w; tt++) {
                            tile[off + tt] = Half.fp16ToFloat(sbuf[tt]);
                        }
                        break;
                    default:
                        k.z.readFloats(src, 1, tile, off, w);
                        break;
                }
            }
        }

        private void writeTile(long gbase, int v0, int kb, int w) {
            for (int v = 0; v < kb; v++) {
                writeFloats(gbase + (v0 + v) * k.gsv, k.gst, tile, v * tw, w);
            }
        }

        /** First NaN of the row starting at element {@code rs} (vocabulary stride {@code sv}), or -1. */
        private int firstNaN(long rs) {
            for (int v = 0; v < vN; v++) {
                double x = k.z.get(rs + v * k.sv);
                if (x != x) {
                    return v;
                }
            }
            return -1;
        }
    }
}
