package org.plw4j.kernel;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Objects;

/**
 * Flat typed memory addressed by a {@code long} element index: a Java array or a set of
 * {@link ByteBuffer} windows over native memory (ND4J's off-heap buffers, which may exceed the
 * 2 GiB that one {@code ByteBuffer} can address). Kernels read and write logits and gradients only
 * through this class, so the kernel layer never needs ND4J's native library.
 *
 * <p>Reads widen to {@code float} or {@code double} exactly; writes narrow with round-to-nearest-even.
 * Instances are thread-safe for concurrent reads and for concurrent writes to disjoint elements:
 * they keep no position or other mutable state.
 */
public abstract class Memory {
    private final ElementType type;
    private final long length;

    Memory(ElementType type, long length) {
        this.type = Objects.requireNonNull(type, "type");
        this.length = length;
    }

    /** @return the element type */
    public final ElementType type() {
        return type;
    }

    /** @return the number of elements */
    public final long length() {
        return length;
    }

    /**
     * @param i element index
     * @return the element widened to double
     */
    public abstract double get(long i);

    /**
     * Stores a value, narrowed to the element type (round to nearest even).
     *
     * @param i element index
     * @param v the value
     */
    public abstract void set(long i, double v);

    /**
     * Reads {@code n} elements at {@code start, start + stride, ...} widened (or, for FLOAT64, rounded) to float.
     *
     * @param start first element index
     * @param stride distance between elements, in elements
     * @param dst destination
     * @param off first index in {@code dst}
     * @param n number of elements
     */
    public void readFloats(long start, long stride, float[] dst, int off, int n) {
        for (int k = 0; k < n; k++) {
            dst[off + k] = (float) get(start + k * stride);
        }
    }

    /**
     * Reads {@code n} elements at {@code start, start + stride, ...} widened to double.
     *
     * @param start first element index
     * @param stride distance between elements, in elements
     * @param dst destination
     * @param off first index in {@code dst}
     * @param n number of elements
     */
    void readDoubles(long start, long stride, double[] dst, int off, int n) {
        for (int k = 0; k < n; k++) {
            dst[off + k] = get(start + k * stride);
        }
    }

    /**
     * Writes {@code n} floats to {@code start, start + stride, ...}, narrowed to the element type.
     *
     * @param start first element index
     * @param stride distance between elements, in elements
     * @param src source
     * @param off first index in {@code src}
     * @param n number of elements
     */
    public void writeFloats(long start, long stride, float[] src, int off, int n) {
        for (int k = 0; k < n; k++) {
            set(start + k * stride, src[off + k]);
        }
    }

    /**
     * Writes {@code n} doubles to {@code start, start + stride, ...}, narrowed to the element type.
     *
     * @param start first element index
     * @param stride distance between elements, in elements
     * @param src source
     * @param off first index in {@code src}
     * @param n number of elements
     */
    void writeDoubles(long start, long stride, double[] src, int off, int n) {
        for (int k = 0; k < n; k++) {
            set(start + k * stride, src[off + k]);
        }
    }

    /**
     * Reads {@code n} contiguous raw 16-bit elements (FLOAT16/BFLOAT16 only), for kernels that widen in registers.
     *
     * @param start first element index
     * @param dst destination
     * @param off first index in {@code dst}
     * @param n number of elements
     * @throws UnsupportedOperationException if the element type is not 16 bits wide
     */
    public void readShorts(long start, short[] dst, int off, int n) {
        throw new UnsupportedOperationException("readShorts on " + type);
    }

    /**
     * Writes {@code n} contiguous raw 16-bit elements (FLOAT16/BFLOAT16 only).
     *
     * @param start first element index
     * @param src source
     * @param off first index in {@code src}
     * @param n number of elements
     * @throws UnsupportedOperationException if the element type is not 16 bits wide
     */
    public void writeShorts(long start, short[] src, int off, int n) {
        throw new UnsupportedOperationException("writeShorts on " + type);
    }

    /**
     * @param a the array (not copied)
     * @return memory over a float array
     */
    public static Memory of(float[] a) {
        return new FloatArray(a);
    }

    /**
     * @param a the array (not copied)
     * @return memory over a double array
     */
    public static Memory of(double[] a) {
        return new DoubleArray(a);
    }

    /**
     * @param a the raw 16-bit values (not copied)
     * @param type {@link ElementType#FLOAT16} or {@link ElementType#BFLOAT16}
     * @return memory over a short array
     * @throws IllegalArgumentException if {@code type} is not a 16-bit type
     */
    public static Memory ofShorts(short[] a, ElementType type) {
        if (type != ElementType.FLOAT16 && type != ElementType.BFLOAT16) {
            throw new IllegalArgumentException("type must be FLOAT16 or BFLOAT16 for a short[] memory, was " + type);
        }
        return new ShortArray(a, type);
    }

