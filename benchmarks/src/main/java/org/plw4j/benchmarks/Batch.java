package org.plw4j.benchmarks;

import java.util.Locale;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.PromptCompletionMask;
import org.plw4j.TokenRole;

/**
 * One synthetic training batch: logits {@code [B, N, V]} (normal, standard deviation 3, fixed seed),
 * token ids, and per row a prompt, a completion and right padding: prompt length uniform in
 * [0.2 N, 0.6 N), sequence length uniform in [0.75 N, N]. PLW 0.1. The baselines get the same
 * weights per logit position {@code t}: the weight of target {@code t+1} (prompt 0.1, completion 1,
 * padding 0), 0 at {@code t = N-1}.
 */
final class Batch {
    /** Prompt loss weight of every benchmark. */
    static final double PLW = 0.1;

    final int b;
    final int n;
    final int v;
    final DataType dtype;
    final INDArray logits;
    final INDArray inputIds;
    final int[][] roles;
    final PromptCompletionMask mask;
    /** Target of logit position {@code i = b*N + t}: {@code ids[b][t+1]}, 0 at the last position. */
    final int[] targets;
    /** Weight of logit position i, as above. */
    final double[] weights;
    final double weightSum;

    Batch(String shape, String dtypeName) {
        String[] p = shape.split("x");
        this.b = Integer.parseInt(p[0]);
        this.n = Integer.parseInt(p[1]);
        this.v = Integer.parseInt(p[2]);
        this.dtype = DataType.valueOf(dtypeName.toUpperCase(Locale.ROOT));
        Nd4j.getRandom().setSeed(42);
        INDArray f = Nd4j.randn(DataType.FLOAT, b, n, v).muli(3);
        this.logits = dtype == DataType.FLOAT ? f : f.castTo(dtype);
        SplittableRandom rnd = new SplittableRandom(7);
        int[][] ids = new int[b][n];
        this.roles = new int[b][n];
        for (int r = 0; r < b; r++) {
            int prompt = (int) (n * (0.2 + 0.4 * rnd.nextDouble()));
            int len = Math.max(prompt + 1, Math.min(n, (int) (n * (0.75 + 0.25 * rnd.nextDouble()))));
            for (int t = 0; t < n; t++) {
                ids[r][t] = rnd.nextInt(v);
                roles[r][t] = t < prompt ? TokenRole.PROMPT.code() : t < len ? TokenRole.COMPLETION.code()
                        : TokenRole.IGNORE.code();
            }
        }
        this.inputIds = Nd4j.createFromArray(ids);
        this.mask = PromptCompletionMask.ofRoles(roles);
        this.targets = new int[b * n];
        this.weights = new double[b * n];
        this.weightSum = shifted(ids, roles, PLW, targets, weights);
    }

    /**
     * The targets and weights per logit position {@code i = r*N + t} under the shift: the id and weight of token
     * {@code t+1} (completion 1, prompt {@code plw}, ignored 0), target 0 and weight 0 at {@code t = N-1}.
     *
     * @param ids token ids {@code [B][N]}
     * @param roles role codes {@code [B][N]}
     * @param plw the prompt loss weight
     * @param targets receives the targets, length {@code B*N}
     * @param weights receives the weights, length {@code B*N}
     * @return the sum of the weights
     */
    static double shifted(int[][] ids, int[][] roles, double plw, int[] targets, double[] weights) {
        double sum = 0;
        for (int r = 0; r < ids.length; r++) {
            int n = ids[r].length;
            for (int t = 0; t + 1 < n; t++) {
                int i = r * n + t;
                targets[i] = ids[r][t + 1];
                int role = roles[r][t + 1];
                weights[i] = role == TokenRole.COMPLETION.code() ? 1.0 : role == TokenRole.PROMPT.code() ? plw : 0.0;
                sum += weights[i];
            }
        }
        return sum;
    }

    /** @return bytes of the logits */
    long logitBytes() {
        return (long) b * n * v * dtype.width();
    }
}
