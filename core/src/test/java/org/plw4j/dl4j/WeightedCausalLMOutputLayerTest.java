package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.constraint.MaxNormConstraint;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.weightnoise.DropConnect;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.plw4j.Normalization;
import org.plw4j.LogitsLayout;
import org.plw4j.PromptCompletionMask;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;
import org.plw4j.WeightedCausalLMLoss;

/**
 * {@link WeightedCausalLMOutputLayer} in real DL4J networks, with DL4J's default {@code miniBatch(true)} and
 * with {@code miniBatch(false)}. Expected values:
 * <ul>
 * <li>scores: {@link WeightedCausalLMLoss} (WEIGHTED_MEAN, shift off) on the network's own output (identity
 *     activation, so the output is the logits); 1e-12 relative in double, 1e-6 relative in float (the
 *     network computes the logits in float, both sides accumulate in double in another order);</li>
 * <li>updates: one plain-SGD step must be {@code -lr * dL/dparams}, with {@code dL/dparams} from the same
 *     network built with {@code miniBatch(false)} (where DL4J divides nothing), and the two flags must give the
 *     same step; 1e-14 absolute on steps of order 1e-2 (the {@code (g * mb) / mb} round trip and the
 *     parameter subtraction cost a few ulps);</li>
 * <li>gradients: DL4J's {@link GradientCheckUtil} (central differences of {@code net.score()}, eps 1e-6, max
 *     relative error 1e-5, absolute errors below 1e-8 ignored) against the gradient <em>after</em> the
 *     updater's minibatch division, i.e. the gradient the update rule receives; it accepts
 *     {@code miniBatch(true)} networks (it runs the updater with the network's {@code batchSize()}), so both
 *     flags are checked with it; an own central-difference check of {@code net.score(ds)} against the SGD step
 *     covers the same under {@code miniBatch(true)} independently of DL4J's utility.</li>
 * </ul>
 * All networks are tiny (V 5, mb 3, T 4) and double precision unless stated.
 */
class WeightedCausalLMOutputLayerTest {
    static final int V = 5;
    private static final int EMBED = 4;
    private static final int N_IN = 2;
    static final int HIDDEN = 3;
    static final int MB = 3;
    static final int T = 4;
    /** Targets and roles [mb][T]: prompt, completion and padding (any id) in every row (as Dl4jNetworkTest). */
    static final int[][] IDS = {{1, 4, 0, 2}, {3, 2, 2, 0}, {0, 1, 9, -9}};
    static final int[][] ROLES = {{1, 1, 2, 2}, {1, 2, 2, 2}, {1, 2, 0, 0}};
    /** Input token ids [mb][T] for the embedding networks. */
    private static final int[][] TOKENS = {{0, 3, 1, 4}, {2, 2, 0, 1}, {4, 1, 3, 3}};
    private static final int MAX_PER_PARAM = 5;

    private static DataType savedDefault;

