package org.plw4j.kernel;

import java.util.Arrays;

/**
 * Plain-Java {@link RowOps}: the fallback when the Vector API is absent, and the stand-in of
 * {@code VectorRowOps} while its code is not yet compiled (see {@link RowOps#forCall()}). Its sums follow
 * the vector loops' order lane by lane: {@code lanes} fp32 partial sums (one per vector lane), each over at
 * most 64 terms, folded in lane order into a double, then the tail; fp64 rows in {@code lanesD} double
 * partial sums. The exponential is {@link FastExp}'s, the value the vector lanes compute bit for bit, so
 * with the lane counts of the vector species the results are bitwise those of {@code VectorRowOps}
 * ({@code RowOpsTest} checks it), and a call gives the same bits whichever of the two runs it.
 */
final class ScalarRowOps extends RowOps {
    /** Vectors per fp32 block: each lane's fp32 partial sum holds at most this many terms. */
    private static final int FLUSH_ITER = 64;
    private static final int TILE = 16;

    private final int lanes;
    private final int lanesD;
    private final float[] acc;
    private final float[] accT;
    private final float[] accX;
    private final double[] accD;

    /** Sixteen fp32 lanes and eight fp64 lanes: the shape of AVX-512, when there is no vector species to copy. */
    ScalarRowOps() {
        this(16, 8);
    }

    /**
     * @param lanes fp32 lanes whose summation order to follow (the vector species' length)
     * @param lanesD fp64 lanes
     */
    ScalarRowOps(int lanes, int lanesD) {
        if (lanes < 1 || lanesD < 1) {
            throw new IllegalArgumentException("lanes must be >= 1, were " + lanes + ", " + lanesD);
        }
        this.lanes = lanes;
        this.lanesD = lanesD;
        this.acc = new float[lanes];
        this.accT = new float[lanes];
        this.accX = new float[lanes];
        this.accD = new double[lanesD];
    }

    @Override
    RowOps fresh() {
        return new ScalarRowOps(lanes, lanesD);
    }

    @Override
    String describe() {
        return "scalar";
    }

    @Override
    boolean vectorized() {
        return false;
    }

    @Override
    float max(float[] a, int off, int n) {
        return maxFrom(Float.NEGATIVE_INFINITY, a, off, 0, n);
    }

    @Override
    boolean anyAtLeast(float[] a, int off, int n, float m) {
        return anyAtLeastFrom(a, off, 0, n, m);
    }

    @Override
    double expSum(float[] a, int off, int n, float shift) {
        return expSumStore(a, off, n, shift, null, 0);
    }

    @Override
    double expSumStore(float[] a, int off, int n, float shift, float[] dst, int doff) {
        return laneSum(a, off, n, shift, dst, doff, true);
    }

    /**
     * The vector code's lane sums in scalar code: per lane {@code e} (with {@code exp} the exponential of
     * {@code a - shift}, stored to {@code dst} when it is not null; else {@code a} itself) summed in fp32 for
     * {@value #FLUSH_ITER} vectors, then the lanes and the tail added in double.
     */
    private double laneSum(float[] a, int off, int n, float shift, float[] dst, int doff, boolean exp) {
        final int w = lanes;
        final int chunk = FLUSH_ITER * w;
        double total = 0;
        for (int c = 0; c < n; c += chunk) {
            int end = Math.min(n, c + chunk);
            Arrays.fill(acc, 0f);
            int k = c;
            for (; k <= end - w; k += w) {
                for (int j = 0; j < w; j++) {
                    float e = exp ? FastExp.expf(a[off + k + j] - shift) : a[off + k + j];
                    if (dst != null) {
                        dst[doff + k + j] = e;
                    }
                    acc[j] += e;
                }
            }
            double s = 0;
            for (int j = 0; j < w; j++) {
                s += acc[j];
            }
            total += s;
            total += exp ? expTail(a, off, k, end, shift, dst, doff) : sumFrom(a, off, k, end);
        }
        return total;
    }

    @Override
    double expSumStoreShifted(float[] a, int off, int n, float shift, float[] dst, int doff) {
        return expSumStoreTerms(a, off, n, shift, dst, doff);
    }

    @Override
    double expSumStoreEntropy(float[] a, int off, int n, float shift, float[] dst, int doff) {
        return expSumStoreTerms(a, off, n, shift, dst, doff);
    }

    /** Both of the vector code's terms passes at once: the sum, {@link #entropyTerms} and {@link #shiftedLogitSum}. */
    private double expSumStoreTerms(float[] a, int off, int n, float shift, float[] dst, int doff) {
        final int w = lanes;
        final int chunk = FLUSH_ITER * w;
        double total = 0;
        entropyTerms = 0;
        shiftedLogitSum = 0;
        for (int c = 0; c < n; c += chunk) {
            int end = Math.min(n, c + chunk);
            Arrays.fill(acc, 0f);
            Arrays.fill(accT, 0f);
            Arrays.fill(accX, 0f);
            int k = c;
            for (; k <= end - w; k += w) {
                for (int j = 0; j < w; j++) {
                    float x = a[off + k + j] - shift;
                    float e = FastExp.expf(x);
                    dst[doff + k + j] = e;
                    acc[j] += e;
                    accT[j] = Math.fma(e, Math.max(x, FastExp.X_MIN_F), accT[j]);
                    accX[j] += x;
                }
            }
            double s = 0;
            double t = 0;
            double xs = 0;
            for (int j = 0; j < w; j++) {
                s += acc[j];
                t += accT[j];
                xs += accX[j];
            }
            total += s;
            entropyTerms += t;
            shiftedLogitSum += xs;
            total += expTailEntropy(a, off, k, end, shift, dst, doff);
        }
        return total;
    }

