package org.plw4j.kernel;

/**
 * Plain-Java {@link RowOps}: the fallback when the Vector API is absent, and the reference shape of the
 * vector loops. Sums are fp32 over blocks of 64 terms, accumulated in double, like the vector path;
 * the exponential is {@link FastExp}'s, bitwise the same value as the vector lanes compute.
 */
final class ScalarRowOps extends RowOps {
    private static final int BLOCK = 64;
    private static final int TILE = 16;

    @Override
    RowOps fresh() {
        return new ScalarRowOps();
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
        float m = Float.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            m = Math.max(m, a[off + k]);
        }
        return m;
    }

    @Override
    boolean anyAtLeast(float[] a, int off, int n, float m) {
        for (int k = 0; k < n; k++) {
            if (a[off + k] >= m) {
                return true;
            }
        }
        return false;
    }

    @Override
    double expSum(float[] a, int off, int n, float shift) {
        double total = 0;
        for (int c = 0; c < n; c += BLOCK) {
            int end = Math.min(n, c + BLOCK);
            float s = 0f;
            for (int k = c; k < end; k++) {
                s += FastExp.expf(a[off + k] - shift);
            }
            total += s;
        }
        return total;
    }

    @Override
    double expSumStore(float[] a, int off, int n, float shift, float[] dst, int doff) {
        double total = 0;
        for (int c = 0; c < n; c += BLOCK) {
            int end = Math.min(n, c + BLOCK);
            float s = 0f;
            for (int k = c; k < end; k++) {
                float e = FastExp.expf(a[off + k] - shift);
                dst[doff + k] = e;
                s += e;
            }
            total += s;
        }
        return total;
    }

    @Override
    void scale(float[] a, int off, int n, float f) {
        for (int k = 0; k < n; k++) {
            a[off + k] *= f;
        }
    }

    @Override
    void widenBf16(short[] src, int soff, float[] dst, int doff, int n) {
        for (int k = 0; k < n; k++) {
            dst[doff + k] = Float.intBitsToFloat(src[soff + k] << 16);
        }
    }

    @Override
    void narrowBf16(float[] src, int soff, short[] dst, int doff, int n) {
        for (int k = 0; k < n; k++) {
            dst[doff + k] = Half.floatToBf16(src[soff + k]);
        }
    }

    @Override
    double max(double[] a, int off, int n) {
        double m = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            m = Math.max(m, a[off + k]);
        }
        return m;
    }

    @Override
    boolean anyAtLeast(double[] a, int off, int n, double m) {
        for (int k = 0; k < n; k++) {
            if (a[off + k] >= m) {
                return true;
            }
        }
        return false;
    }

    @Override
    double expSum(double[] a, int off, int n, double shift) {
        double s = 0;
        for (int k = 0; k < n; k++) {
            s += FastExp.exp(a[off + k] - shift);
        }
        return s;
    }

    @Override
    double expSumStore(double[] a, int off, int n, double shift, double[] dst, int doff) {
        double s = 0;
        for (int k = 0; k < n; k++) {
            double e = FastExp.exp(a[off + k] - shift);
            dst[doff + k] = e;
            s += e;
        }
        return s;
    }

    @Override
    void scale(double[] a, int off, int n, double f) {
        for (int k = 0; k < n; k++) {
            a[off + k] *= f;
        }
    }

    @Override
    int tileWidth() {
        return TILE;
    }

    @Override
    void ncwForward(float[] tile, int kb, int v0, float[] max, float[] arg, float[] shift, double[] sum) {
        for (int v = 0; v < kb; v++) {
            for (int t = 0; t < TILE; t++) {
                float x = tile[v * TILE + t];
                if (x > max[t]) {
                    max[t] = x;
                    arg[t] = v0 + v;
                }
            }
        }
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

    @Override
    void ncwGradient(float[] tile, int kb, float[] shift, float[] factor, float[] zero) {
        for (int v = 0; v < kb; v++) {
            int base = v * TILE;
            for (int t = 0; t < TILE; t++) {
                tile[base + t] = zero[t] != 0f ? 0f : FastExp.expf(tile[base + t] - shift[t]) * factor[t];
            }
        }
    }
}
