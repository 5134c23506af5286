package org.plw4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Per logit position: the resolved target, weight, measured role and gradient scale (SPEC sections
 * 2-4), and the fixed-order reduction of the kernel's token losses into a {@link LossResult}
 * (SPEC section 5). All token reductions of every backend happen here, in row-major order, so every
 * kernel yields the same sums for the same token losses.
 */
final class TokenPlan {
    final int batch;
    final int length;
    final int[] targets;
    final double[] weights;
    /** code of the target's role as measured in the metrics ({@link TokenRole}; IGNORE: not measured). */
    final byte[] measured;
    /** whether the per-token loss is reported at this position. */
    final boolean[] reported;
    final double[] gradScale;
    final Normalization normalization;
    final double denominator;
    final int sequencesWithWeight;
    final double[] sequenceWeight;

    private TokenPlan(int batch, int length, int[] targets, double[] weights, byte[] measured, boolean[] reported,
            double[] gradScale, Normalization normalization, double denominator, int sequencesWithWeight,
            double[] sequenceWeight) {
        this.batch = batch;
        this.length = length;
        this.targets = targets;
        this.weights = weights;
        this.measured = measured;
        this.reported = reported;
        this.gradScale = gradScale;
        this.normalization = normalization;
        this.denominator = denominator;
        this.sequencesWithWeight = sequencesWithWeight;
        this.sequenceWeight = sequenceWeight;
    }

