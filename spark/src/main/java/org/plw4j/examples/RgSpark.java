package org.plw4j.examples;

import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapred.TextInputFormat;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.input.PortableDataStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import scala.Tuple2;

/**
 * {@code rg-report} on Apache Spark, for data sets too large for one machine: the same options, the same
 * counting ({@link RgCounter}) and the same report ({@link RgReport}), bit for bit. Each partition of a data
 * set is counted into its own tally ({@link Part}: the token counts of its examples and its malformed
 * records), and the driver merges the partitions' tallies in file order ({@link RgTally#merge}, hence
 * {@link org.plw4j.RgSummary#merge}, which is exact). A JSON-lines file is split by Hadoop's line reader
 * ({@code --partitions}); a gzip-compressed file, a JSON array and a Parquet file are each read by one task,
 * with the readers of the local tool (Parquet through DuckDB, from a local copy when the file is remote).
 *
 * <p>The counting settings go to the executors in a broadcast; a local {@code tokenizer.json} or chat template
 * file travels with the job ({@code SparkContext.addFile}). Each executor JVM opens a counter (tokenizer and
 * template) the first time a task needs one and keeps it for the tasks after it: at most one per task
 * running at once.
 *
 * <pre>
 * java --add-opens=... -cp ... org.plw4j.examples.RgSpark data.jsonl --chat-template llama-2 [--master local[*]]
 * spark-submit --class org.plw4j.examples.RgSpark plw4j-spark-job.jar hdfs:///data/train.jsonl --json
 * </pre>
 *
 * <p>Runs {@code local[*]} unless {@code --master} or {@code spark.master} (as {@code spark-submit} sets it)
 * names a master. Exit codes as {@code rg-report}'s.
 */
@Command(name = "rg-spark", sortOptions = false,
        description = {"rg-report on Apache Spark: the same options and the same report, for data sets too large "
                + "for one machine (local[*] unless --master or spark.master says otherwise)."})
public final class RgSpark implements Callable<Integer> {
    private static final String LOG_CONFIG = "log4j2.configurationFile";

    @Spec
    private CommandSpec spec;

    @Mixin
    private RgReport report = new RgReport();

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (default: spark.master as spark-submit sets it, else local[*]).")
    private String master;

    @Option(names = "--partitions", defaultValue = "0", paramLabel = "N",
            description = "Least number of partitions of a JSON-lines file (default: Spark's default parallelism).")
    private int partitions;

    /** Creates the command (picocli fills the options). */
    public RgSpark() {
        // options are injected by picocli
    }

    /**
     * Runs the job; exits the JVM with its exit code.
     *
     * @param args the command line (see {@code --help})
     */
    public static void main(String[] args) {
        if (System.getProperty(LOG_CONFIG) == null && System.getProperty("spark.master") == null) {
            // a local run: Spark's warnings and errors only (a cluster keeps its own logging configuration)
            System.setProperty(LOG_CONFIG, "classpath:org/plw4j/examples/rg-spark-log4j2.properties");
        }
        Cli.main(new RgSpark(), "cannot read: ", args);
    }

    /**
     * Runs the job without exiting the JVM (for tests and embedding).
     *
     * @param out where the report goes
     * @param err where errors and malformed-record reports go
     * @param args the command line
     * @return the exit code (0 success, 1 I/O error, 2 bad options)
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return Cli.run(new RgSpark(), "cannot read: ", out, err, args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (partitions < 0) {
            throw new IllegalArgumentException("--partitions must be >= 0, was " + partitions);
        }
        int keep = report.shownErrors();
        new RgTally(keep); // checks --show-errors before anything is read
        RgCounter.Settings settings = report.settings();
        String tokenizerName;
        String methodName;
        try (RgCounter counter = RgCounter.open(settings)) { // bad tokenizers and templates fail here, early
            tokenizerName = counter.tokenizerName();
            methodName = counter.methodDescription();
        }
        List<RgReport.Input> inputs = new ArrayList<>();
        for (String arg : report.inputs()) {
            inputs.add(input(arg));
        }
        SparkConf conf = new SparkConf().setAppName("plw4j rg-report");
        if (master != null) {
            conf.setMaster(master);
        } else if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        List<RgReport.Result> results = new ArrayList<>();
        long mismatches = 0;
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            Broadcast<Job> job = sc.broadcast(Job.ship(sc, settings, keep));
            for (RgReport.Input in : inputs) {
                Counted c = count(sc, job, in);
                for (String e : c.tally().errors()) {
                    err.println(in.file() + ": malformed " + e);
                }
                results.add(new RgReport.Result(in, c.format(), c.tally()));
                mismatches += c.mismatches();
            }
        }
        err.flush();
        RgReport.warnMismatches(err, mismatches);
        report.finish(out, tokenizerName, methodName, results);
        return 0;
    }

    /** A data set argument: {@code [NAME=]PATH}, a local path read as {@code rg-report} reads it, or a URI. */
    private static RgReport.Input input(String arg) {
        int eq = arg.indexOf('=');
        String path = eq > 0 && !Files.exists(Path.of(arg)) ? arg.substring(eq + 1) : arg;
        if (!path.contains(":")) {
            return RgReport.Input.parse(arg);
        }
        String name = eq > 0 && !Files.exists(Path.of(arg)) ? arg.substring(0, eq) : path.substring(path.lastIndexOf('/') + 1);
        return new RgReport.Input(name, path);
    }

