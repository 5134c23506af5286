package org.plw4j.kernel;

import java.util.Arrays;

/**
 * The NCW path of {@link FusedCpuKernel} (fp32/fp16/bf16 logits with strideT == 1): a work unit is a tile
 * of W time steps of one sequence side by side (W = {@link RowOps#tileWidth()}), the vocabulary streamed
 * in blocks of {@value #BLOCK_ROWS} rows of W contiguous values: an online soft-max per lane (running
 * max, running sum rescaled by exp(old max - new max) once per block), no transposed copy. The gradient
 * is a second pass over the logits. With the extensions ({@link FusedExtensions}) each block is
 * soft-capped in the tile after it is read (in both passes), label smoothing adds a per-lane sum of the logits, and
 * the gradient pass computes {@code fma(e, f, bias)}, times {@code 1 - (z'/c)²} when capped.
 */
final class NcwWorker extends KernelWorker {
    /** Vocabulary rows per block: each lane's fp32 partial sum holds at most this many terms. */
    static final int BLOCK_ROWS = 64;

    private final int tileWidth;
    /** {@code tile[v * W + t]}: logit {@code (b, t0 + t, v0 + v)}, then its gradient. */
    private final float[] tile;
    /** Per lane: running maximum, its vocabulary index (as float), the shift of the running sum, the sum. */
    private final float[] max;
    private final float[] argMax;
    private final float[] shift;
    private final double[] sum;
    /** Per lane of the gradient pass: factor of the exponentials, 1 for rows written as zeros, lse and target logit. */
    private final float[] factor;
    private final float[] zero;
    private final double[] lse;
    private final float[] targetLogit;
    /** Per lane, with the extensions only: Σ z' (label smoothing) and the uniform part of the gradient. */
    private final double[] logitSum;
    private final float[] bias;
    /** Per lane, with the entropy asked for (SPEC section 13): the entropy term, see {@link RowOps#ncwForwardEntropy}. */
    private final double[] entropyTerms;

    NcwWorker(KernelCall call, RowOps ops) {
        super(call, ops, ops.tileWidth());
        this.tileWidth = ops.tileWidth();
        this.tile = new float[BLOCK_ROWS * tileWidth];
        this.max = new float[tileWidth];
        this.argMax = new float[tileWidth];
        this.shift = new float[tileWidth];
        this.sum = new double[tileWidth];
        this.factor = new float[tileWidth];
        this.zero = new float[tileWidth];
        this.lse = new double[tileWidth];
        this.targetLogit = new float[tileWidth];
        this.logitSum = call.extensions != null ? new double[tileWidth] : null;
        this.bias = call.extensions != null ? new float[tileWidth] : null;
        this.entropyTerms = call.entropyOut != null ? new double[tileWidth] : null;
    }

