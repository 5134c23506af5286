package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * JSON lines read from bytes split lines as {@link BufferedReader#readLine} does (the expected sequence is
 * made with it, on the same text), however the stream hands the bytes over: chunks of 1 to 9 bytes, lines
 * longer than the read buffer, CR LF pairs cut between two reads.
 */
class RecordReaderTest {
    @Test
    void linesSplitAsReadLineSplitsThemWhateverTheChunks() throws IOException {
        SplittableRandom rnd = new SplittableRandom(11);
        String[] ends = {"\n", "\r\n", "\r"};
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            switch (rnd.nextInt(6)) {
                case 0 -> text.append("  \t");
                case 1 -> text.append("not json");
                case 2 -> text.append("{\"i\": ").append(i).append(", \"long\": \"").append("x".repeat(70_000)).append("\"}");
                default -> text.append("{\"i\": ").append(i).append(", \"s\": \"é ").append(i).append("\"}");
            }
            if (i < 399 || rnd.nextBoolean()) {
                text.append(ends[rnd.nextInt(3)]);
            }
        }
        List<String> expected = new ArrayList<>();
        BufferedReader reader = new BufferedReader(new StringReader(text.toString()));
        String line;
        long n = 0;
        while ((line = reader.readLine()) != null) {
            n++;
            expected.add(line.isBlank() ? "blank" : line.startsWith("{") ? "line " + n + " " + line.hashCode()
                    : "malformed line " + n);
        }
        byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        InputStream chunked = new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, 1 + rnd.nextInt(9)));
            }
        };
        List<String> got = new ArrayList<>();
        RecordReader.readLines(chunked, new RecordReader.Lines(), new RecordReader.Sink() {
            @Override
            public void record(String position, JsonNode record) {
                String s = record.has("long") ? "{\"i\": " + record.get("i") + ", \"long\": \"" + record.get("long").asText()
                        + "\"}" : "{\"i\": " + record.get("i") + ", \"s\": \"" + record.get("s").asText() + "\"}";
                got.add(position + " " + s.hashCode());
            }

            @Override
            public void malformed(String position, String problem) {
                got.add("malformed " + position);
            }

            @Override
            public void blank() {
                got.add("blank");
            }
        });
        assertEquals(expected, got);
    }

    @Test
    void recordsAreWhatTheTreeReaderMakesOfThem() throws IOException {
        // The expected nodes are Jackson's own tree reader's (ObjectMapper.readTree) on the same line.
        String[] lines = {"{}", "{\"a\": \"x\", \"a\": \"last wins\"}", "{\"n\": 1, \"l\": 12345678901, \"b\": "
                + "123456789012345678901234567890, \"f\": 1.5e3, \"neg\": -0.0}",
            "{\"t\": true, \"f\": false, \"z\": null, \"u\": \"\\u00e9\\n\\ud83d\\ude00 é\"}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": null}], "
                + "\"meta\": {\"k\": [1, [2, {\"x\": \"y\"}]]}, \"e\": []}"};
        com.fasterxml.jackson.databind.ObjectMapper tree = new com.fasterxml.jackson.databind.ObjectMapper();
        RecordReader.Lines reader = new RecordReader.Lines();
        for (String line : lines) {
            byte[] b = ("  " + line + " ").getBytes(StandardCharsets.UTF_8);
            List<JsonNode> got = new ArrayList<>();
            reader.line(1, b, 0, b.length, new RecordReader.Sink() {
                @Override
                public void record(String position, JsonNode record) {
                    got.add(record);
                }

                @Override
                public void malformed(String position, String problem) {
                    throw new AssertionError(line + ": " + problem);
                }

                @Override
                public void blank() {
                    throw new AssertionError(line);
                }
            });
            JsonNode expected = tree.readTree(line);
            assertEquals(expected, got.get(0), line);
            assertEquals(expected.toString(), got.get(0).toString(), line);
        }
    }
}
