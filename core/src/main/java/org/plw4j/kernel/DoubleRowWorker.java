package org.plw4j.kernel;

import java.util.Arrays;

/**
 * Rows of fp64 logits, computed in double: the same three passes as {@link FloatRowWorker} (max,
 * exp-sum storing the exponentials, scale and the target's entry) on a row read in place or copied
 * into {@link #row}; with the extensions as {@link FloatRowWorker} does, in double.
 */
final class DoubleRowWorker extends RowWorker {
    /** One row of logits, then (without a heap gradient) its gradient. */
    private final double[] row;
    /** The gradient row when {@link #row} holds the capped logits and the gradient is not a heap fp64 array. */
    private final double[] gradientRow;
    /** With the entropy asked for: the exponentials when they may not overwrite the logits (SPEC section 13). */
    private final double[] expRow;

    DoubleRowWorker(KernelCall call, RowOps ops) {
        super(call, ops);
        this.row = new double[call.vocab];
        this.expRow = call.entropyOut != null ? new double[call.vocab] : null;
        FusedExtensions x = call.extensions;
        this.gradientRow = x != null && x.capped && call.wantsGradient && call.gradDoubles == null
                ? new double[call.vocab] : null;
    }

    @Override
    void activeRow(int i, int b, int t, int target) {
        if (call.extensions != null) {
            activeRowExtended(i, b, t, target, call.extensions);
            return;
        }
        final long start = problem.rowStart(b, t);
        final double[] logits = logitRow(start);
        final int rowOffset = logitOffset(start);
        final double max = ops.max(logits, rowOffset, vocab);
        final double targetLogit = logits[rowOffset + target];
        if (!(max > Double.NEGATIVE_INFINITY && max < Double.POSITIVE_INFINITY)) {
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
            final double[] dst = gradientDestination(row);
            final int dstOffset = gradientOffset(b, t);
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
        double[] logits = logitRow(start);
        int rowOffset = logitOffset(start);
        final double max;
        if (x.capped) {
            max = ops.softCapMax(logits, rowOffset, row, 0, vocab, x.softCap, x.inverseCap);
            logits = row;
            rowOffset = 0;
        } else {
            max = ops.max(logits, rowOffset, vocab);
        }
        final double targetLogit = logits[rowOffset + target];
        final boolean argMaxIsTarget = targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max);
        if (!(max > Double.NEGATIVE_INFINITY && max < Double.POSITIVE_INFINITY)) {
            nonFiniteOutputs(i, start, logits, rowOffset, max);
            nonFiniteRow(i, b, t, target, max != max, argMaxIsTarget);
            return;
        }
        call.tokenCorrect[i] = argMaxIsTarget;
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = RowOps.indexOf(logits, rowOffset, vocab, max);
        }
        if (call.entropyOut != null) {
            finiteRowWithEntropy(i, b, t, target, logits, rowOffset, max, targetLogit, x);
            return;
        }
        final double logitSum = x.needsLogitSum() ? ops.sum(logits, rowOffset, vocab) : 0.0;
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        if (scale != 0.0) {
            final double[] dst = gradientDestination(x.capped ? gradientRow : row);
            final int dstOffset = gradientOffset(b, t);
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

    /**
     * @param start element index of the row's first logit
     * @return the array holding the row: the heap fp64 logits themselves, else {@link #row} with the row read into it
     */
    private double[] logitRow(long start) {
        if (call.logitDoubles != null) {
            return call.logitDoubles;
        }
        call.logits.readDoubles(start, call.strideV, row, 0, vocab);
        return row;
    }

    /** @return the index of the row's first logit in {@link #logitRow(long)}'s array */
    private int logitOffset(long start) {
        return call.logitDoubles != null ? Math.toIntExact(start) : 0;
    }

    /**
     * @param local the row to use when the gradient is not a heap fp64 array (written out after the row)
     * @return where the exponentials and then the gradient of a row go: the heap fp64 gradient in place, else {@code local}
     */
    private double[] gradientDestination(double[] local) {
        return call.gradDoubles != null ? call.gradDoubles : local;
    }

    /** @return the index of row (b, t)'s first element in {@link #gradientDestination(double[])}'s array */
    private int gradientOffset(int b, int t) {
        return call.gradDoubles != null ? Math.toIntExact(problem.gRowStart(b, t)) : 0;
    }

    /** The outputs of a row whose maximum is not finite: entropy NaN, arg-max the first NaN or the first maximum. */
    private void nonFiniteOutputs(int i, long start, double[] logits, int rowOffset, double max) {
        if (call.argMaxOut != null) {
            int nan = max != max ? firstNaN(start) : -1;
            call.argMaxOut[i] = nan >= 0 ? nan : Math.max(0, RowOps.indexOf(logits, rowOffset, vocab, max));
        }
        if (call.entropyOut != null) {
            call.entropyOut[i] = Double.NaN;
        }
    }

    /**
     * A finite row with the entropy asked for (SPEC section 13): {@link #activeRow} or {@link #activeRowExtended}
     * (when {@code x} is not null) with the exponentials stored where they do not overwrite the logits
     * ({@link #expRow} when the gradient row would), the entropy term summed from them
     * ({@link RowOps#entropyTerms(double[], int, double[], int, int, double)}, the cache-resident row), the same
     * exp-sum as without the entropy.
     */
    private void finiteRowWithEntropy(int i, int b, int t, int target, double[] logits, int rowOffset, double max,
            double targetLogit, FusedExtensions x) {
        final double logitSum = x != null && x.needsLogitSum() ? ops.sum(logits, rowOffset, vocab) : 0.0;
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        double[] dst = expRow;
        int dstOffset = 0;
        if (scale != 0.0) {
            dst = gradientDestination(x != null && x.capped ? gradientRow : expRow);
            dstOffset = gradientOffset(b, t);
            if (dst == logits && dstOffset == rowOffset) {   // in place: keep the logits for the entropy term
                dst = expRow;
                dstOffset = 0;
            }
        }
        final double sum = ops.expSumStore(logits, rowOffset, vocab, max, dst, dstOffset);
        final double logSum = Math.log(sum);
        final double lse = max + logSum;
        call.entropyOut[i] = logSum - RowOps.entropyTerms(dst, dstOffset, logits, rowOffset, vocab, max) / sum;
        call.tokenLoss[i] = x == null ? lse - targetLogit : x.loss(lse, targetLogit, logitSum);
        if (scale == 0.0) {
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
            return;
        }
        finishGradient(b, t, target, scale, sum, lse, targetLogit, logits, rowOffset, dst, dstOffset, x);
    }

    /** As {@code FloatRowWorker.finishGradient}, in double. */
    private void finishGradient(int b, int t, int target, double scale, double sum, double lse, double targetLogit,
            double[] logits, int rowOffset, double[] dst, int dstOffset, FusedExtensions x) {
        if (x == null) {
            ops.scale(dst, dstOffset, vocab, scale / sum);
            dst[dstOffset + target] = scale * (Math.exp(targetLogit - lse) - 1.0);
        } else {
            double factor = scale * x.softmaxFactor(lse) / sum;
            double bias = x.uniformGradient(scale);
            if (x.capped) {
                ops.scaleAddCapped(dst, dstOffset, vocab, factor, bias, logits, rowOffset, x.inverseCap);
            } else {
                ops.scaleAdd(dst, dstOffset, vocab, factor, bias);
            }
            dst[dstOffset + target] = x.targetGradient(scale, lse, targetLogit);
        }
        if (dst != call.gradDoubles) {
            call.gradient.writeDoubles(problem.gRowStart(b, t), call.gradStrideV, dst, dstOffset, vocab);
        }
    }

    @Override
    void fillGradientRow(int b, int t, double value) {
        final long start = problem.gRowStart(b, t);
        if (call.gradDoubles != null) {
            int offset = Math.toIntExact(start);
            Arrays.fill(call.gradDoubles, offset, offset + vocab, value);
        } else {
            Arrays.fill(row, 0, vocab, value);
            call.gradient.writeDoubles(start, call.gradStrideV, row, 0, vocab);
        }
    }
}
