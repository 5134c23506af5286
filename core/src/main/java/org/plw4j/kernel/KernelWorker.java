package org.plw4j.kernel;

/**
 * One worker thread's part of a {@link FusedCpuKernel} call: its scratch and its loops over the work
 * units it takes. What the row and tile workers share lives here: reading 16-bit logits widened to
 * fp32, writing fp32 gradients narrowed to their element type, and the first-NaN search of the arg-max
 * rule. Confined to one thread.
 */
abstract class KernelWorker {
    final KernelCall call;
    final RowOps ops;
    final LossProblem problem;
    final int vocab;
    /** Raw 16-bit values on their way in or out, {@code shortsLength} long; null when no 16-bit type is involved. */
    final short[] shorts;

    KernelWorker(KernelCall call, RowOps ops, int shortsLength) {
        this.call = call;
        this.ops = ops;
        this.problem = call.problem;
        this.vocab = call.vocab;
        this.shorts = call.sixteenBit() ? new short[shortsLength] : null;
    }

    /** Computes work unit {@code u} (rows or a tile, by the call's mode). */
    abstract void unit(int u);

    /**
     * Reads {@code n} contiguous logits at element {@code start} into {@code dst[off ..]} as floats
     * (16-bit values widened exactly); at most {@code shorts.length} of them when 16-bit.
     */
    final void readContiguousFloats(long start, float[] dst, int off, int n) {
        final Memory logits = call.logits;
        switch (call.logitType) {
            case BFLOAT16 -> {
                logits.readShorts(start, shorts, 0, n);
                ops.widenBf16(shorts, 0, dst, off, n);
            }
            case FLOAT16 -> {
                logits.readShorts(start, shorts, 0, n);
                for (int k = 0; k < n; k++) {
                    dst[off + k] = Half.fp16ToFloat(shorts[k]);
                }
            }
            default -> logits.readFloats(start, 1, dst, off, n);
        }
    }

    /**
     * Writes {@code src[off .. off+n)} to the gradient at {@code start, start + stride, ...}, narrowed
     * to the gradient's element type (round to nearest even); at most {@code shorts.length} values
     * when contiguous and 16-bit.
     */
    final void writeGradientFloats(long start, long stride, float[] src, int off, int n) {
        final Memory gradient = call.gradient;
        if (stride == 1 && call.gradType == ElementType.BFLOAT16) {
            ops.narrowBf16(src, off, shorts, 0, n);
            gradient.writeShorts(start, shorts, 0, n);
        } else if (stride == 1 && call.gradType == ElementType.FLOAT16) {
            for (int k = 0; k < n; k++) {
                shorts[k] = Half.floatToFp16(src[off + k]);
            }
            gradient.writeShorts(start, shorts, 0, n);
        } else {
            gradient.writeFloats(start, stride, src, off, n);
        }
    }

    /** Writes the entropy and arg-max outputs of position {@code i} (SPEC section 13) where they are asked for. */
    final void outputs(int i, double entropy, int argMax) {
        if (call.entropyOut != null) {
            call.entropyOut[i] = entropy;
        }
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = argMax;
        }
    }

    /**
     * The arg-max of a row holding a NaN is its first NaN ({@link ReferenceKernel}'s rule). Reads the
     * logits themselves: only rows whose maximum is NaN come here.
     *
     * @param rowStart element index of the row's logit 0
     * @return the first vocabulary index whose logit is NaN, or -1
     */
    final int firstNaN(long rowStart) {
        final Memory logits = call.logits;
        final long strideV = call.strideV;
        for (int v = 0; v < vocab; v++) {
            double x = logits.get(rowStart + v * strideV);
            if (x != x) {
                return v;
            }
        }
        return -1;
    }
}
