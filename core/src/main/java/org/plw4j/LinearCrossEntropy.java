/*
 * Fused linear cross-entropy: the weighted causal-LM loss of z = h·Wᵀ + b without the [B·N, V] logits.
 *
 * Math, per chunk of c positions p_1..p_c (h_c = their hidden rows [c, H], W [V, H], b [V]):
 *   Z   = h_c·Wᵀ + b                 one GEMM into a reused [C, V] buffer (C = the chunk rows)
 *   the row kernel on Z              token loss, arg-max and, in place, G = gradScale·(softmax(Z) − onehot)
 *                                    (the LossKernel contract; TokenPlan gives targets and gradScale, so
 *                                    PLW, shift, ignore index and every normalisation are the logits path's)
 *   dH_c = G·W                       GEMM [c, V]·[V, H] into a reused [C, H] buffer, then copied to dL/dh
 *   dW  += Gᵀ·h_c                    GEMM into dL/dW, beta = 1 (beta = 0 for the first chunk when dL/dW is
 *                                    overwritten: no zeroing pass over [V, H])
 *   db  += Σ_rows G
 * Positions are ordered weighted rows first (gradScale != 0), then the rows of weight 0 that are only
 * measured: these never enter the two backward GEMMs, and ZeroWeightRows.SKIPPED leaves them out entirely.
 *
 * Bytes moved per chunk (e = element bytes): W is read by each of the three GEMMs (3·V·H·e, plus the BLAS
 * packing of the same), Z/G is written once by the forward GEMM, read and written once by the row kernel and
 * read by the two backward GEMMs (≈ 5·c·V·e, in cache only when c·V·e fits), h_c and dH_c c·H·e each. The
 * chunk size trades the W traffic per row (3·V·H·e / c) against the buffer's memory (c·(V + 2H)·e).
 * FLOPs: 2·c·V·H per GEMM, so 6·c·V·H for forward+gradient and 2·c·V·H for the forward.
 *
 * 16-bit inputs (HALF, BFLOAT16) run in fp32: the hidden rows are widened chunk by chunk by the gather into h_c,
 * the weight and bias once per call (a FLOAT copy of W: the row kernel needs whole vocabulary rows, so a
 * vocabulary-blocked widening would widen all of W again for every chunk); dH_c is rounded once on its copy to
 * dL/dh, dW and db are summed in FLOAT and rounded once at the end.
 *
 * Threading: the GEMMs run on ND4J's BLAS threads, the row kernel on its own workers (LossKernel's
 * contract: bitwise the same for every thread count); chunks run one after the other in a fixed order, so
 * the results do not depend on the kernel's thread count. Extra memory per call: the three chunk buffers (kept per
 * thread for the next call, ChunkScratch), plus O(B·N) per-token arrays (targets, scales, losses).
 */
package org.plw4j;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.Locale;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.kernel.FusedCpuKernel;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;
import org.plw4j.kernel.ReferenceKernel;

/** The engine of {@code WeightedCausalLMLoss.computeFromHidden*}: checks, chunking, GEMMs, the row kernel. */
final class LinearCrossEntropy {
    /**
     * The derived chunk holds at least this many rows (while the problem has them): below it the three GEMMs per
     * chunk run measurably slower than on the whole problem (benchmarks/RESULTS.md, the fused linear section).
     */
    static final int MIN_DERIVED_ROWS = 512;
    /** Above the minimum rows, the derived budget is at most this many bytes. */
    static final long MAX_DERIVED_CHUNK_BYTES = 64L << 20;
    /**
     * Above the minimum rows, the derived budget is at most the materialised logits' bytes divided by this: the
     * chunk buffer is then at most 1/16 of the logits and their gradient.
     */
    static final int DERIVED_SHARE = 8;

    /**
     * System property: {@code false} sends every chunk's products to BLAS, also those that the few-row products
     * would take ({@link FewRowProducts}); read once per call.
     */
    static final String FEW_ROWS_PROPERTY = "plw4j.linear.fewRowProducts";

