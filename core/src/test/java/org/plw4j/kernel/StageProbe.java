package org.plw4j.kernel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Per-logit cost of each stage of the fused forward's row loop, on one thread, through the kernel's own
 * row operations (a probe with a {@code main}, in core's test sources and the kernel's package so that
 * it reaches them without copying kernel code; surefire does not run it): reading a row from native memory ({@link Memory#readShorts} / {@link Memory#readFloats},
 * what the {@code streamRead} baseline does per row), the bf16 widening with the row maximum, the
 * maximum of an fp32 row, and the exponential sum ({@link RowOps#expSum}) of a row already in cache,
 * then the whole forward row (read, maximum, exponential sum). Rows of V logits, normal with standard
 * deviation 3, R rows (a batch larger than the caches); the minimum over rounds per stage, in ns per logit.
 *
 * <p>What it shows: the exponential sum alone costs about 1.5 times the read of a bf16 row, so the
 * bf16 forward cannot come within 2.5 times of the read unless reading overlaps computing; it does not
 * here, since the kernel uses the Vector API's heap-array loads (the only ones alike from JDK 17 to 25),
 * into which each row is copied first. The native loads (JDK 17 {@code fromByteBuffer}, later
 * {@code fromMemorySegment}) were measured no faster (benchmarks/RESULTS.md).
 *
 * <p>Run (V, rows, rounds), from the repository root:
 * <pre>
 * mvn -q -B -pl core -am test-compile
 * java --add-modules jdk.incubator.vector -cp core/target/classes:core/target/test-classes \
 *      org.plw4j.kernel.StageProbe 32000 2048 9
 * </pre>
 */
public final class StageProbe {
    private StageProbe() {
    }

    /**
     * @param args V, rows, rounds
     */
    public static void main(String[] args) {
        int v = intArg(args, 0, 32000);
        int rows = intArg(args, 1, 2048);
        int rounds = intArg(args, 2, 9);
        RowOps one = warmRowOps();
        System.out.printf(Locale.ROOT, "row operations: %s; V %d, %d rows, one thread, min of %d rounds, ns/logit%n",
                one.describe(), v, rows, rounds);
        for (ElementType type : new ElementType[] {ElementType.BFLOAT16, ElementType.FLOAT32}) {
            int bytes = type == ElementType.BFLOAT16 ? 2 : 4;
            ByteBuffer bb = ByteBuffer.allocateDirect(Math.multiplyExact(rows * v, bytes)).order(ByteOrder.nativeOrder());
            SplittableRandom rnd = new SplittableRandom(3);
            for (int i = 0; i < rows * v; i++) {
                float x = (float) (3 * rnd.nextGaussian());
                if (bytes == 2) {
                    bb.putShort(2 * i, Half.floatToBf16(x));
                } else {
                    bb.putFloat(4 * i, x);
                }
            }
            Memory mem = Memory.ofBuffer(type, bb);
            short[] s = new short[v];
            float[] f = new float[v];
            double[] best = new double[4];
            Arrays.fill(best, Double.MAX_VALUE);
            double sink = 0;
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                for (int r = 0; r < rows; r++) {
                    if (bytes == 2) {
                        mem.readShorts((long) r * v, s, 0, v);
                    } else {
                        mem.readFloats((long) r * v, 1, f, 0, v);
                    }
                }
                long t1 = System.nanoTime();
                float m = 0;
                for (int r = 0; r < rows; r++) {
                    m = bytes == 2 ? one.widenBf16Max(s, 0, f, 0, v) : one.max(f, 0, v);
                }
                long t2 = System.nanoTime();
                for (int r = 0; r < rows; r++) {
                    sink += one.expSum(f, 0, v, m);
                }
                long t3 = System.nanoTime();
                for (int r = 0; r < rows; r++) {
                    float mr;
                    if (bytes == 2) {
                        mem.readShorts((long) r * v, s, 0, v);
                        mr = one.widenBf16Max(s, 0, f, 0, v);
                    } else {
                        mem.readFloats((long) r * v, 1, f, 0, v);
                        mr = one.max(f, 0, v);
                    }
                    sink += one.expSum(f, 0, v, mr);
                }
                long t4 = System.nanoTime();
                double n = (double) rows * v;
                best[0] = Math.min(best[0], (t1 - t0) / n);
                best[1] = Math.min(best[1], (t2 - t1) / n);
                best[2] = Math.min(best[2], (t3 - t2) / n);
                best[3] = Math.min(best[3], (t4 - t3) / n);
            }
            System.out.printf(Locale.ROOT, "%-8s read %.3f | %s %.3f | exp-sum %.3f | read+max+exp-sum %.3f (%.2fx the read)%s%n",
                    type, best[0], bytes == 2 ? "widen+max" : "max", best[1], best[2], best[3], best[3] / best[0],
                    sink == 0 ? " " : "");
        }
    }

    /** @return {@code args[i]} as an int, or {@code fallback} when there are fewer arguments (the probes' options) */
    static int intArg(String[] args, int i, int fallback) {
        return args.length > i ? Integer.parseInt(args[i]) : fallback;
    }

    /** @return the kernel's row operations, compiled (warm-up run on this thread), as a fresh instance */
    static RowOps warmRowOps() {
        RowOps ops = RowOps.best();
        ops.warmUpNow();
        return ops.fresh();
    }
}
