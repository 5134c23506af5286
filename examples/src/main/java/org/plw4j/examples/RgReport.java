package org.plw4j.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import me.tongfei.progressbar.ProgressBar;
import org.plw4j.RgSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Command-line report of the generation ratio {@code Rg = completion tokens / prompt tokens} of
 * instruction-tuning data sets (SPEC section 9), counted as the "Prompt Loss Weight" article does:
 * each example is rendered with the model's chat template ({@code --chat-template}), tokenized once,
 * and its tokens are split into prompt and completion at the rendered prompt's character length
 * ({@link ChatSplit}); {@code --count separate} tokenizes the prompt and the completion apart instead.
 * Prints the summary (count, mean prompt and completion tokens, mean, 0.25 %-trimmed mean, geometric
 * mean, median, share with {@code Rg > 1}) as a table or as JSON, and draws the histogram of
 * {@code Rg} on a log axis (PNG). Several files give one row each, side by side, and one histogram
 * with a curve each.
 *
 * <p>Inputs: JSON lines, a JSON array, either gzip-compressed ({@link RecordReader}), Parquet
 * ({@link ParquetRecords}). The prompt and the
 * completion come from two fields ({@code --prompt-field}, {@code --completion-field}), from templates over
 * the fields ({@code --prompt-template "{instruction}\n\n{input}"}), or from a chat array
 * ({@code --messages}). A record that is not a JSON object or lacks a field is reported with its file and
 * position and counted, and the run goes on. Memory: one record at a time, plus one {@code double} per
 * example (kept by {@link RgSummary} for the exact quantiles; about 80 MB for 10 million examples).
 *
 * <pre>
 * java -cp ... org.plw4j.examples.RgReport data.jsonl --chat-template llama-2 -t path/to/tokenizer.json
 * java -cp ... org.plw4j.examples.RgReport alpaca=alpaca_data.json race=race.jsonl.gz \
 *      --prompt-template "{instruction}\n\n{input}" --completion-template "{output}" --json --histogram rg.png
 * java -cp ... org.plw4j.examples.RgReport chats.jsonl --messages messages --chat-template path/to/tokenizer_config.json \
 *      --tokenizer path/to/tokenizer.json
 * </pre>
 *
 * <p>Exit codes: 0 success (malformed records included), 1 a file could not be read, 2 bad options.
 */
@Command(name = "rg-report", mixinStandardHelpOptions = true, version = "plw4j rg-report 0.2",
        sortOptions = false,
        description = {
            "Summarises the generation ratio Rg = completion tokens / prompt tokens of data sets, side by side.",
            "Counts as the Prompt Loss Weight article does: render with the chat template, tokenize once, split by "
                    + "character offsets (--count separate: prompt and completion apart).",
            "Tokenizes offline (jtokkit encodings or a local tokenizer.json); malformed records are counted and reported."})
public final class RgReport implements Callable<Integer> {

    /** Most malformed records whose message is printed (all are counted). */
    private static final int DEFAULT_SHOWN_ERRORS = 20;
    private static final int BINS_PER_DECADE = 10;

