package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runs {@code PlwExperiment --tiny} end to end (seconds) and checks its outputs: the printed tables, the
 * per-seed CSV (one row per PLW, seed and epoch), the summary CSV, the PNG, the pretrained weights' file,
 * and the definitions behind the columns. The expected relations come from SPEC sections 4, 5 and 11: at
 * PLW 1 the objective is the full-sequence loss, at PLW 0 the completion loss, and a schedule's PLW is
 * {@code schedule.at(step)}; every run starts from the same weights, so the epoch-0 metrics that do not
 * depend on the PLW are equal across runs. Values are compared to 1e-6, the CSV's precision.
 */
class PlwExperimentTest {

    private static final String HEADER = "plw,seed,epoch,step_plw,train_objective,val_objective,val_full_loss,"
            + "val_prompt_loss,val_completion_loss,val_answer_accuracy,val_answer_accuracy_abcd,seconds";

    @TempDir
    Path tmp;

    private String run(int expectedCode, StringWriter err, String... args) {
        StringWriter out = new StringWriter();
        int code = PlwExperiment.run(new PrintWriter(out), new PrintWriter(err), args);
        assertEquals(expectedCode, code, err.toString());
        return out.toString();
    }

    @Test
    void defaultSweepFromRandomWeights() throws IOException {
        String table = run(0, new StringWriter(), "--tiny", "--no-progress", "--out", tmp.toString());
        assertTrue(table.contains("PLW   epoch"), table);
        assertTrue(table.contains("at min full loss"), table);
        assertTrue(table.contains("PLW 0 seed 0 epoch 2"), "per-epoch progress lines: " + table);
        assertTrue(table.contains("from random weights"), table);

        RgReportTest.assertPng(tmp.resolve("plw-experiment.png"));
        String txt = Files.readString(tmp.resolve("plw-experiment.txt"), StandardCharsets.UTF_8);
        assertTrue(txt.startsWith("PLW experiment: 64 train / 32 validation examples"), "settings first: " + txt);
        assertTrue(txt.contains("at min completion loss"), txt);
        List<String> lines = Files.readAllLines(tmp.resolve("plw-experiment.csv"), StandardCharsets.UTF_8);
        assertEquals(HEADER, lines.get(0));
        assertEquals(1 + 4 * 3, lines.size(), "4 PLWs x 1 seed x (epoch 0 + 2 epochs)");
        checkRows(lines, 4);
    }

    /** Pretraining, two seeds and a schedule; a second run reuses the weights and repeats every number. */
    @Test
    void pretrainedSeedsAndScheduleRepeat() throws IOException {
        int threads = Nd4j.getEnvironment().maxThreads();
        int masterThreads = Nd4j.getEnvironment().maxMasterThreads();
        String[] args = {"--tiny", "--pretrain", "--seeds", "2", "--plw", "1,0,linear:1:0", "--no-progress",
            "--out", tmp.toString()};
        String first = run(0, new StringWriter(), args);
        assertEquals(threads, Nd4j.getEnvironment().maxThreads(), "ND4J's thread count restored");
        assertEquals(masterThreads, Nd4j.getEnvironment().maxMasterThreads(), "ND4J's master threads restored");
        assertTrue(first.contains("pretraining: wrote "), first);
        assertTrue(first.contains("mean ± standard deviation over 2 seeds"), first);
        assertTrue(first.contains("linear:1:0:8"), "the schedule's length filled in (2 epochs x 4 steps): " + first);
        List<Path> weights;
        try (Stream<Path> files = Files.list(tmp)) {
            weights = files.filter(f -> f.getFileName().toString().matches("plw-pretrained-[0-9a-f]{12}\\.zip")).toList();
        }
        assertEquals(1, weights.size(), "one pretrained weights file");

        List<String> lines = Files.readAllLines(tmp.resolve("plw-experiment.csv"), StandardCharsets.UTF_8);
        assertEquals(HEADER, lines.get(0));
        assertEquals(1 + 3 * 2 * 3, lines.size(), "3 PLWs x 2 seeds x (epoch 0 + 2 epochs)");
        checkRows(lines, 6);
        Map<String, String[]> byRun = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            byRun.put(f[0] + "/" + f[1] + "/" + f[2], f);
            if (f[0].startsWith("linear")) {
                // linear:1:0:8 after 4 steps per epoch: PLW 1 - steps / 8
                assertEquals(1 - Integer.parseInt(f[2]) * 4 / 8.0, Double.parseDouble(f[3]), 1e-6, line);
            }
        }
        assertNotEquals(byRun.get("0/0/1")[8], byRun.get("0/1/1")[8], "two seeds, two batch orders");
        List<String> summary = Files.readAllLines(tmp.resolve("plw-experiment-summary.csv"), StandardCharsets.UTF_8);
        assertTrue(summary.get(0).startsWith("plw,epoch,seeds,val_objective_mean,val_objective_std,"), summary.get(0));
        assertEquals(1 + 3 * 3, summary.size(), "3 PLWs x (epoch 0 + 2 epochs)");
        for (String line : summary.subList(1, summary.size())) {
            String[] f = line.split(",", -1);
            assertEquals("2", f[2], line);
            if (f[1].equals("0")) {
                assertEquals(0, Double.parseDouble(f[6]), 1e-6, "one start, no spread at epoch 0: " + line);
            }
        }
        RgReportTest.assertPng(tmp.resolve("plw-experiment.png"));

