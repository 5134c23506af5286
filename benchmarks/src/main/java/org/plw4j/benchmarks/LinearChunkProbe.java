package org.plw4j.benchmarks;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.nd4j.linalg.api.buffer.DataType;
import org.plw4j.GradientMode;
import org.plw4j.WeightedCausalLMLoss;

/**
 * The fused linear path's time per call against its floor ({@link LinearLossBenchmark}'s {@code floor*}
 * methods) for chunk budgets of several row counts and the default, interleaved: each round calls the floor and
 * then every chunk setting once, forward+gradient and forward only; minima and medians over the rounds. The
 * trade-off behind the default chunk budget.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx4g -cp benchmarks.jar
 * org.plw4j.benchmarks.LinearChunkProbe 1024x512x32000 0.1 5 64,128,256,512,1024}
 */
public final class LinearChunkProbe {
    private LinearChunkProbe() {
    }

    /**
     * @param args shape {@code BNxHxV}, PLW, rounds, comma-separated chunk row counts
     */
    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "1024x512x32000";
        double plw = args.length > 1 ? Double.parseDouble(args[1]) : 0.1;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int[] rows = Arrays.stream((args.length > 3 ? args[3] : "64,128,256,512,1024").split(","))
                .mapToInt(Integer::parseInt).toArray();
        LinearLossBenchmark.Data d = LinearLossBenchmark.Data.of(shape, plw);
        LinearLossBenchmark lb = new LinearLossBenchmark();
        LinearBatch x = d.batch;
        long perRow = 4L * (x.v + 2L * x.h);
        Map<String, Supplier<Object>> calls = new LinkedHashMap<>();
        calls.put("floor fwd+grad", () -> lb.floorForwardGradient(d));
        calls.put("fused fwd+grad default", () -> lb.fusedForwardGradient(d));
        for (int r : rows) {
            WeightedCausalLMLoss cfg = d.fused.withChunkBytes(r * perRow);
            calls.put("fused fwd+grad " + r + " rows", () -> cfg.computeFromHiddenWithGradient(x.hidden, x.weight,
                    null, x.inputIds, x.mask, d.dh, d.dw, null, GradientMode.OVERWRITE));
        }
        calls.put("floor fwd", () -> lb.floorForward(d));
        calls.put("fused fwd default", () -> lb.fusedForward(d));
        for (int r : rows) {
            WeightedCausalLMLoss cfg = d.fused.withChunkBytes(r * perRow);
            calls.put("fused fwd " + r + " rows", () -> cfg.computeFromHidden(x.hidden, x.weight, x.inputIds, x.mask));
        }
        Map<String, double[]> times = new LinkedHashMap<>();
        calls.keySet().forEach(k -> times.put(k, new double[rounds]));
        for (Supplier<Object> c : calls.values()) {
            c.get(); // warm-up
        }
        for (int i = 0; i < rounds; i++) {
            for (Map.Entry<String, Supplier<Object>> e : calls.entrySet()) {
                long t0 = System.nanoTime();
                Object keep = e.getValue().get();
                times.get(e.getKey())[i] = (System.nanoTime() - t0) / 1e6;
                if (keep == null) {
                    throw new IllegalStateException(e.getKey());
                }
            }
        }
        System.out.printf(Locale.ROOT, "shape %s, PLW %s, %d rounds, default chunk %d rows%n", shape, plw, rounds,
                d.fused.chunkRows(x.b * x.n, x.h, x.v, DataType.FLOAT));
        double[] floorGrad = sorted(times.get("floor fwd+grad"));
        double[] floorFwd = sorted(times.get("floor fwd"));
        for (Map.Entry<String, double[]> e : times.entrySet()) {
            double[] t = sorted(e.getValue());
            double[] f = e.getKey().contains("fwd+grad") ? floorGrad : floorFwd;
            System.out.printf(Locale.ROOT, "%-28s min %9.1f ms  median %9.1f ms  / floor: %.3f (minima) %.3f"
                    + " (medians)%n", e.getKey(), t[0], t[t.length / 2], t[0] / f[0], t[t.length / 2] / f[f.length / 2]);
        }
    }

    private static double[] sorted(double[] a) {
        double[] c = a.clone();
        Arrays.sort(c);
        return c;
    }
}
