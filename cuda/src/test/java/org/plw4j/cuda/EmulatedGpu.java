package org.plw4j.cuda;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Gpu} whose kernels run in the CPU emulator ({@link Emulator}) and whose device memory
 * is Java byte arrays at made-up addresses. Work on a stream is deferred until the stream or an
 * event on it is synchronized, as on a GPU, so a caller that reads page-locked memory before
 * waiting sees stale bytes and fails its test. New device memory is filled with 0xff bytes (NaN
 * in every float format), so reading memory that nobody wrote shows up. Freed or unknown
 * addresses, closed page-locked buffers and copies past an allocation throw. With the environment
 * variable {@code PLW4J_EMU_KEEP} naming a folder, each launch's input file is kept there, to rerun
 * the emulator on it by hand ({@code emu IN OUT}).
 */
final class EmulatedGpu implements Gpu {
    private final Path emu;
    private final int block;
    private final int smemOptin;
    private final int smemPerSm;
    private final TreeMap<Long, byte[]> memory = new TreeMap<>();
    private final AtomicLong launches = new AtomicLong();
    final AtomicLong ioNanos = new AtomicLong();
    final AtomicLong processNanos = new AtomicLong();
    private long next = 0x7f00_0000_0000L;
    private long liveBytes;

    /**
     * @param block PLW4J_BLOCK of the emulated kernels (launches must use it)
     * @param smemOptin reported opt-in shared memory per block
     * @param smemPerSm reported shared memory per multiprocessor
     */
    EmulatedGpu(int block, int smemOptin, int smemPerSm) {
        this.emu = Emulator.binary(block);
        this.block = block;
        this.smemOptin = smemOptin;
        this.smemPerSm = smemPerSm;
    }

    /** @return PLW4J_BLOCK of the emulated kernels */
    int block() {
        return block;
    }

    /** @return kernels for this device with the given row-cache limit (negative: default) */
    CudaKernels kernels(long cacheLimit) {
        return new CudaKernels(this, cacheLimit, block);
    }

    long launches() {
        return launches.get();
    }

    synchronized long liveBytes() {
        return liveBytes;
    }

    @Override
    public String deviceName() {
        return "emulated GPU (CPU threads)";
    }

    @Override
    public int computeCapability() {
        return 90;
    }

    @Override
    public int multiprocessors() {
        return 2;
    }

    @Override
    public int maxSharedPerBlockOptin() {
        return smemOptin;
    }

    @Override
    public int sharedPerMultiprocessor() {
        return smemPerSm;
    }

    @Override
    public int driverVersion() {
        return 12000;
    }

    @Override
    public long totalMemory() {
        return 1L << 30;
    }

    @Override
    public void makeCurrent() {
    }

    @Override
    public Module loadModule(String name, String ptx) {
        List<String> entries = new ArrayList<>();
        for (Ptx.Entry e : Ptx.entries(ptx)) {
            entries.add(e.name);
        }
        return fname -> {
            if (!entries.contains(fname)) {
                throw new IllegalStateException("no entry " + fname + " in module " + name);
            }
            return new Function() {
                int maxDynamic = 48 * 1024;

                @Override
                public String name() {
                    return fname;
                }

                @Override
                public void setMaxDynamicShared(int bytes) {
                    if (bytes > smemOptin) {
                        throw new IllegalStateException("setMaxDynamicShared(" + bytes + ") above the opt-in limit");
                    }
                    maxDynamic = bytes;
                }

                @Override
                public String toString() {
                    return Integer.toString(maxDynamic);
                }
            };
        };
    }

    @Override
    public synchronized long malloc(long bytes) {
        if (bytes < 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("emulated allocation too large: " + bytes);
        }
        long a = next;
        next += (bytes + 255) / 256 * 256 + 4096;
        byte[] b = new byte[(int) bytes];
        Arrays.fill(b, (byte) 0xff);
        memory.put(a, b);
        liveBytes += bytes;
        return a;
    }

    @Override
    public synchronized void free(long address) {
        if (address == 0) {
            return;
        }
        byte[] b = memory.remove(address);
        if (b == null) {
            throw new IllegalStateException("free of an address that is not an allocation: " + Long.toHexString(address));
        }
        liveBytes -= b.length;
    }

    /** @return the allocation and the offset of [address, address + bytes) in it */
    private synchronized Map.Entry<Long, byte[]> find(long address, long bytes) {
        Map.Entry<Long, byte[]> e = memory.floorEntry(address);
        if (e == null || address + bytes > e.getKey() + e.getValue().length) {
            throw new IllegalStateException(String.format("device range [%x, +%d) is outside every allocation",
                    address, bytes));
        }
        return e;
    }

    /** Reads device memory (tests). */
    byte[] read(long address, int bytes) {
        Map.Entry<Long, byte[]> e = find(address, bytes);
        return Arrays.copyOfRange(e.getValue(), (int) (address - e.getKey()), (int) (address - e.getKey()) + bytes);
    }

    /** Writes device memory (tests). */
    void write(long address, byte[] data) {
        Map.Entry<Long, byte[]> e = find(address, data.length);
        System.arraycopy(data, 0, e.getValue(), (int) (address - e.getKey()), data.length);
    }

    private static final class HostMem implements Pinned {
        final ByteBuffer b;
        boolean closed;

        HostMem(int bytes) {
            b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }

        ByteBuffer live() {
            if (closed) {
                throw new IllegalStateException("use of closed page-locked memory");
            }
            return b.duplicate().order(ByteOrder.nativeOrder());
        }

        @Override
        public ByteBuffer buffer() {
            return live();
        }

        @Override
        public void close() {
            if (closed) {
                throw new IllegalStateException("page-locked memory closed twice");
            }
            closed = true;
        }
    }

