package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prebuilt huge-pages library of {@link HugePages}: it is the build of its committed source by the
 * command and compiler that {@code src/main/c/build-native.sh} records, and its absence or a broken
 * file leaves the library without advice instead of failing.
 */
class HugePagesTest {
    private static final Path SCRIPT = Path.of("src/main/c/build-native.sh");

    @Test
    void prebuiltLibraryIsTheBuildOfItsSource(@TempDir Path tmp) throws IOException, InterruptedException {
        assumeTrue(Files.exists(SCRIPT), "run from the core module directory (surefire does)");
        String recorded = recordedCompiler();
        Optional<String> here = run(tmp, "gcc", "--version");
        assumeTrue(here.isPresent() && here.get().lines().findFirst().orElse("").equals(recorded),
                "the recorded compiler '" + recorded + "' is not the gcc here");
        Path built = tmp.resolve("libplw4j.so");
        Optional<String> log = run(tmp, "sh", SCRIPT.toAbsolutePath().toString(), built.toString());
        assertNotNull(log.orElse(null), "build-native.sh failed");
        byte[] shipped;
        try (InputStream in = HugePages.class.getResourceAsStream(HugePages.RESOURCE)) {
            assertNotNull(in, HugePages.RESOURCE + " on the class path");
            shipped = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(built), shipped,
                "the committed library differs from a rebuild: run sh core/src/main/c/build-native.sh and commit it");
    }

    @Test
    void missingLibraryMeansNoAdvice() {
        assertFalse(HugePages.load("/org/plw4j/native/linux-x86_64/absent.so"));
    }

    @Test
    void unloadableLibraryMeansNoAdvice() {
        assertNotNull(HugePages.class.getResource("/org/plw4j/native/not-a-library.so"));
        assertFalse(HugePages.load("/org/plw4j/native/not-a-library.so"));
    }

    /** @return the compiler line the script records, e.g. {@code gcc (Debian 12.2.0-14+deb12u1) 12.2.0} */
    private static String recordedCompiler() throws IOException {
        List<String> lines = Files.readAllLines(SCRIPT, StandardCharsets.UTF_8);
        int i = lines.indexOf("# The committed file was built with this script by");
        assertTrue(i >= 0 && i + 1 < lines.size(), "build-native.sh names its compiler");
        return lines.get(i + 1).replaceFirst("^#\\s*", "").replaceFirst(", on .*$", "");
    }

    /** @return the output of a command that exited with 0, or empty when it failed or is missing */
    private static Optional<String> run(Path dir, String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return Optional.empty();
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return Optional.empty();
        }
        return p.exitValue() == 0 ? Optional.of(out) : Optional.empty();
    }
}
