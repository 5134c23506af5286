package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.plw4j.MaskFixtures.assertRejects;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;
import org.junit.jupiter.api.Test;

/**
 * {@link RgSummary} (SPEC section 9), built through {@link GenerationRatio#summarize} and
 * {@link RgSummary#builder()}. Expected values are hand-computed (shown in the comments); tolerances:
 * exact where the result is a sum of exactly representable values, otherwise 1e-15 relative (a few ulps
 * of double rounding). Quantiles are also checked against commons-math3 {@link Percentile} with
 * {@code EstimationType.R_7}, and histogram bins against a BigDecimal oracle.
 */
class RgSummaryTest {
    @Test
    void handComputedSummary() {
        // Rg = 4/2 = 2, 2/4 = 0.5, 3/1 = 3, 5/5 = 1, then two undefined (prompt 0, completion 0)
        RgSummary s = GenerationRatio.summarize(new int[] {2, 4, 1, 5, 0, 3}, new int[] {4, 2, 3, 5, 7, 0});
        assertEquals(4, s.count());
        assertEquals(2, s.undefined());
        assertEquals(6, s.total());
        assertEquals(1.625, s.mean()); // 6.5 / 4, exact
        assertEquals(1.625, s.trimmedMean()); // n < 400: nothing dropped
        assertEquals(0, s.trimmedPerSide());
        assertEquals(Math.pow(3.0, 0.25), s.geometricMean(), 1e-15 * 1.32); // (2 * 0.5 * 3 * 1)^(1/4)
        // sorted 0.5 1 2 3; type 7: h = 3p
        assertEquals(0.875, s.firstQuartile()); // h = 0.75: 0.5 + 0.75 * 0.5
        assertEquals(1.5, s.median()); // h = 1.5: 1 + 0.5 * 1
        assertEquals(2.25, s.thirdQuartile()); // h = 2.25: 2 + 0.25 * 1
        assertEquals(0.5, s.min());
        assertEquals(3.0, s.max());
        assertEquals(2, s.countAboveOne()); // 2 and 3; Rg = 1 is not above one
        assertEquals(0.5, s.shareAboveOne());
        assertEquals(Map.of(-1, 1L, 0, 3L), s.histogram());
        assertEquals(3, s.histogramCount(0));
        assertEquals(0, s.histogramCount(42));
        assertArrayEquals(new double[] {0.5, 1, 2, 3}, s.values());
    }

    @Test
    void trimmedMeanDropsFloorOfNOver400PerSide() {
        // n = 400, k = 1: Rg = 1..399 and one outlier 100000; drop 1 and 100000 -> mean of 2..399 = 200.5;
        // untrimmed mean = (79800 + 100000) / 400 = 449.5
        int[] p = new int[400];
        int[] c = new int[400];
        for (int i = 0; i < 399; i++) {
            p[i] = 1;
            c[i] = i + 1;
        }
        p[399] = 1;
        c[399] = 100000;
        RgSummary s = GenerationRatio.summarize(p, c);
        assertEquals(1, s.trimmedPerSide());
        assertEquals(200.5, s.trimmedMean(), 1e-15 * 200.5);
        assertEquals(449.5, s.mean(), 1e-15 * 449.5);
        // n = 399: nothing dropped
        RgSummary t = GenerationRatio.summarize(Arrays.copyOf(p, 399), Arrays.copyOf(c, 399));
        assertEquals(0, t.trimmedPerSide());
        assertEquals(t.mean(), t.trimmedMean());
        // n = 802, k = 2: 798 values 1, two of 1e6 and two of 1e-6 -> trimmed mean exactly 1
        RgSummary.Builder b = RgSummary.builder();
        for (int i = 0; i < 798; i++) {
            b.add(7, 7);
        }
        b.add(1, 1_000_000).add(1, 1_000_000).add(1_000_000, 1).add(1_000_000, 1);
        RgSummary u = b.build();
        assertEquals(2, u.trimmedPerSide());
        assertEquals(1.0, u.trimmedMean());
    }

    @Test
    void geometricMeanOfReciprocalsIsOne() {
        // (1/4 * 4)^(1/2) = 1; ln(1/4) + ln(4) = 0 up to rounding
        RgSummary s = GenerationRatio.summarize(new int[] {8, 1}, new int[] {2, 4});
        assertEquals(1.0, s.geometricMean(), 1e-15);
    }

