package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.plw4j.kernel.LossKernelContract.Case;
import org.plw4j.kernel.LossKernelContract.Ext;
import org.plw4j.kernel.LossKernelContract.Layout;
import org.plw4j.kernel.LossKernelContract.Realised;
import org.plw4j.kernel.LossKernelContract.Storage;

/** Properties of the fused kernel beyond the shared contract: thread-count independence, memory, wiring. */
class FusedCpuKernelTest {

    /**
     * Bitwise the same outputs with 1, 2, 3 and 8 threads (each position depends only on its row), without
     * and with the extensions of SPEC §7.
     */
    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource({"FLOAT32, NONE", "FLOAT32, ALL", "FLOAT64, NONE", "FLOAT64, ALL",
        "BFLOAT16, NONE", "BFLOAT16, ALL", "FLOAT16, NONE", "FLOAT16, ALL"})
    void bitwiseIndependentOfThreadCount(ElementType type, Ext ext) {
        for (Layout layout : new Layout[] {Layout.NWC, Layout.NCW, Layout.STRIDED}) {
            Case c = LossKernelContract.fit(LossKernelContract.randomCase("threads", 17, 4, 70, 1500).type(type)
                    .layout(layout).storage(Storage.BUFFER).ext(ext).gradient(true));
            Realised one = new Realised(c);
            one.run(FusedCpuKernel.withParallelism(1));
            for (int threads : new int[] {2, 3, 8}) {
                Realised many = new Realised(c);
                many.run(FusedCpuKernel.withParallelism(threads));
                LossKernelContract.assertBitwiseEqual(one, many);
            }
        }
    }

    /**
     * The vector code and its scalar twin (the same lane order, see {@link RowOps#forCall()}) give bitwise the
     * same outputs: every element type, NWC, NCW and strided, with a gradient, vocabularies with and without
     * a tail, and non-finite logits; without and with each extension of SPEC §7. So a call's result does not
     * depend on whether the warm-up had finished.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(ElementType.class)
    void vectorCodeAndItsScalarTwinAreBitwiseEqual(ElementType type) {
        for (Ext ext : Ext.values()) {
            for (Layout layout : new Layout[] {Layout.NWC, Layout.NCW, Layout.STRIDED}) {
                for (int vN : new int[] {7, 1024, 3001}) {
                    Case c = LossKernelContract.fit(LossKernelContract.randomCase("twin", 29 + vN, 3, 37, vN)
                            .type(type).layout(layout).storage(Storage.BUFFER).ext(ext).gradient(true));
                    Realised v = new Realised(c);
                    Realised s = new Realised(c);
                    v.run(new FusedCpuKernel(2, new VectorRowOps(true)));
                    s.run(new FusedCpuKernel(2, VectorRowOps.scalarTwin()));
                    LossKernelContract.assertBitwiseEqual(v, s);
                }
            }
        }
    }

    /** Before the warm-up is done the kernel runs the twin; the warm-up exercises every operation and ends. */
    @Test
    void warmupRunsEveryOperationAndSwitchesToTheVectorCode() {
        VectorRowOps ops = new VectorRowOps();
        if (!VectorRowOps.Warmup.done) {
            assertInstanceOf(ScalarRowOps.class, ops.forCall());
        }
        VectorRowOps.Warmup.exercise(new VectorRowOps(true), 3);
        VectorRowOps.Warmup.run();
        assertTrue(VectorRowOps.Warmup.done);
        assertEquals(ops, ops.forCall());
        RowOps immediate = new VectorRowOps(true);
        assertEquals(immediate, immediate.forCall());
    }

