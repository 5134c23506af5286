package org.plw4j.cuda;

import java.nio.ByteBuffer;

/**
 * One thread's device resources: its stream, device buffers and two page-locked staging slots,
 * grown on demand and reused across calls. Not thread-safe: each thread has its own.
 */
final class Workspace implements AutoCloseable {
    /** Device and page-locked allocations are rounded up to this many bytes (1 MiB) to limit re-allocations. */
    static final long GRANULE = 1L << 20;

    final Gpu gpu;
    final long granule;
    final Gpu.Stream stream;
    final DeviceBuffer logits;
    final DeviceBuffer grad;
    final DeviceBuffer targets;
    final DeviceBuffer scale;
    final DeviceBuffer loss;
    final DeviceBuffer arg;
    final DeviceBuffer entropy;
    final HostBuffer[] data = new HostBuffer[2];
    final HostBuffer[] meta = new HostBuffer[2];

    /**
     * @param gpu the device
     * @param granule allocation granule in bytes ({@link #GRANULE}; tests use less)
     */
    Workspace(Gpu gpu, long granule) {
        this.gpu = gpu;
        this.granule = granule;
        this.stream = gpu.createStream();
        this.logits = new DeviceBuffer(this);
        this.grad = new DeviceBuffer(this);
        this.targets = new DeviceBuffer(this);
        this.scale = new DeviceBuffer(this);
        this.loss = new DeviceBuffer(this);
        this.arg = new DeviceBuffer(this);
        this.entropy = new DeviceBuffer(this);
        for (int k = 0; k < 2; k++) {
            data[k] = new HostBuffer(this);
            meta[k] = new HostBuffer(this);
        }
    }

    long roundUp(long bytes) {
        return (bytes + granule - 1) / granule * granule;
    }

    @Override
    public void close() {
        try {
            stream.synchronize();
        } finally {
            logits.close();
            grad.close();
            targets.close();
            scale.close();
            loss.close();
            arg.close();
            entropy.close();
            for (int k = 0; k < 2; k++) {
                data[k].close();
                meta[k].close();
            }
            stream.close();
        }
    }

    /** A device allocation that only grows. */
    static final class DeviceBuffer implements AutoCloseable {
        private final Workspace ws;
        private final Gpu gpu;
        private long address;
        private long capacity;

        DeviceBuffer(Workspace ws) {
            this.ws = ws;
            this.gpu = ws.gpu;
        }

        /**
         * @param bytes needed size
         * @return the device address of at least that many bytes (old contents are not kept)
         */
        long ensure(long bytes) {
            if (bytes > capacity) {
                gpu.free(address);
                address = 0;
                capacity = 0;
                long cap = ws.roundUp(bytes);
                address = gpu.malloc(cap);
                capacity = cap;
            }
            return address;
        }

        @Override
        public void close() {
            gpu.free(address);
            address = 0;
            capacity = 0;
        }
    }

    /** Page-locked host memory that only grows. */
    static final class HostBuffer implements AutoCloseable {
        private final Workspace ws;
        private final Gpu gpu;
        private Gpu.Pinned pinned;
        private long capacity;

        HostBuffer(Workspace ws) {
            this.ws = ws;
            this.gpu = ws.gpu;
        }

        /**
         * @param bytes needed size, at most 2^31 - 1
         * @return the pinned memory of at least that many bytes (old contents are not kept)
         */
        Gpu.Pinned ensure(long bytes) {
            if (bytes > capacity || pinned == null) {
                if (pinned != null) {
                    pinned.close();
                    pinned = null;
                    capacity = 0;
                }
                long cap = Math.min(Integer.MAX_VALUE, ws.roundUp(Math.max(1, bytes)));
                pinned = gpu.mallocHost(cap);
                capacity = cap;
            }
            return pinned;
        }

        ByteBuffer buffer() {
            return pinned.buffer();
        }

        @Override
        public void close() {
            if (pinned != null) {
                pinned.close();
                pinned = null;
                capacity = 0;
            }
        }
    }
}
