package org.plw4j.kernel;

import java.util.Arrays;

/**
 * Rows of fp32, fp16 and bf16 logits, computed in fp32: the row is read in place (heap fp32 logits with
 * a contiguous vocabulary) or copied, widened, into {@link #row}; then three passes over that
 * cache-resident row: max, exp-sum (storing the exponentials in the gradient row, or in {@link #row}
 * when the gradient is not a heap fp32 array), then the scale {@code s/S} and the target's entry. With
 * the extensions ({@link FusedExtensions}) the row is first soft-capped into {@link #row}, label
 * smoothing adds a sum of the row, and the scale pass becomes {@code fma(e, f, bias)}, times {@code 1 - (z'/c)²}
 * when capped.
 */
final class FloatRowWorker extends RowWorker {
    /** One row of logits as floats, then (without a heap gradient) its gradient before narrowing. */
    private final float[] row;
    /** The gradient row when {@link #row} holds the capped logits and the gradient is not a heap fp32 array. */
    private final float[] gradientRow;
    /**
     * The exponentials of the entropy's or label smoothing's exp-sum pass when they would otherwise overwrite the
     * row they are computed from (storing over its own input measured slower on a loaded machine).
     */
    private final float[] expRow;

    FloatRowWorker(KernelCall call, RowOps ops) {
        super(call, ops);
        this.row = new float[call.vocab];
        FusedExtensions x = call.extensions;
        this.gradientRow = x != null && x.capped && call.wantsGradient && call.gradFloats == null
                ? new float[call.vocab] : null;
        this.expRow = call.entropyOut != null || x != null && x.needsLogitSum() ? new float[call.vocab] : null;
    }

