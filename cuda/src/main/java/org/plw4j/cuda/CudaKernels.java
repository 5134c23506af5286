package org.plw4j.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.plw4j.cuda.Gpu.Arg;
import org.plw4j.cuda.Gpu.Arg.Kind;
import org.plw4j.kernel.LossExtensions;

/**
 * Launch wrappers for the bundled kernels: names, parameter order and launch shapes in one place
 * (see the headers of {@code cuda/src/main/cuda/*.cu}). Modules and functions are loaded once and
 * cached; the object is thread-safe.
 */
final class CudaKernels {
    /** Threads per block of every kernel (PLW4J_BLOCK in the sources). */
    static final int BLOCK = 512;
    /** Rows per block of the first weighted-sum pass. */
    static final int SUM_ROWS_PER_BLOCK = 8192;
    /** Number of sums the weighted-sum kernels produce. */
    static final int NSUMS = 9;
    /** System property: most bytes of shared memory a gradient block may use to cache its row. */
    static final String CACHE_BYTES_PROPERTY = "plw4j.cuda.cacheBytes";

    private static final List<Kind> XENT_PARAMS = List.of(Kind.PTR, Kind.I64, Kind.I64, Kind.I32, Kind.I32,
            Kind.I32, Kind.PTR, Kind.PTR, Kind.PTR, Kind.I64, Kind.I64, Kind.PTR, Kind.PTR, Kind.I32);
    /** The extension kernels: the plain parameters, then eps, lambda, c and the entropy output. */
    private static final List<Kind> XENT_EXT_PARAMS = concat(XENT_PARAMS, Kind.F64, Kind.F64, Kind.F64, Kind.PTR);

    /** Every entry point the launcher uses, with its parameter kinds, checked against the PTX by the tests. */
    static final Map<String, List<Kind>> SIGNATURES = Map.ofEntries(
            Map.entry("plw4j_xent_fwd_f32", XENT_PARAMS),
            Map.entry("plw4j_xent_fwd_bf16", XENT_PARAMS),
            Map.entry("plw4j_xent_fwd_f16", XENT_PARAMS),
            Map.entry("plw4j_xent_grad_f32_f32", XENT_PARAMS),
            Map.entry("plw4j_xent_grad_bf16_bf16", XENT_PARAMS),
            Map.entry("plw4j_xent_grad_bf16_f32", XENT_PARAMS),
            Map.entry("plw4j_xent_grad_f16_f16", XENT_PARAMS),
            Map.entry("plw4j_xent_grad_f16_f32", XENT_PARAMS),
            Map.entry("plw4j_xent_fwd_ext_f32", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_fwd_ext_bf16", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_fwd_ext_f16", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_grad_ext_f32_f32", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_grad_ext_bf16_bf16", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_grad_ext_bf16_f32", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_grad_ext_f16_f16", XENT_EXT_PARAMS),
            Map.entry("plw4j_xent_grad_ext_f16_f32", XENT_EXT_PARAMS),
            Map.entry("plw4j_sums_partial", List.of(Kind.PTR, Kind.PTR, Kind.PTR, Kind.PTR, Kind.PTR, Kind.I32,
                    Kind.I32, Kind.PTR)),
            Map.entry("plw4j_sums_final", List.of(Kind.PTR, Kind.I32, Kind.PTR)),
            Map.entry("plw4j_fill_f32", List.of(Kind.PTR, Kind.I64, Kind.I32)),
            Map.entry("plw4j_fill_bf16", List.of(Kind.PTR, Kind.I64, Kind.I32)),
            Map.entry("plw4j_fill_f16", List.of(Kind.PTR, Kind.I64, Kind.I32)));

    private static List<Kind> concat(List<Kind> head, Kind... tail) {
        List<Kind> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return List.copyOf(all);
    }

    private final Gpu gpu;
    private final int block;
    private final int cacheBudget;
    private final Map<String, Gpu.Module> modules = new ConcurrentHashMap<>();
    private final Map<String, Gpu.Function> functions = new ConcurrentHashMap<>();

    /**
     * @param gpu the device
     * @param cacheLimitBytes most shared memory per gradient block for the row cache, or a negative
     *        value for the default (half a multiprocessor's shared memory less 2 KiB, so that two
     *        blocks fit: 112 KiB on an H100)
     */
    CudaKernels(Gpu gpu, long cacheLimitBytes) {
        this(gpu, cacheLimitBytes, BLOCK);
    }

