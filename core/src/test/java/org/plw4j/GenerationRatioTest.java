package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.plw4j.MaskFixtures.assertRejects;

import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/**
 * {@link GenerationRatio} (SPEC section 9): the ratio of one example and the checks of
 * {@link GenerationRatio#summarize}; the statistics of the summary are tested in {@link RgSummaryTest}.
 * Expected values are hand-computed and exact (a quotient of small integers).
 */
class GenerationRatioTest {
    @Test
    void ratioOfOneExample() {
        assertEquals(OptionalDouble.of(0.25), GenerationRatio.of(40, 10));
        assertEquals(OptionalDouble.empty(), GenerationRatio.of(0, 10));
        assertEquals(OptionalDouble.empty(), GenerationRatio.of(10, 0));
        assertRejects(() -> GenerationRatio.of(-1, 3), "promptTokens", "-1");
    }

    @Test
    void rejectsNegativeCountNamingTheIndex() {
        assertRejects(() -> GenerationRatio.summarize(new int[] {1, 2, 3}, new int[] {1, -4, 1}),
                "example 1", "completionTokens[1] = -4");
    }

    @Test
    void rejectsLengthMismatch() {
        assertRejects(() -> GenerationRatio.summarize(new int[] {1, 2}, new int[] {1}), "same length", "2", "1");
    }
}
