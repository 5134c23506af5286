package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.plw4j.GenerationRatio;
import org.plw4j.RgSummary;

/**
 * End-to-end runs of the {@code RgReport} command on the shipped sample and on small files made here.
 * Expected values: hand-counted token numbers with a whitespace word-level {@code tokenizer.json}
 * (one token per word, so Rg is a ratio of word counts), or, for the sample, the same statistics
 * computed directly from the file with jtokkit and {@link GenerationRatio}; printed numbers are
 * compared at their printed precision, JSON numbers within 1e-12 relative.
 */
class RgReportTest {
    private static final Path SAMPLE = Path.of("data", "rg-sample.jsonl");

    @TempDir
    Path tmp;

    /** The output of one run. */
    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = RgReport.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void sampleFileIsTheGeneratorsOutput() throws IOException {
        // The shipped sample must be reproducible: regenerate it and compare byte for byte.
        String expected = String.join("\n", RgSampleData.lines(RgSampleData.SEED, RgSampleData.SIZE)) + "\n";
        assertEquals(expected, Files.readString(SAMPLE, StandardCharsets.UTF_8),
                "examples/data/rg-sample.jsonl differs from RgSampleData's output: regenerate it with RgSampleData");
    }

    @Test
    void sampleTableAndHistogram() throws IOException {
        Path png = tmp.resolve("rg.png");
        Run r = run(SAMPLE.toString(), "--no-progress", "--histogram", png.toString());
        assertEquals(0, r.code(), r.err());
        // Independent computation: parse every line, count with jtokkit cl100k_base, summarise.
        Encoding enc = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        ObjectMapper mapper = new ObjectMapper();
        List<String> lines = Files.readAllLines(SAMPLE, StandardCharsets.UTF_8);
        int[] p = new int[lines.size()];
        int[] c = new int[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            JsonNode n = mapper.readTree(lines.get(i));
            p[i] = enc.countTokensOrdinary(n.get("prompt").asText());
            c[i] = enc.countTokensOrdinary(n.get("completion").asText());
        }
        RgSummary s = GenerationRatio.summarize(p, c);
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "examples                   %,d", lines.size())), r.out());
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "mean Rg                    %.4f", s.mean())), r.out());
        assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, "median Rg                  %.4f", s.median())), r.out());
        assertTrue(r.out().contains("malformed lines            0"), r.out());
        assertPng(png);
    }

    @Test
    void jsonOutputWithTemplatesAndLocalTokenizerJson() throws IOException {
        Path tok = wordLevelTokenizer();
        Path data = write("alpaca.jsonl",
                "{\"instruction\": \"say the words\", \"input\": \"one two\", \"output\": \"three\"}",
                "{\"instruction\": \"count\", \"input\": null, \"output\": \"a b c d\"}",
                "{\"instruction\": \"x y z w\", \"input\": \"\", \"output\": \"\"}");
        Run r = run(data.toString(), "--no-progress", "--json", "--tokenizer", tok.toString(),
                "--prompt-template", "{instruction}\\n\\n{input}", "--completion-template", "{output}");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        // Word counts: prompts 5, 1, 4; completions 1, 4, 0 -> Rg 0.2, 4, undefined.
        assertEquals(3, j.get("examples").asLong());
        assertEquals(2, j.get("count").asLong());
        assertEquals(1, j.get("undefined").asLong());
        assertEquals(0, j.get("malformedLines").asLong());
        assertEquals((0.2 + 4.0) / 2, j.get("mean").asDouble(), 1e-12);
        assertEquals(Math.sqrt(0.2 * 4.0), j.get("geometricMean").asDouble(), 1e-12);
        assertEquals(0.5, j.get("shareAboveOne").asDouble(), 0);
        assertEquals(10.0 / 3, j.get("meanPromptTokens").asDouble(), 1e-12);
        assertEquals(1, j.get("histogramPowersOfTen").get("1e-1").asLong());
        assertEquals(1, j.get("histogramPowersOfTen").get("1e0").asLong());
    }

    @Test
    void chatMessagesWithTrainedRoles() throws IOException {
        Path tok = wordLevelTokenizer();
        Path data = write("chat.jsonl",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": "
                        + "\"what is two plus two\"}, {\"role\": \"assistant\", \"content\": \"four\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": "
                        + "\"hello there\"}, {\"role\": \"user\", \"content\": \"bye now\"}, {\"role\": \"assistant\", "
                        + "\"content\": \"good bye\"}]}");
        Run r = run(data.toString(), "--no-progress", "--json", "-t", tok.toString(), "--messages", "messages");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        // Row 0: prompt 2 + 5 words, completion 1 -> 1/7; row 1: prompt 1 + 2, completion 2 + 2 -> 4/3.
        assertEquals(2, j.get("count").asLong());
        assertEquals((1.0 / 7 + 4.0 / 3) / 2, j.get("mean").asDouble(), 1e-12);
    }

    @Test
    void malformedLinesAreCountedWithLineNumbersNeverACrash() throws IOException {
        Path data = write("bad.jsonl",
                "{\"prompt\": \"a long enough prompt here\", \"completion\": \"yes\"}",
                "{\"prompt\": \"unterminated",
                "[1, 2, 3]",
                "",
                "{\"prompt\": \"no completion\"}",
                "{\"prompt\": {\"nested\": true}, \"completion\": \"x\"}",
                "{\"prompt\": \"p\", \"completion\": \"c\"} trailing",
                "{\"prompt\": \"valid again\", \"completion\": \"\"}",
                "\u00ff\u00fe not json at all");
        Run r = run(data.toString(), "--no-progress");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("lines read                 9"), r.out());
        assertTrue(r.out().contains("examples                   2"), r.out());
        assertTrue(r.out().contains("malformed lines            6"), r.out());
        assertTrue(r.out().contains("blank lines                1"), r.out());
        assertTrue(r.out().contains("Rg undefined (0 tokens)    1"), r.out());
        for (int line : new int[] {2, 3, 5, 6, 7, 9}) {
            assertTrue(r.err().contains("malformed line " + line + ":"), "line " + line + " reported: " + r.err());
        }
        assertTrue(r.err().contains("line 5: missing field 'completion'"), r.err());
        assertTrue(r.err().contains("line 3: not a JSON object"), r.err());
    }

    @Test
    void onlyTheFirstErrorsArePrintedButAllAreCounted() throws IOException {
        String[] lines = new String[30];
        java.util.Arrays.fill(lines, "not json");
        Run r = run(write("many.jsonl", lines).toString(), "--no-progress", "--show-errors", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("malformed lines            30 (first 3 shown on stderr)"), r.out());
        assertEquals(3, r.err().lines().filter(l -> l.startsWith("malformed line")).count(), r.err());
    }

    @Test
    void badOptionsAndMissingFilesAreClearErrors() throws IOException {
        Path data = write("ok.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}");
        Run unknownTokenizer = run(data.toString(), "--no-progress", "-t", "no_such_encoding");
        assertEquals(2, unknownTokenizer.code());
        assertTrue(unknownTokenizer.err().contains("no_such_encoding"), unknownTokenizer.err());
        Run badTemplate = run(data.toString(), "--no-progress", "--prompt-template", "no placeholder");
        assertEquals(2, badTemplate.code());
        assertTrue(badTemplate.err().contains("--prompt-template"), badTemplate.err());
        Run unmatched = run(data.toString(), "--no-progress", "--prompt-template", "{prompt");
        assertEquals(2, unmatched.code());
        Run missing = run(tmp.resolve("absent.jsonl").toString(), "--no-progress");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("absent.jsonl"), missing.err());
        assertTrue(missing.err().startsWith("error: cannot read: "), missing.err());
        assertTrue(badTemplate.err().startsWith("error: "), badTemplate.err());
        Run usage = run();
        assertEquals(2, usage.code());
    }

    @Test
    void progressBarDoesNotBreakTheRun() throws IOException {
        // The progress bar goes to System.err; the summary must be unaffected.
        Path data = write("p.jsonl", "{\"prompt\": \"a b c d\", \"completion\": \"e\"}");
        Run r = run(data.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, new ObjectMapper().readTree(r.out()).get("count").asLong());
    }

    private Path write(String name, String... lines) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return p;
    }

    /** A Hugging Face tokenizer.json: whitespace pre-tokenizer, word-level model, every word is one token. */
    private Path wordLevelTokenizer() throws IOException {
        String json = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
                + "\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":false,\"special\":true}],"
                + "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,"
                + "\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"[UNK]\":0,\"the\":1,\"a\":2},"
                + "\"unk_token\":\"[UNK]\"}}";
        Path p = tmp.resolve("tokenizer.json");
        Files.writeString(p, json, StandardCharsets.UTF_8);
        return p;
    }

    static void assertPng(Path png) throws IOException {
        assertTrue(Files.isRegularFile(png), png + " exists");
        byte[] b = Files.readAllBytes(png);
        assertTrue(b.length > 1000, png + " is not empty: " + b.length + " bytes");
        assertEquals((byte) 0x89, b[0]);
        assertEquals('P', b[1]);
        assertEquals('N', b[2]);
        assertEquals('G', b[3]);
    }
}
