package org.plw4j.kernel;

import java.util.Arrays;

/**
 * Rows of fp64 logits, computed in double: the same three passes as {@link FloatRowWorker} (max,
 * exp-sum storing the exponentials, scale and the target's entry) on a row read in place or copied
 * into {@link #row}.
 */
final class DoubleRowWorker extends RowWorker {
    /** One row of logits, then (without a heap gradient) its gradient. */
    private final double[] row;

    DoubleRowWorker(KernelCall call, RowOps ops) {
        super(call, ops);
        this.row = new double[call.vocab];
    }

    @Override
    void activeRow(int i, int b, int t, int target) {
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
