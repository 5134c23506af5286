package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link PromptLossWeightSchedule}: values of each shape at chosen steps, the text form, bad schedules.
 * Expected values are worked out by hand from the formulas of the class comment (noted beside each); the
 * tolerance is 1e-15 absolute (one or two roundings of numbers in [0, 1]) unless a value is exact.
 */
class PromptLossWeightScheduleTest {
    private static final double EPS = 1e-15;

    @Test
    void constantIsTheSameAtEveryStep() {
        PromptLossWeightSchedule s = PromptLossWeightSchedule.constant(0.1);
        assertEquals(0.1, s.at(0));
        assertEquals(0.1, s.at(Long.MAX_VALUE));
        assertEquals("constant:0.1", s.toString());
    }

    @Test
    void linearGoesFromStartToEndAndStays() {
        PromptLossWeightSchedule s = PromptLossWeightSchedule.linear(1.0, 0.0, 4);
        // 1 - t/4 for t = 0..4, then the end value: exact in binary
        double[] expected = {1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0};
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], s.at(t), "step " + t);
        }
        // 0.1 + (0.3 - 0.1) * 1 rounds to 0.30000000000000004; the end value is returned exactly
        assertEquals(0.3, PromptLossWeightSchedule.linear(0.1, 0.3, 10).at(10));
    }

    @Test
    void cosineIsSlowAtBothEnds() {
        PromptLossWeightSchedule s = PromptLossWeightSchedule.cosine(1.0, 0.0, 4);
        assertEquals(1.0, s.at(0));
        // 1 - (1 - cos(pi/4))/2 = (1 + sqrt(2)/2)/2 = 0.8535533905932737...
        assertEquals((1 + Math.sqrt(2) / 2) / 2, s.at(1), EPS);
        assertEquals(0.5, s.at(2), EPS); // cos(pi/2) = 0
        assertEquals((1 - Math.sqrt(2) / 2) / 2, s.at(3), EPS);
        assertEquals(0.0, s.at(4));
        // increasing from 0 to 1 as well
        assertEquals(0.5, PromptLossWeightSchedule.cosine(0.0, 1.0, 2).at(1), EPS);
    }

    @Test
    void stepDropsInEqualParts() {
        // 1 -> 0 in 4 drops over 10 steps: f = floor(4 t / 10) / 4; drops at t = 3 (12 >= 10), 5, 8, 10
        PromptLossWeightSchedule s = PromptLossWeightSchedule.step(1.0, 0.0, 10, 4);
        double[] expected = {1, 1, 1, 0.75, 0.75, 0.5, 0.5, 0.5, 0.25, 0.25, 0, 0};
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], s.at(t), "step " + t);
        }
        PromptLossWeightSchedule one = PromptLossWeightSchedule.step(1.0, 0.01, 100, 1);
        assertEquals(1.0, one.at(99));
        assertEquals(0.01, one.at(100));
    }

    @Test
    void exponentialHalvesTheDistanceEveryHalfLife() {
        PromptLossWeightSchedule s = PromptLossWeightSchedule.exponential(1.0, 0.0, 10);
        assertEquals(1.0, s.at(0));
        assertEquals(0.5, s.at(10)); // 2^-1, exact
        assertEquals(0.25, s.at(20));
        assertEquals(Math.pow(2, -0.5), s.at(5), EPS);
        // towards a nonzero end: 0.1 + 0.9 / 2
        assertEquals(0.55, PromptLossWeightSchedule.exponential(1.0, 0.1, 3).at(3), EPS);
        assertTrue(s.at(10_000) > 0, "never reaches the end value");
    }

    @Test
    void warmupRampsToTheStartThenRunsTheSchedule() {
        PromptLossWeightSchedule s = PromptLossWeightSchedule.linear(1.0, 0.0, 4).withWarmup(2, 0.0);
        // ramp 0 -> 1 over steps 0, 1; then 1 - (t - 2)/4
        double[] expected = {0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0};
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], s.at(t), "step " + t);
        }
        assertEquals("linear:1:0:4:warmup=2@0", s.toString());
    }

    @Test
    void valuesStayBetweenTheEndpoints() {
        // property over random schedules: min(w0, a, b) <= at(t) <= max(w0, a, b), hence in [0, 1]
        Random rnd = new Random(7);
        for (int i = 0; i < 2000; i++) {
            double a = rnd.nextDouble();
            double b = rnd.nextDouble();
            double w0 = rnd.nextDouble();
            long n = 1 + rnd.nextInt(50);
            PromptLossWeightSchedule s = switch (i % 5) {
                case 0 -> PromptLossWeightSchedule.linear(a, b, n);
                case 1 -> PromptLossWeightSchedule.cosine(a, b, n);
                case 2 -> PromptLossWeightSchedule.step(a, b, n, 1 + rnd.nextInt(5));
                case 3 -> PromptLossWeightSchedule.exponential(a, b, n);
                default -> PromptLossWeightSchedule.constant(a);
            };
            if (rnd.nextBoolean()) {
                s = s.withWarmup(1 + rnd.nextInt(10), w0);
            }
            double lo = Math.min(Math.min(a, b), s.warmupSteps() > 0 ? w0 : 1);
            double hi = Math.max(Math.max(a, b), s.warmupSteps() > 0 ? w0 : 0);
            for (long t = 0; t < 80; t++) {
                double w = s.at(t);
                assertTrue(w >= lo && w <= hi && w >= 0 && w <= 1, s + " at " + t + " = " + w);
            }
        }
    }

    @Test
    void textFormRoundTrips() {
        for (PromptLossWeightSchedule s : new PromptLossWeightSchedule[] {
            PromptLossWeightSchedule.constant(0),
            PromptLossWeightSchedule.linear(1, 0, 1000),
            PromptLossWeightSchedule.cosine(0.5, 0.01, 7),
            PromptLossWeightSchedule.step(1, 0.1, 300, 3),
            PromptLossWeightSchedule.exponential(1, 1e-5, 50).withWarmup(10, 0.25),
            PromptLossWeightSchedule.linear(1.0 / 3, 0, 9)}) {
            PromptLossWeightSchedule back = PromptLossWeightSchedule.parse(s.toString());
            assertEquals(s, back, s.toString());
            assertEquals(s.hashCode(), back.hashCode());
            assertEquals(s.toString(), back.toString());
        }
        assertEquals("exponential:1:1.0E-5:50:warmup=10@0.25",
                PromptLossWeightSchedule.exponential(1, 1e-5, 50).withWarmup(10, 0.25).toString());
        assertEquals(PromptLossWeightSchedule.linear(1, 0, 200), PromptLossWeightSchedule.parse("linear:1:0", 200));
        assertEquals(PromptLossWeightSchedule.step(1, 0, 200, 1), PromptLossWeightSchedule.parse("step:1:0", 200));
        assertEquals(PromptLossWeightSchedule.linear(1, 0, 5), PromptLossWeightSchedule.parse("linear:1:0:5", 200));
        assertEquals(PromptLossWeightSchedule.constant(0), PromptLossWeightSchedule.constant(-0.0));
        assertNotEquals(PromptLossWeightSchedule.linear(1, 0, 5), PromptLossWeightSchedule.cosine(1, 0, 5));
    }

    @Test
    void badSchedulesNameTheParameterRuleAndValue() {
        assertMessage("start must be a prompt loss weight in [0, 1], was 1.5",
                () -> PromptLossWeightSchedule.linear(1.5, 0, 10));
        assertMessage("end must be a prompt loss weight in [0, 1], was NaN",
                () -> PromptLossWeightSchedule.cosine(1, Double.NaN, 10));
        assertMessage("value must be a prompt loss weight in [0, 1], was -0.1",
                () -> PromptLossWeightSchedule.constant(-0.1));
        assertMessage("steps must be > 0, was 0", () -> PromptLossWeightSchedule.linear(1, 0, 0));
        assertMessage("halfLifeSteps must be > 0, was -3", () -> PromptLossWeightSchedule.exponential(1, 0, -3));
        assertMessage("drops must be > 0, was 0", () -> PromptLossWeightSchedule.step(1, 0, 10, 0));
        assertMessage("steps * drops must fit in a long, was 4611686018427387904 * 2",
                () -> PromptLossWeightSchedule.step(1, 0, 1L << 62, 2));
        assertMessage("warmupSteps must be > 0, was 0", () -> PromptLossWeightSchedule.constant(1).withWarmup(0, 0));
        assertMessage("from must be a prompt loss weight in [0, 1], was Infinity",
                () -> PromptLossWeightSchedule.constant(1).withWarmup(5, Double.POSITIVE_INFINITY));
        assertMessage("step must be >= 0, was -1", () -> PromptLossWeightSchedule.constant(1).at(-1));
    }

    @Test
    void badTextIsRejected() {
        assertMessage("schedule 'sigmoid:1:0': unknown shape 'sigmoid', expected constant, linear, cosine, step "
                + "or exponential", () -> PromptLossWeightSchedule.parse("sigmoid:1:0", 10));
        assertMessage("schedule 'linear:1:0': the length is missing (linear takes linear:START:END:STEPS)",
                () -> PromptLossWeightSchedule.parse("linear:1:0"));
        assertMessage("schedule 'linear:1': linear takes linear:START:END:STEPS, had 1 field(s)",
                () -> PromptLossWeightSchedule.parse("linear:1", 10));
        assertMessage("schedule 'linear:x:0:5': start must be a number, was 'x'",
                () -> PromptLossWeightSchedule.parse("linear:x:0:5"));
        assertMessage("schedule 'linear:1:0:5.5': steps must be an integer, was '5.5'",
                () -> PromptLossWeightSchedule.parse("linear:1:0:5.5"));
        assertMessage("start must be a prompt loss weight in [0, 1], was 2.0",
                () -> PromptLossWeightSchedule.parse("linear:2:0:5"));
        assertMessage("schedule 'linear:1:0:5:warmup=3': warm-up must be warmup=STEPS@FROM, was warmup=3",
                () -> PromptLossWeightSchedule.parse("linear:1:0:5:warmup=3"));
        assertMessage("schedule must not be null", () -> PromptLossWeightSchedule.parse(null));
    }

    private static void assertMessage(String message, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertEquals(message, e.getMessage());
    }
}
