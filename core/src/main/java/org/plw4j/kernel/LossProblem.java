package org.plw4j.kernel;

import java.util.Objects;

/**
 * One checked loss computation as a kernel sees it: the logits as strided memory, and per logit
 * position {@code i = b * seqLen + t} the resolved target, weight and gradient scale.
 *
 * <p>The API layer has already applied the shift, the ignore index, the roles or explicit weights
 * and the normalisation, and has validated every target that a kernel will read, so kernels trust
 * these fields. Logical element {@code (b, t, v)} of the logits lives at
 * {@code offset + b*strideB + t*strideT + v*strideV} in {@link #logits()} (any layout, any view).
 *
 * <p>A position is <em>active</em> when {@code targets[i] >= 0}: the kernel computes its loss
 * {@code lse - z[y]} and whether the arg-max (lowest index on ties) equals the target. Inactive
 * positions get loss 0 and are never read. When a gradient is requested, the kernel writes
 * {@code gradScale[i] * (softmax(z) - onehot(y))} to every active row with a non-zero scale and
 * exact zeros to every other row of the gradient, so that rows that carry no weight are zero even
 * when their logits are not finite.
 */
public final class LossProblem {
    private final int batch;
    private final int seqLen;
    private final int vocab;
    private final Memory logits;
    private final long offset;
    private final long strideB;
    private final long strideT;
    private final long strideV;
    private final int[] targets;
    private final double[] gradScale;
    private final Memory gradient;
    private final long gOffset;
    private final long gStrideB;
    private final long gStrideT;
    private final long gStrideV;
    private final LossExtensions extensions;
    private final double[] entropyOut;
    private final int[] argMaxOut;

    private LossProblem(Builder b) {
        this.batch = b.batch;
        this.seqLen = b.seqLen;
        this.vocab = b.vocab;
        this.logits = Objects.requireNonNull(b.logits, "logits");
        this.offset = b.offset;
        this.strideB = b.strideB;
        this.strideT = b.strideT;
        this.strideV = b.strideV;
        this.targets = Objects.requireNonNull(b.targets, "targets");
        this.gradScale = b.gradScale;
        this.gradient = b.gradient;
        this.gOffset = b.gOffset;
        this.gStrideB = b.gStrideB;
        this.gStrideT = b.gStrideT;
        this.gStrideV = b.gStrideV;
        this.extensions = b.extensions;
        this.entropyOut = b.entropyOut;
        this.argMaxOut = b.argMaxOut;
        if (entropyOut != null && entropyOut.length < targets.length) {
            throw new IllegalArgumentException("entropyOut must hold batch*seqLen = " + targets.length
                    + " entries, had " + entropyOut.length);
        }
        if (argMaxOut != null && argMaxOut.length < targets.length) {
            throw new IllegalArgumentException("argMaxOut must hold batch*seqLen = " + targets.length
                    + " entries, had " + argMaxOut.length);
        }
        if (targets.length != (long) batch * seqLen) {
            throw new IllegalArgumentException("targets.length must be batch*seqLen = " + (long) batch * seqLen
                    + ", was " + targets.length);
        }
        if (gradient != null && (gradScale == null || gradScale.length != targets.length)) {
            throw new IllegalArgumentException("gradScale must have batch*seqLen entries when a gradient is requested");
        }
    }

    /** @return B */
    public int batch() {
        return batch;
    }

    /** @return N, the number of logit positions per row */
    public int seqLen() {
        return seqLen;
    }

    /** @return V */
    public int vocab() {
        return vocab;
    }

    /** @return number of positions, B*N */
    public int positions() {
        return targets.length;
    }

    /** @return the logits memory */
    public Memory logits() {
        return logits;
    }

    /** @return element index of logit (0,0,0) */
    long offset() {
        return offset;
    }

    /** @return stride of the batch dimension, in elements */
    long strideB() {
        return strideB;
    }

    /** @return stride of the time dimension, in elements */
    long strideT() {
        return strideT;
    }

    /** @return stride of the vocabulary dimension, in elements */
    public long strideV() {
        return strideV;
    }

    /**
     * @param b batch index
     * @param t time index
     * @return element index of logit (b, t, 0)
     */
    public long rowStart(int b, int t) {
        return offset + b * strideB + t * strideT;
    }

    /** @return per position the target id in [0, V), or -1 when inactive (shared, do not modify) */
    public int[] targets() {
        return targets;
    }

    /** @return whether a gradient is requested */
    public boolean wantsGradient() {
        return gradient != null;
    }

    /** @return per position the factor of (softmax - onehot) in the gradient, or null (shared, do not modify) */
    public double[] gradScale() {
        return gradScale;
    }

    /** @return the gradient memory, or null; it may be the logits memory itself (in place) */
    public Memory gradient() {
        return gradient;
    }

    /** @return element index of gradient (0,0,0) */
    long gOffset() {
        return gOffset;
    }

    /** @return gradient stride of the batch dimension */
    long gStrideB() {
        return gStrideB;
    }

    /** @return gradient stride of the time dimension */
    long gStrideT() {
        return gStrideT;
    }

    /** @return gradient stride of the vocabulary dimension */
    public long gStrideV() {
        return gStrideV;
    }

    /**
     * @param b batch index
     * @param t time index
     * @return element index of gradient (b, t, 0)
     */
    public long gRowStart(int b, int t) {
        return gOffset + b * gStrideB + t * gStrideT;
    }

    /** @return whether the gradient is written over the logits (same memory, same strides) */
    public boolean inPlace() {
        return gradient == logits && gOffset == offset && gStrideB == strideB && gStrideT == strideT
                && gStrideV == strideV;
    }

    /** @return label smoothing epsilon (SPEC section 7), 0 when off */
    public double labelSmoothing() {
        return extensions.labelSmoothing();
    }

