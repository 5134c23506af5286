package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.Half;
import org.plw4j.kernel.LossExtensions;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.Memory;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The device-side entries on the CPU emulation ({@link EmulatedGpu}, blocks of 64): the random
 * fill against its Java twin (bit-exact), the deterministic weighted sums against a host sum in
 * double (1e-12 relative: only the order of additions differs), the device-resident path
 * (padded misaligned rows, fp32 gradient of bf16 logits, in place) against the reference kernel
 * with the tolerances of {@link KernelAgreementCases}, concurrent callers (a stream each), and
 * {@link GpuCheck}'s compare and bench code on small sizes. Skipped without a C++ compiler.
 */
class EmulatedDeviceTest {
    private static EmulatedGpu gpu;
    private static CudaKernels kernels;
    private static CudaLossKernel kernel;

    @BeforeAll
    static void start() {
        gpu = new EmulatedGpu(64, 232448, 233472);
        kernels = gpu.kernels(-1);
        kernel = new CudaLossKernel(kernels, 1 << 16, 4096);
    }

    @AfterAll
    static void stop() {
        if (kernel != null) {
            kernel.closeAll();
            assertEquals(0, gpu.liveBytes(), "device memory leaked");
        }
    }

    @Test
    void fillIsTheJavaHash() {
        int n = 3000;
        for (DType t : DType.values()) {
            long d = gpu.malloc((long) n * t.bytes);
            try (Gpu.Stream s = gpu.createStream()) {
                kernels.fill(s, t, d, n, 77);
                s.synchronize();
            }
            ByteBuffer b = ByteBuffer.wrap(gpu.read(d, n * t.bytes)).order(ByteOrder.nativeOrder());
            for (int i = 0; i < n; i++) {
                float want = GpuCheck.hashValue(i, 77);
                if (t == DType.F32) {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(b.getFloat(4 * i)), "f32 " + i);
                } else {
                    short w = t == DType.BF16 ? Half.floatToBf16(want) : Half.floatToFp16(want);
                    assertEquals(w, b.getShort(2 * i), t + " " + i);
                }
            }
            gpu.free(d);
        }
    }

    @Test
    void hashValuesAreUniformOnMinus8To8() {
        double sum = 0;
        for (int i = 0; i < 100000; i++) {
            float x = GpuCheck.hashValue(i, 3);
            assertTrue(x >= -8f && x < 8f);
            sum += x;
        }
        assertEquals(0.0, sum / 100000, 0.05, "mean of U[-8, 8) over 1e5 draws (sd 4.6/sqrt(1e5) = 0.015)");
    }

    @Test
    void deviceSumsAreDeterministicAndMatchTheHost() {
        int rows = 20000;   // three partial blocks of 8192 rows
        SplittableRandom r = new SplittableRandom(5);
        double[] loss = new double[rows];
        boolean[] correct = new boolean[rows];
        int[] targets = new int[rows];
        float[] weights = new float[rows];
        byte[] roles = new byte[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = i % 9 == 0 ? -1 : r.nextInt(1000);
            roles[i] = (byte) (targets[i] < 0 ? 0 : 1 + r.nextInt(2));
            weights[i] = roles[i] == 0 ? 0f : roles[i] == 1 ? 0.25f : 1f;
            loss[i] = targets[i] < 0 ? 0.0 : r.nextDouble() * 12;
            correct[i] = targets[i] >= 0 && r.nextInt(4) == 0;
        }
        loss[17] = Double.POSITIVE_INFINITY;   // a weighted non-finite token
        GpuCheck.Inputs in = new GpuCheck.Inputs(DType.F32, rows, 1, 1);
        System.arraycopy(targets, 0, in.targets, 0, rows);
        System.arraycopy(weights, 0, in.weights, 0, rows);
        System.arraycopy(roles, 0, in.roles, 0, rows);
        StringWriter sw = new StringWriter();
        GpuCheck c = new GpuCheck(kernels, new PrintWriter(sw));
        try (Gpu.Stream s = gpu.createStream()) {
            double[] a = c.sumsOnDevice(loss, correct, in, s);
            double[] b = c.sumsOnDevice(loss, correct, in, s);
            double[] host = GpuCheck.hostSums(loss, correct, targets, weights, roles);
            assertArrayEquals(a, b, "bitwise repeatable");
            for (int k = 0; k < host.length; k++) {
                if (Double.isFinite(host[k])) {
                    assertEquals(host[k], a[k], 1e-12 * Math.abs(host[k]), "sum " + k);
                } else {
                    assertEquals(host[k], a[k], "sum " + k);
                }
            }
            assertEquals(1.0, a[2], "one weighted non-finite token");
        }
        c.close();
    }

    @Test
    void deviceResidentLogitsAgreeWithTheReference() {
        int b = 2;
        int n = 3;
        int v = 701;
        long sT = v + 5;               // padded rows: each row starts at a different 16-byte phase
        long sB = n * sT + 1;
        long len = (b - 1) * sB + (n - 1) * sT + v + 1;
        short[] host = new short[(int) len];
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < host.length; i++) {
            host[i] = Half.floatToBf16((float) ((r.nextDouble() * 2 - 1) * 5));
        }
        int[] targets = {3, -1, 700, 0, 350, 5};
        double[] scale = {0.5, 0.0, 0.25, 0.0, 1.0, 2.0};
        long dz = gpu.malloc(2 * len + 2);
        long dg = gpu.malloc(4 * len + 4);
        ByteBuffer up = ByteBuffer.allocate((int) (2 * len)).order(ByteOrder.nativeOrder());
        up.asShortBuffer().put(host);
        gpu.write(dz + 2, up.array());   // logits start 2 bytes into the allocation: misaligned
        // fp32 gradient of bf16 logits, separate buffer
        double[] loss = new double[b * n];
        boolean[] hit = new boolean[b * n];
        kernel.runOnDevice(DeviceLossProblem.builder().shape(b, n, v).logits(dz + 2, ElementType.BFLOAT16, sB, sT)
                .targets(targets).gradient(scale, dg + 4, ElementType.FLOAT32, sB, sT).build(), loss, hit);
        Memory z = Memory.ofShorts(host.clone(), ElementType.BFLOAT16);
        float[] refGrad = new float[(int) len];
        double[] refLoss = new double[b * n];
        boolean[] refHit = new boolean[b * n];
        ReferenceKernel.INSTANCE.run(LossProblem.builder().shape(b, n, v).logits(z, 0, sB, sT, 1).targets(targets)
                .gradient(scale, Memory.of(refGrad), 0, sB, sT, 1).build(), refLoss, refHit);
        ByteBuffer g = ByteBuffer.wrap(gpu.read(dg + 4, (int) (4 * len))).order(ByteOrder.nativeOrder());
        for (int row = 0; row < b * n; row++) {
            KernelAgreementCases.Case.assertClose(refLoss[row], loss[row], 1e-5, 1e-6, "loss " + row);
            assertEquals(refHit[row], hit[row], "hit " + row);
            long start = (row / n) * sB + (row % n) * sT;
            for (int j = 0; j < v; j++) {
                KernelAgreementCases.Case.assertClose(refGrad[(int) (start + j)], g.getFloat((int) (4 * (start + j))),
                        1e-5, 1e-7, "gradient row " + row + " element " + j);
            }
        }
        // in place, bf16: the gradient overwrites the logits on the device
        kernel.runOnDevice(DeviceLossProblem.builder().shape(b, n, v).logits(dz + 2, ElementType.BFLOAT16, sB, sT)
                .targets(targets).gradient(scale, dz + 2, ElementType.BFLOAT16, sB, sT).build(), loss, hit);
        short[] refGrad16 = new short[(int) len];
        ReferenceKernel.INSTANCE.run(LossProblem.builder().shape(b, n, v).logits(z, 0, sB, sT, 1).targets(targets)
                .gradient(scale, Memory.ofShorts(refGrad16, ElementType.BFLOAT16), 0, sB, sT, 1).build(), refLoss,
                refHit);
        ByteBuffer g16 = ByteBuffer.wrap(gpu.read(dz + 2, (int) (2 * len))).order(ByteOrder.nativeOrder());
        for (int row = 0; row < b * n; row++) {
            KernelAgreementCases.Case.assertClose(refLoss[row], loss[row], 1e-5, 1e-6, "in-place loss " + row);
            long start = (row / n) * sB + (row % n) * sT;
            for (int j = 0; j < v; j++) {
                KernelAgreementCases.Case.assertClose(Half.bf16ToFloat(refGrad16[(int) (start + j)]),
                        Half.bf16ToFloat(g16.getShort((int) (2 * (start + j)))), 0x1p-7, 1e-7,
                        "in-place gradient row " + row + " element " + j);
            }
        }
        gpu.free(dz);
        gpu.free(dg);
    }

    /**
     * The device-resident path with every extension of SPEC section 7 and the outputs of section 13: fp32, rows at
     * odd 16-byte phases.
     */
    @Test
    void deviceResidentLogitsWithExtensionsAgreeWithTheReference() {
        int n = 4;
        int v = 301;
        long sT = v + 3;
        long len = (n - 1) * sT + v;
        float[] host = new float[(int) len];
        SplittableRandom r = new SplittableRandom(19);
        for (int i = 0; i < host.length; i++) {
            host[i] = (float) ((r.nextDouble() * 2 - 1) * 8);
        }
        int[] targets = {3, -1, 300, 17};
        double[] scale = {0.5, 0.0, 1.0, 0.0};
        LossExtensions ext = new LossExtensions(0.1, 1e-3, 5);
        long dz = gpu.malloc(4 * len);
        long dg = gpu.malloc(4 * len);
        ByteBuffer up = ByteBuffer.allocate((int) (4 * len)).order(ByteOrder.nativeOrder());
        up.asFloatBuffer().put(host);
        gpu.write(dz, up.array());
        double[] loss = new double[n];
        boolean[] hit = new boolean[n];
        double[] entropy = new double[n];
        int[] arg = new int[n];
        kernel.runOnDevice(DeviceLossProblem.builder().shape(1, n, v).logits(dz, ElementType.FLOAT32, 0, sT)
                .targets(targets).gradient(scale, dg, ElementType.FLOAT32, 0, sT).extensions(ext).entropyOut(entropy)
                .argMaxOut(arg).build(), loss, hit);
        float[] refGrad = new float[(int) len];
        double[] refLoss = new double[n];
        boolean[] refHit = new boolean[n];
        double[] refEntropy = new double[n];
        int[] refArg = new int[n];
        ReferenceKernel.INSTANCE.run(LossProblem.builder().shape(1, n, v).logits(Memory.of(host), 0, 0, sT, 1)
                .targets(targets).gradient(scale, Memory.of(refGrad), 0, 0, sT, 1).extensions(ext)
                .entropyOut(refEntropy).argMaxOut(refArg).build(), refLoss, refHit);
        assertArrayEquals(refArg, arg, "arg-max outputs");
        ByteBuffer g = ByteBuffer.wrap(gpu.read(dg, (int) (4 * len))).order(ByteOrder.nativeOrder());
        for (int row = 0; row < n; row++) {
            KernelAgreementCases.Case.assertClose(refLoss[row], loss[row], 1e-5, 1e-6, "loss " + row);
            KernelAgreementCases.Case.assertClose(refEntropy[row], entropy[row], 1e-5, 1e-5, "entropy " + row);
            assertEquals(refHit[row], hit[row], "hit " + row);
            for (int j = 0; j < v; j++) {
                long at = row * sT + j;
                KernelAgreementCases.Case.assertClose(refGrad[(int) at], g.getFloat((int) (4 * at)), 1e-5, 1e-7,
                        "gradient row " + row + " element " + j);
            }
        }
        gpu.free(dz);
        gpu.free(dg);
    }

    @Test
    void concurrentCallersEachGetTheirOwnStream() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            Future<?>[] fs = new Future<?>[3];
            for (int t = 0; t < 3; t++) {
                int seed = 40 + t;
                fs[t] = pool.submit(() -> {
                    KernelAgreementCases.Case c = new KernelAgreementCases.Case(ElementType.FLOAT32, 3, 7, 300,
                            KernelAgreementCases.Layout.NWC, KernelAgreementCases.Grad.SEPARATE, seed);
                    c.fillRandom();
                    c.check(kernel);
                    kernel.releaseThreadResources();
                });
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void gpuCheckCompareAndBenchRunOnSmallSizes() {
        StringWriter sw = new StringWriter();
        GpuCheck c = new GpuCheck(kernels, new PrintWriter(sw, true));
        c.probe();
        // aligned rows (V a multiple of the vector width): staged, device-resident and in place
        // then split every row the same way, so their results are bitwise equal
        c.compare(DType.F32, 1000, 6, 3, true);
        c.compare(DType.BF16, 776, 5, 4, true);
        c.bench(DType.BF16, 20, 500, 42, 1);
        c.bench(DType.F32, 17, 333, 42, 1);
        c.compare(DType.F32, 1000, 4, 5, true, GpuCheck.EXTENSIONS.get(3));
        c.benchExtensions(DType.BF16, 9, 300, 42, 1);
        c.close();
        String out = sw.toString();
        String[] lines = out.trim().split("\n");
        assertEquals(5 + 1 + GpuCheck.EXTENSIONS.size(), lines.length, out);
        assertTrue(lines[5].contains("\"ext\":\"ls+z+cap\"") && lines[5].contains("\"pass\":true")
                && lines[5].contains("\"deviceEqualsStaged\":true"), out);
        assertTrue(lines[6].contains("\"kind\":\"bench-ext\"") && lines[6].contains("\"fwdRatio\":"), out);
        assertTrue(lines[1].contains("\"pass\":true") && lines[2].contains("\"pass\":true"), out);
        assertTrue(lines[1].contains("\"deviceEqualsStaged\":true") && lines[1].contains("\"inPlaceEqualsStaged\":true")
                && lines[1].contains("\"deviceSumsOk\":true"), out);
        assertTrue(lines[3].contains("\"kind\":\"bench\"") && lines[3].contains("\"weightedLoss\":"), out);
        // the device's weighted mean over the generated inputs equals the host's over reference losses
        double[] lossSums = referenceWeightedLoss(DType.BF16, 20, 500, 42);
        double got = Double.parseDouble(lines[3].replaceAll(".*\"weightedLoss\":([^,}]*).*", "$1"));
        assertEquals(lossSums[0] / lossSums[1], got, 1e-5 * got);
    }

    private static double[] referenceWeightedLoss(DType t, int rows, int vocab, int seed) {
        GpuCheck.Inputs in = new GpuCheck.Inputs(t, rows, vocab, seed);
        GpuCheck.Result r = GpuCheck.reference(in, false);
        double[] s = GpuCheck.hostSums(r.loss, r.correct, in.targets, in.weights, in.roles);
        return new double[] {s[0], s[1]};
    }
}
