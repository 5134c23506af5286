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
        x = clampF(x);
        float k = shiftedF(x);
        float r = reducedF(x, k);
        return Math.fma(expm1OverRF(r), r, 1f) * pow2F(k);
    }

    /**
     * @param x the argument, at most 709
     * @return {@code e^x} within 1 ulp of {@code Math.exp} (see the class comment)
     */
    static double exp(double x) {
        x = clampD(x);
        double k = shiftedD(x);
        double r = reducedD(x, k);
        return Math.fma(expm1OverRD(r), r, 1.0) * pow2D(k);
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
        float y = clampF(Math.abs(x) * (-2f * invCap));   // -2|x/c|: the factor 2 is exact, so this is -2|x·invCap|
        float k = shiftedF(y);
        float r = reducedF(y, k);
        float q = expm1OverRF(r) * r;
        float m = pow2F(k);
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
        double y = clampD(-2.0 * Math.abs(u));
        double k = shiftedD(y);
        double r = reducedD(y, k);
        double q = expm1OverRD(r) * r;
        double m = pow2D(k);
        double m1 = -Math.fma(m, q, m - 1.0);
        double t = m1 / (2.0 - m1);
        return cap * Math.copySign(Math.abs(t), u);
    }

    // The steps of the exponential, shared by expf/exp and the two softCaps (VectorRowOps does each
    // lane-wise), each in fp32 and fp64: Java has no generics over primitives, and boxing would cost the
    // kernel's hot loops.

    /** @return {@code x}, or {@link #X_MIN_F} below it (NaN stays NaN) */
    private static float clampF(float x) {
        return x < X_MIN_F ? X_MIN_F : x;
    }

    /** @return {@code x}, or {@link #X_MIN_D} below it (NaN stays NaN) */
    private static double clampD(double x) {
        return x < X_MIN_D ? X_MIN_D : x;
    }

    /** @return {@code k = x·log2e + MAGIC_F}, whose low mantissa bits hold {@code n = round(x·log2e)} */
    private static float shiftedF(float x) {
        return Math.fma(x, LOG2E_F, MAGIC_F);
    }

    /** @return {@code k = x·log2e + MAGIC_D}, whose low mantissa bits hold {@code n = round(x·log2e)} */
    private static double shiftedD(double x) {
        return Math.fma(x, LOG2E_D, MAGIC_D);
    }

    /** @return {@code r = x - n·ln2} for {@code n = k - MAGIC_F}, with {@code ln2} in two parts */
    private static float reducedF(float x, float k) {
        float n = k - MAGIC_F;
        float r = Math.fma(n, -LN2_HI_F, x);
        return Math.fma(n, -LN2_LO_F, r);
    }

    /** @return {@code r = x - n·ln2} for {@code n = k - MAGIC_D}, with {@code ln2} in two parts */
    private static double reducedD(double x, double k) {
        double n = k - MAGIC_D;
        double r = Math.fma(n, -LN2_HI_D, x);
        return Math.fma(n, -LN2_LO_D, r);
    }

    /** @return {@code (e^r - 1) / r}: the C6..C1 part of the polynomial, Horner form */
    private static float expm1OverRF(float r) {
        float p = Math.fma(C6_F, r, C5_F);
        p = Math.fma(p, r, C4_F);
        p = Math.fma(p, r, C3_F);
        p = Math.fma(p, r, C2_F);
        return Math.fma(p, r, C1_F);
    }

    /** @return {@code (e^r - 1) / r}: the {@code 1/13! .. 1/1!} part of the Taylor polynomial, Horner form */
    private static double expm1OverRD(double r) {
        double[] c = INV_FACT;
        double p = Math.fma(c[13], r, c[12]);
        for (int j = 11; j >= 1; j--) {
            p = Math.fma(p, r, c[j]);
        }
        return p;
    }

    /** @return {@code 2^n} for the {@code n} held in {@code k}, built from the exponent bits */
    private static float pow2F(float k) {
        return Float.intBitsToFloat((Float.floatToRawIntBits(k) + BIAS_F) << 23);
    }

    /** @return {@code 2^n} for the {@code n} held in {@code k}, built from the exponent bits */
    private static double pow2D(double k) {
        return Double.longBitsToDouble((Double.doubleToRawLongBits(k) + BIAS_D) << 52);
    }
}