    /** @return z-loss coefficient lambda (SPEC section 7), 0 when off */
    public double zLoss() {
        return extensions.zLoss();
    }

    /** @return logit soft-capping value c (SPEC section 7), 0 when off */
    public double softCap() {
        return extensions.softCap();
    }

    /**
     * @return whether any optional extension of SPEC section 7 is on; kernels that do not
     *         {@linkplain LossKernel#supportsExtensions() support} them must not be given such a problem
     */
    public boolean hasExtensions() {
        return extensions.any();
    }

    /** @return the extensions of SPEC section 7 ({@link LossExtensions#NONE} when off) */
    public LossExtensions extensions() {
        return extensions;
    }

    /**
     * @return the per-position entropy output (SPEC section 13), or null when not asked for: an active
     *         position gets {@code H = lse - Σ_v p[v] z'[v]} of the distribution the loss uses (after
     *         soft-capping), NaN when its loss is NaN; an inactive one 0
     */
    public double[] entropyOut() {
        return entropyOut;
    }

    /**
     * @return the per-position arg-max output (SPEC section 13), or null when not asked for: an active
     *         position gets the arg-max of SPEC section 5 (of the capped logits), an inactive one -1
     */
    public int[] argMaxOut() {
        return argMaxOut;
    }

    /**
     * @return whether an output beyond loss and arg-max hit is asked for; kernels that do not
     *         {@linkplain LossKernel#supportsOutputs() support} them must not be given such a problem
     */
    public boolean wantsOutputs() {
        return entropyOut != null || argMaxOut != null;
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of a {@link LossProblem}. */
    public static final class Builder {
        private int batch;
        private int seqLen;
        private int vocab;
        private Memory logits;
        private long offset;
        private long strideB;
        private long strideT;
        private long strideV;
        private int[] targets;
        private double[] gradScale;
        private Memory gradient;
        private long gOffset;
        private long gStrideB;
        private long gStrideT;
        private long gStrideV;
        private LossExtensions extensions = LossExtensions.NONE;
        private double[] entropyOut;
        private int[] argMaxOut;

        private Builder() {
        }

        /**
         * Asks for the entropy of every position (see {@link LossProblem#entropyOut()}).
         *
         * @param out {@code B*N} entries or more, written by the kernel; null for none
         * @return this
         */
        public Builder entropyOut(double[] out) {
            this.entropyOut = out;
            return this;
        }

        /**
         * Asks for the arg-max of every position (see {@link LossProblem#argMaxOut()}).
         *
         * @param out {@code B*N} entries or more, written by the kernel; null for none
         * @return this
         */
        public Builder argMaxOut(int[] out) {
            this.argMaxOut = out;
            return this;
        }

        /**
         * Optional extensions of SPEC section 7 (0 = off), as one value.
         *
         * @param extensions label smoothing, z-loss and soft-cap ({@link LossExtensions#NONE} for none)
         * @return this
         */
        public Builder extensions(LossExtensions extensions) {
            this.extensions = Objects.requireNonNull(extensions, "extensions");
            return this;
        }

        /**
         * As {@link #extensions(LossExtensions)} with the three values.
         *
         * @param labelSmoothing eps in [0, 1)
         * @param zLoss lambda &gt;= 0
         * @param softCap c &gt; 0, or 0 for no capping
         * @return this
         */
        public Builder extensions(double labelSmoothing, double zLoss, double softCap) {
            return extensions(new LossExtensions(labelSmoothing, zLoss, softCap));
        }

        /**
         * @param batch B
         * @param seqLen N
         * @param vocab V
         * @return this
         */
        public Builder shape(int batch, int seqLen, int vocab) {
            this.batch = batch;
            this.seqLen = seqLen;
            this.vocab = vocab;
            return this;
        }

        /**
         * @param memory the logits
         * @param offset element index of (0,0,0)
         * @param strideB batch stride
         * @param strideT time stride
         * @param strideV vocabulary stride
         * @return this
         */
        public Builder logits(Memory memory, long offset, long strideB, long strideT, long strideV) {
            this.logits = memory;
            this.offset = offset;
            this.strideB = strideB;
            this.strideT = strideT;
            this.strideV = strideV;
            return this;
        }

        /**
         * Contiguous NWC logits {@code [B, N, V]} starting at element 0.
         *
         * @param memory the logits
         * @return this
         */
        public Builder logitsNwc(Memory memory) {
            return logits(memory, 0, (long) seqLen * vocab, vocab, 1);
        }

        /**
         * @param targets per position the target id, or -1 when inactive
         * @return this
         */
        public Builder targets(int[] targets) {
            this.targets = targets;
            return this;
        }

        /**
         * Requests the gradient.
         *
         * @param scale per position factor of (softmax - onehot)
         * @param memory where to write
         * @param offset element index of (0,0,0)
         * @param strideB batch stride
         * @param strideT time stride
         * @param strideV vocabulary stride
         * @return this
         */
        public Builder gradient(double[] scale, Memory memory, long offset, long strideB, long strideT, long strideV) {
            this.gradScale = scale;
            this.gradient = memory;
            this.gOffset = offset;
            this.gStrideB = strideB;
            this.gStrideT = strideT;
            this.gStrideV = strideV;
            return this;
        }

        /**
         * Requests the gradient, contiguous NWC starting at element 0.
         *
         * @param scale per position factor of (softmax - onehot)
         * @param memory where to write
         * @return this
         */
        public Builder gradientNwc(double[] scale, Memory memory) {
            return gradient(scale, memory, 0, (long) seqLen * vocab, vocab, 1);
        }

        /** @return the problem */
        public LossProblem build() {
            return new LossProblem(this);
        }
    }
}
