package org.plw4j.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import org.plw4j.examples.PlwExperiment.Arm;
import org.plw4j.examples.PlwExperiment.EpochRecord;
import org.plw4j.examples.PlwExperiment.Run;

/**
 * What {@link PlwExperiment} writes from its runs: the tables (mean and standard deviation over the seeds
 * per PLW and epoch, and the accuracy at the minimum of each validation curve), the per-seed CSV, the
 * summary CSV and the chart. The standard deviation is the sample one ({@code n - 1}); with one seed it is
 * not shown (0 in the summary CSV).
 */
final class ExperimentReport {

    /** A validation metric: its name in tables and chart, in the CSV, its digits, whether it is a loss. */
    private record Metric(String title, String column, ToDoubleFunction<EpochRecord> value, int digits, boolean loss) {
    }

    private static final List<Metric> METRICS = List.of(
            new Metric("val obj", "val_objective", EpochRecord::valObjective, 4, true),
            new Metric("full loss", "val_full_loss", EpochRecord::fullLoss, 4, true),
            new Metric("prompt loss", "val_prompt_loss", EpochRecord::promptLoss, 4, true),
            new Metric("compl loss", "val_completion_loss", EpochRecord::completionLoss, 4, true),
            new Metric("accuracy", "val_answer_accuracy", EpochRecord::accuracy, 3, false),
            new Metric("acc(A-D)", "val_answer_accuracy_abcd", EpochRecord::accuracyAbcd, 3, false));

    private ExperimentReport() {
    }

    /**
     * @param values samples
     * @return {mean, sample standard deviation} (0 for one sample)
     */
    static double[] meanStd(double[] values) {
        double mean = 0;
        for (double v : values) {
            mean += v;
        }
        mean /= values.length;
        double ss = 0;
        for (double v : values) {
            ss += (v - mean) * (v - mean);
        }
        return new double[] {mean, values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : 0};
    }

    /** @return the runs of one arm, by seed */
    private static List<Run> runsOf(List<Run> runs, Arm arm) {
        return runs.stream().filter(r -> r.arm().equals(arm)).toList();
    }

    /** @return the records of epoch {@code e} of the runs, one per seed */
    private static List<EpochRecord> atEpoch(List<Run> runs, int e) {
        return runs.stream().map(r -> r.records().get(e)).toList();
    }

    private static double[] stat(List<EpochRecord> rs, ToDoubleFunction<EpochRecord> f) {
        return meanStd(rs.stream().mapToDouble(f).toArray());
    }

    private static String cell(double[] ms, int digits, boolean spread) {
        String f = "%." + digits + "f";
        return spread ? String.format(Locale.ROOT, f + " ± " + f, ms[0], ms[1]) : String.format(Locale.ROOT, f, ms[0]);
    }

    /** @return the record of epochs 1.. with the smallest {@code f} (the first of equals) */
    static EpochRecord argMin(List<EpochRecord> records, ToDoubleFunction<EpochRecord> f) {
        EpochRecord best = records.get(1);
        for (EpochRecord r : records.subList(1, records.size())) {
            if (f.applyAsDouble(r) < f.applyAsDouble(best)) {
                best = r;
            }
        }
        return best;
    }

    /**
     * @return the per-epoch table (mean ± standard deviation over the seeds) and the early-stopping table
     *         (accuracy at the minimum of each validation curve over epochs 1.., per seed, then its mean ±
     *         standard deviation, with the chosen epochs)
     */
    static String table(List<Run> runs, List<Arm> arms, int seeds, int epochs) {
        boolean spread = seeds > 1;
        int armWidth = Math.max(5, arms.stream().mapToInt(a -> a.label().length()).max().orElse(5));
        StringBuilder sb = new StringBuilder();
        if (spread) {
            sb.append(String.format(Locale.ROOT, "Validation, mean ± standard deviation over %d seeds:%n", seeds));
        }
        List<String> head = new ArrayList<>(List.of(pad("PLW", -armWidth), pad("epoch", 5)));
        for (Metric m : METRICS) {
            head.add(pad(m.title(), width(m, spread)));
        }
        sb.append(String.join(" ", head).stripTrailing()).append('\n');
        for (Arm arm : arms) {
            List<Run> rs = runsOf(runs, arm);
            for (int e = 0; e <= epochs; e++) {
                List<EpochRecord> at = atEpoch(rs, e);
                List<String> row = new ArrayList<>(List.of(pad(arm.label(), -armWidth), pad(Integer.toString(e), 5)));
                for (Metric m : METRICS) {
                    row.add(pad(cell(stat(at, m.value()), m.digits(), spread), width(m, spread)));
                }
                sb.append(String.join(" ", row)).append('\n');
            }
        }
        sb.append(String.format(Locale.ROOT, "%nAnswer accuracy (arg-max over the whole vocabulary) after early stopping "
                + "on each validation curve (epochs 1..%d)%s:%n", epochs,
                spread ? String.format(Locale.ROOT, ", mean ± standard deviation over %d seeds (epochs chosen per seed)",
                        seeds) : ""));
        int w = spread ? 15 + 4 * seeds : 17;
        sb.append(String.join(" ", pad("PLW", -armWidth), pad("at min full loss", w), pad("at min completion loss", w),
                pad("completion - full", spread ? 15 : 17), pad("best epoch", w), pad("last epoch", spread ? 15 : 8)))
                .append('\n');
        for (Arm arm : arms) {
            List<Run> rs = runsOf(runs, arm);
            List<EpochRecord> byFull = rs.stream().map(r -> argMin(r.records(), EpochRecord::fullLoss)).toList();
            List<EpochRecord> byCompletion = rs.stream()
                    .map(r -> argMin(r.records(), EpochRecord::completionLoss)).toList();
            List<EpochRecord> best = rs.stream().map(r -> argMin(r.records(), x -> -x.accuracy())).toList();
            double[] gain = new double[rs.size()];
            for (int i = 0; i < gain.length; i++) {
                gain[i] = byCompletion.get(i).accuracy() - byFull.get(i).accuracy();
            }
            sb.append(String.join(" ", pad(arm.label(), -armWidth), pad(chosen(byFull, spread), w),
                    pad(chosen(byCompletion, spread), w), pad(cell(meanStd(gain), 3, spread), spread ? 15 : 17),
                    pad(chosen(best, spread), w), pad(cell(stat(atEpoch(rs, epochs), EpochRecord::accuracy), 3, spread),
                            spread ? 15 : 8)))
                    .append('\n');
        }
        return sb.toString();
    }

