package org.plw4j;

import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;

/**
 * A prompt loss weight that changes with the training step: constant, linear, cosine, step or exponential
 * decay from a start value to an end value, optionally after a linear warm-up. {@link #at(long)} gives the
 * PLW of a step, for a custom loop ({@code loss.withPromptLossWeight(schedule.at(step))}) or for
 * {@code org.plw4j.dl4j.PromptLossWeightListener}, which moves the PLW of a DL4J network's
 * {@code WeightedCausalLMOutputLayer} step by step.
 *
 * <p><b>Values.</b> With warm-up length {@code u}, warm-up start value {@code w0}, start value {@code a},
 * end value {@code b}, length {@code n} (the half-life for {@link Shape#EXPONENTIAL}) and {@code k} drops:
 * <ul>
 * <li>{@code step < u}: {@code w0 + (a - w0) * step / u} (a linear ramp from {@code w0} towards {@code a});</li>
 * <li>otherwise, with {@code t = step - u} and {@code p = min(1, t / n)}, the value is
 *     {@code a + (b - a) * f} with
 *     <ul>
 *     <li>{@link Shape#CONSTANT}: {@code f = 0} (and {@code b = a});</li>
 *     <li>{@link Shape#LINEAR}: {@code f = p};</li>
 *     <li>{@link Shape#COSINE}: {@code f = (1 - cos(pi * p)) / 2} (slow at both ends);</li>
 *     <li>{@link Shape#STEP}: {@code f = floor(k * t / n) / k} for {@code t < n}, else 1: {@code k} equal
 *         drops, the last one at step {@code u + n} (integer arithmetic, exact);</li>
 *     <li>{@link Shape#EXPONENTIAL}: {@code f = 1 - 2^(-t / n)}: the distance to {@code b} halves every
 *         {@code n} steps and never reaches 0;</li>
 *     </ul>
 *     exactly {@code b} once {@code p = 1} for the shapes other than exponential.</li>
 * </ul>
 * Every value lies between the smallest and the largest of {@code w0}, {@code a}, {@code b}, hence in
 * {@code [0, 1]}.
 *
 * <p><b>Text form</b> ({@link #toString()}, {@link #parse(String)}): {@code constant:W},
 * {@code linear:A:B:N}, {@code cosine:A:B:N}, {@code exponential:A:B:HALF_LIFE}, {@code step:A:B:N:K},
 * each optionally followed by {@code :warmup=U@W0}, e.g. {@code linear:1:0:1000},
 * {@code cosine:0.5:0:2000:warmup=100@0}. No commas and no spaces, so a list of weights and schedules can be
 * comma-separated. {@link #parse(String, long)} lets {@code N} be omitted ({@code linear:1:0}) and fills in a
 * default length, such as the length of a training run.
 *
 * <pre>{@code
 * PromptLossWeightSchedule schedule = PromptLossWeightSchedule.linear(1.0, 0.0, 1000);
 * WeightedCausalLMLoss base = WeightedCausalLMLoss.withDefaults();
 * for (long step = 0; step < 1000; step++) {
 *     LossResult r = base.withPromptLossWeight(schedule.at(step)).computeWithGradient(logits, ids, mask);
 *     // backward pass with r.gradient() ...
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe; equal schedules have equal text forms.
 */
public final class PromptLossWeightSchedule {

    /** How the value moves from the start value to the end value. */
    public enum Shape {
        /** The start value at every step. */
        CONSTANT("constant"),
        /** A straight line from the start value to the end value. */
        LINEAR("linear"),
        /** Half a cosine period: slow at the start and at the end. */
        COSINE("cosine"),
        /** Piecewise constant, a number of equal drops. */
        STEP("step"),
        /** Exponential approach to the end value with a half-life. */
        EXPONENTIAL("exponential");

        private final String label;

        Shape(String label) {
            this.label = label;
        }

        /** @return the name of the shape in the text form, e.g. {@code linear} */
        public String label() {
            return label;
        }
    }

