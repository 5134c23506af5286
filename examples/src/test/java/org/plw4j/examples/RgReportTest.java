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
    void sampleTableAndHistogramCountedSeparately() throws IOException {
        Path png = tmp.resolve("rg.png");
        Run r = run(SAMPLE.toString(), "--no-progress", "--count", "separate", "--histogram", png.toString());
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
        assertTrue(r.out().contains("malformed records          0"), r.out());
        assertTrue(r.out().contains("counting                   separate"), r.out());
        assertPng(png);
    }

    @Test
    void sampleCountedAsTheArticleDoesByDefault() throws IOException {
        // Independent computation: encode prompt + completion once with jtokkit; a token is prompt when the
        // UTF-8 length of the decoded tokens up to and including it is at most the prompt's UTF-8 length.
        Encoding enc = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        ObjectMapper mapper = new ObjectMapper();
        List<String> lines = Files.readAllLines(SAMPLE, StandardCharsets.UTF_8);
        int[] p = new int[lines.size()];
        int[] c = new int[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            JsonNode n = mapper.readTree(lines.get(i));
            String prompt = n.get("prompt").asText();
            com.knuddels.jtokkit.api.IntArrayList ids = enc.encodeOrdinary(prompt + n.get("completion").asText());
            int promptBytes = prompt.getBytes(StandardCharsets.UTF_8).length;
            com.knuddels.jtokkit.api.IntArrayList prefix = new com.knuddels.jtokkit.api.IntArrayList();
            for (int k = 0; k < ids.size(); k++) {
                prefix.add(ids.get(k));
                if (enc.decodeBytes(prefix).length <= promptBytes) {
                    p[i]++;
                } else {
                    c[i]++;
                }
            }
        }
        RgSummary s = GenerationRatio.summarize(p, c);
        Run r = run(SAMPLE.toString(), "--no-progress", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.get("counting").asText().startsWith("article"), r.out());
        assertEquals(s.count(), j.get("count").asLong());
        // the same values summarised by the same code: equal to the last bit
        assertEquals(s.mean(), j.get("mean").asDouble(), 0);
        assertEquals(s.median(), j.get("median").asDouble(), 0);
        assertEquals(s.geometricMean(), j.get("geometricMean").asDouble(), 0);
    }

    @Test
    void gpt2TokenizerJsonCountsAsJtokkitsR50kBase() throws IOException {
        // GPT-2's tokenizer.json (test resources, through DJL; offsets in code points) and jtokkit's r50k_base
        // (the same BPE; offsets in UTF-8 bytes) must give the same counts, every way of counting; the sample
        // plus non-ASCII records whose boundary falls between whole characters.
        Path data = tmp.resolve("mixed.jsonl");
        Files.writeString(data, Files.readString(SAMPLE, StandardCharsets.UTF_8)
                + "{\"prompt\": \"Traduis : naïve café\", \"completion\": \" résumé 日本語 😀\"}\n"
                + "{\"prompt\": \"Question:\\nWhat is 2+2?\\nAnswer:\", \"completion\": \" 4</s> ok\"}\n",
                StandardCharsets.UTF_8);
        Path gpt2 = RgThroughput.gpt2TokenizerJson(tmp);
        for (String[] mode : new String[][] {{}, {"--count", "separate"}, {"--chat-template", "llama-2"}}) {
            JsonNode[] j = new JsonNode[2];
            String[] tokenizers = {"r50k_base", gpt2.toString()};
            for (int i = 0; i < 2; i++) {
                List<String> args = new java.util.ArrayList<>(List.of(data.toString(), "--no-progress", "--json",
                        "-t", tokenizers[i]));
                args.addAll(List.of(mode));
                Run r = run(args.toArray(new String[0]));
                assertEquals(0, r.code(), r.err());
                j[i] = new ObjectMapper().readTree(r.out());
            }
            assertEquals(402, j[0].get("examples").asLong(), List.of(mode).toString());
            for (String key : new String[] {"promptTokens", "completionTokens", "mean", "median", "trimmedMean"}) {
                assertEquals(j[0].get(key), j[1].get(key), key + " " + List.of(mode));
            }
        }
    }

    @Test
    void lineEndingsAndBadBytesReadAsATextReaderReadsThem() throws IOException {
        // LF, CR LF and CR end lines alike; a byte that is not UTF-8 becomes U+FFFD inside a string (counted,
        // as a text reader decodes it) and makes a line outside strings malformed; blank lines of spaces, tabs
        // or a Unicode space are blank.
        byte[] bad = {(byte) 0xff};
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes("{\"prompt\": \"a b\", \"completion\": \"c\"}\r\n".getBytes(StandardCharsets.UTF_8));
        b.writeBytes("{\"prompt\": \"a\", \"completion\": \"b c\"}\r".getBytes(StandardCharsets.UTF_8));
        b.writeBytes(" \t\n\u2003\n".getBytes(StandardCharsets.UTF_8));
        b.writeBytes("{\"prompt\": \"x ".getBytes(StandardCharsets.UTF_8));
        b.writeBytes(bad);
        b.writeBytes("\", \"completion\": \"y\"}\n".getBytes(StandardCharsets.UTF_8));
        b.writeBytes(bad);
        b.writeBytes("{}".getBytes(StandardCharsets.UTF_8)); // no final line end
        Path data = tmp.resolve("endings.jsonl");
        Files.write(data, b.toByteArray());
        Run r = run(data.toString(), "--no-progress", "--json", "-t", wordLevelTokenizer().toString(), "--count",
                "separate");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(6, j.get("records").asLong(), r.out());
        assertEquals(3, j.get("examples").asLong(), r.out());
        assertEquals(2, j.get("blankLines").asLong(), r.out());
        assertEquals(1, j.get("malformedRecords").asLong(), r.out());
        assertTrue(r.err().contains("malformed line 6: invalid JSON"), r.err());
        // words: 2 -> 1, 1 -> 2, "x \uFFFD" (2: the replacement character is a run of its own) -> 1
        assertEquals(5, j.get("promptTokens").asLong(), r.out());
        assertEquals(4, j.get("completionTokens").asLong(), r.out());
    }

    @Test
    void jsonOutputWithTemplatesAndLocalTokenizerJson() throws IOException {
        Path tok = wordLevelTokenizer();
        Path data = write("alpaca.jsonl",
                "{\"instruction\": \"say the words\", \"input\": \"one two\", \"output\": \"three\"}",
                "{\"instruction\": \"count\", \"input\": null, \"output\": \"a b c d\"}",
                "{\"instruction\": \"x y z w\", \"input\": \"\", \"output\": \"\"}");
        Run r = run(data.toString(), "--no-progress", "--json", "--tokenizer", tok.toString(), "--count", "separate",
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

        // Counted as the article does, the texts are concatenated: "one two" + "three" is "one twothree",
        // whose last word straddles the boundary and counts as completion: prompt 4, completion 1.
        Run article = run(data.toString(), "--no-progress", "--json", "--tokenizer", tok.toString(),
                "--prompt-template", "{instruction}\\n\\n{input}", "--completion-template", "{output}");
        assertEquals(0, article.code(), article.err());
        JsonNode a = new ObjectMapper().readTree(article.out());
        assertEquals((0.25 + 4.0) / 2, a.get("mean").asDouble(), 1e-12);
        assertEquals(9.0 / 3, a.get("meanPromptTokens").asDouble(), 1e-12);
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
        assertTrue(r.out().contains("records read               9"), r.out());
        assertTrue(r.out().contains("examples                   2"), r.out());
        assertTrue(r.out().contains("malformed records          6"), r.out());
        assertTrue(r.out().contains("blank lines                1"), r.out());
        assertTrue(r.out().contains("Rg undefined (0 tokens)    1"), r.out());
        for (int line : new int[] {2, 3, 5, 6, 7, 9}) {
            assertTrue(r.err().contains("malformed line " + line + ":"), "line " + line + " reported: " + r.err());
        }
        assertTrue(r.err().contains(data + ": malformed line 5: missing field 'completion'"), r.err());
        assertTrue(r.err().contains("line 3: not a JSON object"), r.err());
    }

    @Test
    void onlyTheFirstErrorsArePrintedButAllAreCounted() throws IOException {
        String[] lines = new String[30];
        java.util.Arrays.fill(lines, "not json");
        Run r = run(write("many.jsonl", lines).toString(), "--no-progress", "--show-errors", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("malformed records          30 (first 3 shown on stderr)"), r.out());
        assertEquals(3, r.err().lines().filter(l -> l.contains(": malformed line")).count(), r.err());
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

    @Test
    void chatTemplateCountsTheTemplatesTokensAndSaysSo() throws IOException {
        Path tok = TestTokenizers.wordLevel(tmp, List.of("<s>", "</s>", "[INST]", "[/INST]"), null, null);
        Path data = write("qa.jsonl", "{\"prompt\": \"what is two plus two\", \"completion\": \"four\"}");
        Run r = run(data.toString(), "--no-progress", "--json", "-t", tok.toString(), "--chat-template", "llama-2");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        // "<s>[INST] what is two plus two [/INST] four </s>": 8 prompt tokens, 2 completion tokens
        assertEquals(8.0, j.get("meanPromptTokens").asDouble(), 0);
        assertEquals(2.0, j.get("meanCompletionTokens").asDouble(), 0);
        assertTrue(j.get("counting").asText().contains("chat template llama-2"), j.get("counting").asText());
        Run table = run(data.toString(), "--no-progress", "-t", tok.toString(), "--chat-template", "llama-2");
        assertTrue(table.out().contains("counting                   article (chat template llama-2"), table.out());
    }

    @Test
    void aTemplateThatRaisesMakesTheRecordMalformedNotTheRun() throws IOException {
        Path data = write("chat.jsonl",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"hi\"}]}");
        Run r = run(data.toString(), "--no-progress", "--messages", "messages", "--chat-template", "mistral");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("examples                   1"), r.out());
        assertTrue(r.err().contains(data + ": malformed line 2: chat template mistral raised: mistral: roles must "
                + "alternate user/assistant/user/..., message 0 is system"), r.err());
    }

    @Test
    void templateAndOptionErrorsNameTheFileAndField() throws IOException {
        Path data = write("ok.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}");
        Path config = tmp.resolve("tokenizer_config.json");
        Files.writeString(config, "{\"eos_token\": \"</s>\"}");
        Run noTemplate = run(data.toString(), "--no-progress", "--chat-template", config.toString());
        assertEquals(2, noTemplate.code());
        assertTrue(noTemplate.err().startsWith("error: " + config + " has no field 'chat_template'"), noTemplate.err());
        Run unknown = run(data.toString(), "--no-progress", "--chat-template", "vicuna");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("'vicuna'"), unknown.err());
        Run separate = run(data.toString(), "--no-progress", "--chat-template", "chatml", "--count", "separate");
        assertEquals(2, separate.code());
        assertTrue(separate.err().contains("--chat-template needs --count article"), separate.err());
        Run badCount = run(data.toString(), "--no-progress", "--count", "twice");
        assertEquals(2, badCount.code());
        assertTrue(badCount.err().contains("--count must be one of article, separate, was 'twice'"), badCount.err());
    }

    @Test
    void jsonArraysAndGzipReadAsJsonLinesSideBySide() throws IOException {
        List<String> records = List.of(
                "{\"prompt\": \"a b c d\", \"completion\": \" e\"}",
                "{\"prompt\": \"a\", \"completion\": \" b c\"}",
                "{\"prompt\": \"x y\", \"completion\": \" z z z z z z\"}");
        Path jsonl = write("d.jsonl", records.toArray(new String[0]));
        Path array = tmp.resolve("d.json");
        Files.writeString(array, "[\n  " + String.join(",\n  ", records) + "\n]\n");
        Path jsonlGz = gzip(jsonl, "d.jsonl.gz");
        Path arrayGz = gzip(array, "d.json.gz");
        Path linesNamedJson = tmp.resolve("lines.json"); // a ".json" name holding JSON lines
        Files.copy(jsonl, linesNamedJson);
        Path png = tmp.resolve("overlay.png");
        Path tok = wordLevelTokenizer();
        Run r = run("--no-progress", "--json", "-t", tok.toString(), "--histogram", png.toString(), "lines=" + jsonl,
                "array=" + array, "gz=" + jsonlGz, "arraygz=" + arrayGz, linesNamedJson.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.isArray() && j.size() == 5, r.out());
        String[] formats = {"jsonl", "json", "jsonl", "json", "jsonl"};
        for (int i = 0; i < 5; i++) {
            assertEquals(formats[i], j.get(i).get("format").asText());
            assertEquals(3, j.get(i).get("examples").asLong());
            // word counts: Rg = 1/4, 2/1, 6/2; the same whatever the container
            assertEquals((0.25 + 2 + 3) / 3, j.get(i).get("mean").asDouble(), 1e-12);
        }
        assertEquals("arraygz", j.get(3).get("name").asText());
        assertEquals("lines.json", j.get(4).get("name").asText());
        assertPng(png);
        Run table = run("--no-progress", "-t", tok.toString(), "lines=" + jsonl, "array=" + array);
        assertEquals(0, table.code(), table.err());
        List<String> rows = table.out().lines().toList();
        assertTrue(rows.get(1).contains("data set") && rows.get(1).contains("trimmed mean Rg"), table.out());
        assertTrue(rows.get(2).startsWith("  lines ") && rows.get(3).startsWith("  array "), table.out());
        assertTrue(rows.get(2).contains("1.7500"), table.out());
    }

    @Test
    void malformedArrayRecordsArePositioned() throws IOException {
        Path array = tmp.resolve("bad.json");
        Files.writeString(array, "[{\"prompt\": \"a b\", \"completion\": \"c\"},\n 42,\n {\"prompt\": \"a\"},\n"
                + " {\"prompt\": \"a\", \"completion\": \"b\"},\n {\"prompt\": oops}, {\"prompt\": \"never\", \"completion\": \"read\"}]");
        Run r = run(array.toString(), "--no-progress", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("examples").asLong(), r.out() + r.err());
        assertEquals(3, j.get("malformedRecords").asLong());
        assertTrue(r.err().contains(array + ": malformed record 2 (line 2): not a JSON object"), r.err());
        assertTrue(r.err().contains("malformed record 3 (line 3): missing field 'completion'"), r.err());
        assertTrue(r.err().contains("malformed record 5 (line 5, column "), r.err());
        assertTrue(r.err().contains("the rest of the array is not read"), r.err());
    }

    @Test
    void parquetRowsReadLikeJsonLinesNestedChatsIncluded() throws Exception {
        // The Parquet file is written by DuckDB from the same records as the JSON-lines file.
        Path jsonl = write("chats.jsonl",
                "{\"prompt\": \"a b c d\", \"completion\": \" e\", \"messages\": [{\"role\": \"user\", \"content\": "
                        + "\"what is two plus two\"}, {\"role\": \"assistant\", \"content\": \"four\"}]}",
                "{\"prompt\": \"x y\", \"completion\": \" z z z\", \"messages\": [{\"role\": \"user\", \"content\": "
                        + "\"hi\"}, {\"role\": \"assistant\", \"content\": \"hello there\"}]}");
        Path parquet = tmp.resolve("chats.parquet");
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:duckdb:");
                java.sql.Statement st = c.createStatement()) {
            st.execute("COPY (SELECT * FROM read_json('" + jsonl + "', format = 'newline_delimited')) TO '" + parquet
                    + "' (FORMAT parquet, COMPRESSION zstd)");
        }
        Path tok = wordLevelTokenizer();
        for (String[] mode : new String[][] {{}, {"--messages", "messages", "--chat-template", "chatml"}}) {
            List<String> args = new java.util.ArrayList<>(List.of("--no-progress", "--json", "-t", tok.toString(),
                    jsonl.toString(), parquet.toString()));
            args.addAll(List.of(mode));
            Run r = run(args.toArray(new String[0]));
            assertEquals(0, r.code(), r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertEquals("parquet", j.get(1).get("format").asText());
            for (String key : new String[] {"examples", "promptTokens", "completionTokens", "mean", "median"}) {
                assertEquals(j.get(0).get(key), j.get(1).get(key), key + " " + List.of(mode));
            }
        }
        Run missing = run("--no-progress", parquet.toString(), "--completion-field", "answer");
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("error: " + parquet + " has no column 'answer' (its columns: prompt, "
                + "completion, messages)"), missing.err());
    }

    private Path gzip(Path source, String name) throws IOException {
        Path out = tmp.resolve(name);
        try (java.io.OutputStream o = new java.util.zip.GZIPOutputStream(Files.newOutputStream(out))) {
            Files.copy(source, o);
        }
        return out;
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
