package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.plw4j.LogitsLayout;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.PromptLossWeightSchedule;
import org.plw4j.WeightedCausalLMLoss;

/**
 * {@link PromptLossWeightListener} moves the PLW of {@link WeightedCausalLMOutputLayer} step by step, and the
 * schedule and step survive a JSON and a {@code ModelSerializer} round trip. Expected PLWs come from the
 * schedule's formula ({@code linear(1, 0, 4)}: {@code 1 - t/4}, exact in binary); the expected score of an
 * update is plw4j's weighted mean with that PLW on the network's output before the update (SPEC section 4),
 * 1e-6 relative (float logits, different summation order; as in {@link org.plw4j.ReadmeSnippets}).
 */
class PromptLossWeightListenerTest {
    private static final int V = 20;
    private static final PromptLossWeightSchedule LINEAR = PromptLossWeightSchedule.linear(1.0, 0.0, 4);
    private static final INDArray IDS = Nd4j.createFromArray(new int[][] {{5, 17, 2, 8, 19, 1}, {7, 3, 12, 0, 0, 0}});
    private static final PromptCompletionMask MASK = PromptCompletionMask.ofPromptLengths(
            new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
    private static final DataSet BATCH = new DataSet(Dl4jLabels.inputTokens(IDS),
            Dl4jLabels.nextToken(IDS, MASK, LogitsLayout.NCW));

    private static WeightedCausalLMOutputLayer outputLayer(PromptLossWeightSchedule schedule) {
        return new WeightedCausalLMOutputLayer.Builder().promptLossWeightSchedule(schedule)
                .nIn(8).nOut(V).dataFormat(RNNFormat.NCW).build();
    }

    private static MultiLayerNetwork network(PromptLossWeightSchedule schedule) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2)).list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(V).nOut(4).build())
                .layer(new LSTM.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                .layer(outputLayer(schedule))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static WeightedCausalLMOutputLayer outputConf(MultiLayerNetwork net) {
        return (WeightedCausalLMOutputLayer) net.getOutputLayer().conf().getLayer();
    }

    /** The weighted mean with PLW {@code plw} of the network's current output on the batch. */
    private static double weightedMean(MultiLayerNetwork net, double plw) {
        INDArray out = net.output(BATCH.getFeatures());                          // [B, V, N-1]
        INDArray padded = Nd4j.concat(2, out, Nd4j.zeros(out.dataType(), out.size(0), V, 1));
        return WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw).withLayout(LogitsLayout.NCW)
                .compute(padded, IDS, MASK).loss();
    }

    @Test
    void everyUpdateUsesThePlwOfItsStep() {
        MultiLayerNetwork net = network(LINEAR);
        assertEquals(1.0, outputConf(net).promptLossWeight(), "the built layer starts at schedule.at(0)");
        List<Double> seen = new ArrayList<>();
        net.addListeners(new PromptLossWeightListener(), new BaseTrainingListener() {
            @Override
            public void onForwardPass(Model model, List<INDArray> activations) {
                seen.add(outputConf(net).promptLossWeight());
            }
        });
        double[] expected = {1.0, 0.75, 0.5, 0.25, 0.0, 0.0};
        for (int step = 0; step < expected.length; step++) {
            double score = weightedMean(net, expected[step]);
            net.fit(BATCH);
            assertEquals(score, net.score(), 1e-6 * score, "score of update " + step);
            assertEquals(step + 1, net.getLayerWiseConfigurations().getIterationCount());
        }
        assertEquals(List.of(1.0, 0.75, 0.5, 0.25, 0.0, 0.0), seen);
        assertEquals(0.0, outputConf(net).promptLossWeight(), "after the last update: the PLW of step 6");
    }

    @Test
    void scheduleAndStepSurviveModelSerializer() throws IOException {
        MultiLayerNetwork net = network(LINEAR);
        net.addListeners(new PromptLossWeightListener());
        net.fit(BATCH);
        net.fit(BATCH);
        assertEquals(0.5, outputConf(net).promptLossWeight(), "the PLW of step 2, saved with the loss");

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ModelSerializer.writeModel(net, bytes, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(
                new ByteArrayInputStream(bytes.toByteArray()), true);
        WeightedCausalLMOutputLayer conf = outputConf(restored);
        assertEquals(LINEAR, conf.promptLossWeightSchedule());
        assertEquals(0.5, conf.promptLossWeight());
        assertEquals(2, restored.getLayerWiseConfigurations().getIterationCount());

        // both continue for two updates (PLW 0.5, 0.25): the same parameters, bit for bit (same operations)
        restored.addListeners(new PromptLossWeightListener());
        for (int i = 0; i < 2; i++) {
            net.fit(BATCH);
            restored.fit(BATCH);
        }
        assertEquals(0.0, outputConf(restored).promptLossWeight());
        assertArrayEquals(net.params().toFloatVector(), restored.params().toFloatVector());
    }

    @Test
    void scheduleIsInTheJson() {
        MultiLayerNetwork net = network(LINEAR.withWarmup(2, 0.25));
        String json = net.getLayerWiseConfigurations().toJson();
        assertTrue(json.contains("\"promptLossWeightSchedule\" : \"linear:1:0:4:warmup=2@0.25\""), json);
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(net.getLayerWiseConfigurations().getConf(2).getLayer(), back.getConf(2).getLayer());
        WeightedCausalLMOutputLayer fixed = new WeightedCausalLMOutputLayer.Builder(0.1)
                .nIn(8).nOut(V).dataFormat(RNNFormat.NCW).build();
        assertNull(fixed.promptLossWeightSchedule());
        assertTrue(!fixed.equals(outputLayer(PromptLossWeightSchedule.constant(0.1))),
                "a scheduled layer differs from a fixed one of the same PLW");
    }

    @Test
    void worksInAComputationGraphAndLeavesFixedLayersAlone() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2))
                .graphBuilder()
                .addInputs("in")
                .addLayer("emb", new EmbeddingSequenceLayer.Builder().nIn(V).nOut(4).build(), "in")
                .addLayer("lstm", new LSTM.Builder().nIn(4).nOut(8).activation(Activation.TANH).build(), "emb")
                .addLayer("scheduled", outputLayer(PromptLossWeightSchedule.step(1.0, 0.1, 2, 1)), "lstm")
                .addLayer("fixed", new WeightedCausalLMOutputLayer.Builder(0.3).nIn(8).nOut(V)
                        .dataFormat(RNNFormat.NCW).build(), "lstm")
                .setOutputs("scheduled", "fixed")
                .build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        graph.addListeners(new PromptLossWeightListener());
        INDArray labels = BATCH.getLabels();
        for (int i = 0; i < 3; i++) {
            graph.fit(new INDArray[] {BATCH.getFeatures()}, new INDArray[] {labels, labels});
        }
        WeightedCausalLMOutputLayer scheduled = (WeightedCausalLMOutputLayer) graph.getLayer("scheduled").conf()
                .getLayer();
        WeightedCausalLMOutputLayer fixed = (WeightedCausalLMOutputLayer) graph.getLayer("fixed").conf().getLayer();
        assertEquals(0.1, scheduled.promptLossWeight(), "step:1:0.1:2:1 at step 3");
        assertEquals(0.3, fixed.promptLossWeight());
        assertEquals(3, PromptLossWeightListener.apply(graph));
    }

    @Test
    void otherModelsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PromptLossWeightListener.apply(null));
        assertEquals("model must be a MultiLayerNetwork or a ComputationGraph, was null", e.getMessage());
    }
}
