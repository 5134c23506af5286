package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.Arrays;
import java.util.HashSet;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.Sgd;
import org.plw4j.PromptLossWeightSchedule;

/**
 * {@link WeightedCausalLMOutputLayer.Builder#fusedLinear(boolean) the fused mode} of the layer against the
 * unfused layer of the same network (same seed, so the same initial parameters). Expected values:
 * <ul>
 * <li>gradients: DL4J's {@link GradientCheckUtil}, settings of {@code WeightedCausalLMOutputLayerTest} (central
 *     differences, eps 1e-6, max relative error 1e-5, absolute errors below 1e-8 ignored; for a
 *     {@code MultiLayerNetwork} up to 8 elements of each parameter array, which covers every element of the
 *     output layer's bias and most of its W);</li>
 * <li>scores: the unfused network's score, 1e-12 relative in double (both sum the token losses exactly; the
 *     logits differ in the last bits since the fused GEMM runs over chunks of rows), 1e-6 relative in float;</li>
 * <li>one SGD step (lr 0.5): the unfused step, 1e-13 absolute on parameters of order 1 and steps of order 1e-2:
 *     the fused path sums {@code dW = G^T h} and {@code db} chunk by chunk with {@code beta = 1} and the
 *     epsilon {@code G W} per chunk, so the sums run in another order (a few ulps of the gradient's terms, which
 *     are below 1), and the LSTM's and embedding's steps follow from that epsilon.</li>
 * </ul>
 * The networks are tiny (V 5, mb 3, T 4), so all rows fit one chunk of the default budget; chunking itself is
 * covered by {@code LinearCrossEntropyTest}.
 */
@ExtendWith(DoublePrecision.class)
class FusedLinearLayerTest {
    // the tiny problem of WeightedCausalLMOutputLayerTest: prompt, completion and padding in every row
    private static final int V = WeightedCausalLMOutputLayerTest.V;
    private static final int HIDDEN = WeightedCausalLMOutputLayerTest.HIDDEN;
    private static final int MB = WeightedCausalLMOutputLayerTest.MB;
    private static final int T = WeightedCausalLMOutputLayerTest.T;
    private static final int[][] IDS = WeightedCausalLMOutputLayerTest.IDS;
    private static final int[][] ROLES = WeightedCausalLMOutputLayerTest.ROLES;
    private static final int EMBED = 4;
    private static final int N_IN = 2;
    private static final double STEP_TOLERANCE = 1e-13;

    private static WeightedCausalLMOutputLayer.Builder head(double plw, RNNFormat format, boolean fused) {
        return new WeightedCausalLMOutputLayer.Builder(plw).fusedLinear(fused).nIn(HIDDEN).nOut(V).dataFormat(format);
    }

