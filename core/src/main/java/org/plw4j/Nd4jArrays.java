package org.plw4j;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.Memory;

/**
 * The ND4J boundary: reads small integer/weight arrays into Java arrays and exposes the logits'
 * native memory to the kernel layer in place (no copy), as byte-buffer windows of at most 1 GiB.
 */
final class Nd4jArrays {
    /** Bytes per byte-buffer window over native memory (1 GiB; tests lower it to exercise many windows). */
    static volatile long windowBytes = 1L << 30;

    private Nd4jArrays() {
    }

    /**
     * A view of an array's memory: the memory starts at the array's first element.
     *
     * @param memory the array's elements, in place
     * @param strides the array's strides in elements
     */
    record View(Memory memory, long[] strides) {
    }

    /**
     * The null check of the public entry points' arguments (arrays, masks, settings).
     *
     * @param value an argument
     * @param param its name
     * @throws IllegalArgumentException ("{@code param} must not be null") if {@code value} is null
     */
    static void requireNonNull(Object value, String param) {
        if (value == null) {
            throw new IllegalArgumentException(param + " must not be null");
        }
    }

    static ElementType elementType(INDArray a, String param) {
        DataType dt = a.dataType();
        return switch (dt) {
            case FLOAT -> ElementType.FLOAT32;
            case DOUBLE -> ElementType.FLOAT64;
            case HALF -> ElementType.FLOAT16;
            case BFLOAT16 -> ElementType.BFLOAT16;
            default -> throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have dtype FLOAT, DOUBLE, HALF or BFLOAT16, was %s", param, dt));
        };
    }

    /**
     * Exposes an array's elements in place. Element {@code (i0, i1, ...)} is at
     * {@code sum(ik * strides[k])} of the returned memory. Strides must be non-negative.
     */
    static View view(INDArray a, String param) {
        ElementType type = elementType(a, param);
        long[] shape = a.shape();
        long[] strides = a.stride().clone();
        long span = 1; // elements from the first to the last element, inclusive
        for (int k = 0; k < shape.length; k++) {
            if (shape[k] == 0) {
                span = 0;
                break;
            }
            if (strides[k] < 0) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s must have non-negative strides, stride %d was %d", param, k, strides[k]));
            }
            if (shape[k] == 1) {
                strides[k] = 0;
            }
            span += (shape[k] - 1) * strides[k];
        }
        int bytes = type.bytes();
        long windowElems = Math.max(1, windowBytes / bytes);
        long startByte = a.offset() * bytes;
        long address = a.data().address();
        // a view's DataBuffer reports the original buffer's address and its own offset; a.offset()
        // counts from that address too
        long baseCap = a.data().originalDataBuffer() != null
                ? Math.max(a.data().originalDataBuffer().length(), a.data().offset() + a.data().length()) * bytes
                : (a.data().offset() + a.data().length()) * bytes;
        int nWin = (int) Math.max(1, (span + windowElems - 1) / windowElems);
        ByteBuffer[] wins = new ByteBuffer[nWin];
        for (int w = 0; w < nWin; w++) {
            long from = startByte + w * windowElems * bytes;
            long to = Math.min(startByte + span * bytes, from + windowElems * bytes);
            if (to > baseCap) {
                throw new IllegalStateException("array view reaches past its buffer: " + to + " > " + baseCap);
            }
            wins[w] = new RawPointer(address + from, to - from).asByteBuffer();
        }
        return new View(Memory.ofBuffers(type, span, windowElems, wins), strides);
    }

    /** A byte pointer at a raw native address (javacpp's address field is protected). */
    private static final class RawPointer extends BytePointer {
        RawPointer(long address, long limit) {
            super((Pointer) null);
            this.address = address;
            this.capacity = limit;
            this.limit = limit;
        }
    }

    /** Reads an array of integral values; FLOAT/DOUBLE/HALF/BFLOAT16 must be integral at every element. */
    @SuppressWarnings("deprecation") // DataType.LONG: ND4J normalises INT64 arrays to it
    static long[] integral(INDArray a, String param) {
        DataType dt = a.dataType();
        if (dt.isIntType() || dt == DataType.UINT64) {
            INDArray c = dt == DataType.LONG ? a : a.castTo(DataType.LONG);
            return c.dup('c').data().asLong();
        }
        if (dt.isFPType()) {
            double[] d = a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            long[] out = new long[d.length];
            for (int i = 0; i < d.length; i++) {
                double x = d[i];
                if (!(x == Math.rint(x)) || Math.abs(x) > 9.0e15) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "%s must hold integral values, element %s was %s", param, index(a.shape(), i), x));
                }
                out[i] = (long) x;
            }
            return out;
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "%s must have an integer dtype (INT, LONG) or an integral FLOAT/DOUBLE, was %s", param, dt));
    }

    /** Reads a floating-point or integer array as doubles in C order. */
    static double[] doubles(INDArray a, String param) {
        DataType dt = a.dataType();
        if (!dt.isNumerical()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must be numeric, was %s", param, dt));
        }
        return a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    }

    /** Formats a C-order flat index as [i, j, ...]. */
    static String index(long[] shape, long flat) {
        long[] idx = new long[shape.length];
        for (int k = shape.length - 1; k >= 0; k--) {
            idx[k] = shape[k] == 0 ? 0 : flat % shape[k];
            flat = shape[k] == 0 ? 0 : flat / shape[k];
        }
        return Arrays.toString(idx);
    }

    static String shape(INDArray a) {
        return Arrays.toString(a.shape());
    }
}
