package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link SequencePacker} and {@link PackedBatch}: hand-worked packings for both strategies, the properties of
 * SPEC section 8 (no example cut, every token exactly once, position ids restart, segment ids, density) on
 * seeded random inputs, and the assignment compared with plain linear-scan implementations of the two rules
 * written here independently of the segment tree. Density compared exactly (both sides divide the same integers).
 */
class PackerTest {

    @Test
    void handWorkedFirstFitDecreasing() {
        PackedBatch b = SequencePacker.of(8, 0).pack(new int[][] {{5, 6, 7, 8, 9}, {1, 2, 3}, {4, 4}},
                new int[] {2, 1, 1});
        assertEquals(2, b.rows());
        assertArrayEquals(new int[][] {{5, 6, 7, 8, 9, 1, 2, 3}, {4, 4, 0, 0, 0, 0, 0, 0}}, b.inputIds());
        assertArrayEquals(new int[][] {{0, 1, 2, 3, 4, 0, 1, 2}, {0, 1, 0, 0, 0, 0, 0, 0}}, b.positionIds());
        assertArrayEquals(new int[][] {{1, 1, 1, 1, 1, 2, 2, 2}, {1, 1, 0, 0, 0, 0, 0, 0}}, b.segmentIds());
        assertArrayEquals(new int[][] {{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 0, 0, 0, 0, 0, 0}}, b.attentionMask());
        assertRoles(b.mask(), "IPCCCICC", "ICIIIIII");
        assertArrayEquals(new int[][] {{0, 1}, {2}}, b.rowExamples());
        assertEquals(0, b.rowOf(1));
        assertEquals(5, b.offsetOf(1));
        assertEquals(10, b.realTokens());
        assertEquals(10.0 / 16.0, b.density());
        assertArrayEquals(new int[0], b.oversized());
        assertArrayEquals(new long[] {2, 8}, b.inputIdsArray().shape());
        assertArrayEquals(new int[] {5, 6, 7, 8, 9, 1, 2, 3}, b.inputIdsArray().getRow(0).toIntVector());
    }

    /** Lengths 6, 5, 4, 3, 2 into rows of 10: the two strategies differ (worked out in the comments). */
    @Test
    void handWorkedStrategiesDiffer() {
        int[][] ids = examples(6, 5, 4, 3, 2);
        int[] p = new int[5];
        // FFD: 6 -> r0 (4 left); 5 -> r1 (5 left); 4 -> r0 (0 left); 3 -> r1 (2 left); 2 -> r1 (0 left)
        PackedBatch ffd = SequencePacker.of(10, -1).pack(ids, p);
        assertArrayEquals(new int[][] {{0, 2}, {1, 3, 4}}, ffd.rowExamples());
        assertEquals(1.0, ffd.density());
        // SPFHP: 6 -> r0 (4 left); 5 does not fit the roomiest row (4) -> r1 (5 left); 4 -> roomiest r1 (1 left);
        // 3 -> roomiest r0 (1 left); 2 fits nowhere -> r2
        PackedBatch spf = SequencePacker.of(10, -1).withStrategy(PackingStrategy.SHORTEST_PACK_FIRST).pack(ids, p);
        assertArrayEquals(new int[][] {{0, 3}, {1, 2}, {4}}, spf.rowExamples());
        assertEquals(20.0 / 30.0, spf.density());
    }

    @Test
    void maxExamplesPerRow() {
        PackedBatch b = SequencePacker.of(10, 0).withMaxExamplesPerRow(2).pack(examples(1, 1, 1, 1, 1), new int[5]);
        assertArrayEquals(new int[][] {{0, 1}, {2, 3}, {4}}, b.rowExamples());
    }

    @Test
    void oversizedExamplesAreReportedNotCut() {
        int[][] ids = examples(3, 9, 4, 12, 8);
        PackedBatch b = SequencePacker.of(8, 0).pack(ids, new int[] {1, 2, 1, 0, 3});
        assertArrayEquals(new int[] {1, 3}, b.oversized());
        assertEquals(-1, b.rowOf(1));
        assertEquals(-1, b.offsetOf(3));
        // the example of exactly N tokens fills a row alone
        assertArrayEquals(new int[][] {{4}, {2, 0}}, b.rowExamples());
        assertEquals(15, b.realTokens());
        checkProperties(ids, new int[] {1, 2, 1, 0, 3}, b, 8, 0);
    }

