package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The contract suite against the fused CPU kernel: the default instance (the Vector API path under
 * Surefire, which resolves {@code jdk.incubator.vector}; its scalar twin until the warm-up is done), the
 * vector code from the first call, the scalar fallback, and several thread
 * counts (1, 2, 3, 7: more threads than this machine has cores, and odd splits of the rows and tiles).
 */
class FusedCpuKernelContractTest extends LossKernelContract {
    @Override
    protected LossKernel kernel() {
        return FusedCpuKernel.create();
    }

    /** Surefire resolves the incubator module, so the default must be the vector path. */
    @Test
    void defaultIsVectorizedUnderSurefire() {
        assertEquals(true, FusedCpuKernel.create().vectorized(), "Surefire runs with --add-modules jdk.incubator.vector");
        assertEquals("fused-cpu", FusedCpuKernel.create().name());
    }

    /** The scalar fallback, forced. */
    @Nested
    class Scalar extends LossKernelContract {
        @Override
        protected LossKernel kernel() {
            return new FusedCpuKernel(2, new ScalarRowOps());
        }
    }

    /** The vector code from the first call (no scalar twin during the warm-up). */
    @Nested
    class VectorImmediate extends LossKernelContract {
        @Override
        protected LossKernel kernel() {
            return new FusedCpuKernel(2, new VectorRowOps(true));
        }
    }

    /** One thread. */
    @Nested
    class OneThread extends LossKernelContract {
        @Override
        protected LossKernel kernel() {
            return FusedCpuKernel.withParallelism(1);
        }
    }

    /** Seven threads on a smaller machine. */
    @Nested
    class SevenThreads extends LossKernelContract {
        @Override
        protected LossKernel kernel() {
            return FusedCpuKernel.withParallelism(7);
        }
    }
}
