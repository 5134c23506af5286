package org.plw4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Compares the Java block after a README marker with the code between {@code // README-BEGIN} and
 * {@code // README-END} of a test source (whitespace-normalised), as {@code org.plw4j.ReadmeSnippetTest}
 * does for the quick start. Fails when README.md lacks the marker.
 */
public final class ReadmeCheck {
    private ReadmeCheck() {
    }

    /**
     * @param marker e.g. {@code <!-- snippet:dl4j -->}
     * @param testSource path of the test source below {@code core/}, e.g. {@code src/test/java/org/plw4j/dl4j/X.java}
     * @throws IOException if a file cannot be read
     */
    public static void assertReadmeBlockIsTheCode(String marker, String testSource) throws IOException {
        Path root = Path.of("").toAbsolutePath();
        Path readme = root.resolve("README.md");
        if (!Files.exists(readme)) {
            readme = root.getParent().resolve("README.md");
        }
        assumeTrue(Files.exists(readme), "README.md not found");
        String md = Files.readString(readme, StandardCharsets.UTF_8);
        int mark = md.indexOf(marker);
        assertTrue(mark >= 0, "README has no " + marker);
        int start = md.indexOf("```java", mark) + "```java".length();
        int end = md.indexOf("```", start);
        Path src = root.resolve(testSource);
        if (!Files.exists(src)) {
            src = root.resolve("core").resolve(testSource);
        }
        String code = Files.readString(src, StandardCharsets.UTF_8);
        int b = code.indexOf("// README-BEGIN") + "// README-BEGIN".length();
        int e = code.indexOf("// README-END");
        assertEquals(normalise(code.substring(b, e)), normalise(md.substring(start, end)));
    }

    private static String normalise(String s) {
        return s.replaceAll("\\s+", " ").trim();
    }
}
