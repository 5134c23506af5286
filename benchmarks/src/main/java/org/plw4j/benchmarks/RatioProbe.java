package org.plw4j.benchmarks;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Interleaved timing of the fast methods, for ratios on a shared, loaded machine: JMH runs one benchmark
 * after the other, so a change of load between two of them moves their ratio; here every round calls
 * each method once, in turn, and the ratios are taken between per-method minima (the calls that ran
 * with the least interference) and between medians. A complement to the JMH table, not a replacement.
 * The allocating {@code fusedForwardGradient} is left out: its time is the first touch of the new
 * gradient array (see {@link FirstTouchProbe}); the variant writing into a reused array shows the
 * kernel's own cost.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx6g -cp benchmarks.jar
 * org.plw4j.benchmarks.RatioProbe 4x512x32000 FLOAT 40 3} (shape, dtype, rounds of the fast methods,
 * calls of the naive forward; 0 skips it). A fifth argument {@code extensions} adds the fused forward and
 * forward+gradient with each extension of SPEC section 7 and with the entropy of section 13
 * ({@link LossBenchmark.Extended}), with their ratios to the plain calls.
 */
public final class RatioProbe {
    /** The extension rows of the optional fifth argument {@code extensions}. */
    private static final String[] EXTENSIONS = {"LABEL_SMOOTHING", "Z_LOSS", "SOFT_CAP", "ALL", "ENTROPY"};

    private RatioProbe() {
    }

    /**
     * @param args shape, dtype, rounds, naive calls
     * @throws Exception if a method fails
     */
    public static void main(String[] args) throws Exception {
        LossBenchmark.Data d = LossBenchmark.Data.fromArgs(args);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 40;
        int naiveCalls = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        LossBenchmark.Naive nv = new LossBenchmark.Naive();
        nv.setUp(d);
        LossBenchmark lb = new LossBenchmark();
        Map<String, Callable<Object>> fast = new LinkedHashMap<>();
        fast.put("streamRead", () -> lb.streamRead(d));
        fast.put("fusedForward", () -> lb.fusedForward(d));
        LossBenchmark.GradientBuffer g = new LossBenchmark.GradientBuffer();
        g.setUp(d);
        fast.put("fusedForwardGradientReused", () -> lb.fusedForwardGradientReused(d, g));
        boolean extensions = args.length > 4 && args[4].equals("extensions");
        if (extensions) {
            for (String x : EXTENSIONS) {
                var loss = LossBenchmark.Extended.with(d.fused, x);
                fast.put("fwd " + x, () -> loss.compute(d.batch.logits, d.batch.inputIds, d.batch.mask));
                fast.put("fwd+grad " + x, () -> loss.computeWithGradient(d.batch.logits, d.batch.inputIds, d.batch.mask,
                        g.gradient));
            }
        }
        Map<String, List<Double>> times = new LinkedHashMap<>();
        for (String k : fast.keySet()) {
            times.put(k, new ArrayList<>());
        }
        for (int r = 0; r < rounds + 5; r++) {
            for (Map.Entry<String, Callable<Object>> e : fast.entrySet()) {
                long t0 = System.nanoTime();
                Object o = e.getValue().call();
                double ms = (System.nanoTime() - t0) / 1e6;
                if (r >= 5) { // the first rounds warm the JIT up
                    times.get(e.getKey()).add(ms);
                }
                if (o == null) {
                    System.out.println();
                }
            }
            System.gc(); // ND4J frees native buffers only after a GC: keep the process small (not timed)
        }
        if (naiveCalls > 0) {
            times.put("naiveForward", new ArrayList<>());
            lb.naiveForward(d, nv);
            for (int r = 0; r < naiveCalls; r++) {
                long t0 = System.nanoTime();
                lb.naiveForward(d, nv);
                times.get("naiveForward").add((System.nanoTime() - t0) / 1e6);
                // and one more interleaved round of the fused forward next to it
                t0 = System.nanoTime();
                lb.fusedForward(d);
                times.get("fusedForward").add((System.nanoTime() - t0) / 1e6);
                System.gc();
            }
        }
        System.out.printf(Locale.ROOT, "shape %s %s, %d rounds, load %s%n", d.shape, d.dtype, rounds,
                new String(Files.readAllBytes(Paths.get("/proc/loadavg"))).trim());
        Map<String, double[]> stats = new LinkedHashMap<>();
        for (Map.Entry<String, List<Double>> e : times.entrySet()) {
            double[] t = e.getValue().stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double min = t[0];
            double med = t[t.length / 2];
            stats.put(e.getKey(), new double[] {min, med});
            System.out.printf(Locale.ROOT, "%-26s min %9.2f ms  median %9.2f ms  (%d calls)%n", e.getKey(), min, med,
                    t.length);
        }
        ratio(stats, "fusedForward", "streamRead", "<= 2.5");
        ratio(stats, "naiveForward", "fusedForward", ">= 20");
        if (extensions) {
            for (String x : EXTENSIONS) {
                String target = x.equals("SOFT_CAP") || x.equals("ALL") ? "<= 2.0" : "<= 1.15";
                ratio(stats, "fwd " + x, "fusedForward", target);
                ratio(stats, "fwd+grad " + x, "fusedForwardGradientReused", target);
            }
        }
        d.tearDown();
        System.exit(0);
    }

    private static void ratio(Map<String, double[]> s, String num, String den, String target) {
        if (s.containsKey(num) && s.containsKey(den)) {
            System.out.printf(Locale.ROOT, "%s / %s: %.2f (minima), %.2f (medians), target %s%n", num, den,
                    s.get(num)[0] / s.get(den)[0], s.get(num)[1] / s.get(den)[1], target);
        }
    }
}