    /**
     * The fused path's own settings.
     *
     * @param chunkBytes the memory budget of the chunk buffers in bytes, or 0 for the derived default
     * @param zeroWeightRows whether rows of weight 0 are measured
     */
    record Options(long chunkBytes, ZeroWeightRows zeroWeightRows) {
        static final Options DEFAULTS = new Options(0, ZeroWeightRows.MEASURED);
    }

    /** The checked shape of one call; {@code type} is the compute type (FLOAT for 16-bit inputs). */
    private record Shape(int batch, int length, int hiddenSize, int vocab, DataType type) {
        int positions() {
            return batch * length;
        }
    }

    private LinearCrossEntropy() {
    }

    static LossResult forward(LossSettings cfg, INDArray hidden, INDArray weight, INDArray bias, INDArray inputIds,
            PromptCompletionMask mask) {
        Shape s = checkInputs(hidden, weight, bias, inputIds, mask);
        int chunk = chunkRows(cfg.linear().chunkBytes(), s);
        TokenPlan plan = plan(cfg, s, inputIds, mask, false);
        INDArray w = widened(weight, s);
        INDArray b = widened(bias, s);
        try {
            return new Engine(cfg, s, plan, hidden, w, b, chunk).run(null, null, null, false, false);
        } finally {
            releaseCopy(w, weight);
            releaseCopy(b, bias);
        }
    }

    static LinearLossResult withGradient(LossSettings cfg, INDArray hidden, INDArray weight,
            INDArray bias, INDArray inputIds, PromptCompletionMask mask, INDArray hiddenGradOut,
            INDArray weightGradOut, INDArray biasGradOut, GradientMode gradientMode) {
        Nd4jArrays.requireNonNull(gradientMode, "gradientMode");
        Shape s = checkInputs(hidden, weight, bias, inputIds, mask);
        if (biasGradOut != null && bias == null) {
            throw new IllegalArgumentException("biasGradientOut must be null when no bias is given, was "
                    + Nd4jArrays.shape(biasGradOut));
        }
        checkOutput("hiddenGradientOut", hiddenGradOut, hidden);
        checkOutput("weightGradientOut", weightGradOut, weight);
        checkOutput("biasGradientOut", biasGradOut, bias);
        String[] names = {"hiddenGradientOut", "weightGradientOut", "biasGradientOut", "hidden", "weight", "bias"};
        INDArray[] arrays = {hiddenGradOut, weightGradOut, biasGradOut, hidden, weight, bias};
        for (int i = 0; i < 3; i++) {
            for (int j = i + 1; j < arrays.length; j++) {
                requireDisjoint(names[i], arrays[i], names[j], arrays[j]);
            }
        }
        int chunk = chunkRows(cfg.linear().chunkBytes(), s);
        TokenPlan plan = plan(cfg, s, inputIds, mask, true);
        // nothing is written before this line
        INDArray dh = hiddenGradOut != null ? hiddenGradOut : Nd4j.create(hidden.dataType(), hidden.shape(), 'c');
        INDArray dw = weightGradOut != null ? weightGradOut : Nd4j.create(weight.dataType(), weight.shape(), 'c');
        INDArray db = bias == null ? null
                : biasGradOut != null ? biasGradOut : Nd4j.create(bias.dataType(), bias.shape(), 'c');
        if (hiddenGradOut != null) {
            dh.assign(0);
        }
        boolean accumulate = gradientMode == GradientMode.ACCUMULATE;
        // OVERWRITE: the first backward chunk writes dW with beta = 0 (no separate zeroing pass over [V, H])
        boolean keepW = accumulate && weightGradOut != null;
        boolean keepB = accumulate && biasGradOut != null;
        // 16-bit: the weight and bias gradients are summed in the compute type and rounded once at the end
        INDArray dwSum = sumOf(dw, s, keepW);
        INDArray dbSum = db == null ? null : sumOf(db, s, keepB);
        INDArray w = widened(weight, s);
        INDArray b = widened(bias, s);
        LossResult metrics;
        try {
            metrics = new Engine(cfg, s, plan, hidden, w, b, chunk).run(dh, dwSum, dbSum, !keepW, !keepB);
        } finally {
            releaseCopy(w, weight);
            releaseCopy(b, bias);
        }
        if (dwSum != dw) {
            dw.assign(dwSum);
            releaseCopy(dwSum, dw);
        }
        if (dbSum != db) {
            db.assign(dbSum);
            releaseCopy(dbSum, db);
        }
        return new LinearLossResult(metrics, dh, dw, db);
    }

