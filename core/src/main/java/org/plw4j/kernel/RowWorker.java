package org.plw4j.kernel;

/**
 * The row path of {@link FusedCpuKernel}: each work unit is {@link KernelCall#rowsPerUnit} consecutive
 * positions, each position one vocabulary row (contiguous, or gathered through its stride into the
 * worker's scratch). Inactive positions get loss +0, no arg-max hit and, with a gradient, a row of +0;
 * their logits are never read. The dtype-specific work of an active row is the subclass's.
 */
abstract class RowWorker extends KernelWorker {
    RowWorker(KernelCall call, RowOps ops) {
        super(call, ops, call.vocab);
    }

    @Override
    final void unit(int u) {
        final int from = u * call.rowsPerUnit;
        final int to = Math.min(problem.positions(), from + call.rowsPerUnit);
        final int seqLen = call.seqLen;
        for (int i = from; i < to; i++) {
            final int b = i / seqLen;
            final int t = i - b * seqLen;
            final int target = call.targets[i];
            if (target < 0) {
                call.tokenLoss[i] = 0.0;
                call.tokenCorrect[i] = false;
                outputs(i, 0.0, -1);
                if (call.wantsGradient) {
                    fillGradientRow(b, t, 0.0);
                }
            } else {
                activeRow(i, b, t, target);
            }
        }
    }

    /** Loss, arg-max hit and (if asked) gradient of the active position {@code i = b * seqLen + t}. */
    abstract void activeRow(int i, int b, int t, int target);

    /** Writes {@code value} (+0 or NaN) to every entry of the gradient row {@code (b, t)}. */
    abstract void fillGradientRow(int b, int t, double value);

    /**
     * The outputs of a row whose maximum {@code max} is NaN or infinite: loss NaN; the arg-max is the
     * first NaN, else the first entry equal to the maximum; a gradient row of NaN when the scale is not 0
     * (+0 when it is).
     *
     * @param argMaxIsTarget whether the first entry equal to {@code max} is the target (ignored when NaN)
     */
    final void nonFiniteRow(int i, int b, int t, int target, boolean maxIsNaN, boolean argMaxIsTarget) {
        call.tokenLoss[i] = Double.NaN;
        call.tokenCorrect[i] = maxIsNaN ? firstNaN(problem.rowStart(b, t)) == target : argMaxIsTarget;
        if (call.wantsGradient) {
            fillGradientRow(b, t, call.gradScale[i] == 0.0 ? 0.0 : Double.NaN);
        }
    }
}
