package org.plw4j;

/**
 * How {@link SequencePacker} assigns examples to rows. Both strategies place the examples in order of
 * decreasing length (ties by input index, found with a counting sort: the length histogram) and never
 * cut an example; they differ in which open row an example goes to.
 *
 * <pre>{@code
 * SequencePacker packer = SequencePacker.of(2048, padId).withStrategy(PackingStrategy.SHORTEST_PACK_FIRST);
 * }</pre>
 */
public enum PackingStrategy {
    /**
     * First-fit decreasing: each example goes into the first row (in order of opening) with room for
     * it, else into a new row. Uses at most {@code 11/9 OPT + 6/9} rows (Dósa 2007). The default.
     */
    FIRST_FIT_DECREASING,
    /**
     * Shortest-pack-first histogram packing (SPFHP, Krell et al. 2021, "Efficient Sequence Packing
     * without Cross-contamination", the packing the "Prompt Loss Weight" article uses): lengths are
     * taken from the histogram, longest first, and each example goes into the open row with the
     * <em>most</em> room left (the shortest pack so far; ties to the row opened first) if it fits there,
     * else into a new row. Spreads short examples over rows, which keeps rows of similar fill; with
     * {@link SequencePacker#withMaxExamplesPerRow(int)} a row closes when it holds that many examples.
     */
    SHORTEST_PACK_FIRST
}
