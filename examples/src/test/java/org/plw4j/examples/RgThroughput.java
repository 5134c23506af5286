package org.plw4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToIntFunction;
import java.util.zip.GZIPInputStream;
import picocli.CommandLine;

/**
 * Throughput probe of {@code rg-report} (a program, not a test: surefire runs {@code *Test} classes only):
 * on a data set (default the bundled sample), the tokenizer alone on the texts the report tokenizes
 * (its own encode call: jtokkit's {@code encodeOrdinary}, DJL's {@code encode}) against the whole report
 * (file read, JSON, rendering, offsets, split, summary, printed report) with the tokenizer open, in one
 * JVM, interleaved pass by pass (alternating which goes first), medians (and minima) of the passes' CPU
 * time of the thread (so that other processes on a loaded machine count less). Tokenizers:
 * jtokkit {@code cl100k_base} and GPT-2's {@code tokenizer.json} (test resources) through DJL; with
 * and without a chat template.
 *
 * <pre>
 * mvn -B -q -o -pl examples -am test-compile
 * java -cp "examples/target/test-classes:examples/target/classes:$(cat cp.txt)" org.plw4j.examples.RgThroughput [FILE [ROUNDS [ONLY]]]
 * </pre>
 */
public final class RgThroughput {
    /** Times are the thread's CPU time: other processes on a loaded machine do not count. */
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private RgThroughput() {
    }

    /**
     * @param args {@code [FILE [ROUNDS [ONLY]]]}: ONLY runs the rows whose "tokenizer template" holds it
     * @throws IOException if a file cannot be read
     */
    public static void main(String[] args) throws IOException {
        Path file = Path.of(args.length > 0 ? args[0] : "examples/data/rg-sample.jsonl");
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        String only = args.length > 2 ? args[2] : ""; // runs only the rows whose tokenizer and template hold this
        Path gpt2 = gpt2TokenizerJson(Files.createTempDirectory("rg-throughput"));
        System.setProperty("RUST_FLAVOR", "cpu");
        List<JsonNode> records = new ArrayList<>();
        ObjectMapper mapper = new ObjectMapper();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                records.add(mapper.readTree(line));
            }
        }
        System.out.printf(Locale.ROOT, "%s: %,d examples, %,d bytes; %d rounds (medians); %s%n", file, records.size(),
                Files.size(file), rounds, loadAverage());
        System.out.printf(Locale.ROOT, "%-34s %-9s %12s %12s %12s %12s %7s %9s%n", "tokenizer", "template", "tok ex/s",
                "tok tokens/s", "report ex/s", "rep tokens/s", "ratio", "ratio min");
        Encoding cl100k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(gpt2,
                Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"))) {
            for (String template : new String[] {null, "llama-2"}) {
                List<String> texts = texts(records, template);
                probe("cl100k_base (jtokkit)", "cl100k_base", template, file, texts,
                        t -> cl100k.encodeOrdinary(t).size(), rounds, only);
                probe("gpt2 tokenizer.json (DJL)", gpt2.toString(), template, file, texts,
                        t -> hf.encode(t, false, false).getIds().length, rounds, only);
            }
        }
    }

    private static void probe(String name, String spec, String template, Path file, List<String> texts,
            ToIntFunction<String> encode, int rounds, String only) throws IOException {
        if (!(name + " " + template).contains(only)) {
            return;
        }
        RgReport report = new RgReport();
        List<String> args = new ArrayList<>(List.of(file.toString(), "--no-progress", "-t", spec));
        if (template != null) {
            args.addAll(List.of("--chat-template", template));
        }
        new CommandLine(report).parseArgs(args.toArray(new String[0]));
        RgReport.Input input = RgReport.Input.parse(file.toString());
        PrintWriter sink = new PrintWriter(Writer.nullWriter());
        long tokens = 0;
        double[] tok = new double[rounds];
        double[] rep = new double[rounds];
        try (RgCounter counter = RgCounter.open(report.settings())) {
            int warmup = Math.max(10, rounds);
            for (int r = -warmup; r < rounds; r++) {
                double t1;
                double t2;
                if ((r & 1) == 0) {
                    t1 = tokenizerPass(texts, encode);
                    t2 = reportPass(report, counter, input, sink);
                } else {
                    t2 = reportPass(report, counter, input, sink);
                    t1 = tokenizerPass(texts, encode);
                }
                if (r >= 0) {
                    tok[r] = t1;
                    rep[r] = t2;
                }
            }
            RgReport.Result check = report.scan(counter, input, sink);
            tokens = check.tally().promptTokens() + check.tally().completionTokens();
        }
        long textTokens = 0;
        for (String t : texts) {
            textTokens += encode.applyAsInt(t);
        }
        double tm = median(tok);
        double rm = median(rep);
        System.out.printf(Locale.ROOT, "%-34s %-9s %12.0f %12.0f %12.0f %12.0f %7.3f %9.3f%s%n", name,
                template == null ? "none" : template, texts.size() / tm, textTokens / tm, texts.size() / rm,
                tokens / rm, rm / tm, Arrays.stream(rep).min().orElseThrow() / Arrays.stream(tok).min().orElseThrow(),
                tokens == textTokens ? "" : "  (token totals differ: " + tokens + " vs "
                        + textTokens + ")");
    }

    private static double tokenizerPass(List<String> texts, ToIntFunction<String> encode) {
        long t0 = CPU.getCurrentThreadCpuTime();
        long sum = 0;
        for (String t : texts) {
            sum += encode.applyAsInt(t);
        }
        double s = (CPU.getCurrentThreadCpuTime() - t0) * 1e-9;
        if (sum < 0) {
            throw new AssertionError();
        }
        return s;
    }

    private static double reportPass(RgReport report, RgCounter counter, RgReport.Input input, PrintWriter sink)
            throws IOException {
        long t0 = CPU.getCurrentThreadCpuTime();
        StringWriter out = new StringWriter();
        RgReport.Result r = report.scan(counter, input, sink);
        report.print(new PrintWriter(out), counter.tokenizerName(), counter.methodDescription(), List.of(r));
        double s = (CPU.getCurrentThreadCpuTime() - t0) * 1e-9;
        if (out.getBuffer().length() == 0) {
            throw new AssertionError();
        }
        return s;
    }

    /** The texts the report tokenizes: prompt and completion rendered by the template, or concatenated. */
    private static List<String> texts(List<JsonNode> records, String template) throws IOException {
        ChatTemplate t = template == null ? ChatTemplate.plain("") : ChatTemplate.open(template, null, null);
        List<String> out = new ArrayList<>();
        for (JsonNode r : records) {
            out.add(t.render(List.of(Map.of("role", "user", "content", r.get("prompt").asText()),
                    Map.of("role", "assistant", "content", r.get("completion").asText())), false));
        }
        return out;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /**
     * @param dir where to write it
     * @return GPT-2's {@code tokenizer.json}, decompressed from the test resources
     * @throws IOException if it cannot be written
     */
    static Path gpt2TokenizerJson(Path dir) throws IOException {
        Path out = dir.resolve("tokenizer.json");
        try (InputStream in = RgThroughput.class.getResourceAsStream("/gpt2/tokenizer.json.gz")) {
            if (in == null) {
                throw new IOException("test resource /gpt2/tokenizer.json.gz is missing");
            }
            Files.copy(new GZIPInputStream(in), out);
        }
        return out;
    }

    private static String loadAverage() {
        try {
            return "load average " + Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException | RuntimeException e) {
            return "load average unknown";
        }
    }
}
