package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.Memory;

/**
 * {@link FewRowProducts} against sums in double over the same fp32 inputs, on shapes that exercise every loop of
 * the Vector API code: rows below, at and above its 4-row blocks (1 .. 32), H below one vector, between vectors
 * and above its 4-vector blocks, and a multiple of 128, whose copied rows are padded (1, 7, 16, 40, 64, 70, 128, 131), V below one segment block, at segment bounds and
 * not a multiple of 4 (1 .. 1001), W and dW with a row stride larger than H (a sliced view).
 *
 * <p>Tolerance: every element is a sum of n fp32 products rounded in fp32 with fused multiply-adds, so its error
 * is at most about n·2^-24 times the sum of the absolute terms (the classic bound for recursive summation);
 * the check allows {@code 4·n·2^-24·Σ|terms| + 1e-30}, n = H for Z, rows for dW, V for dH. The thread counts 1 and 7
 * give bitwise the same arrays (the sums' order does not depend on them).
 */
class FewRowProductsTest {
    private static final double EPS = Math.ulp(1.0f) / 2; // 2^-24

    @Test
    void matchesDoubleSumsOnEveryLoopShape() {
        FewRowProducts p = FewRowProducts.available();
        assumeTrue(p != null, "jdk.incubator.vector is not resolved: the fused path uses BLAS");
        Random rnd = new Random(42);
        int[] rowsList = {1, 3, 4, 5, 8, 17, 32};
        int[] hList = {1, 7, 16, 40, 64, 70, 128, 131};
        int[] vList = {1, 3, 5, 16, 63, 64, 65, 301, 1001};
        int cases = 0;
        for (int k : rowsList) {
            for (int hs : hList) {
                for (int v : vList) {
                    if (rnd.nextInt(3) != 0) {
                        continue; // a third of the grid keeps the test short; every value of each list appears
                    }
                    check(p, rnd, k, hs, v, rnd.nextBoolean() ? 0 : 3);
                    cases++;
                }
            }
        }
        for (int k : rowsList) {
            check(p, rnd, k, hList[k % hList.length], vList[(k * 3) % vList.length], 2);
        }
        assertTrue(cases > 50, "cases " + cases);
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    /** One shape; {@code pad} extra elements per row of W and dW. */
    private static void check(FewRowProducts p, Random rnd, int k, int hs, int v, int pad) {
        String what = "rows " + k + ", H " + hs + ", V " + v + ", pad " + pad;
        int ws = hs + pad;
        float[] h = gaussian(rnd, k * hs);
        float[] w = gaussian(rnd, v * ws);
        float[] g = gaussian(rnd, k * v);
        float[] dw0 = gaussian(rnd, v * ws);
        float[] z = new float[k * v];
        FewRowProducts.Operands fwd = new FewRowProducts.Operands(k, hs, v, h, Memory.of(w), ws, Memory.of(z), v);
        p.forward(fwd, 1);
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < v; j++) {
                double sum = 0;
                double abs = 0;
                for (int x = 0; x < hs; x++) {
                    double t = (double) h[r * hs + x] * w[j * ws + x];
                    sum += t;
                    abs += Math.abs(t);
                }
                assertNear(sum, z[r * v + j], hs, abs, what + ", Z[" + r + ", " + j + "]");
            }
        }
        float[] z7 = new float[k * v];
        p.forward(new FewRowProducts.Operands(k, hs, v, h, Memory.of(w), ws, Memory.of(z7), v), 7);
        assertArrayEquals(z, z7, what + ": Z, threads 1 and 7");

        FewRowProducts.Operands bwd = new FewRowProducts.Operands(k, hs, v, h, Memory.of(w), ws, Memory.of(g), v);
        for (boolean add : new boolean[] {false, true}) {
            float[] dw = dw0.clone();
            float[] dh = new float[k * hs];
            p.backward(bwd, Memory.of(dw), ws, add, dh, 1);
            for (int j = 0; j < v; j++) {
                for (int x = 0; x < ws; x++) {
                    if (x >= hs) {
                        assertTrue(dw[j * ws + x] == dw0[j * ws + x], what + ": the padding of dW is left alone");
                        continue;
                    }
                    double sum = add ? dw0[j * ws + x] : 0;
                    double abs = Math.abs(sum);
                    for (int r = 0; r < k; r++) {
                        double t = (double) g[r * v + j] * h[r * hs + x];
                        sum += t;
                        abs += Math.abs(t);
                    }
                    assertNear(sum, dw[j * ws + x], k + 1, abs, what + ", add " + add + ", dW[" + j + ", " + x + "]");
                }
            }
            for (int r = 0; r < k; r++) {
                for (int x = 0; x < hs; x++) {
                    double sum = 0;
                    double abs = 0;
                    for (int j = 0; j < v; j++) {
                        double t = (double) g[r * v + j] * w[j * ws + x];
                        sum += t;
                        abs += Math.abs(t);
                    }
                    assertNear(sum, dh[r * hs + x], v, abs, what + ", dH[" + r + ", " + x + "]");
                }
            }
            float[] dw7 = dw0.clone();
            float[] dh7 = new float[k * hs];
            p.backward(bwd, Memory.of(dw7), ws, add, dh7, 7);
            assertArrayEquals(dw, dw7, what + ", add " + add + ": dW, threads 1 and 7");
            assertArrayEquals(dh, dh7, what + ", add " + add + ": dH, threads 1 and 7");
        }
    }

    private static void assertNear(double exact, float got, int n, double abs, String what) {
        double tol = 4.0 * n * EPS * abs + 1e-30;
        assertTrue(Math.abs(got - exact) <= tol, () -> what + ": " + got + " vs " + exact + " (tolerance " + tol + ")");
    }
}
