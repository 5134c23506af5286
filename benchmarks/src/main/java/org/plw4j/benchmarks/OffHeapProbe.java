package org.plw4j.benchmarks;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Native memory of one call of each benchmark method, as the peak resident set of the process during
 * the call minus the resident set before it (Linux: {@code /proc/self/status} VmHWM after resetting it
 * through {@code /proc/self/clear_refs}). ND4J 1.0.0-M2.1 on CPU does not report its buffers to
 * JavaCPP's or its own allocation counters, and libnd4j frees an op's internal temporaries before the
 * op returns, so the peak is the measure that sees them. Run with a pre-touched heap so that Java
 * allocations do not move the resident set (heap bytes come from JMH's {@code -prof gc}).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp
 * benchmarks.jar org.plw4j.benchmarks.OffHeapProbe 4x512x32000 FLOAT}
 */
public final class OffHeapProbe {
    private OffHeapProbe() {
    }

    /**
     * @param args shape ({@code BxNxV}) and dtype ({@code FLOAT} or {@code BFLOAT16})
     * @throws Exception if a benchmark method fails
     */
    public static void main(String[] args) throws Exception {
        LossBenchmark.Data d = LossBenchmark.Data.fromArgs(args);
        LossBenchmark.Naive nv = new LossBenchmark.Naive();
        nv.setUp(d);
        LossBenchmark.Sparse sp = new LossBenchmark.Sparse();
        sp.setUp(d);
        LossBenchmark.OneHot oh = new LossBenchmark.OneHot();
        oh.setUp(d);
        LossBenchmark.GradientBuffer gb = new LossBenchmark.GradientBuffer();
        gb.setUp(d);
        LossBenchmark lb = new LossBenchmark();
        Map<String, Callable<Object>> calls = new LinkedHashMap<>();
        calls.put("streamRead", () -> lb.streamRead(d));
        calls.put("fusedForward", () -> lb.fusedForward(d));
        calls.put("fusedForwardGradient", () -> lb.fusedForwardGradient(d));
        calls.put("fusedForwardGradientReused", () -> lb.fusedForwardGradientReused(d, gb));
        calls.put("naiveForward", () -> lb.naiveForward(d, nv));
        calls.put("naiveForwardGradient", () -> lb.naiveForwardGradient(d, nv));
        calls.put("naiveForwardWorkspace", () -> lb.naiveForwardWorkspace(d, nv));
        calls.put("nd4jSparseSoftmaxCE", () -> lb.nd4jSparseSoftmaxCE(d, sp));
        calls.put("dl4jMcxentForward", () -> lb.dl4jMcxentForward(d, oh));
        calls.put("dl4jMcxentForwardGradient", () -> lb.dl4jMcxentForwardGradient(d, oh));
        calls.put("fusedForwardGradientInPlace", () -> lb.fusedForwardGradientInPlace(d));
        double logitBytes = d.batch.logitBytes();
        System.out.printf(Locale.ROOT, "shape %s %s, logits %.0f MB%n", d.shape, d.dtype, logitBytes / 1e6);
        for (Map.Entry<String, Callable<Object>> e : calls.entrySet()) {
            e.getValue().call(); // warm: workspaces, class loading
            System.gc();
            System.gc();
            Thread.sleep(200);
            long before = status("VmRSS:");
            resetPeak();
            Object keep = e.getValue().call();
            long delta = status("VmHWM:") - before;
            System.out.printf(Locale.ROOT, "%-30s peak native memory +%8.1f MB per call = %5.2f x logits%n", e.getKey(),
                    delta / 1e6, delta / logitBytes);
            if (keep == null) {
                System.out.println();
            }
        }
        d.tearDown();
    }

    /**
     * Resets the peak resident set ({@code VmHWM}) to the current one.
     *
     * @throws java.io.IOException if /proc/self/clear_refs cannot be written
     */
    static void resetPeak() throws java.io.IOException {
        Files.write(Paths.get("/proc/self/clear_refs"), "5".getBytes(StandardCharsets.US_ASCII));
    }

    /** @return a {@code kB} field of /proc/self/status, in bytes */
    static long status(String field) throws java.io.IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.US_ASCII)) {
            if (line.startsWith(field)) {
                return 1024 * Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
            }
        }
        throw new IllegalStateException(field + " not in /proc/self/status");
    }
}
