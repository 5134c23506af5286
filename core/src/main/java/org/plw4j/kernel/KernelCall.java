package org.plw4j.kernel;

/**
 * What one call of {@link FusedCpuKernel} shares between its workers: the problem, the outputs, and the
 * facts about the memory that every worker would otherwise work out again. Read-only, apart from the
 * outputs, which workers write at disjoint positions.
 */
final class KernelCall {
    /** Elements per row work unit (rounded up to whole rows). */
    private static final int UNIT_ELEMENTS = 1 << 14;
    /** Vocabularies of at least this size take the row path even when strideT == 1 (tile indices are floats). */
    private static final int MAX_TILED_VOCAB = 1 << 24;

    /** How the workers walk the logits. */
    enum Mode {
        /** fp32/fp16/bf16 rows (contiguous vocabulary, or gathered with their stride): {@link FloatRowWorker}. */
        FLOAT_ROWS,
        /** fp64 rows: {@link DoubleRowWorker}. */
        DOUBLE_ROWS,
        /** fp32/fp16/bf16 with strideT == 1: tiles of time steps, {@link NcwWorker}. */
        NCW_TILES
    }

    final LossProblem problem;
    final double[] tokenLoss;
    final boolean[] tokenCorrect;
    final Mode mode;
    final int seqLen;
    final int vocab;
    /** Rows per work unit of the row modes. */
    final int rowsPerUnit;
    final Memory logits;
    final ElementType logitType;
    final long strideV;
    /** The heap fp32 logits when they can be read in place (strideV == 1), else null. */
    final float[] logitFloats;
    /** The heap fp64 logits when they can be read in place (strideV == 1), else null. */
    final double[] logitDoubles;
    final int[] targets;
    final boolean wantsGradient;
    final double[] gradScale;
    final Memory gradient;
    /** The gradient's element type, null without a gradient. */
    final ElementType gradType;
    final long gradStrideV;
    final long gradStrideT;
    /** The heap fp32 gradient when it can be written in place (gradStrideV == 1), else null. */
    final float[] gradFloats;
    /** The heap fp64 gradient when it can be written in place (gradStrideV == 1), else null. */
    final double[] gradDoubles;
    /** Label smoothing, z-loss, soft-capping (SPEC section 7); null when the problem uses none. */
    final FusedExtensions extensions;
    /** Per-position entropy and arg-max outputs (SPEC section 13), null when not asked for. */
    final double[] entropyOut;
    final int[] argMaxOut;

    KernelCall(LossProblem p, double[] tokenLoss, boolean[] tokenCorrect) {
        this.problem = p;
        this.tokenLoss = tokenLoss;
        this.tokenCorrect = tokenCorrect;
        this.seqLen = p.seqLen();
        this.vocab = p.vocab();
        this.rowsPerUnit = Math.max(1, (UNIT_ELEMENTS + Math.max(1, vocab) - 1) / Math.max(1, vocab));
        this.logits = p.logits();
        this.logitType = logits.type();
        this.strideV = p.strideV();
        this.logitFloats = strideV == 1 && logits instanceof Memory.FloatArray f ? f.array() : null;
        this.logitDoubles = strideV == 1 && logits instanceof Memory.DoubleArray d ? d.array() : null;
        this.targets = p.targets();
        this.wantsGradient = p.wantsGradient();
        this.gradScale = p.gradScale();
        this.gradient = p.gradient();
        this.gradType = wantsGradient ? gradient.type() : null;
        this.gradStrideV = p.gStrideV();
        this.gradStrideT = p.gStrideT();
        this.gradFloats = wantsGradient && gradStrideV == 1 && gradient instanceof Memory.FloatArray f ? f.array() : null;
        this.gradDoubles = wantsGradient && gradStrideV == 1 && gradient instanceof Memory.DoubleArray d
                ? d.array() : null;
        this.extensions = FusedExtensions.of(p);
        this.entropyOut = p.entropyOut();
        this.argMaxOut = p.argMaxOut();
        if (logitType == ElementType.FLOAT64) {
            mode = Mode.DOUBLE_ROWS;
        } else if (strideV != 1 && p.strideT() == 1 && vocab < MAX_TILED_VOCAB) {
            mode = Mode.NCW_TILES;
        } else {
            mode = Mode.FLOAT_ROWS;
        }
    }

    /** @return whether the logits or the gradient hold 16-bit values (workers then need a short scratch) */
    boolean sixteenBit() {
        return logitType.bytes() == 2 || (wantsGradient && gradType.bytes() == 2);
    }

    /**
     * @param tileWidth time steps per tile of the NCW mode
     * @return the number of work units
     */
    int units(int tileWidth) {
        if (mode == Mode.NCW_TILES) {
            return problem.batch() * ((seqLen + tileWidth - 1) / tileWidth);
        }
        return (problem.positions() + rowsPerUnit - 1) / rowsPerUnit;
    }

    /**
     * @param ops the row operations of the worker
     * @return a worker for this call's mode, with its own scratch
     */
    KernelWorker newWorker(RowOps ops) {
        return switch (mode) {
            case FLOAT_ROWS -> new FloatRowWorker(this, ops);
            case DOUBLE_ROWS -> new DoubleRowWorker(this, ops);
            case NCW_TILES -> new NcwWorker(this, ops);
        };
    }
}
