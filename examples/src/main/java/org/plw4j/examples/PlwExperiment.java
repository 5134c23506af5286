package org.plw4j.examples;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import me.tongfei.progressbar.ProgressBar;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.plw4j.GenerationRatio;
import org.plw4j.LogitsLayout;
import org.plw4j.LossResult;
import org.plw4j.LossSummary;
import org.plw4j.Padding;
import org.plw4j.PromptCompletionMask;
import org.plw4j.RgSummary;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.dl4j.Dl4jLabels;
import org.plw4j.dl4j.LossWeightedCausalLM;
import org.plw4j.dl4j.WeightedCausalLMOutputLayer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A small replication of the prompt-loss-weight article's RACE experiment on a laptop CPU: the same
 * small DL4J language model is trained on the same synthetic multiple-choice reading-comprehension
 * data ({@link SyntheticRace}: long prompt, one-letter answer, Rg about 0.01) with several prompt loss
 * weights, and after every epoch the validation prompt loss, completion loss, full-sequence loss and
 * answer accuracy are recorded.
 *
 * <p>The model is a causal convolutional language model: a token embedding, causal dilated 1-D
 * convolutions (receptive field covering the whole example) and plw4j's
 * {@link WeightedCausalLMOutputLayer} (logits out, {@link LossWeightedCausalLM} inside, DL4J's default
 * {@code miniBatch(true)}). Every run starts from the same
 * initial weights and sees the batches in the same order; only the PLW differs. Validation uses
 * {@link WeightedCausalLMLoss} on the network's output ({@code NCW} logits, shift off): the answer
 * accuracy is plw4j's {@code completionAccuracy}, the arg-max over the <em>whole</em> vocabulary at the
 * answer position (a restricted arg-max over the four letters is reported too).
 *
 * <p>Output, in {@code --out}: {@code plw-experiment.csv} (one row per PLW and epoch),
 * {@code plw-experiment.png} (the curves) and {@code plw-experiment.txt} (the printed table).
 *
 * <pre>
 * mvn -q -B -pl examples -am package -DskipTests -Drun=PlwExperiment
 * mvn -q -B -pl examples -am package -DskipTests -Drun=PlwExperiment -Dargs="--epochs 6 --plw 1,0.1,0"
 * </pre>
 */
@Command(name = "plw-experiment", mixinStandardHelpOptions = true, version = "plw4j plw-experiment 0.1",
        sortOptions = false,
        description = "Trains a small DL4J language model on synthetic RACE-like data with several prompt loss "
                + "weights and records validation prompt loss, completion loss and answer accuracy per epoch.")