    /**
     * @param gpu the device
     * @param cacheLimitBytes as above
     * @param block threads per block; must equal PLW4J_BLOCK of the compiled kernels (512 in the
     *        bundled PTX; the CPU emulation of the tests builds them with fewer)
     */
    CudaKernels(Gpu gpu, long cacheLimitBytes, int block) {
        this.gpu = gpu;
        this.block = block;
        // Two blocks per multiprocessor: each also holds its static shared memory (272 bytes) and
        // the 1 KiB the driver reserves per block on compute capability 8.0 and newer.
        long perBlock = Math.min(gpu.maxSharedPerBlockOptin() - 2048L, gpu.sharedPerMultiprocessor() / 2 - 2048L);
        long budget = cacheLimitBytes < 0 ? perBlock : Math.min(perBlock, cacheLimitBytes);
        this.cacheBudget = (int) Math.max(0, budget / 16 * 16);
    }

    /** @return the cache limit from {@value #CACHE_BYTES_PROPERTY}, or -1 for the default */
    static long cacheLimitFromProperty() {
        String v = System.getProperty(CACHE_BYTES_PROPERTY);
        if (v == null || v.isBlank()) {
            return -1;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must be an integer number of bytes, was '%s'", CACHE_BYTES_PROPERTY, v), e);
        }
    }

    Gpu gpu() {
        return gpu;
    }

    /** @return threads per block of every launch */
    int block() {
        return block;
    }

    /** @return bytes of shared memory a gradient block may use for its row cache */
    int cacheBudget() {
        return cacheBudget;
    }

    /** Loads every module (the probe uses this to check that the driver accepts the PTX). */
    void loadAll() {
        for (String m : Ptx.MODULES) {
            module(m);
        }
    }

    private Gpu.Module module(String name) {
        return modules.computeIfAbsent(name, m -> gpu.loadModule(m, Ptx.text(m)));
    }

    private Gpu.Function function(String module, String name) {
        return functions.computeIfAbsent(name, n -> {
            Gpu.Function f = module(module).function(n);
            if (n.startsWith("plw4j_xent_grad_") && cacheBudget > 48 * 1024) {   // plain and _ext_
                f.setMaxDynamicShared(cacheBudget);
            }
            return f;
        });
    }

    static String xentName(DType in, DType grad) {
        return xentName(in, grad, false);
    }

    /** @return the entry point for these types, the {@code _ext_} one (SPEC section 7, entropy) when {@code ext} */
    static String xentName(DType in, DType grad, boolean ext) {
        String kind = ext ? "ext_" : "";
        return grad == null ? "plw4j_xent_fwd_" + kind + in.suffix
                : "plw4j_xent_grad_" + kind + in.suffix + "_" + grad.suffix;
    }

    /**
     * @param in logits type
     * @param vocab V
     * @return 16-byte vectors of a row the gradient kernel keeps in shared memory
     */
    int cacheVectors(DType in, int vocab) {
        long rowVectors = ((long) vocab * in.bytes + 15) / 16 + 1;
        return (int) Math.min(rowVectors, cacheBudget / 16);
    }

    /**
     * Launches the cross-entropy kernel over {@code rows} rows; row {@code r} starts at element
     * {@code (r / seqLen) * strideB + (r % seqLen) * strideT} of {@code logits} (unit stride along V).
     *
     * @param s stream
     * @param in logits type
     * @param grad gradient type, or null for the forward kernel
     * @param logits device address of row 0
     * @param strideB batch stride in elements
     * @param strideT time stride in elements
     * @param seqLen N
     * @param rows B*N
     * @param vocab V
     * @param targets device int[rows]
     * @param scale device float[rows] (gradient only, else 0)
     * @param gradient device address of gradient row 0 (may equal logits), or 0
     * @param gStrideB gradient batch stride
     * @param gStrideT gradient time stride
     * @param loss device double[rows]
     * @param arg device int[rows]
     */
    void xent(Gpu.Stream s, DType in, DType grad, long logits, long strideB, long strideT, int seqLen, int rows,
            int vocab, long targets, long scale, long gradient, long gStrideB, long gStrideT, long loss, long arg) {
        xent(s, in, grad, logits, strideB, strideT, seqLen, rows, vocab, targets, scale, gradient, gStrideB, gStrideT,
                loss, arg, LossExtensions.NONE, 0);
    }

