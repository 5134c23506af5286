package org.plw4j;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An independent float64 oracle for the tests: it reads every value through {@code INDArray.getDouble}
 * (ND4J's own indexing, not plw4j's memory views), and computes SPEC sections 2-6 with the textbook
 * formulas, straight from the spec text. It shares no code with the library.
 */
final class Oracle {
    double loss;
    double weightSum;
    double weightedLossSum;
    double promptLossSum;
    double completionLossSum;
    long promptTokens;
    long completionTokens;
    long promptCorrect;
    long completionCorrect;
    long nonFinite;
    double[][] perToken;
    /** d loss / d z in NWC order [b][t][v]. */
    double[][][] grad;

    static Oracle compute(INDArray logits, boolean ncw, long[][] ids, int[][] roles, double[][] explicitWeights,
            double plw, boolean shift, int ignoreIndex, Normalization mode, double globalD) {
        Oracle o = new Oracle();
        int b = (int) logits.size(0);
        int n = (int) (ncw ? logits.size(2) : logits.size(1));
        int v = (int) (ncw ? logits.size(1) : logits.size(2));
        double[][] w = new double[b][n];
        double[][] l = new double[b][n];
        double[][][] soft = new double[b][n][];
        int[][] y = new int[b][n];
        int[][] role = new int[b][n];
        o.perToken = new double[b][n];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                y[r][t] = -1;
                int s = shift ? t + 1 : t;
                if (s >= n || ids[r][s] == ignoreIndex) {
                    continue;
                }
                int rl = roles == null ? 0 : roles[r][s];
                double wt = explicitWeights != null ? explicitWeights[r][s] : rl == 2 ? 1 : rl == 1 ? plw : 0;
                if (rl == 0 && wt == 0) {
                    continue;
                }
                int target = (int) ids[r][s];
                y[r][t] = target;
                role[r][t] = rl;
                w[r][t] = wt;
                double[] z = new double[v];
                for (int c = 0; c < v; c++) {
                    z[c] = ncw ? logits.getDouble(r, c, t) : logits.getDouble(r, t, c);
                }
                // arg-max per SPEC: first maximum (ties to the lowest id); a NaN counts as the maximum
                int arg = 0;
                int firstNan = -1;
                for (int c = 0; c < v; c++) {
                    if (Double.isNaN(z[c])) {
                        firstNan = c;
                        break;
                    }
                }
                if (firstNan >= 0) {
                    arg = firstNan;
                } else {
                    for (int c = 1; c < v; c++) {
                        if (z[c] > z[arg]) {
                            arg = c;
                        }
                    }
                }
                double m = Double.NEGATIVE_INFINITY;
                for (double x : z) {
                    m = Math.max(m, x);
                }
                double sum = 0;
                for (double x : z) {
                    sum += Math.exp(x - m);
                }
                double lse = m + Math.log(sum);
                l[r][t] = lse - z[target];
                soft[r][t] = new double[v];
                for (int c = 0; c < v; c++) {
                    soft[r][t][c] = Math.exp(z[c] - lse);
                }
                if (rl != 0 || (roles == null && wt > 0)) {
                    o.perToken[r][t] = l[r][t];
                }
                if (rl == 1) {
                    o.promptTokens++;
                    o.promptLossSum += l[r][t];
                    o.promptCorrect += arg == target ? 1 : 0;
                } else if (rl == 2) {
                    o.completionTokens++;
                    o.completionLossSum += l[r][t];
                    o.completionCorrect += arg == target ? 1 : 0;
                }
                if (wt > 0) {
                    o.weightSum += wt;
                    o.weightedLossSum += wt * l[r][t];
                    if (!Double.isFinite(l[r][t])) {
                        o.nonFinite++;
                    }
                }
            }
        }
        double[][] scale = new double[b][n];
        switch (mode) {
            case WEIGHTED_MEAN:
                o.loss = o.weightSum == 0 ? 0 : o.weightedLossSum / o.weightSum;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        scale[r][t] = o.weightSum == 0 ? 0 : w[r][t] / o.weightSum;
                    }
                }
                break;
            case SUM:
                o.loss = o.weightedLossSum;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        scale[r][t] = w[r][t];
                    }
                }
                break;
            case NONZERO_COUNT:
                int count = 0;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        count += w[r][t] > 0 ? 1 : 0;
                    }
                }
                o.loss = count == 0 ? 0 : o.weightedLossSum / count;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        scale[r][t] = count == 0 ? 0 : w[r][t] / count;
                    }
                }
                break;
            case GLOBAL_DENOMINATOR:
                o.loss = o.weightedLossSum / globalD;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        scale[r][t] = w[r][t] / globalD;
                    }
                }
                break;
            default:
                int seqs = 0;
                double acc = 0;
                double[] sw = new double[b];
                for (int r = 0; r < b; r++) {
                    double num = 0;
                    for (int t = 0; t < n; t++) {
                        sw[r] += w[r][t];
                        if (w[r][t] > 0) {
                            num += w[r][t] * l[r][t];
                        }
                    }
                    if (sw[r] > 0) {
                        seqs++;
                        acc += num / sw[r];
                    }
                }
                o.loss = seqs == 0 ? 0 : acc / seqs;
                for (int r = 0; r < b; r++) {
                    for (int t = 0; t < n; t++) {
                        scale[r][t] = sw[r] > 0 ? w[r][t] / (sw[r] * seqs) : 0;
                    }
                }
        }
        o.grad = new double[b][n][v];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                if (y[r][t] < 0 || scale[r][t] == 0) {
                    continue;
                }
                for (int c = 0; c < v; c++) {
                    o.grad[r][t][c] = scale[r][t] * (soft[r][t][c] - (c == y[r][t] ? 1 : 0));
                }
            }
        }
        return o;
    }
}