    @Spec
    private CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "[NAME=]FILE",
            description = "Data set files (JSONL, JSON array, .gz of either, Parquet), each optionally named: "
                    + "alpaca=alpaca_data.json.")
    private List<String> inputs;

    @Option(names = "--chat-template", paramLabel = "NAME|PATH",
            description = "The model's chat template: llama-2, llama-3, chatml, mistral, gemma, a Hugging Face "
                    + "tokenizer_config.json (its chat_template, bos_token, eos_token) or a .jinja file. "
                    + "Default: none (prompt and completion concatenated).")
    private String chatTemplate;

    @Option(names = "--count", defaultValue = "article", paramLabel = "METHOD",
            converter = MethodConverter.class,
            description = "article: render, tokenize once, split at the prompt's character length (default); "
                    + "separate: tokenize prompt and completion apart (no chat template).")
    private RgCounter.Method method;

    @Option(names = "--bos-token", paramLabel = "TEXT",
            description = "The template's bos_token (default: the template's own; empty for a .jinja file).")
    private String bosToken;

    @Option(names = "--eos-token", paramLabel = "TEXT",
            description = "The template's eos_token (default: the template's own; empty for a .jinja file).")
    private String eosToken;

    @Option(names = "--exact-render",
            description = "Render every example with the template engine (default: each conversation shape once, "
                    + "checked against the engine on its first examples).")
    private boolean exactRender;

    @Option(names = "--format", defaultValue = "auto", paramLabel = "FORMAT", converter = FormatConverter.class,
            description = "auto (from the name and the first byte), jsonl, json (an array), parquet "
                    + "(default: ${DEFAULT-VALUE}).")
    private RecordReader.Format format;

    @Option(names = "--prompt-field", defaultValue = "prompt", paramLabel = "NAME",
            description = "Field holding the prompt (default: ${DEFAULT-VALUE}).")
    private String promptField;

    @Option(names = "--completion-field", defaultValue = "completion", paramLabel = "NAME",
            description = "Field holding the completion (default: ${DEFAULT-VALUE}).")
    private String completionField;

    @Option(names = "--prompt-template", paramLabel = "TEMPLATE",
            description = "Prompt built from fields, e.g. \"{instruction}\\n\\n{input}\" (\\n and \\t are "
                    + "understood, {{ and }} are literal braces). Overrides --prompt-field.")
    private String promptTemplate;

    @Option(names = "--completion-template", paramLabel = "TEMPLATE",
            description = "Completion built from fields, e.g. \"{output}\". Overrides --completion-field.")
    private String completionTemplate;

    @Option(names = "--messages", paramLabel = "FIELD",
            description = "Chat format: FIELD is an array of {\"role\", \"content\"} messages; the turns of "
                    + "--completion-roles count as completion, all others as prompt.")
    private String messagesField;

    @Option(names = "--completion-roles", split = ",", defaultValue = "assistant", paramLabel = "ROLE",
            description = "With --messages: the trained roles (default: ${DEFAULT-VALUE}).")
    private Set<String> completionRoles;

    @Option(names = {"-t", "--tokenizer"}, defaultValue = "cl100k_base", paramLabel = "NAME|PATH",
            description = "cl100k_base, o200k_base, p50k_base, r50k_base (bundled in jtokkit), or a local "
                    + "tokenizer.json (or its folder) read with DJL's Hugging Face tokenizers (default: ${DEFAULT-VALUE}).")
    private String tokenizer;

    @Option(names = "--add-special-tokens",
            description = "With a tokenizer.json: also count the special tokens (BOS/EOS) its post-processor adds.")
    private boolean addSpecialTokens;

    @Option(names = "--json", description = "Print the summary as JSON (an object; an array of them for several files).")
    private boolean json;

    @Option(names = "--histogram", paramLabel = "PNG",
            description = "Write the histogram of Rg on a log axis to this PNG file (one curve per file).")
    private Path histogram;

    @Option(names = "--no-progress", description = "Do not draw the progress bar (stderr).")
    private boolean noProgress;

    @Option(names = "--show-errors", defaultValue = "" + DEFAULT_SHOWN_ERRORS, paramLabel = "N",
            description = "Print at most N malformed-record messages per file (default: ${DEFAULT-VALUE}); all are counted.")
    private int showErrors;

    /** Creates the command (picocli fills the options). */
    public RgReport() {
        // options are injected by picocli
    }

    /**
     * Runs the report; exits the JVM with its exit code.
     *
     * @param args the command line (see {@code --help})
     */
    public static void main(String[] args) {
        Cli.main(new RgReport(), "cannot read: ", args);
    }

    /**
     * Runs the report without exiting the JVM (for tests and embedding).
     *
     * @param out where the summary goes
     * @param err where errors and malformed-record reports go
     * @param args the command line
     * @return the exit code (0 success, 1 I/O error, 2 bad options)
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return Cli.run(new RgReport(), "cannot read: ", out, err, args);
    }

    /**
     * A data set on the command line.
     *
     * @param name its name in reports
     * @param file its file (a local path; for the Spark job, any path its file systems know)
     */
    record Input(String name, String file) {
        static Input parse(String arg) {
            int eq = arg.indexOf('=');
            // "name=path", unless the whole argument is an existing file whose name holds '='
            if (eq > 0 && !Files.exists(Path.of(arg))) {
                return new Input(arg.substring(0, eq), Path.of(arg.substring(eq + 1)).toString());
            }
            Path p = Path.of(arg);
            return new Input(p.getFileName() == null ? arg : p.getFileName().toString(), p.toString());
        }

        /** @return the file as a local path */
        Path path() {
            return Path.of(file);
        }
    }

    /**
     * One data set's results.
     *
     * @param input the data set
     * @param format the format read
     * @param tally what was counted
     */
    record Result(Input input, RecordReader.Format format, RgTally tally) {
    }

    /** @return the settings the options describe */
    RgCounter.Settings settings() {
        return new RgCounter.Settings(tokenizer, addSpecialTokens, chatTemplate, bosToken, eosToken, method, exactRender,
                promptField, completionField, promptTemplate, completionTemplate, messagesField, completionRoles);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        new RgTally(showErrors); // checks --show-errors before anything is read
        List<Input> parsed = new ArrayList<>();
        for (String arg : inputs) {
            Input in = Input.parse(arg);
            if (!Files.isRegularFile(in.path())) {
                throw new IOException(in.path() + " is not a readable file");
            }
            parsed.add(in);
        }
        List<Result> results = new ArrayList<>();
        String tokenizerName;
        String methodName;
        try (RgCounter counter = RgCounter.open(settings())) {
            tokenizerName = counter.tokenizerName();
            methodName = counter.methodDescription();
            for (Input in : parsed) {
                results.add(scan(counter, in, err));
            }
            warnMismatches(err, counter.templateMismatches());
        }
        finish(out, tokenizerName, methodName, results);
        return 0;
    }

    /** @return {@code --show-errors} */
    int shownErrors() {
        return showErrors;
    }

    /** @return {@code --format} */
    RecordReader.Format format() {
        return format;
    }

    /** @return the data sets of the command line, as given */
    List<String> inputs() {
        return List.copyOf(inputs);
    }

    /**
     * Prints the warning of a chat template that reads the message contents.
     *
     * @param err where it goes
     * @param mismatches checked examples rendered differently from their shape's pieces
     */
    static void warnMismatches(PrintWriter err, long mismatches) {
        if (mismatches > 0) {
            err.printf(Locale.ROOT, "warning: the chat template depends on the message contents (%,d checked "
                    + "examples rendered differently from their shape's pieces); counts may be off: rerun with "
                    + "--exact-render%n", mismatches);
        }
    }

    /**
     * Prints the report and draws the histogram, as the options ask.
     *
     * @param out where the report goes
     * @param tokenizerName the tokenizer, for the report
     * @param methodName the counting method, for the report
     * @param results one per data set, in the order of the command line
     * @throws IOException if the report or the histogram cannot be written
     */
    void finish(PrintWriter out, String tokenizerName, String methodName, List<Result> results) throws IOException {
        print(out, tokenizerName, methodName, results);
        if (histogram != null) {
            List<Histogram> hists = new ArrayList<>();
            List<String> names = new ArrayList<>();
            List<RgSummary> summaries = new ArrayList<>();
            for (Result r : results) {
                RgSummary s = r.tally().summary();
                hists.add(Histogram.of(s.values()));
                names.add(r.input().name());
                summaries.add(s);
            }
            if (results.size() == 1) {
                Charts.rgHistogram(hists.get(0), summaries.get(0), names.get(0) + " — " + tokenizerName, histogram);
            } else {
                Charts.rgHistograms(hists, names, summaries, "Rg — " + tokenizerName, histogram);
            }
            if (!json) {
                out.println("histogram: " + histogram);
            }
        }
        out.flush();
    }

    /**
     * Prints the report of counted data sets as the options ask (a table, the side-by-side table or JSON).
     *
     * @param out where it goes
     * @param tokenizerName the tokenizer, for the report
     * @param methodName the counting method, for the report
     * @param results one per data set, in the order of the command line
     * @throws IOException if the JSON cannot be written
     */
    void print(PrintWriter out, String tokenizerName, String methodName, List<Result> results) throws IOException {
        if (json) {
            List<Map<String, Object>> objects = new ArrayList<>();
            for (Result r : results) {
                objects.add(jsonObject(r, tokenizerName, methodName));
            }
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            out.println(mapper.writeValueAsString(objects.size() == 1 ? objects.get(0) : objects));
        } else if (results.size() == 1) {
            printTable(out, tokenizerName, methodName, results.get(0));
        } else {
            printSideBySide(out, tokenizerName, methodName, results);
        }
    }

    /**
     * Counts one data set.
     *
     * @param counter the open counter
     * @param input the data set
     * @param err where malformed records are reported
     * @return what was counted
     * @throws IOException if the file cannot be read
     */
    Result scan(RgCounter counter, Input input, PrintWriter err) throws IOException {
        RecordReader.Format fmt = RecordReader.resolve(input.path(), format);
        RgTally tally = new RgTally(showErrors);
        String file = input.file();
        RecordReader.Sink sink = new RecordReader.Sink() {
            @Override
            public void record(String position, com.fasterxml.jackson.databind.JsonNode record) {
                RgCounter.Counted c = counter.count(record);
                if (c.problem() == null) {
                    tally.example(c.promptTokens(), c.completionTokens());
                } else {
                    malformed(position, c.problem());
                }
            }

            @Override
            public void malformed(String position, String problem) {
                String kept = tally.malformed(position, problem);
                if (kept != null) {
                    err.println(file + ": malformed " + kept);
                }
            }

            @Override
            public void blank() {
                tally.blankLine();
            }
        };
        if (fmt == RecordReader.Format.PARQUET) {
            ProgressBar[] bar = new ProgressBar[1];
            RecordReader.Sink counted = noProgress ? sink : new RecordReader.Sink() {
                @Override
                public void record(String position, com.fasterxml.jackson.databind.JsonNode record) {
                    sink.record(position, record);
                    bar[0].step();
                }

                @Override
                public void malformed(String position, String problem) {
                    sink.malformed(position, problem);
                    bar[0].step();
                }

                @Override
                public void blank() {
                    sink.blank();
                }
            };
            try {
                ParquetRecords.read(input.path(), counter.requiredFields(), rows -> {
                    if (!noProgress) {
                        bar[0] = Cli.progressBar("Rg " + input.name(), rows, 250).setUnit(" rows", 1)
                                .clearDisplayOnFinish().build();
                    }
                }, counted);
            } finally {
                if (bar[0] != null) {
                    bar[0].close();
                }
            }
        } else {
            long size = Files.size(input.path());
            UnaryOperator<InputStream> progress = noProgress ? UnaryOperator.identity()
                    : raw -> ProgressBar.wrap(raw, Cli.progressBar("Rg " + input.name(), size, 250)
                            .setUnit(size >= 64L << 20 ? " MiB" : " KiB", size >= 64L << 20 ? 1L << 20 : 1L << 10)
                            .clearDisplayOnFinish());
            RecordReader.readText(input.path(), fmt, progress, sink);
        }
        err.flush();
        return new Result(input, fmt, tally);
    }

    private static void printTable(PrintWriter out, String tokenizerName, String methodName, Result r) {
        RgTally t = r.tally();
        RgSummary s = t.summary();
        out.printf(Locale.ROOT, "Rg = completion tokens / prompt tokens: %s (%s)%n", r.input().file(), tokenizerName);
        row(out, "counting", methodName);
        row(out, "format", r.format().name().toLowerCase(Locale.ROOT));
        row(out, "records read", String.format(Locale.ROOT, "%,d", t.records()));
        row(out, "examples", String.format(Locale.ROOT, "%,d", t.examples()));
        row(out, "malformed records", String.format(Locale.ROOT, "%,d%s", t.malformed(),
                t.malformed() > t.errors().size() ? " (first " + t.errors().size() + " shown on stderr)" : ""));
        row(out, "blank lines", String.format(Locale.ROOT, "%,d", t.blankLines()));
        row(out, "Rg defined", String.format(Locale.ROOT, "%,d", s.count()));
        row(out, "Rg undefined (0 tokens)", String.format(Locale.ROOT, "%,d", s.undefined()));
        row(out, "prompt tokens (mean)", fmt(t.meanPromptTokens()));
        row(out, "completion tokens (mean)", fmt(t.meanCompletionTokens()));
        row(out, "mean Rg", fmt(s.mean()));
        row(out, "trimmed mean Rg (0.25 %)", fmt(s.trimmedMean()));
        row(out, "geometric mean Rg", fmt(s.geometricMean()));
        row(out, "median Rg", fmt(s.median()));
        row(out, "quartiles Rg (Q1, Q3)", fmt(s.firstQuartile()) + ", " + fmt(s.thirdQuartile()));
        row(out, "min, max Rg", fmt(s.min()) + ", " + fmt(s.max()));
        row(out, "share Rg > 1", share(s));
    }

    private static String share(RgSummary s) {
        return Double.isNaN(s.shareAboveOne()) ? "n/a" : String.format(Locale.ROOT, "%.2f %%", 100 * s.shareAboveOne());
    }

    /** The article's table: one row per data set. */
    private static void printSideBySide(PrintWriter out, String tokenizerName, String methodName, List<Result> results) {
        out.printf(Locale.ROOT, "Rg = completion tokens / prompt tokens (%s; counting: %s)%n", tokenizerName, methodName);
        String[] head = {"data set", "examples", "malformed", "prompt tokens", "completion tokens", "mean Rg",
            "trimmed mean Rg", "geometric mean Rg", "median Rg", "share Rg > 1"};
        List<String[]> rows = new ArrayList<>();
        rows.add(head);
        for (Result r : results) {
            RgTally t = r.tally();
            RgSummary s = t.summary();
            rows.add(new String[] {r.input().name(), String.format(Locale.ROOT, "%,d", t.examples()),
                String.format(Locale.ROOT, "%,d", t.malformed()), fmt(t.meanPromptTokens()), fmt(t.meanCompletionTokens()),
                fmt(s.mean()), fmt(s.trimmedMean()), fmt(s.geometricMean()), fmt(s.median()), share(s)});
        }
        int[] width = new int[head.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder sb = new StringBuilder(" ");
            for (int i = 0; i < row.length; i++) {
                String cell = row[i];
                String pad = " ".repeat(width[i] - cell.length());
                sb.append(' ').append(i == 0 ? cell + pad : pad + cell); // names left, numbers right
                sb.append(' ');
            }
            out.println(sb.toString().stripTrailing());
        }
    }

    private static void row(PrintWriter out, String name, String value) {
        out.printf(Locale.ROOT, "  %-26s %s%n", name, value);
    }

    private static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        return Math.abs(v) >= 1e4 || (v != 0 && Math.abs(v) < 1e-3)
                ? String.format(Locale.ROOT, "%.4g", v) : String.format(Locale.ROOT, "%.4f", v);
    }

    private static Map<String, Object> jsonObject(Result r, String tokenizerName, String methodName) {
        RgTally t = r.tally();
        RgSummary s = t.summary();
        Histogram hist = Histogram.of(s.values());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", r.input().name());
        m.put("file", r.input().file());
        m.put("format", r.format().name().toLowerCase(Locale.ROOT));
        m.put("tokenizer", tokenizerName);
        m.put("counting", methodName);
        m.put("records", t.records());
        m.put("lines", t.records()); // the name of earlier versions (JSON lines: one record per line)
        m.put("examples", t.examples());
        m.put("malformedRecords", t.malformed());
        m.put("malformedLines", t.malformed()); // the name of earlier versions
        m.put("blankLines", t.blankLines());
        m.put("count", s.count());
        m.put("undefined", s.undefined());
        m.put("promptTokens", t.promptTokens());
        m.put("completionTokens", t.completionTokens());
        m.put("meanPromptTokens", finite(t.meanPromptTokens()));
        m.put("meanCompletionTokens", finite(t.meanCompletionTokens()));
        m.put("mean", finite(s.mean()));
        m.put("trimmedMean", finite(s.trimmedMean()));
        m.put("geometricMean", finite(s.geometricMean()));
        m.put("median", finite(s.median()));
        m.put("firstQuartile", finite(s.firstQuartile()));
        m.put("thirdQuartile", finite(s.thirdQuartile()));
        m.put("min", finite(s.min()));
        m.put("max", finite(s.max()));
        m.put("shareAboveOne", finite(s.shareAboveOne()));
        Map<String, Long> decades = new LinkedHashMap<>();
        s.histogram().forEach((k, v) -> decades.put(String.format(Locale.ROOT, "1e%d", k), v));
        m.put("histogramPowersOfTen", decades);
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("binsPerDecade", BINS_PER_DECADE);
        h.put("edges", hist.edges());
        h.put("counts", hist.counts());
        m.put("histogram", h);
        m.put("errors", t.errors());
        return m;
    }

    /** JSON has no NaN: a metric over no examples is written as null. */
    private static Double finite(double v) {
        return Double.isNaN(v) ? null : v;
    }

    /** {@code --count article|separate}, any case. */
    static final class MethodConverter implements picocli.CommandLine.ITypeConverter<RgCounter.Method> {
        @Override
        public RgCounter.Method convert(String value) {
            return enumValue(RgCounter.Method.class, "--count", value);
        }
    }

    /** {@code --format auto|jsonl|json|parquet}, any case. */
    static final class FormatConverter implements picocli.CommandLine.ITypeConverter<RecordReader.Format> {
        @Override
        public RecordReader.Format convert(String value) {
            return enumValue(RecordReader.Format.class, "--format", value);
        }
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String option, String value) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(value)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw new picocli.CommandLine.TypeConversionException(String.format(Locale.ROOT,
                "%s must be one of %s, was '%s'", option, String.join(", ", names), value));
    }

    /** Counts of {@code log10 Rg} in bins of a tenth of a decade, over the occupied range. */
    static final class Histogram {
        private final double[] edges;
        private final long[] counts;

        private Histogram(double[] edges, long[] counts) {
            this.edges = edges;
            this.counts = counts;
        }

        /** @param rg positive ratios */
        static Histogram of(double[] rg) {
            if (rg.length == 0) {
                return new Histogram(new double[0], new long[0]);
            }
            int lo = Integer.MAX_VALUE;
            int hi = Integer.MIN_VALUE;
            for (double r : rg) {
                lo = Math.min(lo, bin(r));
                hi = Math.max(hi, bin(r));
            }
            long[] counts = new long[hi - lo + 1];
            for (double r : rg) {
                counts[bin(r) - lo]++;
            }
            double[] edges = new double[counts.length + 1];
            for (int i = 0; i < edges.length; i++) {
                edges[i] = Math.pow(10, (double) (lo + i) / BINS_PER_DECADE);
            }
            return new Histogram(edges, counts);
        }

        private static int bin(double rg) {
            // the epsilon puts exact powers of ten (Rg = 1, 0.1) in the bin that starts there
            return (int) Math.floor(Math.log10(rg) * BINS_PER_DECADE + 1e-9);
        }

        /** @return the {@code counts().length + 1} bin edges (the last is the upper edge of the last bin) */
        double[] edges() {
            return edges.clone();
        }

        long[] counts() {
            return counts.clone();
        }
    }
}
