package org.plw4j.samediff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.validation.GradCheckUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.LogitsLayout;
import org.plw4j.LossResult;
import org.plw4j.PromptCompletionMask;
import org.plw4j.WeightedCausalLMLoss;

/**
 * {@link PlwSameDiff}: SameDiff's own gradient check (central differences, double precision), value and
 * gradient against {@link WeightedCausalLMLoss} and a plain-Java oracle written in this test, the
 * all-ignored guard, and a
 * demonstration that {@code sd.loss.sparseSoftmaxCrossEntropy} gets the gradient of a weighted sum wrong
 * in ND4J 1.0.0-M2.1.
 */
class PlwSameDiffTest {
    private static final int B = 2;
    private static final int N = 4;
    private static final int V = 5;
    /** Ids and roles of a 2 x 4 batch: prompt, completion, padding, and one ignore-index target. */
    private static final int[][] IDS = {{1, 4, 0, 2}, {3, -100, 2, 7}};
    private static final int[][] ROLES = {{1, 1, 2, 2}, {1, 2, 2, 0}};

    private static DataType savedDefault;

    @BeforeAll
    static void doublePrecision() {
        savedDefault = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE); // GradCheckUtil requires it
    }

    @AfterAll
    static void restore() {
        Nd4j.setDefaultDataTypes(savedDefault, savedDefault);
    }

    /** Random NWC logits [B, N, V] in double, seeded. */
    private static double[][][] randomLogits(long seed) {
        Random r = new Random(seed);
        double[][][] z = new double[B][N][V];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < N; t++) {
                for (int v = 0; v < V; v++) {
                    z[b][t][v] = 2 * r.nextGaussian();
                }
            }
        }
        return z;
    }

    private static INDArray toArray(double[][][] z, LogitsLayout layout) {
        INDArray nwc = Nd4j.create(z);
        return layout == LogitsLayout.NWC ? nwc : nwc.permute(0, 2, 1).dup('c');
    }

    /** Oracle: sum w*l / sum w with l = lse - z[y], straight from SPEC sections 3-4 (0 when sum w = 0). */
    static double oracle(double[][][] z, int[][] ids, int[][] roles, double plw) {
        double num = 0;
        double den = 0;
        for (int b = 0; b < ids.length; b++) {
            for (int t = 0; t < ids[b].length; t++) {
                double w = roles[b][t] == 2 ? 1 : roles[b][t] == 1 ? plw : 0;
                if (ids[b][t] == PlwSameDiff.DEFAULT_IGNORE_INDEX || w == 0) {
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double x : z[b][t]) {
                    max = Math.max(max, x);
                }
                double s = 0;
                for (double x : z[b][t]) {
                    s += Math.exp(x - max);
                }
                num += w * (max + Math.log(s) - z[b][t][ids[b][t]]);
                den += w;
            }
        }
        return den == 0 ? 0 : num / den;
    }

    private static SameDiff graph(INDArray logits, int[][] ids, int[][] roles, double plw, LogitsLayout layout) {
        SameDiff sd = SameDiff.create();
        SDVariable z = sd.var("logits", logits);
        SDVariable y = sd.constant("ids", Nd4j.createFromArray(ids));
        SDVariable r = sd.constant("roles", Nd4j.createFromArray(roles));
        PlwSameDiff.weightedCausalLMLoss(sd, "loss", z, y, r, plw, layout, PlwSameDiff.DEFAULT_IGNORE_INDEX);
        return sd;
    }

    /**
     * Forward value and gradient against {@link WeightedCausalLMLoss} (shift off, same layout) on the same
     * inputs, and the value against the oracle above: 1e-12 relative for the loss, 1e-14 absolute per
     * gradient entry (both double, different summation order).
     */
    @ParameterizedTest
    @CsvSource({"1.0,NWC", "0.1,NWC", "0.0,NWC", "1.0,NCW", "0.1,NCW", "0.0,NCW"})
    void matchesWeightedCausalLMLoss(double plw, LogitsLayout layout) {
        double[][][] z = randomLogits(42);
        INDArray logits = toArray(z, layout);
        SameDiff sd = graph(logits, IDS, ROLES, plw, layout);
        double got = sd.outputSingle(Collections.emptyMap(), "loss").getDouble(0);
        LossResult api = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw).withShift(false)
                .withLayout(layout).computeWithGradient(logits, Nd4j.createFromArray(IDS),
                        PromptCompletionMask.ofRoles(ROLES));
        assertEquals(api.loss(), got, 1e-12 * api.loss(), "loss vs WeightedCausalLMLoss");
        assertEquals(oracle(z, IDS, ROLES, plw), got, 1e-12 * api.loss(), "loss vs oracle");
        INDArray g = sd.calculateGradients(Collections.emptyMap(), "logits").get("logits");
        assertTrue(api.gradient().equalsWithEps(g, 1e-14), "gradient vs WeightedCausalLMLoss");
    }

    /** FLOAT logits: the graph computes in float, the API accumulates in double; 1e-5 relative. */
    @Test
    void floatLogits() {
        INDArray logits = toArray(randomLogits(9), LogitsLayout.NWC).castTo(DataType.FLOAT);
        SameDiff sd = graph(logits, IDS, ROLES, 0.1, LogitsLayout.NWC);
        INDArray out = sd.outputSingle(Collections.emptyMap(), "loss");
        assertEquals(DataType.FLOAT, out.dataType());
        double api = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withShift(false)
                .compute(logits, Nd4j.createFromArray(IDS), PromptCompletionMask.ofRoles(ROLES)).loss();
        assertEquals(api, out.getDouble(0), 1e-5 * api);
    }

    /**
     * SameDiff's GradCheckUtil compares every analytic d loss / d logit with a central difference
     * (eps 1e-5, max relative error 1e-5, errors below 1e-6 absolute ignored: its defaults). Two cases
     * cover both layouts and a PLW with prompt weight and one without (each check runs 80 forward passes,
     * several seconds); {@link #matchesWeightedCausalLMLoss} compares the gradient for every case.
     */
    @ParameterizedTest
    @CsvSource({"0.1,NWC", "0.0,NCW"})
    void gradientCheck(double plw, LogitsLayout layout) {
        SameDiff sd = graph(toArray(randomLogits(43), layout), IDS, ROLES, plw, layout);
        assertTrue(GradCheckUtil.checkGradients(sd, Collections.emptyMap()), "SameDiff gradient check");
    }

    /** Rows of weight 0 get an exactly zero gradient; weighted rows get (w/S)(softmax - onehot). */
    @Test
    void gradientIsTheWeightedMeanGradient() {
        double plw = 0.25;
        double[][][] z = randomLogits(7);
        SameDiff sd = graph(toArray(z, LogitsLayout.NWC), IDS, ROLES, plw, LogitsLayout.NWC);
        INDArray g = sd.calculateGradients(Collections.emptyMap(), "logits").get("logits");
        double sumW = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < N; t++) {
                sumW += weight(b, t, plw);
            }
        }
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < N; t++) {
                double w = weight(b, t, plw);
                double[] p = softmax(z[b][t]);
                for (int v = 0; v < V; v++) {
                    double expected = w == 0 ? 0 : w / sumW * (p[v] - (v == IDS[b][t] ? 1 : 0));
                    assertEquals(expected, g.getDouble(b, t, v), 1e-14, "gradient at " + b + "," + t + "," + v);
                    if (w == 0) {
                        assertEquals(0.0, g.getDouble(b, t, v), 0.0, "ignored rows are exactly zero");
                    }
                }
            }
        }
    }

    private static double weight(int b, int t, double plw) {
        if (IDS[b][t] == PlwSameDiff.DEFAULT_IGNORE_INDEX) {
            return 0;
        }
        return ROLES[b][t] == 2 ? 1 : ROLES[b][t] == 1 ? plw : 0;
    }

    private static double[] softmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : z) {
            max = Math.max(max, x);
        }
        double s = 0;
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            p[i] = Math.exp(z[i] - max);
            s += p[i];
        }
        for (int i = 0; i < z.length; i++) {
            p[i] /= s;
        }
        return p;
    }

    /** SPEC section 4: everything ignored (here PLW 0 and no completion) gives loss 0 and a zero gradient. */
    @Test
    void allIgnoredIsZeroNotNaN() {
        int[][] roles = {{1, 1, 0, 0}, {1, 0, 0, 1}};
        SameDiff sd = graph(toArray(randomLogits(3), LogitsLayout.NWC), IDS, roles, 0.0, LogitsLayout.NWC);
        assertEquals(0.0, sd.outputSingle(Collections.emptyMap(), "loss").getDouble(0), 0.0);
        INDArray g = sd.calculateGradients(Collections.emptyMap(), "logits").get("logits");
        assertEquals(0.0, g.amaxNumber().doubleValue(), 0.0, "gradient must be exactly zero");
    }

    @Test
    void rejectsBadArguments() {
        SameDiff sd = SameDiff.create();
        SDVariable z = sd.var("z", DataType.DOUBLE, 2, 3, 4);
        SDVariable y = sd.constant(Nd4j.zeros(DataType.INT32, 2, 3));
        SDVariable r = sd.constant(Nd4j.zeros(DataType.INT32, 2, 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PlwSameDiff.weightedCausalLMLoss(sd, z, y, r, Double.NaN));
        assertTrue(e.getMessage().contains("promptLossWeight") && e.getMessage().contains("NaN"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PlwSameDiff.weightedCausalLMLoss(sd, z, y, r, 1.5));
        SDVariable ints = sd.constant(Nd4j.zeros(DataType.INT32, 2, 3, 4));
        e = assertThrows(IllegalArgumentException.class, () -> PlwSameDiff.weightedCausalLMLoss(sd, ints, y, r, 1));
        assertTrue(e.getMessage().contains("floating-point"), e.getMessage());
        SDVariable rank2 = sd.var("z2", DataType.DOUBLE, 2, 3);
        e = assertThrows(IllegalArgumentException.class, () -> PlwSameDiff.weightedCausalLMLoss(sd, rank2, y, r, 1));
        assertTrue(e.getMessage().contains("rank 3"), e.getMessage());
    }

    /** Placeholders with every size unknown (the vocabulary size is read at run time). */
    @Test
    void worksWithPlaceholders() {
        double[][][] z = randomLogits(11);
        SameDiff sd = SameDiff.create();
        SDVariable logits = sd.placeHolder("logits", DataType.DOUBLE, -1, -1, -1);
        SDVariable ids = sd.placeHolder("ids", DataType.INT32, -1, -1);
        SDVariable roles = sd.placeHolder("roles", DataType.INT32, -1, -1);
        SDVariable loss = PlwSameDiff.weightedCausalLMLoss(sd, logits, ids, roles, 0.1);
        Map<String, INDArray> feed = Map.of("logits", Nd4j.create(z), "ids", Nd4j.createFromArray(IDS),
                "roles", Nd4j.createFromArray(ROLES));
        double expected = oracle(z, IDS, ROLES, 0.1);
        assertEquals(expected, sd.outputSingle(feed, loss.name()).getDouble(0), 1e-12 * expected);
        assertTrue(sd.getLossVariables().contains(loss.name()), "marked as loss");
    }

    /**
     * The finding this class's Javadoc documents: in ND4J 1.0.0-M2.1 the backward pass of
     * {@code sd.loss.sparseSoftmaxCrossEntropy} ignores the incoming gradient. Loss
     * {@code L = sum(w * sce(z, y)) / sum(w)} with non-uniform w: SameDiff's gradient is checked against
     * central differences of L (eps 1e-6; a correct gradient agrees to ~1e-9) and must NOT agree; it equals
     * the gradient of the unweighted sum, softmax - onehot, to 1e-12. If a later ND4J fixes the op, this test
     * fails and the Javadoc should be revisited.
     */
    @Test
    void sparseSoftmaxCrossEntropyIgnoresIncomingGradient() {
        double[][][] z = randomLogits(5);
        int[][] ids = {{1, 4, 0, 2}, {3, 1, 2, 0}};
        double[][] w = {{0.1, 0.1, 1, 1}, {0.1, 1, 1, 0}};
        SameDiff sd = SameDiff.create();
        sd.setEnableCache(false);
        SDVariable logits = sd.var("logits", Nd4j.create(z));
        SDVariable labels = sd.constant("labels", Nd4j.createFromArray(ids));
        SDVariable weights = sd.constant("w", Nd4j.createFromArray(w));
        SDVariable perToken = sd.loss().sparseSoftmaxCrossEntropy(logits, labels); // [B, N]
        SDVariable loss = perToken.mul(weights).sum().div(weights.sum());
        sd.setLossVariables(loss); // only the weighted loss (the sparse op marked its own output as a loss)

        INDArray analytic = sd.calculateGradients(Collections.emptyMap(), "logits").get("logits").dup();
        INDArray arr = sd.getArrForVarName("logits");
        double eps = 1e-6;
        double maxDiffToFd = 0;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < N; t++) {
                for (int v = 0; v < V; v++) {
                    double orig = arr.getDouble(b, t, v);
                    arr.putScalar(new long[] {b, t, v}, orig + eps);
                    double plus = sd.outputSingle(Collections.emptyMap(), loss.name()).getDouble(0);
                    arr.putScalar(new long[] {b, t, v}, orig - eps);
                    double minus = sd.outputSingle(Collections.emptyMap(), loss.name()).getDouble(0);
                    arr.putScalar(new long[] {b, t, v}, orig);
                    double fd = (plus - minus) / (2 * eps);
                    maxDiffToFd = Math.max(maxDiffToFd, Math.abs(fd - analytic.getDouble(b, t, v)));
                    double unweighted = softmax(z[b][t])[v] - (v == ids[b][t] ? 1 : 0);
                    assertEquals(unweighted, analytic.getDouble(b, t, v), 1e-12,
                            "the sparse op's gradient is softmax - onehot, whatever the weights");
                }
            }
        }
        assertTrue(maxDiffToFd > 0.1, "expected a wrong gradient, max |analytic - finite difference| was "
                + maxDiffToFd);
    }
}
