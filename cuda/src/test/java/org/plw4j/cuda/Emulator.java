package org.plw4j.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Builds (once, cached by a hash of its sources) the CPU emulation of the CUDA kernels,
 * {@code src/test/emu/emu_main.cpp} compiled with the kernel sources by a C++20 compiler. Tests
 * that need it are skipped where there is no C++ compiler or no source tree.
 */
final class Emulator {
    private static final Map<Integer, Path> BINARIES = new HashMap<>();
    private static String skipReason;

    private Emulator() {
    }

    static Path sourceDir() {
        return Paths.get(System.getProperty("plw4j.cuda.sourceDir", "src/main/cuda"));
    }

    static Path emuDir() {
        return Paths.get(System.getProperty("plw4j.cuda.emuDir", "src/test/emu"));
    }

    static Path workDir() throws IOException {
        Path p = Paths.get(System.getProperty("plw4j.cuda.workDir", "target/cuda-test"));
        Files.createDirectories(p);
        return p;
    }

    /**
     * @param block PLW4J_BLOCK to compile the kernels with
     * @return the emulator binary; skips the calling test when it cannot be built
     */
    static synchronized Path binary(int block) {
        if (!BINARIES.containsKey(block) && skipReason == null) {
            try {
                Path p = build(block);
                if (p != null) {
                    BINARIES.put(block, p);
                }
            } catch (IOException | InterruptedException | NoSuchAlgorithmException e) {
                skipReason = "cannot build the CUDA emulator: " + e;
            }
        }
        Assumptions.assumeTrue(skipReason == null, () -> skipReason);
        return BINARIES.get(block);
    }

    private static Path build(int block) throws IOException, InterruptedException, NoSuchAlgorithmException {
        Path src = sourceDir();
        Path emu = emuDir();
        if (!Files.isDirectory(src) || !Files.isRegularFile(emu.resolve("emu_main.cpp"))) {
            skipReason = "kernel sources not found at " + src.toAbsolutePath() + " and " + emu.toAbsolutePath();
            return null;
        }
        String cxx = System.getenv().getOrDefault("CXX", "g++");
        if (!Tools.onPath(cxx)) {
            skipReason = "no C++ compiler (" + cxx + ") on the PATH";
            return null;
        }
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        List<Path> files = new ArrayList<>();
        try (Stream<Path> a = Files.list(src); Stream<Path> b = Files.list(emu)) {
            files.addAll(a.collect(Collectors.toList()));
            files.addAll(b.collect(Collectors.toList()));
        }
        files.sort(null);
        for (Path f : files) {
            md.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
            md.update(Files.readAllBytes(f));
        }
        StringBuilder hex = new StringBuilder();
        for (byte x : md.digest()) {
            hex.append(String.format("%02x", x & 0xff));
        }
        Path out = workDir().resolve("emu" + block + "-" + hex.substring(0, 16));
        if (!Files.isExecutable(out)) {
            Path tmp = workDir().resolve(out.getFileName() + ".tmp");
            Process p = new ProcessBuilder(cxx, "-std=c++20", "-O2", "-DPLW4J_BLOCK=" + block,
                    "-I" + src.toAbsolutePath(), emu.resolve("emu_main.cpp").toAbsolutePath().toString(),
                    "-o", tmp.toAbsolutePath().toString()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("the emulator does not compile:\n" + log);
            }
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }
}