    /** One data set counted: its format, its tally, the template mismatches its tasks saw. */
    private record Counted(RecordReader.Format format, RgTally tally, long mismatches) {
    }

    private Counted count(JavaSparkContext sc, Broadcast<Job> job, RgReport.Input in) throws IOException {
        org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(in.file());
        FileSystem fs = path.getFileSystem(sc.hadoopConfiguration());
        if (!fs.exists(path) || !fs.getFileStatus(path).isFile()) {
            throw new IOException(in.file() + " is not a readable file");
        }
        RecordReader.Format format = RecordReader.resolve(path.getName(), report.format(), () -> fs.open(path));
        boolean gzip;
        try (InputStream s = fs.open(path)) {
            gzip = s.read() == 0x1f && s.read() == 0x8b;
        }
        List<Part> parts;
        try {
            if (format == RecordReader.Format.JSONL && !gzip) {
                int min = partitions > 0 ? partitions : sc.defaultMinPartitions();
                // Hadoop's line reader splits at LF, CR and CR LF, as the local reader does; the index numbers
                // the lines across the splits
                parts = sc.hadoopFile(in.file(), TextInputFormat.class, LongWritable.class, Text.class, min)
                        .values().zipWithIndex()
                        .mapPartitions(lines -> List.of(countLines(job.value(), lines)).iterator())
                        .collect();
            } else {
                RecordReader.Format f = format;
                parts = sc.binaryFiles(in.file(), 1).map(file -> countFile(job.value(), f, file)).collect();
            }
        } catch (Exception e) { // a failed task arrives as a SparkException, which Java does not see declared
            throw new IOException(in.file() + ": the Spark job failed: " + rootMessage(e), e);
        }
        RgTally tally = new RgTally(report.shownErrors());
        long mismatches = 0;
        for (Part p : parts) {
            if (p.fatal != null) {
                throw new IllegalArgumentException(p.fatal.replace(p.fatalPath, in.file()));
            }
            tally.merge(p.tally());
            mismatches += p.mismatches;
        }
        return new Counted(format, tally, mismatches);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage();
    }

    /** Counts the lines of one split of a JSON-lines file. */
    private static Part countLines(Job job, Iterator<Tuple2<Text, Long>> lines) throws IOException {
        Part part = new Part(job.keep());
        RgCounter counter = Counters.borrow(job);
        long before = counter.templateMismatches();
        try {
            RecordReader.Sink sink = part.sink(counter);
            RecordReader.Lines reader = new RecordReader.Lines();
            while (lines.hasNext()) {
                Tuple2<Text, Long> line = lines.next();
                Text text = line._1();
                reader.line(line._2() + 1, text.getBytes(), 0, text.getLength(), sink);
            }
        } finally {
            part.mismatches = counter.templateMismatches() - before;
            Counters.giveBack(job, counter);
        }
        return part;
    }

