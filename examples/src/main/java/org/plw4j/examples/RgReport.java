package org.plw4j.examples;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import me.tongfei.progressbar.ProgressBar;
import org.plw4j.GenerationRatio;
import org.plw4j.RgSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Command-line report of the generation ratio {@code Rg = completion tokens / prompt tokens} of an
 * instruction-tuning data set (SPEC section 9): streams a JSONL file, tokenizes each example offline,
 * prints the summary (count, mean, 0.25 %-trimmed mean, geometric mean, median, share with
 * {@code Rg > 1}) as a table or as JSON and draws a histogram of {@code Rg} on a log axis (PNG).
 *
 * <p>Each line is a JSON object. The prompt and the completion come from two fields
 * ({@code --prompt-field}, {@code --completion-field}), from templates over the fields
 * ({@code --prompt-template "{instruction}\n\n{input}"}), or from a chat array ({@code --messages}).
 * A line that is not a JSON object or lacks a field is reported with its line number and counted,
 * and the run goes on. Memory: one line at a time, plus one {@code double} per example (8 bytes, kept
 * by {@link RgSummary.Builder} for the exact quantiles; about 80 MB for 10 million examples, twice
 * that for a moment at the end while the values are sorted) and a few counters.
 *
 * <pre>
 * java -cp ... org.plw4j.examples.RgReport data.jsonl --prompt-field prompt --completion-field completion
 * java -cp ... org.plw4j.examples.RgReport alpaca.jsonl --prompt-template "{instruction}\n\n{input}" \
 *      --completion-template "{output}" --tokenizer o200k_base --json --histogram rg.png
 * java -cp ... org.plw4j.examples.RgReport chats.jsonl --messages messages --tokenizer path/to/tokenizer.json
 * </pre>
 *
 * <p>Exit codes: 0 success (malformed lines included), 1 the file could not be read, 2 bad options.
 */
@Command(name = "rg-report", mixinStandardHelpOptions = true, version = "plw4j rg-report 0.1",
        sortOptions = false,
        description = {
            "Summarises the generation ratio Rg = completion tokens / prompt tokens of a JSONL data set.",
            "Tokenizes offline (jtokkit encodings or a local tokenizer.json); malformed lines are counted and reported."})