    /**
     * @param ids the {@code [B, N]} input ids, row-major
     * @param mask the roles or explicit weights of the input positions
     * @param b B
     * @param n N
     * @param v V, the bound of valid target ids
     * @param settings PLW, shift, ignore index, normalisation and global denominator
     * @param wantGradient whether to compute the per-position gradient scales
     * @param idShape the shape of the caller's id array, for messages
     * @return the plan
     * @throws IllegalArgumentException if a target that carries a role or a weight is outside {@code [0, v)}
     */
    static TokenPlan build(long[] ids, PromptCompletionMask mask, int b, int n, int v, LossSettings settings,
            boolean wantGradient, long[] idShape) {
        final double plw = settings.promptLossWeight();
        final boolean shift = settings.shift();
        final int ignoreIndex = settings.ignoreIndex();
        final Normalization normalization = settings.normalization();
        byte[] roles = mask.roleCodes();
        double[] explicit = mask.weightValues();
        int size = b * n;
        int[] targets = new int[size];
        double[] w = new double[size];
        byte[] measured = new byte[size];
        boolean[] reported = new boolean[size];
        for (int row = 0; row < b; row++) {
            for (int t = 0; t < n; t++) {
                int i = row * n + t;
                targets[i] = -1;
                int s = shift ? t + 1 : t;
                if (s >= n) {
                    continue;
                }
                int src = row * n + s;
                long y = ids[src];
                if (y == ignoreIndex) {
                    continue;
                }
                int role = roles == null ? TokenRole.IGNORE_CODE : roles[src];
                double weight;
                if (explicit != null) {
                    weight = explicit[src];
                } else {
                    weight = role == TokenRole.COMPLETION_CODE ? 1.0 : role == TokenRole.PROMPT_CODE ? plw : 0.0;
                }
                boolean active = role != TokenRole.IGNORE_CODE || weight > 0.0;
                if (!active) {
                    continue;
                }
                if (y < 0 || y >= v) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "inputIds must hold target ids in [0, %d) or the ignoreIndex %d where the target's role is"
                                    + " not IGNORE; element %s (the target of logit position [%d, %d], role %s) was %d",
                            v, ignoreIndex, Nd4jArrays.index(idShape, src), row, t,
                            roles == null ? "weight " + weight : TokenRole.ofCode(role).name(), y));
                }
                targets[i] = (int) y;
                w[i] = weight;
                measured[i] = (byte) role;
                reported[i] = role != TokenRole.IGNORE_CODE || (roles == null && weight > 0.0);
            }
        }
        // denominators, in fixed order
        ExactSum total = new ExactSum();
        for (int i = 0; i < size; i++) {
            total.add(w[i]);
        }
        double weightSum = total.value();
        double[] seqW = null;
        int seqCount = 0;
        double denominator = switch (normalization) {
            case WEIGHTED_MEAN -> weightSum;
            case SUM -> weightSum == 0.0 ? 0.0 : 1.0;
            case NONZERO_COUNT -> {
                long count = 0;
                for (int i = 0; i < size; i++) {
                    if (w[i] > 0.0) {
                        count++;
                    }
                }
                yield count;
            }
            case GLOBAL_DENOMINATOR -> settings.globalDenominator();
            case SEQUENCE_MEAN -> {
                seqW = new double[b];
                for (int row = 0; row < b; row++) {
                    ExactSum sw = new ExactSum();
                    for (int t = 0; t < n; t++) {
                        sw.add(w[row * n + t]);
                    }
                    seqW[row] = sw.value();
                    if (seqW[row] > 0.0) {
                        seqCount++;
                    }
                }
                yield seqCount;
            }
        };
        double[] scale = null;
        if (wantGradient) {
            scale = new double[size];
            for (int row = 0; row < b; row++) {
                for (int t = 0; t < n; t++) {
                    int i = row * n + t;
                    double wi = w[i];
                    if (wi == 0.0 || targets[i] < 0) {
                        continue;
                    }
                    scale[i] = switch (normalization) {
                        case WEIGHTED_MEAN, GLOBAL_DENOMINATOR, NONZERO_COUNT -> wi / denominator;
                        case SUM -> wi;
                        case SEQUENCE_MEAN -> wi / (seqW[row] * seqCount);
                    };
                }
            }
        }
        return new TokenPlan(b, n, targets, w, measured, reported, scale, normalization, denominator, seqCount, seqW);
    }

    /**
     * The kernel's optional outputs of SPEC section 13 and what the caller keeps of them.
     *
     * @param entropy per position entropy from the kernel, or null
     * @param argMax per position arg-max from the kernel, or null
     * @param means whether the per-role mean entropies are reported
     * @param perToken the per-token outputs reported
     */
    record Outputs(double[] entropy, int[] argMax, boolean means, Set<PerTokenOutput> perToken) {
        /** No output. */
        static final Outputs NONE = new Outputs(null, null, false, Set.of());
    }

    /** The sums and counts that {@link #reduce} keeps for the measured targets of one role (PROMPT or COMPLETION). */
    private static final class RoleTally {
        final ExactSum loss = new ExactSum();
        final ExactSum entropy = new ExactSum();
        long tokens;
        long correct;
        long entropyTokens;

        void add(double tokenLoss, boolean tokenCorrect) {
            tokens++;
            loss.add(tokenLoss);
            if (tokenCorrect) {
                correct++;
            }
        }

        void addEntropy(double tokenEntropy) {
            entropyTokens++;
            entropy.add(tokenEntropy);
        }
    }

    LossResult reduce(double[] tokenLoss, boolean[] tokenCorrect, INDArray gradient, String kernelName) {
        return reduce(tokenLoss, tokenCorrect, Outputs.NONE, gradient, kernelName);
    }

    LossResult reduce(double[] tokenLoss, boolean[] tokenCorrect, Outputs out, INDArray gradient,
            String kernelName) {
        int size = batch * length;
        final double[] entropy = out.entropy();
        final boolean means = out.means() && entropy != null;
        double[] perTokenEntropy = out.perToken().contains(PerTokenOutput.ENTROPY) && entropy != null
                ? new double[size] : null;
        int[] perTokenArgMax = null;
        if (out.perToken().contains(PerTokenOutput.ARG_MAX) && out.argMax() != null) {
            perTokenArgMax = new int[size];
            Arrays.fill(perTokenArgMax, -1);
        }
        ExactSum weighted = new ExactSum();
        ExactSum weight = new ExactSum();
        RoleTally prompt = new RoleTally();
        RoleTally completion = new RoleTally();
        long nonFinite = 0;
        long weightedTokens = 0;
        double[] perToken = new double[size];
        double seqMeanSum = 0.0;
        for (int row = 0; row < batch; row++) {
            ExactSum rowWeighted = normalization == Normalization.SEQUENCE_MEAN ? new ExactSum() : null;
            for (int t = 0; t < length; t++) {
                int i = row * length + t;
                if (targets[i] < 0) {
                    continue;
                }
                double l = tokenLoss[i];
                double wi = weights[i];
                if (reported[i]) {
                    perToken[i] = l;
                    if (perTokenEntropy != null) {
                        perTokenEntropy[i] = entropy[i];
                    }
                    if (perTokenArgMax != null) {
                        perTokenArgMax[i] = out.argMax()[i];
                    }
                }
                if (wi > 0.0) {
                    weightedTokens++;
                    double wl = wi * l;
                    weighted.add(wl);
                    weight.add(wi);
                    if (rowWeighted != null) {
                        rowWeighted.add(wl);
                    }
                    if (!Double.isFinite(l)) {
                        nonFinite++;
                    }
                }
                RoleTally role = measured[i] == TokenRole.PROMPT_CODE ? prompt
                        : measured[i] == TokenRole.COMPLETION_CODE ? completion : null;
                if (role != null) {
                    role.add(l, tokenCorrect[i]);
                    if (means) {
                        role.addEntropy(entropy[i]);
                    }
                }
            }
            if (rowWeighted != null && sequenceWeight[row] > 0.0) {
                seqMeanSum += rowWeighted.value() / sequenceWeight[row];
            }
        }
        LossSummary summary = new LossSummary(weighted, weight, prompt.loss, completion.loss, prompt.tokens,
                completion.tokens, prompt.correct, completion.correct, nonFinite, weightedTokens, prompt.entropy,
                completion.entropy, prompt.entropyTokens, completion.entropyTokens);
        double num = summary.weightedLossSum();
        double loss = switch (normalization) {
            case WEIGHTED_MEAN, GLOBAL_DENOMINATOR, NONZERO_COUNT -> denominator == 0.0 ? 0.0 : num / denominator;
            case SUM -> num;
            case SEQUENCE_MEAN -> sequencesWithWeight == 0 ? 0.0 : seqMeanSum / sequencesWithWeight;
        };
        return new LossResult(loss, normalization, denominator, summary, perToken, batch, length, gradient,
                kernelName, perTokenEntropy, perTokenArgMax);
    }
}