    /**
     * Memory over byte-buffer windows laid end to end. Every window but the last holds exactly
     * {@code windowElements} elements; byte order is set to native order on private duplicates.
     *
     * @param type element type
     * @param length total number of elements
     * @param windowElements elements per window (all windows but the last)
     * @param windows the windows, positioned at 0
     * @return the memory
     * @throws IllegalArgumentException if the windows cannot hold {@code length} elements
     */
    public static Memory ofBuffers(ElementType type, long length, long windowElements, ByteBuffer... windows) {
        return new BufferMemory(type, length, windowElements, windows);
    }

    /**
     * Memory over one direct or heap byte buffer (native byte order), for callers holding fewer than 2 GiB.
     *
     * @param type element type
     * @param buffer the buffer, from position 0 to its capacity
     * @return the memory
     */
    public static Memory ofBuffer(ElementType type, ByteBuffer buffer) {
        long n = buffer.capacity() / type.bytes();
        return new BufferMemory(type, n, Math.max(1, n), buffer);
    }

    /*
     * FloatArray, DoubleArray and ShortArray are one adapter written out for float[], double[] and short[]:
     * get/set index a primitive array of each type, which Java cannot share without generics over primitives
     * (an Object array and java.lang.reflect.Array, or boxing, would slow every element access). The bulk
     * contiguous copies are System.arraycopy; BufferMemory's copy is the one windowed loop for all three types.
     */
    static final class FloatArray extends Memory {
        final float[] a;

        FloatArray(float[] a) {
            super(ElementType.FLOAT32, a.length);
            this.a = a;
        }

        /** @return the backing array */
        float[] array() {
            return a;
        }

        @Override
        public double get(long i) {
            return a[Math.toIntExact(i)];
        }

        @Override
        public void set(long i, double v) {
            a[Math.toIntExact(i)] = (float) v;
        }

        @Override
        public void readFloats(long start, long stride, float[] dst, int off, int n) {
            if (stride == 1) {
                System.arraycopy(a, Math.toIntExact(start), dst, off, n);
            } else {
                int s = Math.toIntExact(start);
                int st = Math.toIntExact(stride);
                for (int k = 0; k < n; k++) {
                    dst[off + k] = a[s + k * st];
                }
            }
        }

        @Override
        public void writeFloats(long start, long stride, float[] src, int off, int n) {
            if (stride == 1) {
                System.arraycopy(src, off, a, Math.toIntExact(start), n);
            } else {
                int s = Math.toIntExact(start);
                int st = Math.toIntExact(stride);
                for (int k = 0; k < n; k++) {
                    a[s + k * st] = src[off + k];
                }
            }
        }
    }

    static final class DoubleArray extends Memory {
        final double[] a;

        DoubleArray(double[] a) {
            super(ElementType.FLOAT64, a.length);
            this.a = a;
        }

        /** @return the backing array */
        double[] array() {
            return a;
        }

        @Override
        public double get(long i) {
            return a[Math.toIntExact(i)];
        }

        @Override
        public void set(long i, double v) {
            a[Math.toIntExact(i)] = v;
        }

        @Override
        void readDoubles(long start, long stride, double[] dst, int off, int n) {
            if (stride == 1) {
                System.arraycopy(a, Math.toIntExact(start), dst, off, n);
            } else {
                super.readDoubles(start, stride, dst, off, n);
            }
        }

        @Override
        void writeDoubles(long start, long stride, double[] src, int off, int n) {
            if (stride == 1) {
                System.arraycopy(src, off, a, Math.toIntExact(start), n);
            } else {
                super.writeDoubles(start, stride, src, off, n);
            }
        }
    }

    static final class ShortArray extends Memory {
        final short[] a;
        final boolean bf16;

        ShortArray(short[] a, ElementType type) {
            super(type, a.length);
            this.a = a;
            this.bf16 = type == ElementType.BFLOAT16;
        }

        @Override
        public double get(long i) {
            short s = a[Math.toIntExact(i)];
            return bf16 ? Half.bf16ToFloat(s) : Half.fp16ToFloat(s);
        }

        @Override
        public void set(long i, double v) {
            a[Math.toIntExact(i)] = bf16 ? Half.floatToBf16((float) v) : Half.floatToFp16((float) v);
        }

        @Override
        public void readShorts(long start, short[] dst, int off, int n) {
            System.arraycopy(a, Math.toIntExact(start), dst, off, n);
        }

        @Override
        public void writeShorts(long start, short[] src, int off, int n) {
            System.arraycopy(src, off, a, Math.toIntExact(start), n);
        }
    }

