package org.plw4j.cuda;

import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossKernelProvider;

/**
 * The {@code cuda} backend for {@link org.plw4j.kernel.Backends}: registered through
 * {@code META-INF/services/org.plw4j.kernel.LossKernelProvider}, preferred over {@code cpu} under
 * {@code plw4j.backend=auto} when a device is usable.
 *
 * <p>{@link #unavailableReason()} probes once per JVM (JCuda's classes, its native library and
 * {@code libcuda.so.1}, a device of compute capability 7.5 or newer, a driver that loads the
 * bundled PTX) and never throws: a failure becomes the returned sentence, so that
 * {@code plw4j.backend=cuda} fails with an {@link IllegalStateException} that names what is
 * missing, and {@code auto} falls back to the CPU. Creating this provider touches no JCuda class.
 */
public final class CudaKernelProvider implements LossKernelProvider {
    /** Priority under {@code auto}: above the {@code cpu} provider (0). */
    public static final int PRIORITY = 100;

    /** Public no-arg constructor for {@link java.util.ServiceLoader}. */
    public CudaKernelProvider() {
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int priority() {
        return PRIORITY;
    }

    @Override
    public String unavailableReason() {
        return CudaRuntime.unavailableReason();
    }

    @Override
    public LossKernel kernel() {
        return CudaLossKernel.shared();
    }
}
