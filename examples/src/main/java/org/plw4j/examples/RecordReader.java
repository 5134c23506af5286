package org.plw4j.examples;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.zip.GZIPInputStream;

/**
 * Reads the records of a data set file, one JSON object at a time: JSON lines, a JSON array (such as
 * {@code alpaca_data.json}), either of them gzip-compressed; Parquet is read by {@link ParquetRecords}.
 * A record that is not a JSON object, or a line that is not JSON, is passed on as malformed with its
 * position, and reading goes on (a syntax error inside a JSON array ends that file: the rest cannot be
 * told apart, and that is reported too).
 */
final class RecordReader {
    /** How a file's records are laid out. */
    enum Format {
        /** From the name: {@code .parquet}; {@code .json} holding an array; otherwise JSON lines ({@code .gz} looked through). */
        AUTO,
        /** One JSON object per line. */
        JSONL,
        /** One JSON array of objects. */
        JSON,
        /** Apache Parquet (one record per row; nested columns become JSON arrays and objects). */
        PARQUET
    }

    /** Receives the records. */
    interface Sink {
        /**
         * @param position where the record is, for messages ({@code "line 7"}, {@code "record 3"}, {@code "row 12"})
         * @param record the record, a JSON object
         */
        void record(String position, JsonNode record);

        /**
         * @param position where the bad record is
         * @param problem what is wrong with it
         */
        void malformed(String position, String problem);

        /** A blank line of a JSON-lines file (counted, not an error). */
        void blank();
    }

    private RecordReader() {
    }

    /**
     * @param file the file
     * @param format its format, or {@link Format#AUTO}
     * @return the format that {@link #readText} will use (AUTO resolved, a {@code .json} file looked into)
     * @throws IOException if the file cannot be read
     */
    static Format resolve(Path file, Format format) throws IOException {
        return resolve(file.getFileName().toString(), format, () -> Files.newInputStream(file));
    }

    /** Opens a file's raw bytes. */
    interface Opener {
        /**
         * @return a new stream of the file's bytes
         * @throws IOException if it cannot be opened
         */
        InputStream open() throws IOException;
    }

