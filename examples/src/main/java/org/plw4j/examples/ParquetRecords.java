package org.plw4j.examples;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.function.LongConsumer;

/**
 * Reads a Parquet file's rows as JSON objects through DuckDB's JDBC driver (an in-memory database,
 * {@code read_parquet} and {@code to_json}): nested columns (a chat's list of {@code {role, content}}
 * structs) arrive as JSON arrays and objects, exactly as in a JSON-lines file. Rows are streamed, not
 * held. DuckDB is one artifact with no dependencies and reads every Parquet codec; parquet-hadoop
 * would need Hadoop's client jars even for a local file (its codec factory loads Hadoop classes), about
 * as many megabytes in 17 jars, and a hand-written converter from its row groups to JSON.
 */
final class ParquetRecords {
    private ParquetRecords() {
    }

    /**
     * @param file the Parquet file
     * @param requiredColumns the top-level columns the records must have (checked once, against the schema)
     * @param rows told the number of rows before they are read (for a progress bar)
     * @param sink receives each row as {@code "row N"} (1-based)
     * @throws IllegalArgumentException if a required column is missing (the message names the file and column)
     * @throws IOException if the file cannot be read as Parquet
     */
    static void read(Path file, Collection<String> requiredColumns, LongConsumer rows, RecordReader.Sink sink)
            throws IOException {
        Properties props = new Properties();
        props.setProperty("jdbc_stream_results", "true"); // stream the rows, do not materialise the result
        // read_parquet and to_json are built into the driver; never fetch an extension from the network
        props.setProperty("autoinstall_known_extensions", "false");
        props.setProperty("allow_community_extensions", "false");
        String source = "read_parquet(" + quote(file.toString()) + ")";
        ObjectMapper mapper = new ObjectMapper();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:", props)) {
            List<String> columns = new ArrayList<>();
            try (PreparedStatement st = c.prepareStatement("SELECT column_name FROM (DESCRIBE SELECT * FROM " + source + ")");
                    ResultSet r = st.executeQuery()) {
                while (r.next()) {
                    columns.add(r.getString(1));
                }
            }
            for (String required : requiredColumns) {
                if (!columns.contains(required)) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "%s has no column '%s' (its columns: %s)", file, required, String.join(", ", columns)));
                }
            }
            try (PreparedStatement st = c.prepareStatement("SELECT count(*) FROM " + source);
                    ResultSet r = st.executeQuery()) {
                r.next();
                rows.accept(r.getLong(1));
            }
            try (PreparedStatement st = c.prepareStatement("SELECT CAST(to_json(t) AS VARCHAR) FROM " + source + " t");
                    ResultSet r = st.executeQuery()) {
                long row = 0;
                while (r.next()) {
                    row++;
                    String position = "row " + row;
                    try {
                        JsonNode node = mapper.readTree(r.getString(1));
                        sink.record(position, node);
                    } catch (JsonProcessingException e) {
                        sink.malformed(position, "row not convertible to JSON: " + e.getOriginalMessage());
                    }
                }
            }
        } catch (SQLException e) {
            throw new IOException(file + " cannot be read as Parquet: " + e.getMessage(), e);
        }
    }

    /** A SQL string literal. */
    private static String quote(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