    private static int width(Metric m, boolean spread) {
        int number = m.digits() + 3;
        return Math.max(m.title().length(), spread ? 2 * number + 3 : number);
    }

    /** Accuracy at the chosen epochs: "0.725 (epoch 5)", or with seeds "0.725 ± 0.030 (5,5,4)". */
    private static String chosen(List<EpochRecord> picked, boolean spread) {
        String accuracy = cell(stat(picked, EpochRecord::accuracy), 3, spread);
        String ep = picked.stream().map(r -> Integer.toString(r.epoch())).collect(Collectors.joining(","));
        return accuracy + (spread ? " (" + ep + ")" : " (epoch " + ep + ")");
    }

    /** Right-aligned in {@code width} characters; left-aligned for a negative width. */
    private static String pad(String s, int width) {
        return String.format(Locale.ROOT, "%" + width + "s", s);
    }

    /** One row per PLW, seed and epoch. */
    static void writeCsv(List<Run> runs, Path csv) throws IOException {
        StringBuilder sb = new StringBuilder("plw,seed,epoch,step_plw,train_objective");
        for (Metric m : METRICS) {
            sb.append(',').append(m.column());
        }
        sb.append(",seconds\n");
        for (Run run : runs) {
            for (EpochRecord r : run.records()) {
                sb.append(String.format(Locale.ROOT, "%s,%d,%d,%.6f,%s", r.arm(), r.seed(), r.epoch(), r.plw(),
                        Double.isNaN(r.trainObjective()) ? "" : String.format(Locale.ROOT, "%.6f", r.trainObjective())));
                for (Metric m : METRICS) {
                    sb.append(String.format(Locale.ROOT, ",%.6f", m.value().applyAsDouble(r)));
                }
                sb.append(String.format(Locale.ROOT, ",%.2f%n", r.seconds()));
            }
        }
        Files.writeString(csv, sb.toString(), StandardCharsets.UTF_8);
    }

    /** One row per PLW and epoch: the number of seeds, then each metric's mean and standard deviation. */
    static void writeSummaryCsv(List<Run> runs, List<Arm> arms, int epochs, Path csv) throws IOException {
        StringBuilder sb = new StringBuilder("plw,epoch,seeds");
        for (Metric m : METRICS) {
            sb.append(',').append(m.column()).append("_mean,").append(m.column()).append("_std");
        }
        sb.append('\n');
        for (Arm arm : arms) {
            List<Run> rs = runsOf(runs, arm);
            for (int e = 0; e <= epochs; e++) {
                List<EpochRecord> at = atEpoch(rs, e);
                sb.append(String.format(Locale.ROOT, "%s,%d,%d", arm.label(), e, at.size()));
                for (Metric m : METRICS) {
                    double[] ms = stat(at, m.value());
                    sb.append(String.format(Locale.ROOT, ",%.6f,%.6f", ms[0], ms[1]));
                }
                sb.append('\n');
            }
        }
        Files.writeString(csv, sb.toString(), StandardCharsets.UTF_8);
    }

    /** Four panels (accuracy, completion, prompt and full-sequence loss), the mean per PLW with a band of ± 1 sd. */
    static void chart(List<Run> runs, List<Arm> arms, int epochs, int seeds, Path png) throws IOException {
        List<Metric> panels = List.of(METRICS.get(4), METRICS.get(3), METRICS.get(2), METRICS.get(1));
        List<String> titles = List.of("answer accuracy", "completion loss", "prompt loss", "full-sequence loss");
        double[][][] mean = new double[arms.size()][panels.size()][epochs + 1];
        double[][][] sd = seeds > 1 ? new double[arms.size()][panels.size()][epochs + 1] : null;
        List<String> labels = new ArrayList<>();
        for (int k = 0; k < arms.size(); k++) {
            List<Run> rs = runsOf(runs, arms.get(k));
            labels.add("PLW " + arms.get(k).label());
            for (int p = 0; p < panels.size(); p++) {
                for (int e = 0; e <= epochs; e++) {
                    double[] ms = stat(atEpoch(rs, e), panels.get(p).value());
                    mean[k][p][e] = ms[0];
                    if (sd != null) {
                        sd[k][p][e] = ms[1];
                    }
                }
            }
        }
        int[] epochAxis = new int[epochs + 1];
        for (int e = 0; e <= epochs; e++) {
            epochAxis[e] = e;
        }
        // Losses on a log axis: at PLW 0 the prompt loss grows by orders of magnitude (nothing trains it).
        Charts.experimentCurves("PLW experiment" + (seeds > 1
                        ? String.format(Locale.ROOT, " (%d seeds, mean ± sd)", seeds) : " (validation)"),
                titles, new boolean[] {false, true, true, true}, labels, mean, sd, epochAxis, png);
    }
}
