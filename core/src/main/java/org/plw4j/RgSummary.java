package org.plw4j;

import java.util.Arrays;
import java.util.Collections;
import java.util.Locale;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.commons.math3.stat.descriptive.moment.GeometricMean;
import org.apache.commons.math3.stat.descriptive.moment.Mean;

/**
 * Dataset statistics of the generation ratio {@code Rg = completionTokens / promptTokens} (SPEC
 * section 9), made by {@link GenerationRatio#summarize(int[], int[])} or a {@link Builder}.
 * Immutable and thread-safe; every statistic is computed once, when the summary is made.
 *
 * <p>Definitions, over the {@code n = count()} examples whose prompt and completion are both
 * non-empty (the others are counted in {@link #undefined()} and take no part in any statistic):
 * <ul>
 * <li>{@link #mean()}: the arithmetic mean (commons-math3 {@link Mean}, a two-pass corrected sum);</li>
 * <li>{@link #trimmedMean()}: the mean after dropping the {@code k = floor(n / 400)} lowest and the
 *     {@code k} highest values (0.25 % per side, as in the article's table; the same {@code k} as
 *     {@code scipy.stats.trim_mean(x, 0.0025)}, computed in exact integer arithmetic). For
 *     {@code n < 400} nothing is dropped and it equals the mean;</li>
 * <li>{@link #geometricMean()}: {@code exp(mean(ln Rg))} (commons-math3 {@link GeometricMean}), the
 *     article's advice for skewed ratios;</li>
 * <li>{@link #quantile(double)}, {@link #median()}, {@link #firstQuartile()}, {@link #thirdQuartile()}:
 *     exact, by linear interpolation between order statistics, Hyndman and Fan type 7 (commons-math3
 *     {@code Percentile.EstimationType.R_7}, R's default, NumPy's {@code "linear"}): for sorted
 *     {@code x[0..n-1]} and {@code h = (n - 1) p}, {@code x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])};</li>
 * <li>{@link #shareAboveOne()}: the share with {@code Rg > 1} (strictly; an answer longer than its
 *     prompt);</li>
 * <li>{@link #histogram()}: counts over powers of ten, bin {@code k} = {@code [10^k, 10^(k+1))}, decided
 *     exactly from the integer counts, not from a rounded ratio; {@code k} lies in {@code [-10, 9]}.</li>
 * </ul>
 * A statistic over no values ({@code n = 0}) is {@code NaN}, with {@code count() == 0}.
 *
 * <p>Merging ({@link #merge(RgSummary)}) is exact, associative and commutative, with
 * {@link #empty()} as identity: the summary keeps every defined ratio, sorted, so the merge of the
 * summaries of any split of a dataset equals, bit for bit, the summary of the whole. Memory: 8 bytes
 * per defined example (a {@code double}), plus a transient copy while merging or building; the
 * histogram and counts are a few hundred bytes. At most {@code Integer.MAX_VALUE - 8} defined values.
 *
 * <pre>{@code
 * RgSummary s = GenerationRatio.summarize(promptTokens, completionTokens);
 * System.out.printf("Rg: n=%d (undefined %d) mean %.3f trimmed %.3f geometric %.3f median %.3f%n",
 *         s.count(), s.undefined(), s.mean(), s.trimmedMean(), s.geometricMean(), s.median());
 * RgSummary all = s.merge(otherShard);
 * }</pre>
 */
public final class RgSummary {
    /** The smallest histogram exponent: 1 / (2^31 - 1) lies in [1e-10, 1e-9). */
    static final int MIN_EXPONENT = -10;
    /** The largest histogram exponent: (2^31 - 1) / 1 lies in [1e9, 1e10). */
    static final int MAX_EXPONENT = 9;
    private static final int BINS = MAX_EXPONENT - MIN_EXPONENT + 1;
    private static final long[] POW10 = {1L, 10L, 100L, 1_000L, 10_000L, 100_000L, 1_000_000L, 10_000_000L,
        100_000_000L, 1_000_000_000L};
    private static final int MAX_VALUES = Integer.MAX_VALUE - 8;
    private static final RgSummary EMPTY = new RgSummary(new double[0], 0, new long[BINS]);