    /**
     * {@link #xent(Gpu.Stream, DType, DType, long, long, long, int, int, int, long, long, long, long, long, long,
     * long) xent} with the extensions and the entropy output: the {@code _ext_} kernels when either is asked for.
     *
     * @param ext the extensions of SPEC section 7 ({@link LossExtensions#NONE} for none)
     * @param entropy device double[rows] for the per-row entropy, or 0 for none
     */
    void xent(Gpu.Stream s, DType in, DType grad, long logits, long strideB, long strideT, int seqLen, int rows,
            int vocab, long targets, long scale, long gradient, long gStrideB, long gStrideT, long loss, long arg,
            LossExtensions ext, long entropy) {
        if (rows <= 0) {
            return;
        }
        int cacheVec = grad == null ? 0 : cacheVectors(in, vocab);
        boolean extended = ext.any() || entropy != 0;
        Gpu.Function f = function(Ptx.XENT, xentName(in, grad, extended));
        Arg[] plain = {Arg.ptr(logits), Arg.i64(strideB), Arg.i64(strideT), Arg.i32(seqLen), Arg.i32(rows),
            Arg.i32(vocab), Arg.ptr(targets), Arg.ptr(scale), Arg.ptr(gradient), Arg.i64(gStrideB),
            Arg.i64(gStrideT), Arg.ptr(loss), Arg.ptr(arg), Arg.i32(cacheVec)};
        if (!extended) {
            s.launch(f, rows, block, cacheVec * 16, plain);
            return;
        }
        Arg[] args = Arrays.copyOf(plain, plain.length + 4);
        args[plain.length] = Arg.f64(ext.labelSmoothing());
        args[plain.length + 1] = Arg.f64(ext.zLoss());
        args[plain.length + 2] = Arg.f64(ext.softCap());
        args[plain.length + 3] = Arg.ptr(entropy);
        s.launch(f, rows, block, cacheVec * 16, args);
    }

    /**
     * @param rows rows to sum
     * @return number of partial blocks (each {@value #NSUMS} doubles)
     */
    static int sumParts(int rows) {
        return (rows + SUM_ROWS_PER_BLOCK - 1) / SUM_ROWS_PER_BLOCK;
    }

    /**
     * Deterministic weighted sums of per-row results ({@code plw4j_sums.cu}); out receives
     * {@value #NSUMS} doubles.
     *
     * @param s stream
     * @param loss device double[rows]
     * @param arg device int[rows]
     * @param targets device int[rows]
     * @param weight device float[rows]
     * @param role device byte[rows]
     * @param rows rows
     * @param partials device double[sumParts(rows) * NSUMS]
     * @param out device double[NSUMS]
     */
    void sums(Gpu.Stream s, long loss, long arg, long targets, long weight, long role, int rows, long partials,
            long out) {
        int parts = sumParts(rows);
        if (parts > 0) {
            s.launch(function(Ptx.SUMS, "plw4j_sums_partial"), parts, block, 0, Arg.ptr(loss), Arg.ptr(arg),
                    Arg.ptr(targets), Arg.ptr(weight), Arg.ptr(role), Arg.i32(rows), Arg.i32(SUM_ROWS_PER_BLOCK),
                    Arg.ptr(partials));
        }
        s.launch(function(Ptx.SUMS, "plw4j_sums_final"), 1, block, 0, Arg.ptr(partials), Arg.i32(parts),
                Arg.ptr(out));
    }

    /**
     * Fills device memory with the pseudo-random logits of {@code plw4j_fill.cu}.
     *
     * @param s stream
     * @param t element type
     * @param out device address
     * @param n elements
     * @param seed seed
     */
    void fill(Gpu.Stream s, DType t, long out, long n, int seed) {
        if (n <= 0) {
            return;
        }
        long blocks = Math.min((n + block - 1) / block, (long) gpu.multiprocessors() * 16);
        s.launch(function(Ptx.FILL, "plw4j_fill_" + t.suffix), (int) blocks, block, 0, Arg.ptr(out), Arg.i64(n),
                Arg.i32(seed));
    }
}
