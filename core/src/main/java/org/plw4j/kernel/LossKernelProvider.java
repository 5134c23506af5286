package org.plw4j.kernel;

/**
 * Service-provider interface for kernel backends, found through {@link java.util.ServiceLoader}
 * ({@code META-INF/services/org.plw4j.kernel.LossKernelProvider}). The core ships the {@code cpu}
 * provider; the {@code plw4j-cuda} module adds {@code cuda}. The system property {@code plw4j.backend}
 * chooses among them; see {@link Backends}.
 */
public interface LossKernelProvider {
    /** @return the backend name matched against {@code plw4j.backend}, e.g. {@code cpu} or {@code cuda} */
    String name();

    /** @return preference under {@code auto}: the usable provider with the highest priority wins */
    int priority();

    /**
     * Probes the backend once (cheap after the first call).
     *
     * @return null when usable, otherwise a sentence naming what is missing (a library, a device)
     */
    String unavailableReason();

    /**
     * @return the kernel of this backend
     * @throws IllegalStateException if the backend is not usable
     */
    LossKernel kernel();
}
