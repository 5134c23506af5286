package org.plw4j.kernel;

/**
 * The exponential of the fused kernel: range reduction {@code x = n·ln2 + r}, {@code |r| <= ln2/2},
 * a polynomial for {@code e^r} in FMA (Horner) form, and {@code 2^n} built from the exponent bits.
 * Only additions, multiplications, fused multiply-adds and bit operations are used, so the scalar
 * code here and the Vector API code in {@code VectorRowOps} give bitwise the same value for the same
 * argument, on every JIT tier (interpreter, C1, C2) and on JDK 17 to 25: unlike
 * {@code VectorOperators.EXP}, whose compiled (SVML) and interpreted forms may differ in the last bit,
 * which would break the kernel's determinism.
 *
 * <p><b>fp32</b> ({@link #expf(float)}): degree-6 polynomial whose coefficients are fitted to the
 * minimax relative error of {@code e^r} on {@code [-ln2/2, ln2/2]} (Lawson iterations, coefficients
 * rounded to float; truncation error 1.7e-8). Against the correctly rounded {@code exp}
 * ({@code (float) Math.exp(x)}) on every one of the 1.1e9 floats in {@code [-87.3, 0]} (JDK 17,
 * x86-64): at most 1 ulp, mean 0.007 ulp, relative error at most 8.9e-8 for normal results;
 * {@code FastExpTest} checks the 1-ulp bound on a strided sample of that range. Arguments below {@code -88} are clamped
 * to {@code -88}, whose result is 0: results below {@code 2^-126 ≈ 1.2e-38} (the subnormal range)
 * are 0 or a subnormal, an absolute error under 1.2e-38; {@code -Inf} gives {@code +0}, NaN gives
 * NaN. Valid for {@code x <= 88}; the kernel only evaluates {@code x <= 0}.
 *
 * <p><b>fp64</b> ({@link #exp(double)}): the Taylor polynomial of degree 13 (coefficients {@code 1/k!},
 * truncation error below 5e-18 on the reduced range), two-part {@code ln2}: at most 1 ulp
 * from {@code Math.exp} (itself within 1 ulp of exact) on 2e7 random arguments in [-708, 0], mean
 * 0.06 ulp; {@code FastExpTest} checks it on a sample. Arguments below {@code -709}
 * give 0 (absolute error below 2.3e-308). Valid for {@code x <= 709}.
 */
final class FastExp {
    private FastExp() {
    }

    /** Clamp for fp32 arguments: {@code 2^round(-88·log2 e) = 2^-127} builds the bit pattern of +0. */
    static final float X_MIN_F = -88f;
    /** {@code 1.5·2^23}: adding it rounds a float in (-2^22, 2^22) to an integer held in the low mantissa bits. */
    static final float MAGIC_F = 12582912f;
    /** Turns the bits of {@code k = t + MAGIC_F} into the biased exponent {@code n + 127}. */
    static final int BIAS_F = 127 - 0x4B400000;
    static final float LOG2E_F = 1.44269504088896341f;
    static final float LN2_HI_F = 0.693147182464599609375f;
    static final float LN2_LO_F = -1.90465429995776800e-9f;
    static final float C1_F = 1.0f;
    static final float C2_F = 0.4999999403953552f;
    static final float C3_F = 0.16666431725025177f;
    static final float C4_F = 0.04166800156235695f;
    static final float C5_F = 0.00837415549904108f;
    static final float C6_F = 0.0013843643246218562f;

    static final double X_MIN_D = -709.0;
    static final double MAGIC_D = 6755399441055744.0;
    static final long BIAS_D = 1023L - 0x4338000000000000L;
    static final double LOG2E_D = 1.4426950408889634;
    static final double LN2_HI_D = 0.6931471805599453;
    static final double LN2_LO_D = 2.3190468138462996e-17;
    /** {@code 1/k!} for k = 0..13, each the correctly rounded quotient of exact doubles. */
    static final double[] INV_FACT = inverseFactorials(13);

    private static double[] inverseFactorials(int n) {
        double[] c = new double[n + 1];
        double f = 1;
        for (int k = 0; k <= n; k++) {
            if (k > 0) {
                f *= k; // exact: 13! < 2^53
            }
            c[k] = 1.0 / f;
        }
        return c;
    }

    /**
     * @param x the argument, at most 88
     * @return {@code e^x} within 1 ulp of the correctly rounded value (see the class comment)
     */
    static float expf(float x) {
        if (x < X_MIN_F) {
            x = X_MIN_F;
        }
        float k = Math.fma(x, LOG2E_F, MAGIC_F);
        float n = k - MAGIC_F;
        float r = Math.fma(n, -LN2_HI_F, x);
        r = Math.fma(n, -LN2_LO_F, r);
        float p = Math.fma(C6_F, r, C5_F);
        p = Math.fma(p, r, C4_F);
        p = Math.fma(p, r, C3_F);
        p = Math.fma(p, r, C2_F);
        p = Math.fma(p, r, C1_F);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat((Float.floatToRawIntBits(k) + BIAS_F) << 23);
    }

