package org.plw4j.benchmarks;

import java.util.concurrent.TimeUnit;
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
import org.plw4j.LossResult;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.kernel.ReferenceKernel;

/**
 * plw4j's public API on the reference kernel (plain loops, double accumulators, single-threaded): the
 * oracle, not a fast path. Only the smallest shape: it takes seconds per call on the others.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xms2g", "-Xmx6g",
    "-Dorg.bytedeco.javacpp.maxbytes=12G", "-Dorg.bytedeco.javacpp.maxphysicalbytes=18G"})
public class ReferenceKernelBenchmark {
    /** (B, N, V) as {@code BxNxV}. */
    @Param({"4x512x32000"})
    public String shape;

    /** ND4J data type of the logits. */
    @Param({"FLOAT", "BFLOAT16"})
    public String dtype;

    private Batch batch;
    private WeightedCausalLMLoss reference;

    /** Builds the batch. */
    @Setup(Level.Trial)
    public void setUp() {
        batch = new Batch(shape, dtype);
        reference = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(Batch.PLW)
                .withKernel(ReferenceKernel.INSTANCE);
    }

    /** @return the loss and metrics (reference kernel) */
    @Benchmark
    public LossResult referenceForward() {
        return reference.compute(batch.logits, batch.inputIds, batch.mask);
    }

    /** @return the loss, metrics and gradient (reference kernel) */
    @Benchmark
    public LossResult referenceForwardGradient() {
        return reference.computeWithGradient(batch.logits, batch.inputIds, batch.mask);
    }
}