    /**
     * @param fileName the file's name (its extension decides, and for {@code .json} the first byte)
     * @param format its format, or {@link Format#AUTO}
     * @param file opens the file (only for a {@code .json} name)
     * @return the format that {@link #readText} will use
     * @throws IOException if the file cannot be read
     */
    static Format resolve(String fileName, Format format, Opener file) throws IOException {
        if (format != Format.AUTO) {
            return format;
        }
        String name = fileName.toLowerCase(Locale.ROOT);
        if (name.endsWith(".gz")) {
            name = name.substring(0, name.length() - 3);
        }
        if (name.endsWith(".parquet")) {
            return Format.PARQUET;
        }
        if (name.endsWith(".json")) {
            // many ".json" data sets are JSON lines: an array starts with '['
            try (Reader r = reader(gunzipped(new BufferedInputStream(file.open(), 1 << 16)))) {
                int c;
                do {
                    c = r.read();
                } while (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\uFEFF');
                return c == '[' ? Format.JSON : Format.JSONL;
            }
        }
        return Format.JSONL;
    }

    /**
     * Reads every record of a text file (JSON lines or a JSON array, gzip-compressed or not).
     *
     * @param file the file
     * @param format {@link Format#JSONL} or {@link Format#JSON} (see {@link #resolve})
     * @param progress wraps the raw file stream (a progress bar), or the identity
     * @param sink receives the records
     * @throws IOException if the file cannot be read
     */
    static void readText(Path file, Format format, UnaryOperator<InputStream> progress, Sink sink) throws IOException {
        readText(progress.apply(Files.newInputStream(file)), format, sink);
    }

    /**
     * Reads every record of a text stream (JSON lines or a JSON array, gzip-compressed or not), and closes it.
     *
     * @param raw the file's bytes
     * @param format {@link Format#JSONL} or {@link Format#JSON}
     * @param sink receives the records
     * @throws IOException if the stream cannot be read
     */
    static void readText(InputStream raw, Format format, Sink sink) throws IOException {
        try (InputStream in = gunzipped(new BufferedInputStream(raw, 1 << 16))) {
            if (format == Format.JSON) {
                readArray(new ObjectMapper(), reader(in), sink);
            } else {
                readLines(in, new Lines(), sink);
            }
        }
    }

    /**
     * @param in a buffered stream
     * @return it, or a gzip decompressor over it when it starts with gzip's magic number (whatever the name says)
     * @throws IOException if it cannot be read
     */
    static InputStream gunzipped(BufferedInputStream in) throws IOException {
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(in, 1 << 16) : in;
    }

    private static Reader reader(InputStream in) {
        return new InputStreamReader(in, StandardCharsets.UTF_8);
    }

    /**
     * Reads JSON lines as bytes: a line ends at LF, CR or CR LF (as {@link BufferedReader#readLine} and Hadoop's
     * line reader split), and each is parsed from its UTF-8 bytes by {@link Lines#line}.
     */
    static void readLines(InputStream in, Lines lines, Sink sink) throws IOException {
        byte[] buf = new byte[1 << 16];
        int start = 0; // the current line's first byte in buf
        int end = 0; // bytes in buf
        int scan = 0; // where to look for the line's end
        long lineNo = 0;
        boolean skipLf = false; // the previous line ended with CR: a LF right after it belongs to it
        while (true) {
            if (scan == end) {
                if (start > 0) {
                    System.arraycopy(buf, start, buf, 0, end - start);
                    end -= start;
                    scan -= start;
                    start = 0;
                }
                if (end == buf.length) {
                    buf = Arrays.copyOf(buf, 2 * buf.length);
                }
                int n = in.read(buf, end, buf.length - end);
                if (n < 0) {
                    break;
                }
                end += n;
                continue;
            }
            if (skipLf) {
                skipLf = false;
                if (buf[scan] == '\n') {
                    start = ++scan;
                    continue;
                }
            }
            byte b = 0;
            while (scan < end && (b = buf[scan]) != '\n' && b != '\r') {
                scan++;
            }
            if (scan < end) {
                lines.line(++lineNo, buf, start, scan - start, sink);
                skipLf = b == '\r';
                start = ++scan;
            }
        }
        if (end > start) {
            lines.line(++lineNo, buf, start, end - start, sink);
        }
    }

    /**
     * Turns the bytes of one JSON line into a record, a blank line or a malformed one; what the local reader and
     * the Spark job share, so that both see every line alike.
     */
    static final class Lines {
        /** A line holds one value: "{...} trailing" is malformed. Thread-safe, shared (its caches warm). */
        private static final ObjectMapper TEXT = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        /** For the values inside a record (no check for what follows them). */
        private static final ObjectMapper VALUES = new ObjectMapper();

        Lines() {
        }

        /**
         * A record parsed from its UTF-8 bytes: string, boolean and null fields read straight from the parser,
         * anything else as the tree reader reads it, the last of duplicate fields kept, as the tree reader
         * keeps it.
         *
         * @throws IOException if the bytes are not one JSON value (bad UTF-8 included)
         */
        private static JsonNode parse(byte[] b, int off, int len) throws IOException {
            try (JsonParser p = TEXT.createParser(b, off, len)) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    return TEXT.readTree(new String(b, off, len, StandardCharsets.UTF_8)); // not an object
                }
                ObjectNode node = TEXT.getNodeFactory().objectNode();
                JsonToken t;
                while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonNode value = switch (p.nextToken()) {
                        case VALUE_STRING -> TextNode.valueOf(p.getText());
                        case VALUE_TRUE -> BooleanNode.TRUE;
                        case VALUE_FALSE -> BooleanNode.FALSE;
                        case VALUE_NULL -> NullNode.getInstance();
                        default -> VALUES.readTree(p);
                    };
                    node.set(name, value);
                }
                if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                    throw new JsonParseException(p, "not one JSON object"); // the text reader says what instead
                }
                return node;
            }
        }

        /**
         * @param lineNo the line's number (1-based)
         * @param b the bytes
         * @param off where the line starts
         * @param len its length, without the line terminator
         * @param sink receives the record, the blank line or the problem
         */
        void line(long lineNo, byte[] b, int off, int len, Sink sink) {
            boolean maybeBlank = true;
            for (int i = off; i < off + len && maybeBlank; i++) {
                int c = b[i] & 0xff;
                maybeBlank = c >= 0x80 || c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
            }
            if (maybeBlank && new String(b, off, len, StandardCharsets.UTF_8).isBlank()) {
                sink.blank();
                return;
            }
            String position = "line " + lineNo;
            JsonNode node;
            try {
                // UTF-8 bytes straight to the parser (no Reader, no String of the whole line)
                node = parse(b, off, len);
            } catch (IOException e) {
                // Bad UTF-8 or bad JSON: parse the decoded text (bad bytes become U+FFFD, as a Reader decodes
                // them), so that the record or the message is the one a text reader gives
                try {
                    node = TEXT.readTree(new String(b, off, len, StandardCharsets.UTF_8));
                } catch (JsonProcessingException t) {
                    sink.malformed(position, "invalid JSON: " + t.getOriginalMessage());
                    return;
                }
            }
            if (node == null || !node.isObject()) {
                sink.malformed(position, "not a JSON object");
            } else {
                sink.record(position, node);
            }
        }
    }

    private static void readArray(ObjectMapper mapper, Reader reader, Sink sink) throws IOException {
        long record = 1; // the record being read, for an error's position
        try (JsonParser parser = mapper.createParser(reader)) {
            JsonToken first = parser.nextToken();
            if (first != JsonToken.START_ARRAY) {
                sink.malformed("record 1", "the file is not a JSON array (it starts with " + first + ")");
                return;
            }
            JsonToken t;
            while ((t = parser.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    sink.malformed("record " + record, "the JSON array is not closed (end of file)");
                    return;
                }
                JsonLocation at = parser.currentTokenLocation();
                String position = String.format(Locale.ROOT, "record %d (line %d)", record, at.getLineNr());
                JsonNode node = parser.readValueAsTree();
                if (node == null || !node.isObject()) {
                    sink.malformed(position, "not a JSON object");
                } else {
                    sink.record(position, node);
                }
                record++;
            }
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            sink.malformed(String.format(Locale.ROOT, "record %d (line %d, column %d)", record,
                            at == null ? -1 : at.getLineNr(), at == null ? -1 : at.getColumnNr()),
                    "invalid JSON: " + e.getOriginalMessage() + "; the rest of the array is not read");
        }
    }
}
