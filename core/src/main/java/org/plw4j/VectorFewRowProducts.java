package org.plw4j;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.plw4j.kernel.Memory;

/**
 * {@link FewRowProducts} on the Vector API, loaded reflectively (only when {@code jdk.incubator.vector} is resolved).
 * The lanes run over H. The forward takes {@value FewRowProducts#BLOCK} vocabulary rows at a time (their W rows
 * copied into an array that stays in L1) against 2 hidden rows per register block (8 accumulators; a 4-row block
 * was no faster, a 1-row block 1.3× slower on the benchmark shapes). The backward pair takes 32 vocabulary rows at a
 * time (their W and dW rows stay in L2) and runs both products as one rank-update loop, {@code accumulate}, in
 * 4-row × 4-vector register blocks (16 accumulators; 2-row blocks were 1.2× slower with 20 rows).
 *
 * <p>Each element is summed in one fixed order whatever the grouping: a {@code Z} element lane-wise over the
 * vector part of H in H order, the lanes added by {@code reduceLanes}, then the scalar tail of H; a {@code dW}
 * element over the rows in row order; a {@code dH} element over the segment's vocabulary rows in order. So the
 * register blocks, the single-vector loops and the scalar tails give the same bits for the same element. Scalar
 * tails run after the vector loops, in methods of their own: a scalar loop inlined into a vector loop can make C2
 * spill the loop's vectors (benchmarks/RESULTS.md, issue 13).
 */
final class VectorFewRowProducts extends FewRowProducts {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /**
     * One thread's copies: {@code W} rows, {@code dW} rows, a {@code [rows, segment]} block of Z or G, and the
     * hidden rows at the backward's padded stride.
     */
    private static final class Scratch {
        float[] w = new float[0];
        float[] dw = new float[0];
        float[] zg = new float[0];
        float[] h = new float[0];