    @Override
    void unit(int u) {
        final int seqLen = call.seqLen;
        final int tilesPerRow = (seqLen + tileWidth - 1) / tileWidth;
        final int b = u / tilesPerRow;
        final int t0 = (u - b * tilesPerRow) * tileWidth;
        final int width = Math.min(tileWidth, seqLen - t0);
        final int i0 = b * seqLen + t0;
        final int[] targets = call.targets;
        boolean anyActive = false;
        for (int lane = 0; lane < width; lane++) {
            anyActive |= targets[i0 + lane] >= 0;
        }
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        Arrays.fill(argMax, 0f);
        Arrays.fill(shift, 0f);
        Arrays.fill(sum, 0.0);
        final FusedExtensions x = call.extensions;
        if (x != null) {
            Arrays.fill(logitSum, 0.0);
            Arrays.fill(bias, 0f);
        }
        final double[] ent = entropyTerms;
        if (ent != null) {
            Arrays.fill(ent, 0.0);
        }
        final long base = problem.rowStart(b, t0);
        if (anyActive) {
            for (int v0 = 0; v0 < vocab; v0 += BLOCK_ROWS) {
                int rows = Math.min(BLOCK_ROWS, vocab - v0);
                fillTile(base, v0, rows, width);
                if (x != null && x.needsLogitSum()) {
                    ops.ncwSum(tile, rows, logitSum);
                }
                if (ent == null) {
                    ops.ncwForward(tile, rows, v0, max, argMax, shift, sum);
                } else {
                    ops.ncwForwardEntropy(tile, rows, v0, max, argMax, shift, sum, ent);
                }
            }
        }
        Arrays.fill(factor, 0f);
        Arrays.fill(zero, 1f);
        boolean anyGradient = false;
        for (int lane = 0; lane < width; lane++) {
            int i = i0 + lane;
            int target = targets[i];
            if (target < 0) {
                call.tokenLoss[i] = 0.0;
                call.tokenCorrect[i] = false;
                outputs(i, 0.0, -1);
                continue;
            }
            float m = max[lane];
            double s = sum[lane];
            long rowStart = base + lane; // strideT == 1
            float zy = (float) call.logits.get(rowStart + target * call.strideV);
            if (x != null) {
                zy = x.cap(zy);
            }
            double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
            if (!(m > Float.NEGATIVE_INFINITY && m < Float.POSITIVE_INFINITY) || s != s) {
                int nan = firstNaN(rowStart);
                call.tokenCorrect[i] = (nan >= 0 ? nan : (int) argMax[lane]) == target;
                call.tokenLoss[i] = Double.NaN;
                outputs(i, Double.NaN, nan >= 0 ? nan : (int) argMax[lane]);
                if (scale != 0.0) {
                    factor[lane] = Float.NaN;
                    zero[lane] = 0f;
                    anyGradient = true;
                }
                continue;
            }
            double l = m + Math.log(s);
            call.tokenLoss[i] = x == null ? l - zy : x.loss(l, zy, logitSum[lane]);
            call.tokenCorrect[i] = (int) argMax[lane] == target;
            outputs(i, ent == null ? 0.0 : Math.log(s) - ent[lane] / s, (int) argMax[lane]);
            if (scale != 0.0) {
                if (x == null) {
                    factor[lane] = (float) (scale / s);
                } else {
                    factor[lane] = (float) (scale * x.softmaxFactor(l) / s);
                    bias[lane] = (float) x.uniformGradient(scale);
                }
                zero[lane] = 0f;
                lse[lane] = l;
                targetLogit[lane] = zy;
                anyGradient = true;
            }
        }
        if (call.wantsGradient) {
            writeGradient(b, t0, i0, base, width, anyGradient);
        }
    }

    /** The gradient of the tile: exact zeros when no lane carries a scale, else a second pass over the logits. */
    private void writeGradient(int b, int t0, int i0, long base, int width, boolean anyGradient) {
        final long gradBase = problem.gRowStart(b, t0);
        if (!anyGradient) {
            Arrays.fill(tile, 0f);
            for (int v0 = 0; v0 < vocab; v0 += BLOCK_ROWS) {
                writeTile(gradBase, v0, Math.min(BLOCK_ROWS, vocab - v0), width);
            }
            return;
        }
        final int[] targets = call.targets;
        final FusedExtensions x = call.extensions;
        for (int v0 = 0; v0 < vocab; v0 += BLOCK_ROWS) {
            int rows = Math.min(BLOCK_ROWS, vocab - v0);
            fillTile(base, v0, rows, width);
            if (x == null) {
                ops.ncwGradient(tile, rows, shift, factor, zero);
            } else {
                ops.ncwGradientExtended(tile, rows, shift, factor, bias, zero, x.capped, x.inverseCapFloat);
            }
            for (int lane = 0; lane < width; lane++) {
                int target = targets[i0 + lane];
                float f = factor[lane];
                if (zero[lane] == 0f && f == f && target >= v0 && target < v0 + rows) {
                    double scale = call.gradScale[i0 + lane];
                    tile[(target - v0) * tileWidth + lane] = x == null
                            ? (float) (scale * (Math.exp(targetLogit[lane] - lse[lane]) - 1.0))
                            : (float) x.targetGradient(scale, lse[lane], targetLogit[lane]);
                }
            }
            writeTile(gradBase, v0, rows, width);
        }
    }

    /**
     * {@code tile[v*W + t]} = logit {@code (b, t0 + t, v0 + v)} for {@code v < rows, t < width}, soft-capped
     * when the problem asks for it.
     */
    private void fillTile(long base, int v0, int rows, int width) {
        final long strideV = call.strideV;
        for (int v = 0; v < rows; v++) {
            readContiguousFloats(base + (v0 + v) * strideV, tile, v * tileWidth, width);
        }
        final FusedExtensions x = call.extensions;
        if (x != null && x.capped) {
            ops.softCapMax(tile, 0, tile, 0, rows * tileWidth, x.capFloat, x.inverseCapFloat);
        }
    }

    private void writeTile(long gradBase, int v0, int rows, int width) {
        for (int v = 0; v < rows; v++) {
            writeGradientFloats(gradBase + (v0 + v) * call.gradStrideV, call.gradStrideT, tile, v * tileWidth, width);
        }
    }
}