        String second = run(0, new StringWriter(), args);
        assertTrue(second.contains("pretraining: reused " + weights.get(0)), second);
        List<String> again = Files.readAllLines(tmp.resolve("plw-experiment.csv"), StandardCharsets.UTF_8);
        assertEquals(withoutSeconds(lines), withoutSeconds(again), "same seeds, same numbers");
    }

    /** Checks each row's definitions, and that every run starts from the same weights. */
    private static void checkRows(List<String> lines, int runs) {
        List<double[]> epoch0 = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            double plw = Double.parseDouble(f[3]);
            double objective = Double.parseDouble(f[5]);
            double full = Double.parseDouble(f[6]);
            double completion = Double.parseDouble(f[8]);
            double accuracy = Double.parseDouble(f[9]);
            assertTrue(accuracy >= 0 && accuracy <= 1, line);
            assertTrue(Double.isFinite(full) && full > 0, line);
            if (plw == 1.0) {
                assertEquals(full, objective, 1e-6, "PLW 1 objective = full-sequence loss: " + line);
            }
            if (plw == 0.0) {
                assertEquals(completion, objective, 1e-6, "PLW 0 objective = completion loss: " + line);
            }
            if (f[2].equals("0")) {
                assertEquals("", f[4], "no training objective before training");
                epoch0.add(new double[] {full, Double.parseDouble(f[7]), completion, accuracy});
            }
        }
        assertEquals(runs, epoch0.size());
        for (double[] e : epoch0) {
            for (int k = 0; k < e.length; k++) {
                assertEquals(epoch0.get(0)[k], e[k], 1e-6, "same initial weights for every run");
            }
        }
    }

    private static List<String> withoutSeconds(List<String> lines) {
        return lines.stream().map(l -> l.substring(0, l.lastIndexOf(','))).toList();
    }

    @Test
    void badOptionsAreRejected() {
        String[][] cases = {
            {"--plw", "1.5"}, {"--seeds", "0"}, {"--plw", "1,wavy:1:0"}, {"--plw", "1,abc"}, {"--plw", "linear:2:0"},
            {"--plw", "0,0"},
        };
        String[] expected = {
            "error: --plw values must be in [0, 1], was 1.5",
            "error: --seeds must be > 0, was 0",
            "error: --plw: schedule 'wavy:1:0': unknown shape 'wavy'",
            "error: --plw values must be numbers in [0, 1] or schedules (e.g. linear:1:0), was 'abc'",
            "error: --plw: ",
            "error: --plw lists 0 twice",
        };
        for (int i = 0; i < cases.length; i++) {
            StringWriter err = new StringWriter();
            List<String> args = new ArrayList<>(List.of("--tiny", "--out", tmp.resolve("bad").toString()));
            args.addAll(List.of(cases[i]));
            run(2, err, args.toArray(String[]::new));
            String e = err.toString();
            assertTrue(e.startsWith(expected[i]), e);
            assertEquals(1, e.strip().lines().count(), "one error line: " + e);
        }
        assertTrue(!Files.exists(tmp.resolve("bad")), "nothing written for bad options");
    }
}
