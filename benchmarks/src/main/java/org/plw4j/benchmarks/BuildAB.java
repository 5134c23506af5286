package org.plw4j.benchmarks;

import java.io.IOException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A/B of two builds of plw4j-core in one JVM: each core jar gets its own class loader (plw4j's classes
 * and resources taken from that jar first, ND4J shared), both run the same calls on the same arrays, and
 * the rounds alternate the order (A B, then B A) so that a change of load on a shared machine hits both
 * builds alike. Ratios are taken between per-build minima and medians. The calls are the public API
 * only ({@code withDefaults().withPromptLossWeight(0.1)}, {@code compute}, {@code computeWithGradient}
 * into a reused array), so any two versions that have it can be compared; an optional sixth argument turns on
 * the extensions of {@link LossBenchmark.Extended} ({@code LABEL_SMOOTHING}, {@code Z_LOSS}, {@code SOFT_CAP},
 * {@code ALL}, {@code ENTROPY}) in both builds, through the same public {@code withX} methods, and an optional
 * seventh, {@code NCW}, passes the logits as {@code [B, V, N]} (time contiguous) with {@code withLayout(NCW)}.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -Xmx6g -cp benchmarks.jar
 * org.plw4j.benchmarks.BuildAB A.jar B.jar 4x512x32000 FLOAT 30} (the two core jars, shape, dtype,
 * rounds). Both builds' results are compared bitwise on the first call. The build loaded second has come out a
 * few per cent faster whichever it was (benchmarks/RESULTS.md): for differences of that size run both orders.
 */
public final class BuildAB {
    private BuildAB() {
    }

    /** One build: its loss object and the two methods, reached through its own class loader. */
    private record Build(String name, Object loss, Object mask, Method compute, Method withGradient) {
        static Build load(String name, Path jar, int[][] roles, String extension, boolean ncw) throws Exception {
            ClassLoader cl = new CoreFirstLoader(jar.toUri().toURL(), BuildAB.class.getClassLoader());
            Class<?> kernel = cl.loadClass("org.plw4j.kernel.FusedCpuKernel");
            kernel.getMethod("warmUp").invoke(null);
            Class<?> lossType = cl.loadClass("org.plw4j.WeightedCausalLMLoss");
            Class<?> maskType = cl.loadClass("org.plw4j.PromptCompletionMask");
            Object mask = maskType.getMethod("ofRoles", int[][].class).invoke(null, (Object) roles);
            Object loss = lossType.getMethod("withDefaults").invoke(null);
            loss = lossType.getMethod("withPromptLossWeight", double.class).invoke(loss, Batch.PLW);
            loss = extended(lossType, loss, extension);
            if (ncw) {
                Class<?> layout = cl.loadClass("org.plw4j.LogitsLayout");
                Object ncwLayout = layout.getMethod("valueOf", String.class).invoke(null, "NCW");
                loss = lossType.getMethod("withLayout", layout).invoke(loss, ncwLayout);
            }
            return new Build(name, loss, mask,
                    lossType.getMethod("compute", INDArray.class, INDArray.class, maskType),
                    lossType.getMethod("computeWithGradient", INDArray.class, INDArray.class, maskType, INDArray.class));
        }

        /** @return the loss of the forward call */
        double forward(Batch b, INDArray logits) throws Exception {
            return lossOf(compute.invoke(loss, logits, b.inputIds, mask));
        }

        /** @return the loss of the forward+gradient call (the gradient written into {@code gradient}) */
        double forwardGradient(Batch b, INDArray logits, INDArray gradient) throws Exception {
            return lossOf(withGradient.invoke(loss, logits, b.inputIds, mask, gradient));
        }

        /** @return {@code loss} with the settings of {@link LossBenchmark.Extended#with} for {@code extension} */
        private static Object extended(Class<?> lossType, Object loss, String extension) throws Exception {
            return switch (extension) {
                case "NONE" -> loss;
                case "LABEL_SMOOTHING" -> lossType.getMethod("withLabelSmoothing", double.class).invoke(loss, 0.1);
                case "Z_LOSS" -> lossType.getMethod("withZLoss", double.class).invoke(loss, 1e-4);
                case "SOFT_CAP" -> lossType.getMethod("withLogitSoftCap", double.class).invoke(loss, 30.0);
                case "ALL" -> extended(lossType, extended(lossType, extended(lossType, loss, "LABEL_SMOOTHING"),
                        "Z_LOSS"), "SOFT_CAP");
                case "ENTROPY" -> lossType.getMethod("withEntropy", boolean.class).invoke(loss, true);
                default -> throw new IllegalArgumentException("extension must be NONE, LABEL_SMOOTHING, Z_LOSS,"
                        + " SOFT_CAP, ALL or ENTROPY, was " + extension);
            };
        }

