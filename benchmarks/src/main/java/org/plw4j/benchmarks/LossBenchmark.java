package org.plw4j.benchmarks;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
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
 * <li>{@code fusedForward}, {@code fusedForwardGradient}, {@code fusedForwardGradientReused},
 *     {@code fusedForwardGradientWorkspace}, {@code fusedForwardGradientInPlace}: plw4j's public API on the
 *     fused CPU kernel (the gradient in a new array, in a caller-owned array reused across calls, in a new
 *     array inside an ND4J workspace allocated once, or written over the logits);</li>
 * <li>{@code naiveForward}, {@code naiveForwardGradient}: the Hugging Face code path in ND4J: shift with a
 *     contiguous copy, log-softmax materialised as {@code [B·(N-1), V]}, gather, weighted mean; the gradient
 *     {@code (softmax - onehot)·w/Σw} materialised and scattered back into a zero {@code [B, N, V]} array.
 *     bf16 logits are upcast to fp32 first, as Hugging Face's Llama does; the {@code ...Workspace} variants
 *     keep every temporary in an ND4J workspace allocated once;</li>
 * <li>{@code nd4jSparseSoftmaxCE}: ND4J's {@code sparse_softmax_cross_entropy_loss_with_logits} on the
 *     {@code [B·N, V]} view, weights applied to its per-token output;</li>
 * <li>{@code dl4jMcxentForward}, {@code dl4jMcxentForwardGradient}: DL4J's {@code LossMCXENT} with softmax,
 *     one-hot labels {@code [B·N, V]} (built once, outside the timing, as a DataSet would hold them) and
 *     the weights as the per-token mask.</li>
 * </ul>
 * Every method returns its result (JMH consumes it). The reference kernel, too slow for the big shapes,
 * is in {@link ReferenceKernelBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms2g", "-Xmx6g",
    "-Dorg.bytedeco.javacpp.maxbytes=14G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=20G"})
public class LossBenchmark {

    /** The batch: shape and dtype parameters, logits, ids, roles, and the fused kernel's API object. */
    @State(Scope.Benchmark)
    public static class Data {
        /** (B, N, V) as {@code BxNxV}. */
        @Param({"4x512x32000", "1x2048x128256", "16x256x50257"})
        public String shape;

        /** ND4J data type of the logits. */
        @Param({"FLOAT", "BFLOAT16"})
        public String dtype;

        Batch batch;
        WeightedCausalLMLoss fused;
        int threads;
        ExecutorService readers;

        /** Builds the batch. */
        @Setup(Level.Trial)
        public void setUp() {
            batch = new Batch(shape, dtype);
            FusedCpuKernel.warmUp();   // the vector code compiled before the first timed call
            FusedCpuKernel kernel = FusedCpuKernel.create();
            threads = kernel.parallelism();
            fused = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(Batch.PLW).withKernel(kernel);
            readers = Executors.newFixedThreadPool(threads);
        }

        /**
         * The set-up of the probes' {@code main}: shape and dtype from the first two arguments.
         *
         * @param args {@code BxNxV} (default 4x512x32000), then {@code FLOAT} or {@code BFLOAT16} (default FLOAT)
         * @return the batch, set up
         */
        static Data fromArgs(String[] args) {
            Data d = new Data();
            d.shape = args.length > 0 ? args[0] : "4x512x32000";
            d.dtype = args.length > 1 ? args[1] : "FLOAT";
            d.setUp();
            return d;
        }

        /** Stops the reader threads. */
        @TearDown(Level.Trial)
        public void tearDown() {
            readers.shutdownNow();
        }
    }

    /** Inputs of the naive path: targets and normalised weights of the shifted positions, and a workspace. */
    @State(Scope.Benchmark)
    public static class Naive {
        INDArray weightsColumn; // [B*(N-1), 1], w/Σw
        INDArray weightsFlat; // [B*(N-1)], w/Σw
        INDArray gatherIndices; // [B*(N-1), 2]: (row, target)
        int[] targets;
        WorkspaceConfiguration workspace;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            Batch batch = d.batch;
            init(batch.b, batch.n, batch.v, batch.targets, batch.weights, batch.weightSum);
        }

