package org.plw4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@code PlwExperiment --tiny} end to end (a few seconds) and checks its outputs: the printed
 * table, the CSV (one row per PLW and epoch), the PNG, and the definitions behind the columns. The
 * expected relations come from SPEC sections 4 and 5: at PLW 1 the objective is the full-sequence loss,
 * at PLW 0 it is the completion loss; and every run starts from the same weights, so the epoch-0
 * metrics that do not depend on the PLW are equal across runs (compared to 1e-6, the CSV's precision).
 */
class PlwExperimentTest {

    @TempDir
    Path tmp;

    @Test
    void tinyRunWritesTableCsvAndChart() throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PlwExperiment.run(new PrintWriter(out), new PrintWriter(err),
                "--tiny", "--no-progress", "--out", tmp.toString());
        assertEquals(0, code, err.toString());
        String table = out.toString();
        assertTrue(table.contains("PLW   epoch"), table);
        assertTrue(table.contains("at min full loss"), table);
        assertTrue(table.contains("PLW 0 epoch 2"), "per-epoch progress lines: " + table);

        RgReportTest.assertPng(tmp.resolve("plw-experiment.png"));
        assertTrue(Files.size(tmp.resolve("plw-experiment.txt")) > 0);
        List<String> lines = Files.readAllLines(tmp.resolve("plw-experiment.csv"), StandardCharsets.UTF_8);
        assertEquals("plw,epoch,train_objective,val_objective,val_full_loss,val_prompt_loss,val_completion_loss,"
                + "val_answer_accuracy,val_answer_accuracy_abcd,seconds", lines.get(0));
        assertEquals(1 + 4 * 3, lines.size(), "4 PLWs x (epoch 0 + 2 epochs)");

        List<double[]> epoch0 = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            double plw = Double.parseDouble(f[0]);
            double objective = Double.parseDouble(f[3]);
            double full = Double.parseDouble(f[4]);
            double completion = Double.parseDouble(f[6]);
            double accuracy = Double.parseDouble(f[7]);
            assertTrue(accuracy >= 0 && accuracy <= 1, line);
            assertTrue(Double.isFinite(full) && full > 0, line);
            if (plw == 1.0) {
                assertEquals(full, objective, 1e-6, "PLW 1 objective = full-sequence loss: " + line);
            }
            if (plw == 0.0) {
                assertEquals(completion, objective, 1e-6, "PLW 0 objective = completion loss: " + line);
            }
            if (f[1].equals("0")) {
                assertEquals("", f[2], "no training objective before training");
                epoch0.add(new double[] {full, Double.parseDouble(f[5]), completion, accuracy});
            }
        }
        assertEquals(4, epoch0.size());
        for (double[] e : epoch0) {
            for (int k = 0; k < e.length; k++) {
                assertEquals(epoch0.get(0)[k], e[k], 1e-6, "same initial weights for every PLW");
            }
        }
    }

    @Test
    void badOptionsAreRejected() {
        StringWriter err = new StringWriter();
        int code = PlwExperiment.run(new PrintWriter(new StringWriter()), new PrintWriter(err),
                "--tiny", "--plw", "1.5", "--out", tmp.toString());
        assertEquals(2, code);
        assertTrue(err.toString().startsWith("error: --plw values must be in [0, 1], was 1.5"), err.toString());
    }
}
