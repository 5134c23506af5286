package org.plw4j.cuda;

import java.util.Locale;
import java.util.Objects;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.LossExtensions;

/**
 * A loss computation whose logits (and gradient) already live in device memory, for callers that
 * hold device pointers (ND4J's CUDA backend through {@link Nd4jCudaArrays}, or their own CUDA
 * code): the {@link org.plw4j.kernel.LossProblem} of the kernel layer with device addresses in
 * place of {@link org.plw4j.kernel.Memory}. Logit {@code (b, t, v)} is at element
 * {@code b*strideB + t*strideT + v} from {@code logits}: rows must have unit stride along V.
 * Targets and gradient scales are host arrays (small); they are staged per call.
 *
 * <p>Immutable; the device memory it points to must stay allocated while a kernel runs on it.
 */
public final class DeviceLossProblem {
    final int batch;
    final int seqLen;
    final int vocab;
    final long logits;
    final ElementType type;
    final long strideB;
    final long strideT;
    final int[] targets;
    final double[] gradScale;
    final long gradient;
    final ElementType gradType;
    final long gStrideB;
    final long gStrideT;
    final LossExtensions extensions;
    final double[] entropyOut;
    final int[] argMaxOut;

    private DeviceLossProblem(Builder b) {
        this.batch = b.batch;
        this.seqLen = b.seqLen;
        this.vocab = b.vocab;
        this.logits = b.logits;
        this.type = b.type;
        this.strideB = b.strideB;
        this.strideT = b.strideT;
        this.targets = Objects.requireNonNull(b.targets, "targets");
        this.gradScale = b.gradScale;
        this.gradient = b.gradient;
        this.gradType = b.gradType;
        this.gStrideB = b.gStrideB;
        this.gStrideT = b.gStrideT;
        this.extensions = b.extensions;
        if (extensions == null) {
            throw new IllegalArgumentException("extensions must not be null (LossExtensions.NONE for none)");
        }
        checkExtensions(extensions);
        this.entropyOut = b.entropyOut;
        this.argMaxOut = b.argMaxOut;
        if (entropyOut != null && entropyOut.length < targets.length) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "entropyOut must hold batch*seqLen = %d entries, had %d", targets.length, entropyOut.length));
        }
        if (argMaxOut != null && argMaxOut.length < targets.length) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "argMaxOut must hold batch*seqLen = %d entries, had %d", targets.length, argMaxOut.length));
        }
        if (!(batch >= 0 && seqLen >= 0 && vocab >= 0)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "shape must be non-negative, was [%d, %d, %d]", batch, seqLen, vocab));
        }
        if (targets.length != (long) batch * seqLen) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "targets.length must be batch*seqLen = %d, was %d", (long) batch * seqLen, targets.length));
        }
        if (type == null || DType.of(type) == null) {
            throw new IllegalArgumentException("logits type must be FLOAT32, BFLOAT16 or FLOAT16, was " + type);
        }
        if (logits == 0 && targets.length > 0) {
            throw new IllegalArgumentException("logits must be a device address, was 0");
        }
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] >= vocab) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "targets[%d] must be < vocab = %d (or negative for an inactive position), was %d",
                        i, vocab, targets[i]));
            }
        }
        if (gradScale != null) {
            if (gradScale.length != targets.length) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "gradScale.length must be batch*seqLen = %d, was %d", targets.length, gradScale.length));
            }
            if (gradType != type && gradType != ElementType.FLOAT32) {
                throw new IllegalArgumentException("gradient type must be the logits type (" + type
                        + ") or FLOAT32, was " + gradType);
            }
            if (gradient == 0 && targets.length > 0) {
                throw new IllegalArgumentException("gradient must be a device address, was 0");
            }
            boolean overlaps = gradient == logits;
            if (overlaps && (gradType != type || gStrideB != strideB || gStrideT != strideT)) {
                throw new IllegalArgumentException("an in-place gradient must have the logits' type and strides");
            }
        }
    }

    /** The rules of SPEC section 10 for the extensions: eps in [0, 1), lambda and c finite and >= 0. */
    private static void checkExtensions(LossExtensions x) {
        if (!(x.labelSmoothing() >= 0.0 && x.labelSmoothing() < 1.0)) {
            throw new IllegalArgumentException("labelSmoothing must be in [0, 1), was " + x.labelSmoothing());
        }
        if (!(x.zLoss() >= 0.0 && x.zLoss() < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("zLoss must be finite and >= 0, was " + x.zLoss());
        }
        if (!(x.softCap() >= 0.0 && x.softCap() < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("softCap must be finite and >= 0 (0 = off), was " + x.softCap());
        }
    }

    /** @return the extensions of SPEC section 7 this problem uses ({@link LossExtensions#NONE} by default) */
    public LossExtensions extensions() {
        return extensions;
    }

    /** @return whether a gradient is requested */
    public boolean wantsGradient() {
        return gradScale != null;
    }

    /** @return B*N */
    public int positions() {
        return targets.length;
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of a {@link DeviceLossProblem}. */
    public static final class Builder {
        private int batch;
        private int seqLen;
        private int vocab;
        private long logits;
        private ElementType type;
        private long strideB;
        private long strideT;
        private int[] targets;
        private double[] gradScale;
        private long gradient;
        private ElementType gradType;
        private long gStrideB;
        private long gStrideT;
        private LossExtensions extensions = LossExtensions.NONE;
        private double[] entropyOut;
        private int[] argMaxOut;

        private Builder() {
        }

        /**
         * Asks for the entropy of every position (SPEC section 13, as {@link org.plw4j.kernel.LossProblem#entropyOut()}).
         *
         * @param out {@code B*N} entries or more, written by the call; null for none
         * @return this
         */
        public Builder entropyOut(double[] out) {
            this.entropyOut = out;
            return this;
        }

        /**
         * Asks for the arg-max of every position (SPEC section 13, as {@link org.plw4j.kernel.LossProblem#argMaxOut()}).
         *
         * @param out {@code B*N} entries or more, written by the call; null for none
         * @return this
         */
        public Builder argMaxOut(int[] out) {
            this.argMaxOut = out;
            return this;
        }

        /**
         * @param extensions label smoothing, z-loss and soft-cap of SPEC section 7 (default none)
         * @return this
         */
        public Builder extensions(LossExtensions extensions) {
            this.extensions = extensions;
            return this;
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
         * @param address device address of logit (0, 0, 0)
         * @param type FLOAT32, BFLOAT16 or FLOAT16
         * @param strideB batch stride in elements
         * @param strideT time stride in elements
         * @return this
         */
        public Builder logits(long address, ElementType type, long strideB, long strideT) {
            this.logits = address;
            this.type = type;
            this.strideB = strideB;
            this.strideT = strideT;
            return this;
        }

        /**
         * @param targets per position the target id in [0, V), or negative when inactive (not copied)
         * @return this
         */
        public Builder targets(int[] targets) {
            this.targets = targets;
            return this;
        }

        /**
         * Requests the gradient {@code scale[i] * (softmax - onehot)} per active row.
         *
         * @param scale per position factor (not copied)
         * @param address device address of gradient (0, 0, 0); the logits' address writes in place
         * @param type the logits' type or FLOAT32
         * @param strideB batch stride in elements
         * @param strideT time stride in elements
         * @return this
         */
        public Builder gradient(double[] scale, long address, ElementType type, long strideB, long strideT) {
            this.gradScale = scale;
            this.gradient = address;
            this.gradType = type;
            this.gStrideB = strideB;
            this.gStrideT = strideT;
            return this;
        }

        /**
         * @return the problem
         * @throws IllegalArgumentException if a field breaks the rules above
         */
        public DeviceLossProblem build() {
            return new DeviceLossProblem(this);
        }
    }
}
