package org.plw4j.cuda;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.Half;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;

/**
 * The {@code cuda} loss kernel: the fused kernels of {@code plw4j_xent.cu} launched through JCuda.
 * Per position it fills the same outputs as {@link org.plw4j.kernel.ReferenceKernel} (loss,
 * arg-max == target, gradient rows) with fp32 accumulation; see that class for the rules.
 *
 * <p>Two entries:
 * <ul>
 * <li>{@link #run(LossProblem, double[], boolean[])}: logits in host {@link Memory} (Java arrays or
 * ND4J host buffers, any strides and layout). Rows are copied to page-locked memory as contiguous,
 * 16-byte aligned rows, in chunks of at most {@code plw4j.cuda.stagingBytes} (system property,
 * default 128 MiB),
 * double-buffered so that the copies of one chunk overlap the GPU work of the previous; the
 * gradient comes back the same way. Inactive rows are not copied up. FLOAT64 logits have no GPU
 * kernel: they run on the {@code cpu} backend's kernel. The optional extensions of SPEC section 7
 * (label smoothing, z-loss, soft-capping) run in the {@code _ext_} GPU kernels.</li>
 * <li>{@link #runOnDevice(DeviceLossProblem, double[], boolean[])}: logits already in device memory
 * (rows of unit stride along V), used in place; only targets, scales and per-row results move.</li>
 * </ul>
 *
 * <p>Thread-safe: each calling thread gets its own CUDA stream, device buffers and staging memory,
 * kept for reuse until {@link #releaseThreadResources()}. Deterministic: the same problem gives
 * bitwise the same outputs.
 */
public final class CudaLossKernel implements LossKernel {
    /** System property: staging chunk size in bytes for host-memory problems. */
    public static final String STAGING_PROPERTY = "plw4j.cuda.stagingBytes";
    private static final long DEFAULT_STAGING = 128L << 20;
    private static final long MAX_ROW_BYTES = 1L << 30;
    private static final System.Logger LOG = System.getLogger(CudaLossKernel.class.getName());
    private static final int META_BYTES_PER_ROW = 8 + 4 + 4 + 4 + 8;   // loss, target, scale, arg, entropy

    private final CudaKernels kernels;
    private final Gpu gpu;
    private final long stagingBytes;
    private final long granule;
    private final ThreadLocal<Workspace> local = new ThreadLocal<>();
    private final Set<Workspace> all = ConcurrentHashMap.newKeySet();
    private volatile LossKernel hostKernel;

    CudaLossKernel(CudaKernels kernels, long stagingBytes) {
        this(kernels, stagingBytes, Workspace.GRANULE);
    }

    /**
     * @param kernels the launcher
     * @param stagingBytes staging chunk size in bytes
     * @param granule allocation granule of the per-thread buffers (tests use small ones)
     */
    CudaLossKernel(CudaKernels kernels, long stagingBytes, long granule) {
        if (!(stagingBytes > 0)) {
            throw new IllegalArgumentException(STAGING_PROPERTY + " must be > 0, was " + stagingBytes);
        }
        this.kernels = kernels;
        this.gpu = kernels.gpu();
        this.stagingBytes = stagingBytes;
        this.granule = granule;
    }

    private static final class Holder {
        static final CudaLossKernel SHARED = new CudaLossKernel(CudaRuntime.kernels(), stagingFromProperty());
    }