    @BeforeAll
    static void doublePrecision() {
        savedDefault = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE); // GradientCheckUtil requires it
    }

    @AfterAll
    static void restore() {
        Nd4j.setDefaultDataTypes(savedDefault, savedDefault);
    }

    private static NeuralNetConfiguration.Builder base(boolean miniBatch, IUpdater updater, DataType dt) {
        return new NeuralNetConfiguration.Builder().dataType(dt).seed(12345).miniBatch(miniBatch).updater(updater);
    }

    /** EmbeddingSequenceLayer, LSTM, the layer: a small causal LM. */
    static MultiLayerNetwork lm(double plw, RNNFormat format, boolean miniBatch, IUpdater updater, DataType dt) {
        MultiLayerConfiguration conf = base(miniBatch, updater, dt).list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(V).nOut(EMBED).outputDataFormat(format).build())
                .layer(new LSTM.Builder().nIn(EMBED).nOut(HIDDEN).activation(Activation.TANH).dataFormat(format)
                        .build())
                .layer(new WeightedCausalLMOutputLayer.Builder(plw).nIn(HIDDEN).nOut(V).dataFormat(format).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** LSTM on continuous features, the layer (for GradientCheckUtil, whose inputs are continuous). */
    static MultiLayerNetwork lstm(double plw, RNNFormat format, boolean miniBatch, double l2) {
        MultiLayerConfiguration conf = base(miniBatch, new NoOp(), DataType.DOUBLE).l2(l2).list()
                .layer(new LSTM.Builder().nIn(N_IN).nOut(HIDDEN).activation(Activation.TANH).dataFormat(format)
                        .build())
                .layer(new WeightedCausalLMOutputLayer.Builder(plw).nIn(HIDDEN).nOut(V).dataFormat(format).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static ComputationGraph graph(double plw, RNNFormat format, boolean miniBatch, IUpdater updater) {
        ComputationGraphConfiguration conf = base(miniBatch, updater, DataType.DOUBLE).graphBuilder()
                .addInputs("in")
                .addLayer("emb", new EmbeddingSequenceLayer.Builder().nIn(V).nOut(EMBED).outputDataFormat(format)
                        .build(), "in")
                .addLayer("lstm", new LSTM.Builder().nIn(EMBED).nOut(HIDDEN).activation(Activation.TANH)
                        .dataFormat(format).build(), "emb")
                .addLayer("out", new WeightedCausalLMOutputLayer.Builder(plw).nIn(HIDDEN).nOut(V).dataFormat(format)
                        .build(), "lstm")
                .setOutputs("out")
                .build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    static INDArray tokens(DataType dt) {
        return Nd4j.createFromArray(TOKENS).castTo(dt);
    }

    static DataSet lmBatch(RNNFormat format, DataType dt) {
        return new DataSet(tokens(dt), Dl4jNetworkTest.labels(IDS, ROLES, format).castTo(dt));
    }

    private static double weightedMean(INDArray output, double plw, RNNFormat format) {
        return Dl4jNetworkTest.expectedLoss(output.castTo(DataType.DOUBLE), IDS, ROLES, plw, format);
    }

    // ---------------------------------------------------------------------------------------------- scores

    /**
     * net.score(ds), the training score after computeGradientAndScore, and the sum of scoreExamples are the
     * weighted mean over the batch's tokens, for both flags, both formats and PLW 1, 0.1, 0.
     */
    @ParameterizedTest
    @CsvSource({"true,NCW", "true,NWC", "false,NCW", "false,NWC"})
    void scoreIsTheWeightedMean(boolean miniBatch, RNNFormat format) {
        for (double plw : new double[] {1.0, 0.1, 0.0}) {
            MultiLayerNetwork net = lm(plw, format, miniBatch, new NoOp(), DataType.DOUBLE);
            DataSet ds = lmBatch(format, DataType.DOUBLE);
            double expected = weightedMean(net.output(ds.getFeatures()), plw, format);
            String what = "PLW " + plw + ", miniBatch " + miniBatch + ", " + format;
            assertEquals(expected, net.score(ds), 1e-12 * expected, "net.score(ds), " + what);
            net.setInput(ds.getFeatures());
            net.setLabels(ds.getLabels());
            net.computeGradientAndScore();
            assertEquals(expected, net.score(), 1e-12 * expected, "training score, " + what);
            // per sequence: the sum of its tokens' shares w*l/sum(w); the sequences add up to the score
            INDArray perExample = net.scoreExamples(ds, false);
            assertEquals(MB, perExample.length());
            assertEquals(expected, perExample.sumNumber().doubleValue(), 1e-12 * expected, "scoreExamples, " + what);

            ComputationGraph cg = graph(plw, format, miniBatch, new NoOp());
            double expectedCg = weightedMean(cg.outputSingle(ds.getFeatures()), plw, format);
            assertEquals(expectedCg, cg.score(ds), 1e-12 * expectedCg, "ComputationGraph score, " + what);
            cg.setInputs(ds.getFeatures());
            cg.setLabels(ds.getLabels());
            cg.computeGradientAndScore();
            assertEquals(expectedCg, cg.score(), 1e-12 * expectedCg, "ComputationGraph training score, " + what);
            assertEquals(expectedCg, cg.scoreExamples(ds, false).sumNumber().doubleValue(), 1e-12 * expectedCg);
        }
    }

    /**
     * A layer whose loss uses {@link Normalization#NONZERO_COUNT}: the score is {@code sum(w*l) / #{w > 0}} of the
     * network's own logits (the ND4J API on {@code net.output}, 1e-12 relative, double), and DL4J's
     * {@link GradientCheckUtil} (same settings as {@link #gradientCheckMultiLayerNetwork}) passes with the
     * default miniBatch(true).
     */
    @Test
    void nonzeroCountNormalization() {
        LossWeightedCausalLM loss = new LossWeightedCausalLM(0.1, LossWeightedCausalLM.DEFAULT_IGNORE_INDEX,
                Normalization.NONZERO_COUNT);
        MultiLayerConfiguration conf = base(true, new NoOp(), DataType.DOUBLE).list()
                .layer(new LSTM.Builder().nIn(N_IN).nOut(HIDDEN).activation(Activation.TANH)
                        .dataFormat(RNNFormat.NCW).build())
                .layer(new WeightedCausalLMOutputLayer.Builder(loss).nIn(HIDDEN).nOut(V).dataFormat(RNNFormat.NCW)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray features = Dl4jNetworkTest.features(MB, T, RNNFormat.NCW, 31);
        INDArray labels = Dl4jNetworkTest.labels(IDS, ROLES, RNNFormat.NCW);
        double expected = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withShift(false)
                .withLayout(LogitsLayout.NCW).withNormalization(Normalization.NONZERO_COUNT)
                .compute(net.output(features), Nd4j.createFromArray(IDS), PromptCompletionMask.ofRoles(ROLES)).loss();
        assertEquals(expected, net.score(new DataSet(features, labels)), 1e-12 * expected);
        assertEquals(loss, ((WeightedCausalLMOutputLayer) net.getLayerWiseConfigurations().getConf(1).getLayer())
                .lossFunction());
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(features)
                .labels(labels).epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8).subset(true)
                .maxPerParam(MAX_PER_PARAM).print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok, "DL4J gradient check with NONZERO_COUNT");
    }

    /** A FLOAT network: the score is the weighted mean of its float logits to 1e-6 relative. */
    @Test
    void scoreInFloat() {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NCW, true, new NoOp(), DataType.FLOAT);
        DataSet ds = lmBatch(RNNFormat.NCW, DataType.FLOAT);
        INDArray out = net.output(ds.getFeatures());
        assertEquals(DataType.FLOAT, out.dataType());
        double expected = weightedMean(out, 0.1, RNNFormat.NCW);
        assertEquals(expected, net.score(ds), 1e-6 * expected);
    }

    /** A 0/1 labels mask under miniBatch(true): 0 turns the target into IGNORE, the score stays the mean. */
    @Test
    void labelsMaskUnderMiniBatch() {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NCW, true, new NoOp(), DataType.DOUBLE);
        DataSet plain = lmBatch(RNNFormat.NCW, DataType.DOUBLE);
        INDArray mask = Nd4j.ones(DataType.DOUBLE, MB, T);
        mask.putScalar(0, 0, 0);
        mask.putScalar(1, 3, 0);
        int[][] rolesMasked = {{0, 1, 2, 2}, {1, 2, 2, 0}, {1, 2, 0, 0}};
        double expected = Dl4jNetworkTest.expectedLoss(net.output(plain.getFeatures()), IDS, rolesMasked, 0.1,
                RNNFormat.NCW);
        assertEquals(expected, net.score(new DataSet(plain.getFeatures(), plain.getLabels(), null, mask)),
                1e-12 * expected);
    }

    /**
     * Under miniBatch(true) a MultiLayerNetwork passes the real minibatch size to input preprocessors (with
     * miniBatch(false) it passes 1), so a DenseLayer between recurrent layers works; the network's input type
     * also fills in the layer's dataFormat (NWC here, none set on the builder).
     */
    @Test
    void denseLayerInBetweenAndDataFormatFromInputType() {
        MultiLayerConfiguration conf = base(true, new NoOp(), DataType.DOUBLE).list()
                .layer(new LSTM.Builder().nOut(HIDDEN).activation(Activation.TANH).build())
                .layer(new DenseLayer.Builder().nOut(4).activation(Activation.TANH).build())
                .layer(new WeightedCausalLMOutputLayer.Builder(0.1).nOut(V).build())
                .setInputType(InputType.recurrent(N_IN, T, RNNFormat.NWC))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        assertEquals(RNNFormat.NWC, ((WeightedCausalLMOutputLayer) conf.getConf(2).getLayer()).getRnnDataFormat());
        INDArray x = Dl4jNetworkTest.features(MB, T, RNNFormat.NWC, 21);
        DataSet ds = new DataSet(x, Dl4jNetworkTest.labels(IDS, ROLES, RNNFormat.NWC));
        double expected = weightedMean(net.output(x), 0.1, RNNFormat.NWC);
        assertEquals(expected, net.score(ds), 1e-12 * expected);
    }

    // --------------------------------------------------------------------------------------------- updates

    /**
     * One plain-SGD step (lr 0.5) with miniBatch(true) changes every parameter by exactly -lr * dL/dparams,
     * the step of miniBatch(false); the gradient a miniBatch(true) network reports before the updater is mb
     * times that (DL4J's convention: the updater divides it by mb).
     */
    @ParameterizedTest
    @CsvSource({"0.1,NCW", "0.0,NWC", "1.0,NCW"})
    void sgdStepIsMinusLrTimesTheGradientOfTheWeightedMean(double plw, RNNFormat format) {
        double lr = 0.5;
        DataSet ds = lmBatch(format, DataType.DOUBLE);
        MultiLayerNetwork exact = lm(plw, format, false, new Sgd(lr), DataType.DOUBLE);
        exact.setInput(ds.getFeatures());
        exact.setLabels(ds.getLabels());
        exact.computeGradientAndScore();
        INDArray dLdTheta = exact.gradient().gradient().dup();
        INDArray expectedStep = dLdTheta.mul(-lr);

        MultiLayerNetwork mb = lm(plw, format, true, new Sgd(lr), DataType.DOUBLE);
        assertEquals(exact.params(), mb.params(), "same seed, same initial parameters");
        mb.setInput(ds.getFeatures());
        mb.setLabels(ds.getLabels());
        mb.computeGradientAndScore();
        assertTrue(dLdTheta.mul(MB).equalsWithEps(mb.gradient().gradient(), 1e-13), "reported gradient = mb * dL/dθ");

        assertStep(exact, ds, expectedStep, "miniBatch(false)");
        assertStep(mb, ds, expectedStep, "miniBatch(true)");
    }

    @Test
    void sgdStepOnComputationGraph() {
        double lr = 0.5;
        DataSet ds = lmBatch(RNNFormat.NWC, DataType.DOUBLE);
        ComputationGraph exact = graph(0.1, RNNFormat.NWC, false, new Sgd(lr));
        exact.setInputs(ds.getFeatures());
        exact.setLabels(ds.getLabels());
        exact.computeGradientAndScore();
        INDArray expectedStep = exact.gradient().gradient().mul(-lr);
        assertTrue(expectedStep.norm2Number().doubleValue() > 1e-3, "a step worth comparing");
        assertStep(graph(0.1, RNNFormat.NWC, false, new Sgd(lr)), ds, expectedStep, "ComputationGraph, miniBatch(false)");
        assertStep(graph(0.1, RNNFormat.NWC, true, new Sgd(lr)), ds, expectedStep, "ComputationGraph, miniBatch(true)");
    }

    private static void assertStep(Model net, DataSet ds, INDArray expectedStep, String what) {
        INDArray before = net.params().dup();
        if (net instanceof MultiLayerNetwork) {
            ((MultiLayerNetwork) net).fit(ds);
        } else {
            ((ComputationGraph) net).fit(ds);
        }
        INDArray step = net.params().sub(before);
        double maxDiff = step.sub(expectedStep).amaxNumber().doubleValue();
        assertTrue(maxDiff <= 1e-14, what + ": max |step - (-lr dL/dθ)| = " + maxDiff);
    }

    /**
     * Independent of GradientCheckUtil: under miniBatch(true), the SGD step divided by -lr matches central
     * differences (eps 1e-6) of net.score(ds) for every third of the 94 parameters (embedding, LSTM and output
     * layers all included), to 1e-7 absolute + 1e-6 relative (central-difference truncation ~1e-12, rounding
     * ~1e-10).
     */
    @Test
    void sgdStepMatchesFiniteDifferencesOfTheScore() {
        double lr = 0.5;
        double eps = 1e-6;
        DataSet ds = lmBatch(RNNFormat.NCW, DataType.DOUBLE);
        MultiLayerNetwork net = lm(0.1, RNNFormat.NCW, true, new Sgd(lr), DataType.DOUBLE);
        INDArray params = net.params(); // a view: putScalar changes the network
        INDArray fd = Nd4j.create(DataType.DOUBLE, params.length());
        for (long i = 0; i < params.length(); i += 3) {
            double p = params.getDouble(i);
            params.putScalar(i, p + eps);
            double up = net.score(ds);
            params.putScalar(i, p - eps);
            double down = net.score(ds);
            params.putScalar(i, p);
            fd.putScalar(i, (up - down) / (2 * eps));
        }
        INDArray before = params.dup();
        net.fit(ds);
        INDArray gradient = net.params().sub(before).div(-lr).reshape(fd.shape());
        for (long i = 0; i < fd.length(); i += 3) {
            double g = gradient.getDouble(i);
            double f = fd.getDouble(i);
            assertTrue(Math.abs(g - f) <= 1e-7 + 1e-6 * Math.abs(f), "parameter " + i + ": step/-lr " + g + ", fd " + f);
        }
        assertTrue(fd.norm2Number().doubleValue() > 1e-2, "a gradient worth checking");
    }

    // --------------------------------------------------------------------------------- GradientCheckUtil

    /**
     * DL4J's GradientCheckUtil on LSTM + the layer, PLW 1, 0.1, 0, both flags and formats, one case with L2
     * regularisation (DL4J adds the regularisation score undivided and applies its gradient after the
     * minibatch division: still consistent).
     */
    @ParameterizedTest
    @CsvSource({"1.0,NCW,true,0", "0.1,NWC,true,0", "0.0,NCW,true,0", "0.1,NCW,false,0", "0.0,NWC,false,0",
            "0.1,NWC,true,0.01"})
    void gradientCheckMultiLayerNetwork(double plw, RNNFormat format, boolean miniBatch, double l2) {
        MultiLayerNetwork net = lstm(plw, format, miniBatch, l2);
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net)
                .input(Dl4jNetworkTest.features(MB, T, format, 31)).labels(Dl4jNetworkTest.labels(IDS, ROLES, format))
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8).subset(true).maxPerParam(MAX_PER_PARAM)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok, "DL4J gradient check, PLW " + plw + ", " + format + ", miniBatch " + miniBatch + ", l2 " + l2);
    }

    /** GradientCheckUtil on the embedding LM (every 5th element of each parameter array), miniBatch(true). */
    @Test
    void gradientCheckLanguageModel() {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NCW, true, new NoOp(), DataType.DOUBLE);
        DataSet ds = lmBatch(RNNFormat.NCW, DataType.DOUBLE);
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net)
                .input(ds.getFeatures()).labels(ds.getLabels())
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8).subset(true).maxPerParam(MAX_PER_PARAM)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok);
    }

    /**
     * GradientCheckUtil on a ComputationGraph (embedding, LSTM, the layer) under miniBatch(true), with a
     * labels mask. Its graph mode has no subset option: the LSTM's input and recurrent weights are skipped
     * (their gradient comes through the same epsilon as the LSTM bias and the embedding, which are checked).
     * miniBatch(false) on a graph: sgdStepOnComputationGraph shows both flags give the same step.
     */
    @ParameterizedTest
    @CsvSource({"true,NWC"})
    void gradientCheckComputationGraph(boolean miniBatch, RNNFormat format) {
        ComputationGraph net = graph(0.1, format, miniBatch, new NoOp());
        INDArray mask = Nd4j.ones(DataType.DOUBLE, MB, T);
        mask.putScalar(0, 1, 0);
        mask.putScalar(2, 0, 0);
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig().net(net)
                .inputs(new INDArray[] {tokens(DataType.DOUBLE)})
                .labels(new INDArray[] {Dl4jNetworkTest.labels(IDS, ROLES, format)})
                .labelMask(new INDArray[] {mask})
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8)
                .excludeParams(new HashSet<>(Arrays.asList("lstm_W", "lstm_RW")))
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY));
        assertTrue(ok, "DL4J gradient check (ComputationGraph), miniBatch " + miniBatch + ", " + format);
    }

    // ------------------------------------------------------------------------------------- serialisation

    @Test
    void multiLayerJsonAndModelSerializerRoundTrip(@TempDir File dir) throws Exception {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NWC, true, new Adam(0.01), DataType.DOUBLE);
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        String json = conf.toJson();
        assertTrue(json.contains("\"org.plw4j.dl4j.WeightedCausalLMOutputLayer\"")
                && json.contains("org.plw4j.dl4j.LossWeightedCausalLM"), json);
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(conf, back);
        WeightedCausalLMOutputLayer layer = (WeightedCausalLMOutputLayer) back.getConf(2).getLayer();
        assertEquals(new LossWeightedCausalLM(0.1), layer.lossFunction());
        assertEquals(RNNFormat.NWC, layer.getRnnDataFormat());
        assertEquals(conf, MultiLayerConfiguration.fromYaml(conf.toYaml()));

        DataSet ds = lmBatch(RNNFormat.NWC, DataType.DOUBLE);
        net.fit(ds);
        File file = new File(dir, "mln.zip");
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file, true);
        assertEquals(net.params(), restored.params());
        assertEquals(net.getUpdater().getStateViewArray(), restored.getUpdater().getStateViewArray());
        assertInstanceOf(WeightedCausalLMOutputLayerImpl.class, restored.getLayer(2));
        double expected = weightedMean(restored.output(ds.getFeatures()), 0.1, RNNFormat.NWC);
        assertEquals(expected, restored.score(ds), 1e-12 * expected);
        assertEquals(net.score(ds), restored.score(ds), 0.0);
        // the restored network trains exactly as the original
        net.fit(ds);
        restored.fit(ds);
        assertEquals(net.params(), restored.params());
    }

    @Test
    void computationGraphJsonAndModelSerializerRoundTrip(@TempDir File dir) throws Exception {
        ComputationGraph net = graph(0.0, RNNFormat.NCW, true, new Sgd(0.1));
        ComputationGraphConfiguration conf = net.getConfiguration();
        String json = conf.toJson();
        assertTrue(json.contains("\"org.plw4j.dl4j.WeightedCausalLMOutputLayer\""), json);
        assertEquals(conf, ComputationGraphConfiguration.fromJson(json));

        DataSet ds = lmBatch(RNNFormat.NCW, DataType.DOUBLE);
        net.fit(ds);
        File file = new File(dir, "cg.zip");
        ModelSerializer.writeModel(net, file, true);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(file, true);
        assertEquals(conf, restored.getConfiguration());
        assertEquals(net.params(), restored.params());
        assertInstanceOf(WeightedCausalLMOutputLayerImpl.class, restored.getLayer("out"));
        double expected = weightedMean(restored.outputSingle(ds.getFeatures()), 0.0, RNNFormat.NCW);
        assertEquals(expected, restored.score(ds), 1e-12 * expected);
    }

    /**
     * The builder hands every DL4J setting to the layer as RnnOutputLayer's own constructor does: the JSON of
     * both layers, built with the same settings, is the same but for the class name.
     */
    @Test
    void builderKeepsEveryDl4jSetting() throws Exception {
        WeightedCausalLMOutputLayer mine = new WeightedCausalLMOutputLayer.Builder(0.3).name("lm-head").nIn(7).nOut(11)
                .dataFormat(RNNFormat.NWC).dropOut(new Dropout(0.9)).l2(1e-3).l1Bias(1e-4).weightInit(WeightInit.XAVIER)
                .biasInit(0.25).updater(new Adam(0.02)).biasUpdater(new Sgd(0.1))
                .gradientNormalization(GradientNormalization.ClipElementWiseAbsoluteValue)
                .gradientNormalizationThreshold(2.5).weightNoise(new DropConnect(0.95))
                .constrainWeights(new MaxNormConstraint(2.0, 1)).hasBias(true).build();
        RnnOutputLayer plain = new RnnOutputLayer.Builder(new LossWeightedCausalLM(0.3)).activation(Activation.IDENTITY)
                .name("lm-head").nIn(7).nOut(11).dataFormat(RNNFormat.NWC).dropOut(new Dropout(0.9)).l2(1e-3)
                .l1Bias(1e-4).weightInit(WeightInit.XAVIER).biasInit(0.25).updater(new Adam(0.02))
                .biasUpdater(new Sgd(0.1)).gradientNormalization(GradientNormalization.ClipElementWiseAbsoluteValue)
                .gradientNormalizationThreshold(2.5).weightNoise(new DropConnect(0.95))
                .constrainWeights(new MaxNormConstraint(2.0, 1)).hasBias(true).build();
        ObjectMapper mapper = NeuralNetConfiguration.mapper();
        ObjectNode a = (ObjectNode) mapper.valueToTree(mine);
        ObjectNode b = (ObjectNode) mapper.valueToTree(plain);
        assertEquals("org.plw4j.dl4j.WeightedCausalLMOutputLayer", a.remove("@class").asText());
        b.remove("@class");
        assertEquals(b, a);
        assertEquals(mine, mapper.readValue(mapper.writeValueAsString(mine), WeightedCausalLMOutputLayer.class));
        assertEquals(mine, mine.clone());
        assertNotEquals(plain, mine);
        assertNotEquals(mine, plain);
        assertEquals(0.3, mine.promptLossWeight());
        assertEquals(new LossWeightedCausalLM(0.3), mine.lossFunction());
        assertEquals(new LossWeightedCausalLM(0.5),
                new WeightedCausalLMOutputLayer.Builder().promptLossWeight(0.5).nIn(1).nOut(2).build().lossFunction());
        assertEquals(new LossWeightedCausalLM(1.0),
                new WeightedCausalLMOutputLayer.Builder().nIn(1).nOut(2).build().lossFunction());
        assertEquals(new LossWeightedCausalLM(0.2, -1),
                new WeightedCausalLMOutputLayer.Builder(new LossWeightedCausalLM(0.2, -1)).nIn(1).nOut(2).build()
                        .lossFunction());
    }

    // ------------------------------------------------------------------------------------------ bad input

    @Test
    void otherActivationsAndLossesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new WeightedCausalLMOutputLayer.Builder(0.1).activation(Activation.SOFTMAX));
        assertTrue(e.getMessage().contains("activation must be IDENTITY") && e.getMessage().contains("softmax"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new WeightedCausalLMOutputLayer.Builder(0.1).activation(new ActivationSoftmax()));
        e = assertThrows(IllegalArgumentException.class,
                () -> new WeightedCausalLMOutputLayer.Builder(0.1).lossFunction(LossFunctions.LossFunction.MCXENT));
        assertTrue(e.getMessage().contains("lossFunction must be a LossWeightedCausalLM") && e.getMessage().contains("MCXENT"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new WeightedCausalLMOutputLayer.Builder(0.1).lossFunction(new LossMCXENT()));
        assertThrows(IllegalArgumentException.class, () -> new WeightedCausalLMOutputLayer.Builder(1.5));
        assertThrows(IllegalArgumentException.class, () -> new WeightedCausalLMOutputLayer.Builder((LossWeightedCausalLM) null));

        // set behind the builder's back (as a hand-edited JSON could): rejected when the network is built
        WeightedCausalLMOutputLayer.Builder sneaky = new WeightedCausalLMOutputLayer.Builder(0.1).nIn(HIDDEN).nOut(V);
        sneaky.setActivationFn(new ActivationSoftmax());
        assertThrows(IllegalArgumentException.class, sneaky::build);
        WeightedCausalLMOutputLayer layer = new WeightedCausalLMOutputLayer.Builder(0.1).nIn(HIDDEN).nOut(V)
                .dataFormat(RNNFormat.NCW).build();
        layer.setActivationFn(new ActivationSoftmax());
        MultiLayerConfiguration conf = base(true, new NoOp(), DataType.DOUBLE).list()
                .layer(new LSTM.Builder().nIn(N_IN).nOut(HIDDEN).build()).layer(layer).build();
        e = assertThrows(IllegalArgumentException.class, () -> new MultiLayerNetwork(conf).init());
        assertTrue(e.getMessage().contains("activation must be IDENTITY"), e.getMessage());
    }

    /**
     * Without dataFormat and without an input type, init() says what to set (DL4J would fail later, at the
     * first backward pass). A MultiLayerNetwork infers the input type from a first LSTM layer (which fills the
     * format in), a ComputationGraph without setInputTypes does not.
     */
    @Test
    void missingDataFormatIsRejectedAtInit() {
        ComputationGraphConfiguration conf = base(true, new NoOp(), DataType.DOUBLE).graphBuilder()
                .addInputs("in")
                .addLayer("lstm", new LSTM.Builder().nIn(N_IN).nOut(HIDDEN).build(), "in")
                .addLayer("out", new WeightedCausalLMOutputLayer.Builder(0.1).nIn(HIDDEN).nOut(V).build(), "lstm")
                .setOutputs("out")
                .build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ComputationGraph(conf).init());
        assertTrue(e.getMessage().contains("dataFormat must be set") && e.getMessage().contains("was null"),
                e.getMessage());
    }

    /** Labels with 3 channels, or another T than the input, are rejected with both shapes in the message. */
    @Test
    void labelsOfTheWrongShapeAreRejected() {
        MultiLayerNetwork net = lm(0.1, RNNFormat.NCW, true, new Sgd(0.1), DataType.DOUBLE);
        INDArray threeChannels = Nd4j.zeros(DataType.DOUBLE, MB, 3, T);
        DataSet bad = new DataSet(tokens(DataType.DOUBLE), threeChannels);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net.score(bad));
        assertTrue(e.getMessage().contains("labels must be [mb, 2, T]") && e.getMessage().contains("[3, 3, 4]"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> net.fit(bad));
        DataSet shortT = new DataSet(tokens(DataType.DOUBLE), Nd4j.zeros(DataType.DOUBLE, MB, 2, T - 1));
        e = assertThrows(IllegalArgumentException.class, () -> net.fit(shortT));
        assertTrue(e.getMessage().contains("[3, 2, 3]"), e.getMessage());

        MultiLayerNetwork nwc = lm(0.1, RNNFormat.NWC, true, new Sgd(0.1), DataType.DOUBLE);
        // NCW labels given to an NWC layer: [mb, 2, T] read as [mb, T=2, channels=4]
        e = assertThrows(IllegalArgumentException.class,
                () -> nwc.score(new DataSet(tokens(DataType.DOUBLE), Dl4jNetworkTest.labels(IDS, ROLES, RNNFormat.NCW))));
        assertTrue(e.getMessage().contains("labels must be [mb, T, 2]"), e.getMessage());
    }
}