    @Test
    void quantilesMatchCommonsMathR7() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 50; trial++) {
            int n = 1 + rnd.nextInt(300);
            int[] p = new int[n];
            int[] c = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = 1 + rnd.nextInt(2000);
                c[i] = 1 + rnd.nextInt(500);
            }
            RgSummary s = GenerationRatio.summarize(p, c);
            Percentile r7 = new Percentile().withEstimationType(Percentile.EstimationType.R_7);
            double[] v = s.values();
            for (double q : new double[] {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1}) {
                double expected = r7.evaluate(v, q == 0 ? Double.MIN_VALUE : 100 * q);
                assertEquals(expected, s.quantile(q), 1e-15 * Math.abs(expected), "n = " + n + ", q = " + q);
            }
            assertEquals(s.quantile(0.5), s.median());
            assertEquals(s.quantile(0.25), s.firstQuartile());
            assertEquals(s.quantile(0.75), s.thirdQuartile());
        }
    }

    @Test
    void histogramBinsAreExactAtPowersOfTen() {
        // each line: prompt, completion, expected k with 10^k <= c/p < 10^(k+1)
        int[][] cases = {
            {10, 1, -1}, {3, 1, -1}, {11, 1, -2}, {1, 10, 1}, {1, 9, 0}, {100, 999, 0}, {100, 1000, 1},
            {7, 7, 0}, {1000, 1, -3}, {1001, 1, -4}, {Integer.MAX_VALUE, 1, -10}, {1, Integer.MAX_VALUE, 9},
            {1_000_000_000, 1, -9}, {1, 1_000_000_000, 9}, {3, 1_000_000_000, 8}, {Integer.MAX_VALUE, Integer.MAX_VALUE, 0},
        };
        for (int[] k : cases) {
            assertEquals(k[2], RgSummary.exponent(k[0], k[1]), () -> k[0] + ", " + k[1]);
        }
        Random rnd = new Random(11);
        for (int i = 0; i < 20000; i++) {
            int p = 1 + rnd.nextInt(1 << (1 + rnd.nextInt(30)));
            int c = 1 + rnd.nextInt(1 << (1 + rnd.nextInt(30)));
            assertEquals(exponentOracle(p, c), RgSummary.exponent(p, c), () -> p + ", " + c);
        }
    }

    /** floor(log10(c / p)) in exact decimal arithmetic. */
    private static int exponentOracle(int p, int c) {
        BigDecimal r = new BigDecimal(c).divide(new BigDecimal(p), new MathContext(40));
        return r.precision() - r.scale() - 1;
    }

    @Test
    void emptySummary() {
        RgSummary e = RgSummary.empty();
        assertEquals(0, e.count());
        assertTrue(Double.isNaN(e.mean()) && Double.isNaN(e.trimmedMean()) && Double.isNaN(e.geometricMean())
                && Double.isNaN(e.median()) && Double.isNaN(e.shareAboveOne()) && Double.isNaN(e.min()));
        assertTrue(e.histogram().isEmpty());
        assertSame(e, GenerationRatio.summarize(new int[0], new int[0]));
        RgSummary onlyUndefined = GenerationRatio.summarize(new int[] {0, 3}, new int[] {5, 0});
        assertEquals(0, onlyUndefined.count());
        assertEquals(2, onlyUndefined.undefined());
        assertTrue(Double.isNaN(onlyUndefined.mean()));
    }

    @Test
    void mergeOfAnySplitEqualsWhole() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 100; trial++) {
            int n = rnd.nextInt(1500);
            int[] p = new int[n];
            int[] c = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(4000);
                c[i] = rnd.nextInt(10) == 0 ? 0 : 1 + rnd.nextInt(rnd.nextBoolean() ? 30 : 30000);
            }
            RgSummary whole = GenerationRatio.summarize(p, c);
            // random cut points, parts merged in a random order and a random tree shape
            int parts = 1 + rnd.nextInt(6);
            List<Integer> cuts = new ArrayList<>();
            cuts.add(0);
            for (int k = 1; k < parts; k++) {
                cuts.add(rnd.nextInt(n + 1));
            }
            cuts.add(n);
            Collections.sort(cuts);
            List<RgSummary> pieces = new ArrayList<>();
            for (int k = 0; k + 1 < cuts.size(); k++) {
                int from = cuts.get(k);
                int to = cuts.get(k + 1);
                pieces.add(GenerationRatio.summarize(Arrays.copyOfRange(p, from, to),
                        Arrays.copyOfRange(c, from, to)));
            }
            Collections.shuffle(pieces, rnd);
            while (pieces.size() > 1) {
                int i = rnd.nextInt(pieces.size() - 1);
                RgSummary a = pieces.remove(i);
                RgSummary b = pieces.remove(i);
                pieces.add(i, rnd.nextBoolean() ? a.merge(b) : b.merge(a));
            }
            RgSummary merged = pieces.get(0);
            assertEquals(whole, merged);
            // bitwise equal statistics
            assertEquals(whole.toString(), merged.toString());
            assertEquals(Double.doubleToLongBits(whole.mean()), Double.doubleToLongBits(merged.mean()));
            assertEquals(Double.doubleToLongBits(whole.trimmedMean()), Double.doubleToLongBits(merged.trimmedMean()));
            assertEquals(Double.doubleToLongBits(whole.geometricMean()),
                    Double.doubleToLongBits(merged.geometricMean()));
            assertEquals(Double.doubleToLongBits(whole.median()), Double.doubleToLongBits(merged.median()));
            assertEquals(whole.histogram(), merged.histogram());
            assertEquals(whole.undefined(), merged.undefined());
            assertEquals(whole.countAboveOne(), merged.countAboveOne());
            assertEquals(whole, whole.merge(RgSummary.empty()));
            assertEquals(whole, RgSummary.empty().merge(whole));
        }
    }

    @Test
    void builderStreamsAndStaysUsable() {
        RgSummary.Builder b = GenerationRatio.builder();
        int[] p = {120, 80, 0, 33, 5};
        int[] c = {40, 200, 5, 33, 0};
        for (int i = 0; i < p.length; i++) {
            b.add(p[i], c[i]);
        }
        assertEquals(5, b.total());
        RgSummary first = b.build();
        assertEquals(GenerationRatio.summarize(p, c), first);
        b.add(1, 3);
        RgSummary second = b.build();
        assertNotSame(first, second);
        assertEquals(3, first.count());
        assertEquals(4, second.count());
        assertEquals(first.merge(GenerationRatio.summarize(new int[] {1}, new int[] {3})), second);
    }

    @Test
    void rejectsNegativeCountInBuilder() {
        assertRejects(() -> RgSummary.builder().add(-2, 1), "promptTokens", "-2");
    }

    @Test
    void rejectsBadQuantileProbability() {
        RgSummary s = GenerationRatio.summarize(new int[] {1}, new int[] {1});
        assertRejects(() -> s.quantile(Double.NaN), "p", "NaN");
        assertRejects(() -> s.quantile(1.5), "p", "1.5");
    }
}