    @Override
    void scale(float[] a, int off, int n, float f) {
        scaleFrom(a, off, 0, n, f);
    }

    @Override
    void widenBf16(short[] src, int soff, float[] dst, int doff, int n) {
        widenBf16From(src, soff, dst, doff, 0, n);
    }

    @Override
    float widenBf16Max(short[] src, int soff, float[] dst, int doff, int n) {
        return widenBf16MaxFrom(Float.NEGATIVE_INFINITY, src, soff, dst, doff, 0, n);
    }

    @Override
    void narrowBf16(float[] src, int soff, short[] dst, int doff, int n) {
        narrowBf16From(src, soff, dst, doff, 0, n);
    }

    @Override
    float softCapMax(float[] src, int soff, float[] dst, int doff, int n, float cap, float invCap) {
        return softCapMaxFrom(Float.NEGATIVE_INFINITY, src, soff, dst, doff, 0, n, cap, invCap);
    }

    @Override
    double sum(float[] a, int off, int n) {
        return laneSum(a, off, n, 0f, null, 0, false);
    }

    @Override
    void scaleAdd(float[] a, int off, int n, float factor, float bias) {
        scaleAddFrom(a, off, 0, n, factor, bias);
    }

    @Override
    void scaleAddCapped(float[] a, int off, int n, float factor, float bias, float[] z, int zoff, float invCap) {
        scaleAddCappedFrom(a, off, 0, n, factor, bias, z, zoff, invCap);
    }

    @Override
    double max(double[] a, int off, int n) {
        return maxFrom(Double.NEGATIVE_INFINITY, a, off, 0, n);
    }

    @Override
    boolean anyAtLeast(double[] a, int off, int n, double m) {
        return anyAtLeastFrom(a, off, 0, n, m);
    }

    @Override
    double expSum(double[] a, int off, int n, double shift) {
        return expSumStore(a, off, n, shift, null, 0);
    }

    @Override
    double expSumStore(double[] a, int off, int n, double shift, double[] dst, int doff) {
        final int w = lanesD;
        Arrays.fill(accD, 0.0);
        int k = 0;
        for (; k <= n - w; k += w) {
            for (int j = 0; j < w; j++) {
                double e = FastExp.exp(a[off + k + j] - shift);
                if (dst != null) {
                    dst[doff + k + j] = e;
                }
                accD[j] += e;
            }
        }
        return expSumTail(accD, w, a, off, k, n, shift, dst, doff);
    }

    @Override
    void scale(double[] a, int off, int n, double f) {
        scaleFrom(a, off, 0, n, f);
    }

    @Override
    int tileWidth() {
        return TILE;
    }

    @Override
    void ncwForward(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum) {
        ncwMax(tile, kb, v0, max, arg);
        rescale(TILE, max, shift, sum);
        for (int t = 0; t < TILE; t++) {
            float h = shift[t];
            float s = 0f;
            for (int v = 0; v < kb; v++) {
                s += FastExp.expf(tile[v * TILE + t] - h);
            }
            sum[t] += s;
        }
    }

    /** The running max and its index per lane over one block (ties keep the first). */
    private static void ncwMax(float[] tile, int kb, int v0, float[] max, float[] arg) {
        for (int v = 0; v < kb; v++) {
            for (int t = 0; t < TILE; t++) {
                float x = tile[v * TILE + t];
                if (x > max[t]) {
                    max[t] = x;
                    arg[t] = v0 + v;
                }
            }
        }
    }

    @Override
    void ncwForwardEntropy(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum,
            double[] ent) {
        ncwMax(tile, kb, v0, max, arg);
        rescale(TILE, max, shift, sum, ent);
        for (int t = 0; t < TILE; t++) {
            float h = shift[t];
            float s = 0f;
            float te = 0f;
            for (int v = 0; v < kb; v++) {
                float x = tile[v * TILE + t] - h;
                float e = FastExp.expf(x);
                s += e;
                te = Math.fma(e, Math.max(x, FastExp.X_MIN_F), te);
            }
            sum[t] += s;
            ent[t] += te;
        }
    }

    @Override
    void ncwGradient(float[] tile, int kb, float[] shift, float[] factor, float[] zero) {
        for (int v = 0; v < kb; v++) {
            int base = v * TILE;
            for (int t = 0; t < TILE; t++) {
                tile[base + t] = zero[t] != 0f ? 0f : FastExp.expf(tile[base + t] - shift[t]) * factor[t];
            }
        }
    }

    @Override
    void ncwSum(float[] tile, int kb, double[] total) {
        for (int t = 0; t < TILE; t++) {
            float s = 0f;
            for (int v = 0; v < kb; v++) {
                s += tile[v * TILE + t];
            }
            total[t] += s;
        }
    }

    @Override
    void ncwGradientExtended(float[] tile, int kb, float[] shift, float[] factor, float[] bias, float[] zero,
            boolean capped, float invCap) {
        for (int v = 0; v < kb; v++) {
            int base = v * TILE;
            for (int t = 0; t < TILE; t++) {
                float x = tile[base + t];
                float g = Math.fma(FastExp.expf(x - shift[t]), factor[t], bias[t]);
                if (capped) {
                    float u = x * invCap;
                    g *= Math.fma(-u, u, 1f);
                }
                tile[base + t] = zero[t] != 0f ? 0f : g;
            }
        }
    }
}
