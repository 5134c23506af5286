package org.plw4j.examples;

import java.util.ArrayList;
import java.util.List;
import org.plw4j.GenerationRatio;
import org.plw4j.RgSummary;

/**
 * What a run learns about one data set: counts of records, malformed records (the first few messages
 * kept), token sums and the {@link RgSummary}. Two tallies of consecutive parts of a file merge into the
 * tally of both ({@link #merge}: exact, since the summary keeps its values), which is how the Spark job
 * puts partitions together. Not thread-safe.
 */
public final class RgTally {
    private final int keptErrors;
    private RgSummary.Builder builder = GenerationRatio.builder();
    private RgSummary merged = RgSummary.empty();
    private final List<String> errors = new ArrayList<>();
    private long blank;
    private long malformed;
    private long examples;
    private long promptTokens;
    private long completionTokens;

    /**
     * @param keptErrors how many malformed-record messages to keep (all are counted)
     * @throws IllegalArgumentException if {@code keptErrors < 0}
     */
    public RgTally(int keptErrors) {
        if (keptErrors < 0) {
            throw new IllegalArgumentException("--show-errors must be >= 0, was " + keptErrors);
        }
        this.keptErrors = keptErrors;
    }

    /**
     * @param promptTokens the example's prompt tokens
     * @param completionTokens its completion tokens
     */
    public void example(int promptTokens, int completionTokens) {
        builder.add(promptTokens, completionTokens);
        examples++;
        this.promptTokens += promptTokens;
        this.completionTokens += completionTokens;
    }

    /**
     * @param position where the record is
     * @param problem what is wrong with it
     * @return the message kept ({@code "<position>: <problem>"}), or null when enough are kept already
     */
    public String malformed(String position, String problem) {
        malformed++;
        if (errors.size() < keptErrors) {
            String message = position + ": " + problem;
            errors.add(message);
            return message;
        }
        return null;
    }

    /** Counts a blank line. */
    public void blankLine() {
        blank++;
    }

    /**
     * Adds a later part of the same data set.
     *
     * @param later the tally of the records after this one's
     * @return this
     */
    public RgTally merge(RgTally later) {
        merged = summary().merge(later.summary());
        builder = GenerationRatio.builder();
        for (String e : later.errors) {
            if (errors.size() < keptErrors) {
                errors.add(e);
            }
        }
        blank += later.blank;
        malformed += later.malformed;
        examples += later.examples;
        promptTokens += later.promptTokens;
        completionTokens += later.completionTokens;
        return this;
    }

    /** @return the summary of every example so far */
    public RgSummary summary() {
        if (builder.total() > 0) {
            merged = merged.merge(builder.build());
            builder = GenerationRatio.builder();
        }
        return merged;
    }

    /** @return records read: examples, malformed records and blank lines */
    public long records() {
        return examples + malformed + blank;
    }

    /** @return the examples counted */
    public long examples() {
        return examples;
    }

    /** @return the malformed records */
    public long malformed() {
        return malformed;
    }

    /** @return the blank lines */
    public long blankLines() {
        return blank;
    }

    /** @return the first malformed-record messages */
    public List<String> errors() {
        return List.copyOf(errors);
    }

    /** @return the sum of prompt tokens */
    public long promptTokens() {
        return promptTokens;
    }

    /** @return the sum of completion tokens */
    public long completionTokens() {
        return completionTokens;
    }

    /** @return mean prompt tokens per example, NaN without examples */
    public double meanPromptTokens() {
        return examples == 0 ? Double.NaN : (double) promptTokens / examples;
    }

    /** @return mean completion tokens per example, NaN without examples */
    public double meanCompletionTokens() {
        return examples == 0 ? Double.NaN : (double) completionTokens / examples;
    }
}
