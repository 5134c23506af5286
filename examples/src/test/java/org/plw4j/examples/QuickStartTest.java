package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * QuickStart runs and prints its three losses; its snippet is the README's, line for line (leading
 * whitespace aside), so the README never shows code that does not compile or run. The loss relations
 * checked come from SPEC section 4: the weighted mean lies between the prompt and completion losses.
 */
class QuickStartTest {

    @Test
    void runsAndPrintsTheLosses() {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            QuickStart.main(new String[0]);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertTrue(out.matches("(?s)loss \\d+\\.\\d{4}, prompt loss \\d+\\.\\d{4}, completion loss \\d+\\.\\d{4}\\R.*"), out);
        assertTrue(out.contains("targets: 3 prompt, 4 completion"), out);
        var r = QuickStart.snippet();
        double lo = Math.min(r.promptLoss(), r.completionLoss());
        double hi = Math.max(r.promptLoss(), r.completionLoss());
        assertTrue(r.loss() >= lo - 1e-12 && r.loss() <= hi + 1e-12, r.toString());
    }

    @Test
    void snippetIsTheReadmes() throws IOException {
        Path readme = Path.of("..", "README.md");
        Assertions.assertTrue(Files.isRegularFile(readme), "README.md not found next to the examples module");
        List<String> lines = Files.readAllLines(readme, StandardCharsets.UTF_8);
        int marker = lines.indexOf("<!-- snippet:quickstart -->");
        Assertions.assertTrue(marker >= 0, "README has no snippet:quickstart marker");
        int start = marker + 2; // the line after ```java
        int end = start;
        while (!lines.get(end).startsWith("```")) {
            end++;
        }
        String readmeSnippet = strip(lines.subList(start, end));
        List<String> source = Files.readAllLines(
                Path.of("src", "main", "java", "org", "plw4j", "examples", "QuickStart.java"), StandardCharsets.UTF_8);
        int from = indexOfTrimmed(source, "// snippet:quickstart begin") + 1;
        int to = indexOfTrimmed(source, "// snippet:quickstart end");
        assertEquals(readmeSnippet, strip(source.subList(from, to)),
                "README.md's quick-start snippet and QuickStart.java differ");
    }

    private static int indexOfTrimmed(List<String> lines, String s) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().equals(s)) {
                return i;
            }
        }
        throw new AssertionError("marker not found: " + s);
    }

    private static String strip(List<String> lines) {
        return lines.stream().map(String::strip).collect(Collectors.joining("\n"));
    }
}
