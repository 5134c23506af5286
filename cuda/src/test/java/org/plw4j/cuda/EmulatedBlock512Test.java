package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;
import org.plw4j.kernel.ReferenceKernel;

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

    /** The entropy output (SPEC section 13) at 512 threads: the second block reduction of the entropy terms. */
    @Test
    void entropyOfLongRows() {
        CudaLossKernel k = new CudaLossKernel(gpu.kernels(-1), 1 << 20, 4096);
        int rows = 3;
        int vocab = 9001;
        float[] z = new float[rows * vocab];
        SplittableRandom r = new SplittableRandom(15);
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) ((r.nextDouble() * 2 - 1) * 6);
        }
        z[vocab + 17] = Float.NEGATIVE_INFINITY;   // a masked entry: probability 0
        int[] targets = {5, 9000, -1};
        double[][] entropy = new double[2][rows];
        int[][] arg = new int[2][rows];
        for (int pass = 0; pass < 2; pass++) {
            LossProblem p = LossProblem.builder().shape(1, rows, vocab).logitsNwc(Memory.of(z.clone()))
                    .targets(targets).entropyOut(entropy[pass]).argMaxOut(arg[pass]).build();
            (pass == 0 ? ReferenceKernel.INSTANCE : k).run(p, new double[rows], new boolean[rows]);
        }
        for (int i = 0; i < rows; i++) {
            KernelAgreementCases.Case.assertClose(entropy[0][i], entropy[1][i], 1e-5, 1e-5, "entropy " + i);
        }
        assertArrayEquals(arg[0], arg[1]);
        k.closeAll();
    }
}
