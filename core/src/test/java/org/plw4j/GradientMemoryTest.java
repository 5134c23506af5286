package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.kernel.FusedCpuKernel;

/**
 * {@link GradientMemory} (the new gradient of {@code computeWithGradient}) and {@link HugePages}: the
 * array has the requested type, shape and C-order strides and behaves as any ND4J array; the gradient
 * computed into it equals, bitwise, the one computed into a zeroed caller-owned array (same kernel); and
 * on Linux x86-64 with the native library built and THP not off, the array's memory is mapped with 2 MiB
 * pages once written (read back from {@code /proc/self/smaps}).
 */
class GradientMemoryTest {
    private static final long[] BIG = {2, 64, 8192}; // 1 Mi elements: 4 MiB in fp32, at GradientMemory.MIN_BYTES

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT", "DOUBLE", "HALF", "BFLOAT16"})
    void allocatesAnOrdinaryArrayOfTheRequestedTypeAndShape(DataType dt) {
        long[] shape = dt.width() == 2 ? new long[] {2, 128, 8192} : BIG;
        INDArray a = GradientMemory.allocate(dt, shape);
        assertEquals(dt, a.dataType());
        assertArrayEquals(shape, a.shape());
        assertArrayEquals(Nd4j.create(dt, shape).stride(), a.stride());
        assertEquals('c', a.ordering());
        assertFalse(a.isView());
        assertFalse(a.isAttached());
        assertEquals(a.length(), a.data().length());
        a.assign(0.5);
        a.putScalar(new long[] {1, 3, 77}, -2.0);
        assertEquals(-2.0, a.getDouble(1, 3, 77), 0.0);
        assertEquals(0.5 * (a.length() - 1) - 2.0, a.castTo(DataType.DOUBLE).sumNumber().doubleValue(), 0.0);
        a.close();
    }

    @Test
    void smallArraysAndOtherTypesComeFromNd4j() {
        INDArray small = GradientMemory.allocate(DataType.FLOAT, new long[] {2, 3, 5});
        assertArrayEquals(new long[] {2, 3, 5}, small.shape());
        INDArray ints = GradientMemory.allocate(DataType.INT, BIG);
        assertEquals(DataType.INT, ints.dataType());
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT", "BFLOAT16"})
    void gradientInFreshMemoryEqualsTheGradientIntoAZeroedArray(DataType dt) {
        Random rnd = new Random(5);
        int b = 2;
        int n = dt.width() == 2 ? 128 : 64;
        int v = 8192;
        INDArray z = TestData.logits(rnd, b, n, v, false, dt, TestData.ViewKind.C_ORDER, 2.0);
        INDArray ids = TestData.idArray(TestData.ids(rnd, b, n, v), DataType.LONG);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(rnd, b, n));
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1)
                .withKernel(FusedCpuKernel.create());
        LossResult fresh = loss.computeWithGradient(z, ids, mask);
        INDArray out = Nd4j.zeros(dt, b, n, v);
        LossResult into = loss.computeWithGradient(z, ids, mask, out);
        assertEquals(into.loss(), fresh.loss(), 0.0);
        assertEquals(0.0, fresh.gradient().castTo(DataType.DOUBLE).sub(out.castTo(DataType.DOUBLE))
                .amaxNumber().doubleValue(), 0.0);
    }

    @Test
    void nativeLibraryLoadsOnLinuxX8664() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        boolean platform = os.startsWith("linux") && (arch.equals("amd64") || arch.equals("x86_64"));
        boolean off = System.getProperty(HugePages.PROPERTY, "true").trim().equalsIgnoreCase("false");
        assertTrue(HugePages.class.getResource(HugePages.RESOURCE) != null, "the prebuilt library is in the jar");
        assertEquals(platform && !off, HugePages.available());
        assertFalse(HugePages.advise(0, 1L << 30), "no address");
        assertFalse(HugePages.advise(1L << 30, HugePages.HUGE_PAGE - 1), "shorter than a huge page");
    }

    @Test
    void freshGradientMemoryIsMappedWithHugePages() throws IOException {
        assumeTrue(HugePages.available(), "huge-page advice off or not loadable here");
        Path mode = Paths.get("/sys/kernel/mm/transparent_hugepage/enabled");
        assumeTrue(Files.isReadable(mode) && !Files.readString(mode).contains("[never]"), "THP off on this machine");
        long elements = 16L << 20; // 64 MiB of fp32
        INDArray a = GradientMemory.allocate(DataType.FLOAT, new long[] {16, 1024, 1024});
        a.assign(1.0); // first touch
        long kb = anonHugePagesKb(a.data().address(), elements * 4);
        assertTrue(kb >= 32 * 1024, "AnonHugePages of the gradient's mapping: " + kb + " kB of " + elements * 4 / 1024);
        a.close();
    }

    /**
     * AnonHugePages (kB) summed over the /proc/self/smaps mappings that overlap {@code [address, address +
     * bytes)} (the advice splits the allocation's mapping at the 2 MiB boundaries).
     */
    private static long anonHugePagesKb(long address, long bytes) throws IOException {
        List<String> lines = Files.readAllLines(Paths.get("/proc/self/smaps"));
        boolean inside = false;
        long kb = 0;
        for (String line : lines) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long lo = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long hi = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = lo < address + bytes && hi > address;
            } else if (inside && line.startsWith("AnonHugePages:")) {
                kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return kb;
    }
}
