package org.plw4j;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Transparent huge pages for fresh gradient arrays: {@code madvise(MADV_HUGEPAGE)} through plw4j's one JNI
 * function ({@code src/main/c/plw4j_hugepages.c}, prebuilt for Linux x86-64 by
 * {@code src/main/c/build-native.sh} and shipped in the jar as {@value #RESOURCE}). Where Linux runs THP in
 * "madvise" mode (Debian's and Ubuntu's default), memory is otherwise mapped 4 KiB at a time, one page
 * fault each when first written, and 2 MiB pages make the first touch of a large gradient several times
 * cheaper ({@code benchmarks/results/first-touch.txt}). Advice never changes values; it is given only to
 * memory nobody has written yet (see {@link GradientMemory}).
 *
 * <p>Unavailable (every call a no-op) off Linux x86-64, when the library is missing or fails to load,
 * or with {@code -D}{@value #PROPERTY}{@code =false}; fresh gradients then take 4 KiB page faults and
 * the results are the same.
 */
final class HugePages {
    /** System property: {@code false} turns the advice off. */
    static final String PROPERTY = "plw4j.hugepages";
    /** The jar resource holding the JNI library. */
    static final String RESOURCE = "/org/plw4j/native/linux-x86_64/libplw4j.so";
    /** Size of an x86-64 transparent huge page (PMD mapping). */
    static final long HUGE_PAGE = 2L << 20;

    private static final System.Logger LOG = System.getLogger(HugePages.class.getName());
    private static final boolean AVAILABLE = load(RESOURCE);

    private HugePages() {
    }

    /** {@code madvise(address, length, MADV_HUGEPAGE)}; @return 0, or the errno */
    private static native int madviseHuge0(long address, long length);

    /** @return whether advice can be given in this JVM (the library is loaded and not turned off) */
    static boolean available() {
        return AVAILABLE;
    }

    /**
     * Advises the whole 2 MiB pages inside {@code [address, address + length)}; nothing if there are none
     * or huge pages are {@linkplain #available() unavailable}.
     *
     * @param address start of a mapping this process owns (not yet written, for the advice to matter)
     * @param length bytes
     * @return whether advice was given for at least one huge page
     */
    static boolean advise(long address, long length) {
        if (!AVAILABLE || address <= 0) {
            return false;
        }
        long start = (address + HUGE_PAGE - 1) & -HUGE_PAGE;
        long end = (address + length) & -HUGE_PAGE;
        if (end <= start) {
            return false;
        }
        int errno = madviseHuge0(start, end - start);
        if (errno != 0) {
            LOG.log(System.Logger.Level.DEBUG, () -> "plw4j: madvise(MADV_HUGEPAGE) failed, errno " + errno);
        }
        return errno == 0;
    }

    /**
     * Loads the JNI library from a class-path resource, unless turned off or off Linux x86-64.
     *
     * @param resource the class-path resource of the library
     * @return whether it was loaded; false, never an exception, when it is missing or cannot be loaded
     */
    static boolean load(String resource) {
        if (System.getProperty(PROPERTY, "true").trim().equalsIgnoreCase("false")) {
            LOG.log(System.Logger.Level.DEBUG,
                    () -> "plw4j: transparent huge pages for gradients off (" + PROPERTY + "=false)");
            return false;
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return false;
        }
        URL url = HugePages.class.getResource(resource);
        if (url == null) {
            LOG.log(System.Logger.Level.DEBUG,
                    "plw4j: no native library " + resource + "; fresh gradients use 4 KiB pages");
            return false;
        }
        try {
            Path file;
            if ("file".equals(url.getProtocol())) {
                file = Paths.get(url.toURI());
            } else {
                file = Files.createTempFile("plw4j-", ".so");
                file.toFile().deleteOnExit();
                try (InputStream in = url.openStream()) {
                    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            System.load(file.toAbsolutePath().toString());
            LOG.log(System.Logger.Level.DEBUG,
                    () -> "plw4j: transparent huge pages for fresh gradient arrays (" + resource + ")");
            return true;
        } catch (IOException | URISyntaxException | RuntimeException | UnsatisfiedLinkError e) {
            LOG.log(System.Logger.Level.DEBUG,
                    "plw4j: native library not loaded; fresh gradients use 4 KiB pages", e);
            return false;
        }
    }
}
