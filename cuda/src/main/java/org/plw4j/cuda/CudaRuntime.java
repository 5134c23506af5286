package org.plw4j.cuda;

import java.util.Locale;

/**
 * The process-wide CUDA state: probes the driver and device once, then holds the {@link Gpu} and
 * the {@link CudaKernels}. The probe never throws: it turns every failure (JCuda absent, its native
 * library or {@code libcuda.so.1} missing, no device, a device too old, a driver that rejects the
 * PTX) into a sentence for {@link CudaKernelProvider#unavailableReason()}.
 */
final class CudaRuntime {
    /** System property: the device ordinal to use (default 0). */
    static final String DEVICE_PROPERTY = "plw4j.cuda.device";
    private static final System.Logger LOG = System.getLogger(CudaRuntime.class.getName());
    private static volatile Object state;   // a CudaKernels, or a String saying why not

    private CudaRuntime() {
    }

    /** @return null when usable, otherwise what is missing */
    static String unavailableReason() {
        Object s = state();
        return s instanceof String reason ? reason : null;
    }

    /**
     * @return the kernels of the usable device
     * @throws IllegalStateException if CUDA is not usable, with the reason
     */
    static CudaKernels kernels() {
        Object s = state();
        if (s instanceof String) {
            throw new IllegalStateException("the CUDA backend is not usable: " + s);
        }
        return (CudaKernels) s;
    }

    private static Object state() {
        Object s = state;
        if (s == null) {
            synchronized (CudaRuntime.class) {
                s = state;
                if (s == null) {
                    s = probe();
                    state = s;
                }
            }
        }
        return s;
    }

    private static Object probe() {
        try {
            Class.forName("jcuda.driver.JCudaDriver", false, CudaRuntime.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "the JCuda classes (org.jcuda:jcuda) are not on the class path";
        }
        int ordinal;
        String prop = System.getProperty(DEVICE_PROPERTY, "0").trim();
        try {
            ordinal = Integer.parseInt(prop);
        } catch (NumberFormatException e) {
            return String.format(Locale.ROOT, "%s must be a device number, was '%s'", DEVICE_PROPERTY, prop);
        }
        try {
            Gpu gpu = JCudaGpu.open(ordinal);
            if (gpu.computeCapability() < 75) {
                return String.format(Locale.ROOT, "device %d (%s) has compute capability %d.%d; the bundled PTX"
                        + " needs 7.5 or newer", ordinal, gpu.deviceName(), gpu.computeCapability() / 10,
                        gpu.computeCapability() % 10);
            }
            CudaKernels k = new CudaKernels(gpu, CudaKernels.cacheLimitFromProperty());
            k.loadAll();
            LOG.log(System.Logger.Level.DEBUG,
                    () -> String.format(Locale.ROOT, "plw4j: CUDA device %d: %s, compute capability %d.%d,"
                            + " driver %d", ordinal, gpu.deviceName(), gpu.computeCapability() / 10,
                            gpu.computeCapability() % 10, gpu.driverVersion()));
            return k;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        } catch (UnsatisfiedLinkError e) {
            return linkFailure(e);
        } catch (NoClassDefFoundError e) {
            return "JCuda's driver class failed to initialise earlier in this JVM (" + e.getMessage() + ")";
        } catch (Throwable e) {   // never let the probe crash the caller: report instead
            return "CUDA initialisation failed: " + e;
        }
    }

    /** Turns JCuda's long native-library error into one sentence. */
    static String linkFailure(UnsatisfiedLinkError e) {
        String msg = String.valueOf(e.getMessage());
        String detail = null;
        for (String line : msg.split("\n")) {
            if (line.contains("libcuda.so")) {
                detail = line.trim();
                break;
            }
        }
        if (detail != null) {
            return "libcuda.so.1 not found: no NVIDIA driver on this machine or not on the library path ("
                    + detail + ")";
        }
        String first = msg.split("\n", 2)[0].trim();
        return "the JCuda native library could not be loaded (JCuda 12.6.0 ships natives for linux-x86_64 and"
                + " windows-x86_64; this is " + System.getProperty("os.name") + "/" + System.getProperty("os.arch")
                + "): " + first;
    }
}
