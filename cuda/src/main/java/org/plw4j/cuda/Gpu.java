package org.plw4j.cuda;

import java.nio.ByteBuffer;

/**
 * The few device operations the CUDA backend needs, with device memory as plain {@code long}
 * addresses. {@link JCudaGpu} implements them with JCuda's driver API; the tests run the same
 * launcher code against an emulated device. Operations on a {@link Stream} are asynchronous:
 * their effects are visible only after {@link Stream#synchronize()} or {@link Event#synchronize()}.
 */
interface Gpu {
    /** @return the device's name */
    String deviceName();

    /** @return major*10 + minor compute capability, e.g. 90 */
    int computeCapability();

    /** @return number of multiprocessors */
    int multiprocessors();

    /** @return the most dynamic shared memory one block may use after opting in, in bytes */
    int maxSharedPerBlockOptin();

    /** @return shared memory per multiprocessor, in bytes */
    int sharedPerMultiprocessor();

    /** @return the driver's CUDA version, e.g. 12040 for 12.4 */
    int driverVersion();

    /** @return total device memory in bytes */
    long totalMemory();

    /** Makes the device's context current on the calling thread. */
    void makeCurrent();

    /**
     * Loads a PTX module (cached by the caller).
     *
     * @param name a name for messages
     * @param ptx the PTX text
     * @return the module
     */
    Module loadModule(String name, String ptx);

    /**
     * @param bytes size
     * @return device address of a new allocation (aligned to at least 256 bytes)
     */
    long malloc(long bytes);

    /** @param address an address from {@link #malloc}, or 0 */
    void free(long address);

    /**
     * @param bytes size, at most {@link Integer#MAX_VALUE}
     * @return page-locked host memory
     */
    Pinned mallocHost(long bytes);

    /** @return a new stream (non-blocking with respect to the legacy default stream) */
    Stream createStream();

    /** A loaded module. */
    interface Module {
        /**
         * @param name the kernel's entry name
         * @return the kernel
         */
        Function function(String name);
    }

    /** A kernel. */
    interface Function {
        /** @return the entry name */
        String name();

        /**
         * Allows up to this much dynamic shared memory per block.
         *
         * @param bytes the limit
         */
        void setMaxDynamicShared(int bytes);
    }

    /** Page-locked host memory. */
    interface Pinned extends AutoCloseable {
        /** @return a native-order view of the whole allocation, position 0 */
        ByteBuffer buffer();

        @Override
        void close();
    }

    /**
     * A kernel argument: a device pointer, a 64-bit or 32-bit integer, or a float.
     *
     * @param kind what the argument is
     * @param bits its value: the address, the integer, or the float's raw bits
     */
    record Arg(Kind kind, long bits) {
        /** Kinds of arguments. */
        enum Kind { PTR, I64, I32, F32, F64 }

        static Arg ptr(long address) {
            return new Arg(Kind.PTR, address);
        }

        static Arg i64(long v) {
            return new Arg(Kind.I64, v);
        }

        static Arg i32(int v) {
            return new Arg(Kind.I32, v);
        }

        static Arg f32(float v) {
            return new Arg(Kind.F32, Float.floatToRawIntBits(v));
        }

        static Arg f64(double v) {
            return new Arg(Kind.F64, Double.doubleToRawLongBits(v));
        }
    }

    /** An in-order queue of device work. */
    interface Stream extends AutoCloseable {
        /**
         * @param dst device address
         * @param src source
         * @param srcOffset byte offset in {@code src}
         * @param bytes size
         */
        void copyToDevice(long dst, Pinned src, long srcOffset, long bytes);

        /**
         * @param dst destination
         * @param dstOffset byte offset in {@code dst}
         * @param src device address
         * @param bytes size
         */
        void copyToHost(Pinned dst, long dstOffset, long src, long bytes);

        /**
         * @param dst device address
         * @param src device address
         * @param bytes size
         */
        void copyDeviceToDevice(long dst, long src, long bytes);

        /**
         * @param dst device address
         * @param bytes size
         */
        void zero(long dst, long bytes);

        /**
         * @param f the kernel
         * @param grid blocks (1-D)
         * @param block threads per block (1-D)
         * @param sharedBytes dynamic shared memory per block
         * @param args the kernel's parameters in order
         */
        void launch(Function f, int grid, int block, int sharedBytes, Arg... args);

        /** @return an event recorded at the current end of the stream */
        Event record();

        /** Waits for all work queued so far. */
        void synchronize();

        @Override
        void close();
    }

    /** A point in a stream. */
    interface Event extends AutoCloseable {
        /** Waits until the stream has reached this event. */
        void synchronize();

        /**
         * @param earlier an event recorded before this one on the same stream
         * @return milliseconds between the two (both must have completed)
         */
        float millisSince(Event earlier);

        @Override
        void close();
    }
}