    @Override
    void activeRow(int i, int b, int t, int target) {
        if (call.extensions != null) {
            activeRowExtended(i, b, t, target, call.extensions);
            return;
        }
        final long start = problem.rowStart(b, t);
        final float[] logits;
        final int rowOffset;
        final float max;
        if (call.logitFloats != null) {
            logits = call.logitFloats;
            rowOffset = Math.toIntExact(start);
            max = ops.max(logits, rowOffset, vocab);
        } else {
            logits = row;
            rowOffset = 0;
            max = loadRow(start);
        }
        final float targetLogit = logits[rowOffset + target];
        if (!(max > Float.NEGATIVE_INFINITY && max < Float.POSITIVE_INFINITY)) {
            nonFiniteOutputs(i, start, logits, rowOffset, max);
            nonFiniteRow(i, b, t, target, max != max,
                    targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max));
            return;
        }
        call.tokenCorrect[i] = targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max);
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = RowOps.indexOf(logits, rowOffset, vocab, max);
        }
        if (call.entropyOut != null) {
            finiteRowWithEntropy(i, b, t, target, logits, rowOffset, max, targetLogit, null);
            return;
        }
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        if (scale != 0.0) {
            final float[] dst;
            final int dstOffset;
            if (call.gradFloats != null) {
                dst = call.gradFloats;
                dstOffset = Math.toIntExact(problem.gRowStart(b, t));
            } else {
                dst = row;
                dstOffset = 0;
            }
            double sum = ops.expSumStore(logits, rowOffset, vocab, max, dst, dstOffset);
            double lse = max + Math.log(sum);
            call.tokenLoss[i] = lse - targetLogit;
            finishGradient(b, t, target, scale, sum, lse, targetLogit, logits, rowOffset, dst, dstOffset, null);
        } else {
            double sum = ops.expSum(logits, rowOffset, vocab, max);
            call.tokenLoss[i] = max + Math.log(sum) - targetLogit;
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
        }
    }

    /** {@link #activeRow} with label smoothing, z-loss or soft-capping. */
    private void activeRowExtended(int i, int b, int t, int target, FusedExtensions x) {
        final long start = problem.rowStart(b, t);
        float[] logits;
        int rowOffset;
        float max;
        if (call.logitFloats == null) {
            logits = row;
            rowOffset = 0;
            max = x.capped ? readRow(start) : loadRow(start);   // a capped row's maximum comes from softCapMax
        } else {
            logits = call.logitFloats;
            rowOffset = Math.toIntExact(start);
            max = x.capped ? Float.NaN : ops.max(logits, rowOffset, vocab);
        }
        if (x.capped) {
            max = ops.softCapMax(logits, rowOffset, row, 0, vocab, x.capFloat, x.inverseCapFloat);
            logits = row;
            rowOffset = 0;
        }
        final float targetLogit = logits[rowOffset + target];
        final boolean argMaxIsTarget = targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max);
        if (!(max > Float.NEGATIVE_INFINITY && max < Float.POSITIVE_INFINITY)) {
            nonFiniteOutputs(i, start, logits, rowOffset, max);
            nonFiniteRow(i, b, t, target, max != max, argMaxIsTarget);
            return;
        }
        call.tokenCorrect[i] = argMaxIsTarget;
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = RowOps.indexOf(logits, rowOffset, vocab, max);
        }
        if (call.entropyOut != null || x.needsLogitSum()) {
            finiteRowWithEntropy(i, b, t, target, logits, rowOffset, max, targetLogit, x);
            return;
        }
        final double logitSum = 0.0;   // label smoothing is off here (it goes through finiteRowWithEntropy)
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        if (scale != 0.0) {
            final float[] dst;
            final int dstOffset;
            if (call.gradFloats != null) {
                dst = call.gradFloats;
                dstOffset = Math.toIntExact(problem.gRowStart(b, t));
            } else {
                dst = x.capped ? gradientRow : row;
                dstOffset = 0;
            }
            double sum = ops.expSumStore(logits, rowOffset, vocab, max, dst, dstOffset);
            double lse = max + Math.log(sum);
            call.tokenLoss[i] = x.loss(lse, targetLogit, logitSum);
            finishGradient(b, t, target, scale, sum, lse, targetLogit, logits, rowOffset, dst, dstOffset, x);
        } else {
            double sum = ops.expSum(logits, rowOffset, vocab, max);
            call.tokenLoss[i] = x.loss(max + Math.log(sum), targetLogit, logitSum);
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
        }
    }

    /** The outputs of a row whose maximum is not finite: entropy NaN, arg-max the first NaN or the first maximum. */
    private void nonFiniteOutputs(int i, long start, float[] logits, int rowOffset, float max) {
        if (call.argMaxOut != null) {
            int nan = max != max ? firstNaN(start) : -1;
            call.argMaxOut[i] = nan >= 0 ? nan : Math.max(0, RowOps.indexOf(logits, rowOffset, vocab, max));
        }
        if (call.entropyOut != null) {
            call.entropyOut[i] = Double.NaN;
        }
    }

    /**
     * A finite row with the entropy (SPEC section 13) or label smoothing asked for: {@link #activeRow} or
     * {@link #activeRowExtended} (when {@code x} is not null), their exp-sum pass replaced by
     * {@link RowOps#expSumStoreEntropy}, which gives the same sum bit for bit and, alongside, the entropy term and
     * {@code Σ (z - m)}, whence label smoothing's {@code Σ z = Σ (z - m) + V·m} without a pass of its own; without
     * a gradient the terms go to the scratch row (the logits are not needed after that pass: the target logit is
     * already read).
     */
    private void finiteRowWithEntropy(int i, int b, int t, int target, float[] logits, int rowOffset, float max,
            float targetLogit, FusedExtensions x) {
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        final float[] dst;
        final int dstOffset;
        if (scale != 0.0 && call.gradFloats != null) {
            dst = call.gradFloats;
            dstOffset = Math.toIntExact(problem.gRowStart(b, t));
        } else {
            dst = scale != 0.0 && x != null && x.capped ? gradientRow : expRow;
            dstOffset = 0;
        }
        final boolean smoothing = x != null && x.needsLogitSum();
        final boolean entropy = call.entropyOut != null;
        // label smoothing's Σ z: from the exp-sum pass (Σ (z - m) + V·m) when it is alone, else a pass of its own
        final double logitSum = smoothing && entropy ? ops.sum(logits, rowOffset, vocab) : 0.0;
        final double sum = entropy ? ops.expSumStoreEntropy(logits, rowOffset, vocab, max, dst, dstOffset)
                : ops.expSumStoreShifted(logits, rowOffset, vocab, max, dst, dstOffset);
        final double logSum = Math.log(sum);
        final double lse = max + logSum;
        if (entropy) {
            call.entropyOut[i] = logSum - ops.entropyTerms / sum;
        }
        final double smoothingSum = !smoothing ? 0.0 : entropy ? logitSum : ops.shiftedLogitSum + (double) vocab * max;
        call.tokenLoss[i] = x == null ? max + logSum - targetLogit : x.loss(lse, targetLogit, smoothingSum);
        if (scale == 0.0) {
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
            return;
        }
        finishGradient(b, t, target, scale, sum, lse, targetLogit, logits, rowOffset, dst, dstOffset, x);
    }

    /**
     * The scale pass over the exponentials stored at {@code dst} (the plain {@code (s / S)·e}, or with the
     * extensions {@code fma(e, f, bias)}, times {@code 1 - (z'/c)²} when capped), the target's entry in double,
     * and the row's write when {@code dst} is not the heap gradient itself.
     */
    private void finishGradient(int b, int t, int target, double scale, double sum, double lse, float targetLogit,
            float[] logits, int rowOffset, float[] dst, int dstOffset, FusedExtensions x) {
        if (x == null) {
            ops.scale(dst, dstOffset, vocab, (float) (scale / sum));
            dst[dstOffset + target] = (float) (scale * (Math.exp(targetLogit - lse) - 1.0));
        } else {
            float factor = (float) (scale * x.softmaxFactor(lse) / sum);
            float bias = (float) x.uniformGradient(scale);
            if (x.capped) {
                ops.scaleAddCapped(dst, dstOffset, vocab, factor, bias, logits, rowOffset, x.inverseCapFloat);
            } else {
                ops.scaleAdd(dst, dstOffset, vocab, factor, bias);
            }
            dst[dstOffset + target] = (float) x.targetGradient(scale, lse, targetLogit);
        }
        if (dst != call.gradFloats) {
            writeGradientFloats(problem.gRowStart(b, t), call.gradStrideV, dst, 0, vocab);
        }
    }

    /** Reads the row at {@code start} into {@link #row} as floats, without its maximum; @return NaN (no maximum) */
    private float readRow(long start) {
        readRow(start, false);
        return Float.NaN;
    }

    /** Reads the row at {@code start} into {@link #row} as floats; @return its maximum ({@link RowOps#max}) */
    private float loadRow(long start) {
        return readRow(start, true);
    }

    /**
     * @param withMax whether to form the maximum (a bf16 row widens and takes it in one pass)
     * @return the maximum of the row when {@code withMax}, else NaN
     */
    private float readRow(long start, boolean withMax) {
        final long strideV = call.strideV;
        if (strideV != 1) {
            call.logits.readFloats(start, strideV, row, 0, vocab);
        } else if (call.logitType == ElementType.BFLOAT16) {
            call.logits.readShorts(start, shorts, 0, vocab);
            if (withMax) {
                return ops.widenBf16Max(shorts, 0, row, 0, vocab);   // widen and max in one pass
            }
            ops.widenBf16(shorts, 0, row, 0, vocab);
        } else {
            readContiguousFloats(start, row, 0, vocab);
        }
        return withMax ? ops.max(row, 0, vocab) : Float.NaN;
    }

    @Override
    void fillGradientRow(int b, int t, double value) {
        final long start = problem.gRowStart(b, t);
        if (call.gradFloats != null) {
            int offset = Math.toIntExact(start);
            Arrays.fill(call.gradFloats, offset, offset + vocab, (float) value);
        } else {
            Arrays.fill(row, 0, vocab, (float) value);
            writeGradientFloats(start, call.gradStrideV, row, 0, vocab);
        }
    }
}
