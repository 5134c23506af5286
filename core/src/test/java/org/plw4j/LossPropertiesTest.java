package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.kernel.ReferenceKernel;

/**
 * Properties of SPEC sections 4-6: PLW = 1 is the plain mean cross-entropy, PLW = 0 is completion-only,
 * permuting the batch changes nothing, merging the summaries of any split equals the whole (bitwise:
 * sums are exact), the all-ignored batch, in-place gradients, non-finite logits, and concurrent use.
 */
class LossPropertiesTest {
    private static final Random RND = new Random(7);

    private static INDArray logits(int b, int n, int v) {
        return TestData.logits(new Random(b * 1000 + n * 10 + v), b, n, v, false, DataType.FLOAT,
                TestData.ViewKind.C_ORDER, 2.0);
    }

    /** Plain mean cross-entropy over all shifted targets, computed here in double from the textbook formula. */
    private static double plainMeanCe(INDArray logits, long[][] ids, boolean[][] counted) {
        double sum = 0;
        int count = 0;
        int b = (int) logits.size(0);
        int n = (int) logits.size(1);
        int v = (int) logits.size(2);
        for (int r = 0; r < b; r++) {
            for (int t = 0; t + 1 < n; t++) {
                if (!counted[r][t + 1]) {
                    continue;
                }
                double m = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < v; c++) {
                    m = Math.max(m, logits.getDouble(r, t, c));
                }
                double s = 0;
                for (int c = 0; c < v; c++) {
                    s += Math.exp(logits.getDouble(r, t, c) - m);
                }
                sum += m + Math.log(s) - logits.getDouble(r, t, (int) ids[r][t + 1]);
                count++;
            }
        }
        return sum / count;
    }

    @Test
    void plwOneIsPlainMeanCrossEntropyAndPlwZeroIsCompletionOnly() {
        int b = 3;
        int n = 9;
        int v = 50;
        INDArray z = logits(b, n, v);
        long[][] ids = TestData.ids(RND, b, n, v);
        int[][] roles = {{1, 1, 1, 1, 2, 2, 2, 0, 0}, {1, 1, 2, 2, 2, 2, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 2, 2, 0}};
        boolean[][] all = new boolean[b][n];
        boolean[][] completion = new boolean[b][n];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                all[r][t] = roles[r][t] != 0;
                completion[r][t] = roles[r][t] == 2;
            }
        }
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(roles);
        INDArray idArr = TestData.idArray(ids, DataType.INT);
        // expected: the textbook mean CE over the same targets, double precision; tolerance 1e-6 relative
        // (the default kernel computes within a row in float32)
        double full = WeightedCausalLMLoss.withDefaults().compute(z, idArr, mask).loss();
        assertEquals(plainMeanCe(z, ids, all), full, 1e-6 * full);
        double compOnly = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0).compute(z, idArr, mask).loss();
        assertEquals(plainMeanCe(z, ids, completion), compOnly, 1e-6 * compOnly);
        LossResult r = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0).compute(z, idArr, mask);
        assertEquals(r.completionLoss(), r.loss(), 1e-12, "PLW 0: the loss is the completion loss");
    }

    @Test
    void permutingTheBatchLeavesTheLossUnchangedBitwise() {
        int b = 5;
        int n = 7;
        int v = 33;
        INDArray z = logits(b, n, v);
        long[][] ids = TestData.ids(RND, b, n, v);
        int[][] roles = TestData.roles(RND, b, n);
        int[] perm = {3, 0, 4, 2, 1};
        INDArray zp = Nd4j.create(DataType.FLOAT, b, n, v);
        long[][] idsP = new long[b][];
        int[][] rolesP = new int[b][];
        for (int i = 0; i < b; i++) {
            zp.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all())
                    .assign(z.get(NDArrayIndex.point(perm[i]), NDArrayIndex.all(), NDArrayIndex.all()));
            idsP[i] = ids[perm[i]];
            rolesP[i] = roles[perm[i]];
        }
        for (Normalization mode : new Normalization[] {Normalization.WEIGHTED_MEAN, Normalization.SUM}) {
            WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1)
                    .withNormalization(mode);
            LossResult a = loss.compute(z, TestData.idArray(ids, DataType.LONG), PromptCompletionMask.ofRoles(roles));
            LossResult c = loss.compute(zp, TestData.idArray(idsP, DataType.LONG), PromptCompletionMask.ofRoles(rolesP));
            // exact sums make the result independent of token order: bitwise equal
            assertEquals(a.loss(), c.loss(), 0.0);
            assertEquals(a.summary(), c.summary());
        }
        WeightedCausalLMLoss seq = WeightedCausalLMLoss.withDefaults().withNormalization(Normalization.SEQUENCE_MEAN);
        double s1 = seq.compute(z, TestData.idArray(ids, DataType.LONG), PromptCompletionMask.ofRoles(roles)).loss();
        double s2 = seq.compute(zp, TestData.idArray(idsP, DataType.LONG), PromptCompletionMask.ofRoles(rolesP)).loss();
        // SEQUENCE_MEAN sums B per-sequence ratios in row order: equal up to B ulps
        assertEquals(s1, s2, 8 * Math.ulp(s1));
    }

    @Test
    void mergingTheSummariesOfAnySplitEqualsTheWhole() {
        int b = 6;
        int n = 8;
        int v = 40;
        INDArray z = logits(b, n, v);
        long[][] ids = TestData.ids(RND, b, n, v);
        int[][] roles = TestData.roles(RND, b, n);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.3);
        LossSummary whole = loss.compute(z, TestData.idArray(ids, DataType.INT), PromptCompletionMask.ofRoles(roles))
                .summary();
        Random rnd = new Random(11);
        for (int trial = 0; trial < 20; trial++) {
            // random contiguous split into parts, merged in a random order
            List<LossSummary> parts = new ArrayList<>();
            int start = 0;
            while (start < b) {
                int end = Math.min(b, start + 1 + rnd.nextInt(3));
                INDArray zz = z.get(NDArrayIndex.interval(start, end), NDArrayIndex.all(), NDArrayIndex.all());
                long[][] ii = Arrays.copyOfRange(ids, start, end);
                int[][] rr = Arrays.copyOfRange(roles, start, end);
                parts.add(loss.compute(zz, TestData.idArray(ii, DataType.INT), PromptCompletionMask.ofRoles(rr))
                        .summary());
                start = end;
            }
            Collections.shuffle(parts, rnd);
            LossSummary merged = LossSummary.empty();
            for (LossSummary p : parts) {
                merged = merged.merge(p);
            }
            assertEquals(whole, merged, "merge of a split equals the whole, bitwise");
            assertEquals(whole.loss(), merged.loss(), 0.0);
            assertEquals(whole.promptLoss(), merged.promptLoss(), 0.0);
        }
        assertEquals(whole, whole.merge(LossSummary.empty()));
        assertEquals(whole, LossSummary.empty().merge(whole));
        assertTrue(Double.isNaN(LossSummary.empty().promptLoss()));
        assertEquals(0.0, LossSummary.empty().loss());
    }

    @ParameterizedTest
    @EnumSource(Normalization.class)
    void allIgnoredBatchGivesZeroLossAndZeroGradient(Normalization mode) {
        INDArray z = logits(2, 4, 10);
        long[][] ids = TestData.ids(RND, 2, 4, 10);
        WeightedCausalLMLoss loss = mode == Normalization.GLOBAL_DENOMINATOR
                ? WeightedCausalLMLoss.withDefaults().withGlobalDenominator(5)
                : WeightedCausalLMLoss.withDefaults().withNormalization(mode);
        for (PromptCompletionMask mask : new PromptCompletionMask[] {PromptCompletionMask.ofRoles(new int[2][4]),
            PromptCompletionMask.ofWeights(Nd4j.zeros(DataType.FLOAT, 2, 4))}) {
            LossResult r = loss.computeWithGradient(z, TestData.idArray(ids, DataType.INT), mask);
            assertEquals(0.0, r.loss(), 0.0);
            assertEquals(0.0, r.weightSum(), 0.0);
            assertEquals(0.0, r.gradient().amaxNumber().doubleValue(), 0.0);
            assertEquals(0, r.promptTokens());
            assertTrue(Double.isNaN(r.promptLoss()), "a mean over no tokens is NaN with count 0");
        }
        // PLW 0 with a prompt-only batch: weights all 0, but the prompt loss is still measured
        int[][] promptOnly = {{1, 1, 1, 1}, {1, 1, 0, 0}};
        LossResult r = loss.withPromptLossWeight(0).computeWithGradient(z, TestData.idArray(ids, DataType.INT),
                PromptCompletionMask.ofRoles(promptOnly));
        assertEquals(0.0, r.loss(), 0.0);
        assertEquals(0.0, r.gradient().amaxNumber().doubleValue(), 0.0);
        assertEquals(4, r.promptTokens());
        assertTrue(Double.isFinite(r.promptLoss()) && r.promptLoss() > 0);
    }

    @Test
    void shiftPutsTheLastPositionOutAndPerTokenLossIsIndexedByLogitPosition() {
        int v = 6;
        INDArray z = logits(1, 4, v);
        long[][] ids = {{1, 2, 3, 4}};
        LossResult r = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0)
                .compute(z, TestData.idArray(ids, DataType.INT), PromptCompletionMask.ofRoles(new int[][] {{1, 1, 2, 2}}));
        double[] per = r.perTokenLossArray();
        // position 0 predicts token 1 (PROMPT, weight 0 but still measured), 1 predicts 2 (COMPLETION), ...
        assertTrue(per[0] > 0 && per[1] > 0 && per[2] > 0);
        assertEquals(0.0, per[3], 0.0, "the last position has no target");
        assertEquals(1, r.promptTokens());
        assertEquals(2, r.completionTokens());
        assertEquals(2.0, r.weightSum(), 0.0);
    }

    @Test
    void nonFiniteLogitsAreReportedAndZeroWeightRowsNeverPoison() {
        int v = 5;
        float ninf = Float.NEGATIVE_INFINITY;
        float[][][] vals = {{{0, 1, 2, 3, 4}, {ninf, 1, ninf, 0, 0}, {Float.NaN, 0, 0, 0, 0}, {0, 0, 0, 0, 0}}};
        INDArray z = Nd4j.createFromArray(vals);
        long[][] ids = {{0, 1, 3, 2}};
        // position 0 -> target 1 (row 0 fine), position 1 -> target 3 (-Inf others legal), position 2 -> target 2 (NaN row)
        LossResult ok = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0)
                .computeWithGradient(z, TestData.idArray(ids, DataType.INT),
                        PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2, 1}}));
        assertEquals(0, ok.nonFiniteTokens(), "the NaN row is a PROMPT target at PLW 0: weight 0");
        assertTrue(Double.isFinite(ok.loss()));
        assertTrue(Double.isNaN(ok.promptLoss()), "the prompt metric does measure the NaN row");
        INDArray g = ok.gradient();
        for (int c = 0; c < v; c++) {
            assertEquals(0.0, g.getDouble(0, 2, c), 0.0, "zero-weight rows have an exactly zero gradient");
        }
        assertEquals(0.0, g.getDouble(0, 1, 0), 0.0, "a -Inf logit has probability 0");
        LossResult bad = WeightedCausalLMLoss.withDefaults().compute(z, TestData.idArray(ids, DataType.INT),
                PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2, 1}}));
        assertEquals(1, bad.nonFiniteTokens());
        assertTrue(Double.isNaN(bad.loss()));
        // a -Inf target logit in a weighted row: +Inf loss
        long[][] idsInf = {{0, 0, 0, 0}};
        LossResult inf = WeightedCausalLMLoss.withDefaults().compute(z, TestData.idArray(idsInf, DataType.INT),
                PromptCompletionMask.ofRoles(new int[][] {{0, 0, 2, 0}}));
        assertEquals(1, inf.nonFiniteTokens());
        assertEquals(Double.POSITIVE_INFINITY, inf.loss());
    }

    @Test
    void inPlaceGradientEqualsTheSeparateGradient() {
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16}) {
            INDArray z = TestData.logits(new Random(3), 2, 5, 17, false, dt, TestData.ViewKind.SLICED, 2.0);
            long[][] ids = TestData.ids(RND, 2, 5, 17);
            PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(RND, 2, 5));
            WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.2);
            LossResult sep = loss.computeWithGradient(z, TestData.idArray(ids, DataType.INT), mask);
            INDArray copy = z.dup();
            LossResult in = loss.computeWithGradientInPlace(z, TestData.idArray(ids, DataType.INT), mask);
            assertSame(z, in.gradient());
            assertEquals(sep.loss(), in.loss(), 0.0);
            assertEquals(sep.gradient(), z, dt + ": in place gives the same gradient");
            assertNotEquals(copy, z);
        }
    }

    @Test
    void gradientIntoACallerOwnedArrayEqualsTheAllocatedGradient() {
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16}) {
            INDArray z = TestData.logits(new Random(4), 2, 5, 19, false, dt, TestData.ViewKind.C_ORDER, 2.0);
            long[][] ids = TestData.ids(RND, 2, 5, 19);
            PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(RND, 2, 5));
            WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.2);
            LossResult fresh = loss.computeWithGradient(z, TestData.idArray(ids, DataType.INT), mask);
            INDArray out = Nd4j.create(dt, new long[] {2, 5, 19}, 'f').assign(7); // stale values, other order
            LossResult into = loss.computeWithGradient(z, TestData.idArray(ids, DataType.INT), mask, out);
            assertSame(out, into.gradient());
            assertEquals(fresh.gradient(), out, dt + ": every element is written");
            assertEquals(fresh.loss(), into.loss(), 0.0);
        }
        INDArray z = logits(1, 3, 4);
        INDArray ids = TestData.idArray(new long[][] {{0, 1, 2}}, DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2}});
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults();
        INDArray wrongType = Nd4j.create(DataType.DOUBLE, 1, 3, 4);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> loss.computeWithGradient(z, ids, mask, wrongType));
        assertTrue(e.getMessage().contains("gradientOut") && e.getMessage().contains("DOUBLE"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> loss.computeWithGradient(z, ids, mask, Nd4j.create(DataType.FLOAT, 1, 3, 5)));
        INDArray zc = z.dup();
        assertSame(z, loss.computeWithGradient(z, ids, mask, z).gradient(), "the logits themselves: in place");
        assertNotEquals(zc, z);
    }

    @Test
    void concurrentUseFromEightThreadsIsBitwiseEqualToSequential() throws Exception {
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
        int cases = 16;
        INDArray[] zs = new INDArray[cases];
        INDArray[] ids = new INDArray[cases];
        PromptCompletionMask[] masks = new PromptCompletionMask[cases];
        LossResult[] seq = new LossResult[cases];
        for (int i = 0; i < cases; i++) {
            Random r = new Random(100 + i);
            zs[i] = TestData.logits(r, 2, 6, 64 + i, i % 2 == 1, DataType.FLOAT, TestData.ViewKind.C_ORDER, 2);
            ids[i] = TestData.idArray(TestData.ids(r, 2, 6, 64 + i), DataType.INT);
            masks[i] = PromptCompletionMask.ofRoles(TestData.roles(r, 2, 6));
        }
        for (int i = 0; i < cases; i++) {
            seq[i] = loss.withLayout(i % 2 == 1 ? LogitsLayout.NCW : LogitsLayout.NWC)
                    .computeWithGradient(zs[i], ids[i], masks[i]);
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<LossResult>> fs = new ArrayList<>();
            for (int rep = 0; rep < 4; rep++) {
                for (int i = 0; i < cases; i++) {
                    final int k = i;
                    fs.add(pool.submit(() -> loss.withLayout(k % 2 == 1 ? LogitsLayout.NCW : LogitsLayout.NWC)
                            .computeWithGradient(zs[k], ids[k], masks[k])));
                }
            }
            for (int j = 0; j < fs.size(); j++) {
                LossResult got = fs.get(j).get();
                LossResult exp = seq[j % cases];
                assertEquals(exp.loss(), got.loss(), 0.0);
                assertEquals(exp.summary(), got.summary());
                assertArrayEquals(exp.perTokenLossArray(), got.perTokenLossArray());
                assertEquals(exp.gradient(), got.gradient());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void referenceAndDefaultKernelAgreeOnALargeVocabulary() {
        int v = 32000;
        INDArray z = TestData.logits(new Random(5), 2, 3, v, false, DataType.FLOAT, TestData.ViewKind.C_ORDER, 3);
        long[][] ids = TestData.ids(RND, 2, 3, v);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2}, {1, 1, 2}});
        LossResult ref = WeightedCausalLMLoss.withDefaults().withKernel(ReferenceKernel.INSTANCE)
                .compute(z, TestData.idArray(ids, DataType.INT), mask);
        LossResult def = WeightedCausalLMLoss.withDefaults().compute(z, TestData.idArray(ids, DataType.INT), mask);
        // float32 in-row sums over 32000 terms: relative error well below 1e-5
        assertEquals(ref.loss(), def.loss(), 1e-5 * ref.loss());
    }
}
