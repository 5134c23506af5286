package org.plw4j.kernel;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Chooses the kernel backend from the system property {@code plw4j.backend}:
 * <ul>
 * <li>{@code auto} (default): the usable provider with the highest priority (CUDA when a device is
 * usable, else the CPU), logged once;</li>
 * <li>{@code cpu}: the fused CPU kernel; {@code reference}: the scalar reference kernel;</li>
 * <li>any other name, e.g. {@code cuda}: that provider, or an {@link IllegalStateException} that
 * says what is missing.</li>
 * </ul>
 * Thread-safe; the choice under {@code auto} is made once per JVM.
 */
public final class Backends {
    /** The system property that selects the backend. */
    public static final String PROPERTY = "plw4j.backend";
    private static final System.Logger LOG = System.getLogger(Backends.class.getName());
    private static volatile LossKernel autoChoice;

    private Backends() {
    }

    /**
     * @return the providers on the class path, highest priority first; a provider that fails to load
     *         (a broken jar, a missing class) is logged and left out, so it cannot break the others
     */
    public static List<LossKernelProvider> providers() {
        List<LossKernelProvider> list = new ArrayList<>();
        Iterator<LossKernelProvider> it = ServiceLoader.load(LossKernelProvider.class,
                Backends.class.getClassLoader()).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                list.add(it.next());
            } catch (ServiceConfigurationError | LinkageError e) {
                LOG.log(System.Logger.Level.WARNING, "plw4j: a kernel backend provider failed to load and is skipped", e);
            }
        }
        list.sort(Comparator.comparingInt(LossKernelProvider::priority).reversed());
        return list;
    }

    /**
     * @return the kernel named by {@code plw4j.backend} (default {@code auto})
     * @throws IllegalStateException if a named backend is absent or not usable
     */
    public static LossKernel selected() {
        String name = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        return byName(name);
    }

    /**
     * @param name {@code auto}, {@code reference}, or a provider name such as {@code cpu} or {@code cuda}
     * @return the kernel
     * @throws IllegalStateException if the backend is absent or not usable
     */
    public static LossKernel byName(String name) {
        if (name.equals("auto") || name.isEmpty()) {
            LossKernel k = autoChoice;
            if (k == null) {
                synchronized (Backends.class) {
                    k = autoChoice;
                    if (k == null) {
                        k = chooseAuto();
                        autoChoice = k;
                    }
                }
            }
            return k;
        }
        if (name.equals("reference")) {
            return ReferenceKernel.INSTANCE;
        }
        List<String> seen = new ArrayList<>();
        for (LossKernelProvider p : providers()) {
            seen.add(p.name());
            if (p.name().equals(name)) {
                String why = reason(p);
                if (why != null) {
                    throw new IllegalStateException(PROPERTY + "=" + name + " but that backend is not usable: " + why);
                }
                return p.kernel();
            }
        }
        throw new IllegalStateException(PROPERTY + "=" + name + " names no backend on the class path; found "
                + seen + " (the cuda backend needs the plw4j-cuda jar)");
    }

    /** The provider's probe, with a throwing probe turned into a reason. */
    private static String reason(LossKernelProvider p) {
        try {
            return p.unavailableReason();
        } catch (RuntimeException | LinkageError e) {
            return "its probe failed: " + e;
        }
    }

    private static LossKernel chooseAuto() {
        StringBuilder skipped = new StringBuilder();
        for (LossKernelProvider p : providers()) {
            String why = reason(p);
            if (why == null) {
                LossKernel k = p.kernel();
                LOG.log(System.Logger.Level.INFO, () -> "plw4j: " + PROPERTY + "=auto chose the " + p.name() + " backend (" + k.name() + ")"
                        + (skipped.length() > 0 ? "; skipped " + skipped : ""));
                return k;
            }
            skipped.append(p.name()).append(": ").append(why).append("; ");
        }
        LOG.log(System.Logger.Level.INFO, "plw4j: no backend provider usable, using the reference kernel");
        return ReferenceKernel.INSTANCE;
    }
}