    /** EmbeddingSequenceLayer, LSTM, the layer. */
    static MultiLayerNetwork lm(double plw, RNNFormat format, boolean miniBatch, IUpdater updater, DataType dt,
            boolean fused, PromptLossWeightSchedule schedule) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(dt).seed(12345)
                .miniBatch(miniBatch).updater(updater).list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(V).nOut(EMBED).outputDataFormat(format).build())
                .layer(new LSTM.Builder().nIn(EMBED).nOut(HIDDEN).activation(Activation.TANH).dataFormat(format)
                        .build())
                .layer(head(plw, format, fused).promptLossWeightSchedule(schedule).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** LSTM on continuous features, the layer (for GradientCheckUtil). */
    private static MultiLayerNetwork lstm(double plw, RNNFormat format, boolean miniBatch, double l2, boolean fused,
            boolean hasBias) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(12345)
                .miniBatch(miniBatch).updater(new NoOp()).l2(l2).list()
                .layer(new LSTM.Builder().nIn(N_IN).nOut(HIDDEN).activation(Activation.TANH).dataFormat(format)
                        .build())
                .layer(head(plw, format, fused).hasBias(hasBias).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static ComputationGraph graph(double plw, RNNFormat format, IUpdater updater, boolean fused) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(12345)
                .updater(updater).graphBuilder()
                .addInputs("in")
                .addLayer("emb", new EmbeddingSequenceLayer.Builder().nIn(V).nOut(EMBED).outputDataFormat(format)
                        .build(), "in")
                .addLayer("lstm", new LSTM.Builder().nIn(EMBED).nOut(HIDDEN).activation(Activation.TANH)
                        .dataFormat(format).build(), "emb")
                .addLayer("out", head(plw, format, fused).build(), "lstm")
                .setOutputs("out")
                .build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    private static DataSet batch(RNNFormat format, DataType dt) {
        return WeightedCausalLMOutputLayerTest.lmBatch(format, dt);
    }

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return a.sub(b).amaxNumber().doubleValue();
    }

    // --------------------------------------------------------------------------------- GradientCheckUtil

    @ParameterizedTest
    @CsvSource({"0.1,NCW,true,0,true", "1.0,NWC,true,0,true", "0.0,NCW,false,0,true", "0.1,NWC,true,0.01,true",
            "0.1,NCW,true,0,false"})
    void gradientCheckMultiLayerNetwork(double plw, RNNFormat format, boolean miniBatch, double l2, boolean bias) {
        MultiLayerNetwork net = lstm(plw, format, miniBatch, l2, true, bias);
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net)
                .input(Dl4jNetworkTest.features(MB, T, format, 31)).labels(Dl4jNetworkTest.labels(IDS, ROLES, format))
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8).subset(true).maxPerParam(8)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok, "DL4J gradient check of the fused layer, PLW " + plw + ", " + format + ", miniBatch " + miniBatch
                + ", l2 " + l2 + ", bias " + bias);
    }

    /**
     * GradientCheckUtil on a fused ComputationGraph with a labels mask (0 makes a target IGNORE); the graph mode
     * has no subset option, so the LSTM's input and recurrent weights are skipped (their gradient comes through
     * the same epsilon as the LSTM bias and the embedding, which are checked).
     */
    @Test
    void gradientCheckComputationGraphWithLabelsMask() {
        ComputationGraph net = graph(0.1, RNNFormat.NWC, new NoOp(), true);
        INDArray mask = Nd4j.ones(DataType.DOUBLE, MB, T);
        mask.putScalar(0, 1, 0);
        mask.putScalar(2, 0, 0);
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig().net(net)
                .inputs(new INDArray[] {WeightedCausalLMOutputLayerTest.tokens(DataType.DOUBLE)})
                .labels(new INDArray[] {Dl4jNetworkTest.labels(IDS, ROLES, RNNFormat.NWC)})
                .labelMask(new INDArray[] {mask})
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8)
                .excludeParams(new HashSet<>(Arrays.asList("lstm_W", "lstm_RW")))
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok);
    }

    // ------------------------------------------------------------------------------ fused == unfused

    /** Score, per-example scores, output and one SGD step of the fused network equal the unfused network's. */
    @ParameterizedTest
    @CsvSource({"0.1,NCW,true", "0.0,NWC,true", "1.0,NCW,false", "0.1,NWC,false"})
    void sameScoreAndStepAsTheUnfusedLayer(double plw, RNNFormat format, boolean miniBatch) {
        double lr = 0.5;
        DataSet ds = batch(format, DataType.DOUBLE);
        MultiLayerNetwork plain = lm(plw, format, miniBatch, new Sgd(lr), DataType.DOUBLE, false, null);
        MultiLayerNetwork fused = lm(plw, format, miniBatch, new Sgd(lr), DataType.DOUBLE, true, null);
        assertEquals(plain.params(), fused.params(), "same seed, same initial parameters");
        String what = "PLW " + plw + ", " + format + ", miniBatch " + miniBatch;

        double expected = plain.score(ds);
        assertEquals(expected, fused.score(ds), 1e-12 * expected, what + ": score");
        assertEquals(plain.output(ds.getFeatures()), fused.output(ds.getFeatures()), what + ": output is the logits");
        INDArray examples = plain.scoreExamples(ds, false);
        assertTrue(maxAbsDiff(examples, fused.scoreExamples(ds, false)) <= 1e-15, what + ": scoreExamples");

        INDArray before = plain.params().dup();
        plain.fit(ds);
        fused.fit(ds);
        INDArray plainStep = plain.params().sub(before);
        assertTrue(plainStep.norm2Number().doubleValue() > 1e-3, "a step worth comparing");
        double diff = maxAbsDiff(plainStep, fused.params().sub(before));
        assertTrue(diff <= STEP_TOLERANCE, what + ": max |fused step - unfused step| = " + diff);
        assertEquals(plain.score(), fused.score(), 1e-12 * plain.score(), what + ": training score of the step");
    }

    @Test
    void sameStepOnComputationGraph() {
        double lr = 0.5;
        DataSet ds = batch(RNNFormat.NCW, DataType.DOUBLE);
        ComputationGraph plain = graph(0.1, RNNFormat.NCW, new Sgd(lr), false);
        ComputationGraph fused = graph(0.1, RNNFormat.NCW, new Sgd(lr), true);
        INDArray before = plain.params().dup();
        plain.fit(ds);
        fused.fit(ds);
        double diff = maxAbsDiff(plain.params().sub(before), fused.params().sub(before));
        assertTrue(diff <= STEP_TOLERANCE, "ComputationGraph: max |fused step - unfused step| = " + diff);
        assertEquals(plain.score(), fused.score(), 1e-12 * plain.score());
    }

    /** In float the network computes logits in float: scores agree to 1e-6 relative. */
    @Test
    void scoreInFloat() {
        DataSet ds = batch(RNNFormat.NCW, DataType.FLOAT);
        MultiLayerNetwork plain = lm(0.1, RNNFormat.NCW, true, new Sgd(0.1), DataType.FLOAT, false, null);
        MultiLayerNetwork fused = lm(0.1, RNNFormat.NCW, true, new Sgd(0.1), DataType.FLOAT, true, null);
        double expected = plain.score(ds);
        assertEquals(expected, fused.score(ds), 1e-6 * expected);
        plain.fit(ds);
        fused.fit(ds);
        assertEquals(plain.score(), fused.score(), 1e-6 * plain.score());
        assertTrue(maxAbsDiff(plain.params(), fused.params()) <= 1e-6, "float step");
    }

    // ------------------------------------------------------------------------------------- serialisation

    @Test
    void jsonAndModelSerializerRoundTrip(@TempDir File dir) throws Exception {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NWC, true, new Sgd(0.1), DataType.DOUBLE, true, null);
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        String json = conf.toJson();
        assertTrue(json.contains("\"fusedLinear\" : true"), json);
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(conf, back);
        assertTrue(((WeightedCausalLMOutputLayer) back.getConf(2).getLayer()).isFusedLinear());

        MultiLayerNetwork unfused = lm(0.1, RNNFormat.NWC, true, new Sgd(0.1), DataType.DOUBLE, false, null);
        String oldJson = unfused.getLayerWiseConfigurations().toJson();
        assertFalse(oldJson.contains("fusedLinear"), "the unfused layer's JSON is that of before the field");
        assertFalse(((WeightedCausalLMOutputLayer) MultiLayerConfiguration.fromJson(oldJson).getConf(2).getLayer())
                .isFusedLinear(), "a JSON without the field reads as unfused");
        assertTrue(!conf.equals(unfused.getLayerWiseConfigurations()), "the flag takes part in equals");

        DataSet ds = batch(RNNFormat.NWC, DataType.DOUBLE);
        net.fit(ds);
        File file = new File(dir, "fused.zip");
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file, true);
        assertInstanceOf(WeightedCausalLMOutputLayerImpl.class, restored.getLayer(2));
        assertTrue(((WeightedCausalLMOutputLayer) restored.getOutputLayer().conf().getLayer()).isFusedLinear());
        assertEquals(net.params(), restored.params());
        assertEquals(net.score(ds), restored.score(ds), 0.0);
        net.fit(ds);
        restored.fit(ds);
        assertEquals(net.params(), restored.params(), "the restored network trains exactly as the original");
    }

    // ------------------------------------------------------------------------------------------ listener

    /**
     * {@link PromptLossWeightListener} moves the fused layer's PLW as the unfused one's: three SGD steps under
     * {@code linear(1, 0, 2)} (PLW 1, 0.5, 0, from the schedule's formula) give the unfused steps.
     */
    @Test
    void listenerWorksWithTheFusedLayer() {
        PromptLossWeightSchedule schedule = PromptLossWeightSchedule.linear(1.0, 0.0, 2);
        DataSet ds = batch(RNNFormat.NCW, DataType.DOUBLE);
        MultiLayerNetwork plain = lm(1.0, RNNFormat.NCW, true, new Sgd(0.5), DataType.DOUBLE, false, schedule);
        MultiLayerNetwork fused = lm(1.0, RNNFormat.NCW, true, new Sgd(0.5), DataType.DOUBLE, true, schedule);
        plain.addListeners(new PromptLossWeightListener());
        fused.addListeners(new PromptLossWeightListener());
        double[] plwAfter = {0.5, 0.0, 0.0};
        for (int step = 0; step < 3; step++) {
            plain.fit(ds);
            fused.fit(ds);
            WeightedCausalLMOutputLayer layer = (WeightedCausalLMOutputLayer) fused.getOutputLayer().conf().getLayer();
            assertEquals(plwAfter[step], layer.promptLossWeight(), 0.0, "PLW after step " + step);
            assertEquals(plain.score(), fused.score(), 1e-12 * plain.score(), "score of step " + step);
            double diff = maxAbsDiff(plain.params(), fused.params());
            assertTrue(diff <= 3 * STEP_TOLERANCE, "step " + step + ": max |fused - unfused| = " + diff);
        }
    }
}