    /** Frees a FLOAT copy made for a 16-bit array now (nothing when {@code copy} is the array itself). */
    private static void releaseCopy(INDArray copy, INDArray original) {
        if (copy != null && copy != original && copy.closeable()) {
            copy.close();
        }
    }

    /** The array itself in the compute type, else a FLOAT copy of a 16-bit input (null for null). */
    private static INDArray widened(INDArray a, Shape s) {
        return a == null || a.dataType() == s.type() ? a : a.castTo(s.type());
    }

    /** The accumulator of a gradient: itself in the compute type, else a FLOAT array (its contents when kept). */
    private static INDArray sumOf(INDArray grad, Shape s, boolean keep) {
        if (grad.dataType() == s.type()) {
            return grad;
        }
        return keep ? grad.castTo(s.type()) : Nd4j.zeros(s.type(), grad.shape());
    }

    private static TokenPlan plan(LossSettings cfg, Shape s, INDArray inputIds, PromptCompletionMask mask,
            boolean gradient) {
        long[] ids = Nd4jArrays.integral(inputIds, "inputIds");
        TokenPlan plan = TokenPlan.build(ids, mask, s.batch(), s.length(), s.vocab(), cfg, gradient, inputIds.shape());
        if (cfg.linear().zeroWeightRows() == ZeroWeightRows.SKIPPED) {
            for (int i = 0; i < plan.targets.length; i++) {
                if (plan.weights[i] == 0.0) {
                    plan.targets[i] = -1; // neither computed nor reported
                }
            }
        }
        return plan;
    }

    /** Bytes of chunk buffer per row: Z/G [V], h_c [H] and dH_c [H]. */
    static long bytesPerRow(int vocab, int hiddenSize, DataType type) {
        return (long) type.width() * (vocab + 2L * hiddenSize);
    }

    /**
     * The derived budget, in whole rows: {@code min(logits bytes / }{@value #DERIVED_SHARE}{@code , }
     * {@value #MAX_DERIVED_CHUNK_BYTES}{@code )} rounded down to rows, but at least {@value #MIN_DERIVED_ROWS}
     * rows, and at most all positions.
     */
    static long derivedChunkBytes(int positions, int vocab, int hiddenSize, DataType type) {
        long perRow = bytesPerRow(vocab, hiddenSize, type);
        long logits = (long) positions * vocab * type.width();
        long rows = Math.min(MAX_DERIVED_CHUNK_BYTES, logits / DERIVED_SHARE) / perRow;
        rows = Math.min(positions, Math.max(MIN_DERIVED_ROWS, rows));
        return rows * perRow;
    }

    private static int chunkRows(long chunkBytes, Shape s) {
        return chunkRows(chunkBytes, s.positions(), s.hiddenSize(), s.vocab(), s.type());
    }

