package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link VectorRowOps} against {@link ScalarRowOps} and the plain definitions, on odd lengths and offsets
 * (vector bodies, unrolled bodies and scalar tails). Expected values: {@link Math#max}, the 16-bit
 * conversions of {@link Half} (exact), and sums of {@link FastExp#expf} in double (relative 1e-6: fp32
 * partial sums of at most 64 terms, bound 64·2^-24 = 3.8e-6 in the worst case).
 */
class RowOpsTest {
    private final RowOps vec = new VectorRowOps();
    private final RowOps sca = new ScalarRowOps();

    private static float[] randomRow(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int k = 0; k < n; k++) {
            a[k] = (float) (10 * rnd.nextDouble() - 5);
        }
        return a;
    }

    @Test
    void maxAndAnyAtLeast() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n = 0; n < 300; n += 7) {
            float[] a = randomRow(rnd, n + 5);
            float m = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < n; k++) {
                m = Math.max(m, a[3 + k]);
            }
            assertEquals(m, vec.max(a, 3, n));
            assertEquals(m, sca.max(a, 3, n));
            if (n > 2) {
                a[3 + n / 2] = Float.NaN;
                assertTrue(Float.isNaN(vec.max(a, 3, n)));
                a[3 + n / 2] = 99f;
                assertEquals(99f, vec.max(a, 3, n));
                assertEquals(false, vec.anyAtLeast(a, 3, n / 2, 99f));
                assertEquals(true, vec.anyAtLeast(a, 3, n / 2 + 1, 99f));
                assertEquals(sca.anyAtLeast(a, 3, n, 4.9f), vec.anyAtLeast(a, 3, n, 4.9f));
            }
        }
        float[] z = {-0f, 0f, -0f};
        assertEquals(0, Float.floatToRawIntBits(vec.max(z, 0, 3)), "+0 over -0, as Math.max");
    }

    @Test
    void expSumsAgreeWithDoubleSumOfTerms() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : new int[] {1, 15, 16, 17, 63, 64, 65, 1023, 1024, 1025, 4097, 50_001}) {
            float[] a = randomRow(rnd, n + 2);
            double want = 0;
            for (int k = 0; k < n; k++) {
                want += FastExp.expf(a[2 + k] - 5f);
            }
            float[] dst = new float[n + 1];
            double got = vec.expSumStore(a, 2, n, 5f, dst, 1);
            assertEquals(want, got, 1e-6 * want, "n=" + n);
            assertEquals(got, vec.expSum(a, 2, n, 5f), 0.0, "store and no-store sum the same way");
            assertEquals(want, sca.expSum(a, 2, n, 5f), 1e-6 * want, "n=" + n);
            for (int k = 0; k < n; k++) {
                assertEquals(FastExp.expf(a[2 + k] - 5f), dst[1 + k], 0f);
            }
        }
    }

    /** The scalar twin sums in the vector lanes' order: bitwise the same sums and stored terms, fp32 and fp64. */
    @Test
    void scalarTwinIsBitwiseTheVectorCode() {
        RowOps twin = VectorRowOps.scalarTwin();
        RowOps v = new VectorRowOps(true);
        SplittableRandom rnd = new SplittableRandom(13);
        for (int n : new int[] {0, 1, 15, 16, 17, 63, 64, 65, 1023, 1024, 1025, 1040, 2049, 4097, 50_001}) {
            float[] a = randomRow(rnd, n + 3);
            float m = v.max(a, 3, n);
            float shift = n == 0 ? 0f : m;
            float[] d1 = new float[n + 1];
            float[] d2 = new float[n + 1];
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(a, 3, n, shift, d1, 1)),
                    Double.doubleToRawLongBits(twin.expSumStore(a, 3, n, shift, d2, 1)), "n=" + n);
            assertEquals(Double.doubleToRawLongBits(v.expSum(a, 3, n, shift)),
                    Double.doubleToRawLongBits(twin.expSum(a, 3, n, shift)), "n=" + n);
            // the entropy pass: the same sum as expSumStore, and the same entropy term on both
            float[] d3 = new float[n + 1];
            float[] d4 = new float[n + 1];
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(a, 3, n, shift, d1, 1)),
                    Double.doubleToRawLongBits(v.expSumStoreEntropy(a, 3, n, shift, d3, 1)), "n=" + n);
            double t1 = v.entropyTerms;
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(a, 3, n, shift, d1, 1)),
                    Double.doubleToRawLongBits(twin.expSumStoreEntropy(a, 3, n, shift, d4, 1)), "n=" + n);
            assertEquals(Double.doubleToRawLongBits(t1), Double.doubleToRawLongBits(twin.entropyTerms), "n=" + n);
            // label smoothing's pass: the same sum again, and Σ (a - shift) on both
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(a, 3, n, shift, d1, 1)),
                    Double.doubleToRawLongBits(v.expSumStoreShifted(a, 3, n, shift, d3, 1)), "n=" + n);
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(a, 3, n, shift, d1, 1)),
                    Double.doubleToRawLongBits(twin.expSumStoreShifted(a, 3, n, shift, d4, 1)), "n=" + n);
            assertEquals(Double.doubleToRawLongBits(v.shiftedLogitSum), Double.doubleToRawLongBits(twin.shiftedLogitSum),
                    "n=" + n);
            double xs = 0;
            for (int k = 0; k < n; k++) {
                xs += a[3 + k] - shift;
            }
            assertEquals(xs, v.shiftedLogitSum, 1e-6 * Math.abs(xs) + 1e-30, "shifted logit sum, n=" + n);
            double want = 0;
            for (int k = 0; k < n; k++) {
                float x = a[3 + k] - shift;
                want += FastExp.expf(x) * (double) x;
            }
            assertEquals(want, t1, 1e-6 * Math.abs(want) + 1e-30, "entropy term, n=" + n);
            for (int k = 0; k < d3.length; k++) {
                assertEquals(Float.floatToRawIntBits(d1[k]), Float.floatToRawIntBits(d3[k]));
                assertEquals(Float.floatToRawIntBits(d1[k]), Float.floatToRawIntBits(d4[k]));
            }
            for (int k = 0; k < d1.length; k++) {
                assertEquals(Float.floatToRawIntBits(d1[k]), Float.floatToRawIntBits(d2[k]));
            }
            double[] ad = new double[n + 2];
            for (int k = 0; k < ad.length; k++) {
                ad[k] = 40 * rnd.nextDouble() - 30;
            }
            double[] e1 = new double[n + 2];
            double[] e2 = new double[n + 2];
            assertEquals(Double.doubleToRawLongBits(v.expSumStore(ad, 2, n, 10.0, e1, 0)),
                    Double.doubleToRawLongBits(twin.expSumStore(ad, 2, n, 10.0, e2, 0)), "n=" + n);
            for (int k = 0; k < e1.length; k++) {
                assertEquals(Double.doubleToRawLongBits(e1[k]), Double.doubleToRawLongBits(e2[k]));
            }
        }
    }

    /**
     * Soft-capping: the vector lanes equal {@link FastExp#softCap(float, float, float)} bit for bit (specials
     * included: ±0 keep their sign, ±Inf give ±c, NaN stays NaN), and the value is within 2e-7·c of
     * {@code c·tanh(x/c)} in double (a few fp32 ulp of c), for caps 1, 5, 30.
     */
    @Test
    void softCapLanesAreFastExpAndCloseToTanh() {
        RowOps v = new VectorRowOps(true);
        SplittableRandom rnd = new SplittableRandom(31);
        int n = 4099;
        for (float cap : new float[] {1f, 5f, 30f}) {
            float inv = (float) (1.0 / cap);
            float[] a = new float[n];
            for (int k = 0; k < n; k++) {
                a[k] = (float) ((rnd.nextDouble() * 2 - 1) * (k % 3 == 0 ? 200 : 4 * cap));
            }
            float[] specials = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE,
                -Float.MIN_VALUE, 1e-30f, -3e-39f, Float.MAX_VALUE, -Float.MAX_VALUE};
            System.arraycopy(specials, 0, a, 7, specials.length);
            float[] d = new float[n];
            v.softCapMax(a, 0, d, 0, n, cap, inv);
            for (int k = 0; k < n; k++) {
                float want = FastExp.softCap(a[k], cap, inv);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(d[k]), "x=" + a[k] + " cap=" + cap);
                if (Float.isFinite(a[k])) {
                    double exact = cap * Math.tanh(a[k] / (double) cap);
                    assertEquals(exact, want, 2e-7 * cap, "x=" + a[k] + " cap=" + cap);
                    assertEquals(Math.copySign(1f, a[k]), Math.copySign(1f, want), "sign of " + a[k]);
                }
            }
            assertEquals(cap, FastExp.softCap(Float.POSITIVE_INFINITY, cap, inv));
            assertTrue(Float.isNaN(FastExp.softCap(Float.NaN, cap, inv)));
        }
    }

    /** widenBf16Max equals widenBf16 then max, bit for bit, specials included (NaN wins, +0 over -0). */
    @Test
    void widenAndMaxInOnePass() {
        SplittableRandom rnd = new SplittableRandom(17);
        short[] specials = {Half.floatToBf16(Float.NaN), Half.floatToBf16(Float.NEGATIVE_INFINITY),
            Half.floatToBf16(Float.POSITIVE_INFINITY), Half.floatToBf16(-0f), Half.floatToBf16(0f)};
        for (RowOps ops : new RowOps[] {vec, sca, VectorRowOps.scalarTwin()}) {
            for (int n : new int[] {0, 1, 15, 16, 31, 32, 33, 100, 1027}) {
                for (int special = -1; special < specials.length; special++) {
                    short[] src = new short[n + 2];
                    for (int k = 0; k < src.length; k++) {
                        src[k] = Half.floatToBf16((float) (20 * rnd.nextDouble() - 10));
                    }
                    if (special >= 0 && n > 0) {
                        src[2 + rnd.nextInt(n)] = specials[special];
                    }
                    if (special >= 3 && n > 1) { // a row of zeros of both signs
                        for (int k = 2; k < n + 2; k++) {
                            src[k] = specials[3 + (k % 2)];
                        }
                    }
                    float[] want = new float[n + 1];
                    ops.widenBf16(src, 2, want, 1, n);
                    float wantMax = ops.max(want, 1, n);
                    float[] got = new float[n + 1];
                    float gotMax = ops.widenBf16Max(src, 2, got, 1, n);
                    assertEquals(Float.floatToIntBits(wantMax), Float.floatToIntBits(gotMax), "n=" + n);
                    assertEquals(Float.floatToRawIntBits(wantMax) == 0, Float.floatToRawIntBits(gotMax) == 0);
                    for (int k = 0; k < want.length; k++) {
                        assertEquals(Float.floatToRawIntBits(want[k]), Float.floatToRawIntBits(got[k]));
                    }
                }
            }
        }
    }

    @Test
    void doubleRows() {
        SplittableRandom rnd = new SplittableRandom(9);
        for (int n : new int[] {1, 7, 8, 9, 17, 1000}) {
            double[] a = new double[n + 1];
            double want = 0;
            double m = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < n; k++) {
                a[1 + k] = 20 * rnd.nextDouble() - 10;
                want += FastExp.exp(a[1 + k] - 3);
                m = Math.max(m, a[1 + k]);
            }
            assertEquals(m, vec.max(a, 1, n));
            assertEquals(want, vec.expSum(a, 1, n, 3), 1e-14 * want);
            assertEquals(want, sca.expSum(a, 1, n, 3), 1e-14 * want);
        }
    }

    /** bf16 widening and narrowing equal {@link Half}'s, on every 16-bit pattern and on rounding ties. */
    @Test
    void bf16ConversionsMatchHalf() {
        short[] all = new short[65536 + 3];
        for (int k = 0; k < 65536; k++) {
            all[k] = (short) k;
        }
        float[] f = new float[all.length];
        vec.widenBf16(all, 0, f, 0, all.length);
        for (int k = 0; k < all.length; k++) {
            assertEquals(Float.floatToRawIntBits(Half.bf16ToFloat(all[k])), Float.floatToRawIntBits(f[k]));
        }
        SplittableRandom rnd = new SplittableRandom(11);
        float[] src = new float[100_003];
        for (int k = 0; k < src.length; k++) {
            int bits = rnd.nextInt();
            if (k % 3 == 0) {
                bits = (bits & 0xFFFF0000) | 0x8000; // exact tie
            }
            src[k] = Float.intBitsToFloat(bits);
        }
        src[0] = Float.NaN;
        src[1] = Float.POSITIVE_INFINITY;
        src[2] = Float.intBitsToFloat(0x7F800001); // signalling NaN pattern
        short[] out = new short[src.length];
        vec.narrowBf16(src, 0, out, 0, src.length);
        for (int k = 0; k < src.length; k++) {
            assertEquals(Half.floatToBf16(src[k]), out[k], "bits " + Integer.toHexString(Float.floatToRawIntBits(src[k])));
        }
    }

    /** The NCW block update of the vector path equals the scalar one lane by lane (same operation order). */
    @Test
    void ncwBlocksEqualScalar() {
        int w = vec.tileWidth();
        SplittableRandom rnd = new SplittableRandom(13);
        float[] tile = new float[64 * w];
        float[][] maxs = {new float[w], new float[w]};
        float[][] args = {new float[w], new float[w]};
        float[][] shifts = {new float[w], new float[w]};
        double[][] sums = {new double[w], new double[w]};
        for (int r = 0; r < 2; r++) {
            Arrays.fill(maxs[r], Float.NEGATIVE_INFINITY);
        }
        for (int block = 0; block < 5; block++) {
            for (int k = 0; k < tile.length; k++) {
                tile[k] = (float) (8 * rnd.nextDouble() - 4 + block);
            }
            tile[3] = Float.NEGATIVE_INFINITY;
            vec.ncwForward(tile, 64, block * 64, maxs[0], args[0], shifts[0], sums[0]);
            // ScalarRowOps fixes its own tile width: the same update, written for width w
            ScalarLanes.forward(tile, w, 64, block * 64, maxs[1], args[1], shifts[1], sums[1]);
        }
        for (int t = 0; t < w; t++) {
            assertEquals(maxs[1][t], maxs[0][t]);
            assertEquals(args[1][t], args[0][t]);
            assertEquals(shifts[1][t], shifts[0][t]);
            assertEquals(sums[1][t], sums[0][t], 0.0, "lane " + t);
        }
    }

    /**
     * The NCW block update with the entropy term: max, arg, shift and sum bitwise those of {@code ncwForward},
     * the entropy terms equal to a scalar update written for the vector's width, and close (relative 1e-6) to
     * {@code Σ e (x - max)} of the lane's final max in double.
     */
    @Test
    void ncwEntropyBlocks() {
        int w = vec.tileWidth();
        SplittableRandom rnd = new SplittableRandom(29);
        float[] tile = new float[64 * w];
        float[][] maxs = {new float[w], new float[w], new float[w]};
        float[][] args = {new float[w], new float[w], new float[w]};
        float[][] shifts = {new float[w], new float[w], new float[w]};
        double[][] sums = {new double[w], new double[w], new double[w]};
        double[][] ents = {new double[w], new double[w]};
        for (float[] m : maxs) {
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
        }
        float[][] all = new float[w][5 * 64];
        for (int block = 0; block < 5; block++) {
            for (int k = 0; k < tile.length; k++) {
                tile[k] = (float) (8 * rnd.nextDouble() - 4 + block);
                all[k % w][block * 64 + k / w] = tile[k];
            }
            tile[3] = Float.NEGATIVE_INFINITY;
            all[3][block * 64] = Float.NEGATIVE_INFINITY;
            vec.ncwForward(tile, 64, block * 64, maxs[2], args[2], shifts[2], sums[2]);
            vec.ncwForwardEntropy(tile, 64, block * 64, maxs[0], args[0], shifts[0], sums[0], ents[0]);
            ScalarLanes.forwardEntropy(tile, w, 64, block * 64, maxs[1], args[1], shifts[1], sums[1], ents[1]);
        }
        for (int t = 0; t < w; t++) {
            assertEquals(maxs[2][t], maxs[0][t]);
            assertEquals(args[2][t], args[0][t]);
            assertEquals(sums[2][t], sums[0][t], 0.0, "lane " + t);
            assertEquals(ents[1][t], ents[0][t], 0.0, "lane " + t);
            double want = 0;
            for (float x : all[t]) {
                double d = (double) x - maxs[0][t];
                want += x == Float.NEGATIVE_INFINITY ? 0.0 : Math.exp(d) * d;
            }
            assertEquals(want, ents[0][t], 1e-6 * Math.abs(want), "lane " + t);
        }
    }

    /** The NCW gradient block of the vector path: each element is FastExp.expf(x - shift) * factor, bitwise. */
    @Test
    void ncwGradientLanesAreFastExp() {
        int w = vec.tileWidth();
        SplittableRandom rnd = new SplittableRandom(17);
        float[] tile = new float[64 * w];
        float[] shift = new float[w];
        float[] factor = new float[w];
        float[] zero = new float[w];
        for (int t = 0; t < w; t++) {
            shift[t] = (float) (5 * rnd.nextDouble());
            factor[t] = t % 5 == 0 ? 1f : (float) rnd.nextDouble();
            zero[t] = t % 7 == 3 ? 1f : 0f;
        }
        for (int k = 0; k < tile.length; k++) {
            tile[k] = (float) (20 * rnd.nextDouble() - 15);
        }
        tile[5] = Float.NaN;
        float[] in = tile.clone();
        vec.ncwGradient(tile, 64, shift, factor, zero);
        for (int v = 0; v < 64; v++) {
            for (int t = 0; t < w; t++) {
                float want = zero[t] != 0f ? 0f : FastExp.expf(in[v * w + t] - shift[t]) * factor[t];
                assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(tile[v * w + t]), "v=" + v + " t=" + t);
            }
        }
    }

    /** The scalar NCW update written for an arbitrary tile width (ScalarRowOps fixes its own). */
    static final class ScalarLanes {
        static void forwardEntropy(float[] tile, int w, int kb, int v0, float[] max, float[] arg, float[] shift,
                double[] sum, double[] ent) {
            for (int t = 0; t < w; t++) {
                for (int v = 0; v < kb; v++) {
                    float x = tile[v * w + t];
                    if (x > max[t]) {
                        max[t] = x;
                        arg[t] = v0 + v;
                    }
                }
            }
            RowOps.rescale(w, max, shift, sum, ent);
            for (int t = 0; t < w; t++) {
                float s = 0f;
                float te = 0f;
                for (int v = 0; v < kb; v++) {
                    float x = tile[v * w + t] - shift[t];
                    float e = FastExp.expf(x);
                    s += e;
                    te = Math.fma(e, Math.max(x, FastExp.X_MIN_F), te);
                }
                sum[t] += s;
                ent[t] += te;
            }
        }

        static void forward(float[] tile, int w, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum) {
            forwardEntropy(tile, w, kb, v0, max, arg, shift, sum, new double[w]);   // the terms do not touch the sums
        }
    }
}
