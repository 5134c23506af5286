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

    DoubleRowWorker(KernelCall call, RowOps ops) {
        super(call, ops);
        this.row = new double[call.vocab];
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
        final double[] logits;
        final int rowOffset;
        if (call.logitDoubles != null) {
            logits = call.logitDoubles;
            rowOffset = Math.toIntExact(start);
        } else {
            call.logits.readDoubles(start, call.strideV, row, 0, vocab);
            logits = row;
            rowOffset = 0;
        }
        final double max = ops.max(logits, rowOffset, vocab);
        final double targetLogit = logits[rowOffset + target];
        if (!(max > Double.NEGATIVE_INFINITY && max < Double.POSITIVE_INFINITY)) {
            nonFiniteRow(i, b, t, target, max != max,
                    targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max));
            return;
        }
        call.tokenCorrect[i] = targetLogit == max && !ops.anyAtLeast(logits, rowOffset, target, max);
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        if (scale != 0.0) {
            final double[] dst;
            final int dstOffset;
            if (call.gradDoubles != null) {
                dst = call.gradDoubles;
                dstOffset = Math.toIntExact(problem.gRowStart(b, t));
            } else {
                dst = row;
                dstOffset = 0;
            }
            double sum = ops.expSumStore(logits, rowOffset, vocab, max, dst, dstOffset);
            double lse = max + Math.log(sum);
            call.tokenLoss[i] = lse - targetLogit;
            ops.scale(dst, dstOffset, vocab, scale / sum);
            dst[dstOffset + target] = scale * (Math.exp(targetLogit - lse) - 1.0);
            if (dst == row) {
                call.gradient.writeDoubles(problem.gRowStart(b, t), call.gradStrideV, row, 0, vocab);
            }
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
        double[] logits;
        int rowOffset;
        if (call.logitDoubles != null) {
            logits = call.logitDoubles;
            rowOffset = Math.toIntExact(start);
        } else {
            call.logits.readDoubles(start, call.strideV, row, 0, vocab);
            logits = row;
            rowOffset = 0;
        }
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
            nonFiniteRow(i, b, t, target, max != max, argMaxIsTarget);
            return;
        }
        call.tokenCorrect[i] = argMaxIsTarget;
        final double logitSum = x.needsLogitSum() ? ops.sum(logits, rowOffset, vocab) : 0.0;
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        if (scale != 0.0) {
            final double[] dst;
            final int dstOffset;
            if (call.gradDoubles != null) {
                dst = call.gradDoubles;
                dstOffset = Math.toIntExact(problem.gRowStart(b, t));
            } else {
                dst = x.capped ? gradientRow : row;
                dstOffset = 0;
            }
            double sum = ops.expSumStore(logits, rowOffset, vocab, max, dst, dstOffset);
            double lse = max + Math.log(sum);
            call.tokenLoss[i] = x.loss(lse, targetLogit, logitSum);
            double factor = scale * x.softmaxFactor(lse) / sum;
            double bias = x.uniformGradient(scale);
            if (x.capped) {
                ops.scaleAddCapped(dst, dstOffset, vocab, factor, bias, logits, rowOffset, x.inverseCap);
            } else {
                ops.scaleAdd(dst, dstOffset, vocab, factor, bias);
            }
            dst[dstOffset + target] = x.targetGradient(scale, lse, targetLogit);
            if (dst != call.gradDoubles) {
                call.gradient.writeDoubles(problem.gRowStart(b, t), call.gradStrideV, dst, 0, vocab);
            }
        } else {
            double sum = ops.expSum(logits, rowOffset, vocab, max);
            call.tokenLoss[i] = x.loss(max + Math.log(sum), targetLogit, logitSum);
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
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
