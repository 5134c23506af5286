package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.CpuKernelProvider;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossKernelProvider;

/**
 * How {@link Backends} treats the {@code cuda} provider: found through ServiceLoader above the
 * CPU; without a usable device, forcing {@code cuda} fails with an IllegalStateException that
 * names what is missing and {@code auto} falls back to the CPU kernel; with one, both give the
 * CUDA kernel. The probe never throws.
 */
class CudaBackendSelectionTest {
    private static LossKernelProvider cudaProvider() {
        for (LossKernelProvider p : Backends.providers()) {
            if (p.name().equals("cuda")) {
                return p;
            }
        }
        return null;
    }

    private static boolean driverInstalled() {
        for (String d : new String[] {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64",
                "/usr/lib/wsl/lib"}) {
            if (java.nio.file.Files.exists(java.nio.file.Paths.get(d, "libcuda.so.1"))) {
                return true;
            }
        }
        String ld = System.getenv("LD_LIBRARY_PATH");
        return ld != null && !ld.isEmpty();   // cannot tell: do not assert on the wording
    }

    @Test
    void cudaProviderIsFoundAboveTheCpu() {
        List<LossKernelProvider> ps = Backends.providers();
        LossKernelProvider cuda = cudaProvider();
        assertNotNull(cuda, "the cuda provider must be registered in META-INF/services");
        assertTrue(cuda.priority() > new CpuKernelProvider().priority());
        assertEquals("cuda", ps.get(0).name(), "highest priority first");
    }

    @Test
    void probingNeverThrowsAndIsStable() {
        LossKernelProvider cuda = cudaProvider();
        String first = cuda.unavailableReason();
        assertEquals(first, cuda.unavailableReason(), "the probe runs once per JVM");
    }

    @Test
    void forcingCudaWithoutADeviceNamesWhatIsMissing() {
        String why = cudaProvider().unavailableReason();
        Assumptions.assumeTrue(why != null, "a CUDA device is usable here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.byName("cuda"));
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(e.getMessage().contains("plw4j.backend=cuda"), e.getMessage());
        assertFalse(why.isBlank());
        // With JCuda present and no NVIDIA driver installed, the reason names the driver library;
        // with a driver but no device it names the CUDA error instead (CudaStubDriverTest).
        if (!driverInstalled()) {
            assertTrue(why.contains("libcuda.so.1"), why);
        }
        assertThrows(IllegalStateException.class, CudaLossKernel::shared);
        assertThrows(IllegalStateException.class, () -> cudaProvider().kernel());
    }

    @Test
    void autoFallsBackToTheCpuWithoutADevice() {
        Assumptions.assumeTrue(cudaProvider().unavailableReason() != null, "a CUDA device is usable here");
        LossKernel auto = Backends.byName("auto");
        assertEquals(new CpuKernelProvider().kernel().name(), auto.name());
    }

    @Test
    void withADeviceBothCudaAndAutoGiveTheCudaKernel() {
        Assumptions.assumeTrue(cudaProvider().unavailableReason() == null,
                () -> "no usable CUDA device: " + cudaProvider().unavailableReason());
        assertEquals("cuda", Backends.byName("cuda").name());
        assertEquals("cuda", Backends.byName("auto").name());
    }
}
