package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Random;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.plw4j.LogitsLayout;
import org.plw4j.LossResult;
import org.plw4j.PromptCompletionMask;
import org.plw4j.WeightedCausalLMLoss;

/**
 * {@link LossWeightedCausalLM} called as DL4J's output layers call it: on {@code [mb*T, ...]} arrays made by
 * DL4J's own {@link TimeSeriesUtils#reshape3dTo2d}. Expected values come from {@link WeightedCausalLMLoss} on
 * the unflattened {@code [mb, V, T]} logits (NCW, shift off); the adapter sees the rows in another order, so
 * sums may differ in the last bits: tolerance 1e-13 relative for losses, 1e-15 absolute for gradient entries
 * (all double).
 */
class LossWeightedCausalLMTest {
    private static final IActivation IDENTITY = Activation.IDENTITY.getActivationFunction();
    private static final int MB = 3;
    private static final int T = 4;
    private static final int V = 6;

    /** Ids [mb][T] and roles [mb][T] with every case: prompt, completion, padding (any id), ignore index. */
    private static final int[][] IDS = {{1, 5, 0, 2}, {3, -100, 2, 4}, {0, 1, 999, -7}};
    private static final int[][] ROLES = {{1, 1, 2, 2}, {1, 2, 2, 2}, {1, 2, 0, 0}};

    private static INDArray logitsNcw(long seed, DataType dt) {
        Random r = new Random(seed);
        INDArray z = Nd4j.create(DataType.DOUBLE, MB, V, T);
        for (int b = 0; b < MB; b++) {
            for (int v = 0; v < V; v++) {
                for (int t = 0; t < T; t++) {
                    z.putScalar(new long[] {b, v, t}, 3 * r.nextGaussian());
                }
            }
        }
        return z.castTo(dt);
    }

    /** DL4J labels [mb, 2, T]: channel 0 id, channel 1 role. */
    static INDArray labelsNcw(int[][] ids, int[][] roles, DataType dt) {
        int mb = ids.length;
        int t = ids[0].length;
        INDArray y = Nd4j.create(DataType.DOUBLE, mb, 2, t);
        for (int b = 0; b < mb; b++) {
            for (int k = 0; k < t; k++) {
                y.putScalar(new long[] {b, 0, k}, ids[b][k]);
                y.putScalar(new long[] {b, 1, k}, roles[b][k]);
            }
        }
        return y.castTo(dt);
    }