    private final Shape shape;
    private final double start;
    private final double end;
    private final long steps;
    private final int drops;
    private final long warmupSteps;
    private final double warmupStart;

    private PromptLossWeightSchedule(Shape shape, double start, double end, long steps, int drops, long warmupSteps,
            double warmupStart) {
        this.shape = shape;
        this.start = start + 0.0; // -0.0 becomes 0.0, so that equal schedules print and hash alike
        this.end = end + 0.0;
        this.steps = steps;
        this.drops = drops;
        this.warmupSteps = warmupSteps;
        this.warmupStart = warmupStart + 0.0;
    }

    /**
     * @param value the PLW of every step, in {@code [0, 1]}
     * @return a constant schedule
     * @throws IllegalArgumentException if {@code value} is NaN or outside {@code [0, 1]}
     */
    public static PromptLossWeightSchedule constant(double value) {
        weight("value", value);
        return new PromptLossWeightSchedule(Shape.CONSTANT, value, value, 1, 1, 0, 0.0);
    }

    /**
     * @param start the PLW at step 0, in {@code [0, 1]}
     * @param end the PLW from step {@code steps} on, in {@code [0, 1]}
     * @param steps the length of the decay, {@code > 0}
     * @return a linear schedule
     * @throws IllegalArgumentException if a value is NaN or outside {@code [0, 1]}, or {@code steps <= 0}
     */
    public static PromptLossWeightSchedule linear(double start, double end, long steps) {
        return of(Shape.LINEAR, start, end, steps, 1);
    }

    /**
     * @param start the PLW at step 0, in {@code [0, 1]}
     * @param end the PLW from step {@code steps} on, in {@code [0, 1]}
     * @param steps the length of the half cosine period, {@code > 0}
     * @return a cosine schedule
     * @throws IllegalArgumentException if a value is NaN or outside {@code [0, 1]}, or {@code steps <= 0}
     */
    public static PromptLossWeightSchedule cosine(double start, double end, long steps) {
        return of(Shape.COSINE, start, end, steps, 1);
    }

