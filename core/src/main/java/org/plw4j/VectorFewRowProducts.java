package org.plw4j;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.plw4j.kernel.Memory;

/**
 * {@link FewRowProducts} on the Vector API, loaded reflectively (only when {@code jdk.incubator.vector} is resolved).
 * The inner loops take {@value FewRowProducts#BLOCK} vocabulary rows at a time, their rows of {@code W} (and of
 * {@code dW}) copied into small arrays that stay in L1 while every hidden row passes over them, and the lanes run
 * over H. Each element is summed in one fixed order whatever the grouping: a {@code Z} element lane-wise over the
 * vector part of H in H order, the lanes added by {@code reduceLanes}, then the scalar tail of H; a {@code dW}
 * element over the rows in row order; a {@code dH} element over the segment's vocabulary rows in order. So the
 * 4 × 4 register blocks, the single-row loops and the segment tails give the same bits for the same element. The
 * scalar tails are methods of their own: a scalar loop inlined beside a vector loop can make C2 spill the loop's
 * vectors (benchmarks/RESULTS.md, issue 13).
 */
final class VectorFewRowProducts extends FewRowProducts {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** One thread's copies: {@code W} rows, {@code dW} rows, and a {@code [rows, segment]} block of Z or G. */
    private static final class Scratch {
        float[] w = new float[0];
        float[] dw = new float[0];
        float[] zg = new float[0];

        float[] w(int n) {
            return w.length >= n ? w : (w = new float[n]);
        }

        float[] dw(int n) {
            return dw.length >= n ? dw : (dw = new float[n]);
        }