    /**
     * @return the process-wide kernel on the device chosen by {@code plw4j.cuda.device} (default 0)
     * @throws IllegalStateException if CUDA is not usable; the message says why
     */
    public static CudaLossKernel shared() {
        String why = CudaRuntime.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("the CUDA backend is not usable: " + why);
        }
        return Holder.SHARED;
    }

    static long stagingFromProperty() {
        String v = System.getProperty(STAGING_PROPERTY);
        if (v == null || v.isBlank()) {
            return DEFAULT_STAGING;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must be an integer number of bytes, was '%s'", STAGING_PROPERTY, v), e);
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    /** @return true: label smoothing, z-loss and soft-capping run in the GPU kernels (SPEC section 7) */
    @Override
    public boolean supportsExtensions() {
        return true;
    }

    /**
     * @return true: the entropy (in the {@code _ext_} kernels' pass) and the arg-max (every kernel's) of SPEC
     *         section 13 come back with the losses, on {@link #run} and on {@link #runOnDevice}
     *         ({@link DeviceLossProblem.Builder#entropyOut}, {@link DeviceLossProblem.Builder#argMaxOut})
     */
    @Override
    public boolean supportsOutputs() {
        return true;
    }

    /** @return the device this kernel runs on, e.g. {@code NVIDIA H100 80GB HBM3 (compute capability 9.0)} */
    public String device() {
        int cc = gpu.computeCapability();
        return String.format(Locale.ROOT, "%s (compute capability %d.%d)", gpu.deviceName(), cc / 10, cc % 10);
    }

    /** Frees the calling thread's stream, device buffers and staging memory (they are re-created on demand). */
    public void releaseThreadResources() {
        Workspace ws = local.get();
        if (ws != null) {
            local.remove();
            all.remove(ws);
            gpu.makeCurrent();
            ws.close();
        }
    }

    /** Frees every thread's resources; only when no call is in flight (tests). */
    void closeAll() {
        gpu.makeCurrent();
        for (Workspace ws : all) {
            ws.close();
        }
        all.clear();
        local.remove();
    }

    private Workspace workspace() {
        Workspace ws = local.get();
        if (ws == null) {
            ws = new Workspace(gpu, granule);
            local.set(ws);
            all.add(ws);
        }
        return ws;
    }

    private LossKernel hostKernel() {
        LossKernel k = hostKernel;
        if (k == null) {
            k = Backends.byName("cpu");
            hostKernel = k;
            LOG.log(System.Logger.Level.INFO, "plw4j: the cuda backend runs FLOAT64 logits on the cpu kernel ("
                    + "the GPU kernels read FLOAT32, BFLOAT16 and FLOAT16)");
        }
        return k;
    }

    private static void checkOutputs(int rows, double[] tokenLoss, boolean[] tokenCorrect) {
        if (tokenLoss.length < rows || tokenCorrect.length < rows) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tokenLoss and tokenCorrect must hold B*N = %d entries, had %d and %d",
                    rows, tokenLoss.length, tokenCorrect.length));
        }
    }

    @Override
    public void run(LossProblem p, double[] tokenLoss, boolean[] tokenCorrect) {
        final int rows = p.positions();
        checkOutputs(rows, tokenLoss, tokenCorrect);
        if (rows == 0) {
            return;
        }
        final DType in = DType.of(p.logits().type());
        final long rowBytes = (long) p.vocab() * 8;
        if (in == null || rowBytes > MAX_ROW_BYTES) {
            hostKernel().run(p, tokenLoss, tokenCorrect);
            return;
        }
        DType g = null;
        if (p.wantsGradient()) {
            g = DType.of(p.gradient().type()) == in ? in : DType.F32;
        }
        if (p.vocab() == 0) {   // no target can be valid: every position is inactive
            Arrays.fill(tokenLoss, 0, rows, 0.0);
            Arrays.fill(tokenCorrect, 0, rows, false);
            if (p.entropyOut() != null) {
                Arrays.fill(p.entropyOut(), 0, rows, 0.0);
            }
            if (p.argMaxOut() != null) {
                Arrays.fill(p.argMaxOut(), 0, rows, -1);
            }
            return;
        }
        gpu.makeCurrent();
        new Staged(workspace(), p, in, g, tokenLoss, tokenCorrect).run();
    }

    /**
     * Runs on logits already in device memory (in place, no copy of the logits).
     *
     * @param q the problem
     * @param tokenLoss output, length {@code B*N}: the loss of each active position, 0 elsewhere
     * @param tokenCorrect output, length {@code B*N}: whether the arg-max of each active position is its target
     * @throws IllegalArgumentException if an output is too short
     */
    public void runOnDevice(DeviceLossProblem q, double[] tokenLoss, boolean[] tokenCorrect) {
        final int rows = q.positions();
        checkOutputs(rows, tokenLoss, tokenCorrect);
        if (rows == 0) {
            return;
        }
        final DType in = DType.of(q.type);
        final DType g = q.wantsGradient() ? DType.of(q.gradType) : null;
        gpu.makeCurrent();
        Workspace ws = workspace();
        Gpu.Stream s = ws.stream;
        long lossOff = 0;
        long targetsOff = 8L * rows;
        long scaleOff = 12L * rows;
        long argOff = 16L * rows;
        Gpu.Pinned meta = ws.meta[0].ensure((long) META_BYTES_PER_ROW * rows);
        ByteBuffer mb = meta.buffer();
        for (int i = 0; i < rows; i++) {
            int y = q.targets[i];
            mb.putInt((int) (targetsOff + 4L * i), y < 0 || q.vocab == 0 ? -1 : y);
            mb.putFloat((int) (scaleOff + 4L * i), g == null ? 0f : (float) q.gradScale[i]);
        }
        long dT = ws.targets.ensure(4L * rows);
        long dS = ws.scale.ensure(4L * rows);
        long dL = ws.loss.ensure(8L * rows);
        long dA = ws.arg.ensure(4L * rows);
        long entropyOff = 20L * rows;
        long dE = q.entropyOut != null ? ws.entropy.ensure(8L * rows) : 0;
        try {
            s.copyToDevice(dT, meta, targetsOff, 4L * rows);
            s.copyToDevice(dS, meta, scaleOff, 4L * rows);
            kernels.xent(s, in, g, q.logits, q.strideB, q.strideT, q.seqLen, rows, q.vocab, dT, g == null ? 0 : dS,
                    g == null ? 0 : q.gradient, q.gStrideB, q.gStrideT, dL, dA, q.extensions, dE);
            s.copyToHost(meta, lossOff, dL, 8L * rows);
            s.copyToHost(meta, argOff, dA, 4L * rows);
            if (dE != 0) {
                s.copyToHost(meta, entropyOff, dE, 8L * rows);
            }
        } finally {
            s.synchronize();
        }
        mb = meta.buffer();
        for (int i = 0; i < rows; i++) {
            int y = q.targets[i];
            boolean active = y >= 0 && q.vocab > 0;
            tokenLoss[i] = active ? mb.getDouble((int) (lossOff + 8L * i)) : 0.0;
            tokenCorrect[i] = active && mb.getInt((int) (argOff + 4L * i)) == y;
            if (q.entropyOut != null) {
                q.entropyOut[i] = active ? mb.getDouble((int) (entropyOff + 8L * i)) : 0.0;
            }
            if (q.argMaxOut != null) {
                q.argMaxOut[i] = active ? mb.getInt((int) (argOff + 4L * i)) : -1;
            }
        }
    }

    /** One staged run: host rows -> page-locked slots -> device, and back. */
    private final class Staged {
        final Workspace ws;
        final LossProblem p;
        final DType in;
        final DType g;
        final double[] tokenLoss;
        final boolean[] tokenCorrect;
        final int rows;
        final int vocab;
        final int seqLen;
        final int pitch;             // elements per staged row (16-byte multiple)
        final boolean deviceInPlace; // the gradient overwrites the staged logits on the device
        final long inRowBytes;
        final long gradRowBytes;     // 0 when none or in place
        final int chunk;
        final long gradOffset;       // byte offset of the gradient rows in a data slot
        final float[] f;
        final short[] h;

        Staged(Workspace ws, LossProblem p, DType in, DType g, double[] tokenLoss, boolean[] tokenCorrect) {
            this.ws = ws;
            this.p = p;
            this.in = in;
            this.g = g;
            this.tokenLoss = tokenLoss;
            this.tokenCorrect = tokenCorrect;
            this.rows = p.positions();
            this.vocab = p.vocab();
            this.seqLen = p.seqLen();
            this.pitch = (vocab + in.perVector() - 1) / in.perVector() * in.perVector();
            this.deviceInPlace = g == in;
            this.inRowBytes = (long) pitch * in.bytes;
            this.gradRowBytes = g == null || deviceInPlace ? 0 : (long) pitch * g.bytes;
            long perRow = inRowBytes + gradRowBytes;
            this.chunk = (int) Math.max(1, Math.min(rows, Math.min(stagingBytes, Integer.MAX_VALUE - 16) / perRow));
            this.gradOffset = deviceInPlace ? 0 : chunk * inRowBytes;
            this.f = new float[vocab];
            this.h = new short[vocab];
        }

        void run() {
            long dataBytes = chunk * (inRowBytes + gradRowBytes);
            long metaBytes = (long) META_BYTES_PER_ROW * chunk;
            for (int k = 0; k < 2 && k * (long) chunk < rows; k++) {
                ws.data[k].ensure(dataBytes);
                ws.meta[k].ensure(metaBytes);
            }
            long dIn = ws.logits.ensure(chunk * inRowBytes);
            long dGrad = g == null ? 0 : deviceInPlace ? dIn : ws.grad.ensure(chunk * gradRowBytes);
            long dT = ws.targets.ensure(4L * chunk);
            long dS = ws.scale.ensure(4L * chunk);
            long dL = ws.loss.ensure(8L * chunk);
            long dA = ws.arg.ensure(4L * chunk);
            long dE = p.entropyOut() != null ? ws.entropy.ensure(8L * chunk) : 0;
            int chunks = (int) ((rows + (long) chunk - 1) / chunk);
            Gpu.Event[] done = new Gpu.Event[2];
            boolean inFlight = false;
            try {
                for (int c = 0; c < chunks; c++) {
                    int slot = c & 1;
                    int r0 = c * chunk;
                    int n = Math.min(chunk, rows - r0);
                    pack(slot, r0, n);
                    Gpu.Pinned data = ws.data[slot].ensure(dataBytes);
                    Gpu.Pinned meta = ws.meta[slot].ensure(metaBytes);
                    Gpu.Stream s = ws.stream;
                    inFlight = true;
                    s.copyToDevice(dIn, data, 0, n * inRowBytes);
                    s.copyToDevice(dT, meta, targetsOff(), 4L * n);
                    if (g != null) {
                        s.copyToDevice(dS, meta, scaleOff(), 4L * n);
                    }
                    kernels.xent(s, in, g, dIn, pitch, 0, 1, n, vocab, dT, g == null ? 0 : dS, dGrad, pitch, 0, dL, dA,
                            p.extensions(), dE);
                    s.copyToHost(meta, 0, dL, 8L * n);
                    s.copyToHost(meta, argOff(), dA, 4L * n);
                    if (dE != 0) {
                        s.copyToHost(meta, entropyOff(), dE, 8L * n);
                    }
                    if (g != null) {
                        s.copyToHost(data, gradOffset, dGrad, (long) n * pitch * g.bytes);
                    }
                    if (done[slot] != null) {
                        done[slot].close();
                    }
                    done[slot] = s.record();
                    if (c > 0) {
                        int prev = (c - 1) & 1;
                        done[prev].synchronize();
                        unpack(prev, (c - 1) * chunk, Math.min(chunk, rows - (c - 1) * chunk));
                    }
                }
                int last = (chunks - 1) & 1;
                done[last].synchronize();
                inFlight = false;
                unpack(last, (chunks - 1) * chunk, Math.min(chunk, rows - (chunks - 1) * chunk));
            } finally {
                if (inFlight) {
                    try {
                        ws.stream.synchronize();
                    } catch (RuntimeException e) {
                        LOG.log(System.Logger.Level.DEBUG,
                                () -> "plw4j: error while draining the stream after a failure: " + e);
                    }
                }
                for (Gpu.Event e : done) {
                    if (e != null) {
                        e.close();
                    }
                }
            }
        }

        long targetsOff() {
            return 8L * chunk;
        }

        long scaleOff() {
            return 12L * chunk;
        }

        long argOff() {
            return 16L * chunk;
        }

        long entropyOff() {
            return 20L * chunk;
        }

        /** Copies rows [r0, r0+n) into a slot: logits of active rows, targets and scales. */
        void pack(int slot, int r0, int n) {
            ByteBuffer meta = ws.meta[slot].buffer();
            ByteBuffer data = ws.data[slot].buffer();
            FloatBuffer df = in == DType.F32 ? data.asFloatBuffer() : null;
            ShortBuffer dh = in == DType.F32 ? null : data.asShortBuffer();
            int[] targets = p.targets();
            double[] scale = p.gradScale();
            Memory z = p.logits();
            long sv = p.strideV();
            for (int k = 0; k < n; k++) {
                int i = r0 + k;
                int y = targets[i];
                meta.putInt((int) (targetsOff() + 4L * k), y < 0 ? -1 : y);
                if (g != null) {
                    meta.putFloat((int) (scaleOff() + 4L * k), (float) scale[i]);
                }
                if (y < 0) {
                    continue;   // the kernel never reads an inactive row
                }
                long start = p.rowStart(i / seqLen, i % seqLen);
                int at = k * pitch;
                if (df != null) {
                    z.readFloats(start, sv, f, 0, vocab);
                    df.put(at, f, 0, vocab);
                } else {
                    if (sv == 1) {
                        z.readShorts(start, h, 0, vocab);
                    } else {
                        boolean bf = in == DType.BF16;
                        for (int v = 0; v < vocab; v++) {
                            float x = (float) z.get(start + v * sv);
                            h[v] = bf ? Half.floatToBf16(x) : Half.floatToFp16(x);
                        }
                    }
                    dh.put(at, h, 0, vocab);
                }
            }
        }

        /** Copies the results of rows [r0, r0+n) out of a slot. */
        void unpack(int slot, int r0, int n) {
            ByteBuffer meta = ws.meta[slot].buffer();
            int[] targets = p.targets();
            for (int k = 0; k < n; k++) {
                int i = r0 + k;
                int y = targets[i];
                tokenLoss[i] = y < 0 ? 0.0 : meta.getDouble(8 * k);
                tokenCorrect[i] = y >= 0 && meta.getInt((int) (argOff() + 4L * k)) == y;
            }
            double[] entropy = p.entropyOut();
            int[] argMax = p.argMaxOut();
            for (int k = 0; k < n && (entropy != null || argMax != null); k++) {
                int i = r0 + k;
                boolean active = targets[i] >= 0;
                if (entropy != null) {
                    entropy[i] = active ? meta.getDouble((int) (entropyOff() + 8L * k)) : 0.0;
                }
                if (argMax != null) {
                    argMax[i] = active ? meta.getInt((int) (argOff() + 4L * k)) : -1;
                }
            }
            if (g == null) {
                return;
            }
            ByteBuffer data = ws.data[slot].buffer();
            data.position((int) gradOffset);
            ByteBuffer gb = data.slice().order(data.order());
            FloatBuffer gf = g == DType.F32 ? gb.asFloatBuffer() : null;
            ShortBuffer gh = g == DType.F32 ? null : gb.asShortBuffer();
            Memory out = p.gradient();
            long gsv = p.gStrideV();
            boolean bf = g == DType.BF16;
            for (int k = 0; k < n; k++) {
                int i = r0 + k;
                long start = p.gRowStart(i / seqLen, i % seqLen);
                int at = k * pitch;
                if (gf != null) {
                    gf.get(at, f, 0, vocab);
                    out.writeFloats(start, gsv, f, 0, vocab);
                } else {
                    gh.get(at, h, 0, vocab);
                    if (gsv == 1) {
                        out.writeShorts(start, h, 0, vocab);
                    } else {
                        for (int v = 0; v < vocab; v++) {
                            out.set(start + v * gsv, bf ? Half.bf16ToFloat(h[v]) : Half.fp16ToFloat(h[v]));
                        }
                    }
                }
            }
        }
    }
}