    /** The rows per chunk of a problem; {@code type} is mapped to its compute type. */
    static int chunkRows(long chunkBytes, int positions, int hiddenSize, int vocab, DataType type) {
        if (positions < 1 || hiddenSize < 1 || vocab < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "positions, hiddenSize and vocab must be >= 1, were %d, %d, %d", positions, hiddenSize, vocab));
        }
        DataType t = type == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
        long perRow = bytesPerRow(vocab, hiddenSize, t);
        long budget = chunkBytes == 0 ? derivedChunkBytes(positions, vocab, hiddenSize, t) : chunkBytes;
        if (budget < perRow) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "chunkBytes must hold at least one row of (V + 2H) elements of %s = %d bytes (V = %d, H = %d),"
                            + " was %d", t, perRow, vocab, hiddenSize, budget));
        }
        return (int) Math.min(positions, budget / perRow);
    }

    private static Shape checkInputs(INDArray hidden, INDArray weight, INDArray bias, INDArray inputIds,
            PromptCompletionMask mask) {
        Nd4jArrays.requireNonNull(hidden, "hidden");
        Nd4jArrays.requireNonNull(weight, "weight");
        Nd4jArrays.requireNonNull(inputIds, "inputIds");
        Nd4jArrays.requireNonNull(mask, "mask");
        if (hidden.rank() != 3) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "hidden must have rank 3 [B, N, H], had rank %d with shape %s", hidden.rank(),
                    Nd4jArrays.shape(hidden)));
        }
        if (weight.rank() != 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "weight must have rank 2 [V, H] (nn.Linear's layout; pass DL4J's W [H, V] as W.transpose()),"
                            + " had rank %d with shape %s", weight.rank(), Nd4jArrays.shape(weight)));
        }
        DataType inputType = inputType(weight, "weight");
        if (hidden.dataType() != inputType) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "hidden must have the weight's dtype %s, was %s", inputType, hidden.dataType()));
        }
        DataType type = inputType == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
        long bL = hidden.size(0);
        long nL = hidden.size(1);
        long hL = hidden.size(2);
        long vL = weight.size(0);
        if (bL < 1 || nL < 1 || hL < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "hidden must have B, N and H >= 1, had shape %s", Nd4jArrays.shape(hidden)));
        }
        if (weight.size(1) != hL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "weight must be [V, H] with H = %d, the last dimension of hidden %s; was %s", hL,
                    Nd4jArrays.shape(hidden), Nd4jArrays.shape(weight)));
        }
        if (vL < 1 || vL > Integer.MAX_VALUE - 8 || hL > Integer.MAX_VALUE - 8 || bL * nL > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "weight must have 1 <= V < 2^31 and hidden B*N and H below 2^31, had weight %s and hidden %s",
                    Nd4jArrays.shape(weight), Nd4jArrays.shape(hidden)));
        }
        if (bias != null) {
            if (bias.dataType() != inputType) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "bias must have the weight's dtype %s, was %s", inputType, bias.dataType()));
            }
            if (!bias.isVector() && !(bias.length() == 1 && vL == 1) || bias.length() != vL || bias.rank() > 2) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "bias must be a vector of length V = %d (the first dimension of weight %s), was %s", vL,
                        Nd4jArrays.shape(weight), Nd4jArrays.shape(bias)));
            }
        }
        if (inputIds.rank() != 2 || inputIds.size(0) != bL || inputIds.size(1) != nL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "inputIds must have shape [B, N] = [%d, %d] to match hidden %s, was %s", bL, nL,
                    Nd4jArrays.shape(hidden), Nd4jArrays.shape(inputIds)));
        }
        if (mask.batchSize() != bL || mask.sequenceLength() != nL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "mask must have shape [B, N] = [%d, %d] to match hidden %s, was [%d, %d]", bL, nL,
                    Nd4jArrays.shape(hidden), mask.batchSize(), mask.sequenceLength()));
        }
        return new Shape((int) bL, (int) nL, (int) hL, (int) vL, type);
    }

    private static DataType inputType(INDArray a, String param) {
        DataType dt = a.dataType();
        if (dt != DataType.FLOAT && dt != DataType.DOUBLE && dt != DataType.HALF && dt != DataType.BFLOAT16) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have dtype FLOAT, DOUBLE, HALF or BFLOAT16, was %s", param, dt));
        }
        return dt;
    }

    /** A caller-owned gradient array: null, or the input's shape and dtype without overlapping elements. */
    private static void checkOutput(String param, INDArray out, INDArray like) {
        if (out == null) {
            return;
        }
        if (!Arrays.equals(out.shape(), like.shape()) || out.dataType() != like.dataType()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have the shape %s and dtype %s of its input, was %s %s", param,
                    Nd4jArrays.shape(like), like.dataType(), Nd4jArrays.shape(out), out.dataType()));
        }
        long[] shape = out.shape();
        long[] st = out.stride();
        for (int k = 0; k < shape.length; k++) {
            if (shape[k] > 1 && st[k] <= 0) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s must not have overlapping elements to receive the gradient, dimension %d has size %d"
                                + " and stride %d", param, k, shape[k], st[k]));
            }
        }
    }

    /** Rejects two arrays whose memory ranges (first to last element) intersect. */
    private static void requireDisjoint(String nameA, INDArray a, String nameB, INDArray b) {
        if (a == null || b == null) {
            return;
        }
        long[] ra = range(a);
        long[] rb = range(b);
        if (ra[0] < rb[1] && rb[0] < ra[1]) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must not share memory with %s: bytes [%#x, %#x) and [%#x, %#x) overlap", nameA, nameB, ra[0],
                    ra[1], rb[0], rb[1]));
        }
    }

    private static long[] range(INDArray a) {
        long es = a.dataType().width();
        long start = a.data().address() + a.offset() * es;
        long span = 1;
        long[] shape = a.shape();
        long[] st = a.stride();
        for (int k = 0; k < shape.length; k++) {
            span += (shape[k] - 1) * Math.abs(st[k]);
        }
        return new long[] {start, start + span * es};
    }

    /** One call after the checks: the chunk loop over the planned positions. */
    private static final class Engine {
        private final LossSettings cfg;
        private final Shape s;
        private final TokenPlan plan;
        private final INDArray hidden;
        private final INDArray weight;
        private final INDArray bias;
        private final int chunk;
        private final LossKernel kernel;
        private final double[] tokenLoss;
        private final boolean[] tokenCorrect;
        /** Whether the hidden rows of one sequence form C-contiguous {@code [c, H]} blocks in the compute type. */
        private final boolean directRows;
        /** The few-row products for chunks of at most {@link FewRowProducts#MAX_ROWS} rows, or null. */
        private final FewRowProducts products;
        private final Memory weightMemory;
        private final long weightRowStride;
        private final int threads;
        /** Whether dW (db) still holds contents to be replaced rather than added to. */
        private boolean freshW;
        private boolean freshB;

        Engine(LossSettings cfg, Shape s, TokenPlan plan, INDArray hidden, INDArray weight, INDArray bias,
                int chunk) {
            this.cfg = cfg;
            this.s = s;
            this.plan = plan;
            this.hidden = hidden;
            this.weight = weight;
            this.bias = bias;
            this.chunk = chunk;
            LossKernel k = cfg.resolvedKernel();
            this.kernel = cfg.extensions().any() && !k.supportsExtensions() ? ReferenceKernel.INSTANCE : k;
            this.tokenLoss = new double[s.positions()];
            this.tokenCorrect = new boolean[s.positions()];
            long[] st = hidden.stride();
            this.directRows = hidden.dataType() == s.type() && st[2] == 1 && st[1] == s.hiddenSize();
            FewRowProducts f = System.getProperty(FEW_ROWS_PROPERTY, "true").trim().equalsIgnoreCase("false") ? null
                    : FewRowProducts.available();
            long[] ws = weight.stride();
            if (f != null && s.type() == DataType.FLOAT && (ws[1] == 1 || s.hiddenSize() == 1)) {
                Nd4jArrays.View wv = Nd4jArrays.view(weight, "weight");
                this.products = f;
                this.weightMemory = wv.memory();
                this.weightRowStride = wv.strides()[0];
            } else {
                this.products = null;
                this.weightMemory = null;
                this.weightRowStride = 0;
            }
            this.threads = k instanceof FusedCpuKernel fused ? fused.parallelism()
                    : Runtime.getRuntime().availableProcessors();
        }

        /** Runs every chunk; the gradient arrays are null for the forward only, else written/accumulated. */
        LossResult run(INDArray dh, INDArray dw, INDArray db, boolean overwriteW, boolean overwriteB) {
            boolean gradient = dw != null;
            freshW = overwriteW;
            freshB = overwriteB;
            int[] backward = positions(gradient, true);
            int[] forwardOnly = positions(gradient, false);
            int rows = Math.max(1, Math.min(chunk, Math.max(backward.length, forwardOnly.length)));
            DataType t = s.type();
            ChunkScratch scratch = ChunkScratch.acquire();
            INDArray hc = scratch.matrix(ChunkScratch.HIDDEN, t, rows, s.hiddenSize());
            INDArray z = scratch.matrix(ChunkScratch.Z, t, rows, s.vocab());
            INDArray dhc = gradient ? scratch.matrix(ChunkScratch.HIDDEN_GRADIENT, t, rows, s.hiddenSize()) : null;
            Memory zMem = Nd4jArrays.view(z, "z").memory();
            try {
                for (int from = 0; from < backward.length; from += rows) {
                    chunk(backward, from, Math.min(rows, backward.length - from), hc, z, zMem, dhc, dh, dw, db);
                }
                for (int from = 0; from < forwardOnly.length; from += rows) {
                    chunk(forwardOnly, from, Math.min(rows, forwardOnly.length - from), hc, z, zMem, null, null,
                            null, null);
                }
            } finally {
                // the kernel reads and writes z through raw addresses: keep its owner alive until it is done
                Reference.reachabilityFence(z);
                scratch.release(); // kept for this thread's next call: no fresh pages to touch then
            }
            if (gradient && freshW) {
                dw.assign(0); // no row carried weight: dL/dW = 0
            }
            if (db != null && freshB) {
                db.assign(0);
            }
            return plan.reduce(tokenLoss, tokenCorrect, null, kernel.name());
        }

        /**
         * @param gradient whether the call computes gradients
         * @param weighted true: the rows that enter the backward GEMMs (all computed rows without a gradient);
         *                 false: the measured rows of gradient scale 0
         */
        private int[] positions(boolean gradient, boolean weighted) {
            int[] out = new int[s.positions()];
            int count = 0;
            for (int i = 0; i < out.length; i++) {
                if (plan.targets[i] < 0) {
                    continue;
                }
                boolean carries = !gradient || plan.gradScale[i] != 0.0;
                if (carries == weighted) {
                    out[count++] = i;
                }
            }
            return Arrays.copyOf(out, count);
        }

        private void chunk(int[] pos, int from, int c, INDArray hc, INDArray z, Memory zMem, INDArray dhc,
                INDArray dh, INDArray dw, INDArray db) {
            INDArray zv = rowsOf(z, c);
            // the GEMMs read h_c in place only as a C-contiguous block; ND4J's GEMM on other layouts (DL4J's F-order
            // flattened input) runs many times slower than a copy into the chunk buffer costs
            INDArray hRows = singleRun(pos, from, c) && directRows ? hiddenRows(hidden, pos[from], c)
                    : gather(pos, from, c, hc);
            FewRowProducts.Operands few = fewRows(c) ? operands(c, hRows, zMem) : null;
            if (few != null) {
                products.forward(few, threads);
            } else {
                Nd4j.gemm(hRows, weight, zv, false, true, 1.0, 0.0);
            }
            if (bias != null) {
                zv.addiRowVector(bias.reshape(1, s.vocab()));
            }
            int[] targets = new int[c];
            double[] scale = dhc != null ? new double[c] : null;
            for (int j = 0; j < c; j++) {
                targets[j] = plan.targets[pos[from + j]];
                if (scale != null) {
                    scale[j] = plan.gradScale[pos[from + j]];
                }
            }
            LossProblem.Builder pb = LossProblem.builder().shape(1, c, s.vocab()).targets(targets)
                    .logits(zMem, 0, (long) c * s.vocab(), s.vocab(), 1)
                    .extensions(cfg.extensions());
            if (scale != null) {
                pb.gradient(scale, zMem, 0, (long) c * s.vocab(), s.vocab(), 1); // in place: Z becomes G
            }
            double[] loss = new double[c];
            boolean[] correct = new boolean[c];
            kernel.run(pb.build(), loss, correct);
            for (int j = 0; j < c; j++) {
                tokenLoss[pos[from + j]] = loss[j];
                tokenCorrect[pos[from + j]] = correct[j];
            }
            if (dhc == null) {
                return;
            }
            if (few != null && (dw.stride()[1] == 1 || s.hiddenSize() == 1)) {
                int hs = s.hiddenSize();
                Nd4jArrays.View dwv = Nd4jArrays.view(dw, "weightGradient");
                float[] dhRows = new float[c * hs];
                products.backward(few, dwv.memory(), dwv.strides()[0], !freshW, dhRows, threads);
                Nd4jArrays.view(dhc, "hiddenGradient").memory().writeFloats(0, 1, dhRows, 0, c * hs);
            } else {
                Nd4j.gemm(zv, weight, rowsOf(dhc, c), false, false, 1.0, 0.0);
                Nd4j.gemm(zv, hRows, dw, true, false, 1.0, freshW ? 0.0 : 1.0);
            }
            scatter(pos, from, c, dhc, dh);
            freshW = false;
            if (db != null) {
                INDArray sum = zv.sum(0).reshape(db.shape());
                if (freshB) {
                    db.assign(sum);
                } else {
                    db.addi(sum);
                }
                freshB = false;
            }
        }

        /** Whether the few-row products take a chunk of {@code c} rows (fp32, W of unit stride over H). */
        private boolean fewRows(int c) {
            return products != null && c <= FewRowProducts.MAX_ROWS;
        }

        /** The operands of the few-row products: the chunk's hidden rows copied row-major, W and Z in place. */
        private FewRowProducts.Operands operands(int c, INDArray hRows, Memory zMem) {
            int hs = s.hiddenSize();
            Nd4jArrays.View hv = Nd4jArrays.view(hRows, "hidden");
            float[] h = new float[c * hs];
            for (int r = 0; r < c; r++) {
                hv.memory().readFloats(r * hv.strides()[0], hs == 1 ? 1 : hv.strides()[1], h, r * hs, hs);
            }
            return new FewRowProducts.Operands(c, hs, s.vocab(), h, weightMemory, weightRowStride, zMem, s.vocab());
        }

        private static INDArray rowsOf(INDArray buffer, int c) {
            return c == buffer.size(0) ? buffer : buffer.get(NDArrayIndex.interval(0, c), NDArrayIndex.all());
        }

        /** Whether positions pos[from .. from+c) are consecutive within one sequence. */
        private boolean singleRun(int[] pos, int from, int c) {
            return runLength(pos, from, c) == c;
        }

        private int runLength(int[] pos, int from, int max) {
            int p = pos[from];
            int t = p % s.length();
            int len = 1;
            while (len < max && pos[from + len] == p + len && t + len < s.length()) {
                len++;
            }
            return len;
        }

        /**
         * The {@code [c, H]} view of {@code a}'s rows at positions {@code p .. p+c} of one sequence, built from
         * the buffer, offset and strides: ND4J 1.0.0-M2.1's {@code get(point(b), ...)} on a view with an offset
         * returns an empty array for {@code b > 0}.
         */
        private INDArray hiddenRows(INDArray a, int p, int c) {
            int b = p / s.length();
            int t = p % s.length();
            long[] st = a.stride();
            return Nd4j.create(a.data(), new long[] {c, s.hiddenSize()}, new long[] {st[1], st[2]},
                    a.offset() + b * st[0] + t * st[1], st[1] < st[2] ? 'f' : 'c');
        }

        /** Copies the hidden rows at pos[from .. from+c) into {@code dst}, one copy per run of positions. */
        private INDArray gather(int[] pos, int from, int c, INDArray dst) {
            for (int j = 0; j < c;) {
                int len = runLength(pos, from + j, c - j);
                rowsOf(dst, j, len).assign(hiddenRows(hidden, pos[from + j], len));
                j += len;
            }
            return rowsOf(dst, c);
        }

        /** Copies {@code src}'s rows to the rows of {@code dh} at pos[from .. from+c), one copy per run. */
        private void scatter(int[] pos, int from, int c, INDArray src, INDArray dh) {
            for (int j = 0; j < c;) {
                int len = runLength(pos, from + j, c - j);
                hiddenRows(dh, pos[from + j], len).assign(rowsOf(src, j, len));
                j += len;
            }
        }

        private static INDArray rowsOf(INDArray buffer, int from, int len) {
            return buffer.get(NDArrayIndex.interval(from, from + len), NDArrayIndex.all());
        }
    }
}
