package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The outputs of SPEC section 13 through the API: {@code withEntropy} (per-role mean entropies) and
 * {@code withPerTokenOutputs} (per-token entropy and arg-max). Expected values are the section's formulas
 * evaluated here in double from the stored logits ({@code H = -Σ p ln p} of the capped soft-max), with the
 * tolerances of the loss: relative 1e-12 for DOUBLE logits on the reference kernel, 1e-5·(1 + |H|) for the
 * fused kernel's fp32 rows (LossKernelContract's bound); the arg-max exactly.
 */
class EntropyOutputsTest {
    private static final int B = 3;
    private static final int N = 7;
    private static final int V = 37;
    private static final int[][] ROLES = {{1, 1, 1, 2, 2, 2, 0}, {1, 2, 2, 2, 0, 0, 0}, {0, 1, 1, 1, 1, 2, 2}};

    private static double entropy(double[] z, double cap) {
        double[] zc = new double[z.length];
        double m = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < z.length; v++) {
            zc[v] = cap > 0 ? cap * Math.tanh(z[v] / cap) : z[v];
            m = Math.max(m, zc[v]);
        }
        double s = 0;
        for (double x : zc) {
            s += Math.exp(x - m);
        }
        double h = 0;
        for (double x : zc) {
            double p = Math.exp(x - m) / s;
            h -= p > 0 ? p * Math.log(p) : 0.0;
        }
        return h;
    }

    private static int argMax(double[] z) {
        int arg = 0;
        for (int v = 1; v < z.length; v++) {
            if (z[v] > z[arg]) {
                arg = v;
            }
        }
        return arg;
    }

    @ParameterizedTest(name = "{0} cap={1} kernel={2}")
    @CsvSource({"DOUBLE,0,reference", "DOUBLE,5,reference", "FLOAT,0,cpu", "FLOAT,5,cpu", "DOUBLE,0,cpu",
        "HALF,5,cpu", "FLOAT,0,reference"})
    void meansAndPerTokenOutputsFollowSectionTwelve(DataType dt, double cap, String kernel) {
        Random rnd = new Random(7);
        INDArray z = TestData.logits(rnd, B, N, V, false, dt, TestData.ViewKind.C_ORDER, 3);
        long[][] ids = TestData.ids(rnd, B, N, V);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(ROLES);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.3).withLogitSoftCap(cap)
                .withBackend(kernel).withEntropy(true)
                .withPerTokenOutputs(PerTokenOutput.ENTROPY, PerTokenOutput.ARG_MAX);
        LossResult r = loss.compute(z, TestData.idArray(ids, DataType.INT), mask);
        assertEquals(kernel.equals("cpu") ? "fused-cpu" : "reference", r.kernelName(), "computed in the kernel");
        double tol = kernel.equals("reference") && dt == DataType.DOUBLE ? 1e-12 : 1e-5;
        double[] h = r.perTokenEntropyArray();
        int[] arg = r.perTokenArgMaxArray();
        double pSum = 0;
        double cSum = 0;
        int pCount = 0;
        int cCount = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < N; t++) {
                int i = b * N + t;
                int role = t + 1 < N ? ROLES[b][t + 1] : 0;   // shift: position t predicts t + 1
                if (role == 0) {
                    assertEquals(0.0, h[i], 0.0, "no target at " + i);
                    assertEquals(-1, arg[i], "no target at " + i);
                    continue;
                }
                double[] row = new double[V];
                for (int v = 0; v < V; v++) {
                    row[v] = z.getDouble(b, t, v);
                }
                double want = entropy(row, cap);
                assertEquals(want, h[i], tol * (1 + want), "entropy at " + i);
                assertEquals(argMax(row), arg[i], "arg-max at " + i);
                if (role == 1) {
                    pSum += want;
                    pCount++;
                } else {
                    cSum += want;
                    cCount++;
                }
            }
        }
        assertEquals(pSum / pCount, r.promptEntropy(), tol * (1 + pSum / pCount));
        assertEquals(cSum / cCount, r.completionEntropy(), tol * (1 + cSum / cCount));
        assertEquals(pCount, r.summary().promptEntropyTokens());
        assertEquals(cCount, r.summary().completionEntropyTokens());
        INDArray ha = r.perTokenEntropy();
        assertArrayEquals(new long[] {B, N}, ha.shape());
        assertEquals(DataType.INT, r.perTokenArgMax().dataType());
    }

    @Test
    void nothingAskedForNothingComputed() {
        Random rnd = new Random(3);
        INDArray z = TestData.logits(rnd, B, N, V, false, DataType.FLOAT, TestData.ViewKind.C_ORDER, 3);
        INDArray ids = TestData.idArray(TestData.ids(rnd, B, N, V), DataType.INT);
        LossResult r = WeightedCausalLMLoss.withDefaults().compute(z, ids, PromptCompletionMask.ofRoles(ROLES));
        assertTrue(Double.isNaN(r.promptEntropy()) && Double.isNaN(r.completionEntropy()), "NaN when not asked for");
        assertEquals(0, r.summary().promptEntropyTokens());
        IllegalStateException e = assertThrows(IllegalStateException.class, r::perTokenEntropy);
        assertTrue(e.getMessage().contains("withPerTokenOutputs(PerTokenOutput.ENTROPY)"), e.getMessage());
        assertThrows(IllegalStateException.class, r::perTokenArgMaxArray);
        // per-token entropy alone: the means stay NaN, the arrays come
        LossResult only = WeightedCausalLMLoss.withDefaults().withPerTokenOutputs(PerTokenOutput.ENTROPY)
                .compute(z, ids, PromptCompletionMask.ofRoles(ROLES));
        assertTrue(Double.isNaN(only.promptEntropy()));
        assertEquals(B * N, only.perTokenEntropyArray().length);
        assertThrows(IllegalStateException.class, only::perTokenArgMax);
    }

    /** Entropy over no tokens is NaN with count 0 (SPEC §5's empty sets): a batch without prompt targets. */
    @Test
    void entropyOverNoTokensIsNaN() {
        Random rnd = new Random(4);
        INDArray z = TestData.logits(rnd, 1, 4, 9, false, DataType.FLOAT, TestData.ViewKind.C_ORDER, 2);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 1, 4, 9), DataType.INT);
        LossResult r = WeightedCausalLMLoss.withDefaults().withEntropy(true)
                .compute(z, ids, PromptCompletionMask.ofRoles(new int[][] {{2, 2, 2, 2}}));
        assertTrue(Double.isNaN(r.promptEntropy()));
        assertEquals(0, r.summary().promptEntropyTokens());
        assertTrue(r.completionEntropy() > 0);
    }

    /** Merged summaries of two halves give bitwise the summary of the whole, entropies included. */
    @Test
    void entropySumsMergeExactly() {
        Random rnd = new Random(11);
        INDArray z = TestData.logits(rnd, 2, N, V, false, DataType.FLOAT, TestData.ViewKind.C_ORDER, 3);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 2, N, V), DataType.INT);
        int[][] roles = {ROLES[0], ROLES[1]};
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withEntropy(true);
        LossSummary whole = loss.compute(z, ids, PromptCompletionMask.ofRoles(roles)).summary();
        LossSummary a = loss.compute(z.get(NDArrayIndex.interval(0, 1)).dup(),
                ids.get(NDArrayIndex.interval(0, 1)).dup(),
                PromptCompletionMask.ofRoles(new int[][] {roles[0]})).summary();
        LossSummary b = loss.compute(z.get(NDArrayIndex.interval(1, 2)).dup(),
                ids.get(NDArrayIndex.interval(1, 2)).dup(),
                PromptCompletionMask.ofRoles(new int[][] {roles[1]})).summary();
        assertEquals(whole, a.merge(b));
        assertEquals(whole, b.merge(a));
        assertEquals(Double.doubleToLongBits(whole.promptEntropy()), Double.doubleToLongBits(a.merge(b).promptEntropy()));
        assertEquals(whole, LossSummary.empty().merge(whole));
    }

    /** The outputs leave the loss, the metrics and the gradient bitwise as they are without them. */
    @Test
    void outputsChangeNothingElse() {
        Random rnd = new Random(5);
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE, DataType.BFLOAT16}) {
            INDArray z = TestData.logits(rnd, B, N, V, false, dt, TestData.ViewKind.C_ORDER, 3);
            INDArray ids = TestData.idArray(TestData.ids(rnd, B, N, V), DataType.INT);
            PromptCompletionMask mask = PromptCompletionMask.ofRoles(ROLES);
            WeightedCausalLMLoss plain = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.2).withZLoss(1e-3);
            LossResult a = plain.computeWithGradient(z, ids, mask);
            LossResult b = plain.withEntropy(true).withPerTokenOutputs(PerTokenOutput.ARG_MAX, PerTokenOutput.ENTROPY)
                    .computeWithGradient(z, ids, mask);
            assertEquals(Double.doubleToLongBits(a.loss()), Double.doubleToLongBits(b.loss()), dt + " loss");
            assertArrayEquals(a.perTokenLossArray(), b.perTokenLossArray(), dt + " per-token losses");
            assertEquals(a.promptAccuracy(), b.promptAccuracy(), 0.0);
            assertEquals(a.gradient(), b.gradient(), dt + " gradient");
        }
    }

    /** A kernel without the outputs: the call runs on the reference kernel (SPEC section 13). */
    @Test
    void kernelsWithoutOutputsHandTheCallToTheReference() {
        LossKernel plain = new LossKernel() {
            @Override
            public String name() {
                return "plain";
            }

            @Override
            public void run(LossProblem p, double[] loss, boolean[] correct) {
                ReferenceKernel.INSTANCE.run(p, loss, correct);
            }
        };
        Random rnd = new Random(6);
        INDArray z = TestData.logits(rnd, 1, 4, 9, false, DataType.FLOAT, TestData.ViewKind.C_ORDER, 2);
        INDArray ids = TestData.idArray(TestData.ids(rnd, 1, 4, 9), DataType.INT);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 2, 2, 2}});
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withKernel(plain);
        assertEquals("plain", loss.compute(z, ids, mask).kernelName());
        assertEquals("reference", loss.withEntropy(true).compute(z, ids, mask).kernelName());
        assertEquals("reference", loss.withPerTokenOutputs(PerTokenOutput.ARG_MAX).compute(z, ids, mask).kernelName());
    }

    @Test
    void settingsAreValuesAndBadInputIsNamed() {
        WeightedCausalLMLoss d = WeightedCausalLMLoss.withDefaults();
        assertEquals(false, d.entropy());
        assertEquals(Set.of(), d.perTokenOutputs());
        WeightedCausalLMLoss e = d.withEntropy(true).withPerTokenOutputs(PerTokenOutput.ARG_MAX, PerTokenOutput.ARG_MAX);
        assertNotEquals(d, e);
        assertEquals(e, d.withPerTokenOutputs(PerTokenOutput.ARG_MAX).withEntropy(true));
        assertEquals(e.hashCode(), d.withPerTokenOutputs(PerTokenOutput.ARG_MAX).withEntropy(true).hashCode());
        assertEquals(Set.of(PerTokenOutput.ARG_MAX), e.perTokenOutputs());
        assertTrue(e.toString().contains("entropy=true, perTokenOutputs=[ARG_MAX]"), e.toString());
        assertEquals(d, e.withEntropy(false).withPerTokenOutputs());
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class,
                () -> d.withPerTokenOutputs(PerTokenOutput.ENTROPY, null));
        assertTrue(x.getMessage().contains("outputs must not be null nor hold null"), x.getMessage());
        assertThrows(IllegalArgumentException.class, () -> d.withPerTokenOutputs((PerTokenOutput[]) null));
    }

    /** With explicit weights and no roles the per-token outputs follow perTokenLoss: positions with weight. */
    @Test
    void explicitWeightsReportWhereTheLossIsReported() {
        INDArray z = Nd4j.createFromArray(new float[][][] {{{0, 0, 0}, {1, 2, 3}, {3, 1, 0}}});
        INDArray ids = Nd4j.createFromArray(new int[][] {{0, 2, 1}});
        LossResult r = WeightedCausalLMLoss.withDefaults().withShift(false).withPerTokenOutputs(PerTokenOutput.ARG_MAX,
                PerTokenOutput.ENTROPY).compute(z, ids, PromptCompletionMask.ofWeights(Nd4j.createFromArray(new double[][] {{1, 0, 0.5}})));
        assertArrayEquals(new int[] {0, -1, 0}, r.perTokenArgMaxArray());
        double[] h = r.perTokenEntropyArray();
        assertEquals(Math.log(3), h[0], 1e-6, "uniform over 3: ln 3");
        assertEquals(0.0, h[1], 0.0);
        assertTrue(Double.isNaN(r.promptEntropy()), "no roles: no per-role means");
    }
}
