package org.plw4j.kernel;

/**
 * The built-in {@code cpu} backend: the {@link FusedCpuKernel} (Vector API when available, scalar
 * otherwise), with the parallelism of {@link FusedCpuKernel#create()} (system property
 * {@value FusedCpuKernel#THREADS_PROPERTY}, default the available processors). One shared instance.
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
        return Shared.KERNEL;
    }

    private static final class Shared {
        static final FusedCpuKernel KERNEL = FusedCpuKernel.create();
    }
}
