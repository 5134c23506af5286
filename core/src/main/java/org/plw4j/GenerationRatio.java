package org.plw4j;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The generation ratio {@code Rg = completionTokens / promptTokens} of an instruction-tuning example
 * (SPEC section 9; the "Prompt Loss Weight" article). Datasets with a small {@code Rg} (long prompts,
 * short answers) are where a prompt loss weight below 1 matters most. {@code Rg} is defined only when
 * both counts are positive; other examples are counted apart as undefined, never divided by zero.
 * Stateless and thread-safe.
 *
 * <pre>{@code
 * RgSummary s = GenerationRatio.summarize(new int[] {100, 40, 0}, new int[] {20, 80, 7});
 * // Rg = 0.2 and 2.0: s.count() == 2, s.undefined() == 1, s.median() is 1.1 (type 7: 0.2 + 0.5 * 1.8)
 * }</pre>
 */
public final class GenerationRatio {
    private GenerationRatio() {
    }

    /**
     * The ratio of one example.
     *
     * <pre>{@code
     * GenerationRatio.of(40, 10);  // OptionalDouble[0.25]
     * GenerationRatio.of(0, 10);   // OptionalDouble.empty(): undefined
     * }</pre>
     *
     * @param promptTokens the prompt length, {@code >= 0}
     * @param completionTokens the completion length, {@code >= 0}
     * @return {@code completionTokens / promptTokens}, or empty when either is 0
     * @throws IllegalArgumentException if a count is negative
     */
    public static OptionalDouble of(int promptTokens, int completionTokens) {
        if (promptTokens < 0 || completionTokens < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "token counts must be >= 0, promptTokens was %d and completionTokens %d",
                    promptTokens, completionTokens));
        }
        return promptTokens == 0 || completionTokens == 0 ? OptionalDouble.empty()
                : OptionalDouble.of((double) completionTokens / promptTokens);
    }

    /**
     * The summary of a dataset given as two parallel arrays (see {@link RgSummary} for every statistic).
     *
     * <pre>{@code
     * RgSummary s = GenerationRatio.summarize(promptTokens, completionTokens);
     * double trimmed = s.trimmedMean();
     * }</pre>
     *
     * @param promptTokens per example, {@code >= 0}
     * @param completionTokens per example, {@code >= 0}, the same length
     * @return the summary
     * @throws IllegalArgumentException if the lengths differ or a count is negative (naming its index)
     * @throws NullPointerException if an array is null
     */
    public static RgSummary summarize(int[] promptTokens, int[] completionTokens) {
        return RgSummary.builder().addAll(promptTokens, completionTokens).build();
    }

    /**
     * A builder for streaming input, the same as {@link RgSummary#builder()}.
     *
     * <pre>{@code
     * RgSummary.Builder b = GenerationRatio.builder();
     * b.add(120, 30);
     * }</pre>
     *
     * @return a new builder
     */
    public static RgSummary.Builder builder() {
        return RgSummary.builder();
    }
}
