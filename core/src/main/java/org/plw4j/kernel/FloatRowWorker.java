package org.plw4j.kernel;

/**
 * Rows of fp32, fp16 and bf16 logits, computed in fp32 ({@link RowWorker}'s passes over {@code float[]}
 * rows): the row is read in place (heap fp32 logits with a contiguous vocabulary) or copied, widened, into
 * {@link #row}; the gradient is narrowed to its element type on its write. The entropy's and label
 * smoothing's terms come from the exp-sum pass itself ({@link RowOps#expSumStoreEntropy},
 * {@link RowOps#expSumStoreShifted}).
 */
final class FloatRowWorker extends RowWorker<float[]> {
    FloatRowWorker(KernelCall call, RowOps ops) {
        super(call, ops, float[]::new, call.logitFloats, call.gradFloats, true);
    }

    /** A bf16 row widens and takes its maximum in one pass ({@link RowOps#widenBf16Max}). */
    @Override
    double readRow(long start, boolean withMax) {
        final long strideV = call.strideV;
        if (strideV != 1) {
            call.logits.readFloats(start, strideV, row, 0, vocab);
        } else if (call.logitType == ElementType.BFLOAT16) {
            call.logits.readShorts(start, shorts, 0, vocab);
            if (withMax) {
                return ops.widenBf16Max(shorts, 0, row, 0, vocab);
            }
            ops.widenBf16(shorts, 0, row, 0, vocab);
        } else {
            readContiguousFloats(start, row, 0, vocab);
        }
        return withMax ? ops.max(row, 0, vocab) : Double.NaN;
    }

    @Override
    double expSumTerms(float[] a, int off, double shift, float[] dst, int doff, boolean entropy) {
        if (entropy) {
            double sum = ops.expSumStoreEntropy(a, off, vocab, (float) shift, dst, doff);
            entropyTerms = ops.entropyTerms;
            return sum;
        }
        double sum = ops.expSumStoreShifted(a, off, vocab, (float) shift, dst, doff);
        shiftedLogitSum = ops.shiftedLogitSum;
        return sum;
    }

    @Override
    void writeGradient(long start, float[] src, int off) {
        writeGradientFloats(start, call.gradStrideV, src, off, vocab);
    }
}
