package org.plw4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The result of {@link SequencePacker#pack(int[][], int[])}: {@code R} rows of {@code N} tokens, each
 * holding whole examples end to end from position 0, padding after them. Per position it gives the
 * token id, the role ({@link #mask()}), the position id within its example and the segment id of its
 * example; per example, its row and offset. Immutable and thread-safe; accessors return copies.
 *
 * <p>Attention: a token must attend only to earlier tokens of its own example. With segment ids
 * {@code s} (1, 2, ... per example in a row, 0 for padding) the block-diagonal causal mask is
 * {@code allowed(q, k) = k <= q && s[q] == s[k] && s[q] != 0}; kernels that take sequence boundaries
 * (variable-length attention) can use {@link #examplesPerRow()} or the position ids, which restart at
 * 0 at every example start.
 *
 * <pre>{@code
 * PackedBatch packed = SequencePacker.of(8, 0).pack(
 *         new int[][] {{5, 6, 7, 8, 9}, {1, 2, 3}, {4, 4}}, new int[] {2, 1, 1});
 * packed.inputIds();    // {{5, 6, 7, 8, 9, 1, 2, 3}, {4, 4, 0, 0, 0, 0, 0, 0}}
 * packed.positionIds(); // {{0, 1, 2, 3, 4, 0, 1, 2}, {0, 1, 0, 0, 0, 0, 0, 0}}
 * packed.segmentIds();  // {{1, 1, 1, 1, 1, 2, 2, 2}, {1, 1, 0, 0, 0, 0, 0, 0}}
 * packed.mask();        // {{I, P, C, C, C, I, C, C}, {I, C, I, I, I, I, I, I}}
 * packed.density();     // 10 / 16 = 0.625
 * }</pre>
 */
public final class PackedBatch {
    private final int maxLength;
    private final int padId;
    private final PackingStrategy strategy;
    private final int[][] ids;
    private final int[][] positions;
    private final int[][] segments;
    private final int[][] rowExamples;
    private final int[][][] examplesPerRow;
    private final int[] exampleRow;
    private final int[] exampleOffset;
    private final int[] oversized;
    private final long realTokens;
    private final PromptCompletionMask mask;

    private PackedBatch(int maxLength, int padId, PackingStrategy strategy, int[][] ids, int[][] positions,
            int[][] segments, int[][] rowExamples, int[][][] examplesPerRow, int[] exampleRow, int[] exampleOffset,
            int[] oversized, long realTokens) {
        this.maxLength = maxLength;
        this.padId = padId;
        this.strategy = strategy;
        this.ids = ids;
        this.positions = positions;
        this.segments = segments;
        this.rowExamples = rowExamples;
        this.examplesPerRow = examplesPerRow;
        this.exampleRow = exampleRow;
        this.exampleOffset = exampleOffset;
        this.oversized = oversized;
        this.realTokens = realTokens;
        this.mask = PromptCompletionMask.ofPacked(examplesPerRow, maxLength);
    }

    static PackedBatch build(int[][] exampleIds, int[] promptLengths, int maxLength, int padId,
            PackingStrategy strategy, int[][] rowExamples, int[] exampleRow, int[] exampleOffset, int[] oversized) {
        int rows = rowExamples.length;
        int[][] ids = new int[rows][maxLength];
        int[][] positions = new int[rows][maxLength];
        int[][] segments = new int[rows][maxLength];
        int[][][] spec = new int[rows][][];
        long real = 0;
        for (int r = 0; r < rows; r++) {
            Arrays.fill(ids[r], padId);
            spec[r] = new int[rowExamples[r].length][];
            for (int k = 0; k < rowExamples[r].length; k++) {
                int i = rowExamples[r][k];
                int[] x = exampleIds[i];
                int off = exampleOffset[i];
                System.arraycopy(x, 0, ids[r], off, x.length);
                for (int j = 0; j < x.length; j++) {
                    positions[r][off + j] = j;
                    segments[r][off + j] = k + 1;
                }
                spec[r][k] = new int[] {promptLengths[i], x.length - promptLengths[i]};
                real += x.length;
            }
        }
        return new PackedBatch(maxLength, padId, strategy, ids, positions, segments, rowExamples, spec, exampleRow,
                exampleOffset, oversized, real);
    }

    private static int[][] copy(int[][] a) {
        int[][] c = new int[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    @SuppressWarnings("deprecation") // DataType.INT is the 32-bit integer type ND4J's natives use
    private static INDArray array(int[][] a, int n) {
        if (a.length == 0) {
            return Nd4j.create(DataType.INT, 0, n);
        }
        return Nd4j.createFromArray(a);
    }

    /** @return {@code R}, the number of rows */
    public int rows() {
        return ids.length;
    }

    /** @return {@code N}, the row length */
    public int maxLength() {
        return maxLength;
    }

    /** @return the id in padding positions */
    public int padId() {
        return padId;
    }

    /** @return the strategy that packed these rows */
    public PackingStrategy strategy() {
        return strategy;
    }

    /** @return {@code [R][N]} token ids, padding = {@link #padId()} */
    public int[][] inputIds() {
        return copy(ids);
    }

    /** @return {@code [R, N]} INT array of the token ids, for {@code WeightedCausalLMLoss.compute} */
    public INDArray inputIdsArray() {
        return array(ids, maxLength);
    }

    /**
     * The roles, as {@link PromptCompletionMask#ofPacked(int[][][], int)} makes them from
     * {@link #examplesPerRow()}: each example's first token IGNORE, then prompt PROMPT and completion
     * COMPLETION, padding IGNORE.
     *
     * @return the mask, {@code [R, N]}
     */
    public PromptCompletionMask mask() {
        return mask;
    }

    /** @return {@code [R][N]} position ids: 0, 1, ... within each example, 0 in padding */
    public int[][] positionIds() {
        return copy(positions);
    }

    /** @return {@code [R, N]} INT array of {@link #positionIds()} */
    public INDArray positionIdsArray() {
        return array(positions, maxLength);
    }

    /**
     * @return {@code [R][N]} segment ids: {@code k + 1} for the tokens of the {@code k}-th example of the
     *         row (placement order), 0 in padding
     */
    public int[][] segmentIds() {
        return copy(segments);
    }

    /** @return {@code [R, N]} INT array of {@link #segmentIds()} */
    public INDArray segmentIdsArray() {
        return array(segments, maxLength);
    }

    /** @return {@code [R][N]} 1 for tokens of an example, 0 for padding (for {@link PromptCompletionMask#ofAttentionMask(int[][], int[])} and models) */
    public int[][] attentionMask() {
        int[][] a = new int[segments.length][maxLength];
        for (int r = 0; r < a.length; r++) {
            for (int t = 0; t < maxLength; t++) {
                a[r][t] = segments[r][t] != 0 ? 1 : 0;
            }
        }
        return a;
    }

    /** @return per row, the indices of the examples in it, in order of position */
    public int[][] rowExamples() {
        return copy(rowExamples);
    }

    /**
     * @return per row, per example {@code {promptLen, completionLen}}, the input of
     *         {@link PromptCompletionMask#ofPacked(int[][][], int)}
     */
    public int[][][] examplesPerRow() {
        int[][][] c = new int[examplesPerRow.length][][];
        for (int r = 0; r < c.length; r++) {
            c[r] = copy(examplesPerRow[r]);
        }
        return c;
    }

    /**
     * @param example an input index
     * @return the row holding it, or -1 if it was oversized
     * @throws IndexOutOfBoundsException if {@code example} is not an input index
     */
    public int rowOf(int example) {
        return exampleRow[Objects.checkIndex(example, exampleRow.length)];
    }

    /**
     * @param example an input index
     * @return the position of its first token in its row, or -1 if it was oversized
     * @throws IndexOutOfBoundsException if {@code example} is not an input index
     */
    public int offsetOf(int example) {
        return exampleOffset[Objects.checkIndex(example, exampleOffset.length)];
    }

    /** @return the indices of the examples longer than {@code N}, ascending: reported, not packed, not cut */
    public int[] oversized() {
        return oversized.clone();
    }

    /** @return the number of packed (non-padding) tokens */
    public long realTokens() {
        return realTokens;
    }

    /**
     * The packing density {@code realTokens / (R * N)}, in {@code (0, 1]}; {@code NaN} when there are no
     * rows (nothing was packed).
     *
     * @return the density
     */
    public double density() {
        return ids.length == 0 ? Double.NaN : realTokens / ((double) ids.length * maxLength);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "PackedBatch[%s, rows=%d, N=%d, examples=%d, tokens=%d, density=%.4f, oversized=%d]",
                strategy, ids.length, maxLength, exampleRow.length - oversized.length, realTokens, density(),
                oversized.length);
    }
}