    static final class BufferMemory extends Memory {
        private final ByteBuffer[] windows;
        /** Typed views of the windows, made once: a view per bulk call allocated ~50 bytes per row read. */
        private final Buffer[] views;
        private final long windowElements;
        private final int bytes;
        BufferMemory(ElementType type, long length, long windowElements, ByteBuffer... windows) {
            super(type, length);
            if (windowElements <= 0) {
                throw new IllegalArgumentException("windowElements must be > 0, was " + windowElements);
            }
            this.bytes = type.bytes();
            if (windowElements * bytes > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("windowElements * element size must fit one ByteBuffer, was "
                        + windowElements + " elements of " + bytes + " bytes");
            }
            this.windowElements = windowElements;
            this.windows = new ByteBuffer[windows.length];
            long cap = 0;
            for (int w = 0; w < windows.length; w++) {
                ByteBuffer d = windows[w].duplicate().order(ByteOrder.nativeOrder());
                d.clear();
                if (w < windows.length - 1 && d.capacity() < windowElements * bytes) {
                    throw new IllegalArgumentException("window " + w + " holds " + d.capacity()
                            + " bytes, fewer than windowElements * element size = " + windowElements * bytes);
                }
                this.windows[w] = d;
                cap += w < windows.length - 1 ? windowElements : d.capacity() / bytes;
            }
            if (cap < length) {
                throw new IllegalArgumentException("windows hold " + cap + " elements, fewer than length " + length);
            }
            this.views = new Buffer[this.windows.length];
            for (int w = 0; w < views.length; w++) {
                ByteBuffer d = this.windows[w];
                views[w] = bytes == 4 ? d.asFloatBuffer() : bytes == 8 ? d.asDoubleBuffer() : d.asShortBuffer();
            }
        }

        private ByteBuffer win(long i) {
            return windows[(int) (i / windowElements)];
        }

        private int pos(long i) {
            return (int) (i % windowElements) * bytes;
        }

        @Override
        public double get(long i) {
            ByteBuffer b = win(i);
            int p = pos(i);
            switch (type()) {
                case FLOAT32:
                    return b.getFloat(p);
                case FLOAT64:
                    return b.getDouble(p);
                case FLOAT16:
                    return Half.fp16ToFloat(b.getShort(p));
                default:
                    return Half.bf16ToFloat(b.getShort(p));
            }
        }

        @Override
        public void set(long i, double v) {
            ByteBuffer b = win(i);
            int p = pos(i);
            switch (type()) {
                case FLOAT32:
                    b.putFloat(p, (float) v);
                    break;
                case FLOAT64:
                    b.putDouble(p, v);
                    break;
                case FLOAT16:
                    b.putShort(p, Half.floatToFp16((float) v));
                    break;
                default:
                    b.putShort(p, Half.floatToBf16((float) v));
                    break;
            }
        }

        /**
         * Copies {@code n} elements between element {@code start} of this memory and {@code array[off ..]}
         * ({@code float[]} for FLOAT32, {@code double[]} for FLOAT64, {@code short[]} for the 16-bit types,
         * the raw bits): one bulk get or put for each window the range crosses.
         */
        private void copy(long start, Object array, int off, int n, boolean write) {
            int done = 0;
            while (done < n) {
                long i = start + done;
                int window = (int) (i / windowElements);
                int index = (int) (i % windowElements);
                int run = (int) Math.min(n - done, windowElements - index);
                Buffer view = views[window];
                int at = off + done;
                if (array instanceof float[] f) {
                    FloatBuffer b = (FloatBuffer) view;
                    if (write) {
                        b.put(index, f, at, run);
                    } else {
                        b.get(index, f, at, run);
                    }
                } else if (array instanceof double[] d) {
                    DoubleBuffer b = (DoubleBuffer) view;
                    if (write) {
                        b.put(index, d, at, run);
                    } else {
                        b.get(index, d, at, run);
                    }
                } else {
                    ShortBuffer b = (ShortBuffer) view;
                    if (write) {
                        b.put(index, (short[]) array, at, run);
                    } else {
                        b.get(index, (short[]) array, at, run);
                    }
                }
                done += run;
            }
        }

        @Override
        public void readFloats(long start, long stride, float[] dst, int off, int n) {
            if (stride == 1 && type() == ElementType.FLOAT32) {
                copy(start, dst, off, n, false);
            } else {
                super.readFloats(start, stride, dst, off, n);
            }
        }

        @Override
        public void writeFloats(long start, long stride, float[] src, int off, int n) {
            if (stride == 1 && type() == ElementType.FLOAT32) {
                copy(start, src, off, n, true);
            } else {
                super.writeFloats(start, stride, src, off, n);
            }
        }

        @Override
        void readDoubles(long start, long stride, double[] dst, int off, int n) {
            if (stride == 1 && type() == ElementType.FLOAT64) {
                copy(start, dst, off, n, false);
            } else {
                super.readDoubles(start, stride, dst, off, n);
            }
        }

        @Override
        void writeDoubles(long start, long stride, double[] src, int off, int n) {
            if (stride == 1 && type() == ElementType.FLOAT64) {
                copy(start, src, off, n, true);
            } else {
                super.writeDoubles(start, stride, src, off, n);
            }
        }

        @Override
        public void readShorts(long start, short[] dst, int off, int n) {
            if (bytes == 2) {
                copy(start, dst, off, n, false);
            } else {
                super.readShorts(start, dst, off, n);
            }
        }

        @Override
        public void writeShorts(long start, short[] src, int off, int n) {
            if (bytes == 2) {
                copy(start, src, off, n, true);
            } else {
                super.writeShorts(start, src, off, n);
            }
        }
    }
}