    @Override
    public Pinned mallocHost(long bytes) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pinned allocation must be 1 .. 2^31-1 bytes, was " + bytes);
        }
        return new HostMem((int) bytes);
    }

    @Override
    public Stream createStream() {
        return new Str();
    }

    private final class Str implements Stream {
        final Deque<Runnable> queue = new ArrayDeque<>();
        long enqueued;
        long executed;
        boolean closed;

        private void add(Runnable r) {
            if (closed) {
                throw new IllegalStateException("use of a closed stream");
            }
            queue.add(r);
            enqueued++;
        }

        void runUntil(long position) {
            while (executed < position) {
                Runnable r = queue.poll();
                executed++;
                synchronized (EmulatedGpu.this) {   // one operation at a time on the whole device
                    r.run();
                }
            }
        }

        @Override
        public void copyToDevice(long dst, Pinned src, long srcOffset, long bytes) {
            HostMem h = (HostMem) src;
            find(dst, bytes);
            add(() -> {
                ByteBuffer b = h.live();
                b.position((int) srcOffset);
                byte[] tmp = new byte[(int) bytes];
                b.get(tmp);
                write(dst, tmp);
            });
        }

        @Override
        public void copyToHost(Pinned dst, long dstOffset, long src, long bytes) {
            HostMem h = (HostMem) dst;
            find(src, bytes);
            add(() -> {
                ByteBuffer b = h.live();
                b.position((int) dstOffset);
                b.put(read(src, (int) bytes));
            });
        }

        @Override
        public void copyDeviceToDevice(long dst, long src, long bytes) {
            add(() -> write(dst, read(src, (int) bytes)));
        }

        @Override
        public void zero(long dst, long bytes) {
            add(() -> write(dst, new byte[(int) bytes]));
        }

        @Override
        public void launch(Function f, int grid, int block, int sharedBytes, Arg... args) {
            int limit = Integer.parseInt(f.toString());
            if (sharedBytes > Math.max(limit, 48 * 1024)) {
                throw new IllegalStateException(f.name() + " launched with " + sharedBytes
                        + " bytes of dynamic shared memory above its limit " + limit);
            }
            if (grid <= 0 || block != EmulatedGpu.this.block) {
                throw new IllegalStateException("bad launch shape " + grid + " x " + block);
            }
            Arg[] a = args.clone();
            add(() -> execute(f.name(), grid, block, sharedBytes, a));
        }

        @Override
        public Event record() {
            long at = enqueued;
            return new Event() {
                long millis;

                @Override
                public void synchronize() {
                    long t0 = System.nanoTime();
                    runUntil(at);
                    millis = (System.nanoTime() - t0) / 1_000_000;
                }

                @Override
                public float millisSince(Event earlier) {
                    return millis;
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public void synchronize() {
            runUntil(enqueued);
        }

        @Override
        public void close() {
            synchronize();
            closed = true;
        }
    }

    private void execute(String name, int grid, int block, int smem, Arg[] args) {
        launches.incrementAndGet();
        try {
            Path dir = Emulator.workDir();
            Path in = Files.createTempFile(dir, "launch", ".in");
            Path out = Files.createTempFile(dir, "launch", ".out");
            // only the allocations the pointer parameters point into travel to the emulator
            List<Map.Entry<Long, byte[]>> allocs = new ArrayList<>();
            synchronized (this) {
                for (Arg a : args) {
                    if (a.kind() == Arg.Kind.PTR && a.bits() != 0) {
                        Map.Entry<Long, byte[]> e = memory.floorEntry(a.bits());
                        if (e == null || a.bits() > e.getKey() + e.getValue().length) {
                            throw new IllegalStateException(String.format(
                                    "%s: pointer parameter %x is outside every allocation", name, a.bits()));
                        }
                        if (!allocs.contains(e)) {
                            allocs.add(e);
                        }
                    }
                }
            }
            try {
                long t0 = System.nanoTime();
                try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(in), 1 << 16)) {
                    ByteBuffer h = ByteBuffer.allocate(64 + name.length() + 12 * args.length)
                            .order(ByteOrder.LITTLE_ENDIAN);
                    h.putInt(0x504c5745).putInt(10).putInt(name.length()).put(name.getBytes(StandardCharsets.US_ASCII));
                    h.putInt(grid).putInt(block).putInt(smem).putInt(args.length);
                    for (Arg a : args) {
                        h.putInt(a.kind().ordinal()).putLong(a.bits());
                    }
                    h.putInt(allocs.size());
                    os.write(h.array(), 0, h.position());
                    for (Map.Entry<Long, byte[]> e : allocs) {
                        ByteBuffer ah = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                        ah.putLong(e.getKey()).putLong(e.getValue().length);
                        os.write(ah.array());
                        os.write(e.getValue());
                    }
                }
                long t1 = System.nanoTime();
                if (System.getenv("PLW4J_EMU_KEEP") != null) {
                    Files.copy(in, Path.of(System.getenv("PLW4J_EMU_KEEP"), name + "-" + grid + ".in"),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                Process p = new ProcessBuilder(emu.toAbsolutePath().toString(), in.toString(), out.toString())
                        .redirectErrorStream(true).start();
                String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IllegalStateException("emulated launch of " + name + " failed: " + log);
                }
                long t2 = System.nanoTime();
                try (InputStream is = new BufferedInputStream(Files.newInputStream(out), 1 << 16)) {
                    DataInputStream d = new DataInputStream(is);
                    for (Map.Entry<Long, byte[]> e : allocs) {
                        d.readFully(e.getValue());
                    }
                }
                ioNanos.addAndGet(System.nanoTime() - t2 + t1 - t0);
                processNanos.addAndGet(t2 - t1);
            } finally {
                Files.deleteIfExists(in);
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