    private final double[] values;
    private final long undefined;
    private final long[] bins;
    private final long aboveOne;
    private final double mean;
    private final double trimmedMean;
    private final double geometricMean;
    private final double firstQuartile;
    private final double median;
    private final double thirdQuartile;

    /** @param sorted ascending, owned by the summary from now on */
    private RgSummary(double[] sorted, long undefined, long[] bins) {
        this.values = sorted;
        this.undefined = undefined;
        this.bins = bins;
        int n = sorted.length;
        int firstAbove = upperBound(sorted, 1.0);
        this.aboveOne = n - firstAbove;
        if (n == 0) {
            mean = Double.NaN;
            trimmedMean = Double.NaN;
            geometricMean = Double.NaN;
        } else {
            mean = new Mean().evaluate(sorted, 0, n);
            int k = trimmedPerSide(n);
            trimmedMean = k == 0 ? mean : new Mean().evaluate(sorted, k, n - 2 * k);
            geometricMean = new GeometricMean().evaluate(sorted, 0, n);
        }
        firstQuartile = quantileOf(sorted, 0.25);
        median = quantileOf(sorted, 0.5);
        thirdQuartile = quantileOf(sorted, 0.75);
    }

    /** @return the index of the first value {@code > x} in a sorted array */
    private static int upperBound(double[] a, double x) {
        int lo = 0;
        int hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] > x) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    private static double quantileOf(double[] x, double p) {
        int n = x.length;
        if (n == 0) {
            return Double.NaN;
        }
        double h = (n - 1) * p;
        int lo = (int) Math.floor(h);
        if (lo >= n - 1) {
            return x[n - 1];
        }
        double frac = h - lo;
        return frac == 0 ? x[lo] : x[lo] + frac * (x[lo + 1] - x[lo]);
    }

    static int trimmedPerSide(long n) {
        return (int) (n / 400);
    }

    /**
     * The power of ten below {@code c / p}: the {@code k} with {@code 10^k <= c / p < 10^(k+1)}, exact.
     */
    static int exponent(int p, int c) {
        int k = digits(c) - digits(p); // then 10^(k-1) < c/p < 10^(k+1), and |k| <= 9
        boolean atLeast = k >= 0 ? (long) c >= p * POW10[k] : c * POW10[-k] >= p;
        return atLeast ? k : k - 1;
    }

    private static int digits(int x) {
        int d = 1;
        while (d < 10 && x >= POW10[d]) {
            d++;
        }
        return d;
    }

    /**
     * The summary of no examples, the identity of {@link #merge(RgSummary)}.
     *
     * <pre>{@code
     * RgSummary total = RgSummary.empty();
     * for (RgSummary shard : shards) {
     *     total = total.merge(shard);
     * }
     * }</pre>
     *
     * @return the empty summary
     */
    public static RgSummary empty() {
        return EMPTY;
    }

    /**
     * A builder that takes examples one at a time, for datasets read as a stream.
     *
     * <pre>{@code
     * RgSummary.Builder b = RgSummary.builder();
     * for (Example ex : dataset) {
     *     b.add(ex.promptTokens(), ex.completionTokens());
     * }
     * RgSummary s = b.build();
     * }</pre>
     *
     * @return a new, empty builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** @return {@code n}, the number of examples with a defined {@code Rg} (both counts positive) */
    public long count() {
        return values.length;
    }

    /** @return the number of examples whose prompt or completion was empty ({@code Rg} undefined) */
    public long undefined() {
        return undefined;
    }

    /** @return {@code count() + undefined()}, every example seen */
    public long total() {
        return values.length + undefined;
    }

    /** @return the arithmetic mean {@code R̄g}; {@code NaN} if {@code count() == 0} */
    public double mean() {
        return mean;
    }

    /**
     * @return the mean without the {@link #trimmedPerSide()} lowest and highest values; {@code NaN} if
     *         {@code count() == 0}
     */
    public double trimmedMean() {
        return trimmedMean;
    }

    /** @return {@code floor(count() / 400)}, the values that {@link #trimmedMean()} drops on each side */
    public int trimmedPerSide() {
        return trimmedPerSide(values.length);
    }

    /** @return {@code exp(mean(ln Rg))}; {@code NaN} if {@code count() == 0} */
    public double geometricMean() {
        return geometricMean;
    }

    /** @return the median (type-7 quantile 0.5); {@code NaN} if {@code count() == 0} */
    public double median() {
        return median;
    }

    /** @return the first quartile (type-7 quantile 0.25); {@code NaN} if {@code count() == 0} */
    public double firstQuartile() {
        return firstQuartile;
    }

    /** @return the third quartile (type-7 quantile 0.75); {@code NaN} if {@code count() == 0} */
    public double thirdQuartile() {
        return thirdQuartile;
    }

    /**
     * The exact type-7 quantile (see the class description).
     *
     * <pre>{@code
     * double p90 = summary.quantile(0.9);
     * }</pre>
     *
     * @param p the probability, in {@code [0, 1]}
     * @return the quantile; {@code NaN} if {@code count() == 0}
     * @throws IllegalArgumentException if {@code p} is NaN or outside {@code [0, 1]}
     */
    public double quantile(double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "p must be in [0, 1], was %s", p));
        }
        return quantileOf(values, p);
    }

    /** @return the smallest {@code Rg}; {@code NaN} if {@code count() == 0} */
    public double min() {
        return values.length == 0 ? Double.NaN : values[0];
    }

    /** @return the largest {@code Rg}; {@code NaN} if {@code count() == 0} */
    public double max() {
        return values.length == 0 ? Double.NaN : values[values.length - 1];
    }

    /** @return the number of examples with {@code Rg > 1} */
    public long countAboveOne() {
        return aboveOne;
    }

    /** @return {@code countAboveOne() / count()}; {@code NaN} if {@code count() == 0} */
    public double shareAboveOne() {
        return values.length == 0 ? Double.NaN : aboveOne / (double) values.length;
    }

    /**
     * The histogram over powers of ten: key {@code k} counts the examples with
     * {@code 10^k <= Rg < 10^(k+1)}; only non-empty bins appear.
     *
     * <pre>{@code
     * summary.histogram().forEach((k, n) -> System.out.printf("[1e%d, 1e%d): %d%n", k, k + 1, n));
     * }</pre>
     *
     * @return an unmodifiable map from exponent to count, ascending
     */
    public SortedMap<Integer, Long> histogram() {
        TreeMap<Integer, Long> m = new TreeMap<>();
        for (int i = 0; i < BINS; i++) {
            if (bins[i] != 0) {
                m.put(i + MIN_EXPONENT, bins[i]);
            }
        }
        return Collections.unmodifiableSortedMap(m);
    }

    /**
     * @param exponent {@code k}
     * @return the number of examples with {@code 10^k <= Rg < 10^(k+1)} (0 for any {@code k} outside {@code [-10, 9]})
     */
    public long histogramCount(int exponent) {
        return exponent < MIN_EXPONENT || exponent > MAX_EXPONENT ? 0 : bins[exponent - MIN_EXPONENT];
    }

    /** @return a copy of the defined ratios, ascending */
    public double[] values() {
        return values.clone();
    }

    /**
     * The summary of both datasets: exact (the values are kept), associative and commutative.
     *
     * <pre>{@code
     * RgSummary whole = trainSummary.merge(validationSummary);
     * }</pre>
     *
     * @param other another summary
     * @return the merged summary (this or {@code other} when the other one is empty)
     * @throws NullPointerException if {@code other} is null
     * @throws IllegalStateException if the merged summary would hold more than {@code Integer.MAX_VALUE - 8} values
     */
    public RgSummary merge(RgSummary other) {
        Objects.requireNonNull(other, "other");
        if (other.total() == 0) {
            return this;
        }
        if (total() == 0) {
            return other;
        }
        long n = (long) values.length + other.values.length;
        if (n > MAX_VALUES) {
            throw new IllegalStateException("an RgSummary holds at most " + MAX_VALUES + " values, the merge has " + n);
        }
        double[] a = values;
        double[] b = other.values;
        double[] out = new double[(int) n];
        int i = 0;
        int j = 0;
        int k = 0;
        while (i < a.length && j < b.length) {
            out[k++] = a[i] <= b[j] ? a[i++] : b[j++];
        }
        while (i < a.length) {
            out[k++] = a[i++];
        }
        while (j < b.length) {
            out[k++] = b[j++];
        }
        long[] h = bins.clone();
        for (int q = 0; q < BINS; q++) {
            h[q] += other.bins[q];
        }
        return new RgSummary(out, undefined + other.undefined, h);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RgSummary s && undefined == s.undefined && Arrays.equals(bins, s.bins) && Arrays.equals(values, s.values);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Long.hashCode(undefined) + Arrays.hashCode(bins)) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "RgSummary[count=%d, undefined=%d, mean=%.6g, trimmedMean=%.6g, geometricMean=%.6g, "
                        + "q1=%.6g, median=%.6g, q3=%.6g, shareAboveOne=%.6g, histogram=%s]",
                count(), undefined, mean, trimmedMean, geometricMean, firstQuartile, median, thirdQuartile,
                shareAboveOne(), histogram());
    }

    /**
     * Collects examples one at a time and makes an {@link RgSummary}. Keeps one {@code double} per
     * defined example in a growable primitive array (8 bytes each, up to 1.5 times that while it
     * grows; {@link #build()} makes one sorted copy), so a file of tens of millions of examples fits in
     * a few hundred MB. Not thread-safe: use one builder per thread and {@link RgSummary#merge(RgSummary)}.
     *
     * <pre>{@code
     * RgSummary s = RgSummary.builder().add(120, 40).add(80, 200).add(0, 5).build();
     * // s.count() == 2, s.undefined() == 1
     * }</pre>
     */
    public static final class Builder {
        private double[] buf = new double[16];
        private int n;
        private long undefined;
        private final long[] bins = new long[BINS];

        private Builder() {
        }

        /**
         * Adds one example.
         *
         * @param promptTokens its prompt length, {@code >= 0}
         * @param completionTokens its completion length, {@code >= 0}
         * @return this builder
         * @throws IllegalArgumentException if a count is negative
         * @throws IllegalStateException if the builder already holds {@code Integer.MAX_VALUE - 8} values
         */
        public Builder add(int promptTokens, int completionTokens) {
            if (promptTokens < 0 || completionTokens < 0) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "token counts must be >= 0, promptTokens was %d and completionTokens %d",
                        promptTokens, completionTokens));
            }
            accept(promptTokens, completionTokens);
            return this;
        }

        /**
         * Adds examples {@code i = 0 .. n-1}. Checks both arrays before adding anything.
         *
         * @param promptTokens per example, {@code >= 0}
         * @param completionTokens per example, {@code >= 0}, the same length
         * @return this builder
         * @throws IllegalArgumentException if the lengths differ or a count is negative (naming its index)
         * @throws NullPointerException if an array is null
         */
        public Builder addAll(int[] promptTokens, int[] completionTokens) {
            Objects.requireNonNull(promptTokens, "promptTokens");
            Objects.requireNonNull(completionTokens, "completionTokens");
            if (promptTokens.length != completionTokens.length) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "promptTokens and completionTokens must have the same length, were %d and %d",
                        promptTokens.length, completionTokens.length));
            }
            for (int i = 0; i < promptTokens.length; i++) {
                if (promptTokens[i] < 0 || completionTokens[i] < 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "token counts must be >= 0, example %d had promptTokens[%d] = %d and "
                                    + "completionTokens[%d] = %d",
                            i, i, promptTokens[i], i, completionTokens[i]));
                }
            }
            for (int i = 0; i < promptTokens.length; i++) {
                accept(promptTokens[i], completionTokens[i]);
            }
            return this;
        }

        private void accept(int p, int c) {
            if (p == 0 || c == 0) {
                undefined++;
                return;
            }
            if (n == buf.length) {
                if (n >= MAX_VALUES) {
                    throw new IllegalStateException("an RgSummary holds at most " + MAX_VALUES + " values");
                }
                buf = Arrays.copyOf(buf, (int) Math.min(MAX_VALUES, n + (n >> 1) + 1L));
            }
            buf[n++] = (double) c / p;
            bins[exponent(p, c) - MIN_EXPONENT]++;
        }

        /** @return the examples added so far, defined or not */
        public long total() {
            return n + undefined;
        }

        /**
         * Makes the summary of everything added so far; the builder stays usable.
         *
         * @return the summary
         */
        public RgSummary build() {
            if (n == 0 && undefined == 0) {
                return EMPTY;
            }
            double[] sorted = Arrays.copyOf(buf, n);
            Arrays.sort(sorted);
            return new RgSummary(sorted, undefined, bins.clone());
        }
    }
}
