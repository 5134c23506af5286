package org.plw4j.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.ElementType;

/**
 * The kernels as bundled (blocks of 512 threads) in the CPU emulation, on a few problems against
 * {@link org.plw4j.kernel.ReferenceKernel}: a row long enough for the 4-vectors-in-flight loop of
 * every thread (V = 9000 bf16, 1125 vectors of 8 per row, and V = 20000 fp32), in place, with the
 * default shared-memory cache of an H100 (the whole row) and none, and the extension kernels (all
 * three extensions: the second block reduction over 16 warps). Tolerances as in
 * {@link KernelAgreementCases}. Skipped where no C++ compiler is available.
 */
class EmulatedBlock512Test {
    private static EmulatedGpu gpu;

    @BeforeAll
    static void start() {
        gpu = new EmulatedGpu(512, 232448, 233472);
    }

    @AfterAll
    static void stop() {
        gpu = null;
    }

    @Test
    void longBf16RowsInPlaceWithTheWholeRowCached() {
        CudaLossKernel k = new CudaLossKernel(gpu.kernels(-1), 1 << 20, 4096);
        KernelAgreementCases.Case c = new KernelAgreementCases.Case(ElementType.BFLOAT16, 1, 3, 9000,
                KernelAgreementCases.Layout.NWC, KernelAgreementCases.Grad.IN_PLACE, 11);
        c.fillRandom();
        c.check(k);
        k.closeAll();
    }

    @Test
    void longFp32RowsWithoutCache() {
        CudaLossKernel k = new CudaLossKernel(gpu.kernels(0), 1 << 20, 4096);
        KernelAgreementCases.Case c = new KernelAgreementCases.Case(ElementType.FLOAT32, 1, 3, 20000,
                KernelAgreementCases.Layout.PADDED_VIEW, KernelAgreementCases.Grad.SEPARATE, 12);
        c.fillRandom();
        c.set(1, 19999, Double.NaN);
        c.check(k);
        k.closeAll();
    }

    @Test
    void longRowsWithEveryExtension() {
        CudaLossKernel k = new CudaLossKernel(gpu.kernels(-1), 1 << 20, 4096);
        KernelAgreementCases.Case c = new KernelAgreementCases.Case(ElementType.BFLOAT16, 1, 3, 9000,
                KernelAgreementCases.Layout.NWC, KernelAgreementCases.Grad.FP32, 13)
                .extensions(KernelAgreementCases.ALL);
        c.fillRandom();
        c.check(k);
        KernelAgreementCases.Case f = new KernelAgreementCases.Case(ElementType.FLOAT32, 1, 3, 20000,
                KernelAgreementCases.Layout.PADDED_VIEW, KernelAgreementCases.Grad.IN_PLACE, 14)
                .extensions(KernelAgreementCases.ALL);
        f.fillRandom();
        f.check(k);
        k.closeAll();
    }
}
