package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Accuracy of {@link FastExp} and agreement of its Vector API form (written out in {@link VectorRowOps}).
 * Expected values: {@code (float) Math.exp(x)} (the correctly rounded float except in rare double-rounding
 * cases) and {@code Math.exp(x)} (within 1 ulp of exact per its specification).
 */
class FastExpTest {
    private static long ulps(float a, float b) {
        return Math.abs((long) Float.floatToRawIntBits(a) - Float.floatToRawIntBits(b));
    }

    private static long ulps(double a, double b) {
        return Math.abs(Double.doubleToRawLongBits(a) - Double.doubleToRawLongBits(b));
    }

    /** Every 97th float in [-87.3, 0] (11.5 million arguments): within 1 ulp (the Javadoc's bound). */
    @Test
    void floatWithinOneUlpOnTheKernelsRange() {
        int end = Float.floatToRawIntBits(-87.3f);
        long worst = 0;
        for (int bits = 0x80000000; bits - end < 0; bits += 97) {
            float x = Float.intBitsToFloat(bits);
            worst = Math.max(worst, ulps((float) Math.exp(x), FastExp.expf(x)));
        }
        assertTrue(worst <= 1, "max ulp " + worst);
    }

    /** Below the normal range results are 0 or subnormal, absolute error under 2^-126. */
    @Test
    void floatUnderflowAndSpecials() {
        for (float x = -87.3f; x > -200f; x -= 0.01f) {
            float got = FastExp.expf(x);
            assertTrue(got >= 0 && Math.abs(got - Math.exp(x)) < 0x1p-126, "x=" + x + " got " + got);
        }
        assertEquals(0f, FastExp.expf(Float.NEGATIVE_INFINITY));
        assertEquals(0, Float.floatToRawIntBits(FastExp.expf(-1e30f)), "+0, not -0");
        assertTrue(Float.isNaN(FastExp.expf(Float.NaN)));
        assertEquals(1f, FastExp.expf(0f));
        assertEquals(1f, FastExp.expf(-0f));
        for (float x = 0; x < 88f; x += 0.37f) {
            assertTrue(ulps((float) Math.exp(x), FastExp.expf(x)) <= 1, "x=" + x);
        }
    }

    /** 2 million random arguments in [-708, 0] and [-1, 0]: within 1 ulp of Math.exp. */
    @Test
    void doubleWithinOneUlpOfMathExp() {
        SplittableRandom rnd = new SplittableRandom(42);
        long worst = 0;
        for (int i = 0; i < 2_000_000; i++) {
            double x = (i % 2 == 0 ? -708 : -1) * rnd.nextDouble();
            worst = Math.max(worst, ulps(Math.exp(x), FastExp.exp(x)));
        }
        assertTrue(worst <= 1, "max ulp " + worst);
        assertEquals(0.0, FastExp.exp(Double.NEGATIVE_INFINITY));
        assertTrue(Double.isNaN(FastExp.exp(Double.NaN)));
        assertEquals(1.0, FastExp.exp(0.0));
        assertTrue(Math.abs(FastExp.exp(-708.9) - Math.exp(-708.9)) < 0x1p-1022);
    }

    /**
     * The vector lanes compute bitwise the scalar value (same operations), specials included: through
     * {@code expSumStore} with shift 0, which stores each lane's {@code e^x}.
     */
    @Test
    void vectorLanesEqualScalar() {
        RowOps vec = new VectorRowOps();
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 200_000;
        float[] x = new float[n];
        float[] y = new float[n];
        double[] xd = new double[n];
        double[] yd = new double[n];
        // no NaN among the fp32 specials: RowOps.expSum requires x <= shift and no NaN (NaN rows never reach
        // it); the fp64 lanes get NaN too
        float[] specials = {Float.NEGATIVE_INFINITY, -0f, 0f, -88f, -87.9f, -87.33f, -88.0001f, -103f, -1e-30f,
            -Float.MIN_VALUE, -Float.MAX_VALUE, Math.nextDown(-88f), Math.nextUp(-88f)};
        for (int k = 0; k < n; k++) {
            x[k] = k < specials.length ? specials[k] : (float) (-90 * rnd.nextDouble());
            xd[k] = k == 0 ? Double.NaN : k < specials.length ? specials[k] : -720 * rnd.nextDouble();
        }
        vec.expSumStore(x, 0, n, 0f, y, 0);
        vec.expSumStore(xd, 0, n, 0.0, yd, 0);
        for (int k = 0; k < n; k++) {
            assertEquals(Float.floatToIntBits(FastExp.expf(x[k])), Float.floatToIntBits(y[k]), "x=" + x[k]);
            assertEquals(Double.doubleToLongBits(FastExp.exp(xd[k])), Double.doubleToLongBits(yd[k]), "x=" + xd[k]);
        }
    }
}
