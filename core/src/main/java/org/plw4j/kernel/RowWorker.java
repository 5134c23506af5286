package org.plw4j.kernel;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * The row path of {@link FusedCpuKernel}: each work unit is {@link KernelCall#rowsPerUnit} consecutive
 * positions, each position one vocabulary row (contiguous, or gathered through its stride into the
 * worker's scratch). Inactive positions get loss +0, no arg-max hit and, with a gradient, a row of +0;
 * their logits are never read.
 *
 * <p>An active row takes three passes over a cache-resident row: its maximum (after soft-capping it into
 * {@link #row} when capped), the exp-sum (storing the exponentials where the gradient is formed; without a gradient, in
 * scratch when the entropy or label smoothing takes terms from that pass, else nowhere), then the scale pass and
 * the target's entry. Which arrays those passes read and write, the non-finite rows, the entropy and
 * label-smoothing bookkeeping and the gradient's write are the same for every element type and are decided here.
 * The subclasses give the row's array type {@code A} ({@code float[]} for fp32, fp16 and bf16 logits computed in
 * fp32, {@code double[]} for fp64) and what differs with it: reading a row, the exp-sum pass that also forms the
 * entropy terms, and the gradient row's write. Every other operation is one {@link RowOps} call (or one array
 * access) on either array type, chosen here by the array's class a few times a row, never per logit; the
 * per-logit loops are {@link RowOps}'. Scalars cross as double: a float row's maximum, target logit and sums
 * widen exactly, and the float operations narrow them back to the same floats.
 *
 * @param <A> the array type of one row
 */
abstract class RowWorker<A> extends KernelWorker {
    /** One row of logits (read, widened or soft-capped into it), then, without a heap gradient, its gradient. */
    final A row;
    /** The gradient row when {@link #row} holds the capped logits and the gradient is not a heap array; else null. */
    private final A gradientRow;
    /**
     * The exponentials of the terms pass ({@link #expSumTerms}) when no gradient row takes them (no gradient,
     * or a scale of 0: storing over the pass's own input measured slower on a loaded machine), or when the
     * heap gradient is the logits themselves and {@link #fusedTerms} is false. Null when neither the entropy
     * nor fused label smoothing is asked for.
     */
    private final A expRow;
    /** The heap logits, read in place; null when the rows are read into {@link #row}. */
    private final A heapLogits;
    /** The heap gradient, written in place; null when the gradient rows are written from scratch. */
    private final A heapGradient;
    /**
     * Whether {@link #expSumTerms} forms the entropy terms and {@code Σ (z - m)} in the exp-sum pass itself,
     * reading each logit before storing its exponential (so it may store over the logits, and label smoothing
     * alone needs no pass of its own); otherwise it sums the entropy terms from the stored exponentials and
     * the logits after that pass, and label smoothing's {@code Σ z} is always {@link #sum}'s pass.
     */
    private final boolean fusedTerms;

    /** The entropy term {@code T} of the last {@link #expSumTerms} with the entropy: the entropy is {@code log S - T / S}. */
    double entropyTerms;
    /** {@code Σ (z - m)} of the last {@link #expSumTerms} without the entropy, when {@link #fusedTerms}. */
    double shiftedLogitSum;

    /**
     * @param newRow allocates a row of the element type
     * @param heapLogits the call's heap logits of this type ({@link KernelCall#logitFloats} or
     *        {@link KernelCall#logitDoubles}), or null
     * @param heapGradient the call's heap gradient of this type, or null
     * @param fusedTerms see {@link #fusedTerms}
     */
    RowWorker(KernelCall call, RowOps ops, IntFunction<A> newRow, A heapLogits, A heapGradient, boolean fusedTerms) {
        super(call, ops, call.vocab);
        this.heapLogits = heapLogits;
        this.heapGradient = heapGradient;
        this.fusedTerms = fusedTerms;
        final FusedExtensions x = call.extensions;
        this.row = newRow.apply(vocab);
        this.gradientRow = x != null && x.capped && call.wantsGradient && heapGradient == null
                ? newRow.apply(vocab) : null;
        this.expRow = call.entropyOut != null || fusedTerms && x != null && x.needsLogitSum()
                ? newRow.apply(vocab) : null;
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

    /** Loss, arg-max hit, the outputs asked for and (if asked) gradient of the active position {@code i = b * seqLen + t}. */
    private void activeRow(int i, int b, int t, int target) {
        final FusedExtensions x = call.extensions;
        final boolean capped = x != null && x.capped;
        final long start = problem.rowStart(b, t);
        A logits;
        int rowOffset;
        double max;
        if (heapLogits != null) {
            logits = heapLogits;
            rowOffset = Math.toIntExact(start);
            max = capped ? Double.NaN : rowMax(logits, rowOffset);
        } else {
            logits = row;
            rowOffset = 0;
            max = readRow(start, !capped);   // a capped row's maximum comes from softCapRow
        }
        if (capped) {
            max = softCapRow(logits, rowOffset, x);
            logits = row;
            rowOffset = 0;
        }
        final double targetLogit = logit(logits, rowOffset + target);
        final boolean argMaxIsTarget = targetLogit == max && !anyAtLeast(logits, rowOffset, target, max);
        if (!(max > Double.NEGATIVE_INFINITY && max < Double.POSITIVE_INFINITY)) {
            nonFiniteRow(i, b, t, target, start, logits, rowOffset, max, argMaxIsTarget);
            return;
        }
        call.tokenCorrect[i] = argMaxIsTarget;
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = indexOf(logits, rowOffset, max);
        }
        finiteRow(i, b, t, target, logits, rowOffset, max, targetLogit, x);
    }

    /**
     * The outputs of a row whose maximum {@code max} is NaN or infinite: loss and entropy NaN; the arg-max is
     * the first NaN, else the first entry equal to the maximum; a gradient row of NaN when the scale is not 0
     * (+0 when it is).
     *
     * @param argMaxIsTarget whether the first entry equal to {@code max} is the target (ignored when NaN)
     */
    private void nonFiniteRow(int i, int b, int t, int target, long start, A logits, int rowOffset, double max,
            boolean argMaxIsTarget) {
        final int nan = max != max ? firstNaN(start) : -1;
        if (call.argMaxOut != null) {
            call.argMaxOut[i] = nan >= 0 ? nan : Math.max(0, indexOf(logits, rowOffset, max));
        }
        if (call.entropyOut != null) {
            call.entropyOut[i] = Double.NaN;
        }
        call.tokenLoss[i] = Double.NaN;
        call.tokenCorrect[i] = max != max ? nan == target : argMaxIsTarget;
        if (call.wantsGradient) {
            fillGradientRow(b, t, call.gradScale[i] == 0.0 ? 0.0 : Double.NaN);
        }
    }

    /**
     * A row with a finite maximum: the exp-sum pass, storing the exponentials at the gradient row when there is
     * a gradient (the heap gradient in place, else scratch written out after the row), then the loss, the
     * entropy (SPEC section 13) and the gradient. With the entropy or fused label smoothing the pass is
     * {@link #expSumTerms}, whose exponentials go to {@link #expRow} when there is no gradient row for them;
     * label smoothing's {@code Σ z} is {@code Σ (z - m) + V·m} from that pass when it has it, else a pass of
     * its own before the exp-sum (which may overwrite the logits).
     */
    private void finiteRow(int i, int b, int t, int target, A logits, int rowOffset, double max, double targetLogit,
            FusedExtensions x) {
        final double scale = call.wantsGradient ? call.gradScale[i] : 0.0;
        final boolean entropy = call.entropyOut != null;
        final boolean smoothing = x != null && x.needsLogitSum();
        final boolean shiftedSum = fusedTerms && smoothing && !entropy;
        A dst = null;
        int dstOffset = 0;
        if (scale != 0.0 && heapGradient != null) {
            dst = heapGradient;
            dstOffset = Math.toIntExact(problem.gRowStart(b, t));
            if (entropy && !fusedTerms && dst == logits && dstOffset == rowOffset) {
                dst = expRow;   // in place: keep the logits for the entropy terms
                dstOffset = 0;
            }
        } else if (scale != 0.0 && x != null && x.capped) {
            dst = gradientRow;
        } else if (entropy || shiftedSum) {
            dst = expRow;
        } else if (scale != 0.0) {
            dst = row;
        }
        final double logitSum = smoothing && !shiftedSum ? sum(logits, rowOffset) : 0.0;
        final double sum;
        if (entropy || shiftedSum) {
            sum = expSumTerms(logits, rowOffset, max, dst, dstOffset, entropy);
        } else if (dst != null) {
            sum = expSumStore(logits, rowOffset, max, dst, dstOffset);
        } else {
            sum = expSum(logits, rowOffset, max);
        }
        final double logSum = Math.log(sum);
        final double lse = max + logSum;
        if (entropy) {
            call.entropyOut[i] = logSum - entropyTerms / sum;
        }
        final double smoothingSum = shiftedSum ? shiftedLogitSum + (double) vocab * max : logitSum;
        call.tokenLoss[i] = x == null ? lse - targetLogit : x.loss(lse, targetLogit, smoothingSum);
        if (scale == 0.0) {
            if (call.wantsGradient) {
                fillGradientRow(b, t, 0.0);
            }
            return;
        }
        finishGradient(b, t, target, scale, sum, lse, targetLogit, logits, rowOffset, dst, dstOffset, x);
    }

    /**
     * The scale pass over the exponentials stored at {@code dst} (the plain {@code (s / S)·e}, or with the
     * extensions {@code fma(e, f, bias)}, times {@code 1 - (z'/c)²} when capped), the target's entry from
     * double, and the row's write when {@code dst} is not the heap gradient itself.
     */
    private void finishGradient(int b, int t, int target, double scale, double sum, double lse, double targetLogit,
            A logits, int rowOffset, A dst, int dstOffset, FusedExtensions x) {
        if (x == null) {
            scale(dst, dstOffset, scale / sum);
            put(dst, dstOffset + target, scale * (Math.exp(targetLogit - lse) - 1.0));
        } else {
            final double factor = scale * x.softmaxFactor(lse) / sum;
            final double bias = x.uniformGradient(scale);
            if (x.capped) {
                scaleAddCapped(dst, dstOffset, factor, bias, logits, rowOffset, x);
            } else {
                scaleAdd(dst, dstOffset, factor, bias);
            }
            put(dst, dstOffset + target, x.targetGradient(scale, lse, targetLogit));
        }
        if (dst != heapGradient) {
            writeGradient(problem.gRowStart(b, t), dst, dstOffset);
        }
    }

    /** Writes {@code value} (+0 or NaN) to every entry of the gradient row {@code (b, t)}. */
    private void fillGradientRow(int b, int t, double value) {
        final long start = problem.gRowStart(b, t);
        if (heapGradient != null) {
            fill(heapGradient, Math.toIntExact(start), value);
        } else {
            fill(row, 0, value);
            writeGradient(start, row, 0);
        }
    }

    // ---------------------------------------------------------------- the typed operations, over one row

    /**
     * Reads the row at element {@code start} into {@link #row}.
     *
     * @param withMax whether to form the maximum ({@link RowOps#max})
     * @return the maximum of the row when {@code withMax}, else NaN
     */
    abstract double readRow(long start, boolean withMax);

    /**
     * {@link #expSumStore} (the same sum bit for bit), and {@link #entropyTerms} when {@code entropy}, else
     * {@link #shiftedLogitSum} (asked for only when {@link #fusedTerms}).
     */
    abstract double expSumTerms(A a, int off, double shift, A dst, int doff, boolean entropy);

    /** Writes the row {@code src[off ..]} to the gradient at element {@code start} (through its stride). */
    abstract void writeGradient(long start, A src, int off);

    // The operations below are the same for both array types: each is one RowOps call (or array access) on
    // the float[] or the double[] row, chosen per row.

    /** @return the maximum of the row at {@code a[off ..]} */
    private double rowMax(A a, int off) {
        return a instanceof float[] f ? ops.max(f, off, vocab) : ops.max((double[]) a, off, vocab);
    }

    /** Soft-caps the row at {@code a[off ..]} into {@link #row}; @return the capped row's maximum */
    private double softCapRow(A a, int off, FusedExtensions x) {
        if (a instanceof float[] f) {
            return ops.softCapMax(f, off, (float[]) row, 0, vocab, x.capFloat, x.inverseCapFloat);
        }
        return ops.softCapMax((double[]) a, off, (double[]) row, 0, vocab, x.softCap, x.inverseCap);
    }

    /** @return {@code a[k]} */
    private static double logit(Object a, int k) {
        return a instanceof float[] f ? f[k] : ((double[]) a)[k];
    }

    /** @return whether some {@code a[off + k] >= m}, {@code 0 <= k < n} */
    private boolean anyAtLeast(A a, int off, int n, double m) {
        return a instanceof float[] f ? ops.anyAtLeast(f, off, n, (float) m) : ops.anyAtLeast((double[]) a, off, n, m);
    }

    /** @return the first {@code k} with {@code a[off + k] == m} ({@code m} not NaN), or -1 */
    private int indexOf(A a, int off, double m) {
        return a instanceof float[] f ? RowOps.indexOf(f, off, vocab, (float) m)
                : RowOps.indexOf((double[]) a, off, vocab, m);
    }

    /** @return {@code Σ exp(a[off + k] - shift)} */
    private double expSum(A a, int off, double shift) {
        return a instanceof float[] f ? ops.expSum(f, off, vocab, (float) shift)
                : ops.expSum((double[]) a, off, vocab, shift);
    }

    /** {@link #expSum}, storing each term at {@code dst[doff + k]}. */
    private double expSumStore(A a, int off, double shift, A dst, int doff) {
        if (a instanceof float[] f) {
            return ops.expSumStore(f, off, vocab, (float) shift, (float[]) dst, doff);
        }
        return ops.expSumStore((double[]) a, off, vocab, shift, (double[]) dst, doff);
    }

    /** @return {@code Σ a[off + k]} */
    private double sum(A a, int off) {
        return a instanceof float[] f ? ops.sum(f, off, vocab) : ops.sum((double[]) a, off, vocab);
    }

    /** {@code a[off + k] *= f}. */
    private void scale(A a, int off, double factor) {
        if (a instanceof float[] f) {
            ops.scale(f, off, vocab, (float) factor);
        } else {
            ops.scale((double[]) a, off, vocab, factor);
        }
    }

    /** {@code a[off + k] = fma(a[off + k], factor, bias)}. */
    private void scaleAdd(A a, int off, double factor, double bias) {
        if (a instanceof float[] f) {
            ops.scaleAdd(f, off, vocab, (float) factor, (float) bias);
        } else {
            ops.scaleAdd((double[]) a, off, vocab, factor, bias);
        }
    }

    /** {@link #scaleAdd}, times {@code 1 - (z'/c)²} of the capped logits {@code z[zoff ..]}. */
    private void scaleAddCapped(A a, int off, double factor, double bias, A z, int zoff, FusedExtensions x) {
        if (a instanceof float[] f) {
            ops.scaleAddCapped(f, off, vocab, (float) factor, (float) bias, (float[]) z, zoff, x.inverseCapFloat);
        } else {
            ops.scaleAddCapped((double[]) a, off, vocab, factor, bias, (double[]) z, zoff, x.inverseCap);
        }
    }

    /** {@code a[k] = value}. */
    private static void put(Object a, int k, double value) {
        if (a instanceof float[] f) {
            f[k] = (float) value;
        } else {
            ((double[]) a)[k] = value;
        }
    }

    /** {@code a[off + k] = value} for the row's {@code k}. */
    private void fill(A a, int off, double value) {
        if (a instanceof float[] f) {
            Arrays.fill(f, off, off + vocab, (float) value);
        } else {
            Arrays.fill((double[]) a, off, off + vocab, value);
        }
    }
}
