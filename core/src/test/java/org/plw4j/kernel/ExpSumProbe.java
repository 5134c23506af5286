package org.plw4j.kernel;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Per-logit cost of the fp32 row passes of the fused kernel's exp-sum family on one cache-resident row, one
 * thread, through the kernel's own {@link RowOps} (a probe with a {@code main}, in core's test sources and the
 * kernel's package so that it reaches them; surefire does not run it): the maximum, the plain exp-sum, the
 * exp-sum that stores its terms, label smoothing's pass ({@link RowOps#expSumStoreShifted}), the entropy's
 * ({@link RowOps#expSumStoreEntropy}) and soft-capping at 30 ({@link RowOps#softCapMax}, one more exponential and a
 * division per logit). One row of V normal logits (standard deviation 3), shifted by its
 * maximum; every round times each pass over R calls in turn; the minimum over rounds, in ns per logit, with
 * the ratio to the plain exp-sum and the bytes the calling thread allocated per call (0 unless vectors are
 * boxed).
 *
 * <p>Run (V, calls per round, rounds), from the repository root; add {@code -XX:UseAVX=2} for 256-bit vectors:
 * <pre>
 * mvn -q -B -pl core -am test-compile
 * java --add-modules jdk.incubator.vector -cp core/target/classes:core/target/test-classes \
 *      org.plw4j.kernel.ExpSumProbe 32000 200 30
 * </pre>
 */
public final class ExpSumProbe {
    private ExpSumProbe() {
    }

    /**
     * @param args V, calls per round, rounds
     */
    public static void main(String[] args) {
        int v = StageProbe.intArg(args, 0, 32000);
        int calls = StageProbe.intArg(args, 1, 200);
        int rounds = StageProbe.intArg(args, 2, 30);
        RowOps one = StageProbe.warmRowOps();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        SplittableRandom rnd = new SplittableRandom(3);
        float[] row = new float[v];
        float[] dst = new float[v];
        for (int k = 0; k < v; k++) {
            row[k] = (float) (3 * rnd.nextGaussian());
        }
        float m = one.max(row, 0, v);
        String[] names = {"max", "expSum", "expSumStore", "expSumStoreShifted", "expSumStoreEntropy", "softCapMax"};
        double[] best = new double[names.length];
        long[] bytes = new long[names.length];
        Arrays.fill(best, Double.MAX_VALUE);
        double sink = 0;
        for (int round = 0; round < rounds; round++) {
            for (int p = 0; p < names.length; p++) {
                long a0 = threads.getCurrentThreadAllocatedBytes();
                long t0 = System.nanoTime();
                for (int c = 0; c < calls; c++) {
                    sink += switch (p) {
                        case 0 -> one.max(row, 0, v);
                        case 1 -> one.expSum(row, 0, v, m);
                        case 2 -> one.expSumStore(row, 0, v, m, dst, 0);
                        case 3 -> one.expSumStoreShifted(row, 0, v, m, dst, 0) + one.shiftedLogitSum;
                        case 4 -> one.expSumStoreEntropy(row, 0, v, m, dst, 0) + one.entropyTerms;
                        default -> one.softCapMax(row, 0, dst, 0, v, 30f, 1f / 30f);
                    };
                }
                best[p] = Math.min(best[p], (System.nanoTime() - t0) / ((double) calls * v));
                bytes[p] = (threads.getCurrentThreadAllocatedBytes() - a0) / calls;
            }
        }
        System.out.printf(Locale.ROOT, "row operations: %s; V %d, one thread, min of %d rounds of %d calls%n",
                one.describe(), v, rounds, calls);
        for (int p = 0; p < names.length; p++) {
            System.out.printf(Locale.ROOT, "%-20s %.4f ns/logit  %.2fx expSum  %d B/call%s%n", names[p], best[p],
                    best[p] / best[1], bytes[p], sink == 0 ? " " : "");
        }
    }
}