    /**
     * Extra memory is O(threads·V + B·N): on one thread, a (4, 32, 32000) problem (16 MB of fp32 logits
     * in a direct buffer) allocates less than 4·V·4 bytes once the JIT has compiled the loops (the worker's
     * scratch rows, up to three with soft-capping, a gradient and the entropy, plus small change), for fp32
     * and bf16, NWC and NCW, with and without a gradient (written into the caller's memory), without and with
     * the extensions of SPEC §7 and the entropy and arg-max outputs of SPEC §13; measured with HotSpot's
     * per-thread allocation counter. A vector crossing a method call that C2
     * did not inline is boxed (VectorRowOps' class comment): that shows here as bytes per logit.
     */
    @ParameterizedTest(name = "{0} {1} {2} entropy {3}")
    @org.junit.jupiter.params.provider.CsvSource({"FLOAT32, NWC, NONE, false", "BFLOAT16, NWC, NONE, false",
        "FLOAT32, NCW, NONE, false", "BFLOAT16, NCW, NONE, false", "FLOAT32, NWC, NONE, true",
        "BFLOAT16, NWC, LABEL_SMOOTHING, false", "FLOAT32, NWC, ALL, true", "BFLOAT16, NWC, SOFT_CAP, false",
        "FLOAT32, NCW, ALL, true", "BFLOAT16, NCW, LABEL_SMOOTHING, false"})
    void allocatesNothingProportionalToTheLogits(ElementType type, Layout layout, Ext ext, boolean entropy) {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        assumeTrue(bean instanceof com.sun.management.ThreadMXBean, "needs HotSpot's allocation counter");
        com.sun.management.ThreadMXBean hs = (com.sun.management.ThreadMXBean) bean;
        assumeTrue(hs.isThreadAllocatedMemorySupported());
        hs.setThreadAllocatedMemoryEnabled(true);
        int bN = 4;
        int n = 32;
        int vN = 32000;
        int len = bN * n * vN;
        java.nio.ByteBuffer logits = java.nio.ByteBuffer.allocateDirect(len * type.bytes());
        java.nio.ByteBuffer grad = java.nio.ByteBuffer.allocateDirect(len * type.bytes());
        Memory z = Memory.ofBuffer(type, logits);
        for (int i = 0; i < len; i++) {
            z.set(i, (i * 7919 % 1000) / 100f);
        }
        int[] targets = new int[bN * n];
        double[] scale = new double[bN * n];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i * 31 % vN;
            scale[i] = 0.01;
        }
        double[] loss = new double[bN * n];
        boolean[] correct = new boolean[bN * n];
        double[] entropyOut = new double[bN * n];
        int[] argMaxOut = new int[bN * n];
        long[] geo = layout.geometry(bN, n, vN);
        for (boolean withGradient : new boolean[] {false, true}) {
            LossProblem.Builder b = LossProblem.builder().shape(bN, n, vN).targets(targets)
                    .logits(z, geo[0], geo[1], geo[2], geo[3])
                    .extensions(ext.labelSmoothing, ext.zLoss, ext.softCap);
            if (entropy) {
                b.entropyOut(entropyOut).argMaxOut(argMaxOut);
            }
            if (withGradient) {
                b.gradient(scale, Memory.ofBuffer(type, grad), geo[0], geo[1], geo[2], geo[3]);
            }
            LossProblem p = b.build();
            FusedCpuKernel k = new FusedCpuKernel(1, new VectorRowOps(true));
            // the minimum over repeated calls: before C2 compiles the Vector API loops, the interpreter boxes
            // every vector (that is JIT warm-up, not the kernel's steady state)
            long used = Long.MAX_VALUE;
            for (int rep = 0; rep < 40 && used >= 4L * vN * 4; rep++) {
                long before = hs.getCurrentThreadAllocatedBytes();
                k.run(p, loss, correct);
                used = Math.min(used, hs.getCurrentThreadAllocatedBytes() - before);
            }
            assertTrue(used < 4L * vN * 4, "allocated " + used + " bytes for " + (long) len * type.bytes()
                    + " bytes of logits, gradient " + withGradient + ", " + ext + ", entropy " + entropy);
        }
    }

    @Test
    void rejectsBadParallelism() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FusedCpuKernel.withParallelism(0));
        assertTrue(e.getMessage().contains("parallelism") && e.getMessage().contains("0"), e.getMessage());
    }

    @Test
    void threadsProperty() {
        String old = System.getProperty(FusedCpuKernel.THREADS_PROPERTY);
        try {
            System.setProperty(FusedCpuKernel.THREADS_PROPERTY, "3");
            assertEquals(3, FusedCpuKernel.create().parallelism());
            System.setProperty(FusedCpuKernel.THREADS_PROPERTY, "zero");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, FusedCpuKernel::create);
            assertTrue(e.getMessage().contains(FusedCpuKernel.THREADS_PROPERTY) && e.getMessage().contains("zero"));
            System.clearProperty(FusedCpuKernel.THREADS_PROPERTY);
            assertEquals(Runtime.getRuntime().availableProcessors(), FusedCpuKernel.create().parallelism());
        } finally {
            if (old == null) {
                System.clearProperty(FusedCpuKernel.THREADS_PROPERTY);
            } else {
                System.setProperty(FusedCpuKernel.THREADS_PROPERTY, old);
            }
        }
    }

    /** The cpu backend (and hence auto without CUDA) serves the fused kernel; reference stays selectable. */
    @Test
    void cpuBackendIsFused() {
        assertInstanceOf(FusedCpuKernel.class, new CpuKernelProvider().kernel());
        assertInstanceOf(FusedCpuKernel.class, Backends.byName("cpu"));
        assertEquals(ReferenceKernel.INSTANCE, Backends.byName("reference"));
    }
}
