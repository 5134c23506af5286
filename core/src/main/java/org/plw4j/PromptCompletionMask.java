package org.plw4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Which tokens of a batch are prompt, completion or ignored (SPEC section 8), or explicit per-token
 * weights. Roles are aligned with <em>input positions</em> {@code [B, N]}: the role of a token is the
 * role of predicting it. Immutable and thread-safe.
 *
 * <pre>{@code
 * PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
 *         new int[] {3, 2}, new int[] {5, 4}, 6, Padding.RIGHT);
 * }</pre>
 */
public final class PromptCompletionMask {
    private final int batch;
    private final int length;
    /** [B*N] role codes, or null when only weights are given. */
    private final byte[] roles;
    /** [B*N] explicit weights, or null when the weights come from roles and the PLW. */
    private final double[] weights;
    /** Rows reported by the builder (e.g. response template not found), ascending. */
    private final int[] reportedRows;

    PromptCompletionMask(int batch, int length, byte[] roles, double[] weights, int[] reportedRows) {
        this.batch = batch;
        this.length = length;
        this.roles = roles;
        this.weights = weights;
        this.reportedRows = reportedRows == null ? new int[0] : reportedRows;
    }

    /**
     * Roles given directly as codes (0 IGNORE, 1 PROMPT, 2 COMPLETION, see {@link TokenRole}).
     *
     * @param roles {@code [B, N]} array of codes, any numeric dtype holding integral values
     * @return the mask
     * @throws IllegalArgumentException if {@code roles} is null, not rank 2, or holds a value other than 0, 1, 2
     */
    public static PromptCompletionMask ofRoles(INDArray roles) {
        Objects.requireNonNull(roles, "roles");
        requireRank2(roles, "roles");
        long[] codes = Nd4jArrays.integral(roles, "roles");
        int b = (int) roles.size(0);
        int n = (int) roles.size(1);
        return new PromptCompletionMask(b, n, codes(codes, roles.shape(), "roles"), null, null);
    }

