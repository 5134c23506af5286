package org.plw4j.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.plw4j.kernel.LossKernel;

/**
 * {@link KernelAgreementCases} on the CPU emulation of the device ({@link EmulatedGpu}): the real
 * kernel sources and the real launcher, staging and pipeline code, with no GPU. Blocks of 64
 * threads (the kernels are written for any multiple of 32; the bundled PTX uses 512, which
 * {@link EmulatedBlock512Test} covers) keep the emulation fast. A small staging
 * chunk (3 rows) and a small row cache (shared memory of a compute-capability 7.5 device, 64 KiB,
 * and an even smaller forced limit in some classes) exercise the chunked, double-buffered
 * pipeline and the partially cached rows. Skipped where no C++ compiler is available.
 */
class EmulatedKernelTest extends KernelAgreementCases {
    private static EmulatedGpu gpu;
    private static CudaLossKernel kernel;

    @BeforeAll
    static void start() {
        gpu = new EmulatedGpu(64, 65536, 65536);
        // 256 bytes of row cache: rows of 517 and 4099 elements are cached only in part
        kernel = new CudaLossKernel(gpu.kernels(256), 3 * 4099 * 4, 4096);
    }

    @AfterAll
    static void stop() {
        if (kernel != null) {
            kernel.closeAll();
        }
    }

    @Override
    LossKernel kernel() {
        return kernel;
    }
}
