package org.plw4j.benchmarks;

import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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
import org.openjdk.jmh.annotations.Warmup;
import org.plw4j.GradientMode;
import org.plw4j.LinearLossResult;
import org.plw4j.LossResult;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.ZeroWeightRows;
import org.plw4j.kernel.FusedCpuKernel;

/**
 * The loss of {@code z = h * W^T} for one RACE-like batch ({@link LinearBatch}), fp32, every path in the same
 * run and on the same arrays:
 * <ul>
 * <li>{@code fusedForward}, {@code fusedForwardGradient}: plw4j's {@code computeFromHidden*} with the default
 *     chunk budget, the gradients into caller-owned arrays allocated once (as a training loop holds them); at
 *     PLW 0 with {@link ZeroWeightRows#SKIPPED} (completion-only training);</li>
 * <li>{@code floorForward}, {@code floorForwardGradient}: the same GEMMs on arrays allocated once, {@code Z =
 *     h W^T} into a preallocated {@code [B*N, V]}, plw4j's fused logits kernel on it ({@code compute}; with the
 *     gradient {@code computeWithGradientInPlace}), then {@code dH = G W} and {@code dW = G^T h}: the work the
 *     fused path must not exceed;</li>
 * <li>{@code materialisedForward}, {@code materialisedForwardGradient}: what a caller writes without the fused
 *     path: {@code h.mmul(W^T)} into a new array, the fused logits kernel (gradient in place), {@code G.mmul(W)}
 *     and {@code G^T.mmul(h)} into new arrays;</li>
 * <li>{@code naiveForward}, {@code naiveForwardGradient}: {@code h.mmul(W^T)}, the Hugging Face style flattened
 *     loss of {@link LossBenchmark} (shift copy, log-softmax, gather; gradient {@code softmax - onehot}
 *     scattered into a zero {@code [B, N, V]}), then the two backward products.</li>
 * </ul>
 * At PLW 0 the floor, materialised and naive paths still do every row (they have no way to skip one); PLW 0.1
 * does the same work as PLW 1 (every target has weight). Every method returns its result.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms2g", "-Xmx4g",
    "-Dorg.bytedeco.javacpp.maxbytes=12G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=16G"})
public class LinearLossBenchmark {

    /** The batch, the two configurations and the arrays allocated once. */
    @State(Scope.Benchmark)
    public static class Data {
        /** (B*N, H, V) as {@code BNxHxV}. */
        @Param({"1024x512x32000", "2048x1024x32000", "512x1024x128256"})
        public String shape;

        /** The prompt loss weight: 0.1, or 0 (completion only, prompt rows skipped on the fused path). */
        @Param({"0.1", "0"})
        public double plw;

        LinearBatch batch;
        /** The fused linear path's configuration. */
        WeightedCausalLMLoss fused;
        /** The logits path's configuration (the fused CPU kernel). */
        WeightedCausalLMLoss logits;
        INDArray dh;
        INDArray dw;
        INDArray z;
        INDArray z3d;
        INDArray dh2d;
        INDArray dwFloor;
        LossBenchmark.Naive naive;

        /** Builds the batch and allocates (and touches) the reused arrays. */
        @Setup(Level.Trial)
        public void setUp() {
            batch = new LinearBatch(shape, plw);
            FusedCpuKernel.warmUp();
            FusedCpuKernel kernel = FusedCpuKernel.create();
            logits = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw).withKernel(kernel);
            fused = plw == 0 ? logits.withZeroWeightRows(ZeroWeightRows.SKIPPED) : logits;
            long rows = (long) batch.b * batch.n;
            dh = Nd4j.zeros(DataType.FLOAT, batch.b, batch.n, batch.h);
            dw = Nd4j.zeros(DataType.FLOAT, batch.v, batch.h);
            z = Nd4j.zeros(DataType.FLOAT, rows, batch.v);
            z3d = z.reshape('c', batch.b, batch.n, batch.v);
            dh2d = Nd4j.zeros(DataType.FLOAT, rows, batch.h);
            dwFloor = Nd4j.zeros(DataType.FLOAT, batch.v, batch.h);
            naive = new LossBenchmark.Naive();
            naive.init(batch.b, batch.n, batch.v, batch.targets, batch.weights, batch.weightSum);
        }

        /**
         * For the probes' {@code main}.
         *
         * @param shape {@code BNxHxV}
         * @param plw the prompt loss weight
         * @return the state, set up
         */
        static Data of(String shape, double plw) {
            Data d = new Data();
            d.shape = shape;
            d.plw = plw;
            d.setUp();
            return d;
        }
    }

    /**
     * @param d the batch
     * @return the loss and metrics, fused linear path
     */
    @Benchmark
    public LossResult fusedForward(Data d) {
        LinearBatch x = d.batch;
        return d.fused.computeFromHidden(x.hidden, x.weight, x.inputIds, x.mask);
    }

    /**
     * @param d the batch
     * @return the loss, metrics and gradients (the reused arrays), fused linear path
     */
    @Benchmark
    public LinearLossResult fusedForwardGradient(Data d) {
        LinearBatch x = d.batch;
        return d.fused.computeFromHiddenWithGradient(x.hidden, x.weight, null, x.inputIds, x.mask, d.dh, d.dw, null,
                GradientMode.OVERWRITE);
    }

    /**
     * @param d the batch
     * @return the loss: one GEMM into the preallocated logits and the fused logits kernel
     */
    @Benchmark
    public LossResult floorForward(Data d) {
        LinearBatch x = d.batch;
        Nd4j.gemm(x.hidden2d, x.weight, d.z, false, true, 1.0, 0.0);
        return d.logits.compute(d.z3d, x.inputIds, x.mask);
    }

    /**
     * @param d the batch
     * @return the loss and the gradients: three GEMMs on preallocated arrays and the fused kernel in place
     */
    @Benchmark
    public Object[] floorForwardGradient(Data d) {
        LinearBatch x = d.batch;
        Nd4j.gemm(x.hidden2d, x.weight, d.z, false, true, 1.0, 0.0);
        LossResult r = d.logits.computeWithGradientInPlace(d.z3d, x.inputIds, x.mask);
        Nd4j.gemm(d.z, x.weight, d.dh2d, false, false, 1.0, 0.0);
        Nd4j.gemm(d.z, x.hidden2d, d.dwFloor, true, false, 1.0, 0.0);
        return new Object[] {r, d.dh2d, d.dwFloor};
    }

    private static INDArray newLogits(LinearBatch x) {
        return x.hidden2d.mmul(x.weight.transpose()).reshape('c', x.b, x.n, x.v);
    }

    /**
     * @param d the batch
     * @return the loss of the logits materialised in a new array
     */
    @Benchmark
    public LossResult materialisedForward(Data d) {
        LinearBatch x = d.batch;
        return d.logits.compute(newLogits(x), x.inputIds, x.mask);
    }

    /**
     * @param d the batch
     * @return the loss and new gradient arrays, logits materialised in a new array, gradient in place
     */
    @Benchmark
    public Object[] materialisedForwardGradient(Data d) {
        LinearBatch x = d.batch;
        INDArray z = newLogits(x);
        LossResult r = d.logits.computeWithGradientInPlace(z, x.inputIds, x.mask);
        INDArray g = z.reshape('c', (long) x.b * x.n, x.v);
        return new Object[] {r, g.mmul(x.weight), g.transpose().mmul(x.hidden2d)};
    }

    /**
     * @param d the batch
     * @return the loss, naive flattened on new logits
     */
    @Benchmark
    public double naiveForward(Data d) {
        return LossBenchmark.naiveLoss(d.naive, LossBenchmark.naiveLogSoftmax(newLogits(d.batch)));
    }

    /**
     * @param d the batch
     * @return the loss and new gradient arrays, naive flattened
     */
    @Benchmark
    public Object[] naiveForwardGradient(Data d) {
        LinearBatch x = d.batch;
        INDArray logp = LossBenchmark.naiveLogSoftmax(newLogits(x));
        double loss = LossBenchmark.naiveLoss(d.naive, logp);
        INDArray g = LossBenchmark.naiveGradient(x.b, x.n, x.v, DataType.FLOAT, d.naive, logp)
                .reshape('c', (long) x.b * x.n, x.v);
        return new Object[] {loss, g.mmul(x.weight), g.transpose().mmul(x.hidden2d)};
    }
}
