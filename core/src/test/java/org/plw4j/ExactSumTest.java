package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ExactSum}: the value is the exact sum rounded once to nearest, ties to even, whatever the order.
 * Every expected value is exact (tolerance 0, compared bitwise): either an exact {@link BigDecimal} sum
 * rounded by {@link BigDecimal#doubleValue()} (correctly rounded, through {@code Double.parseDouble}), or a
 * hand-checked case from CPython's {@code math.fsum} tests ({@code Lib/test/test_math.py}), which implement
 * the same algorithm (Shewchuk's expansions).
 */
class ExactSumTest {

    private static double sum(double... xs) {
        ExactSum s = new ExactSum();
        for (double x : xs) {
            s.add(x);
        }
        return s.value();
    }

    private static void assertBitwise(double expected, double actual, String msg) {
        assertEquals(Double.doubleToLongBits(expected), Double.doubleToLongBits(actual),
                () -> msg + ": expected " + expected + ", was " + actual);
    }

    @Test
    void emptyAndZerosSumToPositiveZero() {
        assertBitwise(0.0, sum(), "empty");
        assertBitwise(0.0, sum(0.0, -0.0, 0.0), "zeros");
    }

    @Test
    void cancellationKeepsTheSmallTerm() {
        // a naive left-to-right double sum gives 0.0 here
        assertBitwise(1.0, sum(1e100, 1.0, -1e100), "1e100 + 1 - 1e100");
        assertBitwise(0.0, sum(1e16 - 2.0, 1.0 - 0x1p-53, -(1e16 - 2.0), -(1.0 - 0x1p-53)), "fsum: all cancel");
    }

    @Test
    void roundsTheExactSumOnceHalfWayCasesToEven() {
        // the fsum cases of CPython's test_math with their documented results
        assertBitwise(0x1p53 - 1.0, sum(0x1p53, -0.5, -0x1p-54), "2^53 - 0.5 - 2^-54");
        assertBitwise(0x1p53 + 2.0, sum(0x1p53, 1.0, 0x1p-100), "2^53 + 1 + 2^-100");
        assertBitwise(0x1p53 + 12.0, sum(0x1p53 + 10.0, 1.0, 0x1p-100), "2^53 + 10 + 1 + 2^-100");
        assertBitwise(0x1p53 - 3.0, sum(0x1p53 - 4.0, 0.5, 0x1p-54), "2^53 - 4 + 0.5 + 2^-54");
        assertBitwise(10000000000000002.0, sum(1e16, 1.0, 1e-16), "1e16 + 1 + 1e-16");
        // exactly half-way between 1 and 1 + 2^-52: ties to even gives 1
        assertBitwise(1.0, sum(1.0, 0x1p-53), "1 + 2^-53");
        assertBitwise(1.0 + 0x1p-52, sum(1.0, 0x1p-53, 0x1p-106), "1 + 2^-53 + 2^-106");
    }

    @Test
    void randomSumsAreCorrectlyRoundedInAnyOrder() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + rnd.nextInt(60);
            List<Double> xs = new ArrayList<>();
            BigDecimal exact = BigDecimal.ZERO;
            for (int i = 0; i < n; i++) {
                double x = (rnd.nextBoolean() ? 1 : -1) * rnd.nextDouble() * Math.pow(2, rnd.nextInt(200) - 100);
                xs.add(x);
                exact = exact.add(new BigDecimal(x));
            }
            double expected = exact.doubleValue();
            for (int order = 0; order < 3; order++) {
                Collections.shuffle(xs, rnd);
                ExactSum s = new ExactSum();
                xs.forEach(s::add);
                assertBitwise(expected, s.value(), "trial " + trial + ", order " + order);
            }
        }
    }

    @Test
    void addAllAndCopyGiveTheSameSumAsAddingEachTerm() {
        Random rnd = new Random(9);
        ExactSum a = new ExactSum();
        ExactSum b = new ExactSum();
        ExactSum whole = new ExactSum();
        for (int i = 0; i < 200; i++) {
            double x = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(30) - 15);
            (i % 3 == 0 ? a : b).add(x);
            whole.add(x);
        }
        ExactSum copy = a.copy();
        copy.addAll(b);
        assertBitwise(whole.value(), copy.value(), "copy of a, then addAll(b)");
        double before = a.value();
        copy.add(12345.0);
        assertBitwise(before, a.value(), "adding to the copy leaves the original unchanged");
    }

    @Test
    void nonFiniteTermsFollowIeeeRules() {
        assertBitwise(Double.POSITIVE_INFINITY, sum(1.0, Double.POSITIVE_INFINITY, -5.0), "1 + inf - 5");
        assertBitwise(Double.NEGATIVE_INFINITY, sum(Double.NEGATIVE_INFINITY, 1e308, 1e308), "-inf + 2e308");
        assertBitwise(Double.NaN, sum(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY), "inf - inf");
        assertBitwise(Double.NaN, sum(2.0, Double.NaN), "2 + NaN");
        ExactSum withInf = new ExactSum();
        withInf.add(Double.POSITIVE_INFINITY);
        ExactSum merged = new ExactSum();
        merged.add(3.0);
        merged.addAll(withInf);
        assertBitwise(Double.POSITIVE_INFINITY, merged.value(), "addAll carries the non-finite part");
    }
}
