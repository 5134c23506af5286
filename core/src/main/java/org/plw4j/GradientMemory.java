package org.plw4j;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.indexer.Bfloat16Indexer;
import org.bytedeco.javacpp.indexer.DoubleIndexer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.bytedeco.javacpp.indexer.HalfIndexer;
import org.bytedeco.javacpp.indexer.Indexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Allocates the new gradient array of {@code computeWithGradient}, which the kernel then writes in full.
 *
 * <ul>
 * <li>In an active ND4J workspace: {@code Nd4j.createUninitialized}, i.e. in the workspace, whose memory
 *     a loop reuses.</li>
 * <li>Otherwise, from {@value #MIN_BYTES} bytes on: native memory from JavaCPP's typed pointers (which do
 *     not initialise it), advised to {@link HugePages} before anything writes it, wrapped as an ND4J buffer
 *     that keeps the pointer (JavaCPP frees it when the array is collected or closed, as for ND4J's own
 *     arrays). ND4J's own {@code createUninitialized} writes every byte on one thread, taking the page
 *     faults of the whole array before the kernel writes it again ({@code benchmarks/RESULTS.md}); this
 *     way the pages are first touched by the kernel's own workers, in 2 MiB pages where Linux allows.</li>
 * <li>Smaller arrays, and other data types: {@code Nd4j.createUninitialized}.</li>
 * </ul>
 */
final class GradientMemory {
    /** Below this size the fault cost is negligible and ND4J's allocation is used as is. */
    static final long MIN_BYTES = 4L << 20;

    private GradientMemory() {
    }

    /**
     * @param type the element type (the logits' type)
     * @param shape the shape, C order
     * @return an array of that type and shape, contents unspecified
     */
    static INDArray allocate(DataType type, long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (Nd4j.getMemoryManager().getCurrentWorkspace() != null || n * type.width() < MIN_BYTES) {
            return Nd4j.createUninitialized(type, shape, 'c');
        }
        Pointer p;
        Indexer ix;
        switch (type) {
            case FLOAT -> {
                FloatPointer f = new FloatPointer(n);
                p = f;
                ix = FloatIndexer.create(f);
            }
            case DOUBLE -> {
                DoublePointer d = new DoublePointer(n);
                p = d;
                ix = DoubleIndexer.create(d);
            }
            case HALF, BFLOAT16 -> {
                ShortPointer s = new ShortPointer(n);
                p = s;
                ix = type == DataType.HALF ? HalfIndexer.create(s) : Bfloat16Indexer.create(s);
            }
            default -> {
                return Nd4j.createUninitialized(type, shape, 'c');
            }
        }
        HugePages.advise(p.address(), n * type.width());
        DataBuffer buffer = Nd4j.createBuffer(p, type, n, ix);
        return Nd4j.create(buffer, shape, Nd4j.getStrides(shape, 'c'), 0, 'c');
    }
}
