package org.plw4j.benchmarks;

import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.PromptCompletionMask;
import org.plw4j.TokenRole;

/**
 * One synthetic batch for the fused linear loss, fp32: hidden states {@code [B, N, H]} (standard normal),
 * an {@code lm_head} weight {@code [V, H]} (normal, standard deviation {@code 2/sqrt(H)}, so logits have
 * standard deviation about 2), random token ids, and a RACE-like mask: rows of {@value #ROW} positions, each a
 * prompt of {@code ROW - COMPLETION} tokens followed by {@value #COMPLETION} completion tokens
 * ({@code Rg = 5/507 = 0.0099}, about 1 % of the targets), no padding. Shapes are given as
 * {@code (B*N)xHxV}; {@code B = (B*N) / ROW}.
 */
final class LinearBatch {
    /** Positions per row. */
    static final int ROW = 512;
    /** Completion tokens per row (the rest of the row is prompt). */
    static final int COMPLETION = 5;

    final int b;
    final int n;
    final int h;
    final int v;
    final double plw;
    final INDArray hidden;
    /** {@code hidden} as {@code [B*N, H]} (a view). */
    final INDArray hidden2d;
    final INDArray weight;
    final INDArray inputIds;
    final PromptCompletionMask mask;
    /** Target of logit position {@code i = r*N + t}: {@code ids[r][t+1]}, 0 at the last position. */
    final int[] targets;
    /** Weight of logit position i (prompt PLW, completion 1, 0 at the last position). */
    final double[] weights;
    final double weightSum;

    LinearBatch(String shape, double plw) {
        String[] p = shape.split("x");
        int positions = Integer.parseInt(p[0]);
        if (positions % ROW != 0) {
            throw new IllegalArgumentException("B*N must be a multiple of " + ROW + ", was " + positions);
        }
        this.b = positions / ROW;
        this.n = ROW;
        this.h = Integer.parseInt(p[1]);
        this.v = Integer.parseInt(p[2]);
        this.plw = plw;
        Nd4j.getRandom().setSeed(42);
        this.hidden = Nd4j.randn(DataType.FLOAT, b, n, h);
        this.hidden2d = hidden.reshape('c', (long) b * n, h);
        this.weight = Nd4j.randn(DataType.FLOAT, v, h).muli(2.0 / Math.sqrt(h));
        SplittableRandom rnd = new SplittableRandom(7);
        int[][] ids = new int[b][n];
        int[][] roles = new int[b][n];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                ids[r][t] = rnd.nextInt(v);
                roles[r][t] = t < n - COMPLETION ? TokenRole.PROMPT.code() : TokenRole.COMPLETION.code();
            }
        }
        this.inputIds = Nd4j.createFromArray(ids);
        this.mask = PromptCompletionMask.ofRoles(roles);
        this.targets = new int[b * n];
        this.weights = new double[b * n];
        this.weightSum = Batch.shifted(ids, roles, plw, targets, weights);
    }

    /** @return bytes of the materialised fp32 logits {@code [B*N, V]} */
    long logitBytes() {
        return (long) b * n * v * 4;
    }
}
