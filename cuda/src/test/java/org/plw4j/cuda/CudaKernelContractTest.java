package org.plw4j.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossKernelContract;

/**
 * The kernel contract suite ({@link LossKernelContract}, from the core test jar) against the CUDA
 * kernel on a real GPU, with the contract's default tolerances (fp32 accumulation is within them;
 * FLOAT64 logits run on the cpu kernel). Skipped (JUnit assumption) where CUDA is not usable;
 * {@code cuda/gpu-check.sh} runs it on a GPU machine, and {@link EmulatedKernelContractTest} runs
 * the same suite on the CPU emulation of the device everywhere.
 */
class CudaKernelContractTest extends LossKernelContract {
    @BeforeAll
    static void needsDevice() {
        String why = CudaRuntime.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "no usable CUDA device: " + why);
    }

    @Override
    protected LossKernel kernel() {
        return CudaLossKernel.shared();
    }
}
