package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.FusedCpuKernel;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The fused linear path against the materialised path in double: logits {@code z = h * W^T + b} formed in
 * DOUBLE, {@code computeWithGradient} on the reference kernel, then {@code dH = G * W}, {@code dW = G^T * h},
 * {@code db = sum_rows G}. Random cases cover every normalisation, PLW 0 / 0.1 / 1, shift on and off, an ignore
 * index inside the vocabulary, the SPEC section 7 extensions, bias or none, chunks of 1 row to all rows, weight
 * and hidden views (C order, transposed, sliced, permuted), both kernels and both dtypes.
 *
 * <p>Tolerances. DOUBLE inputs: the fused path's logits differ from the materialised ones only by the GEMM's
 * summation order over H (a few ulp), so losses agree to relative 1e-12 and gradients to 1e-12 times the
 * largest element of the expected array; counts and accuracies are exact. FLOAT inputs: the logits are
 * rounded to fp32 (relative 2^-24 per product, H terms) and the CPU kernel computes in fp32 (relative 2e-5 on
 * losses, LossContractTest), so losses agree to relative 1e-4 and gradients to 1e-4 times the largest
 * element; an arg-max may flip between two logits closer than fp32 rounding, so each accuracy's count of
 * correct tokens may differ by 1.
 */
class LinearCrossEntropyTest {

    /** A problem: inputs and the configuration. */
    record Case(WeightedCausalLMLoss cfg, INDArray hidden, INDArray weight, INDArray bias, INDArray ids,
            PromptCompletionMask mask) {
    }

    /** The materialised path in double. */
    record Expected(LossResult metrics, INDArray dh, INDArray dw, INDArray db) {
    }

    static Expected materialised(WeightedCausalLMLoss cfg, INDArray hidden, INDArray weight, INDArray bias,
            INDArray ids, PromptCompletionMask mask) {
        int b = (int) hidden.size(0);
        int n = (int) hidden.size(1);
        int h = (int) hidden.size(2);
        int v = (int) weight.size(0);
        INDArray h2 = hidden.castTo(DataType.DOUBLE).dup('c').reshape(b * n, h);
        INDArray w = weight.castTo(DataType.DOUBLE).dup('c');
        INDArray z = h2.mmul(w.transpose());
        if (bias != null) {
            z.addiRowVector(bias.castTo(DataType.DOUBLE).reshape(1, v));
        }
        LossResult r = cfg.withKernel(ReferenceKernel.INSTANCE).computeWithGradient(z.reshape(b, n, v), ids, mask);
        INDArray g = r.gradient().reshape(b * n, v);
        return new Expected(r, g.mmul(w).reshape(b, n, h), g.transpose().mmul(h2),
                bias == null ? null : g.sum(0));
    }

    static LinearLossResult fused(Case c) {
        return c.bias == null ? c.cfg.computeFromHiddenWithGradient(c.hidden, c.weight, c.ids, c.mask)
                : c.cfg.computeFromHiddenWithGradient(c.hidden, c.weight, c.bias, c.ids, c.mask);
    }

    static LossResult fusedForward(Case c) {
        return c.bias == null ? c.cfg.computeFromHidden(c.hidden, c.weight, c.ids, c.mask)
                : c.cfg.computeFromHidden(c.hidden, c.weight, c.bias, c.ids, c.mask);
    }

    /** {@code cfg} with a budget of exactly {@code rows} chunk rows. */
    static WeightedCausalLMLoss rows(WeightedCausalLMLoss cfg, int rows, int v, int h, DataType dt) {
        return cfg.withChunkBytes(rows * LinearCrossEntropy.bytesPerRow(v, h, dt));
    }

    static INDArray gaussian(Random rnd, double scale, long... shape) {
        long len = 1;
        for (long d : shape) {
            len *= d;
        }
        double[] vals = new double[(int) len];
        for (int i = 0; i < vals.length; i++) {
            vals[i] = rnd.nextGaussian() * scale;
        }
        return Nd4j.createFromArray(vals).reshape(shape);
    }

