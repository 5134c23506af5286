package org.plw4j.benchmarks;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Extra memory of one call of the fused linear path beside the materialised path, per {@code B*N}: native
 * memory as the peak resident set during the call minus the resident set before it (as {@link OffHeapProbe}),
 * heap as the bytes allocated by all threads during the call (HotSpot's per-thread allocation counters; an
 * upper bound of the heap the call holds at its peak). Each measured call runs on a new thread, so the fused
 * path's per-thread chunk buffers are allocated inside the measurement (a warm-up call first, on this thread). The inputs and the returned gradients exist before the
 * call (caller-owned arrays), so what is measured is the call's own extra memory; the materialised path's
 * logits and gradient ({@code 2*B*N*V*4} bytes) are the yardstick. Run with a pre-touched fixed heap so that
 * Java allocations do not move the resident set.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xms3g -Xmx3g -XX:+AlwaysPreTouch -cp benchmarks.jar
 * org.plw4j.benchmarks.LinearMemoryProbe 512x32000 0.1 1024,2048,4096}
 */
public final class LinearMemoryProbe {
    private LinearMemoryProbe() {
    }

    /**
     * @param args {@code HxV}, PLW, comma-separated {@code B*N} values (multiples of 512)
     * @throws Exception if a call fails
     */
    public static void main(String[] args) throws Exception {
        String hv = args.length > 0 ? args[0] : "512x32000";
        double plw = args.length > 1 ? Double.parseDouble(args[1]) : 0.1;
        String[] sizes = (args.length > 2 ? args[2] : "1024,2048,4096").split(",");
        for (String bn : sizes) {
            LinearLossBenchmark.Data d = LinearLossBenchmark.Data.of(bn + "x" + hv, plw);
            LinearLossBenchmark lb = new LinearLossBenchmark();
            Map<String, Callable<Object>> calls = new LinkedHashMap<>();
            calls.put("fusedForwardGradient", () -> lb.fusedForwardGradient(d));
            calls.put("fusedForward", () -> lb.fusedForward(d));
            calls.put("materialisedForwardGradient", () -> lb.materialisedForwardGradient(d));
            calls.put("materialisedForward", () -> lb.materialisedForward(d));
            LinearBatch x = d.batch;
            double yardstick = 2.0 * x.logitBytes();
            int rows = d.fused.chunkRows(x.b * x.n, x.h, x.v, DataType.FLOAT);
            System.out.printf(Locale.ROOT, "shape %sx%s, PLW %s: materialised logits + gradient %.1f MB, default"
                    + " chunk %d rows%n", bn, hv, plw, yardstick / 1e6, rows);
            for (Map.Entry<String, Callable<Object>> e : calls.entrySet()) {
                e.getValue().call(); // warm
                System.gc();
                System.gc();
                Thread.sleep(200);
                long before = OffHeapProbe.status("VmRSS:");
                long heap0 = allocated();
                OffHeapProbe.resetPeak();
                Object[] keep = new Object[1];
                long[] own = new long[1];
                // a thread of its own: its chunk buffers are new (the warm-up's stay with this thread)
                Thread t = new Thread(() -> {
                    long a0 = threadBean().getCurrentThreadAllocatedBytes();
                    try {
                        keep[0] = e.getValue().call();
                    } catch (Exception ex) {
                        throw new IllegalStateException(ex);
                    }
                    own[0] = threadBean().getCurrentThreadAllocatedBytes() - a0;
                });
                t.start();
                t.join();
                long nativePeak = OffHeapProbe.status("VmHWM:") - before;
                long heap = allocated() - heap0 + own[0];
                System.out.printf(Locale.ROOT, "  %-28s native peak +%8.1f MB, heap allocated %7.2f MB,"
                        + " together %.4f x materialised logits + gradient%n", e.getKey(), nativePeak / 1e6,
                        heap / 1e6, (nativePeak + heap) / yardstick);
                if (keep[0] == null) {
                    throw new IllegalStateException(e.getKey());
                }
            }
        }
    }

    /** @return bytes allocated on the heap so far by all live threads */
    private static ThreadMXBean threadBean() {
        return (ThreadMXBean) ManagementFactory.getThreadMXBean();
    }

    private static long allocated() {
        ThreadMXBean mx = threadBean();
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(mx.getAllThreadIds())) {
            sum += Math.max(0, b);
        }
        return sum;
    }
}
