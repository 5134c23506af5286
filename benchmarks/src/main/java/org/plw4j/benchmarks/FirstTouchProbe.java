package org.plw4j.benchmarks;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Cost of fresh native memory on this machine: {@code ByteBuffer.allocateDirect} (which zeroes, so it
 * touches every page) of the size of the (4, 512, 32000) fp32 logits, three times, and a second pass
 * over the same pages. Every method that allocates a {@code [B, N, V]} array per call pays the first
 * number per array.
 *
 * <p>Run: {@code java -XX:MaxDirectMemorySize=4g -cp benchmarks.jar org.plw4j.benchmarks.FirstTouchProbe}
 */
public final class FirstTouchProbe {
    private FirstTouchProbe() {
    }

    /**
     * @param args ignored
     */
    public static void main(String[] args) {
        int bytes = 4 * 512 * 32000 * 4;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            ByteBuffer b = ByteBuffer.allocateDirect(bytes);
            long t1 = System.nanoTime();
            for (int i = 0; i < bytes; i += 4096) {
                b.put(i, (byte) 1);
            }
            long t2 = System.nanoTime();
            System.out.printf(Locale.ROOT, "allocate and zero %d MB: %.0f ms (%.0f MB/s); touch again: %.1f ms%n",
                    bytes / 1_000_000, (t1 - t0) / 1e6, bytes / 1e6 / ((t1 - t0) / 1e9), (t2 - t1) / 1e6);
        }
    }
}