    /** The same values as {@code a} in a layout of the given kind: 0 C order, 1 transposed (F order), 2 sliced. */
    static INDArray viewOf(INDArray a, int kind, DataType dt) {
        INDArray c = a.castTo(dt);
        long[] shape = a.shape();
        switch (kind) {
            case 1: {
                INDArray f = Nd4j.create(dt, shape, 'f');
                return f.assign(c);
            }
            case 2: {
                INDArray big = shape.length == 2 ? Nd4j.rand(dt, shape[0] + 2, shape[1] + 3)
                        : Nd4j.rand(dt, shape[0] + 1, shape[1] + 2, shape[2] + 3);
                INDArray view = shape.length == 2
                        ? big.get(NDArrayIndex.interval(1, shape[0] + 1), NDArrayIndex.interval(2, shape[1] + 2))
                        : big.get(NDArrayIndex.interval(1, shape[0] + 1), NDArrayIndex.interval(2, shape[1] + 2),
                                NDArrayIndex.interval(1, shape[2] + 1));
                return view.assign(c);
            }
            default:
                return c.dup('c');
        }
    }

    static Case randomCase(int seed) {
        Random rnd = new Random(5000 + seed);
        DataType dt = seed % 3 == 2 ? DataType.FLOAT : DataType.DOUBLE;
        int b = 1 + rnd.nextInt(3);
        int n = 1 + rnd.nextInt(7);
        int h = 1 + rnd.nextInt(9);
        int v = 2 + rnd.nextInt(seed % 5 == 0 ? 200 : 40);
        Normalization mode = Normalization.values()[seed % Normalization.values().length];
        double plw = new double[] {0.0, 0.1, 1.0}[(seed / 4) % 3];
        WeightedCausalLMLoss cfg = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw)
                .withShift(rnd.nextInt(4) != 0)
                .withKernel(seed % 2 == 0 ? ReferenceKernel.INSTANCE : Backends.byName("cpu"));
        cfg = mode == Normalization.GLOBAL_DENOMINATOR ? cfg.withGlobalDenominator(0.5 + 10 * rnd.nextDouble())
                : cfg.withNormalization(mode);
        if (rnd.nextInt(3) == 0) {
            cfg = cfg.withIgnoreIndex(v - 1);
        }
        if (seed % 7 == 3) {
            cfg = cfg.withLabelSmoothing(0.1).withZLoss(1e-3).withLogitSoftCap(3.0);
        }
        INDArray hidden = viewOf(gaussian(rnd, 1, b, n, h), seed % 4 == 1 ? 2 : 0, dt);
        if (seed % 4 == 3) { // the DL4J NCW input: [B, H, N] permuted to [B, N, H]
            INDArray ncw = Nd4j.create(dt, b, h, n);
            ncw.assign(hidden.permute(0, 2, 1));
            hidden = ncw.permute(0, 2, 1);
        }
        INDArray weight = viewOf(gaussian(rnd, 1.5 / Math.sqrt(h), v, h), (seed / 3) % 3, dt);
        INDArray bias = rnd.nextBoolean() ? viewOf(gaussian(rnd, 0.5, v), 0, dt) : null;
        INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(rnd, b, n));
        int[] chunkRows = {1, 2, 3, b * n, b * n + 5};
        cfg = cfg.withZeroWeightRows(seed % 6 == 5 ? ZeroWeightRows.SKIPPED : ZeroWeightRows.MEASURED);
        if (seed % 11 != 4) { // else the derived budget
            cfg = rows(cfg, chunkRows[rnd.nextInt(chunkRows.length)], v, h, dt);
        }
        return new Case(cfg, hidden, weight, bias, ids, mask);
    }

    static IntStream seeds() {
        return IntStream.range(0, 72);
    }

    @ParameterizedTest(name = "case {0}")
    @MethodSource("seeds")
    void matchesTheMaterialisedPathInDouble(int seed) {
        Case c = randomCase(seed);
        boolean skipped = c.cfg.zeroWeightRows() == ZeroWeightRows.SKIPPED;
        Expected e = materialised(c.cfg, c.hidden, c.weight, c.bias, c.ids, c.mask);
        // SKIPPED leaves out the metrics of weight-0 targets: the same as their roles set to IGNORE
        Expected eMetrics = skipped && c.cfg.promptLossWeight() == 0.0
                ? materialised(c.cfg, c.hidden, c.weight, c.bias, c.ids, withoutPrompt(c.mask)) : e;
        double tol = c.hidden.dataType() == DataType.DOUBLE ? 1e-12 : 1e-4;
        int countTol = c.hidden.dataType() == DataType.DOUBLE ? 0 : 1;
        LinearLossResult r = fused(c);
        assertMetrics(eMetrics.metrics, r, tol, countTol, "fwd+grad " + c.cfg);
        assertNull(r.gradient());
        assertClose(e.dh, r.hiddenGradient(), tol, "dL/dh");
        assertClose(e.dw, r.weightGradient(), tol, "dL/dW");
        assertArrayEquals(c.hidden.shape(), r.hiddenGradient().shape());
        assertArrayEquals(c.weight.shape(), r.weightGradient().shape());
        if (c.bias != null) {
            assertClose(e.db, r.biasGradient().reshape(e.db.shape()), tol, "dL/db");
        } else {
            assertNull(r.biasGradient());
        }
        assertMetrics(eMetrics.metrics, fusedForward(c), tol, countTol, "forward " + c.cfg);
    }

    static PromptCompletionMask withoutPrompt(PromptCompletionMask mask) {
        byte[] codes = mask.roleCodes();
        int[][] roles = new int[mask.batchSize()][mask.sequenceLength()];
        for (int i = 0; i < codes.length; i++) {
            roles[i / mask.sequenceLength()][i % mask.sequenceLength()] = codes[i] == 1 ? 0 : codes[i];
        }
        return PromptCompletionMask.ofRoles(roles);
    }

    static void assertMetrics(LossResult e, LossResult r, double tol, int countTol, String what) {
        assertRel(e.loss(), r.loss(), tol, what + " loss");
        assertRel(e.weightSum(), r.weightSum(), tol, what + " weightSum");
        assertRel(e.weightedLossSum(), r.weightedLossSum(), tol, what + " weightedLossSum");
        assertEquals(e.promptTokens(), r.promptTokens(), what + " promptTokens");
        assertEquals(e.completionTokens(), r.completionTokens(), what + " completionTokens");
        assertRel(e.promptLoss(), r.promptLoss(), tol, what + " promptLoss");
        assertRel(e.completionLoss(), r.completionLoss(), tol, what + " completionLoss");
        assertEquals(e.promptAccuracy() * e.promptTokens(), r.promptAccuracy() * r.promptTokens(), countTol + 1e-9,
                what + " prompt correct");
        assertEquals(e.completionAccuracy() * e.completionTokens(), r.completionAccuracy() * r.completionTokens(),
                countTol + 1e-9, what + " completion correct");
        assertEquals(e.nonFiniteTokens(), r.nonFiniteTokens(), what + " nonFinite");
        double[] ep = e.perTokenLossArray();
        double[] rp = r.perTokenLossArray();
        for (int i = 0; i < ep.length; i++) {
            assertRel(ep[i], rp[i], tol, what + " perToken " + i);
        }
    }

    static void assertRel(double e, double a, double tol, String what) {
        if (Double.isNaN(e)) {
            assertTrue(Double.isNaN(a), what + ": expected NaN, was " + a);
            return;
        }
        assertEquals(e, a, tol * Math.max(1.0, Math.abs(e)), what);
    }

    static void assertClose(INDArray e, INDArray a, double tol, String what) {
        assertArrayEquals(e.shape(), a.shape(), what + " shape");
        double[] ev = e.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] av = a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double scale = 0;
        for (double x : ev) {
            scale = Math.max(scale, Math.abs(x));
        }
        for (int i = 0; i < ev.length; i++) {
            assertEquals(ev[i], av[i], tol * Math.max(scale, 1e-300), what + " element " + i);
        }
    }

    @Test
    void allIgnoredGivesLossZeroAndZeroGradients() {
        Random rnd = new Random(7);
        INDArray hidden = gaussian(rnd, 1, 2, 3, 4);
        INDArray weight = gaussian(rnd, 1, 5, 4);
        INDArray bias = gaussian(rnd, 1, 5);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 2, 3, 5), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{0, 0, 0}, {0, 0, 0}});
        Case c = new Case(WeightedCausalLMLoss.withDefaults(), hidden, weight, bias, ids, mask);
        LinearLossResult r = fused(c);
        // SPEC section 4: denominator 0 gives loss 0 and an all-zero gradient
        assertEquals(0.0, r.loss());
        assertEquals(0L, r.promptTokens() + r.completionTokens());
        assertEquals(0.0, r.hiddenGradient().amaxNumber().doubleValue());
        assertEquals(0.0, r.weightGradient().amaxNumber().doubleValue());
        assertEquals(0.0, r.biasGradient().amaxNumber().doubleValue());
    }

    @Test
    void skippedRowsLeaveThePromptMetricsAbsentAtPlwZero() {
        Random rnd = new Random(8);
        INDArray hidden = gaussian(rnd, 1, 2, 6, 4);
        INDArray weight = gaussian(rnd, 1, 9, 4);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 2, 6, 9), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 1, 2, 2, 0}, {1, 1, 2, 2, 2, 2}});
        WeightedCausalLMLoss cfg = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.0);
        Case measured = new Case(cfg, hidden, weight, null, ids, mask);
        Case skipped = new Case(cfg.withZeroWeightRows(ZeroWeightRows.SKIPPED), hidden, weight, null, ids, mask);
        LinearLossResult m = fused(measured);
        LinearLossResult s = fused(skipped);
        // under shift the targets of positions 0..4 are the roles of 1..5: 2 + 1 prompt targets
        assertEquals(3, m.promptTokens());
        assertEquals(0, s.promptTokens());
        assertTrue(Double.isNaN(s.promptLoss()), "a mean over no tokens is NaN (SPEC section 5)");
        assertEquals(m.completionTokens(), s.completionTokens());
        // the same rows of weight > 0 through the same chunks: bitwise the same loss and gradients
        assertEquals(m.loss(), s.loss());
        assertEquals(m.hiddenGradient(), s.hiddenGradient());
        assertEquals(m.weightGradient(), s.weightGradient());
        assertEquals(0.0, s.perTokenLossArray()[0], "a skipped prompt target reports 0");
    }

    @Test
    void zeroWeightRowsWithNonFiniteHiddenStatesPoisonNothing() {
        Random rnd = new Random(9);
        INDArray hidden = gaussian(rnd, 1, 1, 6, 3);
        INDArray weight = gaussian(rnd, 1, 7, 3);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 1, 6, 7), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 1, 1, 2, 2}});
        WeightedCausalLMLoss cfg = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.0);
        INDArray clean = hidden.dup();
        hidden.putScalar(new int[] {0, 0, 1}, Double.NaN); // predicts token 1: a prompt target, weight 0
        hidden.putScalar(new int[] {0, 2, 0}, Double.POSITIVE_INFINITY); // predicts token 3: a prompt target
        for (int rowsPerChunk : new int[] {1, 2, 6}) {
            WeightedCausalLMLoss chunked = rows(cfg, rowsPerChunk, 7, 3, DataType.DOUBLE);
            LinearLossResult dirty = fused(new Case(chunked, hidden, weight, null, ids, mask));
            LinearLossResult ok = fused(new Case(chunked, clean, weight, null, ids, mask));
            assertEquals(ok.loss(), dirty.loss(), "chunk rows " + rowsPerChunk);
            assertEquals(0L, dirty.nonFiniteTokens());
            assertEquals(ok.weightGradient(), dirty.weightGradient(), "chunk rows " + rowsPerChunk);
            assertTrue(Double.isNaN(dirty.promptLoss()), "the prompt metric sees the NaN row");
            // position 1 (a clean prompt target) is computed after the dirty position 0 in the same buffer
            for (int t : new int[] {1, 3, 4}) {
                assertEquals(ok.perTokenLossArray()[t], dirty.perTokenLossArray()[t], "position " + t);
            }
        }
    }

    @Test
    void kernelThreadCountsOneAndSevenGiveBitwiseTheSameResult() {
        Random rnd = new Random(10);
        int b = 4;
        int n = 64;
        int h = 8;
        int v = 300;
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            INDArray hidden = gaussian(rnd, 1, b, n, h).castTo(dt);
            INDArray weight = gaussian(rnd, 0.5, v, h).castTo(dt);
            INDArray bias = gaussian(rnd, 0.5, v).castTo(dt);
            INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.INT);
            PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(rnd, b, n));
            LossKernel one = FusedCpuKernel.withParallelism(1);
            LossKernel seven = FusedCpuKernel.withParallelism(7);
            WeightedCausalLMLoss cfg = rows(WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1), 100, v, h, dt);
            LinearLossResult a = fused(new Case(cfg.withKernel(one), hidden, weight, bias, ids, mask));
            LinearLossResult c = fused(new Case(cfg.withKernel(seven), hidden, weight, bias, ids, mask));
            assertEquals(a.loss(), c.loss(), dt.toString());
            assertArrayEquals(a.perTokenLossArray(), c.perTokenLossArray(), dt.toString());
            assertEquals(a.hiddenGradient(), c.hiddenGradient(), dt.toString());
            assertEquals(a.weightGradient(), c.weightGradient(), dt.toString());
            assertEquals(a.biasGradient(), c.biasGradient(), dt.toString());
        }
    }

    /**
     * fp32 chunks of at most {@link FewRowProducts#MAX_ROWS} rows go to the few-row products (H = 70: vector blocks,
     * single vectors and a scalar tail; V = 301: segment bounds and a partial block): the same checks as the random
     * cases against the materialised path in double, against the BLAS products ({@value
     * LinearCrossEntropy#FEW_ROWS_PROPERTY} = false) to 2e-5 of the largest element (two fp32 sums of the same
     * terms in different orders), bitwise the same for kernel thread counts 1 and 7, and accumulation into
     * caller-owned arrays.
     */
    @Test
    void fewRowChunksMatchTheMaterialisedPathAndTheBlasProducts() {
        assumeTrue(FewRowProducts.available() != null, "jdk.incubator.vector is not resolved");
        Random rnd = new Random(13);
        int b = 3;
        int n = 40;
        int h = 70;
        int v = 301;
        int[][] roles = new int[b][n];
        for (int i = 0; i < b; i++) {
            int completion = 3 + rnd.nextInt(5); // RACE-like: a long prompt, a short answer, padding
            for (int t = 0; t < n - 2; t++) {
                roles[i][t] = t < n - 2 - completion ? 1 : 2;
            }
        }
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(roles);
        INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.INT);
        INDArray hidden = gaussian(rnd, 1, b, n, h).castTo(DataType.FLOAT);
        INDArray bias = gaussian(rnd, 0.5, v).castTo(DataType.FLOAT);
        WeightedCausalLMLoss skipped = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.0)
                .withZeroWeightRows(ZeroWeightRows.SKIPPED);
        WeightedCausalLMLoss chunked = rows(WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1)
                .withLabelSmoothing(0.1), 7, v, h, DataType.FLOAT);
        for (int kind : new int[] {0, 2}) {
            INDArray weight = viewOf(gaussian(rnd, 1.5 / Math.sqrt(h), v, h), kind, DataType.FLOAT);
            for (WeightedCausalLMLoss cfg : new WeightedCausalLMLoss[] {skipped, chunked}) {
                for (INDArray bi : new INDArray[] {null, bias}) {
                    String what = cfg + (bi == null ? "" : " with bias") + ", weight layout " + kind;
                    Case c = new Case(cfg, hidden, weight, bi, ids, mask);
                    Expected e = materialised(cfg, hidden, weight, bi, ids,
                            cfg == skipped ? withoutPrompt(mask) : mask);
                    LinearLossResult r = fused(c);
                    assertMetrics(e.metrics, r, 1e-4, 1, what);
                    assertClose(e.dh, r.hiddenGradient(), 1e-4, what + " dL/dh");
                    assertClose(e.dw, r.weightGradient(), 1e-4, what + " dL/dW");
                    if (bi != null) {
                        assertClose(e.db, r.biasGradient().reshape(e.db.shape()), 1e-4, what + " dL/db");
                    }
                    LinearLossResult blas;
                    System.setProperty(LinearCrossEntropy.FEW_ROWS_PROPERTY, "false");
                    try {
                        blas = fused(c);
                    } finally {
                        System.clearProperty(LinearCrossEntropy.FEW_ROWS_PROPERTY);
                    }
                    assertClose(blas.hiddenGradient(), r.hiddenGradient(), 2e-5, what + " dL/dh vs BLAS");
                    assertClose(blas.weightGradient(), r.weightGradient(), 2e-5, what + " dL/dW vs BLAS");
                    // the two paths sum in different orders: equal bits everywhere would mean one path ran twice
                    assertFalse(Arrays.equals(blas.weightGradient().dup('c').data().asFloat(),
                            r.weightGradient().dup('c').data().asFloat()), what + ": the few-row products ran");
                    LinearLossResult one = fused(new Case(cfg.withKernel(FusedCpuKernel.withParallelism(1)), hidden,
                            weight, bi, ids, mask));
                    LinearLossResult seven = fused(new Case(cfg.withKernel(FusedCpuKernel.withParallelism(7)), hidden,
                            weight, bi, ids, mask));
                    assertArrayEquals(one.perTokenLossArray(), seven.perTokenLossArray(), what);
                    assertArrayEquals(one.hiddenGradient().data().asFloat(), seven.hiddenGradient().data().asFloat(),
                            what + " dL/dh, threads 1 and 7");
                    assertArrayEquals(one.weightGradient().data().asFloat(), seven.weightGradient().data().asFloat(),
                            what + " dL/dW, threads 1 and 7");
                }
            }
            INDArray dw0 = gaussian(rnd, 1, v, h).castTo(DataType.FLOAT);
            INDArray dw = dw0.dup();
            LinearLossResult whole = skipped.computeFromHiddenWithGradient(hidden, weight, ids, mask);
            skipped.computeFromHiddenWithGradient(hidden, weight, null, ids, mask, null, dw, null,
                    GradientMode.ACCUMULATE);
            assertClose(whole.weightGradient().add(dw0), dw, 2e-6, "accumulated dL/dW, weight layout " + kind);
        }
    }

    @Test
    void gradientsMatchCentralFiniteDifferences() {
        Random rnd = new Random(11);
        INDArray hidden = gaussian(rnd, 1, 2, 3, 3);
        INDArray weight = gaussian(rnd, 1, 5, 3);
        INDArray bias = gaussian(rnd, 1, 5);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 2, 3, 5), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 2}, {1, 2, 2}});
        WeightedCausalLMLoss cfg = rows(WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.3)
                .withKernel(ReferenceKernel.INSTANCE), 2, 5, 3, DataType.DOUBLE);
        LinearLossResult r = fused(new Case(cfg, hidden, weight, bias, ids, mask));
        // central differences, step 1e-6: truncation O(h^2) ~ 1e-12 and rounding ~ 1e-16 / 1e-6 = 1e-10;
        // absolute 1e-7 as in GradientCheckTest
        double step = 1e-6;
        for (INDArray[] p : new INDArray[][] {{hidden, r.hiddenGradient()}, {weight, r.weightGradient()},
                {bias, r.biasGradient()}}) {
            INDArray x = p[0];
            for (long i = 0; i < x.length(); i++) {
                double x0 = x.getDouble(i);
                x.putScalar(i, x0 + step);
                double up = cfg.computeFromHidden(hidden, weight, bias, ids, mask).loss();
                x.putScalar(i, x0 - step);
                double down = cfg.computeFromHidden(hidden, weight, bias, ids, mask).loss();
                x.putScalar(i, x0);
                assertEquals((up - down) / (2 * step), p[1].getDouble(i), 1e-7, "element " + i);
            }
        }
    }

    @Test
    void accumulateAddsToCallerOwnedGradientsAndMicroBatchesAddUp() {
        Random rnd = new Random(12);
        int b = 4;
        int n = 5;
        int h = 3;
        int v = 11;
        INDArray hidden = gaussian(rnd, 1, b, n, h);
        INDArray weight = gaussian(rnd, 1, v, h);
        INDArray bias = gaussian(rnd, 1, v);
        INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.INT);
        int[][] roles = TestData.roles(rnd, b, n);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(roles);
        WeightedCausalLMLoss cfg = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
        double total = fused(new Case(cfg, hidden, weight, bias, ids, mask)).weightSum();
        WeightedCausalLMLoss global = cfg.withGlobalDenominator(total);
        LinearLossResult whole = fused(new Case(global, hidden, weight, bias, ids, mask));
        INDArray dw = gaussian(rnd, 1, v, h);
        INDArray db = gaussian(rnd, 1, v);
        INDArray dw0 = dw.dup();
        INDArray db0 = db.dup();
        for (int half = 0; half < 2; half++) {
            NDArrayIndexRows rowsOf = new NDArrayIndexRows(half * 2, half * 2 + 2);
            INDArray dh = Nd4j.create(DataType.DOUBLE, 2, n, h).assign(Double.NaN); // overwritten, never read
            LinearLossResult part = global.computeFromHiddenWithGradient(rowsOf.of(hidden), weight, bias,
                    rowsOf.of(ids),
                    PromptCompletionMask.ofRoles(Arrays.copyOfRange(roles, half * 2, half * 2 + 2)), dh, dw,
                    db, GradientMode.ACCUMULATE);
            assertTrue(part.weightGradient() == dw && part.biasGradient() == db && part.hiddenGradient() == dh);
            assertClose(rowsOf.of(whole.hiddenGradient()), dh, 1e-12, "dL/dh of micro-batch " + half);
        }
        // two micro-batches under the step's global denominator add up to the whole batch's gradient
        assertClose(whole.weightGradient().add(dw0), dw, 1e-12, "accumulated dL/dW");
        assertClose(whole.biasGradient().add(db0), db, 1e-12, "accumulated dL/db");
        global.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, null, dw, db, GradientMode.OVERWRITE);
        assertClose(whole.weightGradient(), dw, 0, "overwritten dL/dW");
        assertClose(whole.biasGradient(), db, 0, "overwritten dL/db");
    }

    /** Rows {@code [from, to)} of the first dimension. */
    record NDArrayIndexRows(int from, int to) {
        INDArray of(INDArray a) {
            return a.rank() == 2 ? a.get(NDArrayIndex.interval(from, to), NDArrayIndex.all())
                    : a.get(NDArrayIndex.interval(from, to), NDArrayIndex.all(), NDArrayIndex.all());
        }
    }

    /**
     * OVERWRITE replaces whatever the caller's arrays held, NaN included (the first chunk's GEMM runs with
     * beta = 0 instead of a zeroing pass): the result is that of new arrays (INDArray.equals: every element
     * within 1e-5 on values of order 1, and no NaN), for a C-order and a transposed weight gradient, one chunk and
     * several; with every target ignored the arrays become zeros.
     */
    @Test
    void overwriteReplacesNanContentsOfCallerArrays() {
        Random rnd = new Random(91);
        INDArray hidden = gaussian(rnd, 1, 2, 5, 3);
        INDArray weight = gaussian(rnd, 1, 7, 3);
        INDArray bias = gaussian(rnd, 1, 7);
        INDArray ids = Nd4j.createFromArray(new int[][] {{1, 2, 3, 4, 5}, {6, 0, 1, 2, 3}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(new int[] {2, 1}, new int[] {5, 4}, 5,
                Padding.RIGHT);
        for (int rows : new int[] {1, 3, 10}) {
            WeightedCausalLMLoss cfg = rows(WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1), rows, 7, 3,
                    DataType.DOUBLE);
            LinearLossResult fresh = cfg.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask);
            for (boolean transposed : new boolean[] {false, true}) {
                INDArray dh = Nd4j.valueArrayOf(hidden.shape(), Double.NaN, DataType.DOUBLE);
                INDArray dw = transposed ? Nd4j.valueArrayOf(new long[] {3, 7}, Double.NaN, DataType.DOUBLE).transpose()
                        : Nd4j.valueArrayOf(weight.shape(), Double.NaN, DataType.DOUBLE);
                INDArray db = Nd4j.valueArrayOf(bias.shape(), Double.NaN, DataType.DOUBLE);
                LinearLossResult r = cfg.computeFromHiddenWithGradient(hidden, weight, bias, ids, mask, dh, dw, db,
                        GradientMode.OVERWRITE);
                String what = rows + " rows, transposed " + transposed;
                assertEquals(fresh.hiddenGradient(), r.hiddenGradient(), what + ": dL/dh");
                assertEquals(fresh.weightGradient(), r.weightGradient(), what + ": dL/dW");
                assertEquals(fresh.biasGradient(), r.biasGradient(), what + ": dL/db");
            }
        }
        PromptCompletionMask ignored = PromptCompletionMask.ofRoles(new int[2][5]);
        INDArray dw = Nd4j.valueArrayOf(weight.shape(), Double.NaN, DataType.DOUBLE);
        INDArray db = Nd4j.valueArrayOf(bias.shape(), Double.NaN, DataType.DOUBLE);
        WeightedCausalLMLoss.withDefaults().computeFromHiddenWithGradient(hidden, weight, bias, ids, ignored, null, dw,
                db, GradientMode.OVERWRITE);
        assertEquals(Nd4j.zeros(DataType.DOUBLE, 7, 3), dw, "all ignored: dL/dW = 0");
        assertEquals(Nd4j.zeros(DataType.DOUBLE, 7), db, "all ignored: dL/db = 0");
    }

    @Test
    void derivedChunkBudgetIsAShareOfTheLogitsWithACapAndAFloorOfRows() {
        // one row needs (32000 + 2*512) * 4 = 132096 bytes (V = 32000, H = 512, fp32)
        long row = LinearCrossEntropy.bytesPerRow(32000, 512, DataType.FLOAT);
        assertEquals(132096, row);
        // 1024 positions: logits/8 = 16.4 MB = 124 rows, below the floor of 512 rows
        assertEquals(512 * row, LinearCrossEntropy.derivedChunkBytes(1024, 32000, 512, DataType.FLOAT));
        // 8192 positions: logits/8 = 131 MB, capped at 64 MiB = 508 rows, below the floor again
        assertEquals(512 * row, LinearCrossEntropy.derivedChunkBytes(8192, 32000, 512, DataType.FLOAT));
        // V = 4000, H = 64: a row is 16512 bytes; 1 << 16 positions: logits/8 = 131 MB, 64 MiB = 4064 rows
        long small = LinearCrossEntropy.bytesPerRow(4000, 64, DataType.FLOAT);
        assertEquals((64L << 20) / small * small, LinearCrossEntropy.derivedChunkBytes(1 << 16, 4000, 64, DataType.FLOAT));
        // 8192 positions of that: logits/8 = 16.4 MB = 992 rows
        assertEquals(8192L * 4000 * 4 / 8 / small * small,
                LinearCrossEntropy.derivedChunkBytes(8192, 4000, 64, DataType.FLOAT));
        // fewer positions than the floor: all of them
        assertEquals(100 * row, LinearCrossEntropy.derivedChunkBytes(100, 32000, 512, DataType.FLOAT));
        assertEquals(row, LinearCrossEntropy.derivedChunkBytes(1, 32000, 512, DataType.FLOAT));
    }
}