    /**
     * @param x the argument, at most 709
     * @return {@code e^x} within 1 ulp of {@code Math.exp} (see the class comment)
     */
    static double exp(double x) {
        if (x < X_MIN_D) {
            x = X_MIN_D;
        }
        double k = Math.fma(x, LOG2E_D, MAGIC_D);
        double n = k - MAGIC_D;
        double r = Math.fma(n, -LN2_HI_D, x);
        r = Math.fma(n, -LN2_LO_D, r);
        double[] c = INV_FACT;
        double p = Math.fma(c[13], r, c[12]);
        p = Math.fma(p, r, c[11]);
        p = Math.fma(p, r, c[10]);
        p = Math.fma(p, r, c[9]);
        p = Math.fma(p, r, c[8]);
        p = Math.fma(p, r, c[7]);
        p = Math.fma(p, r, c[6]);
        p = Math.fma(p, r, c[5]);
        p = Math.fma(p, r, c[4]);
        p = Math.fma(p, r, c[3]);
        p = Math.fma(p, r, c[2]);
        p = Math.fma(p, r, 1.0);
        p = Math.fma(p, r, 1.0);
        return p * Double.longBitsToDouble((Double.doubleToRawLongBits(k) + BIAS_D) << 52);
    }

    /**
     * Gemma 2's logit soft-capping in fp32: {@code cap · tanh(x · invCap)}, from
     * {@code tanh|u| = m1 / (2 - m1)} with {@code m1 = 1 - e^(-2|u|)} formed as {@code -expm1(-2|u|)}
     * ({@link #expf}'s reduction and polynomial, with {@code e^r - 1} kept apart from the 1, so the
     * result is accurate to a few ulp also near 0), and the sign of {@code u}. Only additions,
     * multiplications, fused multiply-adds, one division and bit operations: the Vector API code in
     * {@code VectorRowOps} computes the same bits lane-wise. NaN gives NaN, {@code ±Inf} gives
     * {@code ±cap}, {@code ±0} gives {@code ±0}; {@code |result| <= cap}.
     *
     * @param x the logit
     * @param cap the cap {@code c > 0}
     * @param invCap {@code (float) (1 / c)}
     * @return {@code c · tanh(x / c)}
     */
    static float softCap(float x, float cap, float invCap) {
        float y = Math.abs(x) * (-2f * invCap);   // -2|x/c|: the factor 2 is exact, so this is -2|x·invCap|
        if (y < X_MIN_F) {
            y = X_MIN_F;
        }
        float k = Math.fma(y, LOG2E_F, MAGIC_F);
        float n = k - MAGIC_F;
        float r = Math.fma(n, -LN2_HI_F, y);
        r = Math.fma(n, -LN2_LO_F, r);
        float p = Math.fma(C6_F, r, C5_F);
        p = Math.fma(p, r, C4_F);
        p = Math.fma(p, r, C3_F);
        p = Math.fma(p, r, C2_F);
        p = Math.fma(p, r, C1_F);
        float q = p * r;
        float m = Float.intBitsToFloat((Float.floatToRawIntBits(k) + BIAS_F) << 23);
        float m1 = Math.fma(-m, q, 1f - m);   // 1 - e^y >= +0 (never -0: the sign below is x's alone)
        float t = m1 / (2f - m1);
        return cap * Float.intBitsToFloat(Float.floatToRawIntBits(t) | (Float.floatToRawIntBits(x) & 0x80000000));
    }

    /**
     * {@link #softCap(float, float, float)} in double, with {@link #exp(double)}'s reduction and polynomial.
     *
     * @param x the logit
     * @param cap the cap {@code c > 0}
     * @param invCap {@code 1 / c}
     * @return {@code c · tanh(x / c)}
     */
    static double softCap(double x, double cap, double invCap) {
        double u = x * invCap;
        double y = -2.0 * Math.abs(u);
        if (y < X_MIN_D) {
            y = X_MIN_D;
        }
        double k = Math.fma(y, LOG2E_D, MAGIC_D);
        double n = k - MAGIC_D;
        double r = Math.fma(n, -LN2_HI_D, y);
        r = Math.fma(n, -LN2_LO_D, r);
        double[] c = INV_FACT;
        double p = Math.fma(c[13], r, c[12]);
        for (int j = 11; j >= 1; j--) {
            p = Math.fma(p, r, c[j]);
        }
        double q = p * r;
        double m = Double.longBitsToDouble((Double.doubleToRawLongBits(k) + BIAS_D) << 52);
        double m1 = -Math.fma(m, q, m - 1.0);
        double t = m1 / (2.0 - m1);
        return cap * Math.copySign(Math.abs(t), u);
    }
}