    @Test
    void noExamples() {
        PackedBatch b = SequencePacker.of(4, 0).pack(new int[0][], new int[0]);
        assertEquals(0, b.rows());
        assertTrue(Double.isNaN(b.density()));
        assertEquals(0, b.mask().batchSize());
        assertArrayEquals(new long[] {0, 4}, b.inputIdsArray().shape());
    }

    @Test
    void inputsAreNotModified() {
        int[][] ids = examples(3, 5, 2);
        int[] p = {1, 2, 0};
        int[][] idsCopy = Arrays.stream(ids).map(int[]::clone).toArray(int[][]::new);
        SequencePacker.of(6, 0).pack(ids, p);
        assertArrayEquals(idsCopy, ids);
        assertArrayEquals(new int[] {1, 2, 0}, p);
    }

    @ParameterizedTest
    @EnumSource(PackingStrategy.class)
    void randomPropertiesAndReferenceAssignment(PackingStrategy strategy) {
        // the oversized examples are logged as warnings: keep the test output quiet
        Logger log = Logger.getLogger(SequencePacker.class.getName());
        Level level = log.getLevel();
        log.setLevel(Level.OFF);
        try {
            randomTrials(strategy);
        } finally {
            log.setLevel(level);
        }
    }

    private static void randomTrials(PackingStrategy strategy) {
        Random rnd = new Random(20240517L + strategy.ordinal());
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(64);
            int e = rnd.nextInt(60);
            int k = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(4) : Integer.MAX_VALUE;
            int[][] ids = new int[e][];
            int[] p = new int[e];
            for (int i = 0; i < e; i++) {
                int len = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 2 * n : n);
                ids[i] = new int[len];
                for (int j = 0; j < len; j++) {
                    ids[i][j] = 1 + rnd.nextInt(1000);
                }
                p[i] = rnd.nextInt(len + 1);
            }
            PackedBatch b = SequencePacker.of(n, 0).withStrategy(strategy).withMaxExamplesPerRow(k).pack(ids, p);
            checkProperties(ids, p, b, n, 0);
            assertArrayEquals(referenceRows(ids, n, k, strategy), b.rowExamples(),
                    "trial " + trial + ": assignment differs from the linear-scan reference");
        }
    }

    private static int[][] examples(int... lengths) {
        int[][] ids = new int[lengths.length][];
        for (int i = 0; i < lengths.length; i++) {
            ids[i] = new int[lengths[i]];
            Arrays.fill(ids[i], 100 + i);
        }
        return ids;
    }

    /** Linear-scan reference of both strategies: rows in opening order, examples in placement order. */
    private static int[][] referenceRows(int[][] ids, int n, int k, PackingStrategy s) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i].length <= n) {
                order.add(i);
            }
        }
        order.sort((a, b) -> ids[a].length != ids[b].length ? ids[b].length - ids[a].length : a - b);
        List<List<Integer>> rows = new ArrayList<>();
        List<Integer> used = new ArrayList<>();
        for (int i : order) {
            int len = ids[i].length;
            int chosen = -1;
            for (int r = 0; r < rows.size(); r++) {
                if (rows.get(r).size() >= k) {
                    continue; // closed
                }
                if (s == PackingStrategy.FIRST_FIT_DECREASING) {
                    if (n - used.get(r) >= len) {
                        chosen = r; // the first row with room
                        break;
                    }
                } else if (chosen < 0 || used.get(r) < used.get(chosen)) {
                    chosen = r; // the roomiest row, ties to the first
                }
            }
            if (chosen >= 0 && n - used.get(chosen) < len) {
                chosen = -1; // SPFHP: not even the roomiest row has room
            }
            if (chosen < 0) {
                rows.add(new ArrayList<>());
                used.add(0);
                chosen = rows.size() - 1;
            }
            rows.get(chosen).add(i);
            used.set(chosen, used.get(chosen) + len);
        }
        return rows.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
    }

    /** Every property of SPEC section 8 that a packing must have. */
    private static void checkProperties(int[][] ids, int[] p, PackedBatch b, int n, int pad) {
        int[][] packed = b.inputIds();
        int[][] pos = b.positionIds();
        int[][] seg = b.segmentIds();
        int[][] rows = b.rowExamples();
        int[][][] spec = b.examplesPerRow();
        int[][] roles = b.mask().rolesAsInts();
        boolean[] seen = new boolean[ids.length];
        boolean[][] covered = new boolean[b.rows()][n];
        long real = 0;
        for (int r = 0; r < b.rows(); r++) {
            assertTrue(rows[r].length >= 1, "no empty rows");
            int expectedOffset = 0;
            for (int q = 0; q < rows[r].length; q++) {
                int i = rows[r][q];
                assertTrue(!seen[i], "example " + i + " placed twice");
                seen[i] = true;
                assertEquals(r, b.rowOf(i));
                int off = b.offsetOf(i);
                assertEquals(expectedOffset, off, "examples end to end from position 0");
                int len = ids[i].length;
                assertTrue(off + len <= n, "row overflow");
                assertArrayEquals(new int[] {p[i], len - p[i]}, spec[r][q]);
                for (int j = 0; j < len; j++) {
                    int t = off + j;
                    assertTrue(!covered[r][t], "token position used twice");
                    covered[r][t] = true;
                    assertEquals(ids[i][j], packed[r][t], "example copied whole, in order");
                    assertEquals(j, pos[r][t], "position ids restart at 0 per example");
                    assertEquals(q + 1, seg[r][t], "segment id = 1 + index within the row");
                    int role = j == 0 ? 0 : j < p[i] ? 1 : 2;
                    assertEquals(role, roles[r][t], "role at row " + r + ", position " + t);
                }
                expectedOffset += len;
                real += len;
            }
            for (int t = 0; t < n; t++) {
                if (!covered[r][t]) {
                    assertEquals(pad, packed[r][t]);
                    assertEquals(0, seg[r][t]);
                    assertEquals(0, pos[r][t]);
                    assertEquals(0, roles[r][t]);
                }
            }
        }
        List<Integer> over = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i].length > n) {
                over.add(i);
                assertTrue(!seen[i], "oversized example packed");
            } else {
                assertTrue(seen[i], "example " + i + " lost");
            }
        }
        assertArrayEquals(over.stream().mapToInt(Integer::intValue).toArray(), b.oversized());
        assertEquals(real, b.realTokens());
        if (b.rows() > 0) {
            assertEquals(real / ((double) b.rows() * n), b.density());
            assertTrue(b.density() > 0 && b.density() <= 1);
        }
        assertEquals(PromptCompletionMask.ofPacked(spec, n), b.mask());
    }

    @Test
    void rejectsEmptyExample() {
        assertRejects(() -> SequencePacker.of(4, 0).pack(new int[][] {{1}, {}}, new int[] {0, 0}),
                "example 1", "ids[1]", "empty");
    }

    @Test
    void rejectsPromptLongerThanExample() {
        assertRejects(() -> SequencePacker.of(4, 0).pack(new int[][] {{1, 2}}, new int[] {3}),
                "example 0", "promptLengths[0] = 3", "[0, 2]");
    }

    @Test
    void rejectsNegativePrompt() {
        assertRejects(() -> SequencePacker.of(4, 0).pack(new int[][] {{1, 2}}, new int[] {-1}),
                "example 0", "promptLengths[0] = -1");
    }

    @Test
    void rejectsMismatchedArrays() {
        assertRejects(() -> SequencePacker.of(4, 0).pack(new int[][] {{1, 2}}, new int[] {1, 1}),
                "promptLengths", "1", "2");
    }

    @Test
    void rejectsBadConfiguration() {
        assertRejects(() -> SequencePacker.of(0, 0), "maxLength", "0");
        assertRejects(() -> SequencePacker.of(4, 0).withMaxExamplesPerRow(0), "maxExamplesPerRow", "0");
        assertThrows(NullPointerException.class, () -> SequencePacker.of(4, 0).withStrategy(null));
    }
}
