package org.plw4j.cuda;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.Half;
import org.plw4j.kernel.LossExtensions;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The GPU check and benchmark that {@code cuda/gpu-check.sh} runs on a GPU machine (which has no
 * Maven and no ND4J natives): plain Java arrays through the kernel layer. A harness, not part of
 * the published jar: it is compiled with the tests and reaches the GPU machine in
 * {@code plw4j-cuda-tests.jar} ({@code cuda/scripts/prepare-gpu-bundle.sh}); surefire does not run it.
 *
 * <pre>
 * java -cp ... org.plw4j.cuda.GpuCheck probe|compare|bench|all [--out results.jsonl] [--quick]
 * </pre>
 *
 * <ul>
 * <li>{@code probe}: the device, or why CUDA is not usable (exit status 3);</li>
 * <li>{@code compare}: CUDA against {@link ReferenceKernel} on pseudo-random logits, fp32 and
 * bf16, V = 32000, 128256, 256000: per-token loss, arg-max hits and gradient (max relative error
 * and norm-wise error), bitwise repeatability, forward vs forward+gradient, staged vs
 * device-resident vs in place, device-side weighted sums (exit status 1 when a target is missed);
 * then the extensions of SPEC section 7 (label smoothing 0.1, z-loss 1e-4, soft-cap 30, each alone at
 * V = 32000 and all together at V = 128256, fp32 and bf16, with the same checks);</li>
 * <li>{@code bench}: forward and forward+gradient (row cache on and off) for (B*N, V) = (16384,
 * 128256) and (8192, 32000), fp32 and bf16, device-resident, timed with CUDA events (median of
 * repeats after warm-up), a device-to-device copy of the same size for the bandwidth ceiling, and
 * the weighted mean loss over the same inputs that the PyTorch script computes; then one
 * {@code bench-ext} line per extension (alone and all three) with its forward and forward+gradient
 * times and their ratios to the plain kernel's (targets: label smoothing, z-loss at most 1.15x;
 * soft-capping and all three at most 2x).</li>
 * </ul>
 * Each result is one JSON object per line. Inputs: logit {@code i} of a {@code [rows, V]} array is
 * {@link #hashValue(long, int)}; row {@code r} has role IGNORE when {@code r % 16 == 0}, PROMPT
 * (weight {@value #PLW}) when {@code r % 16 < 6}, else COMPLETION (weight 1), and target
 * {@code hash32(r, seed ^ 0x5bd1e995) mod V}; the PyTorch script builds the same.
 */
public final class GpuCheck {
    /** Prompt loss weight of the generated inputs. */
    static final float PLW = 0.1f;
    static final double FP32_TOL = 1e-5;
    static final double BF16_GRAD_TOL = 1e-2;

    private final CudaKernels kernels;
    private final CudaLossKernel kernel;
    private final PrintWriter out;
    private boolean pass = true;

    GpuCheck(CudaKernels kernels, PrintWriter out) {
        this.kernels = kernels;
        this.kernel = new CudaLossKernel(kernels, CudaLossKernel.stagingFromProperty());
        this.out = out;
    }

    /**
     * Entry point.
     *
     * @param args command and options, see the class comment
     * @throws IOException if the output file cannot be written
     */
    public static void main(String[] args) throws IOException {
        String cmd = args.length > 0 ? args[0] : "all";
        String outFile = null;
        boolean quick = false;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) {
                outFile = args[++i];
            } else if (args[i].equals("--quick")) {
                quick = true;
            } else {
                System.err.println("unknown option " + args[i]);
                System.exit(2);
            }
        }
        PrintWriter pw = outFile == null
                ? new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), true)
                : new PrintWriter(new OutputStreamWriter(new FileOutputStream(outFile, true), StandardCharsets.UTF_8),
                        true);
        String why = CudaRuntime.unavailableReason();
        if (why != null) {
            pw.println(new Json().put("kind", "probe").put("usable", false).put("reason", why));
            pw.flush();
            System.err.println("GpuCheck: CUDA is not usable: " + why);
            System.exit(3);
        }
        GpuCheck c = new GpuCheck(CudaRuntime.kernels(), pw);
        int status = c.run(cmd, quick);
        pw.flush();
        System.exit(status);
    }

    int run(String cmd, boolean quick) {
        switch (cmd) {
            case "probe":
                probe();
                break;
            case "compare":
                probe();
                compareAll(quick);
                break;
            case "bench":
                probe();
                benchAll(quick);
                break;
            case "all":
                probe();
                compareAll(quick);
                benchAll(quick);
                break;
            default:
                System.err.println("unknown command " + cmd + " (probe, compare, bench, all)");
                return 2;
        }
        close();
        return pass ? 0 : 1;
    }

    /** Frees the device resources of this check's kernel. */
    void close() {
        kernel.closeAll();
    }

    void probe() {
        Gpu g = kernels.gpu();
        out.println(new Json().put("kind", "probe").put("usable", true).put("device", g.deviceName())
                .put("cc", g.computeCapability()).put("driver", g.driverVersion()).put("sms", g.multiprocessors())
                .put("smemOptin", g.maxSharedPerBlockOptin()).put("smemPerSm", g.sharedPerMultiprocessor())
                .put("totalMem", g.totalMemory()).put("cacheBudget", kernels.cacheBudget())
                .put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version")));
    }

    /** The extension settings of the checks: typical values (Gemma 2's cap 30, PaLM's z-loss 1e-4). */
    static final List<LossExtensions> EXTENSIONS = List.of(new LossExtensions(0.1, 0, 0),
            new LossExtensions(0, 1e-4, 0), new LossExtensions(0, 0, 30), new LossExtensions(0.1, 1e-4, 30));

    /** @return a short name of an extension setting for the JSON lines ("ls", "z", "cap", "ls+z+cap") */
    static String extName(LossExtensions x) {
        List<String> parts = new ArrayList<>();
        if (x.labelSmoothing() != 0) {
            parts.add("ls");
        }
        if (x.zLoss() != 0) {
            parts.add("z");
        }
        if (x.softCap() != 0) {
            parts.add("cap");
        }
        return parts.isEmpty() ? "none" : String.join("+", parts);
    }

    void compareAll(boolean quick) {
        int[][] sizes = quick ? new int[][] {{32000, 16}, {128256, 4}, {256000, 2}}
                : new int[][] {{32000, 256}, {128256, 64}, {256000, 32}};
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (int[] s : sizes) {
                compare(dt, s[0], s[1], 1234 + s[0], s[0] == 32000);
            }
        }
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (LossExtensions x : EXTENSIONS) {
                boolean all = x.labelSmoothing() != 0 && x.zLoss() != 0 && x.softCap() != 0;
                int vocab = all ? 128256 : 32000;
                compare(dt, vocab, quick ? 4 : all ? 64 : 128, 4321 + vocab, all, x);
            }
        }
    }

    void benchAll(boolean quick) {
        int[][] sizes = quick ? new int[][] {{512, 128256}, {256, 32000}} : new int[][] {{16384, 128256}, {8192, 32000}};
        for (int[] s : sizes) {
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                bench(dt, s[0], s[1], 42, quick ? 3 : 10);
            }
        }
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            benchExtensions(dt, sizes[0][0], sizes[0][1], 42, quick ? 3 : 10);
        }
    }

    // ---- inputs shared with plw4j_fill.cu and cuda/scripts/torch_ce_bench.py ----

    /**
     * @param i element index
     * @param seed seed
     * @return the 32-bit hash of plw4j_fill.cu
     */
    static int hash32(long i, int seed) {
        int h = (int) i * 0x45d9f3b + (int) (i >>> 32) * 0x27d4eb2f + seed * 0x165667b1;
        h ^= h >>> 16;
        h *= 0x45d9f3b;
        h ^= h >>> 16;
        h *= 0x45d9f3b;
        h ^= h >>> 16;
        h *= 0x45d9f3b;
        h ^= h >>> 16;
        return h;
    }

    /**
     * @param i element index
     * @param seed seed
     * @return the logit of plw4j_fill.cu: uniform on [-8, 8) in steps of 2^-20
     */
    static float hashValue(long i, int seed) {
        return (float) (hash32(i, seed) >>> 8) * 0x1p-20f - 8.0f;
    }

    static int target(int r, int vocab, int seed) {
        return r % 16 == 0 ? -1 : Integer.remainderUnsigned(hash32(r, seed ^ 0x5bd1e995), vocab);
    }

    static float weight(int r) {
        int k = r % 16;
        return k == 0 ? 0f : k < 6 ? PLW : 1f;
    }

    static byte role(int r) {
        int k = r % 16;
        return (byte) (k == 0 ? 0 : k < 6 ? 1 : 2);
    }

    /** Host inputs of one case. */
    static final class Inputs {
        final int rows;
        final int vocab;
        final DType type;
        final float[] f;
        final short[] h;
        final int[] targets;
        final float[] weights;
        final byte[] roles;
        final double[] scale;
        final double weightSum;
        LossExtensions ext = LossExtensions.NONE;

        Inputs(DType type, int rows, int vocab, int seed) {
            this.rows = rows;
            this.vocab = vocab;
            this.type = type;
            long n = (long) rows * vocab;
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("host inputs limited to 2^31 elements, was " + n);
            }
            if (type == DType.F32) {
                f = new float[(int) n];
                h = null;
                IntStream.range(0, rows).parallel().forEach(r -> {
                    for (int v = 0; v < vocab; v++) {
                        long i = (long) r * vocab + v;
                        f[(int) i] = hashValue(i, seed);
                    }
                });
            } else {
                f = null;
                h = new short[(int) n];
                boolean bf = type == DType.BF16;
                IntStream.range(0, rows).parallel().forEach(r -> {
                    for (int v = 0; v < vocab; v++) {
                        long i = (long) r * vocab + v;
                        float x = hashValue(i, seed);
                        h[(int) i] = bf ? Half.floatToBf16(x) : Half.floatToFp16(x);
                    }
                });
            }
            targets = new int[rows];
            weights = new float[rows];
            roles = new byte[rows];
            scale = new double[rows];
            double ws = 0;
            for (int r = 0; r < rows; r++) {
                targets[r] = target(r, vocab, seed);
                weights[r] = weight(r);
                roles[r] = role(r);
                ws += weights[r];
            }
            weightSum = ws;
            for (int r = 0; r < rows; r++) {
                scale[r] = ws > 0 ? weights[r] / ws : 0.0;
            }
        }

        Memory logits() {
            return f != null ? Memory.of(f) : Memory.ofShorts(h, type == DType.BF16 ? ElementType.BFLOAT16
                    : ElementType.FLOAT16);
        }

        Memory newGradient() {
            int n = rows * vocab;
            return f != null ? Memory.of(new float[n]) : Memory.ofShorts(new short[n], type == DType.BF16
                    ? ElementType.BFLOAT16 : ElementType.FLOAT16);
        }

        LossProblem problem(Memory gradient) {
            LossProblem.Builder b = LossProblem.builder().shape(1, rows, vocab).logitsNwc(logits()).targets(targets)
                    .extensions(ext);
            if (gradient != null) {
                b.gradientNwc(scale, gradient);
            }
            return b.build();
        }

        long bytes() {
            return (long) rows * vocab * type.bytes;
        }
    }

    /** Per-row results of a kernel run. */
    static final class Result {
        final double[] loss;
        final boolean[] correct;
        final Memory grad;
        /** The outputs of SPEC section 13 (entropy, arg-max). */
        final double[] entropy;
        final int[] argMax;

        Result(int rows, Memory grad) {
            this.loss = new double[rows];
            this.correct = new boolean[rows];
            this.grad = grad;
            this.entropy = new double[rows];
            this.argMax = new int[rows];
        }
    }

    /** The reference on blocks of rows in parallel (the reference itself is single-threaded). */
    static Result reference(Inputs in, boolean withGradient) {
        Result res = new Result(in.rows, withGradient ? in.newGradient() : null);
        Memory z = in.logits();
        int block = Math.max(1, in.rows / (4 * Runtime.getRuntime().availableProcessors()));
        int blocks = (in.rows + block - 1) / block;
        IntStream.range(0, blocks).parallel().forEach(k -> {
            int r0 = k * block;
            int n = Math.min(block, in.rows - r0);
            long off = (long) r0 * in.vocab;
            LossProblem.Builder b = LossProblem.builder().shape(1, n, in.vocab)
                    .logits(z, off, (long) n * in.vocab, in.vocab, 1)
                    .targets(Arrays.copyOfRange(in.targets, r0, r0 + n)).extensions(in.ext);
            if (withGradient) {
                b.gradient(Arrays.copyOfRange(in.scale, r0, r0 + n), res.grad, off, (long) n * in.vocab, in.vocab, 1);
            }
            double[] l = new double[n];
            boolean[] c = new boolean[n];
            double[] e = new double[n];
            int[] a = new int[n];
            ReferenceKernel.INSTANCE.run(b.entropyOut(e).argMaxOut(a).build(), l, c);
            System.arraycopy(l, 0, res.loss, r0, n);
            System.arraycopy(c, 0, res.correct, r0, n);
            System.arraycopy(e, 0, res.entropy, r0, n);
            System.arraycopy(a, 0, res.argMax, r0, n);
        });
        return res;
    }

    static double relErr(double a, double b) {
        if (Double.compare(a, b) == 0 || (Double.isNaN(a) && Double.isNaN(b))) {
            return 0.0;
        }
        if (Double.isNaN(a) || Double.isNaN(b) || Double.isInfinite(a) || Double.isInfinite(b)) {
            return Double.POSITIVE_INFINITY;
        }
        return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
    }

    /** [max relative error, norm-wise error ||a-b|| / ||b||] over the first n elements. */
    static double[] errors(Memory a, Memory b, long n) {
        double max = 0;
        double d2 = 0;
        double b2 = 0;
        for (long i = 0; i < n; i++) {
            double x = a.get(i);
            double y = b.get(i);
            max = Math.max(max, relErr(x, y));
            if (Double.isFinite(x) && Double.isFinite(y)) {
                d2 += (x - y) * (x - y);
                b2 += y * y;
            }
        }
        return new double[] {max, b2 > 0 ? Math.sqrt(d2 / b2) : Math.sqrt(d2)};
    }

    /** max over elements of |a - b| / (2e-6 |scale of the row| + tol |b|); at most 1 passes. */
    static double worstOverBound(Memory a, Memory b, Inputs in, double tol) {
        double worst = 0;
        for (int r = 0; r < in.rows; r++) {
            double abs = 2e-6 * Math.abs(in.scale[r]);
            for (int v = 0; v < in.vocab; v++) {
                long i = (long) r * in.vocab + v;
                double x = a.get(i);
                double y = b.get(i);
                if (Double.compare(x, y) == 0) {
                    continue;
                }
                double d = Math.abs(x - y);
                worst = Math.max(worst, Double.isFinite(d) ? d / (abs + tol * Math.abs(y)) : Double.POSITIVE_INFINITY);
            }
        }
        return worst;
    }

    static boolean sameBits(Memory a, Memory b, long n) {
        for (long i = 0; i < n; i++) {
            if (Double.doubleToRawLongBits(a.get(i)) != Double.doubleToRawLongBits(b.get(i))) {
                return false;
            }
        }
        return true;
    }

    static boolean sameBits(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
                return false;
            }
        }
        return true;
    }

    Result cuda(Inputs in, boolean withGradient) {
        Result res = new Result(in.rows, withGradient ? in.newGradient() : null);
        kernel.run(in.problem(res.grad), res.loss, res.correct);
        return res;
    }

    /** A forward run that also asks for the entropy and arg-max outputs (the {@code _ext_} kernels). */
    Result cudaWithOutputs(Inputs in) {
        Result res = new Result(in.rows, null);
        LossProblem p = LossProblem.builder().shape(1, in.rows, in.vocab).logitsNwc(in.logits()).targets(in.targets)
                .extensions(in.ext).entropyOut(res.entropy).argMaxOut(res.argMax).build();
        kernel.run(p, res.loss, res.correct);
        return res;
    }

    void compare(DType dt, int vocab, int rows, int seed, boolean devicePaths) {
        compare(dt, vocab, rows, seed, devicePaths, LossExtensions.NONE);
    }

    void compare(DType dt, int vocab, int rows, int seed, boolean devicePaths, LossExtensions ext) {
        long t0 = System.nanoTime();
        Inputs in = new Inputs(dt, rows, vocab, seed);
        in.ext = ext;
        Result ref = reference(in, true);
        Result a = cuda(in, true);
        Result b = cuda(in, true);
        Result fwd = cuda(in, false);
        double lossErr = 0;
        int hitMismatch = 0;
        int active = 0;
        for (int r = 0; r < rows; r++) {
            if (in.targets[r] >= 0) {
                active++;
            }
            lossErr = Math.max(lossErr, relErr(a.loss[r], ref.loss[r]));
            if (a.correct[r] != ref.correct[r]) {
                hitMismatch++;
            }
        }
        long n = (long) rows * vocab;
        double[] ge = errors(a.grad, ref.grad, n);
        boolean repeat = sameBits(a.loss, b.loss) && Arrays.equals(a.correct, b.correct) && sameBits(a.grad, b.grad, n);
        boolean fwdSame = sameBits(a.loss, fwd.loss) && Arrays.equals(a.correct, fwd.correct);
        double gradTol = dt == DType.F32 ? FP32_TOL : BF16_GRAD_TOL;
        Json j = new Json().put("kind", "compare").put("dtype", dt.suffix).put("ext", extName(ext)).put("V", vocab)
                .put("rows", rows)
                .put("activeRows", active).put("lossMaxRelErr", lossErr).put("argmaxMismatches", hitMismatch)
                .put("gradMaxRelErr", ge[0]).put("gradNormRelErr", ge[1]).put("bitwiseRepeatable", repeat)
                .put("forwardEqualsFused", fwdSame).put("lossTol", FP32_TOL).put("gradTol", gradTol);
        boolean gradOk = ge[0] <= gradTol;
        if (ext.any()) {
            // label smoothing makes entries p (1 + 2 lambda lse) - eps/V that cancel to near 0, where a relative
            // error means nothing: the contract suite's bound |d| <= 2e-6 |scale| + tol |g_ref| instead
            double worst = worstOverBound(a.grad, ref.grad, in, gradTol);
            j.put("gradErrOverBound", worst);
            gradOk = worst <= 1.0;
        }
        // SPEC section 13: entropy within the loss's bound (relative to 1 + H), arg-max exact, the loss unchanged
        Result o = cudaWithOutputs(in);
        double entropyErr = 0;
        int argMismatch = 0;
        for (int r = 0; r < rows; r++) {
            double want = ref.entropy[r];
            entropyErr = Math.max(entropyErr, Double.compare(want, o.entropy[r]) == 0 ? 0.0
                    : Math.abs(want - o.entropy[r]) / (1 + Math.abs(want)));
            argMismatch += ref.argMax[r] == o.argMax[r] ? 0 : 1;
        }
        boolean outputsLeaveLoss = sameBits(a.loss, o.loss);
        j.put("entropyMaxErr", entropyErr).put("argmaxOutMismatches", argMismatch)
                .put("outputsLeaveLoss", outputsLeaveLoss);
        boolean ok = lossErr <= FP32_TOL && hitMismatch == 0 && gradOk && repeat && fwdSame && !(entropyErr > FP32_TOL)
                && argMismatch == 0 && outputsLeaveLoss;
        if (devicePaths) {
            boolean[] dp = devicePaths(in, a);
            j.put("deviceEqualsStaged", dp[0]).put("inPlaceEqualsStaged", dp[1]).put("deviceSumsOk", dp[2]);
            ok &= dp[0] && dp[1] && dp[2];
        }
        j.put("pass", ok).put("seconds", (System.nanoTime() - t0) * 1e-9);
        pass &= ok;
        out.println(j);
    }

    /** Device-resident runs (separate and in place) against the staged result, and the device sums. */
    private boolean[] devicePaths(Inputs in, Result staged) {
        Gpu gpu = kernels.gpu();
        gpu.makeCurrent();
        long bytes = in.bytes();
        long dz = gpu.malloc(bytes);
        long dg = gpu.malloc(bytes);
        try (Gpu.Pinned pin = gpu.mallocHost(bytes); Gpu.Stream s = gpu.createStream()) {
            upload(in, pin, s, dz);
            ElementType et = in.logits().type();
            int rows = in.rows;
            double[] l1 = new double[rows];
            boolean[] c1 = new boolean[rows];
            kernel.runOnDevice(DeviceLossProblem.builder().shape(1, rows, in.vocab).logits(dz, et, 0, in.vocab)
                    .targets(in.targets).gradient(in.scale, dg, et, 0, in.vocab).extensions(in.ext).build(), l1, c1);
            Memory g1 = download(in, pin, s, dg);
            boolean sep = sameBits(l1, staged.loss) && Arrays.equals(c1, staged.correct)
                    && sameBits(g1, staged.grad, (long) rows * in.vocab);
            double[] l2 = new double[rows];
            boolean[] c2 = new boolean[rows];
            kernel.runOnDevice(DeviceLossProblem.builder().shape(1, rows, in.vocab).logits(dz, et, 0, in.vocab)
                    .targets(in.targets).gradient(in.scale, dz, et, 0, in.vocab).extensions(in.ext).build(), l2, c2);
            Memory g2 = download(in, pin, s, dz);
            boolean inPlace = sameBits(l2, staged.loss) && Arrays.equals(c2, staged.correct)
                    && sameBits(g2, staged.grad, (long) rows * in.vocab);
            boolean sums = deviceSums(in, staged, s);
            return new boolean[] {sep, inPlace, sums};
        } finally {
            gpu.free(dz);
            gpu.free(dg);
        }
    }

    private static void upload(Inputs in, Gpu.Pinned pin, Gpu.Stream s, long dz) {
        ByteBuffer bb = pin.buffer();
        if (in.f != null) {
            bb.asFloatBuffer().put(in.f);
        } else {
            bb.asShortBuffer().put(in.h);
        }
        s.copyToDevice(dz, pin, 0, in.bytes());
        s.synchronize();
    }

    private static Memory download(Inputs in, Gpu.Pinned pin, Gpu.Stream s, long src) {
        s.copyToHost(pin, 0, src, in.bytes());
        s.synchronize();
        Memory m = in.newGradient();
        int n = in.rows * in.vocab;
        ByteBuffer bb = pin.buffer();
        if (in.f != null) {
            float[] a = new float[n];
            bb.asFloatBuffer().get(a);
            m.writeFloats(0, 1, a, 0, n);
        } else {
            short[] a = new short[n];
            bb.asShortBuffer().get(a);
            m.writeShorts(0, a, 0, n);
        }
        return m;
    }

    /** The 9 sums of plw4j_sums.cu computed on the host in double, in row order. */
    static double[] hostSums(double[] loss, boolean[] correct, int[] targets, float[] weights, byte[] roles) {
        double[] s = new double[CudaKernels.NSUMS];
        for (int r = 0; r < loss.length; r++) {
            double w = weights[r];
            double l = loss[r];
            if (w > 0) {
                s[0] += w * l;
                s[1] += w;
                if (!Double.isFinite(l)) {
                    s[2] += 1;
                }
            }
            if (targets[r] >= 0) {
                double hit = correct[r] ? 1 : 0;
                if (roles[r] == 1) {
                    s[3] += l;
                    s[4] += 1;
                    s[5] += hit;
                } else if (roles[r] == 2) {
                    s[6] += l;
                    s[7] += 1;
                    s[8] += hit;
                }
            }
        }
        return s;
    }

    /** Runs the sums kernels on the staged per-row results twice: bitwise equal, and within 1e-12 of the host. */
    private boolean deviceSums(Inputs in, Result staged, Gpu.Stream s) {
        int rows = in.rows;
        double[] dev1 = sumsOnDevice(staged.loss, staged.correct, in, s);
        double[] dev2 = sumsOnDevice(staged.loss, staged.correct, in, s);
        double[] host = hostSums(staged.loss, staged.correct, in.targets, in.weights, in.roles);
        boolean ok = sameBits(dev1, dev2) && rows > 0;
        for (int k = 0; k < host.length; k++) {
            ok &= relErr(dev1[k], host[k]) <= 1e-12 || Math.abs(dev1[k] - host[k]) <= 1e-12;
        }
        return ok;
    }

    double[] sumsOnDevice(double[] loss, boolean[] correct, Inputs in, Gpu.Stream s) {
        Gpu gpu = kernels.gpu();
        int rows = in.rows;
        int parts = CudaKernels.sumParts(rows);
        long outOff = (21L * rows + 7) / 8 * 8;
        long metaBytes = outOff + 8L * CudaKernels.NSUMS;
        long dL = gpu.malloc(8L * rows);
        long dA = gpu.malloc(4L * rows);
        long dT = gpu.malloc(4L * rows);
        long dW = gpu.malloc(4L * rows);
        long dR = gpu.malloc(rows);
        long dP = gpu.malloc(8L * CudaKernels.NSUMS * Math.max(1, parts));
        long dO = gpu.malloc(8L * CudaKernels.NSUMS);
        try (Gpu.Pinned pin = gpu.mallocHost(metaBytes)) {
            ByteBuffer b = pin.buffer();
            for (int r = 0; r < rows; r++) {
                b.putDouble(8 * r, loss[r]);
                b.putInt(8 * rows + 4 * r, in.targets[r] >= 0 && correct[r] ? in.targets[r] : -2);
                b.putInt(12 * rows + 4 * r, in.targets[r]);
                b.putFloat(16 * rows + 4 * r, in.weights[r]);
                b.put(20 * rows + r, in.roles[r]);
            }
            s.copyToDevice(dL, pin, 0, 8L * rows);
            s.copyToDevice(dA, pin, 8L * rows, 4L * rows);
            s.copyToDevice(dT, pin, 12L * rows, 4L * rows);
            s.copyToDevice(dW, pin, 16L * rows, 4L * rows);
            s.copyToDevice(dR, pin, 20L * rows, rows);
            kernels.sums(s, dL, dA, dT, dW, dR, rows, dP, dO);
            s.copyToHost(pin, outOff, dO, 8L * CudaKernels.NSUMS);
            s.synchronize();
            double[] res = new double[CudaKernels.NSUMS];
            ByteBuffer r = pin.buffer();
            for (int k = 0; k < res.length; k++) {
                res[k] = r.getDouble((int) (outOff + 8L * k));
            }
            return res;
        } finally {
            for (long p : new long[] {dL, dA, dT, dW, dR, dP, dO}) {
                gpu.free(p);
            }
        }
    }

    static double median(float[] ms) {
        float[] c = ms.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : 0.5 * (c[c.length / 2 - 1] + c[c.length / 2]);
    }

    /** Times one launch sequence: warm-up, then reps timed singly with events; returns the times in ms. */
    private static float[] time(Gpu.Stream s, int reps, Runnable work) {
        work.run();
        work.run();
        s.synchronize();
        float[] ms = new float[reps];
        for (int k = 0; k < reps; k++) {
            Gpu.Event a = s.record();
            work.run();
            Gpu.Event b = s.record();
            b.synchronize();
            ms[k] = b.millisSince(a);
            a.close();
            b.close();
        }
        return ms;
    }

    void bench(DType dt, int rows, int vocab, int seed, int reps) {
        Gpu gpu = kernels.gpu();
        gpu.makeCurrent();
        long n = (long) rows * vocab;
        long bytes = n * dt.bytes;
        CudaKernels noCache = new CudaKernels(gpu, 0, kernels.block());
        List<Long> allocs = new ArrayList<>();
        try (Gpu.Stream s = gpu.createStream()) {
            long dz = gpu.malloc(bytes);
            allocs.add(dz);
            long dg = gpu.malloc(bytes);
            allocs.add(dg);
            long dT = gpu.malloc(4L * rows);
            allocs.add(dT);
            long dS = gpu.malloc(4L * rows);
            allocs.add(dS);
            long dL = gpu.malloc(8L * rows);
            allocs.add(dL);
            long dA = gpu.malloc(4L * rows);
            allocs.add(dA);
            long dW = gpu.malloc(4L * rows);
            allocs.add(dW);
            long dR = gpu.malloc(rows);
            allocs.add(dR);
            long dP = gpu.malloc(8L * CudaKernels.NSUMS * Math.max(1, CudaKernels.sumParts(rows)));
            allocs.add(dP);
            long dO = gpu.malloc(8L * CudaKernels.NSUMS);
            allocs.add(dO);
            kernels.fill(s, dt, dz, n, seed);
            double ws = 0;
            int active = 0;
            try (Gpu.Pinned pin = gpu.mallocHost(13L * rows + 8L * CudaKernels.NSUMS + 8)) {
                ByteBuffer b = pin.buffer();
                for (int r = 0; r < rows; r++) {
                    ws += weight(r);
                    active += target(r, vocab, seed) >= 0 ? 1 : 0;
                }
                for (int r = 0; r < rows; r++) {
                    b.putInt(4 * r, target(r, vocab, seed));
                    b.putFloat(4 * rows + 4 * r, (float) (weight(r) / ws));
                    b.putFloat(8 * rows + 4 * r, weight(r));
                    b.put(12 * rows + r, role(r));
                }
                s.copyToDevice(dT, pin, 0, 4L * rows);
                s.copyToDevice(dS, pin, 4L * rows, 4L * rows);
                s.copyToDevice(dW, pin, 8L * rows, 4L * rows);
                s.copyToDevice(dR, pin, 12L * rows, rows);
                s.synchronize();
                float[] fwd = time(s, reps, () -> kernels.xent(s, dt, null, dz, vocab, 0, 1, rows, vocab, dT, 0, 0, 0, 0,
                        dL, dA));
                float[] grad = time(s, reps, () -> kernels.xent(s, dt, dt, dz, vocab, 0, 1, rows, vocab, dT, dS, dg,
                        vocab, 0, dL, dA));
                float[] gradNoCache = time(s, reps, () -> noCache.xent(s, dt, dt, dz, vocab, 0, 1, rows, vocab, dT, dS,
                        dg, vocab, 0, dL, dA));
                float[] copy = time(s, reps, () -> s.copyDeviceToDevice(dg, dz, bytes));
                kernels.xent(s, dt, dt, dz, vocab, 0, 1, rows, vocab, dT, dS, dg, vocab, 0, dL, dA);
                kernels.sums(s, dL, dA, dT, dW, dR, rows, dP, dO);
                long outOff = (13L * rows + 7) / 8 * 8;
                s.copyToHost(pin, outOff, dO, 8L * CudaKernels.NSUMS);
                s.synchronize();
                ByteBuffer r = pin.buffer();
                double[] sums = new double[CudaKernels.NSUMS];
                for (int k = 0; k < sums.length; k++) {
                    sums[k] = r.getDouble((int) (outOff + 8L * k));
                }
                double copyMs = median(copy);
                double copyBw = 2.0 * bytes / (copyMs * 1e-3);
                double fwdMs = median(fwd);
                double gradMs = median(grad);
                double gradNcMs = median(gradNoCache);
                double issueBytes = 3.0 * bytes;   // the issue's count: logits read twice, gradient written once
                out.println(new Json().put("kind", "bench").put("dtype", dt.suffix).put("rows", rows).put("V", vocab)
                        .put("activeRows", active).put("reps", reps).put("logitsBytes", bytes)
                        .put("fwdMs", fwdMs).put("fwdMinMs", min(fwd)).put("fwdGBs", bytes / (fwdMs * 1e-3) / 1e9)
                        .put("gradMs", gradMs).put("gradMinMs", min(grad))
                        .put("gradGBs", issueBytes / (gradMs * 1e-3) / 1e9)
                        .put("gradNoCacheMs", gradNcMs).put("gradNoCacheGBs", issueBytes / (gradNcMs * 1e-3) / 1e9)
                        .put("cacheVectors", kernels.cacheVectors(dt, vocab))
                        .put("copyMs", copyMs).put("copyGBs", copyBw / 1e9)
                        .put("gradVsCopy", issueBytes / (gradMs * 1e-3) / copyBw)
                        .put("weightedLoss", sums[1] > 0 ? sums[0] / sums[1] : 0.0).put("weightSum", sums[1])
                        .put("promptLoss", sums[4] > 0 ? sums[3] / sums[4] : Double.NaN)
                        .put("completionLoss", sums[7] > 0 ? sums[6] / sums[7] : Double.NaN)
                        .put("nonFinite", sums[2]));
            }
        } finally {
            for (long p : allocs) {
                gpu.free(p);
            }
        }
    }

    /**
     * Forward and forward+gradient of each extension setting against the plain kernel on the same
     * device-resident inputs (median of {@code reps} timed launches after warm-up, as {@link #bench}).
     */
    void benchExtensions(DType dt, int rows, int vocab, int seed, int reps) {
        Gpu gpu = kernels.gpu();
        gpu.makeCurrent();
        long n = (long) rows * vocab;
        long[] a = new long[6];
        try (Gpu.Stream s = gpu.createStream(); Gpu.Pinned pin = gpu.mallocHost(8L * rows)) {
            long dz = a[0] = gpu.malloc(n * dt.bytes);
            long dg = a[1] = gpu.malloc(n * dt.bytes);
            long dT = a[2] = gpu.malloc(4L * rows);
            long dS = a[3] = gpu.malloc(4L * rows);
            long dL = a[4] = gpu.malloc(8L * rows);
            long dA = a[5] = gpu.malloc(4L * rows);
            kernels.fill(s, dt, dz, n, seed);
            ByteBuffer b = pin.buffer();
            for (int r = 0; r < rows; r++) {
                b.putInt(4 * r, target(r, vocab, seed));
                b.putFloat(4 * rows + 4 * r, weight(r) / rows);
            }
            s.copyToDevice(dT, pin, 0, 4L * rows);
            s.copyToDevice(dS, pin, 4L * rows, 4L * rows);
            s.synchronize();
            double plainFwd = 0;
            double plainGrad = 0;
            List<LossExtensions> settings = new ArrayList<>(List.of(LossExtensions.NONE));
            settings.addAll(EXTENSIONS);
            for (LossExtensions x : settings) {
                double fwd = median(time(s, reps, () -> kernels.xent(s, dt, null, dz, vocab, 0, 1, rows, vocab, dT, 0,
                        0, 0, 0, dL, dA, x, 0)));
                double grad = median(time(s, reps, () -> kernels.xent(s, dt, dt, dz, vocab, 0, 1, rows, vocab, dT, dS,
                        dg, vocab, 0, dL, dA, x, 0)));
                if (!x.any()) {
                    plainFwd = fwd;
                    plainGrad = grad;
                    continue;
                }
                double target = x.softCap() != 0 ? 2.0 : 1.15;
                out.println(new Json().put("kind", "bench-ext").put("dtype", dt.suffix).put("rows", rows)
                        .put("V", vocab).put("ext", extName(x)).put("reps", reps).put("plainFwdMs", plainFwd)
                        .put("plainGradMs", plainGrad).put("fwdMs", fwd).put("gradMs", grad)
                        .put("fwdRatio", fwd / plainFwd).put("gradRatio", grad / plainGrad).put("target", target));
            }
        } finally {
            for (long p : a) {
                if (p != 0) {
                    gpu.free(p);
                }
            }
        }
    }

    private static double min(float[] ms) {
        float m = Float.POSITIVE_INFINITY;
        for (float x : ms) {
            m = Math.min(m, x);
        }
        return m;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "GpuCheck[%s]", kernel.device());
    }
}
