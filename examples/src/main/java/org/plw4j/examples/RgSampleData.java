package org.plw4j.examples;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Generates the small JSONL sample shipped in {@code examples/data/rg-sample.jsonl}: synthetic
 * instruction data ({@code {"prompt": ..., "completion": ...}}) in four kinds whose generation ratios
 * span four decades, like a mixed instruction-tuning set: multiple-choice reading comprehension (long
 * passage, one-letter answer, Rg about 0.01), summarisation (Rg about 0.1), short question answering
 * (Rg about 1) and writing from a short instruction (Rg about 10). The words are made up; nothing is
 * downloaded. The same seed gives the same file, byte for byte.
 *
 * <pre>
 * java -cp ... org.plw4j.examples.RgSampleData examples/data/rg-sample.jsonl
 * </pre>
 */
public final class RgSampleData {
    /** The seed of the shipped file. */
    static final long SEED = 20240917L;
    /** The number of examples in the shipped file. */
    static final int SIZE = 400;

    private static final String[] SYLLABLES = {
        "ka", "lo", "mi", "ten", "ra", "su", "vel", "no", "dar", "es", "qui", "an", "tor", "bel", "ri", "ga",
        "mon", "sa", "pe", "lu", "ver", "di", "ho", "nar"};
    private static final String[] LETTERS = {"A", "B", "C", "D"};

    private RgSampleData() {
    }

    /**
     * Writes the sample.
     *
     * @param args the output path (default {@code examples/data/rg-sample.jsonl})
     * @throws IOException if the file cannot be written
     */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "examples/data/rg-sample.jsonl");
        if (out.toAbsolutePath().getParent() != null) {
            Files.createDirectories(out.toAbsolutePath().getParent());
        }
        Files.writeString(out, String.join("\n", lines(SEED, SIZE)) + "\n", StandardCharsets.UTF_8);
        System.out.println("wrote " + SIZE + " examples to " + out);
    }

    /**
     * @param seed the random seed
     * @param n the number of examples
     * @return the JSONL lines (without line terminators)
     */
    static List<String> lines(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        ObjectMapper mapper = new ObjectMapper();
        List<String> lines = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Map<String, String> example = new LinkedHashMap<>();
            switch (i % 4) {
                case 0:
                    readingComprehension(rnd, example);
                    break;
                case 1:
                    summary(rnd, example);
                    break;
                case 2:
                    shortAnswer(rnd, example);
                    break;
                default:
                    writing(rnd, example);
                    break;
            }
            try {
                lines.add(mapper.writeValueAsString(example));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        return lines;
    }

    private static void readingComprehension(SplittableRandom rnd, Map<String, String> ex) {
        StringBuilder p = new StringBuilder("Read the passage and answer the question.\n\nPassage: ");
        p.append(sentences(rnd, 12 + rnd.nextInt(20)));
        p.append("\n\nQuestion: What did the ").append(word(rnd)).append(" ").append(word(rnd)).append("?\n");
        for (String letter : LETTERS) {
            p.append(letter).append(". ").append(phrase(rnd, 2 + rnd.nextInt(4))).append('\n');
        }
        p.append("Answer:");
        ex.put("prompt", p.toString());
        ex.put("completion", " " + LETTERS[rnd.nextInt(4)]);
    }

    private static void summary(SplittableRandom rnd, Map<String, String> ex) {
        ex.put("prompt", "Summarize the following text in one sentence.\n\n" + sentences(rnd, 6 + rnd.nextInt(10)));
        ex.put("completion", " " + sentences(rnd, 1 + rnd.nextInt(2)));
    }

    private static void shortAnswer(SplittableRandom rnd, Map<String, String> ex) {
        ex.put("prompt", "Question: " + capitalize(phrase(rnd, 4 + rnd.nextInt(8))) + "?");
        ex.put("completion", " " + sentences(rnd, 1));
    }

    private static void writing(SplittableRandom rnd, Map<String, String> ex) {
        ex.put("prompt", "Write a story about the " + word(rnd) + ".");
        ex.put("completion", " " + sentences(rnd, 4 + rnd.nextInt(12)));
    }

    private static String sentences(SplittableRandom rnd, int count) {
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < count; s++) {
            if (s > 0) {
                sb.append(' ');
            }
            sb.append(capitalize(phrase(rnd, 5 + rnd.nextInt(10)))).append('.');
        }
        return sb.toString();
    }

    private static String phrase(SplittableRandom rnd, int words) {
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < words; w++) {
            if (w > 0) {
                sb.append(' ');
            }
            sb.append(word(rnd));
        }
        return sb.toString();
    }

    private static String word(SplittableRandom rnd) {
        int syllables = 1 + rnd.nextInt(3);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < syllables; i++) {
            sb.append(SYLLABLES[rnd.nextInt(SYLLABLES.length)]);
        }
        return sb.toString();
    }

    private static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
