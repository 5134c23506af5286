package org.plw4j.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.plw4j.kernel.LossKernel;

/**
 * {@link KernelAgreementCases} on a real GPU through JCuda ({@link CudaLossKernel#shared()}), with
 * the bundled PTX. Skipped (JUnit assumption) where CUDA is not usable; {@code cuda/gpu-check.sh}
 * runs it on a GPU machine.
 */
class CudaVsReferenceTest extends KernelAgreementCases {
    @BeforeAll
    static void needsDevice() {
        String why = CudaRuntime.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "no usable CUDA device: " + why);
    }

    @Override
    LossKernel kernel() {
        return CudaLossKernel.shared();
    }
}
