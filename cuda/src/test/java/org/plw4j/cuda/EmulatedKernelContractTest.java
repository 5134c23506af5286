package org.plw4j.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossKernelContract;

/**
 * The kernel contract suite ({@link LossKernelContract}) against the CUDA kernel sources and
 * launcher on the CPU emulation of the device ({@link EmulatedGpu}, blocks of 64 threads, a 64 KiB
 * shared-memory device with a 1 KiB row cache so long rows are cached in part, staging chunks of
 * 1 MiB so large problems take several double-buffered chunks). Skipped without a C++ compiler.
 */
class EmulatedKernelContractTest extends LossKernelContract {
    private static EmulatedGpu gpu;
    private static CudaLossKernel kernel;

    @BeforeAll
    static void start() {
        gpu = new EmulatedGpu(64, 65536, 65536);
        kernel = new CudaLossKernel(gpu.kernels(1024), 1 << 20, 4096);
    }

    @AfterAll
    static void stop() {
        if (kernel != null) {
            kernel.closeAll();
        }
    }

    @Override
    protected LossKernel kernel() {
        return kernel;
    }
}