    private static LossResult expected(INDArray logitsNcw, int[][] ids, int[][] roles, double plw) {
        return WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw).withShift(false)
                .withLayout(LogitsLayout.NCW)
                .computeWithGradient(logitsNcw, Nd4j.createFromArray(ids), PromptCompletionMask.ofRoles(roles));
    }

    private static INDArray flat(INDArray ncw) {
        return TimeSeriesUtils.reshape3dTo2d(ncw);
    }

    @Test
    void scoreAndGradientMatchTheApiOnDl4jFlattenedArrays() {
        for (double plw : new double[] {1.0, 0.1, 0.0}) {
            INDArray z = logitsNcw(1, DataType.DOUBLE);
            LossResult want = expected(z, IDS, ROLES, plw);
            LossWeightedCausalLM loss = new LossWeightedCausalLM(plw);
            INDArray labels2d = flat(labelsNcw(IDS, ROLES, DataType.DOUBLE));
            INDArray pre2d = flat(z);

            double score = loss.computeScore(labels2d, pre2d, IDENTITY, null, false);
            assertEquals(want.loss(), score, 1e-13 * want.loss(), "score, plw " + plw);
            assertEquals(score, loss.computeScore(labels2d, pre2d, IDENTITY, null, true), 0.0,
                    "average flag ignored");

            INDArray g2d = loss.computeGradient(labels2d, pre2d, IDENTITY, null);
            assertArrayEquals(pre2d.shape(), g2d.shape());
            INDArray g3d = TimeSeriesUtils.reshape2dTo3d(g2d, MB);
            assertTrue(want.gradient().equalsWithEps(g3d, 1e-15), "gradient, plw " + plw);

            Pair<Double, INDArray> both = loss.computeGradientAndScore(labels2d, pre2d, IDENTITY, null, false);
            assertEquals(score, both.getFirst(), 0.0);
            assertEquals(g2d, both.getSecond());

            INDArray perRow = loss.computeScoreArray(labels2d, pre2d, IDENTITY, null);
            assertArrayEquals(new long[] {MB * T, 1}, perRow.shape());
            assertEquals(score, perRow.sumNumber().doubleValue(), 1e-13 * score, "rows sum to the score");
        }
    }

    @Test
    void preOutputIsNeverModified() {
        INDArray pre2d = flat(logitsNcw(2, DataType.DOUBLE));
        INDArray copy = pre2d.dup();
        new LossWeightedCausalLM(0.1).computeGradientAndScore(flat(labelsNcw(IDS, ROLES, DataType.DOUBLE)), pre2d,
                IDENTITY, null, false);
        assertEquals(copy, pre2d);
    }

    /** The pre-output reaches the kernel as a view: no [mb*T, V] copy, in C and in F order. */
    @Test
    void logitsAreAViewOfThePreOutput() {
        INDArray labels2d = flat(labelsNcw(IDS, ROLES, DataType.DOUBLE));
        for (char order : new char[] {'c', 'f'}) {
            INDArray pre2d = flat(logitsNcw(9, DataType.DOUBLE)).dup(order);
            Batch in = Batch.of(labels2d, pre2d, IDENTITY, null, -100);
            assertEquals(pre2d.data().address(), in.logits.data().address(), "order " + order);
            assertArrayEquals(new long[] {1, MB * T, V}, in.logits.shape());
        }
    }

    /** Any layout of the pre-output (C or F order, as DL4J produces both) and FLOAT dtype. */
    @Test
    void floatAndFortranOrderPreOutput() {
        INDArray z = logitsNcw(3, DataType.DOUBLE);
        LossResult want = expected(z, IDS, ROLES, 0.1);
        INDArray labels2d = flat(labelsNcw(IDS, ROLES, DataType.FLOAT));
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.1);
        INDArray f = flat(z).dup('f');
        assertEquals(want.loss(), loss.computeScore(labels2d, f, IDENTITY, null, false), 1e-13 * want.loss());
        INDArray g = loss.computeGradient(labels2d, f, IDENTITY, null);
        assertTrue(want.gradient().equalsWithEps(TimeSeriesUtils.reshape2dTo3d(g, MB), 1e-15));

        INDArray f32 = flat(z).castTo(DataType.FLOAT);
        Pair<Double, INDArray> r = loss.computeGradientAndScore(labels2d, f32, IDENTITY, null, false);
        assertEquals(DataType.FLOAT, r.getSecond().dataType());
        // float logits: the kernel accumulates in double, the inputs are rounded to float (~1e-7 relative)
        assertEquals(want.loss(), r.getFirst(), 1e-6 * want.loss());
    }

    @Test
    void rejectsNonIdentityActivation() {
        INDArray labels2d = flat(labelsNcw(IDS, ROLES, DataType.DOUBLE));
        INDArray pre2d = flat(logitsNcw(4, DataType.DOUBLE));
        LossWeightedCausalLM loss = new LossWeightedCausalLM();
        for (Activation a : new Activation[] {Activation.SOFTMAX, Activation.SIGMOID, Activation.TANH}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> loss.computeScore(labels2d, pre2d, a.getActivationFunction(), null, false));
            assertTrue(e.getMessage().contains("IDENTITY")
                    && e.getMessage().contains(a.getActivationFunction().getClass().getName()), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> loss.computeGradient(labels2d, pre2d, a.getActivationFunction(), null));
        }
    }

    /** Mask 0 means IGNORE: same result as setting those roles to 0 (the label row may hold anything). */
    @Test
    void labelsMaskZeroIsIgnore() {
        INDArray z = logitsNcw(5, DataType.DOUBLE);
        int[][] roles = {{1, 1, 2, 2}, {1, 2, 2, 2}, {1, 2, 0, 0}};
        INDArray maskTs = Nd4j.ones(DataType.DOUBLE, MB, T);
        maskTs.putScalar(0, 3, 0);
        maskTs.putScalar(1, 0, 0);
        int[][] ids = {{1, 5, 0, 77}, {-3, -100, 2, 4}, {0, 1, 999, -7}}; // garbage under the mask
        int[][] masked = {{1, 1, 2, 0}, {0, 2, 2, 2}, {1, 2, 0, 0}};
        LossResult want = expected(z, new int[][] {{1, 5, 0, 0}, {0, -100, 2, 4}, {0, 1, 999, -7}}, masked, 0.3);
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.3);
        INDArray mask2d = TimeSeriesUtils.reshapeTimeSeriesMaskToVector(maskTs);
        INDArray labels2d = flat(labelsNcw(ids, roles, DataType.DOUBLE));
        assertEquals(want.loss(), loss.computeScore(labels2d, flat(z), IDENTITY, mask2d, false), 1e-13 * want.loss());
        INDArray g = loss.computeGradient(labels2d, flat(z), IDENTITY, mask2d);
        assertTrue(want.gradient().equalsWithEps(TimeSeriesUtils.reshape2dTo3d(g, MB), 1e-15));
    }

    @Test
    void rejectsFractionalAndPerOutputMasks() {
        INDArray labels2d = flat(labelsNcw(IDS, ROLES, DataType.DOUBLE));
        INDArray pre2d = flat(logitsNcw(6, DataType.DOUBLE));
        LossWeightedCausalLM loss = new LossWeightedCausalLM();
        INDArray half = Nd4j.ones(DataType.DOUBLE, MB * T, 1);
        half.putScalar(5, 0, 0.5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(labels2d, pre2d, IDENTITY, half, false));
        assertTrue(e.getMessage().contains("row 5") && e.getMessage().contains("0.5"), e.getMessage());
        INDArray nan = Nd4j.ones(DataType.DOUBLE, MB * T, 1);
        nan.putScalar(0, 0, Double.NaN);
        assertThrows(IllegalArgumentException.class, () -> loss.computeScore(labels2d, pre2d, IDENTITY, nan, false));
        INDArray perOutput = Nd4j.ones(DataType.DOUBLE, MB * T, V);
        e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(labels2d, pre2d, IDENTITY, perOutput, false));
        assertTrue(e.getMessage().contains("per-output"), e.getMessage());
    }

    @Test
    void rejectsBadLabels() {
        INDArray pre2d = flat(logitsNcw(7, DataType.DOUBLE));
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.5);
        // row index in the flattened labels is b + mb*t
        assertBadLabel(loss, pre2d, new int[][] {{1, 5, 0, 2}, {3, 1, 2, 4}, {0, 1, 6, 0}},
                new int[][] {{1, 1, 2, 2}, {1, 2, 2, 2}, {1, 2, 2, 0}}, "row 8", "was 6.0");
        assertBadLabel(loss, pre2d, new int[][] {{1, 5, 0, 2}, {-1, 1, 2, 4}, {0, 1, 1, 0}}, ROLES, "row 1",
                "was -1.0");
        assertBadLabel(loss, pre2d, IDS, new int[][] {{1, 1, 2, 2}, {1, 2, 3, 2}, {1, 2, 0, 0}}, "row 7",
                "role codes");
        INDArray frac = labelsNcw(IDS, ROLES, DataType.DOUBLE);
        frac.putScalar(new long[] {0, 0, 1}, 2.5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(flat(frac), pre2d, IDENTITY, null, false));
        assertTrue(e.getMessage().contains("2.5") && e.getMessage().contains("integral"), e.getMessage());
        INDArray fracRole = labelsNcw(IDS, ROLES, DataType.DOUBLE);
        fracRole.putScalar(new long[] {0, 1, 1}, 1.5);
        assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(flat(fracRole), pre2d, IDENTITY, null, false));
        // wrong number of label channels (e.g. one-hot labels of size nOut)
        e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(Nd4j.zeros(DataType.DOUBLE, MB * T, V), pre2d, IDENTITY, null, false));
        assertTrue(e.getMessage().contains("[rows, 2]"), e.getMessage());
        // label rows != pre-output rows
        assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(Nd4j.zeros(DataType.DOUBLE, 5, 2), pre2d, IDENTITY, null, false));
    }

    private static void assertBadLabel(LossWeightedCausalLM loss, INDArray pre2d, int[][] ids, int[][] roles,
            String... parts) {
        INDArray labels2d = flat(labelsNcw(ids, roles, DataType.DOUBLE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeGradient(labels2d, pre2d, IDENTITY, null));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
        }
    }

    /** BFLOAT16 holds integers exactly only up to 256, HALF up to 2048: larger vocabularies are refused. */
    @Test
    void rejectsLabelDtypesThatCannotHoldTheIds() {
        INDArray pre2d = Nd4j.zeros(DataType.FLOAT, 2, 300);
        INDArray labels = Nd4j.zeros(DataType.BFLOAT16, 2, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LossWeightedCausalLM().computeScore(labels, pre2d, IDENTITY, null, false));
        assertTrue(e.getMessage().contains("BFLOAT16") && e.getMessage().contains("256"), e.getMessage());
        // a vocabulary of 257 ids (0..256) still fits
        new LossWeightedCausalLM().computeScore(labels, Nd4j.zeros(DataType.FLOAT, 2, 257), IDENTITY, null, false);
    }

    /** SPEC section 4: all ignored gives loss 0 and an all-zero gradient, never NaN. */
    @Test
    void allIgnoredIsZero() {
        int[][] roles = {{1, 1, 0, 0}, {1, 0, 0, 0}, {1, 1, 0, 0}}; // PLW 0: prompt weighs 0
        INDArray labels2d = flat(labelsNcw(IDS, roles, DataType.DOUBLE));
        INDArray pre2d = flat(logitsNcw(8, DataType.DOUBLE));
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.0);
        Pair<Double, INDArray> r = loss.computeGradientAndScore(labels2d, pre2d, IDENTITY, null, false);
        assertEquals(0.0, r.getFirst(), 0.0);
        assertEquals(0.0, r.getSecond().amaxNumber().doubleValue(), 0.0);
        assertEquals(0.0, loss.computeScoreArray(labels2d, pre2d, IDENTITY, null).amaxNumber().doubleValue(), 0.0);
    }

    @Test
    void constructorsAndValidation() {
        assertEquals(1.0, new LossWeightedCausalLM().promptLossWeight(), 0.0);
        assertEquals(-100, new LossWeightedCausalLM().ignoreIndex());
        assertEquals(0.25, new LossWeightedCausalLM(0.25).promptLossWeight(), 0.0);
        assertEquals(7, new LossWeightedCausalLM(0.25, 7).ignoreIndex());
        for (double bad : new double[] {Double.NaN, -0.1, 1.1, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new LossWeightedCausalLM(bad));
            assertTrue(e.getMessage().contains("promptLossWeight") && e.getMessage().contains(String.valueOf(bad)),
                    e.getMessage());
        }
        assertEquals("LossWeightedCausalLM", new LossWeightedCausalLM().name());
        assertEquals("LossWeightedCausalLM(promptLossWeight=0.1, ignoreIndex=-100)",
                new LossWeightedCausalLM(0.1).toString());
        assertEquals(WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withShift(false),
                new LossWeightedCausalLM(0.1).asWeightedCausalLMLoss());
    }

    @Test
    void equalsAndHashCode() {
        LossWeightedCausalLM a = new LossWeightedCausalLM(0.1);
        assertEquals(a, new LossWeightedCausalLM(0.1));
        assertEquals(a.hashCode(), new LossWeightedCausalLM(0.1).hashCode());
        assertNotEquals(a, new LossWeightedCausalLM(0.2));
        assertNotEquals(a, new LossWeightedCausalLM(0.1, 0));
        assertEquals(new LossWeightedCausalLM(0.0), new LossWeightedCausalLM(-0.0));
        assertEquals(new LossWeightedCausalLM(0.0).hashCode(), new LossWeightedCausalLM(-0.0).hashCode());
        assertEquals(new LossWeightedCausalLM(), new LossWeightedCausalLM(1.0, -100));
        assertFalse(a.equals(null));
    }

    /** Through DL4J's own configuration mapper and a plain (shaded) Jackson mapper, as an ILossFunction. */
    @Test
    void jacksonRoundTrip() throws Exception {
        for (ObjectMapper m : new ObjectMapper[] {NeuralNetConfiguration.mapper(), new ObjectMapper()}) {
            LossWeightedCausalLM loss = new LossWeightedCausalLM(0.1, -1);
            String json = m.writerFor(ILossFunction.class).writeValueAsString(loss);
            assertTrue(json.contains("\"@class\"") && json.contains("org.plw4j.dl4j.LossWeightedCausalLM")
                    && json.contains("\"promptLossWeight\"") && json.contains("\"ignoreIndex\""), json);
            assertEquals(loss, m.readValue(json, ILossFunction.class));
            // absent properties take the defaults, not Java's 0
            ILossFunction d = m.readValue("{\"@class\":\"org.plw4j.dl4j.LossWeightedCausalLM\"}", ILossFunction.class);
            assertEquals(new LossWeightedCausalLM(), d);
            // an invalid PLW in JSON is refused with the constructor's message
            Exception e = assertThrows(Exception.class, () -> m.readValue(
                    "{\"@class\":\"org.plw4j.dl4j.LossWeightedCausalLM\",\"promptLossWeight\":2}", ILossFunction.class));
            Throwable c = e;
            while (c != null && !(c instanceof IllegalArgumentException)) {
                c = c.getCause();
            }
            assertTrue(c != null && c.getMessage().contains("promptLossWeight"), String.valueOf(e));
        }
    }

    @Test
    void javaSerializationRoundTrip() throws Exception {
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.01, -5);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(loss);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertEquals(loss, in.readObject());
        }
    }
}
