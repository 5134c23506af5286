package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job in local mode ({@code local[2]}) against {@code rg-report} on the same files: the printed
 * report (JSON and tables) and the error lines must be equal character for character, so every count and
 * every statistic is bitwise the local tool's (the partitions' summaries merge exactly). Files: the bundled
 * sample split into several partitions, the same records as a gzip-compressed JSON array and as Parquet,
 * chats with malformed records, blank lines and LF, CR LF and CR line ends; tokenizers jtokkit and GPT-2's
 * {@code tokenizer.json} (examples' test resources, shipped to the executors with the job).
 */
class RgSparkTest {
    private static final Path SAMPLE = Path.of("..", "examples", "data", "rg-sample.jsonl");

    @TempDir
    static Path tmp;
    private static Path gpt2;
    private static Path arrayGz;
    private static Path parquet;
    private static Path chats;
    private static Path chatsParquet;

    /** The output of one run. */
    private record Run(int code, String out, String err) {
    }

    @BeforeAll
    static void data() throws Exception {
        System.setProperty("spark.ui.enabled", "false");
        System.setProperty("spark.driver.host", "127.0.0.1");
        System.setProperty("spark.driver.bindAddress", "127.0.0.1");
        gpt2 = tmp.resolve("tokenizer.json");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(
                Path.of("..", "examples", "src", "test", "resources", "gpt2", "tokenizer.json.gz")))) {
            Files.copy(in, gpt2);
        }
        List<String> lines = Files.readAllLines(SAMPLE, StandardCharsets.UTF_8);
        arrayGz = tmp.resolve("sample-array.json.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(arrayGz))) {
            o.write(("[\n" + String.join(",\n", lines.subList(0, 150)) + "\n]\n").getBytes(StandardCharsets.UTF_8));
        }
        String message = "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", "
                + "\"content\": \"what is %d plus %d\"}, {\"role\": \"assistant\", \"content\": \"%d\"}%s]}";
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 120; i++) {
            if (i % 17 == 5) {
                sb.append("{\"messages\": \"not an array\"}\r\n");
            } else if (i % 23 == 7) {
                sb.append("not json at all\n\n");
            } else {
                String more = i % 3 == 0 ? ", {\"role\": \"user\", \"content\": \"and twice that?\"}, {\"role\": "
                        + "\"assistant\", \"content\": \"" + 2 * (i + i + 1) + ", the double\"}" : "";
                sb.append(String.format(java.util.Locale.ROOT, message, i, i + 1, 2 * i + 1, more)).append(i % 2 == 0 ? "\r\n" : i % 5 == 0 ? "\r" : "\n");
            }
        }
        chats = tmp.resolve("chats.jsonl");
        Files.writeString(chats, sb.toString(), StandardCharsets.UTF_8);
        parquet = tmp.resolve("sample.parquet");
        chatsParquet = tmp.resolve("chats.parquet");
        Path wellFormed = tmp.resolve("chats-ok.jsonl");
        Files.write(wellFormed, Files.readAllLines(chats).stream().filter(l -> l.contains("\"role\"")).toList());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
            st.execute("COPY (SELECT * FROM read_json('" + SAMPLE.toAbsolutePath() + "', format = 'newline_delimited')) TO '"
                    + parquet + "' (FORMAT parquet, ROW_GROUP_SIZE 100)");
            st.execute("COPY (SELECT * FROM read_json('" + wellFormed + "', format = 'newline_delimited')) TO '"
                    + chatsParquet + "' (FORMAT parquet)");
        }
    }

    private static Run local(List<String> args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = RgReport.run(new PrintWriter(out), new PrintWriter(err), args.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    private static Run spark(List<String> args, String... sparkOptions) {
        List<String> all = new ArrayList<>(List.of("--master", "local[2]"));
        all.addAll(List.of(sparkOptions));
        all.addAll(args);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = RgSpark.run(new PrintWriter(out), new PrintWriter(err), all.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    private static void assertSame(Run local, Run spark) {
        assertEquals(local.code(), spark.code(), spark.err());
        assertEquals(local.out(), spark.out());
        assertEquals(local.err(), spark.err());
    }

    @Test
    void severalFormatsWithAChatTemplateAreTheLocalReport() throws IOException {
        List<String> args = List.of("--no-progress", "--json", "-t", gpt2.toString(), "--chat-template", "llama-2",
                "sample=" + SAMPLE, arrayGz.toString(), parquet.toString());
        Run local = local(args);
        assertEquals(0, local.code(), local.err());
        Run spark = spark(args, "--partitions", "3");
        assertSame(local, spark);
        JsonNode j = new ObjectMapper().readTree(spark.out());
        assertEquals(3, j.size());
        assertEquals(400, j.get(0).get("examples").asLong());
        assertEquals(150, j.get(1).get("examples").asLong());
        assertEquals("parquet", j.get(2).get("format").asText());
        assertEquals(j.get(0).get("mean"), j.get(2).get("mean"));
    }

    @Test
    void chatsWithMalformedRecordsInManyPartitionsAreTheLocalTable() {
        List<String> args = List.of("--no-progress", "--messages", "messages", "--chat-template", "chatml",
                "--show-errors", "3", chats.toString(), "parquet=" + chatsParquet);
        Run local = local(args);
        assertEquals(0, local.code(), local.err());
        assertTrue(local.err().contains("chats.jsonl: malformed line 6: field 'messages' is missing or not an array"),
                local.err());
        assertSame(local, spark(args, "--partitions", "7"));
        // the article's default (no template) and --count separate on the sample, jtokkit
        for (String method : new String[] {"article", "separate"}) {
            List<String> sample = List.of("--no-progress", "--json", "--count", method, SAMPLE.toString());
            assertSame(local(sample), spark(sample, "--partitions", "4"));
        }
    }

    @Test
    void aParquetFileWithoutTheFieldIsTheLocalError() throws IOException {
        List<String> args = List.of("--no-progress", parquet.toString(), "--completion-field", "answer");
        Run local = local(args);
        assertEquals(2, local.code());
        assertTrue(local.err().startsWith("error: " + parquet + " has no column 'answer'"), local.err());
        assertSame(local, spark(args));
        // a file that is not Parquet fails its task: an I/O error (exit code 1) naming the file, as rg-report's
        Path bad = tmp.resolve("bad.parquet");
        Files.writeString(bad, "not parquet");
        List<String> badArgs = List.of("--no-progress", bad.toString());
        assertEquals(1, local(badArgs).code());
        Run failed = spark(badArgs);
        assertEquals(1, failed.code(), failed.err());
        assertTrue(failed.err().startsWith("error: cannot read: " + bad + ": the Spark job failed: "), failed.err());
        Run badPartitions = spark(List.of(SAMPLE.toString()), "--partitions", "-1");
        assertEquals(2, badPartitions.code());
        assertTrue(badPartitions.err().contains("--partitions must be >= 0, was -1"), badPartitions.err());
    }
}