public final class RgReport implements Callable<Integer> {

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^{}]+)}");
    /** Most malformed lines whose message is printed (all are counted). */
    private static final int DEFAULT_SHOWN_ERRORS = 20;
    private static final int BINS_PER_DECADE = 10;

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "JSONL file, one example per line (UTF-8).")
    private Path input;

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
            description = "Chat format: FIELD is an array of {\"role\", \"content\"} messages; the contents of "
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
            description = "With a tokenizer.json: also count the special tokens (BOS/EOS) it adds to each text.")
    private boolean addSpecialTokens;

    @Option(names = "--json", description = "Print the summary as JSON instead of a table.")
    private boolean json;

    @Option(names = "--histogram", paramLabel = "PNG",
            description = "Write the histogram of Rg on a log axis to this PNG file.")
    private Path histogram;

    @Option(names = "--no-progress", description = "Do not draw the progress bar (stderr).")
    private boolean noProgress;

    @Option(names = "--show-errors", defaultValue = "" + DEFAULT_SHOWN_ERRORS, paramLabel = "N",
            description = "Print at most N malformed-line messages (default: ${DEFAULT-VALUE}); all are counted.")
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
     * @param err where errors and malformed-line reports go
     * @param args the command line
     * @return the exit code (0 success, 1 I/O error, 2 bad options)
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return Cli.run(new RgReport(), "cannot read: ", out, err, args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (showErrors < 0) {
            throw new IllegalArgumentException("--show-errors must be >= 0, was " + showErrors);
        }
        if (!Files.isRegularFile(input)) {
            throw new IOException(input + " is not a readable file");
        }
        TextSource source = messagesField != null
                ? new MessagesSource(messagesField, completionRoles)
                : new TemplateSource(
                        promptTemplate != null ? Template.parse("--prompt-template", promptTemplate) : Template.field(promptField),
                        completionTemplate != null
                                ? Template.parse("--completion-template", completionTemplate) : Template.field(completionField));
        Counts counts = new Counts();
        List<String> errors = new ArrayList<>();
        String tokenizerName;
        try (TokenCounter counter = TokenCounter.open(tokenizer, addSpecialTokens)) {
            tokenizerName = counter.description();
            scan(counter, source, counts, errors, err);
        }
        RgSummary summary = counts.rg.build();
        Histogram hist = Histogram.of(summary.values());
        if (json) {
            printJson(out, tokenizerName, counts, errors, summary, hist);
        } else {
            printTable(out, tokenizerName, counts, errors, summary);
        }
        if (histogram != null) {
            Charts.rgHistogram(hist, summary, input.getFileName() + " — " + tokenizerName, histogram);
            if (!json) {
                out.println("histogram: " + histogram);
            }
        }
        out.flush();
        return 0;
    }

    private void scan(TokenCounter counter, TextSource source, Counts counts, List<String> errors, PrintWriter err)
            throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        long size = Files.size(input);
        InputStream raw = Files.newInputStream(input);
        InputStream stream = noProgress ? raw : ProgressBar.wrap(raw, Cli.progressBar("Rg " + input.getFileName(), size, 250)
                .setUnit(size >= 64L << 20 ? " MiB" : " KiB", size >= 64L << 20 ? 1L << 20 : 1L << 10)
                .clearDisplayOnFinish());
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8), 1 << 16)) {
            String line;
            long lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                counts.lines++;
                if (line.isBlank()) {
                    counts.blank++;
                    continue;
                }
                String problem;
                try {
                    JsonNode node = mapper.readTree(line);
                    if (node == null || !node.isObject()) {
                        problem = "not a JSON object";
                    } else {
                        String[] texts = new String[2];
                        problem = source.extract(node, texts);
                        if (problem == null) {
                            counts.add(counter.count(texts[0]), counter.count(texts[1]));
                            continue;
                        }
                    }
                } catch (JsonProcessingException e) {
                    problem = "invalid JSON: " + e.getOriginalMessage();
                }
                counts.malformed++;
                if (errors.size() < showErrors) {
                    String message = String.format(Locale.ROOT, "line %d: %s", lineNo, problem);
                    errors.add(message);
                    err.println("malformed " + message);
                }
            }
        }
        err.flush();
    }

    private void printTable(PrintWriter out, String tokenizerName, Counts counts, List<String> errors, RgSummary s) {
        out.printf(Locale.ROOT, "Rg = completion tokens / prompt tokens: %s (%s)%n", input, tokenizerName);
        row(out, "lines read", String.format(Locale.ROOT, "%,d", counts.lines));
        row(out, "examples", String.format(Locale.ROOT, "%,d", counts.examples));
        row(out, "malformed lines", String.format(Locale.ROOT, "%,d%s", counts.malformed,
                counts.malformed > errors.size() ? " (first " + errors.size() + " shown on stderr)" : ""));
        row(out, "blank lines", String.format(Locale.ROOT, "%,d", counts.blank));
        row(out, "Rg defined", String.format(Locale.ROOT, "%,d", s.count()));
        row(out, "Rg undefined (0 tokens)", String.format(Locale.ROOT, "%,d", s.undefined()));
        row(out, "prompt tokens (mean)", fmt(counts.meanPrompt()));
        row(out, "completion tokens (mean)", fmt(counts.meanCompletion()));
        row(out, "mean Rg", fmt(s.mean()));
        row(out, "trimmed mean Rg (0.25 %)", fmt(s.trimmedMean()));
        row(out, "geometric mean Rg", fmt(s.geometricMean()));
        row(out, "median Rg", fmt(s.median()));
        row(out, "quartiles Rg (Q1, Q3)", fmt(s.firstQuartile()) + ", " + fmt(s.thirdQuartile()));
        row(out, "min, max Rg", fmt(s.min()) + ", " + fmt(s.max()));
        row(out, "share Rg > 1", Double.isNaN(s.shareAboveOne()) ? "n/a"
                : String.format(Locale.ROOT, "%.2f %%", 100 * s.shareAboveOne()));
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

    private void printJson(PrintWriter out, String tokenizerName, Counts counts, List<String> errors, RgSummary s,
            Histogram hist) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", input.toString());
        m.put("tokenizer", tokenizerName);
        m.put("lines", counts.lines);
        m.put("examples", counts.examples);
        m.put("malformedLines", counts.malformed);
        m.put("blankLines", counts.blank);
        m.put("count", s.count());
        m.put("undefined", s.undefined());
        m.put("meanPromptTokens", finite(counts.meanPrompt()));
        m.put("meanCompletionTokens", finite(counts.meanCompletion()));
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
        m.put("errors", errors);
        out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m));
    }

    /** JSON has no NaN: a metric over no examples is written as null. */
    private static Double finite(double v) {
        return Double.isNaN(v) ? null : v;
    }

    /** Prompt and completion texts of one JSON line. */
    private interface TextSource {
        /**
         * @param node the line's object
         * @param texts receives {prompt, completion}
         * @return null on success, else what is wrong with the line
         */
        String extract(JsonNode node, String[] texts);
    }

    private static final class TemplateSource implements TextSource {
        private final Template prompt;
        private final Template completion;

        TemplateSource(Template prompt, Template completion) {
            this.prompt = prompt;
            this.completion = completion;
        }

        @Override
        public String extract(JsonNode node, String[] texts) {
            StringBuilder sb = new StringBuilder();
            String problem = prompt.render(node, sb);
            if (problem != null) {
                return problem;
            }
            texts[0] = sb.toString();
            sb.setLength(0);
            problem = completion.render(node, sb);
            texts[1] = sb.toString();
            return problem;
        }
    }

    private static final class MessagesSource implements TextSource {
        private final String field;
        private final Set<String> completionRoles;

        MessagesSource(String field, Set<String> completionRoles) {
            this.field = field;
            this.completionRoles = completionRoles;
        }

        @Override
        public String extract(JsonNode node, String[] texts) {
            JsonNode messages = node.get(field);
            if (messages == null || !messages.isArray()) {
                return "field '" + field + "' is missing or not an array";
            }
            StringBuilder prompt = new StringBuilder();
            StringBuilder completion = new StringBuilder();
            int i = 0;
            for (JsonNode msg : messages) {
                JsonNode role = msg.get("role");
                JsonNode content = msg.get("content");
                if (role == null || !role.isTextual() || content == null || !(content.isTextual() || content.isNull())) {
                    return String.format(Locale.ROOT, "message %d of '%s' needs a string \"role\" and a string \"content\"",
                            i, field);
                }
                StringBuilder target = completionRoles.contains(role.asText()) ? completion : prompt;
                if (target.length() > 0) {
                    target.append('\n');
                }
                target.append(content.isNull() ? "" : content.asText());
                i++;
            }
            texts[0] = prompt.toString();
            texts[1] = completion.toString();
            return null;
        }
    }

    /** A text made of literal parts and {@code {field}} placeholders. */
    static final class Template {
        private final List<String> literals;
        private final List<String> fields;

        private Template(List<String> literals, List<String> fields) {
            this.literals = literals;
            this.fields = fields;
        }

        static Template field(String name) {
            if (name.isEmpty()) {
                throw new IllegalArgumentException("field name must not be empty");
            }
            return new Template(List.of("", ""), List.of(name));
        }

        static Template parse(String option, String template) {
            String t = template.replace("{{", "\u0000").replace("}}", "\u0001")
                    .replace("\\n", "\n").replace("\\t", "\t");
            List<String> literals = new ArrayList<>();
            List<String> fields = new ArrayList<>();
            Matcher m = PLACEHOLDER.matcher(t);
            int last = 0;
            while (m.find()) {
                literals.add(unescape(t.substring(last, m.start())));
                fields.add(m.group(1));
                last = m.end();
            }
            String tail = t.substring(last);
            if (tail.indexOf('{') >= 0 || tail.indexOf('}') >= 0 || literals.stream().anyMatch(s -> s.indexOf('{') >= 0 || s.indexOf('}') >= 0)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s has an unmatched brace (write {{ or }} for a literal one): '%s'", option, template));
            }
            if (fields.isEmpty()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s must name at least one {field}, was '%s'", option, template));
            }
            literals.add(unescape(tail));
            return new Template(literals, fields);
        }

        private static String unescape(String s) {
            return s.replace('\u0000', '{').replace('\u0001', '}');
        }

        /** Appends the rendered text; returns null or the problem (a missing or non-scalar field). */
        String render(JsonNode node, StringBuilder sb) {
            for (int i = 0; i < fields.size(); i++) {
                sb.append(literals.get(i));
                JsonNode v = node.get(fields.get(i));
                if (v == null) {
                    return "missing field '" + fields.get(i) + "'";
                }
                if (v.isNull()) {
                    continue; // an absent optional input ("input": null) is empty text
                }
                if (!v.isValueNode()) {
                    return "field '" + fields.get(i) + "' is not a string, number or boolean";
                }
                sb.append(v.asText());
            }
            sb.append(literals.get(fields.size()));
            return null;
        }
    }

    /** Running counts; the Rg values themselves go to the summary builder. */
    private static final class Counts {
        final RgSummary.Builder rg = GenerationRatio.builder();
        long lines;
        long blank;
        long malformed;
        long examples;
        long promptTokens;
        long completionTokens;

        void add(int prompt, int completion) {
            rg.add(prompt, completion);
            examples++;
            promptTokens += prompt;
            completionTokens += completion;
        }

        double meanPrompt() {
            return examples == 0 ? Double.NaN : (double) promptTokens / examples;
        }

        double meanCompletion() {
            return examples == 0 ? Double.NaN : (double) completionTokens / examples;
        }
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
