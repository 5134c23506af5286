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
 * read twice (max, then sum) and, with a gradient, a third time and written once. Single-threaded.
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
        for (int b = 0; b < bN; b++) {
            for (int t = 0; t < n; t++) {
                int i = b * n + t;
                int y = targets[i];
                long row = p.rowStart(b, t);
                long grow = grad ? p.gRowStart(b, t) : 0;
                if (y < 0) {
                    tokenLoss[i] = 0.0;
                    tokenCorrect[i] = false;
                    if (grad) {
                        for (int v = 0; v < vN; v++) {
                            g.set(grow + v * gsv, 0.0);
                        }
                    }
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                int arg = 0;
                boolean nan = false;
                for (int v = 0; v < vN; v++) {
                    double x = z.get(row + v * sv);
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
                for (int v = 0; v < vN; v++) {
                    sum += Math.exp(z.get(row + v * sv) - max);
                }
                double zy = z.get(row + (long) y * sv);
                double lse = max + Math.log(sum);
                double loss = nan ? Double.NaN : lse - zy;
                tokenLoss[i] = loss;
                tokenCorrect[i] = arg == y;
                if (grad) {
                    double s = scale[i];
                    if (s == 0.0) {
                        for (int v = 0; v < vN; v++) {
                            g.set(grow + v * gsv, 0.0);
                        }
                    } else {
                        for (int v = 0; v < vN; v++) {
                            double x = z.get(row + v * sv);
                            double sm = nan ? Double.NaN : Math.exp(x - lse);
                            g.set(grow + v * gsv, s * (v == y ? sm - 1.0 : sm));
                        }
                    }
                }
            }
        }
    }
}
