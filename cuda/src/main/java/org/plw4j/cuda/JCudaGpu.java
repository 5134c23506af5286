package org.plw4j.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuGetErrorName;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * {@link Gpu} over JCuda's driver API: the device's primary context (shared with the CUDA runtime,
 * and so with ND4J's CUDA backend), return codes checked after every call. Only this class and
 * {@link CudaRuntime} touch JCuda's classes, so the rest of the module loads without them.
 */
final class JCudaGpu implements Gpu {
    private final CUdevice device;
    private final CUcontext context;
    private final String name;
    private final int cc;
    private final int sms;
    private final int smemOptin;
    private final int smemPerSm;
    private final int driver;
    private final long totalMem;

    private JCudaGpu(CUdevice device, CUcontext context) {
        this.device = device;
        this.context = context;
        byte[] nameBytes = new byte[256];
        check(cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) {
            len++;
        }
        this.name = new String(nameBytes, 0, len, StandardCharsets.UTF_8);
        this.cc = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10
                + attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.sms = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        this.smemOptin = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        this.smemPerSm = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
        int[] v = new int[1];
        check(cuDriverGetVersion(v), "cuDriverGetVersion");
        this.driver = v[0];
        long[] mem = new long[1];
        check(cuDeviceTotalMem(mem, device), "cuDeviceTotalMem");
        this.totalMem = mem[0];
    }

    /**
     * Initialises the driver and retains the primary context of a device.
     *
     * @param ordinal device number
     * @return the device
     * @throws CudaUnavailableException when the driver reports an error or there is no such device
     */
    static JCudaGpu open(int ordinal) {
        JCudaDriver.setExceptionsEnabled(false);
        int r = cuInit(0);
        if (r != 0) {
            throw new CudaUnavailableException("cuInit failed with " + errorName(r)
                    + (r == 100 ? " (no CUDA-capable device is visible)" : ""));
        }
        int[] count = new int[1];
        r = cuDeviceGetCount(count);
        if (r != 0) {
            throw new CudaUnavailableException("cuDeviceGetCount failed with " + errorName(r));
        }
        if (count[0] == 0) {
            throw new CudaUnavailableException("no CUDA device (cuDeviceGetCount returned 0)");
        }
        if (ordinal < 0 || ordinal >= count[0]) {
            throw new CudaUnavailableException(String.format(Locale.ROOT,
                    "plw4j.cuda.device=%d but the driver sees %d device(s)", ordinal, count[0]));
        }
        CUdevice dev = new CUdevice();
        r = cuDeviceGet(dev, ordinal);
        if (r != 0) {
            throw new CudaUnavailableException("cuDeviceGet(" + ordinal + ") failed with " + errorName(r));
        }
        CUcontext ctx = new CUcontext();
        r = cuDevicePrimaryCtxRetain(ctx, dev);
        if (r != 0) {
            throw new CudaUnavailableException("cuDevicePrimaryCtxRetain failed with " + errorName(r));
        }
        r = cuCtxSetCurrent(ctx);
        if (r != 0) {
            throw new CudaUnavailableException("cuCtxSetCurrent failed with " + errorName(r));
        }
        return new JCudaGpu(dev, ctx);
    }

    static String errorName(int code) {
        String[] s = new String[1];
        try {
            if (cuGetErrorName(code, s) == 0 && s[0] != null) {
                return s[0] + " (" + code + ")";
            }
        } catch (RuntimeException | LinkageError e) {
            // fall through: the number alone
        }
        return "CUDA error " + code;
    }

    static void check(int result, String what) {
        if (result != 0) {
            throw new IllegalStateException(what + " failed with " + errorName(result));
        }
    }

    private int attribute(int attr) {
        int[] v = new int[1];
        check(cuDeviceGetAttribute(v, attr, device), "cuDeviceGetAttribute(" + attr + ")");
        return v[0];
    }

    /** A device pointer whose address can be read back. */
    private static final class DevPtr extends CUdeviceptr {
        long address() {
            return getNativePointer();
        }
    }

    /** @return a JCuda pointer to a raw device address */
    private static CUdeviceptr at(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    @Override
    public String deviceName() {
        return name;
    }

    @Override
    public int computeCapability() {
        return cc;
    }

    @Override
    public int multiprocessors() {
        return sms;
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
        return driver;
    }

    @Override
    public long totalMemory() {
        return totalMem;
    }

    @Override
    public void makeCurrent() {
        check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    @Override
    public Module loadModule(String moduleName, String ptx) {
        byte[] text = ptx.getBytes(StandardCharsets.US_ASCII);
        byte[] image = new byte[text.length + 1];   // NUL-terminated
        System.arraycopy(text, 0, image, 0, text.length);
        CUmodule m = new CUmodule();
        int r = cuModuleLoadData(m, image);
        if (r != 0) {
            throw new CudaUnavailableException(String.format(Locale.ROOT,
                    "the driver (CUDA %d.%d) could not load the bundled PTX %s: %s (the PTX needs PTX ISA 8.0,"
                            + " i.e. a CUDA 12.0 or newer driver, and compute capability 7.5 or newer)",
                    driver / 1000, (driver % 1000) / 10, moduleName, errorName(r)));
        }
        return fname -> {
            CUfunction f = new CUfunction();
            check(cuModuleGetFunction(f, m, fname), "cuModuleGetFunction(" + fname + ")");
            return new Fn(fname, f);
        };
    }

    private static final class Fn implements Function {
        final String name;
        final CUfunction f;

        Fn(String name, CUfunction f) {
            this.name = name;
            this.f = f;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void setMaxDynamicShared(int bytes) {
            check(cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                    "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
        }
    }

    @Override
    public long malloc(long bytes) {
        DevPtr p = new DevPtr();
        check(cuMemAlloc(p, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
        return p.address();
    }

    @Override
    public void free(long address) {
        if (address != 0) {
            check(cuMemFree(at(address)), "cuMemFree");
        }
    }

    @Override
    public Pinned mallocHost(long bytes) {
        if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pinned allocation must be 1 .. 2^31-1 bytes, was " + bytes);
        }
        Pointer p = new Pointer();
        check(cuMemAllocHost(p, bytes), "cuMemAllocHost(" + bytes + " bytes)");
        ByteBuffer b = p.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        return new HostMem(p, b);
    }

    private static final class HostMem implements Pinned {
        final Pointer p;
        final ByteBuffer b;
        boolean closed;

        HostMem(Pointer p, ByteBuffer b) {
            this.p = p;
            this.b = b;
        }

        @Override
        public ByteBuffer buffer() {
            return b.duplicate().order(ByteOrder.nativeOrder());
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                check(cuMemFreeHost(p), "cuMemFreeHost");
            }
        }
    }

    @Override
    public Stream createStream() {
        CUstream s = new CUstream();
        check(cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        return new Str(s);
    }

    private static Pointer param(Arg a) {
        return switch (a.kind()) {
            case PTR, I64 -> Pointer.to(new long[] {a.bits()});
            case I32 -> Pointer.to(new int[] {(int) a.bits()});
            case F32 -> Pointer.to(new float[] {Float.intBitsToFloat((int) a.bits())});
            case F64 -> Pointer.to(new double[] {Double.longBitsToDouble(a.bits())});
        };
    }

    private static final class Str implements Stream {
        final CUstream s;

        Str(CUstream s) {
            this.s = s;
        }

        @Override
        public void copyToDevice(long dst, Pinned src, long srcOffset, long bytes) {
            if (bytes > 0) {
                check(cuMemcpyHtoDAsync(at(dst), ((HostMem) src).p.withByteOffset(srcOffset), bytes, s),
                        "cuMemcpyHtoDAsync(" + bytes + " bytes)");
            }
        }

        @Override
        public void copyToHost(Pinned dst, long dstOffset, long src, long bytes) {
            if (bytes > 0) {
                check(cuMemcpyDtoHAsync(((HostMem) dst).p.withByteOffset(dstOffset), at(src), bytes, s),
                        "cuMemcpyDtoHAsync(" + bytes + " bytes)");
            }
        }

        @Override
        public void copyDeviceToDevice(long dst, long src, long bytes) {
            if (bytes > 0) {
                check(cuMemcpyDtoDAsync(at(dst), at(src), bytes, s), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
            }
        }

        @Override
        public void zero(long dst, long bytes) {
            if (bytes > 0) {
                check(cuMemsetD8Async(at(dst), (byte) 0, bytes, s), "cuMemsetD8Async(" + bytes + " bytes)");
            }
        }

        @Override
        public void launch(Function f, int grid, int block, int sharedBytes, Arg... args) {
            Pointer[] ps = new Pointer[args.length];
            for (int i = 0; i < args.length; i++) {
                ps[i] = param(args[i]);
            }
            check(cuLaunchKernel(((Fn) f).f, grid, 1, 1, block, 1, 1, sharedBytes, s, Pointer.to(ps), null),
                    String.format(Locale.ROOT, "cuLaunchKernel(%s, grid %d, block %d, shared %d)",
                            f.name(), grid, block, sharedBytes));
        }

        @Override
        public Event record() {
            CUevent e = new CUevent();
            check(cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            check(cuEventRecord(e, s), "cuEventRecord");
            return new Ev(e);
        }

        @Override
        public void synchronize() {
            check(cuStreamSynchronize(s), "cuStreamSynchronize (an earlier asynchronous error may surface here)");
        }

        @Override
        public void close() {
            check(cuStreamDestroy(s), "cuStreamDestroy");
        }
    }

    private static final class Ev implements Event {
        final CUevent e;

        Ev(CUevent e) {
            this.e = e;
        }

        @Override
        public void synchronize() {
            check(cuEventSynchronize(e), "cuEventSynchronize (an earlier asynchronous error may surface here)");
        }

        @Override
        public float millisSince(Event earlier) {
            float[] ms = new float[1];
            check(cuEventElapsedTime(ms, ((Ev) earlier).e, e), "cuEventElapsedTime");
            return ms[0];
        }

        @Override
        public void close() {
            check(cuEventDestroy(e), "cuEventDestroy");
        }
    }
}
