package org.plw4j;

import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.plw4j.kernel.Memory;

/**
 * The products of a chunk of few rows with the {@code lm_head}, for the fused linear path in fp32: the forward
 * {@code Z = h_c·Wᵀ} and the backward pair {@code dH_c = G·W}, {@code dW (+)= Gᵀ·h_c}, each in one streaming pass
 * over the vocabulary. With a handful of rows (a PLW 0 call that skips its prompt rows keeps about 1 % of them)
 * every product is bound by the bytes of {@code W} and {@code dW}, not by flops: BLAS GEMMs at such row counts
 * stream {@code W} at a fraction of the memory bandwidth, read {@code W} twice for the two backward products and,
 * for an overwritten {@code dW}, clear it in a pass of its own. Here the backward pair reads each row of {@code W}
 * once and writes each row of {@code dW} once.
 *
 * <p>Order of the sums, fixed so that results do not depend on the number of threads: the vocabulary is cut into
 * at most {@value #SEGMENTS} segments whose bounds depend only on V; {@code Z} and {@code dW} elements are sums over
 * H computed whole by one thread, and {@code dH_c} is summed per segment in vocabulary order, then over the
 * segments in their order. Loaded only when {@code jdk.incubator.vector} is resolved ({@link #available()}); the
 * fused path uses BLAS otherwise.
 */
abstract class FewRowProducts {
    /** The most rows per chunk these products take; more rows go to BLAS, whose GEMMs then run near full speed. */
    static final int MAX_ROWS = 32;
    /** The vocabulary segments (fewer when V is small): the units of work, and the order of the dH sums. */
    static final int SEGMENTS = 16;
    /** Segment bounds are multiples of this: the vocabulary rows that one step of the inner loops takes. */
    static final int BLOCK = 4;

    private static final FewRowProducts INSTANCE = load();

    /** The row-major {@code [rows, H]} hidden rows and the memory of one call's operands. */
    record Operands(int rows, int hiddenSize, int vocab, float[] hidden, Memory weight, long weightRowStride,
            Memory z, long zRowStride) {
    }

    /** @return the products, or null when the Vector API is not resolved in this JVM */
    static FewRowProducts available() {
        return INSTANCE;
    }

    private static FewRowProducts load() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return null;
        }
        try {
            return (FewRowProducts) Class.forName("org.plw4j.VectorFewRowProducts").getDeclaredConstructor()
                    .newInstance();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            System.getLogger(FewRowProducts.class.getName()).log(System.Logger.Level.WARNING,
                    "plw4j: the few-row products failed to load; the fused linear path uses BLAS for them", e);
            return null;
        }
    }

    /** @return the vocabulary rows per segment: a multiple of {@value #BLOCK}, at least one block */
    static int segmentLength(int vocab) {
        int len = (vocab + SEGMENTS - 1) / SEGMENTS;
        return Math.max(BLOCK, (len + BLOCK - 1) / BLOCK * BLOCK);
    }

    /**
     * {@code Z[r, v] = Σ_x h[r, x]·W[v, x]} for every row and vocabulary entry, written to {@code op.z()}.
     *
     * @param threads the most threads to use (1: the calling thread only)
     */
    final void forward(Operands op, int threads) {
        int len = segmentLength(op.vocab());
        int segments = (op.vocab() + len - 1) / len;
        each(segments, threads, s -> forwardSegment(op, s * len, Math.min(op.vocab(), s * len + len)));
    }

    /**
     * {@code dH[r, x] = Σ_v G[r, v]·W[v, x]} into {@code dh} (row-major {@code [rows, H]}) and
     * {@code dW[v, x] = (add ? dW[v, x] : 0) + Σ_r G[r, v]·h[r, x]} into {@code dw}, G being {@code op.z()}.
     *
     * @param dw the memory of dW, row {@code v} at {@code v·dwRowStride}, unit stride over H
     * @param threads the most threads to use (1: the calling thread only)
     */
    final void backward(Operands op, Memory dw, long dwRowStride, boolean add, float[] dh, int threads) {
        int len = segmentLength(op.vocab());
        int segments = (op.vocab() + len - 1) / len;
        int rowsH = op.rows() * op.hiddenSize();
        float[] partials = new float[segments * rowsH];
        each(segments, threads, s -> backwardSegment(op, s * len, Math.min(op.vocab(), s * len + len), dw,
                dwRowStride, add, partials, s * rowsH));
        Arrays.fill(dh, 0, rowsH, 0f);
        for (int s = 0; s < segments; s++) {
            int off = s * rowsH;
            for (int i = 0; i < rowsH; i++) {
                dh[i] += partials[off + i];
            }
        }
    }

    private static void each(int segments, int threads, IntConsumer body) {
        if (threads <= 1 || segments == 1) {
            for (int s = 0; s < segments; s++) {
                body.accept(s);
            }
        } else {
            IntStream.range(0, segments).parallel().forEach(body);
        }
    }

    /** The forward product for vocabulary rows {@code [v0, v1)}. */
    abstract void forwardSegment(Operands op, int v0, int v1);

    /** The backward pair for vocabulary rows {@code [v0, v1)}; this segment's dH sums go to {@code partials}. */
    abstract void backwardSegment(Operands op, int v0, int v1, Memory dw, long dwRowStride, boolean add,
            float[] partials, int partialsOffset);
}