        float[] zg(int n) {
            return zg.length >= n ? zg : (zg = new float[n]);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    @Override
    void forwardSegment(Operands op, int v0, int v1) {
        Scratch sc = SCRATCH.get();
        int hs = op.hiddenSize();
        int k = op.rows();
        int len = v1 - v0;
        float[] h = op.hidden();
        float[] wb = sc.w(BLOCK * hs);
        float[] zb = sc.zg(k * len);
        int upper = F.loopBound(hs);
        for (int v = v0; v < v1; v += BLOCK) {
            int nb = Math.min(BLOCK, v1 - v);
            for (int i = 0; i < nb; i++) {
                op.weight().readFloats((v + i) * op.weightRowStride(), 1, wb, i * hs, hs);
            }
            int col = v - v0;
            if (nb == BLOCK) {
                int r = 0;
                for (; r + 4 <= k; r += 4) {
                    dots4x4(h, r, wb, hs, upper, zb, len, col);
                }
                for (; r < k; r++) {
                    for (int i = 0; i < BLOCK; i++) {
                        zb[r * len + col + i] = dot(h, r * hs, wb, i * hs, hs, upper);
                    }
                }
            } else {
                for (int r = 0; r < k; r++) {
                    for (int i = 0; i < nb; i++) {
                        zb[r * len + col + i] = dot(h, r * hs, wb, i * hs, hs, upper);
                    }
                }
            }
        }
        for (int r = 0; r < k; r++) {
            op.z().writeFloats(r * op.zRowStride() + v0, 1, zb, r * len, len);
        }
    }

    /** Z of hidden rows r .. r+3 and the 4 weight rows in {@code wb}, into columns col .. col+3 of {@code zb}. */
    private static void dots4x4(float[] h, int r, float[] wb, int hs, int upper, float[] zb, int len, int col) {
        int h0 = r * hs;
        int h1 = h0 + hs;
        int h2 = h1 + hs;
        int h3 = h2 + hs;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int x = 0; x < upper; x += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, wb, x);
            FloatVector w1 = FloatVector.fromArray(F, wb, hs + x);
            FloatVector w2 = FloatVector.fromArray(F, wb, 2 * hs + x);
            FloatVector w3 = FloatVector.fromArray(F, wb, 3 * hs + x);
            FloatVector x0 = FloatVector.fromArray(F, h, h0 + x);
            a00 = w0.fma(x0, a00);
            a01 = w1.fma(x0, a01);
            a02 = w2.fma(x0, a02);
            a03 = w3.fma(x0, a03);
            FloatVector x1 = FloatVector.fromArray(F, h, h1 + x);
            a10 = w0.fma(x1, a10);
            a11 = w1.fma(x1, a11);
            a12 = w2.fma(x1, a12);
            a13 = w3.fma(x1, a13);
            FloatVector x2 = FloatVector.fromArray(F, h, h2 + x);
            a20 = w0.fma(x2, a20);
            a21 = w1.fma(x2, a21);
            a22 = w2.fma(x2, a22);
            a23 = w3.fma(x2, a23);
            FloatVector x3 = FloatVector.fromArray(F, h, h3 + x);
            a30 = w0.fma(x3, a30);
            a31 = w1.fma(x3, a31);
            a32 = w2.fma(x3, a32);
            a33 = w3.fma(x3, a33);
        }
        int z0 = r * len + col;
        zb[z0] = a00.reduceLanes(VectorOperators.ADD);
        zb[z0 + 1] = a01.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2] = a02.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3] = a03.reduceLanes(VectorOperators.ADD);
        zb[z0 + len] = a10.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 1] = a11.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 2] = a12.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 3] = a13.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2 * len] = a20.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2 * len + 1] = a21.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2 * len + 2] = a22.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2 * len + 3] = a23.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3 * len] = a30.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3 * len + 1] = a31.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3 * len + 2] = a32.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3 * len + 3] = a33.reduceLanes(VectorOperators.ADD);
        if (upper < hs) {
            dotTails4x4(h, h0, wb, hs, upper, zb, len, z0);
        }
    }

    /** Adds the scalar tails {@code [upper, hs)} to the 4 × 4 block of Z at {@code z0}. */
    private static void dotTails4x4(float[] h, int h0, float[] wb, int hs, int upper, float[] zb, int len, int z0) {
        for (int r = 0; r < 4; r++) {
            for (int i = 0; i < BLOCK; i++) {
                int at = z0 + r * len + i;
                zb[at] = dotTail(h, h0 + r * hs, wb, i * hs, upper, hs, zb[at]);
            }
        }
    }

    /** One Z element: hidden row at {@code hOff}, weight row at {@code wOff}. */
    private static float dot(float[] h, int hOff, float[] wb, int wOff, int hs, int upper) {
        FloatVector a = FloatVector.zero(F);
        for (int x = 0; x < upper; x += F.length()) {
            a = FloatVector.fromArray(F, wb, wOff + x).fma(FloatVector.fromArray(F, h, hOff + x), a);
        }
        float sum = a.reduceLanes(VectorOperators.ADD);
        return upper < hs ? dotTail(h, hOff, wb, wOff, upper, hs, sum) : sum;
    }

    private static float dotTail(float[] h, int hOff, float[] wb, int wOff, int upper, int hs, float sum) {
        for (int x = upper; x < hs; x++) {
            sum = Math.fma(wb[wOff + x], h[hOff + x], sum);
        }
        return sum;
    }

    @Override
    void backwardSegment(Operands op, int v0, int v1, Memory dw, long dwRowStride, boolean add, float[] partials,
            int pOff) {
        Scratch sc = SCRATCH.get();
        int hs = op.hiddenSize();
        int k = op.rows();
        int len = v1 - v0;
        float[] h = op.hidden();
        float[] wb = sc.w(SUB * hs);
        float[] db = sc.dw(SUB * hs);
        float[] gb = sc.zg(k * len);
        for (int r = 0; r < k; r++) {
            op.z().readFloats(r * op.zRowStride() + v0, 1, gb, r * len, len);
        }
        Arrays.fill(partials, pOff, pOff + k * hs, 0f);
        for (int v = v0; v < v1; v += SUB) {
            int nb = Math.min(SUB, v1 - v);
            for (int i = 0; i < nb; i++) {
                op.weight().readFloats((v + i) * op.weightRowStride(), 1, wb, i * hs, hs);
            }
            if (add) {
                for (int i = 0; i < nb; i++) {
                    dw.readFloats((v + i) * dwRowStride, 1, db, i * hs, hs);
                }
            } else {
                Arrays.fill(db, 0, nb * hs, 0f);
            }
            weightGradientBlock(h, k, hs, gb, len, v - v0, nb, db);
            for (int i = 0; i < nb; i++) {
                dw.writeFloats((v + i) * dwRowStride, 1, db, i * hs, hs);
            }
            hiddenGradientBlock(wb, k, hs, gb, len, v - v0, nb, partials, pOff);
        }
    }

    /** The vocabulary rows per inner block: their W and dW rows ({@code 2·SUB·H} floats) stay in L2. */
    private static final int SUB = 32;
    /** Vectors of H per register block. */
    private static final int XV = 4;

    /** {@code db[i, x] += Σ_r G[r, col + i]·h[r, x]} for the block's {@code nb} rows, rows summed in order. */
    private static void weightGradientBlock(float[] h, int k, int hs, float[] gb, int len, int col, int nb,
            float[] db) {
        int l = F.length();
        int chunks = hs / (XV * l) * (XV * l);
        int upper = F.loopBound(hs);
        int i = 0;
        for (; i + 4 <= nb; i += 4) {
            for (int x = 0; x < chunks; x += XV * l) {
                dw4x4(h, k, hs, gb, len, col + i, db, i * hs, x);
            }
        }
        for (int q = 0; q < nb; q++) {
            int from = q < i ? chunks : 0;
            for (int x = from; x < upper; x += l) {
                FloatVector d = FloatVector.fromArray(F, db, q * hs + x);
                for (int r = 0; r < k; r++) {
                    d = FloatVector.broadcast(F, gb[r * len + col + q]).fma(FloatVector.fromArray(F, h, r * hs + x), d);
                }
                d.intoArray(db, q * hs + x);
            }
        }
        if (upper < hs) {
            weightGradientTail(h, k, hs, gb, len, col, nb, db, upper);
        }
    }

    private static void dw4x4(float[] h, int k, int hs, float[] gb, int len, int col, float[] db, int d0, int x) {
        int l = F.length();
        int d1 = d0 + hs;
        int d2 = d1 + hs;
        int d3 = d2 + hs;
        FloatVector a00 = FloatVector.fromArray(F, db, d0 + x);
        FloatVector a01 = FloatVector.fromArray(F, db, d0 + x + l);
        FloatVector a02 = FloatVector.fromArray(F, db, d0 + x + 2 * l);
        FloatVector a03 = FloatVector.fromArray(F, db, d0 + x + 3 * l);
        FloatVector a10 = FloatVector.fromArray(F, db, d1 + x);
        FloatVector a11 = FloatVector.fromArray(F, db, d1 + x + l);
        FloatVector a12 = FloatVector.fromArray(F, db, d1 + x + 2 * l);
        FloatVector a13 = FloatVector.fromArray(F, db, d1 + x + 3 * l);
        FloatVector a20 = FloatVector.fromArray(F, db, d2 + x);
        FloatVector a21 = FloatVector.fromArray(F, db, d2 + x + l);
        FloatVector a22 = FloatVector.fromArray(F, db, d2 + x + 2 * l);
        FloatVector a23 = FloatVector.fromArray(F, db, d2 + x + 3 * l);
        FloatVector a30 = FloatVector.fromArray(F, db, d3 + x);
        FloatVector a31 = FloatVector.fromArray(F, db, d3 + x + l);
        FloatVector a32 = FloatVector.fromArray(F, db, d3 + x + 2 * l);
        FloatVector a33 = FloatVector.fromArray(F, db, d3 + x + 3 * l);
        for (int r = 0; r < k; r++) {
            int hr = r * hs + x;
            FloatVector h0 = FloatVector.fromArray(F, h, hr);
            FloatVector h1 = FloatVector.fromArray(F, h, hr + l);
            FloatVector h2 = FloatVector.fromArray(F, h, hr + 2 * l);
            FloatVector h3 = FloatVector.fromArray(F, h, hr + 3 * l);
            int g = r * len + col;
            FloatVector g0 = FloatVector.broadcast(F, gb[g]);
            a00 = g0.fma(h0, a00);
            a01 = g0.fma(h1, a01);
            a02 = g0.fma(h2, a02);
            a03 = g0.fma(h3, a03);
            FloatVector g1 = FloatVector.broadcast(F, gb[g + 1]);
            a10 = g1.fma(h0, a10);
            a11 = g1.fma(h1, a11);
            a12 = g1.fma(h2, a12);
            a13 = g1.fma(h3, a13);
            FloatVector g2 = FloatVector.broadcast(F, gb[g + 2]);
            a20 = g2.fma(h0, a20);
            a21 = g2.fma(h1, a21);
            a22 = g2.fma(h2, a22);
            a23 = g2.fma(h3, a23);
            FloatVector g3 = FloatVector.broadcast(F, gb[g + 3]);
            a30 = g3.fma(h0, a30);
            a31 = g3.fma(h1, a31);
            a32 = g3.fma(h2, a32);
            a33 = g3.fma(h3, a33);
        }
        a00.intoArray(db, d0 + x);
        a01.intoArray(db, d0 + x + l);
        a02.intoArray(db, d0 + x + 2 * l);
        a03.intoArray(db, d0 + x + 3 * l);
        a10.intoArray(db, d1 + x);
        a11.intoArray(db, d1 + x + l);
        a12.intoArray(db, d1 + x + 2 * l);
        a13.intoArray(db, d1 + x + 3 * l);
        a20.intoArray(db, d2 + x);
        a21.intoArray(db, d2 + x + l);
        a22.intoArray(db, d2 + x + 2 * l);
        a23.intoArray(db, d2 + x + 3 * l);
        a30.intoArray(db, d3 + x);
        a31.intoArray(db, d3 + x + l);
        a32.intoArray(db, d3 + x + 2 * l);
        a33.intoArray(db, d3 + x + 3 * l);
    }

    private static void weightGradientTail(float[] h, int k, int hs, float[] gb, int len, int col, int nb, float[] db,
            int upper) {
        for (int q = 0; q < nb; q++) {
            for (int x = upper; x < hs; x++) {
                float d = db[q * hs + x];
                for (int r = 0; r < k; r++) {
                    d = Math.fma(gb[r * len + col + q], h[r * hs + x], d);
                }
                db[q * hs + x] = d;
            }
        }
    }

    /**
     * {@code part[r, x] += Σ_i G[r, col + i]·wb[i, x]} over the block's {@code nb} vocabulary rows in order.
     */
    private static void hiddenGradientBlock(float[] wb, int k, int hs, float[] gb, int len, int col, int nb,
            float[] part, int pOff) {
        int l = F.length();
        int chunks = hs / (XV * l) * (XV * l);
        int upper = F.loopBound(hs);
        int r = 0;
        for (; r + 4 <= k; r += 4) {
            for (int x = 0; x < chunks; x += XV * l) {
                dh4x4(wb, hs, gb, len, col, nb, part, pOff + r * hs, r * len, x);
            }
        }
        for (int q = 0; q < k; q++) {
            int from = q < r ? chunks : 0;
            int p = pOff + q * hs;
            for (int x = from; x < upper; x += l) {
                FloatVector acc = FloatVector.fromArray(F, part, p + x);
                for (int i = 0; i < nb; i++) {
                    acc = FloatVector.broadcast(F, gb[q * len + col + i]).fma(FloatVector.fromArray(F, wb, i * hs + x),
                            acc);
                }
                acc.intoArray(part, p + x);
            }
        }
        if (upper < hs) {
            hiddenGradientTail(wb, k, hs, gb, len, col, nb, part, pOff, upper);
        }
    }

    private static void dh4x4(float[] wb, int hs, float[] gb, int len, int col, int nb, float[] part, int p0, int g0,
            int x) {
        int l = F.length();
        int p1 = p0 + hs;
        int p2 = p1 + hs;
        int p3 = p2 + hs;
        FloatVector a00 = FloatVector.fromArray(F, part, p0 + x);
        FloatVector a01 = FloatVector.fromArray(F, part, p0 + x + l);
        FloatVector a02 = FloatVector.fromArray(F, part, p0 + x + 2 * l);
        FloatVector a03 = FloatVector.fromArray(F, part, p0 + x + 3 * l);
        FloatVector a10 = FloatVector.fromArray(F, part, p1 + x);
        FloatVector a11 = FloatVector.fromArray(F, part, p1 + x + l);
        FloatVector a12 = FloatVector.fromArray(F, part, p1 + x + 2 * l);
        FloatVector a13 = FloatVector.fromArray(F, part, p1 + x + 3 * l);
        FloatVector a20 = FloatVector.fromArray(F, part, p2 + x);
        FloatVector a21 = FloatVector.fromArray(F, part, p2 + x + l);
        FloatVector a22 = FloatVector.fromArray(F, part, p2 + x + 2 * l);
        FloatVector a23 = FloatVector.fromArray(F, part, p2 + x + 3 * l);
        FloatVector a30 = FloatVector.fromArray(F, part, p3 + x);
        FloatVector a31 = FloatVector.fromArray(F, part, p3 + x + l);
        FloatVector a32 = FloatVector.fromArray(F, part, p3 + x + 2 * l);
        FloatVector a33 = FloatVector.fromArray(F, part, p3 + x + 3 * l);
        for (int i = 0; i < nb; i++) {
            int wi = i * hs + x;
            FloatVector w0 = FloatVector.fromArray(F, wb, wi);
            FloatVector w1 = FloatVector.fromArray(F, wb, wi + l);
            FloatVector w2 = FloatVector.fromArray(F, wb, wi + 2 * l);
            FloatVector w3 = FloatVector.fromArray(F, wb, wi + 3 * l);
            int g = g0 + col + i;
            FloatVector c0 = FloatVector.broadcast(F, gb[g]);
            a00 = c0.fma(w0, a00);
            a01 = c0.fma(w1, a01);
            a02 = c0.fma(w2, a02);
            a03 = c0.fma(w3, a03);
            FloatVector c1 = FloatVector.broadcast(F, gb[g + len]);
            a10 = c1.fma(w0, a10);
            a11 = c1.fma(w1, a11);
            a12 = c1.fma(w2, a12);
            a13 = c1.fma(w3, a13);
            FloatVector c2 = FloatVector.broadcast(F, gb[g + 2 * len]);
            a20 = c2.fma(w0, a20);
            a21 = c2.fma(w1, a21);
            a22 = c2.fma(w2, a22);
            a23 = c2.fma(w3, a23);
            FloatVector c3 = FloatVector.broadcast(F, gb[g + 3 * len]);
            a30 = c3.fma(w0, a30);
            a31 = c3.fma(w1, a31);
            a32 = c3.fma(w2, a32);
            a33 = c3.fma(w3, a33);
        }
        a00.intoArray(part, p0 + x);
        a01.intoArray(part, p0 + x + l);
        a02.intoArray(part, p0 + x + 2 * l);
        a03.intoArray(part, p0 + x + 3 * l);
        a10.intoArray(part, p1 + x);
        a11.intoArray(part, p1 + x + l);
        a12.intoArray(part, p1 + x + 2 * l);
        a13.intoArray(part, p1 + x + 3 * l);
        a20.intoArray(part, p2 + x);
        a21.intoArray(part, p2 + x + l);
        a22.intoArray(part, p2 + x + 2 * l);
        a23.intoArray(part, p2 + x + 3 * l);
        a30.intoArray(part, p3 + x);
        a31.intoArray(part, p3 + x + l);
        a32.intoArray(part, p3 + x + 2 * l);
        a33.intoArray(part, p3 + x + 3 * l);
    }

    private static void hiddenGradientTail(float[] wb, int k, int hs, float[] gb, int len, int col, int nb,
            float[] part, int pOff, int upper) {
        for (int q = 0; q < k; q++) {
            for (int x = upper; x < hs; x++) {
                int p = pOff + q * hs + x;
                float acc = part[p];
                for (int i = 0; i < nb; i++) {
                    acc = Math.fma(gb[q * len + col + i], wb[i * hs + x], acc);
                }
                part[p] = acc;
            }
        }
    }
}