        private static double lossOf(Object result) throws Exception {
            return (double) result.getClass().getMethod("loss").invoke(result);
        }
    }

    /**
     * @param args core jar A, core jar B, shape, dtype, rounds, extension (default NONE), layout (NWC or NCW)
     * @throws Exception if a build cannot be loaded or a call fails
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            throw new IllegalArgumentException(
                    "usage: BuildAB A.jar B.jar [BxNxV] [FLOAT|BFLOAT16|DOUBLE] [rounds] [NONE|LABEL_SMOOTHING|...] [NWC|NCW]");
        }
        Batch batch = new Batch(args.length > 2 ? args[2] : "4x512x32000", args.length > 3 ? args[3] : "FLOAT");
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 30;
        String extension = args.length > 5 ? args[5] : "NONE";
        boolean ncw = args.length > 6 && args[6].equals("NCW");
        Build[] builds = {Build.load("A", Path.of(args[0]), batch.roles, extension, ncw),
            Build.load("B", Path.of(args[1]), batch.roles, extension, ncw)};
        INDArray logits = ncw ? batch.logits.permute(0, 2, 1).dup('c') : batch.logits;
        INDArray gradient = Nd4j.createUninitialized(logits.dataType(), logits.shape());
        INDArray gradientB = gradient.ulike();
        double la = builds[0].forward(batch, logits);
        double lb = builds[1].forward(batch, logits);
        double ga = builds[0].forwardGradient(batch, logits, gradient);
        double gb = builds[1].forwardGradient(batch, logits, gradientB);
        System.out.printf(Locale.ROOT, "losses bitwise equal: forward %s, forward+gradient %s; gradients bitwise equal: %s%n",
                Double.compare(la, lb) == 0, Double.compare(ga, gb) == 0,
                Arrays.equals(gradient.data().asBytes(), gradientB.data().asBytes()));
        List<List<Double>> fwd = List.of(new ArrayList<>(), new ArrayList<>());
        List<List<Double>> grad = List.of(new ArrayList<>(), new ArrayList<>());
        for (int r = 0; r < rounds + 3; r++) {
            for (int k = 0; k < 2; k++) {
                int i = (r % 2 == 0) ? k : 1 - k;
                long t0 = System.nanoTime();
                builds[i].forward(batch, logits);
                long t1 = System.nanoTime();
                builds[i].forwardGradient(batch, logits, gradient);
                long t2 = System.nanoTime();
                if (r >= 3) { // the first rounds let the JIT compile both builds
                    fwd.get(i).add((t1 - t0) / 1e6);
                    grad.get(i).add((t2 - t1) / 1e6);
                }
            }
            System.gc(); // ND4J frees result buffers only after a GC (not timed)
        }
        System.out.printf(Locale.ROOT, "shape %dx%dx%d %s, extension %s, layout %s, %d rounds, load %s%n", batch.b, batch.n,
                batch.v, batch.dtype, extension, ncw ? "NCW" : "NWC", rounds,
                Files.readString(Path.of("/proc/loadavg")).trim());
        report("forward", fwd);
        report("forward+gradient (reused array)", grad);
        System.exit(0);
    }

    private static void report(String what, List<List<Double>> times) {
        double[][] s = new double[2][];
        for (int i = 0; i < 2; i++) {
            List<Double> t = new ArrayList<>(times.get(i));
            Collections.sort(t);
            s[i] = new double[] {t.get(0), t.get(t.size() / 2)};
            System.out.printf(Locale.ROOT, "%-32s %s min %8.2f ms  median %8.2f ms%n", what, i == 0 ? "A" : "B",
                    s[i][0], s[i][1]);
        }
        System.out.printf(Locale.ROOT, "%-32s B/A %.3f (minima), %.3f (medians)%n", what, s[1][0] / s[0][0],
                s[1][1] / s[0][1]);
    }

    /** Loads plw4j's classes and resources from one core jar before its parent; everything else from the parent. */
    private static final class CoreFirstLoader extends URLClassLoader {
        CoreFirstLoader(URL jar, ClassLoader parent) {
            super(new URL[] {jar}, parent);
        }

        private static boolean ours(String name) {
            return name.startsWith("org.plw4j.") && !name.startsWith("org.plw4j.benchmarks.");
        }

        private static boolean ourResource(String name) {
            return name.startsWith("org/plw4j/") || name.startsWith("META-INF/services/org.plw4j")
                    || name.endsWith(".so");
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!ours(name)) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    c = findClass(name);
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }

        @Override
        public URL getResource(String name) {
            if (ourResource(name)) {
                URL u = findResource(name);
                if (u != null) {
                    return u;
                }
            }
            return super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            return ourResource(name) ? findResources(name) : super.getResources(name);
        }
    }
}
