package org.plw4j.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.plw4j.LogitsLayout;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.dl4j.Dl4jLabels;
import org.plw4j.dl4j.WeightedCausalLMOutputLayer;

/**
 * One DL4J {@code fit} step of a small language model with {@code V = 32000} (an embedding of 256 and the output
 * layer, fused or not, so that the output layer is most of the step; batch of 8 sequences of 129 tokens, prompt 100 and completion 29 each, PLW 0.1,
 * Adam), in a process of its own. Memory: the peak resident set during the steps minus the resident set before
 * the first one, with the model's own state (parameters, the flattened gradient, Adam's state) already
 * allocated: what the steps add, DL4J's workspaces and every temporary included (the heap is fixed and
 * pre-touched, so it does not move the resident set). Time: the median of the steps after the first. Run once
 * per mode, in separate processes.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xms2g -Xmx2g -XX:+AlwaysPreTouch -cp benchmarks.jar
 * org.plw4j.benchmarks.LinearFitProbe fused 6} (and {@code unfused})
 */
public final class LinearFitProbe {
    static final int V = 32000;
    static final int MB = 8;
    static final int TOKENS = 129;

    private LinearFitProbe() {
    }

    static MultiLayerNetwork network(boolean fused) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).updater(new Adam(1e-3)).list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(V).nOut(256).build())
                .layer(new WeightedCausalLMOutputLayer.Builder(0.1).fusedLinear(fused).nIn(256).nOut(V)
                        .dataFormat(RNNFormat.NCW).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static DataSet batch() {
        SplittableRandom rnd = new SplittableRandom(3);
        int[][] ids = new int[MB][TOKENS];
        for (int[] row : ids) {
            Arrays.setAll(row, t -> rnd.nextInt(V));
        }
        INDArray inputIds = Nd4j.createFromArray(ids);
        int[] prompt = new int[MB];
        int[] length = new int[MB];
        Arrays.fill(prompt, 100);
        Arrays.fill(length, TOKENS);
        PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(prompt, length, TOKENS, Padding.RIGHT);
        return new DataSet(Dl4jLabels.inputTokens(inputIds), Dl4jLabels.nextToken(inputIds, mask, LogitsLayout.NCW));
    }

    /**
     * @param args {@code fused} or {@code unfused}, then the number of steps (default 6)
     * @throws Exception if /proc cannot be read
     */
    public static void main(String[] args) throws Exception {
        boolean fused = args.length > 0 && args[0].equals("fused");
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 6;
        MultiLayerNetwork net = network(fused);
        net.getUpdater(); // the model's own state (parameters, gradient view, Adam's state) exists before the steps
        DataSet ds = batch();
        System.gc();
        Thread.sleep(200);
        long before = OffHeapProbe.status("VmRSS:");
        OffHeapProbe.resetPeak();
        long t0 = System.nanoTime();
        net.fit(ds);
        double first = (System.nanoTime() - t0) / 1e6;
        long peak = OffHeapProbe.status("VmHWM:") - before;
        double[] ms = new double[Math.max(1, steps - 1)];
        for (int i = 0; i < ms.length; i++) {
            long s = System.nanoTime();
            net.fit(ds);
            ms[i] = (System.nanoTime() - s) / 1e6;
        }
        long peakAll = OffHeapProbe.status("VmHWM:") - before;
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        System.out.printf(Locale.ROOT, "%s: peak native over %d steps +%.1f MB (first step +%.1f MB), first step %.0f"
                + " ms, later steps median %.0f ms (min %.0f), score %.4f%n", fused ? "fused" : "unfused", steps,
                peakAll / 1e6, peak / 1e6, first, sorted[sorted.length / 2], sorted[0], net.score());
    }
}
