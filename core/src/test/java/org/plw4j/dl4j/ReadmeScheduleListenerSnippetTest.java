package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.plw4j.LogitsLayout;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.PromptLossWeightSchedule;
import org.plw4j.ReadmeSnippets;

/**
 * The README's DL4J schedule snippet (after {@code <!-- snippet:dl4j-schedule -->}) is the code below and
 * runs: after 3 updates the layer's PLW is {@code cosine(1, 0, 1000).at(3) = (1 + cos(3 pi / 1000)) / 2}
 * (the schedule's formula, 1e-15 absolute), and the saved model holds the schedule and the step.
 */
class ReadmeScheduleListenerSnippetTest {
    @TempDir
    Path tmp;

    @Test
    void readmeSnippetRuns() throws IOException {
        int vocab = 100;
        INDArray inputIds = Nd4j.createFromArray(new int[][] {{5, 17, 42, 8, 99, 1}, {7, 3, 12, 0, 0, 0}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        DataSet batch = new DataSet(Dl4jLabels.inputTokens(inputIds),
                Dl4jLabels.nextToken(inputIds, mask, LogitsLayout.NCW));
        File file = tmp.resolve("model.zip").toFile();
        // README-BEGIN
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42)
                .updater(new Adam(1e-2))
                .list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(vocab).nOut(16).build())
                .layer(new LSTM.Builder().nIn(16).nOut(32).activation(Activation.TANH).build())
                .layer(new WeightedCausalLMOutputLayer.Builder()
                        .promptLossWeightSchedule(PromptLossWeightSchedule.cosine(1.0, 0.0, 1000))
                        .nIn(32).nOut(vocab).dataFormat(RNNFormat.NCW).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.addListeners(new PromptLossWeightListener());  // PLW = schedule.at(step) before every update
        for (int step = 0; step < 3; step++) {
            net.fit(batch);                                 // batch as in the DL4J snippet
        }
        ModelSerializer.writeModel(net, file, true);        // saves the schedule and the step (3)
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file);
        restored.addListeners(new PromptLossWeightListener()); // and training continues at step 3
        // README-END
        WeightedCausalLMOutputLayer out = (WeightedCausalLMOutputLayer) restored.getOutputLayer().conf().getLayer();
        assertEquals((1 + Math.cos(3 * Math.PI / 1000)) / 2, out.promptLossWeight(), 1e-15);
        assertEquals(PromptLossWeightSchedule.cosine(1.0, 0.0, 1000), out.promptLossWeightSchedule());
        assertEquals(3, restored.getLayerWiseConfigurations().getIterationCount());
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:dl4j-schedule -->",
                "src/test/java/org/plw4j/dl4j/ReadmeScheduleListenerSnippetTest.java");
    }
}
