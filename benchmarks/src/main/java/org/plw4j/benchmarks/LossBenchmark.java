package org.plw4j.benchmarks;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.loss.SparseSoftmaxCrossEntropyLossWithLogits;
import org.nd4j.linalg.api.ops.impl.shape.GatherNd;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LogSoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.plw4j.LossResult;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.kernel.FusedCpuKernel;

/**
 * The weighted causal-LM loss of one batch (PLW 0.1, prompt/completion/padding mix of {@link Batch}),
 * every implementation in the same run and on the same arrays:
 * <ul>
 * <li>{@code streamRead}: read every logit once, on as many threads as the fused kernel (the memory floor);</li>
 * <li>{@code fusedForward}, {@code fusedForwardGradient}: plw4j's public API on the fused CPU kernel;</li>
 * <li>{@code naiveForward}, {@code naiveForwardGradient}: the Hugging Face code path in ND4J: shift with a
 *     contiguous copy, log-softmax materialised as {@code [B·(N-1), V]}, gather, weighted mean; the gradient
 *     {@code (softmax - onehot)·w/Σw} materialised and scattered back into a zero {@code [B, N, V]} array.
 *     bf16 logits are upcast to fp32 first, as Hugging Face's Llama does;</li>
 * <li>{@code nd4jSparseSoftmaxCE}: ND4J's {@code sparse_softmax_cross_entropy_loss_with_logits} on the
 *     {@code [B·N, V]} view, weights applied to its per-token output;</li>
 * <li>{@code dl4jMcxentForward}, {@code dl4jMcxentForwardGradient}: DL4J's {@code LossMCXENT} with softmax,
 *     one-hot labels {@code [B·N, V]} (built once, outside the timing, as a DataSet would hold them) and
 *     the weights as the per-token mask.</li>
 * </ul>
 * Every method returns its result (JMH consumes it). The reference kernel, too slow for the big shapes,
 * is in {@link ReferenceKernelBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms2g", "-Xmx6g",
    "-Dorg.bytedeco.javacpp.maxbytes=12G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=18G"})
public class LossBenchmark {
    /** (B, N, V) as {@code BxNxV}. */
    @Param({"4x512x32000", "1x2048x128256", "16x256x50257"})
    public String shape;

    /** ND4J data type of the logits. */
    @Param({"FLOAT", "BFLOAT16"})
    public String dtype;

    private Batch batch;
    private WeightedCausalLMLoss fused;
    private INDArray weightsShifted; // [B*(N-1), 1], w/Σw
    private INDArray weightsFlat; // [B*(N-1)], w/Σw
    private INDArray gatherIndices; // [B*(N-1), 2]: (row, target)
    private int[] shiftedTargets;
    private INDArray sparseLabels; // [B*N] int
    private INDArray tokenWeights; // [B*N] float
    private INDArray oneHot; // [B*N, V]
    private INDArray mcxentMask; // [B*N, 1]
    private ExecutorService readers;
    private int threads;

    /** Builds the batch and the baselines' inputs. */
    @Setup(Level.Trial)
    public void setUp() {
        batch = new Batch(shape, dtype);
        FusedCpuKernel kernel = FusedCpuKernel.create();
        threads = kernel.parallelism();
        fused = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(Batch.PLW).withKernel(kernel);
        int b = batch.b;
        int n = batch.n;
        int v = batch.v;
        double[] ws = new double[b * (n - 1)];
        shiftedTargets = new int[b * (n - 1)];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t + 1 < n; t++) {
                ws[r * (n - 1) + t] = batch.weights[r * n + t] / batch.weightSum;
                shiftedTargets[r * (n - 1) + t] = batch.targets[r * n + t];
            }
        }
        weightsShifted = Nd4j.createFromArray(ws).castTo(DataType.FLOAT).reshape(b * (n - 1L), 1);
        weightsFlat = Nd4j.createFromArray(ws).castTo(DataType.FLOAT);
        int[][] idx = new int[b * (n - 1)][];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = new int[] {i, shiftedTargets[i]};
        }
        gatherIndices = Nd4j.createFromArray(idx);
        sparseLabels = Nd4j.createFromArray(batch.targets);
        tokenWeights = Nd4j.createFromArray(batch.weights).castTo(DataType.FLOAT);
        oneHot = Nd4j.zeros(batch.dtype, (long) b * n, v);
        for (int i = 0; i < b * n; i++) {
            oneHot.putScalar(i, batch.targets[i], 1.0);
        }
        mcxentMask = Nd4j.createFromArray(batch.weights).castTo(batch.dtype).reshape((long) b * n, 1);
        readers = Executors.newFixedThreadPool(threads);
    }

    /** Stops the reader threads. */
    @TearDown(Level.Trial)
    public void tearDown() {
        readers.shutdownNow();
    }

    /** @return a value depending on every row read: the memory floor of any implementation */
    @Benchmark
    public double streamRead() throws Exception {
        ByteBuffer all = batch.logits.data().asNio().order(ByteOrder.nativeOrder());
        final int rows = batch.b * batch.n;
        final int v = batch.v;
        final boolean half = batch.dtype.width() == 2;
        @SuppressWarnings("unchecked")
        Future<Double>[] parts = new Future[threads];
        for (int k = 0; k < threads; k++) {
            final int from = (int) ((long) rows * k / threads);
            final int to = (int) ((long) rows * (k + 1) / threads);
            parts[k] = readers.submit(() -> {
                double acc = 0;
                if (half) {
                    ShortBuffer sb = all.asShortBuffer();
                    short[] row = new short[v];
                    for (int r = from; r < to; r++) {
                        sb.get((int) ((long) r * v), row, 0, v);
                        acc += row[r % v];
                    }
                } else {
                    FloatBuffer fb = all.asFloatBuffer();
                    float[] row = new float[v];
                    for (int r = from; r < to; r++) {
                        fb.get((int) ((long) r * v), row, 0, v);
                        acc += row[r % v];
                    }
                }
                return acc;
            });
        }
        double s = 0;
        for (Future<Double> f : parts) {
            s += f.get();
        }
        return s;
    }

    /** @return the loss and metrics (plw4j, fused kernel) */
    @Benchmark
    public LossResult fusedForward() {
        return fused.compute(batch.logits, batch.inputIds, batch.mask);
    }

    /** @return the loss, metrics and the gradient (plw4j, fused kernel) */
    @Benchmark
    public LossResult fusedForwardGradient() {
        return fused.computeWithGradient(batch.logits, batch.inputIds, batch.mask);
    }

    /** The Hugging Face path up to the log-probabilities of the targets: [B*(N-1), V] log-softmax. */
    private INDArray naiveLogSoftmax() {
        INDArray x = batch.dtype == DataType.FLOAT ? batch.logits : batch.logits.castTo(DataType.FLOAT);
        INDArray shifted = x.get(all(), interval(0, batch.n - 1), all()).dup('c');
        INDArray flat = shifted.reshape('c', (long) batch.b * (batch.n - 1), batch.v);
        return Nd4j.exec(new LogSoftMax(flat))[0];
    }

    private double naiveLoss(INDArray logp) {
        INDArray picked = Nd4j.exec(new GatherNd(logp, gatherIndices))[0]; // [B*(N-1)]
        return -picked.muli(weightsFlat).sumNumber().doubleValue();
    }

    /** @return the weighted mean loss, naive flattened (Hugging Face style) */
    @Benchmark
    public double naiveForward() {
        return naiveLoss(naiveLogSoftmax());
    }

    /** @return the loss and the gradient [B, N, V], naive flattened (Hugging Face autograd's temporaries) */
    @Benchmark
    public Object[] naiveForwardGradient() {
        INDArray logp = naiveLogSoftmax();
        double loss = naiveLoss(logp);
        INDArray g = Transforms.exp(logp, true); // softmax
        for (int i = 0; i < shiftedTargets.length; i++) {
            g.putScalar(i, shiftedTargets[i], g.getDouble(i, shiftedTargets[i]) - 1.0);
        }
        g.muliColumnVector(weightsShifted);
        INDArray grad = Nd4j.zeros(batch.dtype, batch.b, batch.n, batch.v);
        grad.get(all(), interval(0, batch.n - 1), all()).assign(g.reshape('c', batch.b, batch.n - 1, batch.v));
        return new Object[] {loss, grad};
    }

    /** @return the weighted mean loss from ND4J's sparse softmax cross-entropy op, weights applied after */
    @Benchmark
    public double nd4jSparseSoftmaxCE() {
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        INDArray perToken = Nd4j.exec(new SparseSoftmaxCrossEntropyLossWithLogits(flat, sparseLabels))[0];
        return perToken.castTo(DataType.FLOAT).muli(tokenWeights).sumNumber().doubleValue() / batch.weightSum;
    }

    /** @return the score of DL4J's LossMCXENT (softmax, one-hot labels, weights as the mask) */
    @Benchmark
    public double dl4jMcxentForward() {
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        return new LossMCXENT().computeScore(oneHot, flat, new ActivationSoftmax(), mcxentMask, true);
    }

    /** @return score and gradient [B*N, V] of DL4J's LossMCXENT */
    @Benchmark
    public Pair<Double, INDArray> dl4jMcxentForwardGradient() {
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        return new LossMCXENT().computeGradientAndScore(oneHot, flat, new ActivationSoftmax(), mcxentMask, true);
    }
}