    /**
     * Roles given directly as codes, one {@code int[]} per row (all rows the same length).
     *
     * @param roles {@code [B][N]} codes 0, 1, 2
     * @return the mask
     * @throws IllegalArgumentException on ragged rows or a code other than 0, 1, 2
     */
    public static PromptCompletionMask ofRoles(int[][] roles) {
        Objects.requireNonNull(roles, "roles");
        int b = roles.length;
        int n = b == 0 ? 0 : roles[0].length;
        long[] flat = new long[b * n];
        for (int r = 0; r < b; r++) {
            if (roles[r].length != n) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "roles rows must all have length %d, row %d had %d", n, r, roles[r].length));
            }
            for (int t = 0; t < n; t++) {
                flat[r * n + t] = roles[r][t];
            }
        }
        return new PromptCompletionMask(b, n, codes(flat, new long[] {b, n}, "roles"), null, null);
    }

    /**
     * Explicit per-token weights instead of roles and a PLW (SPEC section 1): the weight of predicting
     * each input position. The prompt/completion breakdown is then unavailable (reported as 0 tokens).
     *
     * @param weights {@code [B, N]}, finite and {@code >= 0}
     * @return the mask
     * @throws IllegalArgumentException if not rank 2 or a weight is negative, NaN or infinite
     */
    public static PromptCompletionMask ofWeights(INDArray weights) {
        Objects.requireNonNull(weights, "weights");
        requireRank2(weights, "weights");
        double[] w = Nd4jArrays.doubles(weights, "weights");
        checkWeights(w, weights.shape());
        return new PromptCompletionMask((int) weights.size(0), (int) weights.size(1), null, w, null);
    }

    /**
     * Explicit per-token weights together with roles, so that the prompt/completion metrics are still
     * reported. The roles decide which targets are measured; the weights decide the loss.
     *
     * @param weights {@code [B, N]}, finite and {@code >= 0}
     * @param roles {@code [B, N]} codes 0, 1, 2
     * @return the mask
     * @throws IllegalArgumentException on a bad weight or code, or mismatched shapes
     */
    public static PromptCompletionMask ofWeights(INDArray weights, INDArray roles) {
        PromptCompletionMask w = ofWeights(weights);
        PromptCompletionMask r = ofRoles(roles);
        if (w.batch != r.batch || w.length != r.length) {
            throw new IllegalArgumentException("weights and roles must have the same shape, were "
                    + Nd4jArrays.shape(weights) + " and " + Nd4jArrays.shape(roles));
        }
        return new PromptCompletionMask(w.batch, w.length, r.roles, w.weights, null);
    }

    static void checkWeights(double[] w, long[] shape) {
        for (int i = 0; i < w.length; i++) {
            double x = w[i];
            if (!(x >= 0 && x < Double.POSITIVE_INFINITY)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "weights must be finite and >= 0, element %s was %s", Nd4jArrays.index(shape, i), x));
            }
        }
    }

    static byte[] codes(long[] values, long[] shape, String param) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            long c = values[i];
            if (c < 0 || c > 2) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s must hold role codes 0 (IGNORE), 1 (PROMPT) or 2 (COMPLETION), element %s was %d",
                        param, Nd4jArrays.index(shape, i), c));
            }
            out[i] = (byte) c;
        }
        return out;
    }

    static void requireRank2(INDArray a, String param) {
        if (a.rank() != 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have rank 2 [B, N], had rank %d with shape %s", param, a.rank(), Nd4jArrays.shape(a)));
        }
    }

    /** @return B */
    public int batchSize() {
        return batch;
    }

    /** @return N */
    public int sequenceLength() {
        return length;
    }

    /** @return whether roles are known (false for {@link #ofWeights(INDArray)} without roles) */
    public boolean hasRoles() {
        return roles != null;
    }

    /** @return whether explicit weights replace the PLW */
    public boolean hasWeights() {
        return weights != null;
    }

    /**
     * @param b row
     * @param t position
     * @return the role of input position {@code (b, t)}
     * @throws IllegalStateException if the mask holds only weights
     */
    public TokenRole role(int b, int t) {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        Objects.checkIndex(b, batch);
        Objects.checkIndex(t, length);
        return TokenRole.ofCode(roles[b * length + t]);
    }

    /**
     * @return a new {@code [B, N]} INT array of role codes (0 IGNORE, 1 PROMPT, 2 COMPLETION)
     * @throws IllegalStateException if the mask holds only weights
     */
    public INDArray roles() {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        int[] codes = new int[roles.length];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = roles[i];
        }
        return Nd4j.createFromArray(codes).reshape(batch, length).castTo(DataType.INT);
    }

    /** @return a copy of the roles as {@code int[B][N]} codes */
    public int[][] rolesAsInts() {
        if (roles == null) {
            throw new IllegalStateException("this mask holds explicit weights without roles");
        }
        int[][] out = new int[batch][length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                out[b][t] = roles[b * length + t];
            }
        }
        return out;
    }

    /** @return a new {@code [B, N]} DOUBLE array of the explicit weights, or null if none */
    public INDArray weights() {
        return weights == null ? null : Nd4j.createFromArray(weights.clone()).reshape(batch, length);
    }

    /**
     * Rows that the builder reported: for {@code ofResponseTemplate} the rows in which the response
     * template was not found (they are all IGNORE, so they are never silently trained).
     *
     * @return the row indices, ascending (a copy)
     */
    public int[] reportedRows() {
        return reportedRows.clone();
    }

    /** @return the number of PROMPT input positions */
    public long promptCount() {
        return count(1);
    }

    /** @return the number of COMPLETION input positions */
    public long completionCount() {
        return count(2);
    }

    private long count(int code) {
        if (roles == null) {
            return 0;
        }
        long c = 0;
        for (byte r : roles) {
            if (r == code) {
                c++;
            }
        }
        return c;
    }

    byte[] roleCodes() {
        return roles;
    }

    double[] weightValues() {
        return weights;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PromptCompletionMask)) {
            return false;
        }
        PromptCompletionMask m = (PromptCompletionMask) o;
        return batch == m.batch && length == m.length && Arrays.equals(roles, m.roles)
                && Arrays.equals(weights, m.weights) && Arrays.equals(reportedRows, m.reportedRows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(batch, length, Arrays.hashCode(roles), Arrays.hashCode(weights));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "PromptCompletionMask[B=%d, N=%d, prompt=%d, completion=%d%s]",
                batch, length, promptCount(), completionCount(), weights != null ? ", explicit weights" : "");
    }
}