    /** Counts a whole file: gzip-compressed, a JSON array or Parquet. */
    private static Part countFile(Job job, RecordReader.Format format, Tuple2<String, PortableDataStream> file)
            throws IOException {
        Part part = new Part(job.keep());
        RgCounter counter = Counters.borrow(job);
        long before = counter.templateMismatches();
        try {
            RecordReader.Sink sink = part.sink(counter);
            if (format == RecordReader.Format.PARQUET) {
                String uri = file._1();
                boolean local = uri.startsWith("file:");
                Path path = local ? Path.of(URI.create(uri)) : Files.createTempFile("plw4j-rg-", ".parquet");
                try {
                    if (!local) {
                        try (InputStream in = file._2().open()) {
                            Files.copy(in, path, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                    ParquetRecords.read(path, counter.requiredFields(), rows -> { }, sink);
                } catch (IllegalArgumentException e) {
                    part.fatal = e.getMessage(); // a missing column: the driver reports it as rg-report does
                    part.fatalPath = path.toString();
                } finally {
                    if (!local) {
                        Files.deleteIfExists(path);
                    }
                }
            } else {
                RecordReader.readText(file._2().open(), format, sink);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            part.mismatches = counter.templateMismatches() - before;
            Counters.giveBack(job, counter);
        }
        return part;
    }

    /**
     * What the executors need: the counting settings, the names of the files that travel with the job, how
     * many malformed-record messages to keep.
     *
     * @param settings the settings as the driver has them
     * @param tokenizerFile the name of the shipped {@code tokenizer.json}, or null
     * @param templateFile the name of the shipped chat template file, or null
     * @param keep {@code --show-errors}
     */
    record Job(RgCounter.Settings settings, String tokenizerFile, String templateFile, int keep)
            implements Serializable {
        static Job ship(JavaSparkContext sc, RgCounter.Settings settings, int keep) {
            boolean encoding = EncodingType.fromName(settings.tokenizer().toLowerCase(Locale.ROOT)).isPresent();
            String template = settings.chatTemplate();
            boolean builtIn = template == null || ChatTemplate.BUILT_IN.contains(template.toLowerCase(Locale.ROOT));
            return new Job(settings, encoding ? null : ship(sc, settings.tokenizer(), "tokenizer.json"),
                    builtIn ? null : ship(sc, template, "tokenizer_config.json"), keep);
        }

        /** Adds a local file (a folder's {@code inFolder}) to the job; null when there is none. */
        private static String ship(JavaSparkContext sc, String spec, String inFolder) {
            Path p = Path.of(spec);
            if (Files.isDirectory(p)) {
                p = p.resolve(inFolder);
            }
            if (!Files.isRegularFile(p)) {
                return null; // not local: the executors open it as given
            }
            sc.addFile(p.toAbsolutePath().toString());
            return p.getFileName().toString();
        }

        /** @return the settings with the executor's copies of the shipped files */
        RgCounter.Settings local() {
            if (tokenizerFile == null && templateFile == null) {
                return settings;
            }
            return settings.withFiles(tokenizerFile != null ? SparkFiles.get(tokenizerFile) : settings.tokenizer(),
                    templateFile != null ? SparkFiles.get(templateFile) : settings.chatTemplate());
        }
    }

    /**
     * The counters of an executor JVM, kept between tasks: a task takes one (opening it if none is idle) and
     * gives it back when it ends, so a JVM opens at most as many as it runs tasks at once.
     */
    static final class Counters {
        private static final Map<RgCounter.Settings, Deque<RgCounter>> IDLE = new ConcurrentHashMap<>();

        private Counters() {
        }

        static RgCounter borrow(Job job) throws IOException {
            RgCounter.Settings s = job.local();
            RgCounter c = IDLE.computeIfAbsent(s, k -> new ConcurrentLinkedDeque<>()).pollFirst();
            return c != null ? c : RgCounter.open(s);
        }

        static void giveBack(Job job, RgCounter counter) {
            IDLE.get(job.local()).addFirst(counter);
        }
    }

    /**
     * The tally of one partition, sent to the driver: its examples' token counts (the summary is made on the
     * driver, from them, and merged), its blank lines, its malformed records and the first messages.
     */
    static final class Part implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int keep;
        private int[] prompt = new int[64];
        private int[] completion = new int[64];
        private int examples;
        private long blank;
        private long malformed;
        private final ArrayList<String[]> errors = new ArrayList<>();
        private long mismatches;
        /** A problem that stops the whole run (a Parquet file without a needed column), and the path it names. */
        private String fatal;
        private String fatalPath;

        Part(int keep) {
            this.keep = keep;
        }

        RecordReader.Sink sink(RgCounter counter) {
            return new RecordReader.Sink() {
                @Override
                public void record(String position, com.fasterxml.jackson.databind.JsonNode record) {
                    RgCounter.Counted c = counter.count(record);
                    if (c.problem() == null) {
                        example(c.promptTokens(), c.completionTokens());
                    } else {
                        malformed(position, c.problem());
                    }
                }

                @Override
                public void malformed(String position, String problem) {
                    Part.this.malformed(position, problem);
                }

                @Override
                public void blank() {
                    blank++;
                }
            };
        }

        private void example(int p, int c) {
            if (examples == prompt.length) {
                prompt = Arrays.copyOf(prompt, 2 * examples);
                completion = Arrays.copyOf(completion, 2 * examples);
            }
            prompt[examples] = p;
            completion[examples] = c;
            examples++;
        }

        private void malformed(String position, String problem) {
            malformed++;
            if (errors.size() < keep) {
                errors.add(new String[] {position, problem});
            }
        }

        /** @return this partition as a tally, for {@link RgTally#merge} */
        RgTally tally() {
            RgTally t = new RgTally(keep);
            for (int i = 0; i < examples; i++) {
                t.example(prompt[i], completion[i]);
            }
            for (String[] e : errors) {
                t.malformed(e[0], e[1]);
            }
            for (long i = errors.size(); i < malformed; i++) {
                t.malformed("", ""); // counted; its message was not kept (the first ones were)
            }
            for (long i = 0; i < blank; i++) {
                t.blankLine();
            }
            return t;
        }
    }
}
