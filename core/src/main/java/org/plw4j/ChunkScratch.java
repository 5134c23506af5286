package org.plw4j;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The chunk buffers of the fused linear path, kept per thread from one call to the next. A buffer freshly
 * allocated for every call costs the first touch of its pages each time (hundreds of MB/s on a VM: as much as the
 * GEMMs of a small chunk); reused, it is touched once. Each thread that calls keeps at most one buffer per slot,
 * as large as the largest chunk it has needed (at most the chunk budget), until the thread ends. A call made
 * while the thread's buffers are in use (a nested call) gets buffers of its own.
 */
final class ChunkScratch {
    /** Slots: the logits/gradient chunk, the gathered hidden rows, the hidden-gradient rows. */
    static final int Z = 0;
    static final int HIDDEN = 1;
    static final int HIDDEN_GRADIENT = 2;

    private static final ThreadLocal<ChunkScratch> CURRENT = ThreadLocal.withInitial(ChunkScratch::new);

    private final INDArray[] owners = new INDArray[3];
    private boolean inUse;

    private ChunkScratch() {
    }

    /** @return this thread's buffers, or new ones if they are in use; give them back with {@link #release()} */
    static ChunkScratch acquire() {
        ChunkScratch s = CURRENT.get();
        if (s.inUse) {
            return new ChunkScratch();
        }
        s.inUse = true;
        return s;
    }

    /** Ends this use of the buffers (they stay allocated for the thread's next call). */
    void release() {
        inUse = false;
    }

    /**
     * @param slot {@link #Z}, {@link #HIDDEN} or {@link #HIDDEN_GRADIENT}
     * @param type the element type
     * @param rows rows, &gt;= 1
     * @param cols columns, &gt;= 1
     * @return a C-order {@code [rows, cols]} matrix over the slot's buffer, contents undefined
     */
    INDArray matrix(int slot, DataType type, long rows, long cols) {
        long need = rows * cols;
        INDArray owner = owners[slot];
        if (owner == null || owner.dataType() != type || owner.length() < need) {
            if (owner != null && owner.closeable()) {
                owner.close();
            }
            owner = Nd4j.createUninitializedDetached(type, need);
            owners[slot] = owner;
        }
        return Nd4j.create(owner.data(), new long[] {rows, cols}, new long[] {cols, 1}, 0, 'c');
    }
}