        /**
         * @param b sequences
         * @param n positions per sequence
         * @param v vocabulary size
         * @param positionTargets target of logit position {@code r*N + t}
         * @param positionWeights weight of logit position {@code r*N + t} (0 at {@code t = N-1})
         * @param weightSum the sum of the weights
         */
        void init(int b, int n, int v, int[] positionTargets, double[] positionWeights, double weightSum) {
            double[] ws = new double[b * (n - 1)];
            targets = new int[b * (n - 1)];
            int[][] idx = new int[b * (n - 1)][];
            for (int r = 0; r < b; r++) {
                for (int t = 0; t + 1 < n; t++) {
                    int i = r * (n - 1) + t;
                    ws[i] = positionWeights[r * n + t] / weightSum;
                    targets[i] = positionTargets[r * n + t];
                    idx[i] = new int[] {i, targets[i]};
                }
            }
            weightsColumn = Nd4j.createFromArray(ws).castTo(DataType.FLOAT).reshape(b * (n - 1L), 1);
            weightsFlat = Nd4j.createFromArray(ws).castTo(DataType.FLOAT);
            gatherIndices = Nd4j.createFromArray(idx);
            long fp32 = (long) b * n * v * 4;
            // one allocation, reused by every call: upcast, shift copy, log-softmax, softmax, gradient
            workspace = WorkspaceConfiguration.builder().initialSize(5 * fp32 + (64L << 20))
                    .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.NONE)
                    .policySpill(SpillPolicy.REALLOCATE).build();
        }
    }

    /** A gradient array allocated (and touched) once, reused by every call, as a training loop would. */
    @State(Scope.Benchmark)
    public static class GradientBuffer {
        INDArray gradient;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            gradient = Nd4j.zeros(d.batch.dtype, d.batch.b, d.batch.n, d.batch.v);
        }
    }

    /**
     * An ND4J workspace sized for one gradient, allocated once: {@code computeWithGradient} allocates its
     * result in the active workspace (as ND4J's {@code createUninitialized} does), so every call after the
     * first reuses the same, already touched memory, as a DL4J training loop's workspaces do.
     */
    @State(Scope.Benchmark)
    public static class GradientWorkspace {
        WorkspaceConfiguration workspace;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            Batch batch = d.batch;
            long bytes = (long) batch.b * batch.n * batch.v * batch.dtype.width();
            workspace = WorkspaceConfiguration.builder().initialSize(bytes + (16L << 20))
                    .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.NONE)
                    .policySpill(SpillPolicy.REALLOCATE).build();
        }
    }

    /** DL4J's inputs: one-hot labels [B*N, V] and the weights as a [B*N, 1] mask. */
    @State(Scope.Benchmark)
    public static class OneHot {
        INDArray labels;
        INDArray mask;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            Batch batch = d.batch;
            labels = Nd4j.zeros(batch.dtype, (long) batch.b * batch.n, batch.v);
            for (int i = 0; i < batch.b * batch.n; i++) {
                labels.putScalar(i, batch.targets[i], 1.0);
            }
            mask = Nd4j.createFromArray(batch.weights).castTo(batch.dtype).reshape((long) batch.b * batch.n, 1);
        }
    }

    /** ND4J's sparse op inputs: labels [B*N] and weights [B*N]. */
    @State(Scope.Benchmark)
    public static class Sparse {
        INDArray labels;
        INDArray weights;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            labels = Nd4j.createFromArray(d.batch.targets);
            weights = Nd4j.createFromArray(d.batch.weights).castTo(DataType.FLOAT);
        }
    }

    /**
     * @param d the batch
     * @return a value depending on every row read: the memory floor of any implementation
     * @throws Exception if a reader fails
     */
    @Benchmark
    public double streamRead(Data d) throws Exception {
        Batch batch = d.batch;
        ByteBuffer all = batch.logits.data().asNio().order(ByteOrder.nativeOrder());
        final int threads = d.threads;
        final int rows = batch.b * batch.n;
        final int v = batch.v;
        final boolean half = batch.dtype.width() == 2;
        List<Future<Double>> parts = new ArrayList<>(threads);
        for (int k = 0; k < threads; k++) {
            final int from = (int) ((long) rows * k / threads);
            final int to = (int) ((long) rows * (k + 1) / threads);
            parts.add(d.readers.submit(() -> {
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
            }));
        }
        double s = 0;
        for (Future<Double> f : parts) {
            s += f.get();
        }
        return s;
    }

    /**
     * @param d the batch
     * @return the loss and metrics (plw4j, fused kernel)
     */
    @Benchmark
    public LossResult fusedForward(Data d) {
        return d.fused.compute(d.batch.logits, d.batch.inputIds, d.batch.mask);
    }

    /**
     * @param d the batch
     * @return the loss, metrics and a new gradient array (plw4j, fused kernel)
     */
    @Benchmark
    public LossResult fusedForwardGradient(Data d) {
        return d.fused.computeWithGradient(d.batch.logits, d.batch.inputIds, d.batch.mask);
    }

    /**
     * The extensions of SPEC section 7, one at a time or all three, on the fused kernel: label smoothing 0.1,
     * z-loss 1e-4 (PaLM's), soft-cap 30 (Gemma 2's final-logit cap); and the per-role mean entropies of SPEC
     * section 13 ({@code withEntropy(true)}).
     */
    @State(Scope.Benchmark)
    public static class Extended {
        /** {@code LABEL_SMOOTHING}, {@code Z_LOSS}, {@code SOFT_CAP}, {@code ALL} or {@code ENTROPY}. */
        @Param({"LABEL_SMOOTHING", "Z_LOSS", "SOFT_CAP", "ALL", "ENTROPY"})
        public String extension;

        WeightedCausalLMLoss loss;

        /**
         * @param d the batch
         */
        @Setup(Level.Trial)
        public void setUp(Data d) {
            loss = with(d.fused, extension);
        }

        /**
         * @param plain the loss without extensions
         * @param extension one of the {@code @Param} values
         * @return the loss with that extension (or all three)
         */
        static WeightedCausalLMLoss with(WeightedCausalLMLoss plain, String extension) {
            return switch (extension) {
                case "LABEL_SMOOTHING" -> plain.withLabelSmoothing(0.1);
                case "Z_LOSS" -> plain.withZLoss(1e-4);
                case "SOFT_CAP" -> plain.withLogitSoftCap(30);
                case "ALL" -> plain.withLabelSmoothing(0.1).withZLoss(1e-4).withLogitSoftCap(30);
                case "ENTROPY" -> plain.withEntropy(true);
                default -> throw new IllegalArgumentException("extension must be LABEL_SMOOTHING, Z_LOSS, SOFT_CAP,"
                        + " ALL or ENTROPY, was " + extension);
            };
        }
    }

    /**
     * @param d the batch
     * @param x the extension
     * @return the loss and metrics with the extension (fused kernel), beside {@link #fusedForward}
     */
    @Benchmark
    public LossResult fusedForwardExtended(Data d, Extended x) {
        return x.loss.compute(d.batch.logits, d.batch.inputIds, d.batch.mask);
    }

    /**
     * @param d the batch
     * @param x the extension
     * @param g the reused gradient array
     * @return the loss, metrics and gradient with the extension, beside {@link #fusedForwardGradientReused}
     */
    @Benchmark
    public LossResult fusedForwardGradientReusedExtended(Data d, Extended x, GradientBuffer g) {
        return x.loss.computeWithGradient(d.batch.logits, d.batch.inputIds, d.batch.mask, g.gradient);
    }

    /**
     * The gradient written into a caller-owned array allocated once ({@code computeWithGradient(..., gradientOut)}).
     *
     * @param d the batch
     * @param g the reused gradient array
     * @return the loss, metrics and the gradient (the reused array)
     */
    @Benchmark
    public LossResult fusedForwardGradientReused(Data d, GradientBuffer g) {
        return d.fused.computeWithGradient(d.batch.logits, d.batch.inputIds, d.batch.mask, g.gradient);
    }

    /**
     * {@code computeWithGradient} (a new gradient array) inside an ND4J workspace allocated once: the new
     * array is placed in the workspace, whose memory every call reuses (no fresh pages). Returns the loss
     * and one gradient element: the gradient lives in the workspace, valid only while it is open.
     *
     * @param d the batch
     * @param gw the workspace
     * @return the loss and the gradient's first element
     */
    @Benchmark
    @SuppressWarnings("try") // the workspace is used through its activation, not by name
    public double[] fusedForwardGradientWorkspace(Data d, GradientWorkspace gw) {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(gw.workspace, "fused")) {
            LossResult r = d.fused.computeWithGradient(d.batch.logits, d.batch.inputIds, d.batch.mask);
            return new double[] {r.loss(), r.gradient().getDouble(0, 0, 0)};
        }
    }

    /**
     * The gradient written over the logits: no allocation. After the first call the "logits" are the
     * previous gradient (finite values in [-1, 1]), which costs the same.
     *
     * @param d the batch
     * @return the loss, metrics and the gradient (the logits array)
     */
    @Benchmark
    public LossResult fusedForwardGradientInPlace(Data d) {
        return d.fused.computeWithGradientInPlace(d.batch.logits, d.batch.inputIds, d.batch.mask);
    }

    /** The Hugging Face path up to the log-probabilities: upcast, shift copy, [B*(N-1), V] log-softmax. */
    private static INDArray naiveLogSoftmax(Batch batch) {
        return naiveLogSoftmax(batch.logits);
    }

    /**
     * @param logits {@code [B, N, V]}
     * @return the log-softmax of the shifted positions, {@code [B*(N-1), V]} FLOAT (upcast first)
     */
    static INDArray naiveLogSoftmax(INDArray logits) {
        long b = logits.size(0);
        long n = logits.size(1);
        INDArray x = logits.dataType() == DataType.FLOAT ? logits : logits.castTo(DataType.FLOAT);
        INDArray shifted = x.get(all(), interval(0, n - 1), all()).dup('c');
        INDArray flat = shifted.reshape('c', b * (n - 1), logits.size(2));
        return Nd4j.exec(new LogSoftMax(flat))[0];
    }

    static double naiveLoss(Naive nv, INDArray logp) {
        INDArray picked = Nd4j.exec(new GatherNd(logp, nv.gatherIndices))[0]; // [B*(N-1)]
        return -picked.muli(nv.weightsFlat).sumNumber().doubleValue();
    }

    private static INDArray naiveGradient(Batch batch, Naive nv, INDArray logp) {
        return naiveGradient(batch.b, batch.n, batch.v, batch.dtype, nv, logp);
    }

    /**
     * @return the gradient {@code [B, N, V]} in {@code dtype} from the log-softmax of {@link #naiveLogSoftmax}
     */
    static INDArray naiveGradient(int b, int n, int v, DataType dtype, Naive nv, INDArray logp) {
        INDArray g = Transforms.exp(logp, true); // softmax, a new [B*(N-1), V]
        int[] t = nv.targets;
        for (int i = 0; i < t.length; i++) {
            g.putScalar(i, t[i], g.getDouble(i, t[i]) - 1.0);
        }
        g.muliColumnVector(nv.weightsColumn);
        INDArray grad = Nd4j.zeros(DataType.FLOAT, b, n, v);
        grad.get(all(), interval(0, n - 1), all()).assign(g.reshape('c', b, n - 1, v));
        return dtype == DataType.FLOAT ? grad : grad.castTo(dtype);
    }

    /**
     * @param d the batch
     * @param nv the naive path's inputs
     * @return the weighted mean loss, naive flattened (Hugging Face style), fresh temporaries per call
     */
    @Benchmark
    public double naiveForward(Data d, Naive nv) {
        return naiveLoss(nv, naiveLogSoftmax(d.batch));
    }

    /**
     * @param d the batch
     * @param nv the naive path's inputs
     * @return the loss and a new gradient [B, N, V], naive flattened (Hugging Face autograd's temporaries)
     */
    @Benchmark
    public Object[] naiveForwardGradient(Data d, Naive nv) {
        INDArray logp = naiveLogSoftmax(d.batch);
        return new Object[] {naiveLoss(nv, logp), naiveGradient(d.batch, nv, logp)};
    }

    /**
     * The naive forward with its temporaries in an ND4J workspace allocated once (no page faults per
     * call): the naive path's compute and memory traffic alone.
     *
     * @param d the batch
     * @param nv the naive path's inputs
     * @return the weighted mean loss
     */
    @Benchmark
    @SuppressWarnings("try") // the workspace is used through its activation, not by name
    public double naiveForwardWorkspace(Data d, Naive nv) {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(nv.workspace, "naive")) {
            return naiveLoss(nv, naiveLogSoftmax(d.batch));
        }
    }

    /**
     * The naive forward and gradient with every temporary, the gradient included, in a workspace
     * allocated once; returns the loss and one gradient element (the gradient lives in the workspace).
     *
     * @param d the batch
     * @param nv the naive path's inputs
     * @return the loss and the gradient's first element
     */
    @Benchmark
    @SuppressWarnings("try") // the workspace is used through its activation, not by name
    public double[] naiveForwardGradientWorkspace(Data d, Naive nv) {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(nv.workspace, "naive")) {
            INDArray logp = naiveLogSoftmax(d.batch);
            INDArray g = naiveGradient(d.batch, nv, logp);
            return new double[] {naiveLoss(nv, logp), g.getDouble(0, 0, 0)};
        }
    }

    /**
     * @param d the batch
     * @param sp labels and weights
     * @return the weighted mean loss from ND4J's sparse softmax cross-entropy op, weights applied after
     */
    @Benchmark
    public double nd4jSparseSoftmaxCE(Data d, Sparse sp) {
        Batch batch = d.batch;
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        INDArray perToken = Nd4j.exec(new SparseSoftmaxCrossEntropyLossWithLogits(flat, sp.labels))[0];
        return perToken.castTo(DataType.FLOAT).muli(sp.weights).sumNumber().doubleValue() / batch.weightSum;
    }

    /**
     * @param d the batch
     * @param oh one-hot labels and mask
     * @return the score of DL4J's LossMCXENT (softmax, one-hot labels, weights as the mask)
     */
    @Benchmark
    public double dl4jMcxentForward(Data d, OneHot oh) {
        Batch batch = d.batch;
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        return new LossMCXENT().computeScore(oh.labels, flat, new ActivationSoftmax(), oh.mask, true);
    }

    /**
     * @param d the batch
     * @param oh one-hot labels and mask
     * @return score and gradient [B*N, V] of DL4J's LossMCXENT
     */
    @Benchmark
    public Pair<Double, INDArray> dl4jMcxentForwardGradient(Data d, OneHot oh) {
        Batch batch = d.batch;
        INDArray flat = batch.logits.reshape('c', (long) batch.b * batch.n, batch.v);
        return new LossMCXENT().computeGradientAndScore(oh.labels, flat, new ActivationSoftmax(), oh.mask, true);
    }
}
