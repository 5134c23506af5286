package org.plw4j.dl4j;

import java.io.IOException;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.plw4j.LogitsLayout;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.ReadmeSnippets;

/**
 * The README's DL4J snippet with {@link WeightedCausalLMOutputLayer} and DL4J's default
 * {@code miniBatch(true)} runs, and its score is plw4j's weighted mean of the same batch computed the Hugging
 * Face way (shift on, [B, N, V] logits whose last position has no target): the network's output (FLOAT,
 * identity activation) padded with one unused position. Tolerance 1e-6 relative (float logits, double
 * accumulation in both, different summation order). The README's block after {@code <!-- snippet:dl4j -->}
 * is this code (checked below).
 */
class ReadmeDl4jLayerSnippetTest {

    @Test
    void readmeSnippetRuns() {
        // README-BEGIN
        int vocab = 100;
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42)
                .updater(new Adam(1e-2))
                .list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(vocab).nOut(16).build())
                .layer(new LSTM.Builder().nIn(16).nOut(32).activation(Activation.TANH).build())
                .layer(new WeightedCausalLMOutputLayer.Builder(0.1)   // PLW 0.1; outputs logits
                        .nIn(32).nOut(vocab).dataFormat(RNNFormat.NCW).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();

        INDArray inputIds = Nd4j.createFromArray(new int[][] {
                {5, 17, 42, 8, 99, 1},
                {7, 3, 12, 0, 0, 0}});
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                new int[] {3, 2}, new int[] {6, 3}, 6, Padding.RIGHT);
        DataSet batch = new DataSet(
                Dl4jLabels.inputTokens(inputIds),                          // [B, N-1]: tokens 0..N-2
                Dl4jLabels.nextToken(inputIds, mask, LogitsLayout.NCW));   // [B, 2, N-1]: next id, its role
        net.fit(batch);
        System.out.printf("weighted loss %.4f%n", net.score(batch));
        // README-END

        ReadmeSnippets.assertScoreIsTheWeightedMean(net, batch, inputIds, mask, 0.1);
    }

    @Test
    void readmeSnippetIsTheCodeAbove() throws IOException {
        ReadmeSnippets.assertReadmeBlockIsTheCode("<!-- snippet:dl4j -->",
                "src/test/java/org/plw4j/dl4j/ReadmeDl4jLayerSnippetTest.java");
    }
}
