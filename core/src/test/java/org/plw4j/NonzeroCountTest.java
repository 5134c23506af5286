package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.plw4j.dl4j.LossWeightedCausalLM;
import org.plw4j.kernel.ReferenceKernel;
import org.plw4j.samediff.PlwSameDiff;

/**
 * {@link Normalization#NONZERO_COUNT}: {@code L = sum(w*l) / #{t : w_t > 0}} (SPEC section 4) through the ND4J
 * API, the DL4J loss and the SameDiff graph. The random oracle cases of {@code LossContractTest} and the
 * finite differences of {@code GradientCheckTest} cover this mode on every kernel as well; here the expected
 * values are worked out by hand.
 */
class NonzeroCountTest {

    /**
     * All-zero logits over V = 2 make every token loss exactly {@code ln 2}. Shift off; roles of the targets
     * {@code {P, P, P, C, C, I}} with PLW 0.1: {@code sum(w*l) = (3*0.1 + 2) ln 2 = 2.3 ln 2} over 5 weighted
     * tokens, so {@code L = 0.46 ln 2}, where WEIGHTED_MEAN gives {@code 2.3 ln 2 / 2.3 = ln 2}. Tolerance: a
     * few ulps of {@code ln 2} (the kernel's lse of {0, 0} is exact to rounding).
     */
    @Test
    void handWorkedValues() {
        INDArray z = Nd4j.zeros(DataType.DOUBLE, 1, 6, 2);
        INDArray ids = Nd4j.createFromArray(new int[][] {{0, 1, 0, 1, 0, 1}});
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{1, 1, 1, 2, 2, 0}});
        double ln2 = Math.log(2);
        for (LossKernelName k : LossKernelName.values()) {
            WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withShift(false).withPromptLossWeight(0.1)
                    .withNormalization(Normalization.NONZERO_COUNT).withKernel(k.kernel());
            LossResult r = loss.computeWithGradient(z, ids, mask);
            assertEquals(0.46 * ln2, r.loss(), 4e-16, k + " loss");
            assertEquals(5.0, r.denominator(), 0.0, k + " denominator: the weighted tokens");
            assertEquals(2.3 * ln2, r.weightedLossSum(), 4e-16, k + " weighted sum");
            // gradient (w / 5) (softmax - onehot) = (w / 5) (0.5 - [v = y])
            assertEquals(0.1 / 5 * (0.5 - 1), r.gradient().getDouble(0, 0, 0), 1e-17, k + " prompt row");
            assertEquals(1.0 / 5 * 0.5, r.gradient().getDouble(0, 3, 0), 1e-17, k + " completion row");
            assertEquals(0.0, r.gradient().getDouble(0, 5, 0), 0.0, k + " ignored row is zero");
            // PLW 0: the prompt tokens weigh 0 and leave the count: 2 ln 2 / 2
            LossResult r0 = loss.withPromptLossWeight(0.0).compute(z, ids, mask);
            assertEquals(ln2, r0.loss(), 4e-16, k + " PLW 0");
            assertEquals(2.0, r0.denominator(), 0.0);
            // the prompt metrics are reported whatever the weight (SPEC section 5)
            assertEquals(3, r0.promptTokens());
            assertEquals(ln2, r0.promptLoss(), 4e-16);
        }
    }

    /** Everything ignored: loss 0 and an all-zero gradient, never NaN (SPEC section 4). */
    @Test
    void allIgnoredIsZero() {
        INDArray z = Nd4j.rand(DataType.FLOAT, 2, 3, 5);
        INDArray ids = Nd4j.zeros(DataType.INT, 2, 3);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(new int[][] {{0, 0, 0}, {1, 1, 0}});
        LossResult r = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.0)
                .withNormalization(Normalization.NONZERO_COUNT).computeWithGradient(z, ids, mask);
        assertEquals(0.0, r.loss(), 0.0);
        assertEquals(0.0, r.denominator(), 0.0);
        assertEquals(0.0, r.gradient().amaxNumber().doubleValue(), 0.0);
    }

    /**
     * The DL4J loss with NONZERO_COUNT: score and gradient equal the ND4J API's (1e-13 relative / 1e-15
     * absolute, double; the same kernel on a reshaped view), per-row shares sum to the score, JSON and
     * defaults.
     */
    @Test
    void dl4jLoss() throws Exception {
        Random rnd = new Random(5);
        int rows = 7;
        int v = 6;
        INDArray pre = Nd4j.create(DataType.DOUBLE, rows, v);
        INDArray labels = Nd4j.create(DataType.DOUBLE, rows, 2);
        int[] roles = {1, 1, 2, 2, 0, 1, 2};
        int[] ids = new int[rows];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < v; c++) {
                pre.putScalar(i, c, rnd.nextGaussian());
            }
            ids[i] = rnd.nextInt(v);
            labels.putScalar(i, 0, ids[i]);
            labels.putScalar(i, 1, roles[i]);
        }
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.1, -100, Normalization.NONZERO_COUNT);
        LossResult want = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withShift(false)
                .withNormalization(Normalization.NONZERO_COUNT).computeWithGradient(pre.reshape(1, rows, v),
                        Nd4j.createFromArray(new int[][] {ids}), PromptCompletionMask.ofRoles(new int[][] {roles}));
        double score = loss.computeScore(labels, pre, Activation.IDENTITY.getActivationFunction(), null, false);
        assertEquals(want.loss(), score, 1e-13 * want.loss());
        INDArray g = loss.computeGradient(labels, pre, Activation.IDENTITY.getActivationFunction(), null);
        assertTrue(want.gradient().reshape(rows, v).equalsWithEps(g, 1e-15));
        INDArray perRow = loss.computeScoreArray(labels, pre, Activation.IDENTITY.getActivationFunction(), null);
        assertEquals(score, perRow.sumNumber().doubleValue(), 1e-13 * score, "rows sum to the score");
        double weighted = new LossWeightedCausalLM(0.1).computeScore(labels, pre,
                Activation.IDENTITY.getActivationFunction(), null, false);
        assertNotEquals(weighted, score, "a different denominator (6 weighted rows vs sum w = 3.3)");
        assertEquals(weighted * 3.3 / 6, score, 1e-13 * score, "same numerator, other denominator");

        ObjectMapper m = new ObjectMapper();
        String json = m.writerFor(ILossFunction.class).writeValueAsString(loss);
        assertTrue(json.contains("\"normalization\":\"NONZERO_COUNT\""), json);
        assertEquals(loss, m.readValue(json, ILossFunction.class));
        assertEquals(Normalization.WEIGHTED_MEAN, ((LossWeightedCausalLM) m.readValue(
                "{\"@class\":\"org.plw4j.dl4j.LossWeightedCausalLM\"}", ILossFunction.class)).normalization());
        assertEquals(loss, loss.withPromptLossWeight(0.5).withPromptLossWeight(0.1));
        assertEquals(Normalization.NONZERO_COUNT, loss.withPromptLossWeight(0.5).normalization());
        for (Normalization bad : new Normalization[] {Normalization.SEQUENCE_MEAN, Normalization.GLOBAL_DENOMINATOR,
                null}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new LossWeightedCausalLM(0.1, -100, bad));
            assertTrue(e.getMessage().contains("normalization must be WEIGHTED_MEAN, NONZERO_COUNT or SUM")
                    && e.getMessage().contains(String.valueOf(bad)), e.getMessage());
        }
    }

    /**
     * The SameDiff graph with NONZERO_COUNT: value 1e-12 relative and gradient 1e-14 absolute against the ND4J
     * API (both double, different summation order), and loss 0 when nothing carries weight.
     */
    @Test
    void sameDiffGraph() {
        DataType saved = Nd4j.dataType();
        try {
            Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
            INDArray logits = Nd4j.randn(new Random(3).nextLong(), new long[] {2, 4, 5}).castTo(DataType.DOUBLE);
            int[][] ids = {{1, 4, 0, 2}, {3, -100, 2, 1}};
            int[][] roles = {{1, 1, 2, 2}, {1, 2, 2, 0}};
            SameDiff sd = SameDiff.create();
            SDVariable z = sd.var("logits", logits);
            PlwSameDiff.weightedCausalLMLoss(sd, "loss", z, sd.constant("ids", Nd4j.createFromArray(ids)),
                    sd.constant("roles", Nd4j.createFromArray(roles)), 0.1, LogitsLayout.NWC,
                    PlwSameDiff.DEFAULT_IGNORE_INDEX, Normalization.NONZERO_COUNT);
            LossResult api = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withShift(false)
                    .withNormalization(Normalization.NONZERO_COUNT).withKernel(ReferenceKernel.INSTANCE)
                    .computeWithGradient(logits, Nd4j.createFromArray(ids), PromptCompletionMask.ofRoles(roles));
            assertEquals(api.loss(), sd.outputSingle(Collections.emptyMap(), "loss").getDouble(0), 1e-12 * api.loss());
            INDArray g = sd.calculateGradients(Collections.emptyMap(), "logits").get("logits");
            assertTrue(api.gradient().equalsWithEps(g, 1e-14), "gradient vs WeightedCausalLMLoss");

            SameDiff none = SameDiff.create();
            PlwSameDiff.weightedCausalLMLoss(none, "loss", none.var("logits", logits),
                    none.constant("ids", Nd4j.createFromArray(ids)),
                    none.constant("roles", Nd4j.createFromArray(new int[][] {{1, 1, 0, 0}, {1, 0, 0, 0}})), 0.0,
                    LogitsLayout.NWC, PlwSameDiff.DEFAULT_IGNORE_INDEX, Normalization.NONZERO_COUNT);
            assertEquals(0.0, none.outputSingle(Collections.emptyMap(), "loss").getDouble(0), 0.0);
            assertThrows(IllegalArgumentException.class, () -> PlwSameDiff.weightedCausalLMLoss(none, null,
                    none.var("z2", logits), none.constant("i2", Nd4j.createFromArray(ids)),
                    none.constant("r2", Nd4j.createFromArray(roles)), 0.1, LogitsLayout.NWC, -100,
                    Normalization.SEQUENCE_MEAN));
        } finally {
            Nd4j.setDefaultDataTypes(saved, saved);
        }
    }

    private enum LossKernelName {
        REFERENCE, CPU;

        org.plw4j.kernel.LossKernel kernel() {
            return this == REFERENCE ? ReferenceKernel.INSTANCE : org.plw4j.kernel.Backends.byName("cpu");
        }
    }
}
