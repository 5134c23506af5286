package org.plw4j.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.plw4j.LossResult;

/**
 * What a new gradient array costs call after call: {@code computeWithGradient} with a new array (JMH's
 * {@code fusedForwardGradient}) called back to back, as a training loop would, with each call's time and,
 * every ten calls, the process's resident memory and its part in transparent huge pages
 * ({@code /proc/self/smaps_rollup}). The first calls get memory the process never touched; once
 * JavaCPP's byte limit makes the JVM collect the dropped gradients, later calls get recycled memory.
 * For reference, the median of the same call into a reused array. Run it with and without
 * {@code -Dplw4j.hugepages=false} to see what the huge-page advice does.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xms2g -Xmx6g -Dorg.bytedeco.javacpp.maxbytes=14G
 * -Dorg.bytedeco.javacpp.maxphysicalbytes=20G -cp benchmarks.jar org.plw4j.benchmarks.GradientAllocationProbe
 * 4x512x32000 FLOAT 80} (the JMH fork's memory settings; shape, dtype, calls).
 */
public final class GradientAllocationProbe {
    private GradientAllocationProbe() {
    }

    /**
     * @param args shape, dtype, calls
     * @throws IOException if /proc cannot be read
     */
    public static void main(String[] args) throws IOException {
        LossBenchmark.Data d = LossBenchmark.Data.fromArgs(args);
        int calls = args.length > 2 ? Integer.parseInt(args[2]) : 80;
        LossBenchmark lb = new LossBenchmark();
        LossBenchmark.GradientBuffer g = new LossBenchmark.GradientBuffer();
        g.setUp(d);
        List<Double> reused = new ArrayList<>();
        for (int r = 0; r < 25; r++) {
            long t0 = System.nanoTime();
            LossResult res = lb.fusedForwardGradientReused(d, g);
            if (r >= 5) {
                reused.add((System.nanoTime() - t0) / 1e6);
            }
            check(res);
        }
        Collections.sort(reused);
        System.out.printf(Locale.ROOT, "shape %s %s, plw4j.hugepages=%s; into a reused array: median %.1f ms%n",
                d.shape, d.dtype, System.getProperty("plw4j.hugepages", "true"), reused.get(reused.size() / 2));
        StringBuilder line = new StringBuilder("new array, ms per call:");
        double[] ms = new double[calls];
        for (int c = 0; c < calls; c++) {
            long t0 = System.nanoTime();
            LossResult res = lb.fusedForwardGradient(d);
            ms[c] = (System.nanoTime() - t0) / 1e6;
            check(res);
            line.append(String.format(Locale.ROOT, " %.0f", ms[c]));
            if (c % 10 == 9) {
                System.out.println(line + "   " + memory());
                line.setLength(0);
                line.append("                       ");
            }
        }
        double[] last = Arrays.copyOfRange(ms, calls / 2, calls);
        Arrays.sort(last);
        System.out.printf(Locale.ROOT, "second half of the calls: median %.0f ms, min %.0f, max %.0f; load %s%n",
                last[last.length / 2], last[0], last[last.length - 1],
                new String(Files.readAllBytes(Paths.get("/proc/loadavg"))).trim());
        d.tearDown();
    }

    private static void check(LossResult r) {
        if (!(r.loss() > 0)) {
            throw new IllegalStateException("loss " + r.loss());
        }
    }

    private static String memory() {
        StringBuilder sb = new StringBuilder();
        try {
            for (String l : Files.readAllLines(Paths.get("/proc/self/smaps_rollup"))) {
                if (l.startsWith("Rss:") || l.startsWith("AnonHugePages:")) {
                    sb.append(l.replaceAll(" +", " ")).append("  ");
                }
            }
        } catch (IOException e) {
            sb.append("(no /proc/self/smaps_rollup)");
        }
        return sb.toString().trim();
    }
}
