package org.plw4j.kernel;

/**
 * The reference kernel: plain loops, double accumulators, every logit read through its strides.
 * It is the oracle that every fast path is tested against; its correctness matters, not its speed.
 *
 * <p>Math per active position: {@code m = max_v z[v]}, {@code lse = m + log(sum_v exp(z[v] - m))},
 * {@code loss = lse - z[y]}; arg-max with ties to the lowest index; gradient
 * {@code scale * (exp(z[v] - lse) - [v == y])}. Arg-max rule shared by every kernel: the first index of
 * the maximum; a NaN counts as the maximum (the first NaN wins), as in NumPy and PyTorch; an all
 * -Inf row has arg-max 0. Rows whose max is not finite follow IEEE arithmetic:
 * a NaN or +Inf logit or an all -Inf row gives a non-finite loss. Bytes moved per token: the row is
 * read once into a double[V] scratch row and, with a gradient, written once. Single-threaded.
 *
 * <p>It also implements the optional extensions of SPEC section 7 (label smoothing {@code eps},
 * z-loss {@code lambda}, soft-capping {@code c}): on {@code z' = c tanh(z/c)},
 * {@code loss = (1-eps)(lse - z'[y]) + eps(lse - mean z') + lambda lse^2} and
 * {@code dloss/dz = (softmax(z')(1 + 2 lambda lse) - (1-eps) onehot - eps/V) * (1 - (z'/c)^2)}.
 *
 * <p>And the outputs of SPEC section 13 when asked for: the entropy
 * {@code H = lse - Σ p z' = log(s) - Σ_v e_v (z'_v - m) / s} with {@code e_v = exp(z'_v - m)} (terms with
 * {@code e_v = 0} add nothing, so a {@code -Inf} logit is probability 0, not {@code 0 · -Inf}), NaN where
 * the loss is NaN; the arg-max index.
 */
public final class ReferenceKernel implements LossKernel {
    /** The shared instance (stateless). */
    public static final ReferenceKernel INSTANCE = new ReferenceKernel();

    private ReferenceKernel() {
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public boolean supportsExtensions() {
        return true;
    }

    @Override
    public boolean supportsOutputs() {
        return true;
    }

    @Override
    public void run(LossProblem p, double[] tokenLoss, boolean[] tokenCorrect) {
        final int bN = p.batch();
        final int n = p.seqLen();
        final int vN = p.vocab();
        final Memory z = p.logits();
        final long sv = p.strideV();
        final int[] targets = p.targets();
        final boolean grad = p.wantsGradient();
        final Memory g = p.gradient();
        final double[] scale = p.gradScale();
        final long gsv = p.gStrideV();
        final double eps = p.labelSmoothing();
        final double lambda = p.zLoss();
        final double cap = p.softCap();
        final double[] entropy = p.entropyOut();
        final int[] argMax = p.argMaxOut();
        final double[] row = new double[vN];
        for (int b = 0; b < bN; b++) {
            for (int t = 0; t < n; t++) {
                int i = b * n + t;
                int y = targets[i];
                long start = p.rowStart(b, t);
                long grow = grad ? p.gRowStart(b, t) : 0;
                if (y < 0) {
                    tokenLoss[i] = 0.0;
                    tokenCorrect[i] = false;
                    if (entropy != null) {
                        entropy[i] = 0.0;
                    }
                    if (argMax != null) {
                        argMax[i] = -1;
                    }
                    if (grad) {
                        zeroRow(g, grow, gsv, vN);
                    }
                    continue;
                }
                // read the row once (the kernel may write the gradient over it when in place)
                for (int v = 0; v < vN; v++) {
                    double x = z.get(start + v * sv);
                    row[v] = cap > 0.0 ? cap * Math.tanh(x / cap) : x;
                }
                double max = Double.NEGATIVE_INFINITY;
                int arg = 0;
                boolean nan = false;
                for (int v = 0; v < vN; v++) {
                    double x = row[v];
                    if (x > max) {
                        max = x;
                        if (!nan) {
                            arg = v;
                        }
                    } else if (x != x && !nan) {
                        nan = true;
                        arg = v;
                    }
                }
                double sum = 0.0;
                double total = 0.0;
                for (int v = 0; v < vN; v++) {
                    sum += Math.exp(row[v] - max);
                    total += row[v];
                }
                double lse = max + Math.log(sum);
                double loss = lse - row[y];
                if (eps != 0.0) {
                    loss = (1.0 - eps) * loss + eps * (lse - total / vN);
                }
                if (lambda != 0.0) {
                    loss += lambda * lse * lse;
                }
                tokenLoss[i] = nan ? Double.NaN : loss;
                tokenCorrect[i] = arg == y;
                if (argMax != null) {
                    argMax[i] = arg;
                }
                if (entropy != null) {
                    double terms = 0.0;
                    for (int v = 0; v < vN; v++) {
                        double d = row[v] - max;
                        double e = Math.exp(d);
                        if (e > 0.0) {
                            terms += e * d;
                        }
                    }
                    entropy[i] = nan ? Double.NaN : Math.log(sum) - terms / sum;
                }
                if (grad) {
                    double s = scale[i];
                    if (s == 0.0) {
                        zeroRow(g, grow, gsv, vN);
                        continue;
                    }
                    double pScale = 1.0 + 2.0 * lambda * lse;
                    for (int v = 0; v < vN; v++) {
                        double sm = nan ? Double.NaN : Math.exp(row[v] - lse);
                        double d = sm * pScale - (v == y ? 1.0 - eps : 0.0) - eps / vN;
                        if (cap > 0.0) {
                            double th = row[v] / cap;
                            d *= 1.0 - th * th;
                        }
                        g.set(grow + v * gsv, s * d);
                    }
                }
            }
        }
    }

    private static void zeroRow(Memory g, long start, long stride, int n) {
        for (int v = 0; v < n; v++) {
            g.set(start + v * stride, 0.0);
        }
    }
}
