package org.plw4j.dl4j;

import java.util.Arrays;
import java.util.Locale;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.PromptCompletionMask;
import org.plw4j.TokenRole;

/**
 * One call of the DL4J loss, checked and translated for {@link org.plw4j.WeightedCausalLMLoss}: the
 * {@code [rows, V]} pre-output as {@code [1, rows, V]} NWC logits (a view, no copy), the target ids
 * {@code [1, rows]} and the roles. DL4J's rows are {@code b + mb*t} for {@code RnnOutputLayer}; the
 * weighted mean does not depend on their order.
 */
final class Batch {
    final int rows;
    final int vocab;
    final INDArray logits;
    final INDArray ids;
    final PromptCompletionMask roles;
    /** Per row the effective role code (IGNORE where masked or where the target is the ignore index). */
    final int[] roleCodes;

    private Batch(int rows, int vocab, INDArray logits, INDArray ids, PromptCompletionMask roles, int[] roleCodes) {
        this.rows = rows;
        this.vocab = vocab;
        this.logits = logits;
        this.ids = ids;
        this.roles = roles;
        this.roleCodes = roleCodes;
    }

    static Batch of(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask, int ignoreIndex) {
        if (!(activationFn instanceof ActivationIdentity)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "LossWeightedCausalLM needs the output layer's activation to be IDENTITY (it applies log-softmax"
                            + " to the logits itself), the activation was %s (%s)", activationFn,
                    activationFn == null ? "null" : activationFn.getClass().getName()));
        }
        if (preOutput == null || labels == null) {
            throw new IllegalArgumentException("LossWeightedCausalLM needs labels and preOutput, got "
                    + (labels == null ? "null labels" : "null preOutput"));
        }
        if (preOutput.rank() != 2 || preOutput.size(0) < 1 || preOutput.size(1) < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "preOutput must be [rows, V] (DL4J passes [mb*T, nOut] with nOut = vocabulary size), was %s",
                    Arrays.toString(preOutput.shape())));
        }
        long rowsL = preOutput.size(0);
        long vocabL = preOutput.size(1);
        if (rowsL > Integer.MAX_VALUE - 8 || vocabL > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "preOutput must have fewer than 2^31 rows and columns, was %s", Arrays.toString(preOutput.shape())));
        }
        int rows = (int) rowsL;
        int vocab = (int) vocabL;
        Targets t = Targets.of(labels, mask, rows, vocab, ignoreIndex);
        INDArray logits = preOutput.reshape(preOutput.ordering(), 1, rows, vocab);
        INDArray idArray = Nd4j.createFromArray(new int[][] {t.ids});
        PromptCompletionMask roles = PromptCompletionMask.ofRoles(new int[][] {t.codes});
        return new Batch(rows, vocab, logits, idArray, roles, t.codes);
    }

    /**
     * The checked targets of DL4J's flattened labels, per row: the target id (0 where ignored) and the effective
     * role code (IGNORE where masked or where the target is the ignore index).
     */
    record Targets(int[] ids, int[] codes) {
        /**
         * @param labels {@code [rows, 2]}: target id, role code
         * @param mask null, or the per-time-step labels mask {@code [rows, 1]} of 0/1
         * @param rows the number of rows
         * @param vocab the vocabulary size V
         * @param ignoreIndex a target id equal to it is ignored whatever its role
         * @return the rows' ids and codes
         * @throws IllegalArgumentException on a wrong shape, a role code other than 0/1/2, a non-integral or
         *         out-of-range target id on a row that is not ignored, or a mask value other than 0/1
         */
        static Targets of(INDArray labels, INDArray mask, int rows, int vocab, int ignoreIndex) {
            if (labels.rank() != 2 || labels.size(0) != rows || labels.size(1) != 2) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "labels must be [rows, 2] = [%d, 2] (DL4J flattens [mb, 2, T] labels: channel 0 target id,"
                                + " channel 1 role code), was %s", rows, Arrays.toString(labels.shape())));
            }
            DataType ldt = labels.dataType();
            long exactIntegers = ldt == DataType.FLOAT16 ? 2048 : ldt == DataType.BFLOAT16 ? 256 : Long.MAX_VALUE;
            if (vocab - 1L > exactIntegers) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "labels of dtype %s hold integers exactly only up to %d, too few for token ids up to V-1 = %d;"
                                + " use FLOAT or DOUBLE labels", ldt, exactIntegers, vocab - 1));
            }
            double[] keep = maskValues(mask, rows);
            double[] lab = labels.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            int[] ids = new int[rows];
            int[] codes = new int[rows];
            for (int i = 0; i < rows; i++) {
                if (keep != null && keep[i] == 0) {
                    continue; // masked: IGNORE, id 0 (the label row may hold anything)
                }
                double c = lab[2 * i + LossWeightedCausalLM.ROLE_CHANNEL];
                if (!(c == Math.rint(c) && TokenRole.isCode((long) c))) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "labels channel %d must hold role codes %s, row %d of the [rows, 2] labels (row = b + mb*t"
                                    + " for RnnOutputLayer) was %s", LossWeightedCausalLM.ROLE_CHANNEL, TokenRole.CODES, i, c));
                }
                if (c == TokenRole.IGNORE.code()) {
                    continue;
                }
                double y = lab[2 * i + LossWeightedCausalLM.TARGET_CHANNEL];
                if (y == ignoreIndex) {
                    continue;
                }
                if (!(y >= 0 && y < vocab && y == Math.rint(y))) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "labels channel %d must hold integral target ids in [0, %d) or the ignore index %d where"
                                    + " the role is not IGNORE, row %d of the [rows, 2] labels (row = b + mb*t for"
                                    + " RnnOutputLayer) was %s with role %d", LossWeightedCausalLM.TARGET_CHANNEL,
                            vocab, ignoreIndex, i, y, (int) c));
                }
                ids[i] = (int) y;
                codes[i] = (int) c;
            }
            return new Targets(ids, codes);
        }
    }

    /** @return per row 0 or 1, or null without a mask */
    private static double[] maskValues(INDArray mask, int rows) {
        if (mask == null) {
            return null;
        }
        if (mask.length() != rows || (mask.rank() == 2 && mask.size(1) != 1) || mask.rank() > 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "mask must be a per-time-step labels mask, [rows, 1] = [%d, 1] after DL4J's flattening of"
                            + " [mb, T]; per-output masks are not supported, was %s", rows,
                    Arrays.toString(mask.shape())));
        }
        double[] m = mask.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        for (int i = 0; i < rows; i++) {
            if (!(m[i] == 0 || m[i] == 1)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "mask must hold only 0 (IGNORE) or 1: DL4J multiplies the pre-output by the mask, so a"
                                + " fractional value would scale the logits; use the role channel and the prompt loss"
                                + " weight for weights; row %d was %s", i, m[i]));
            }
        }
        return m;
    }
}
