package org.plw4j;

import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Random test inputs with a fixed seed: logits in any dtype, layout and view kind; ids; roles. */
final class TestData {
    private TestData() {
    }

    /** View kinds used by the contract tests. */
    enum ViewKind {
        C_ORDER, F_ORDER, SLICED, PERMUTED
    }

    /**
     * Logits of logical shape [b, n, v] stored in the given layout and view kind, values N(0, scale^2).
     */
    static INDArray logits(Random rnd, int b, int n, int v, boolean ncw, DataType dt, ViewKind kind, double scale) {
        long[] shape = ncw ? new long[] {b, v, n} : new long[] {b, n, v};
        double[] vals = new double[b * n * v];
        for (int i = 0; i < vals.length; i++) {
            vals[i] = rnd.nextGaussian() * scale;
        }
        INDArray base = Nd4j.createFromArray(vals).reshape(shape).castTo(dt);
        switch (kind) {
            case F_ORDER: {
                INDArray f = Nd4j.create(dt, shape, 'f');
                f.assign(base);
                return f;
            }
            case SLICED: {
                INDArray big = Nd4j.rand(dt, shape[0] + 1, shape[1] + 2, shape[2] + 3);
                INDArray view = big.get(NDArrayIndex.interval(1, shape[0] + 1), NDArrayIndex.interval(2, shape[1] + 2),
                        NDArrayIndex.interval(1, shape[2] + 1));
                view.assign(base);
                return view;
            }
            case PERMUTED: {
                INDArray other = Nd4j.create(dt, shape[0], shape[2], shape[1]);
                other.assign(base.permute(0, 2, 1));
                return other.permute(0, 2, 1);
            }
            default:
                return base;
        }
    }

    static long[][] ids(Random rnd, int b, int n, int v) {
        long[][] ids = new long[b][n];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                ids[r][t] = rnd.nextInt(v);
            }
        }
        return ids;
    }

    static int[][] roles(Random rnd, int b, int n) {
        int[][] roles = new int[b][n];
        for (int r = 0; r < b; r++) {
            int p = rnd.nextInt(n + 1);
            int len = p + rnd.nextInt(n - p + 1);
            for (int t = 0; t < n; t++) {
                roles[r][t] = t < p ? 1 : t < len ? 2 : 0;
            }
        }
        return roles;
    }

    static INDArray idArray(long[][] ids, DataType dt) {
        return Nd4j.createFromArray(ids).castTo(dt);
    }

    static double[][] toNwc(INDArray a, boolean ncw) {
        int b = (int) a.size(0);
        int n = (int) (ncw ? a.size(2) : a.size(1));
        int v = (int) (ncw ? a.size(1) : a.size(2));
        double[][] out = new double[b * n][v];
        for (int r = 0; r < b; r++) {
            for (int t = 0; t < n; t++) {
                for (int c = 0; c < v; c++) {
                    out[r * n + t][c] = ncw ? a.getDouble(r, c, t) : a.getDouble(r, t, c);
                }
            }
        }
        return out;
    }
}
