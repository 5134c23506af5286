package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.Backends;

/**
 * The probe against a driver that loads but finds no device: a stub {@code libcuda.so.1} (built
 * here with a C compiler; its cuInit returns CUDA_ERROR_NO_DEVICE) on the library path of a child
 * JVM, which prints {@link CudaKernelProvider#unavailableReason()}, what forcing {@code cuda}
 * throws and what {@code auto} picks. Skipped without a C compiler, on other systems than
 * Linux x86-64, and where a real driver is installed (it would be found first by the loader cache).
 */
class CudaStubDriverTest {
    private static final String STUB = "typedef int CUresult;\n"
            + "CUresult cuInit(unsigned int f) { (void) f; return 100; }\n"
            + "CUresult cuGetErrorName(CUresult e, const char** s) {"
            + " *s = e == 100 ? \"CUDA_ERROR_NO_DEVICE\" : \"CUDA_ERROR_UNKNOWN\"; return 0; }\n"
            + "CUresult cuGetErrorString(CUresult e, const char** s) {"
            + " *s = e == 100 ? \"no CUDA-capable device is detected\" : \"unknown error\"; return 0; }\n";

    /** Child JVM entry: prints the probe, the forced error and the auto choice, one per line. */
    public static void main(String[] args) {
        System.out.println("reason=" + new CudaKernelProvider().unavailableReason());
        try {
            Backends.byName("cuda");
            System.out.println("forced=no exception");
        } catch (IllegalStateException e) {
            System.out.println("forced=" + e.getMessage());
        }
        System.out.println("auto=" + Backends.byName("auto").name());
    }

    @Test
    void driverWithoutDeviceGivesTheCudaErrorAndAutoFallsBack() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("linux")
                && System.getProperty("os.arch").equals("amd64"), "Linux x86-64 only");
        String cc = System.getenv().getOrDefault("CC", "gcc");
        Assumptions.assumeTrue(Tools.onPath(cc), "no C compiler");
        Assumptions.assumeFalse(Files.exists(Paths.get("/usr/lib/x86_64-linux-gnu/libcuda.so.1"))
                || Files.exists(Paths.get("/usr/lib64/libcuda.so.1")), "a real driver is installed");
        Path dir = Emulator.workDir().resolve("stub-driver");
        Files.createDirectories(dir);
        Path c = dir.resolve("stub.c");
        Files.writeString(c, STUB);
        Tools.Run build = Tools.run(null, List.of(), List.of(cc, "-shared", "-fPIC", "-o",
                dir.resolve("libcuda.so.1").toString(), c.toString()));
        assertEquals(0, build.status, build.output);
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Tools.Run r = Tools.run(null, List.of("LD_LIBRARY_PATH=" + dir.toAbsolutePath()), List.of(java,
                "-Djava.io.tmpdir=" + dir.toAbsolutePath(), "-cp", System.getProperty("java.class.path"),
                CudaStubDriverTest.class.getName()));
        assertEquals(0, r.status, r.output);
        assertTrue(r.output.contains("reason=cuInit failed with CUDA_ERROR_NO_DEVICE (100)"), r.output);
        assertTrue(r.output.contains("forced=plw4j.backend=cuda but that backend is not usable: cuInit failed with"
                + " CUDA_ERROR_NO_DEVICE"), r.output);
        assertTrue(r.output.contains("auto=" + new org.plw4j.kernel.CpuKernelProvider().kernel().name()), r.output);
    }
}
