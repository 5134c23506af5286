package org.plw4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * Packs examples of different lengths into rows of at most {@code N} tokens (SPEC section 8), so that
 * a batch wastes little on padding. Returns the packed ids, the {@link PromptCompletionMask} (with the
 * rule of {@link PromptCompletionMask#ofPacked(int[][][], int)}: every example's first token is IGNORE
 * as a target), position ids that restart at 0 for each example, segment ids for a block-diagonal
 * attention mask, which example went where, the packing density, and the examples longer than a row,
 * which are reported and left out, never cut.
 *
 * <p>Within a row the examples lie end to end from position 0 in the order they were placed, the
 * padding after them. Immutable and thread-safe; {@link #pack(int[][], int[])} may be called
 * concurrently. Cost: {@code O(E log E + N)} time for {@code E} examples, plus the output, which holds
 * 13 bytes per position (ids, position ids, segment ids as {@code int}, roles as {@code byte}): pack a
 * large dataset shard by shard, or a few thousand examples at a time.
 *
 * <pre>{@code
 * SequencePacker packer = SequencePacker.of(2048, tokenizer.padId());
 * PackedBatch packed = packer.pack(exampleIds, promptLengths);
 * LossResult r = loss.compute(logits, packed.inputIdsArray(), packed.mask());
 * System.out.printf("%d rows, density %.3f, %d too long%n",
 *         packed.rows(), packed.density(), packed.oversized().length);
 * }</pre>
 */
public final class SequencePacker {
    private static final System.Logger LOG = System.getLogger(SequencePacker.class.getName());

    private final int maxLength;
    private final int padId;
    private final PackingStrategy strategy;
    private final int maxExamplesPerRow;

    private SequencePacker(int maxLength, int padId, PackingStrategy strategy, int maxExamplesPerRow) {
        this.maxLength = maxLength;
        this.padId = padId;
        this.strategy = strategy;
        this.maxExamplesPerRow = maxExamplesPerRow;
    }

    /**
     * A first-fit-decreasing packer without a limit on examples per row.
     *
     * <pre>{@code
     * SequencePacker packer = SequencePacker.of(512, 0);
     * }</pre>
     *
     * @param maxLength {@code N}, the row length, {@code >= 1}
     * @param padId the token id written into padding positions
     * @return the packer
     * @throws IllegalArgumentException if {@code maxLength < 1}
     */
    public static SequencePacker of(int maxLength, int padId) {
        MaskBuilders.checkMaxLength(maxLength);
        return new SequencePacker(maxLength, padId, PackingStrategy.FIRST_FIT_DECREASING, Integer.MAX_VALUE);
    }

    /**
     * The same packer with another strategy.
     *
     * <pre>{@code
     * SequencePacker spfhp = SequencePacker.of(512, 0).withStrategy(PackingStrategy.SHORTEST_PACK_FIRST);
     * }</pre>
     *
     * @param strategy how examples are assigned to rows
     * @return a new packer
     * @throws NullPointerException if {@code strategy} is null
     */
    public SequencePacker withStrategy(PackingStrategy strategy) {
        return new SequencePacker(maxLength, padId, Objects.requireNonNull(strategy, "strategy"), maxExamplesPerRow);
    }

    /**
     * The same packer with at most {@code k} examples per row (attention kernels and the SPFHP paper
     * bound it; {@code Integer.MAX_VALUE}, the default, means no bound).
     *
     * <pre>{@code
     * SequencePacker packer = SequencePacker.of(512, 0).withMaxExamplesPerRow(3);
     * }</pre>
     *
     * @param k {@code >= 1}
     * @return a new packer
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public SequencePacker withMaxExamplesPerRow(int k) {
        if (k < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "maxExamplesPerRow must be >= 1, was %d", k));
        }
        return new SequencePacker(maxLength, padId, strategy, k);
    }

    /** @return {@code N}, the row length */
    public int maxLength() {
        return maxLength;
    }

    /** @return the id written into padding */
    public int padId() {
        return padId;
    }

    /** @return the strategy */
    public PackingStrategy strategy() {
        return strategy;
    }

    /** @return the most examples per row ({@code Integer.MAX_VALUE}: no bound) */
    public int maxExamplesPerRow() {
        return maxExamplesPerRow;
    }

    /**
     * Packs the examples. Example {@code i} is {@code ids[i]}, its first {@code promptLengths[i]} tokens
     * the prompt and the rest the completion. An example longer than {@code N} is not packed: it is
     * listed in {@link PackedBatch#oversized()} and logged as a WARNING on the {@code System.Logger}
     * named {@code org.plw4j.SequencePacker}. The inputs are not modified.
     *
     * <pre>{@code
     * PackedBatch b = SequencePacker.of(8, 0).pack(
     *         new int[][] {{5, 6, 7, 8, 9}, {1, 2, 3}, {4, 4}}, new int[] {2, 1, 1});
     * // row 0: 5 6 7 8 9 1 2 3   (examples 0 and 1)
     * // row 1: 4 4 0 0 0 0 0 0   (example 2)
     * }</pre>
     *
     * @param ids per example, its token ids (at least one)
     * @param promptLengths per example, {@code 0 <= p <= ids[i].length}
     * @return the packed rows
     * @throws IllegalArgumentException if the arrays differ in length, an example is empty, or a prompt
     *         length is negative or longer than its example
     * @throws NullPointerException if an argument or an example is null
     */
    public PackedBatch pack(int[][] ids, int[] promptLengths) {
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(promptLengths, "promptLengths");
        int e = ids.length;
        if (promptLengths.length != e) {
            throw MaskBuilders.iae("promptLengths must have one entry per example (ids.length = %d), had %d",
                    e, promptLengths.length);
        }
        for (int i = 0; i < e; i++) {
            if (ids[i] == null) {
                throw new NullPointerException("ids[" + i + "]");
            }
            if (ids[i].length == 0) {
                throw MaskBuilders.iae("example %d: ids[%d] must hold at least one token, was empty", i, i);
            }
            if (promptLengths[i] < 0 || promptLengths[i] > ids[i].length) {
                throw MaskBuilders.iae("example %d: promptLengths[%d] = %d must be in [0, %d] (the example's length)",
                        i, i, promptLengths[i], ids[i].length);
            }
        }
        // Counting sort by decreasing length, ties by index (the length histogram of SPFHP).
        int[] hist = new int[maxLength + 2];
        int nOver = 0;
        for (int[] x : ids) {
            if (x.length > maxLength) {
                nOver++;
            } else {
                hist[maxLength - x.length + 1]++;
            }
        }
        for (int k = 1; k < hist.length; k++) {
            hist[k] += hist[k - 1];
        }
        int nFit = e - nOver;
        int[] order = new int[nFit];
        int[] oversized = new int[nOver];
        nOver = 0;
        for (int i = 0; i < e; i++) {
            if (ids[i].length > maxLength) {
                oversized[nOver++] = i;
            } else {
                order[hist[maxLength - ids[i].length]++] = i;
            }
        }
        // Assign. Leaf r of the tree holds the room left in row r, or -1 where r cannot take an example.
        int[] exampleRow = new int[e];
        int[] exampleOffset = new int[e];
        Arrays.fill(exampleRow, -1);
        Arrays.fill(exampleOffset, -1);
        MaxTree tree = new MaxTree(nFit, strategy == PackingStrategy.FIRST_FIT_DECREASING ? maxLength : -1);
        int[] used = new int[Math.max(1, nFit)];
        int[] count = new int[Math.max(1, nFit)];
        int rows = 0;
        for (int i : order) {
            int len = ids[i].length;
            int r;
            if (strategy == PackingStrategy.FIRST_FIT_DECREASING) {
                r = tree.leftmostAtLeast(len); // an unopened row has room N, so r <= rows
            } else {
                int most = tree.max();
                r = most >= len ? tree.leftmostAtLeast(most) : rows;
            }
            if (r == rows) {
                rows++;
            }
            exampleRow[i] = r;
            exampleOffset[i] = used[r];
            used[r] += len;
            count[r]++;
            tree.set(r, count[r] >= maxExamplesPerRow ? -1 : maxLength - used[r]);
        }
        int[][] rowExamples = new int[rows][];
        for (int r = 0; r < rows; r++) {
            rowExamples[r] = new int[count[r]];
        }
        int[] fill = new int[rows];
        for (int i : order) {
            int r = exampleRow[i];
            rowExamples[r][fill[r]++] = i; // placement order = increasing offset
        }
        if (nOver > 0) {
            int[] over = oversized;
            LOG.log(System.Logger.Level.WARNING, () -> String.format(Locale.ROOT,
                    "SequencePacker: %d of %d examples are longer than maxLength = %d and were left out, "
                            + "not cut: %s (see PackedBatch.oversized())",
                    over.length, e, maxLength, MaskBuilders.rowList(over)));
        }
        return PackedBatch.build(ids, promptLengths, maxLength, padId, strategy, rowExamples, exampleRow,
                exampleOffset, oversized);
    }

    /**
     * A max segment tree over row capacities with a leftmost search; leaves past the input size hold -1.
     */
    private static final class MaxTree {
        private final int size;
        private final int[] t;

        MaxTree(int leaves, int init) {
            int s = 1;
            while (s < Math.max(1, leaves)) {
                s <<= 1;
            }
            size = s;
            t = new int[2 * s];
            Arrays.fill(t, -1);
            for (int i = 0; i < leaves; i++) {
                t[s + i] = init;
            }
            for (int i = s - 1; i >= 1; i--) {
                t[i] = Math.max(t[2 * i], t[2 * i + 1]);
            }
        }

        int max() {
            return t[1];
        }

        void set(int i, int v) {
            int k = size + i;
            t[k] = v;
            for (k >>= 1; k >= 1; k >>= 1) {
                t[k] = Math.max(t[2 * k], t[2 * k + 1]);
            }
        }

        /** @return the smallest leaf index whose value is {@code >= v}, or -1 */
        int leftmostAtLeast(int v) {
            if (t[1] < v) {
                return -1;
            }
            int k = 1;
            while (k < size) {
                k = t[2 * k] >= v ? 2 * k : 2 * k + 1;
            }
            return k - size;
        }
    }
}
