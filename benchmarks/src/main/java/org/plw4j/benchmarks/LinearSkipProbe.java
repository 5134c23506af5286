package org.plw4j.benchmarks;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The skipped PLW 0 call of the fused linear path against the PLW 1 work on the same RACE-like batch
 * ({@link LinearLossBenchmark}'s {@code fusedForwardGradient} and {@code fusedForward} at PLW 0.1 and at PLW 0 with
 * {@code ZeroWeightRows.SKIPPED}), and the skipped call with its few-row products on BLAS instead
 * (system property {@code plw4j.linear.fewRowProducts=false} around those calls), interleaved: each round makes one
 * PLW 0.1 call of each kind and {@code skips} calls of each skipped variant; minima and medians over all calls.
 * A fourth argument {@code noblas} leaves the BLAS variants out.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx4g -cp benchmarks.jar
 * org.plw4j.benchmarks.LinearSkipProbe 1024x512x32000 3 10}
 */
public final class LinearSkipProbe {
    private static final String PROPERTY = "plw4j.linear.fewRowProducts";

    private LinearSkipProbe() {
    }

    /**
     * @param args shape {@code BNxHxV}, rounds, skipped calls per round, and {@code noblas} to leave out the
     *             variants on BLAS (whose OpenMP threads keep spinning for a while after each GEMM)
     */
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "1024x512x32000";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int skips = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        boolean withBlas = args.length <= 3 || !args[3].equals("noblas");
        LinearLossBenchmark.Data full = LinearLossBenchmark.Data.of(shape, 0.1);
        LinearLossBenchmark.Data skip = LinearLossBenchmark.Data.of(shape, 0.0);
        LinearLossBenchmark lb = new LinearLossBenchmark();
        Map<String, Supplier<Object>> once = new LinkedHashMap<>();
        once.put("PLW 0.1 fwd+grad", () -> lb.fusedForwardGradient(full));
        once.put("PLW 0.1 fwd", () -> lb.fusedForward(full));
        Map<String, Supplier<Object>> many = new LinkedHashMap<>();
        many.put("PLW 0 skipped fwd+grad", () -> lb.fusedForwardGradient(skip));
        if (withBlas) {
            many.put("PLW 0 skipped fwd+grad BLAS", () -> blas(() -> lb.fusedForwardGradient(skip)));
        }
        many.put("PLW 0 skipped fwd", () -> lb.fusedForward(skip));
        if (withBlas) {
            many.put("PLW 0 skipped fwd BLAS", () -> blas(() -> lb.fusedForward(skip)));
        }
        Map<String, double[]> times = new LinkedHashMap<>();
        once.keySet().forEach(k -> times.put(k, new double[rounds]));
        many.keySet().forEach(k -> times.put(k, new double[rounds * skips]));
        once.values().forEach(Supplier::get); // warm-up
        for (int i = 0; i < 5; i++) {
            many.values().forEach(Supplier::get);
        }
        for (int i = 0; i < rounds; i++) {
            for (Map.Entry<String, Supplier<Object>> e : once.entrySet()) {
                times.get(e.getKey())[i] = time(e.getValue());
            }
            for (int j = 0; j < skips; j++) {
                for (Map.Entry<String, Supplier<Object>> e : many.entrySet()) {
                    times.get(e.getKey())[i * skips + j] = time(e.getValue());
                }
            }
        }
        System.out.printf(Locale.ROOT, "shape %s, %d rounds, %d skipped calls of each kind per round%n", shape, rounds,
                skips);
        for (Map.Entry<String, double[]> e : times.entrySet()) {
            double[] t = sorted(e.getValue());
            String ref = e.getKey().contains("fwd+grad") ? "PLW 0.1 fwd+grad" : "PLW 0.1 fwd";
            double[] f = sorted(times.get(ref));
            System.out.printf(Locale.ROOT, "%-30s min %9.2f ms  median %9.2f ms  PLW 0.1 / this: %6.2f (minima)"
                    + " %6.2f (medians)%n", e.getKey(), t[0], t[t.length / 2], f[0] / t[0],
                    f[f.length / 2] / t[t.length / 2]);
        }
    }

    private static Object blas(Supplier<Object> call) {
        System.setProperty(PROPERTY, "false");
        try {
            return call.get();
        } finally {
            System.clearProperty(PROPERTY);
        }
    }

    private static double time(Supplier<Object> call) {
        long t0 = System.nanoTime();
        Object keep = call.get();
        double ms = (System.nanoTime() - t0) / 1e6;
        if (keep == null) {
            throw new IllegalStateException("no result");
        }
        return ms;
    }

    private static double[] sorted(double[] a) {
        double[] c = a.clone();
        Arrays.sort(c);
        return c;
    }
}