        float[] h(int n) {
            return h.length >= n ? h : (h = new float[n]);
        }

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
                for (; r + 2 <= k; r += 2) {
                    dots2x4(h, r * hs, wb, hs, upper, zb, r * len + col, len);
                }
                if (r < k) {
                    dots1x4(h, r * hs, wb, hs, upper, zb, r * len + col);
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

    /**
     * Z of the hidden rows at {@code hOff} and {@code hOff + hs} and the 4 weight rows in {@code wb}, into
     * {@code zb[z0 .. z0+3]} and {@code zb[z0 + len .. z0 + len + 3]}: 8 accumulators, each W vector loaded once
     * for both rows.
     */
    private static void dots2x4(float[] h, int hOff, float[] wb, int hs, int upper, float[] zb, int z0, int len) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        for (int x = 0; x < upper; x += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, wb, x);
            FloatVector w1 = FloatVector.fromArray(F, wb, hs + x);
            FloatVector w2 = FloatVector.fromArray(F, wb, 2 * hs + x);
            FloatVector w3 = FloatVector.fromArray(F, wb, 3 * hs + x);
            FloatVector hx = FloatVector.fromArray(F, h, hOff + x);
            a0 = w0.fma(hx, a0);
            a1 = w1.fma(hx, a1);
            a2 = w2.fma(hx, a2);
            a3 = w3.fma(hx, a3);
            FloatVector gx = FloatVector.fromArray(F, h, hOff + hs + x);
            b0 = w0.fma(gx, b0);
            b1 = w1.fma(gx, b1);
            b2 = w2.fma(gx, b2);
            b3 = w3.fma(gx, b3);
        }
        zb[z0] = a0.reduceLanes(VectorOperators.ADD);
        zb[z0 + 1] = a1.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2] = a2.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3] = a3.reduceLanes(VectorOperators.ADD);
        zb[z0 + len] = b0.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 1] = b1.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 2] = b2.reduceLanes(VectorOperators.ADD);
        zb[z0 + len + 3] = b3.reduceLanes(VectorOperators.ADD);
        if (upper < hs) {
            for (int i = 0; i < BLOCK; i++) {
                zb[z0 + i] = dotTail(h, hOff, wb, i * hs, upper, hs, zb[z0 + i]);
                zb[z0 + len + i] = dotTail(h, hOff + hs, wb, i * hs, upper, hs, zb[z0 + len + i]);
            }
        }
    }

    /** Z of the hidden row at {@code hOff} and the 4 weight rows in {@code wb}, into {@code zb[z0 .. z0+3]}. */
    private static void dots1x4(float[] h, int hOff, float[] wb, int hs, int upper, float[] zb, int z0) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int x = 0; x < upper; x += F.length()) {
            FloatVector hx = FloatVector.fromArray(F, h, hOff + x);
            a0 = FloatVector.fromArray(F, wb, x).fma(hx, a0);
            a1 = FloatVector.fromArray(F, wb, hs + x).fma(hx, a1);
            a2 = FloatVector.fromArray(F, wb, 2 * hs + x).fma(hx, a2);
            a3 = FloatVector.fromArray(F, wb, 3 * hs + x).fma(hx, a3);
        }
        zb[z0] = a0.reduceLanes(VectorOperators.ADD);
        zb[z0 + 1] = a1.reduceLanes(VectorOperators.ADD);
        zb[z0 + 2] = a2.reduceLanes(VectorOperators.ADD);
        zb[z0 + 3] = a3.reduceLanes(VectorOperators.ADD);
        if (upper < hs) {
            for (int i = 0; i < BLOCK; i++) {
                zb[z0 + i] = dotTail(h, hOff, wb, i * hs, upper, hs, zb[z0 + i]);
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
        int ps = paddedStride(hs);
        float[] h = op.hidden();
        if (ps != hs) {
            float[] hp = sc.h(k * ps);
            for (int r = 0; r < k; r++) {
                System.arraycopy(h, r * hs, hp, r * ps, hs);
            }
            h = hp;
        }
        float[] wb = sc.w(SUB * ps);
        float[] db = sc.dw(SUB * ps);
        float[] gb = sc.zg(k * len);
        for (int r = 0; r < k; r++) {
            op.z().readFloats(r * op.zRowStride() + v0, 1, gb, r * len, len);
        }
        Arrays.fill(partials, pOff, pOff + k * hs, 0f);
        for (int v = v0; v < v1; v += SUB) {
            int nb = Math.min(SUB, v1 - v);
            for (int i = 0; i < nb; i++) {
                op.weight().readFloats((v + i) * op.weightRowStride(), 1, wb, i * ps, hs);
            }
            if (add) {
                for (int i = 0; i < nb; i++) {
                    dw.readFloats((v + i) * dwRowStride, 1, db, i * ps, hs);
                }
            } else {
                Arrays.fill(db, 0, nb * ps, 0f);
            }
            weightGradientBlock(h, k, hs, ps, gb, len, v - v0, nb, db);
            for (int i = 0; i < nb; i++) {
                dw.writeFloats((v + i) * dwRowStride, 1, db, i * ps, hs);
            }
            hiddenGradientBlock(wb, k, hs, ps, gb, len, v - v0, nb, partials, pOff);
        }
    }

    /** The vocabulary rows per inner block: their W and dW rows ({@code 2·SUB·H} floats) stay in L2. */
    private static final int SUB = 32;
    /** Vectors of H per register block. */
    private static final int XV = 4;

    /**
     * The row stride of the copied rows of H floats: H, or H + 16 when H is a multiple of 128. Rows 512 bytes
     * apart or a multiple of that fall into the same few sets of an 8-way L1, and the backward's register blocks
     * read 32 such rows per step; 64 more bytes per row spread them over the sets.
     */
    private static int paddedStride(int hs) {
        return hs % 128 == 0 ? hs + 16 : hs;
    }

    /**
     * {@code db[i, x] += Σ_r G[r, col + i]·h[r, x]} for the block's {@code nb} rows, rows summed in order; db and h
     * rows {@code ps} apart.
     */
    private static void weightGradientBlock(float[] h, int k, int hs, int ps, float[] gb, int len, int col, int nb,
            float[] db) {
        accumulate(db, 0, ps, nb, h, ps, k, gb, col, len, 1, hs);
    }

    /**
     * {@code part[r, x] += Σ_i G[r, col + i]·wb[i, x]} over the block's {@code nb} vocabulary rows in order; wb
     * rows {@code ps} apart, part rows {@code hs}.
     */
    private static void hiddenGradientBlock(float[] wb, int k, int hs, int ps, float[] gb, int len, int col, int nb,
            float[] part, int pOff) {
        accumulate(part, pOff, hs, k, wb, ps, nb, gb, col, 1, len, hs);
    }

    /**
     * {@code out[o0 + q·os + x] += Σ_{t < n} c[cOff + t·ct + q·cq]·b[t·bs + x]} for rows {@code q < rows} and
     * {@code x < hs}, each element summed over t in order: by 4 × 4-vector register blocks, then single vectors,
     * then the scalar tail of H.
     */
    private static void accumulate(float[] out, int o0, int os, int rows, float[] b, int bs, int n, float[] c,
            int cOff, int ct, int cq, int hs) {
        int l = F.length();
        int chunks = hs / (XV * l) * (XV * l);
        int upper = F.loopBound(hs);
        int q = 0;
        for (; q + 4 <= rows; q += 4) {
            for (int x = 0; x < chunks; x += XV * l) {
                block4x4(out, o0 + q * os, os, x, b, bs, n, c, cOff + q * cq, ct, cq);
            }
        }
        for (int p = 0; p < rows; p++) {
            int from = p < q ? chunks : 0;
            int o = o0 + p * os;
            for (int x = from; x < upper; x += l) {
                FloatVector acc = FloatVector.fromArray(F, out, o + x);
                for (int t = 0; t < n; t++) {
                    acc = FloatVector.broadcast(F, c[cOff + t * ct + p * cq]).fma(FloatVector.fromArray(F, b, t * bs + x),
                            acc);
                }
                acc.intoArray(out, o + x);
            }
        }
        if (upper < hs) {
            accumulateTail(out, o0, os, rows, b, bs, n, c, cOff, ct, cq, hs, upper);
        }
    }

    /** {@link #accumulate} for 4 rows from {@code o0} and the 4 vectors of H from {@code x}. */
    private static void block4x4(float[] out, int o0, int os, int x, float[] b, int bs, int n, float[] c, int cOff,
            int ct, int cq) {
        int l = F.length();
        int o1 = o0 + os;
        int o2 = o1 + os;
        int o3 = o2 + os;
        FloatVector a00 = FloatVector.fromArray(F, out, o0 + x);
        FloatVector a01 = FloatVector.fromArray(F, out, o0 + x + l);
        FloatVector a02 = FloatVector.fromArray(F, out, o0 + x + 2 * l);
        FloatVector a03 = FloatVector.fromArray(F, out, o0 + x + 3 * l);
        FloatVector a10 = FloatVector.fromArray(F, out, o1 + x);
        FloatVector a11 = FloatVector.fromArray(F, out, o1 + x + l);
        FloatVector a12 = FloatVector.fromArray(F, out, o1 + x + 2 * l);
        FloatVector a13 = FloatVector.fromArray(F, out, o1 + x + 3 * l);
        FloatVector a20 = FloatVector.fromArray(F, out, o2 + x);
        FloatVector a21 = FloatVector.fromArray(F, out, o2 + x + l);
        FloatVector a22 = FloatVector.fromArray(F, out, o2 + x + 2 * l);
        FloatVector a23 = FloatVector.fromArray(F, out, o2 + x + 3 * l);
        FloatVector a30 = FloatVector.fromArray(F, out, o3 + x);
        FloatVector a31 = FloatVector.fromArray(F, out, o3 + x + l);
        FloatVector a32 = FloatVector.fromArray(F, out, o3 + x + 2 * l);
        FloatVector a33 = FloatVector.fromArray(F, out, o3 + x + 3 * l);
        for (int t = 0; t < n; t++) {
            int bi = t * bs + x;
            FloatVector b0 = FloatVector.fromArray(F, b, bi);
            FloatVector b1 = FloatVector.fromArray(F, b, bi + l);
            FloatVector b2 = FloatVector.fromArray(F, b, bi + 2 * l);
            FloatVector b3 = FloatVector.fromArray(F, b, bi + 3 * l);
            int ci = cOff + t * ct;
            FloatVector c0 = FloatVector.broadcast(F, c[ci]);
            a00 = c0.fma(b0, a00);
            a01 = c0.fma(b1, a01);
            a02 = c0.fma(b2, a02);
            a03 = c0.fma(b3, a03);
            FloatVector c1 = FloatVector.broadcast(F, c[ci + cq]);
            a10 = c1.fma(b0, a10);
            a11 = c1.fma(b1, a11);
            a12 = c1.fma(b2, a12);
            a13 = c1.fma(b3, a13);
            FloatVector c2 = FloatVector.broadcast(F, c[ci + 2 * cq]);
            a20 = c2.fma(b0, a20);
            a21 = c2.fma(b1, a21);
            a22 = c2.fma(b2, a22);
            a23 = c2.fma(b3, a23);
            FloatVector c3 = FloatVector.broadcast(F, c[ci + 3 * cq]);
            a30 = c3.fma(b0, a30);
            a31 = c3.fma(b1, a31);
            a32 = c3.fma(b2, a32);
            a33 = c3.fma(b3, a33);
        }
        a00.intoArray(out, o0 + x);
        a01.intoArray(out, o0 + x + l);
        a02.intoArray(out, o0 + x + 2 * l);
        a03.intoArray(out, o0 + x + 3 * l);
        a10.intoArray(out, o1 + x);
        a11.intoArray(out, o1 + x + l);
        a12.intoArray(out, o1 + x + 2 * l);
        a13.intoArray(out, o1 + x + 3 * l);
        a20.intoArray(out, o2 + x);
        a21.intoArray(out, o2 + x + l);
        a22.intoArray(out, o2 + x + 2 * l);
        a23.intoArray(out, o2 + x + 3 * l);
        a30.intoArray(out, o3 + x);
        a31.intoArray(out, o3 + x + l);
        a32.intoArray(out, o3 + x + 2 * l);
        a33.intoArray(out, o3 + x + 3 * l);
    }

    /** The scalar part {@code [upper, hs)} of H of {@link #accumulate}, in the same order. */
    private static void accumulateTail(float[] out, int o0, int os, int rows, float[] b, int bs, int n, float[] c,
            int cOff, int ct, int cq, int hs, int upper) {
        for (int p = 0; p < rows; p++) {
            for (int x = upper; x < hs; x++) {
                int o = o0 + p * os + x;
                float acc = out[o];
                for (int t = 0; t < n; t++) {
                    acc = Math.fma(c[cOff + t * ct + p * cq], b[t * bs + x], acc);
                }
                out[o] = acc;
            }
        }
    }
}
