package org.plw4j.kernel;

/**
 * The built-in {@code cpu} backend: the fused CPU kernel (Vector API when available, scalar otherwise).
 * Until the fused kernel is present it serves the reference kernel.
 */
public final class CpuKernelProvider implements LossKernelProvider {
    /** Public no-arg constructor for {@link java.util.ServiceLoader}. */
    public CpuKernelProvider() {
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    public String unavailableReason() {
        return null;
    }

    @Override
    public LossKernel kernel() {
        return ReferenceKernel.INSTANCE;
    }
}