public final class PlwExperiment implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @Option(names = "--plw", split = ",", defaultValue = "1,0.1,0.01,0", paramLabel = "W",
            description = "Prompt loss weights to compare (default: ${DEFAULT-VALUE}).")
    private double[] plws;

    @Option(names = "--epochs", defaultValue = "5", description = "Epochs per run (default: ${DEFAULT-VALUE}).")
    private int epochs;

    @Option(names = "--train", defaultValue = "1280", description = "Training examples (default: ${DEFAULT-VALUE}).")
    private int trainSize;

    @Option(names = "--val", defaultValue = "320", description = "Validation examples (default: ${DEFAULT-VALUE}).")
    private int valSize;

    @Option(names = "--filler", defaultValue = "11",
            description = "Grammar sentences per passage besides the facts (default: ${DEFAULT-VALUE}).")
    private int filler;

    @Option(names = "--facts", defaultValue = "1",
            description = "Fact types per passage, 1 to 4; the question asks about one of them "
                    + "(default: ${DEFAULT-VALUE}; more is harder).")
    private int facts;

    @Option(names = "--shuffle-options",
            description = "List the options in a random order per example (harder: needs matching).")
    private boolean shuffleOptions;

    @Option(names = "--batch", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Option(names = "--lr", defaultValue = "0.01", description = "Adam learning rate (default: ${DEFAULT-VALUE}).")
    private double lr;

    @Option(names = "--embed", defaultValue = "32", description = "Embedding size (default: ${DEFAULT-VALUE}).")
    private int embed;

    @Option(names = "--hidden", defaultValue = "64", description = "Channels per convolution (default: ${DEFAULT-VALUE}).")
    private int hidden;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of data, weights and order (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--threads", defaultValue = "0",
            description = "Runs trained at once (0: one per CPU core, at most one per PLW).")
    private int threads;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Output folder (default: examples/output from the repository root, else plw4j-output).")
    private Path out;

    @Option(names = "--tiny", description = "A seconds-long smoke run (tests): tiny data, model and epochs.")
    private boolean tiny;

    @Option(names = "--no-progress", description = "No progress bar; print each epoch's results as they come.")
    private boolean noProgress;

    /** Creates the command (picocli fills the options). */
    public PlwExperiment() {
        // options are injected by picocli
    }

    /**
     * Runs the experiment and exits with its exit code.
     *
     * @param args the command line (see {@code --help})
     */
    public static void main(String[] args) {
        Cli.main(new PlwExperiment(), "", args);
    }

    /**
     * Runs the experiment without exiting the JVM.
     *
     * @param out where the table goes
     * @param err where errors go
     * @param args the command line
     * @return the exit code (0 success, 1 I/O error, 2 bad options)
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return Cli.run(new PlwExperiment(), "", out, err, args);
    }

    /** One evaluation of one run. */
    record EpochRecord(double plw, int epoch, double trainObjective, double valObjective, double fullLoss,
            double promptLoss, double completionLoss, double accuracy, double accuracyAbcd, double seconds) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        if (tiny) {
            trainSize = 64;
            valSize = 32;
            epochs = 2;
            filler = 3;
            batch = 16;
            embed = 8;
            hidden = 8;
        }
        validate();
        Path dir = out != null ? out
                : Files.isRegularFile(Path.of("examples", "pom.xml")) ? Path.of("examples", "output") : Path.of("plw4j-output");
        Files.createDirectories(dir);

        SyntheticRace race = new SyntheticRace(facts);
        Random dataRandom = new Random(seed);
        List<SyntheticRace.Example> train = race.generate(trainSize, filler, shuffleOptions, dataRandom);
        List<SyntheticRace.Example> val = race.generate(valSize, filler, shuffleOptions, dataRandom);
        int length = 0;
        int[] p = new int[train.size()];
        int[] c = new int[train.size()];
        for (int i = 0; i < train.size(); i++) {
            length = Math.max(length, train.get(i).tokens.length);
            p[i] = train.get(i).promptLength;
            c[i] = train.get(i).tokens.length - train.get(i).promptLength;
        }
        for (SyntheticRace.Example e : val) {
            length = Math.max(length, e.tokens.length);
        }
        RgSummary rg = GenerationRatio.summarize(p, c);
        Data trainData = Data.of(train, length);
        Data valData = Data.of(val, length);
        int batchesPerEpoch = (trainSize + batch - 1) / batch;
        int workers = threads > 0 ? threads : Math.max(1, Math.min(plws.length, Runtime.getRuntime().availableProcessors()));
        workers = Math.min(workers, plws.length);
        int masterThreads = Nd4j.getEnvironment().maxMasterThreads();
        int maxThreads = Nd4j.getEnvironment().maxThreads();
        if (workers > 1) {
            // each run single-threaded inside ND4J (restored at the end); the runs share the cores
            Nd4j.getEnvironment().setMaxMasterThreads(1);
            Nd4j.getEnvironment().setMaxThreads(1);
        }

        o.printf(Locale.ROOT, "PLW experiment: %d train / %d validation examples, %d tokens per example at most, "
                        + "vocabulary %d, Rg mean %.4f (median %.4f), %s options%n",
                trainSize, valSize, length, race.vocabularySize(), rg.mean(), rg.median(),
                shuffleOptions ? "shuffled" : "fixed-order");
        o.printf(Locale.ROOT, "model: embedding %d, causal conv 1-D x%d (%d channels, kernel 3, dilations %s), "
                        + "Adam %.3g, batch %d, %d epochs; PLW %s; %d run(s) at once%n",
                embed, DILATIONS.length, hidden, Arrays.toString(DILATIONS), lr, batch, epochs,
                Arrays.toString(plws), workers);
        o.printf(Locale.ROOT, "example: %s -> %s%n%n",
                race.decode(Arrays.copyOf(val.get(0).tokens, val.get(0).promptLength)),
                race.decode(new int[] {val.get(0).tokens[val.get(0).promptLength]}));
        o.flush();

        long start = System.nanoTime();
        List<List<EpochRecord>> results = new ArrayList<>();
        ProgressBar bar = noProgress ? null
                : Cli.progressBar("training", (long) plws.length * epochs * batchesPerEpoch, 500).setUnit(" steps", 1)
                        .build();
        ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "plw-run");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<List<EpochRecord>>> futures = new ArrayList<>();
            for (double plw : plws) {
                futures.add(pool.submit(() -> train(plw, race, trainData, valData, bar, o)));
            }
            for (Future<List<EpochRecord>> f : futures) {
                results.add(f.get());
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw new IllegalStateException(cause);
        } finally {
            pool.shutdownNow();
            Nd4j.getEnvironment().setMaxMasterThreads(masterThreads);
            Nd4j.getEnvironment().setMaxThreads(maxThreads);
            if (bar != null) {
                bar.close();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        String table = table(results, seconds);
        o.print(table);
        Path csv = dir.resolve("plw-experiment.csv");
        Path png = dir.resolve("plw-experiment.png");
        Path txt = dir.resolve("plw-experiment.txt");
        writeCsv(results, csv);
        Files.writeString(txt, table, StandardCharsets.UTF_8);
        chart(results, png);
        o.printf(Locale.ROOT, "%nwrote %s, %s, %s%n", csv, png, txt);
        o.flush();
        return 0;
    }

    private void validate() {
        if (plws == null || plws.length == 0) {
            throw new IllegalArgumentException("--plw needs at least one value");
        }
        for (double w : plws) {
            if (!(w >= 0 && w <= 1)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "--plw values must be in [0, 1], was %s", w));
            }
        }
        positive("--epochs", epochs);
        positive("--train", trainSize);
        positive("--val", valSize);
        positive("--batch", batch);
        positive("--embed", embed);
        positive("--hidden", hidden);
        if (filler < 0) {
            throw new IllegalArgumentException("--filler must be >= 0, was " + filler);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be >= 0, was " + threads);
        }
        if (!(lr > 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--lr must be a positive number, was %s", lr));
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s must be > 0, was %d", name, v));
        }
    }

    /** Dilations of the causal convolutions: receptive field 1 + 2 * 63 = 127 tokens with kernel 3. */
    private static final int[] DILATIONS = {1, 2, 4, 8, 16, 32};

    /**
     * @param vocabulary the vocabulary size
     * @param plw the prompt loss weight of the run
     * @return the network configuration (identical for every PLW but the loss)
     */
    MultiLayerConfiguration configuration(int vocabulary, double plw) {
        NeuralNetConfiguration.ListBuilder list = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(lr))
                .weightInit(WeightInit.RELU)
                .list()
                .layer(new EmbeddingSequenceLayer.Builder().nIn(vocabulary).nOut(embed).build());
        int in = embed;
        for (int d : DILATIONS) {
            list.layer(new Convolution1DLayer.Builder()
                    .kernelSize(3).dilation(d).convolutionMode(ConvolutionMode.Causal)
                    .rnnDataFormat(RNNFormat.NCW)
                    .nIn(in).nOut(hidden).activation(Activation.RELU).build());
            in = hidden;
        }
        // score = plw4j's weighted mean over tokens (whatever DL4J's miniBatch flag), logits out
        list.layer(new WeightedCausalLMOutputLayer.Builder(plw)
                .nIn(in).nOut(vocabulary).dataFormat(RNNFormat.NCW).build());
        return list.build();
    }

    private List<EpochRecord> train(double plw, SyntheticRace race, Data trainData, Data valData, ProgressBar bar,
            PrintWriter o) {
        MultiLayerNetwork net = new MultiLayerNetwork(configuration(race.vocabularySize(), plw));
        net.init();
        WeightedCausalLMLoss evalLoss = WeightedCausalLMLoss.withDefaults()
                .withPromptLossWeight(plw).withLayout(LogitsLayout.NCW).withShift(false);
        int[] letters = race.letterIds();
        List<EpochRecord> records = new ArrayList<>();
        long t0 = System.nanoTime();
        records.add(evaluate(net, evalLoss, valData, letters, plw, 0, Double.NaN, 0));
        report(o, bar, records.get(0));
        Random order = new Random(seed + 1); // the same batch order for every PLW
        int[] idx = new int[trainData.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        for (int epoch = 1; epoch <= epochs; epoch++) {
            shuffle(idx, order);
            double objective = 0;
            int steps = 0;
            for (int s = 0; s < idx.length; s += batch) {
                int[] rows = Arrays.copyOfRange(idx, s, Math.min(idx.length, s + batch));
                net.fit(trainData.batch(rows));
                objective += net.score();
                steps++;
                if (bar != null) {
                    bar.step();
                }
            }
            records.add(evaluate(net, evalLoss, valData, letters, plw, epoch, objective / steps,
                    (System.nanoTime() - t0) / 1e9));
            report(o, bar, records.get(records.size() - 1));
        }
        return records;
    }

    private void report(PrintWriter o, ProgressBar bar, EpochRecord r) {
        if (bar != null) {
            bar.setExtraMessage(String.format(Locale.ROOT, "PLW %s ep %d acc %.2f", fmtPlw(r.plw()), r.epoch(),
                    r.accuracy()));
        } else {
            String line = String.format(Locale.ROOT, "PLW %s epoch %d: completion loss %.3f, accuracy %.3f",
                    fmtPlw(r.plw()), r.epoch(), r.completionLoss(), r.accuracy());
            synchronized (o) {
                o.println(line);
                o.flush();
            }
        }
    }

    private static void shuffle(int[] a, Random rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static EpochRecord evaluate(MultiLayerNetwork net, WeightedCausalLMLoss loss, Data data, int[] letters,
            double plw, int epoch, double trainObjective, double seconds) {
        LossSummary sum = LossSummary.empty();
        long correctAbcd = 0;
        int chunk = 128;
        for (int s = 0; s < data.size(); s += chunk) {
            int[] rows = new int[Math.min(chunk, data.size() - s)];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = s + i;
            }
            DataSet ds = data.batch(rows);
            INDArray logits = net.output(ds.getFeatures(), false); // [b, V, N-1], identity activation
            // the labels hold what plw4j needs with shift off: channel 0 the targets, channel 1 their roles
            INDArray targets = ds.getLabels().get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all());
            INDArray roles = ds.getLabels().get(NDArrayIndex.all(), NDArrayIndex.point(1), NDArrayIndex.all());
            LossResult r = loss.compute(logits, targets, PromptCompletionMask.ofRoles(roles));
            sum = sum.merge(r.summary());
            for (int i = 0; i < rows.length; i++) {
                int t = data.answerPosition(rows[i]);
                INDArray z = logits.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.point(t));
                int best = 0;
                for (int k = 1; k < 4; k++) {
                    if (z.getDouble(letters[k]) > z.getDouble(letters[best])) {
                        best = k;
                    }
                }
                if (letters[best] == data.answerToken(rows[i])) {
                    correctAbcd++;
                }
            }
        }
        double full = (sum.promptLossSum() + sum.completionLossSum()) / (sum.promptTokens() + sum.completionTokens());
        return new EpochRecord(plw, epoch, trainObjective, sum.loss(), full, sum.promptLoss(), sum.completionLoss(),
                sum.completionAccuracy(), (double) correctAbcd / data.size(), seconds);
    }

    /**
     * The arrays of a data set, built with plw4j's helpers: token ids {@code [b, N]} (right-padded), the
     * roles from prompt and sequence lengths, and DL4J's shifted inputs and {@code [b, 2, N-1]} labels
     * ({@link Dl4jLabels}).
     */
    private static final class Data {
        private final List<SyntheticRace.Example> examples;
        private final int length;

        private Data(List<SyntheticRace.Example> examples, int length) {
            this.examples = examples;
            this.length = length;
        }

        /** @param length the longest example: {@code N}; the network sees {@code N - 1} time steps */
        static Data of(List<SyntheticRace.Example> examples, int length) {
            return new Data(examples, length);
        }

        int size() {
            return examples.size();
        }

        /** @return the time step whose output predicts the answer letter */
        int answerPosition(int row) {
            return examples.get(row).promptLength - 1;
        }

        int answerToken(int row) {
            SyntheticRace.Example e = examples.get(row);
            return e.tokens[e.promptLength];
        }

        /** Features {@code [b, N-1]} (input ids) and labels {@code [b, 2, N-1]} (target id, role code). */
        DataSet batch(int[] rows) {
            int[][] ids = new int[rows.length][length];
            int[] promptLengths = new int[rows.length];
            int[] sequenceLengths = new int[rows.length];
            for (int i = 0; i < rows.length; i++) {
                SyntheticRace.Example e = examples.get(rows[i]);
                System.arraycopy(e.tokens, 0, ids[i], 0, e.tokens.length); // the rest stays PAD (0)
                promptLengths[i] = e.promptLength;
                sequenceLengths[i] = e.tokens.length;
            }
            INDArray inputIds = Nd4j.createFromArray(ids);
            PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(
                    promptLengths, sequenceLengths, length, Padding.RIGHT);
            return new DataSet(Dl4jLabels.inputTokens(inputIds), Dl4jLabels.nextToken(inputIds, mask, LogitsLayout.NCW));
        }
    }

    private static String fmtPlw(double plw) {
        return plw == Math.rint(plw) ? String.format(Locale.ROOT, "%.0f", plw) : String.format(Locale.ROOT, "%s", plw);
    }

    private String table(List<List<EpochRecord>> results, double seconds) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-5s %5s %10s %10s %10s %11s %10s %8s %9s %7s%n",
                "PLW", "epoch", "train obj", "val obj", "full loss", "prompt loss", "compl loss", "accuracy", "acc(A-D)",
                "time s"));
        for (List<EpochRecord> run : results) {
            for (EpochRecord r : run) {
                sb.append(String.format(Locale.ROOT, "%-5s %5d %10s %10.4f %10.4f %11.4f %10.4f %8.3f %9.3f %7.1f%n",
                        fmtPlw(r.plw()), r.epoch(), Double.isNaN(r.trainObjective()) ? "-"
                                : String.format(Locale.ROOT, "%.4f", r.trainObjective()),
                        r.valObjective(), r.fullLoss(), r.promptLoss(), r.completionLoss(), r.accuracy(),
                        r.accuracyAbcd(), r.seconds()));
            }
        }
        sb.append(String.format(Locale.ROOT, "%nAnswer accuracy (arg-max over the whole vocabulary) after early stopping "
                + "on each validation curve (epochs 1..%d):%n", epochs));
        sb.append(String.format(Locale.ROOT, "%-5s %22s %24s %22s %14s%n",
                "PLW", "at min full loss", "at min completion loss", "at min prompt loss", "best"));
        for (List<EpochRecord> run : results) {
            List<EpochRecord> trained = run.subList(1, run.size());
            EpochRecord byFull = argMin(trained, EpochRecord::fullLoss);
            EpochRecord byCompletion = argMin(trained, EpochRecord::completionLoss);
            EpochRecord byPrompt = argMin(trained, EpochRecord::promptLoss);
            EpochRecord best = argMin(trained, r -> -r.accuracy());
            sb.append(String.format(Locale.ROOT, "%-5s %22s %24s %22s %14s%n", fmtPlw(run.get(0).plw()),
                    at(byFull), at(byCompletion), at(byPrompt), at(best)));
        }
        sb.append(String.format(Locale.ROOT, "%ntotal time %.1f s%n", seconds));
        return sb.toString();
    }

    private static String at(EpochRecord r) {
        return String.format(Locale.ROOT, "%.3f (epoch %d)", r.accuracy(), r.epoch());
    }

    private static EpochRecord argMin(List<EpochRecord> rs, java.util.function.ToDoubleFunction<EpochRecord> f) {
        EpochRecord best = rs.get(0);
        for (EpochRecord r : rs) {
            if (f.applyAsDouble(r) < f.applyAsDouble(best)) {
                best = r;
            }
        }
        return best;
    }

    private static void writeCsv(List<List<EpochRecord>> results, Path csv) throws IOException {
        StringBuilder sb = new StringBuilder(
                "plw,epoch,train_objective,val_objective,val_full_loss,val_prompt_loss,val_completion_loss,"
                        + "val_answer_accuracy,val_answer_accuracy_abcd,seconds\n");
        for (List<EpochRecord> run : results) {
            for (EpochRecord r : run) {
                sb.append(String.format(Locale.ROOT, "%s,%d,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f%n",
                        r.plw(), r.epoch(), Double.isNaN(r.trainObjective()) ? ""
                                : String.format(Locale.ROOT, "%.6f", r.trainObjective()),
                        r.valObjective(), r.fullLoss(), r.promptLoss(), r.completionLoss(), r.accuracy(),
                        r.accuracyAbcd(), r.seconds()));
            }
        }
        Files.writeString(csv, sb.toString(), StandardCharsets.UTF_8);
    }

    private void chart(List<List<EpochRecord>> results, Path png) throws IOException {
        List<String> panels = List.of("answer accuracy", "completion loss", "prompt loss", "full-sequence loss");
        List<String> labels = new ArrayList<>();
        double[][][] series = new double[results.size()][panels.size()][];
        int[] epochAxis = new int[epochs + 1];
        for (int e = 0; e <= epochs; e++) {
            epochAxis[e] = e;
        }
        for (int k = 0; k < results.size(); k++) {
            List<EpochRecord> run = results.get(k);
            labels.add("PLW " + fmtPlw(run.get(0).plw()));
            series[k][0] = run.stream().mapToDouble(EpochRecord::accuracy).toArray();
            series[k][1] = run.stream().mapToDouble(EpochRecord::completionLoss).toArray();
            series[k][2] = run.stream().mapToDouble(EpochRecord::promptLoss).toArray();
            series[k][3] = run.stream().mapToDouble(EpochRecord::fullLoss).toArray();
        }
        // Losses on a log axis: at PLW 0 the prompt loss grows by orders of magnitude (nothing trains it).
        Charts.experimentCurves("PLW experiment (synthetic RACE, validation)", panels,
                new boolean[] {false, true, true, true}, labels, series, epochAxis, png);
    }
}