    /**
     * @param start the PLW before the first drop, in {@code [0, 1]}
     * @param end the PLW after the last drop (at step {@code steps}), in {@code [0, 1]}
     * @param steps the step of the last drop, {@code > 0}
     * @param drops the number of equal drops, {@code > 0}; drop {@code j} (1-based) happens at the first step
     *        {@code t} with {@code drops * t >= j * steps}
     * @return a step schedule
     * @throws IllegalArgumentException if a value is NaN or outside {@code [0, 1]}, {@code steps <= 0},
     *         {@code drops <= 0}, or {@code steps * drops} overflows a {@code long}
     */
    public static PromptLossWeightSchedule step(double start, double end, long steps, int drops) {
        if (drops <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "drops must be > 0, was %d", drops));
        }
        PromptLossWeightSchedule s = of(Shape.STEP, start, end, steps, drops);
        if (Math.multiplyHigh(steps, drops) != 0 || steps * drops < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "steps * drops must fit in a long, was %d * %d", steps, drops));
        }
        return s;
    }

    /**
     * @param start the PLW at step 0, in {@code [0, 1]}
     * @param end the value approached, in {@code [0, 1]}
     * @param halfLifeSteps the steps after which the distance to {@code end} has halved, {@code > 0}
     * @return an exponential schedule
     * @throws IllegalArgumentException if a value is NaN or outside {@code [0, 1]}, or {@code halfLifeSteps <= 0}
     */
    public static PromptLossWeightSchedule exponential(double start, double end, long halfLifeSteps) {
        return of(Shape.EXPONENTIAL, start, end, halfLifeSteps, 1);
    }

    private static PromptLossWeightSchedule of(Shape shape, double start, double end, long steps, int drops) {
        weight("start", start);
        weight("end", end);
        if (steps <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must be > 0, was %d", shape == Shape.EXPONENTIAL ? "halfLifeSteps" : "steps", steps));
        }
        return new PromptLossWeightSchedule(shape, start, end, steps, drops, 0, 0.0);
    }

    /**
     * A copy that first ramps linearly from {@code from} to the start value over {@code warmupSteps} steps, and
     * runs this schedule from step {@code warmupSteps} on.
     *
     * @param warmupSteps the length of the ramp, {@code > 0}
     * @param from the PLW at step 0, in {@code [0, 1]}
     * @return the schedule with that warm-up (replacing any earlier one)
     * @throws IllegalArgumentException if {@code warmupSteps <= 0} or {@code from} is NaN or outside {@code [0, 1]}
     */
    public PromptLossWeightSchedule withWarmup(long warmupSteps, double from) {
        if (warmupSteps <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "warmupSteps must be > 0, was %d", warmupSteps));
        }
        weight("from", from);
        return new PromptLossWeightSchedule(shape, start, end, steps, drops, warmupSteps, from);
    }

    private static void weight(String name, double value) {
        if (!(value >= 0.0 && value <= 1.0)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must be a prompt loss weight in [0, 1], was %s", name, value));
        }
    }

    /**
     * @param step the training step, 0 for the first update
     * @return the PLW of that step, in {@code [0, 1]} (the formulas of the class comment)
     * @throws IllegalArgumentException if {@code step < 0}
     */
    public double at(long step) {
        if (step < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "step must be >= 0, was %d", step));
        }
        if (step < warmupSteps) {
            return warmupStart + (start - warmupStart) * ((double) step / warmupSteps);
        }
        long t = step - warmupSteps;
        if (shape == Shape.CONSTANT) {
            return start;
        }
        if (shape == Shape.EXPONENTIAL) {
            return end + (start - end) * Math.pow(2.0, -(double) t / steps);
        }
        if (t >= steps) {
            return end;
        }
        double f = switch (shape) {
            case LINEAR -> (double) t / steps;
            case COSINE -> (1.0 - Math.cos(Math.PI * t / steps)) / 2.0;
            case STEP -> (double) (t * drops / steps) / drops; // t < steps, and steps * drops fits a long
            default -> throw new AssertionError(shape);
        };
        return start + (end - start) * f;
    }

    /** @return the shape of the decay */
    public Shape shape() {
        return shape;
    }

    /** @return the PLW when the decay begins (step {@link #warmupSteps()}) */
    public double startValue() {
        return start;
    }

    /** @return the PLW at the end of the decay (approached, for {@link Shape#EXPONENTIAL}) */
    public double endValue() {
        return end;
    }

    /** @return the length of the decay in steps (the half-life for {@link Shape#EXPONENTIAL}; 1 for constant) */
    public long steps() {
        return steps;
    }

    /** @return the number of drops of a {@link Shape#STEP} schedule (1 for the other shapes) */
    public int drops() {
        return drops;
    }

    /** @return the length of the warm-up ramp, 0 without warm-up */
    public long warmupSteps() {
        return warmupSteps;
    }

    /** @return the PLW at step 0 of the warm-up ramp (0 without warm-up) */
    public double warmupStartValue() {
        return warmupStart;
    }

    /**
     * @param text the text form (see the class comment), with every length given
     * @return the schedule it describes
     * @throws IllegalArgumentException if {@code text} is null, not of that form, or describes a bad schedule
     *         (the message names the part and the rule)
     */
    public static PromptLossWeightSchedule parse(String text) {
        return parse(text, 0);
    }

    /**
     * @param text the text form (see the class comment); the length {@code N} may be omitted
     * @param defaultSteps the length used when {@code N} is omitted; {@code <= 0}: it may not be omitted
     * @return the schedule it describes
     * @throws IllegalArgumentException if {@code text} is null, not of that form, or describes a bad schedule
     *         (the message names the part and the rule)
     */
    public static PromptLossWeightSchedule parse(String text, long defaultSteps) {
        Nd4jArrays.requireNonNull(text, "schedule");
        String body = text;
        String warmup = null;
        int w = text.indexOf(":warmup=");
        if (w >= 0) {
            body = text.substring(0, w);
            warmup = text.substring(w + ":warmup=".length());
        }
        String[] f = body.split(":", -1);
        Shape shape = null;
        for (Shape s : Shape.values()) {
            if (s.label.equals(f[0])) {
                shape = s;
            }
        }
        if (shape == null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "schedule '%s': unknown shape '%s', expected constant, linear, cosine, step or exponential",
                    text, f[0]));
        }
        int min = shape == Shape.CONSTANT ? 2 : 3;
        int max = shape == Shape.CONSTANT ? 2 : shape == Shape.STEP ? 5 : 4;
        if (f.length < min || f.length > max) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "schedule '%s': %s takes %s, had %d field(s)", text, shape.label, usage(shape), f.length - 1));
        }
        PromptLossWeightSchedule s;
        if (shape == Shape.CONSTANT) {
            s = constant(number(text, "value", f[1]));
        } else {
            double a = number(text, "start", f[1]);
            double b = number(text, "end", f[2]);
            long n;
            if (f.length > 3) {
                n = integer(text, "steps", f[3]);
            } else if (defaultSteps > 0) {
                n = defaultSteps;
            } else {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "schedule '%s': the length is missing (%s takes %s)", text, shape.label, usage(shape)));
            }
            s = switch (shape) {
                case LINEAR -> linear(a, b, n);
                case COSINE -> cosine(a, b, n);
                case EXPONENTIAL -> exponential(a, b, n);
                case STEP -> step(a, b, n, f.length > 4 ? Math.toIntExact(integer(text, "drops", f[4])) : 1);
                default -> throw new AssertionError(shape);
            };
        }
        if (warmup != null) {
            int at = warmup.indexOf('@');
            if (at < 0) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "schedule '%s': warm-up must be warmup=STEPS@FROM, was warmup=%s", text, warmup));
            }
            s = s.withWarmup(integer(text, "warmup steps", warmup.substring(0, at)),
                    number(text, "warmup from", warmup.substring(at + 1)));
        }
        return s;
    }

    private static String usage(Shape shape) {
        return switch (shape) {
            case CONSTANT -> "constant:W";
            case STEP -> "step:START:END:STEPS[:DROPS]";
            case EXPONENTIAL -> "exponential:START:END:HALF_LIFE";
            default -> shape.label + ":START:END:STEPS";
        };
    }

    private static double number(String text, String name, String field) {
        return parsed(text, name, field, "a number", Double::valueOf);
    }

    private static long integer(String text, String name, String field) {
        return parsed(text, name, field, "an integer", Long::valueOf);
    }

    /**
     * @param text the whole schedule text, for the message
     * @param name the field's name in the message
     * @param field the field's text
     * @param kind what the field must be, in the message
     * @param parser the field's parser, throwing {@link NumberFormatException} on a malformed field
     * @return the parsed field
     * @throws IllegalArgumentException if {@code field} does not parse
     */
    private static <T> T parsed(String text, String name, String field, String kind, Function<String, T> parser) {
        try {
            return parser.apply(field);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "schedule '%s': %s must be %s, was '%s'", text, name, kind, field), e);
        }
    }

    /** @return the text form, which {@link #parse(String)} reads back into an equal schedule */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(shape.label).append(':').append(num(start));
        if (shape != Shape.CONSTANT) {
            sb.append(':').append(num(end)).append(':').append(steps);
            if (shape == Shape.STEP) {
                sb.append(':').append(drops);
            }
        }
        if (warmupSteps > 0) {
            sb.append(":warmup=").append(warmupSteps).append('@').append(num(warmupStart));
        }
        return sb.toString();
    }

    /** Integral values without a fraction ("1", "0"), the others as {@link Double#toString} (exact round trip). */
    private static String num(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PromptLossWeightSchedule s && shape == s.shape && Double.compare(start, s.start) == 0
                && Double.compare(end, s.end) == 0 && steps == s.steps && drops == s.drops
                && warmupSteps == s.warmupSteps && Double.compare(warmupStart, s.warmupStart) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(shape, start, end, steps, drops, warmupSteps, warmupStart);
    }
}
