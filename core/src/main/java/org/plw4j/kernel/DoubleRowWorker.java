package org.plw4j.kernel;

/**
 * Rows of fp64 logits, computed in double ({@link RowWorker}'s passes over {@code double[]} rows), read in
 * place or copied into {@link #row}. The fp64 row operations have no fused terms pass: the entropy terms
 * are summed from the stored exponentials after the exp-sum ({@link RowOps#entropyTerms(double[], int,
 * double[], int, int, double)}, the cache-resident row), and label smoothing's {@code Σ z} is a pass of
 * its own.
 */
final class DoubleRowWorker extends RowWorker<double[]> {
    DoubleRowWorker(KernelCall call, RowOps ops) {
        super(call, ops, double[]::new, call.logitDoubles, call.gradDoubles, false);
    }

    @Override
    double readRow(long start, boolean withMax) {
        call.logits.readDoubles(start, call.strideV, row, 0, vocab);
        return withMax ? ops.max(row, 0, vocab) : Double.NaN;
    }

    /** Only with the entropy (label smoothing is not fused here); {@code dst} is not the logits. */
    @Override
    double expSumTerms(double[] a, int off, double shift, double[] dst, int doff, boolean entropy) {
        double sum = ops.expSumStore(a, off, vocab, shift, dst, doff);
        entropyTerms = RowOps.entropyTerms(dst, doff, a, off, vocab, shift);
        return sum;
    }

    @Override
    void writeGradient(long start, double[] src, int off) {
        call.gradient.writeDoubles(start, call.gradStrideV, src, off, vocab);
    }
}
