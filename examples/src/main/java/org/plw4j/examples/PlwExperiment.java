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
import org.plw4j.PromptLossWeightSchedule;
import org.plw4j.RgSummary;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.dl4j.Dl4jLabels;
import org.plw4j.dl4j.LossWeightedCausalLM;
import org.plw4j.dl4j.PromptLossWeightListener;
import org.plw4j.dl4j.WeightedCausalLMOutputLayer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A small replication of the prompt-loss-weight article's RACE experiment on a laptop CPU: the same
 * small DL4J language model is fine-tuned on the same synthetic multiple-choice reading-comprehension
 * data ({@link SyntheticRace}: long prompt, one-letter answer, Rg about 0.01) with several prompt loss
 * weights or PLW schedules, and after every epoch the validation prompt loss, completion loss,
 * full-sequence loss and answer accuracy are recorded.
 *
 * <p>The model is a causal convolutional language model: a token embedding, causal dilated 1-D
 * convolutions (receptive field covering the whole example) and plw4j's
 * {@link WeightedCausalLMOutputLayer} (logits out, {@link LossWeightedCausalLM} inside). With
 * {@code --pretrain} it is first trained with the plain next-token loss on passages and questions
 * without answers ({@link Pretraining}: done once, saved, reused), as the article starts from a
 * pretrained model whose prompt loss is already low; every fine-tuning run then starts from those
 * weights. {@code --seeds K} repeats every PLW with K seeds (the batch order; the initial weights too
 * when there is no pretraining); runs with the same seed see the batches in the same order, so within a
 * seed only the PLW differs. The runs go in parallel, one per core, each single-threaded inside ND4J (as
 * is the pretraining), and ND4J's thread settings are restored at the end.
 * Validation uses {@link WeightedCausalLMLoss} on the network's output ({@code NCW} logits, shift off):
 * the answer accuracy is plw4j's {@code completionAccuracy}, the arg-max over the <em>whole</em>
 * vocabulary at the answer position (a restricted arg-max over the four letters is reported too).
 *
 * <p>Output, in {@code --out}: {@code plw-experiment.csv} (one row per PLW, seed and epoch),
 * {@code plw-experiment-summary.csv} (mean and standard deviation over the seeds per PLW and epoch),
 * {@code plw-experiment.png} (the curves, mean with a band of one standard deviation) and
 * {@code plw-experiment.txt} (the printed tables).
 *
 * <pre>
 * mvn -q -B -pl examples -am package -DskipTests -Drun=PlwExperiment
 * mvn -q -B -pl examples -am package -DskipTests -Drun=PlwExperiment -Dargs="--pretrain --seeds 3 --plw 1,0.1,0,linear:1:0"
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
            description = "Prompt loss weights in [0, 1] or schedules (linear:1:0, cosine:1:0:400, ...; a missing "
                    + "length is the run's total steps) to compare (default: ${DEFAULT-VALUE}).")
    private String[] plwArgs;

    @Option(names = "--seeds", defaultValue = "1",
            description = "Seeds per PLW: batch order, and initial weights without --pretrain (default: ${DEFAULT-VALUE}).")
    private int seeds;

    @Option(names = "--epochs", defaultValue = "5", description = "Fine-tuning epochs per run (default: ${DEFAULT-VALUE}).")
    private int epochs;

    @Option(names = "--train", defaultValue = "1280", description = "Training examples (default: ${DEFAULT-VALUE}).")
    private int trainSize;

    @Option(names = "--val", defaultValue = "320", description = "Validation examples (default: ${DEFAULT-VALUE}).")
    private int valSize;

    @Option(names = "--pretrain",
            description = "Start every run from a network pretrained with the plain next-token loss on passages and "
                    + "questions without answers (made once, saved in --out, reused).")
    private boolean pretrain;

    @Option(names = "--pretrain-texts", defaultValue = "4000",
            description = "Pretraining texts, drawn apart from the train and validation sets (default: ${DEFAULT-VALUE}).")
    private int pretrainTexts;

    @Option(names = "--pretrain-epochs", defaultValue = "4", description = "Pretraining epochs (default: ${DEFAULT-VALUE}).")
    private int pretrainEpochs;

    @Option(names = "--pretrain-lr", defaultValue = "0.01",
            description = "Pretraining Adam learning rate (default: ${DEFAULT-VALUE}).")
    private double pretrainLr;

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

    @Option(names = "--lr", defaultValue = "0.01", description = "Fine-tuning Adam learning rate (default: ${DEFAULT-VALUE}).")
    private double lr;

    @Option(names = "--embed", defaultValue = "32", description = "Embedding size (default: ${DEFAULT-VALUE}).")
    private int embed;

    @Option(names = "--hidden", defaultValue = "64", description = "Channels per convolution (default: ${DEFAULT-VALUE}).")
    private int hidden;

    @Option(names = "--seed", defaultValue = "42",
            description = "Seed of the data and of the first run; run k of --seeds uses seed + k (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--threads", defaultValue = "0",
            description = "Runs trained at once (0: one per CPU core, at most one per run).")
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

    /**
     * One PLW of the sweep: a constant weight or a schedule over the run's steps.
     *
     * @param label how tables, CSV and chart name it: the weight ({@code 0.1}) or the schedule's text form
     * @param schedule the PLW of each step
     */
    record Arm(String label, PromptLossWeightSchedule schedule) {
    }

    /** One evaluation of one run; {@code plw} is the weight in force at the evaluation (a schedule's moves). */
    record EpochRecord(String arm, int seed, int epoch, double plw, double trainObjective, double valObjective,
            double fullLoss, double promptLoss, double completionLoss, double accuracy, double accuracyAbcd,
            double seconds) {
    }

    /** The records of one run: one arm, one seed, epochs 0 (before training) to {@code --epochs}. */
    record Run(Arm arm, int seed, List<EpochRecord> records) {
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
            pretrainTexts = 64;
            pretrainEpochs = 1;
        }
        int batchesPerEpoch = (trainSize + batch - 1) / batch;
        long totalSteps = (long) epochs * batchesPerEpoch;
        validate();
        List<Arm> arms = arms(plwArgs, totalSteps);
        Path dir = out != null ? out
                : Files.isRegularFile(Path.of("examples", "pom.xml")) ? Path.of("examples", "output") : Path.of("plw4j-output");
        Files.createDirectories(dir);

        SyntheticRace race = new SyntheticRace(facts);
        Random dataRandom = new Random(seed);
        List<SyntheticRace.Example> train = race.generate(trainSize, filler, shuffleOptions, dataRandom);
        List<SyntheticRace.Example> val = race.generate(valSize, filler, shuffleOptions, dataRandom);
        // pretraining texts: draws of the generator from a stream of their own (so apart from train and validation,
        // and the same whatever their sizes), answers cut off
        List<SyntheticRace.Example> pretrainData = new ArrayList<>();
        if (pretrain) {
            Random textRandom = new Random(~seed);
            for (SyntheticRace.Example e : race.generate(pretrainTexts, filler, shuffleOptions, textRandom)) {
                pretrainData.add(new SyntheticRace.Example(Arrays.copyOf(e.tokens, e.promptLength), e.promptLength, -1));
            }
        }
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
        Data trainData = new Data(train, length);
        Data valData = new Data(val, length);
        int runs = arms.size() * seeds;
        int workers = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        workers = Math.max(1, Math.min(workers, runs));

        String settings = String.format(Locale.ROOT, "PLW experiment: %d train / %d validation examples, "
                        + "%d tokens per example at most, vocabulary %d, Rg mean %.4f (median %.4f), %s options%n",
                trainSize, valSize, length, race.vocabularySize(), rg.mean(), rg.median(),
                shuffleOptions ? "shuffled" : "fixed-order")
                + String.format(Locale.ROOT, "model: embedding %d, causal conv 1-D x%d (%d channels, kernel 3, "
                        + "dilations %s), %s; fine-tuning: Adam %.3g, batch %d, %d epochs (%d steps); PLW %s; "
                        + "%d seed(s); %d run(s) at once%n",
                        embed, DILATIONS.length, hidden, Arrays.toString(DILATIONS),
                        pretrain ? String.format(Locale.ROOT, "pretrained on %d texts x %d epochs (Adam %.3g)",
                                pretrainTexts, pretrainEpochs, pretrainLr) : "from random weights",
                        lr, batch, epochs, totalSteps, arms.stream().map(Arm::label).toList(), seeds, workers)
                + String.format(Locale.ROOT, "example: %s -> %s%n%n",
                        race.decode(Arrays.copyOf(val.get(0).tokens, val.get(0).promptLength)),
                        race.decode(new int[] {val.get(0).tokens[val.get(0).promptLength]}));
        o.print(settings);
        o.flush();

        int masterThreads = Nd4j.getEnvironment().maxMasterThreads();
        int maxThreads = Nd4j.getEnvironment().maxThreads();
        long start = System.nanoTime();
        String key = pretrainKey(race);
        Path pretrainFile = Pretraining.fileFor(dir, key);
        Pretraining pre = pretrain ? Pretraining.load(pretrainFile, key) : null;
        long pretrainSteps = pretrain && pre == null
                ? (long) pretrainEpochs * ((pretrainTexts + batch - 1) / batch) : 0;
        List<Run> results = new ArrayList<>();
        ProgressBar bar = noProgress ? null
                : Cli.progressBar("training", pretrainSteps + runs * totalSteps, 500).setUnit(" steps", 1).build();
        ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "plw-run");
            t.setDaemon(true);
            return t;
        });
        try {
            // Every training single-threaded inside ND4J (restored at the end), the runs in parallel: its threads
            // spin against each other and against other processes on a busy machine (pretraining with two ND4J
            // threads on a loaded 2-core VM took 2.3 s a step, a single-threaded run 0.34 s).
            Nd4j.getEnvironment().setMaxMasterThreads(1);
            Nd4j.getEnvironment().setMaxThreads(1);
            if (pretrain && pre == null) {
                int textLength = pretrainData.stream().mapToInt(e -> e.tokens.length).max().orElse(1);
                pre = pretrain(race, new Data(pretrainData, textLength), pretrainFile, key, bar, o);
            }
            if (pre != null) {
                o.printf(Locale.ROOT, "pretraining: %s %s (%d steps, %.1f s when made, final training loss %.4f)%n",
                        pre.reused() ? "reused" : "wrote", pre.file(), pre.steps(), pre.seconds(), pre.finalObjective());
                o.flush();
            }
            INDArray startWeights = pre == null ? null : pre.weights();
            List<Future<Run>> futures = new ArrayList<>();
            for (Arm arm : arms) {
                for (int k = 0; k < seeds; k++) {
                    int s = k;
                    futures.add(pool.submit(() -> new Run(arm, s,
                            train(arm, s, startWeights, race, trainData, valData, bar, o))));
                }
            }
            for (Future<Run> f : futures) {
                results.add(f.get());
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
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

        String table = ExperimentReport.table(results, arms, seeds, epochs)
                + (pre == null ? "" : String.format(Locale.ROOT, "%npretraining: %d texts x %d epochs, %d steps, "
                        + "%.1f s%s, final training loss %.4f%n", pretrainTexts, pretrainEpochs, pre.steps(),
                        pre.seconds(), pre.reused() ? " (reused from an earlier run)" : "", pre.finalObjective()))
                + String.format(Locale.ROOT, "%ntotal time %.1f s (%d runs, %d at once)%n", seconds, runs, workers);
        o.print(table);
        Path csv = dir.resolve("plw-experiment.csv");
        Path summary = dir.resolve("plw-experiment-summary.csv");
        Path png = dir.resolve("plw-experiment.png");
        Path txt = dir.resolve("plw-experiment.txt");
        ExperimentReport.writeCsv(results, csv);
        ExperimentReport.writeSummaryCsv(results, arms, epochs, summary);
        Files.writeString(txt, settings + table, StandardCharsets.UTF_8);
        ExperimentReport.chart(results, arms, epochs, seeds, png);
        o.printf(Locale.ROOT, "%nwrote %s, %s, %s, %s%n", csv, summary, png, txt);
        o.flush();
        return 0;
    }

    /**
     * @param texts the {@code --plw} items: weights or schedules' text forms
     * @param totalSteps the length given to a schedule whose text omits it
     * @return the arms, in the given order
     * @throws IllegalArgumentException naming {@code --plw} for a weight outside [0, 1] or a bad schedule
     */
    static List<Arm> arms(String[] texts, long totalSteps) {
        if (texts == null || texts.length == 0) {
            throw new IllegalArgumentException("--plw needs at least one value");
        }
        List<Arm> arms = new ArrayList<>();
        for (String t : texts) {
            String text = t.strip();
            Arm arm;
            if (text.indexOf(':') < 0) {
                double w;
                try {
                    w = Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "--plw values must be numbers in [0, 1] or schedules (e.g. linear:1:0), was '%s'", text), e);
                }
                if (!(w >= 0 && w <= 1)) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT, "--plw values must be in [0, 1], was %s", text));
                }
                arm = new Arm(fmtPlw(w), PromptLossWeightSchedule.constant(w));
            } else {
                try {
                    PromptLossWeightSchedule s = PromptLossWeightSchedule.parse(text, totalSteps);
                    arm = new Arm(s.toString(), s);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--plw: " + e.getMessage(), e);
                }
            }
            for (Arm a : arms) {
                if (a.label().equals(arm.label())) {
                    throw new IllegalArgumentException("--plw lists " + arm.label() + " twice");
                }
            }
            arms.add(arm);
        }
        return arms;
    }

    private void validate() {
        positive("--seeds", seeds);
        positive("--epochs", epochs);
        positive("--train", trainSize);
        positive("--val", valSize);
        positive("--batch", batch);
        positive("--embed", embed);
        positive("--hidden", hidden);
        positive("--pretrain-texts", pretrainTexts);
        positive("--pretrain-epochs", pretrainEpochs);
        if (filler < 0) {
            throw new IllegalArgumentException("--filler must be >= 0, was " + filler);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("--threads must be >= 0, was " + threads);
        }
        positiveRate("--lr", lr);
        positiveRate("--pretrain-lr", pretrainLr);
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s must be > 0, was %d", name, v));
        }
    }

    private static void positiveRate(String name, double v) {
        if (!(v > 0 && Double.isFinite(v))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s must be a positive number, was %s", name, v));
        }
    }

    /** Dilations of the causal convolutions: receptive field 1 + 2 * 63 = 127 tokens with kernel 3. */
    private static final int[] DILATIONS = {1, 2, 4, 8, 16, 32};

    /** Every setting the pretrained weights depend on (the file name is its hash). */
    private String pretrainKey(SyntheticRace race) {
        return String.format(Locale.ROOT, "v2 vocab=%d facts=%d filler=%d shuffle=%b seed=%d texts=%d "
                        + "epochs=%d lr=%s batch=%d embed=%d hidden=%d dilations=%s", race.vocabularySize(), facts,
                filler, shuffleOptions, seed, pretrainTexts, pretrainEpochs, pretrainLr, batch,
                embed, hidden, Arrays.toString(DILATIONS));
    }

    /**
     * @param vocabulary the vocabulary size
     * @param schedule the PLW of each step (a constant one for a fixed PLW)
     * @param rate the Adam learning rate
     * @param initSeed the seed of the initial weights
     * @return the network configuration (the same layers for every PLW, so weights carry over)
     */
    MultiLayerConfiguration configuration(int vocabulary, PromptLossWeightSchedule schedule, double rate, long initSeed) {
        NeuralNetConfiguration.ListBuilder list = new NeuralNetConfiguration.Builder()
                .seed(initSeed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(rate))
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
        WeightedCausalLMOutputLayer.Builder head = schedule.shape() == PromptLossWeightSchedule.Shape.CONSTANT
                ? new WeightedCausalLMOutputLayer.Builder(schedule.startValue())
                : new WeightedCausalLMOutputLayer.Builder().promptLossWeightSchedule(schedule);
        list.layer(head.nIn(in).nOut(vocabulary).dataFormat(RNNFormat.NCW).build());
        return list.build();
    }

    /** Pretrains with the plain next-token loss (PLW 1; the texts have no completion) and saves the weights. */
    private Pretraining pretrain(SyntheticRace race, Data texts, Path file, String key, ProgressBar bar, PrintWriter o)
            throws IOException {
        MultiLayerNetwork net = new MultiLayerNetwork(configuration(race.vocabularySize(),
                PromptLossWeightSchedule.constant(1.0), pretrainLr, seed));
        net.init();
        if (bar != null) {
            bar.setExtraMessage("pretraining");
        }
        long t0 = System.nanoTime();
        Random order = new Random(seed + 2);
        int[] idx = identity(texts.size());
        double objective = Double.NaN;
        long steps = 0;
        for (int epoch = 1; epoch <= pretrainEpochs; epoch++) {
            objective = epoch(net, texts, idx, order, bar);
            steps += (texts.size() + batch - 1) / batch;
            if (bar == null) {
                o.printf(Locale.ROOT, "pretraining epoch %d: training loss %.4f%n", epoch, objective);
                o.flush();
            }
        }
        return Pretraining.save(net, file, key, (System.nanoTime() - t0) / 1e9, steps, objective);
    }

    /** One pass over {@code data} in a fresh shuffle of {@code idx}; returns the mean training objective. */
    private double epoch(MultiLayerNetwork net, Data data, int[] idx, Random order, ProgressBar bar) {
        shuffle(idx, order);
        double objective = 0;
        int steps = 0;
        for (int s = 0; s < idx.length; s += batch) {
            int[] rows = Arrays.copyOfRange(idx, s, Math.min(idx.length, s + batch));
            net.fit(data.batch(rows));
            objective += net.score();
            steps++;
            if (bar != null) {
                bar.step();
            }
        }
        return objective / steps;
    }

    private List<EpochRecord> train(Arm arm, int k, INDArray startWeights, SyntheticRace race, Data trainData,
            Data valData, ProgressBar bar, PrintWriter o) {
        long runSeed = seed + k;
        MultiLayerNetwork net = new MultiLayerNetwork(configuration(race.vocabularySize(), arm.schedule(), lr, runSeed));
        net.init();
        if (startWeights != null) {
            net.setParams(startWeights); // copied in; the same start for every run
        }
        net.addListeners(new PromptLossWeightListener());
        int[] letters = race.letterIds();
        List<EpochRecord> records = new ArrayList<>();
        long t0 = System.nanoTime();
        records.add(evaluate(net, arm, k, 0, 0, valData, letters, Double.NaN, 0));
        report(o, bar, records.get(0));
        Random order = new Random(runSeed + 1); // the same batch order for every PLW of a seed
        int[] idx = identity(trainData.size());
        long steps = 0;
        for (int epoch = 1; epoch <= epochs; epoch++) {
            double objective = epoch(net, trainData, idx, order, bar);
            steps += (trainData.size() + batch - 1) / batch;
            records.add(evaluate(net, arm, k, epoch, steps, valData, letters, objective, (System.nanoTime() - t0) / 1e9));
            report(o, bar, records.get(records.size() - 1));
        }
        return records;
    }

    private static int[] identity(int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        return idx;
    }

    private void report(PrintWriter o, ProgressBar bar, EpochRecord r) {
        if (bar != null) {
            bar.setExtraMessage(String.format(Locale.ROOT, "PLW %s seed %d ep %d acc %.2f", r.arm(), r.seed(), r.epoch(),
                    r.accuracy()));
        } else {
            String line = String.format(Locale.ROOT, "PLW %s seed %d epoch %d: completion loss %.3f, accuracy %.3f",
                    r.arm(), r.seed(), r.epoch(), r.completionLoss(), r.accuracy());
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

    /** Validation metrics after {@code steps} updates; the objective uses the PLW the schedule gives that step. */
    private static EpochRecord evaluate(MultiLayerNetwork net, Arm arm, int k, int epoch, long steps, Data data,
            int[] letters, double trainObjective, double seconds) {
        double plw = arm.schedule().at(steps);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults()
                .withPromptLossWeight(plw).withLayout(LogitsLayout.NCW).withShift(false);
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
                for (int j = 1; j < 4; j++) {
                    if (z.getDouble(letters[j]) > z.getDouble(letters[best])) {
                        best = j;
                    }
                }
                if (letters[best] == data.answerToken(rows[i])) {
                    correctAbcd++;
                }
            }
        }
        double full = (sum.promptLossSum() + sum.completionLossSum()) / (sum.promptTokens() + sum.completionTokens());
        return new EpochRecord(arm.label(), k, epoch, plw, trainObjective, sum.loss(), full, sum.promptLoss(),
                sum.completionLoss(), sum.completionAccuracy(), (double) correctAbcd / data.size(), seconds);
    }

    /**
     * The arrays of a data set, built with plw4j's helpers: token ids {@code [b, N]} (right-padded), the
     * roles from prompt and sequence lengths, and DL4J's shifted inputs and {@code [b, 2, N-1]} labels
     * ({@link Dl4jLabels}). A text without completion (pretraining) is all prompt.
     *
     * @param examples the examples
     * @param length the longest example: {@code N}; the network sees {@code N - 1} time steps
     */
    private record Data(List<SyntheticRace.Example> examples, int length) {

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

    /** A weight as text: integers without a fraction ({@code 1}, {@code 0}), others as {@link Double#toString}. */
    static String fmtPlw(double plw) {
        return plw == Math.rint(plw) ? String.format(Locale.ROOT, "%.0f", plw) : Double.toString(plw);
    }
}
