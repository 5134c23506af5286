package org.plw4j;

import java.util.Arrays;

/**
 * An exact accumulator of doubles: the sum is kept as a list of non-overlapping partials
 * (Shewchuk's expansion arithmetic, the algorithm behind Python's {@code math.fsum}), so its value,
 * rounded once at the end, is the correctly rounded exact sum whatever the order of additions.
 * This makes {@link LossSummary#merge} exact: merging the summaries of any split gives bitwise the
 * summary of the whole. Non-finite inputs are summed apart with IEEE rules. Not thread-safe.
 */
final class ExactSum {
    private double[] partials = new double[4];
    private int n;
    private double special; // IEEE sum of the non-finite inputs (0 if none)
    private boolean hasSpecial;

    ExactSum() {
    }

    ExactSum copy() {
        ExactSum c = new ExactSum();
        c.partials = Arrays.copyOf(partials, Math.max(4, n));
        c.n = n;
        c.special = special;
        c.hasSpecial = hasSpecial;
        return c;
    }

    void add(double x) {
        if (!Double.isFinite(x)) {
            special = hasSpecial ? special + x : x;
            hasSpecial = true;
            return;
        }
        if (x == 0.0) {
            return;
        }
        int i = 0;
        for (int j = 0; j < n; j++) {
            double y = partials[j];
            if (Math.abs(x) < Math.abs(y)) {
                double t = x;
                x = y;
                y = t;
            }
            double hi = x + y;
            double lo = y - (hi - x);
            if (lo != 0.0) {
                partials[i++] = lo;
            }
            x = hi;
        }
        if (i == partials.length) {
            partials = Arrays.copyOf(partials, i * 2);
        }
        partials[i++] = x;
        n = i;
    }

    void addAll(ExactSum other) {
        for (int j = 0; j < other.n; j++) {
            add(other.partials[j]);
        }
        if (other.hasSpecial) {
            add(other.special);
        }
    }

    /** @return the exact sum, rounded once to nearest (ties to even) */
    double value() {
        if (hasSpecial) {
            return special;
        }
        if (n == 0) {
            return 0.0;
        }
        int k = n - 1;
        double hi = partials[k];
        double lo = 0.0;
        while (k > 0) {
            double x = hi;
            double y = partials[--k];
            hi = x + y;
            double yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) {
                break;
            }
        }
        // half-way case: the remaining partials decide the rounding direction
        if (k > 0 && ((lo < 0.0 && partials[k - 1] < 0.0) || (lo > 0.0 && partials[k - 1] > 0.0))) {
            double y = lo * 2.0;
            double x = hi + y;
            double yr = x - hi;
            if (y == yr) {
                hi = x;
            }
        }
        return hi;
    }
}
