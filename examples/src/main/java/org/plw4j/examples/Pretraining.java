package org.plw4j.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Properties;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The common starting point of the experiment's fine-tuning runs: the weights of a network trained with
 * the plain next-token loss (PLW 1) on passages and questions without their answers, kept in a file
 * whose name is a hash of every setting that shapes them, so that a later run with the same settings
 * reuses them instead of pretraining again. Beside the weights, a properties file records the settings
 * and what the pretraining cost.
 *
 * @param weights the flattened parameters of the pretrained network
 * @param file the weights' file
 * @param seconds the wall time the pretraining took when it ran
 * @param steps its updates
 * @param finalObjective its mean training loss over the last epoch
 * @param reused whether the weights came from an earlier run's file
 */
record Pretraining(INDArray weights, Path file, double seconds, long steps, double finalObjective, boolean reused) {

    /**
     * @param dir the output folder
     * @param key every setting that shapes the pretrained weights, as text
     * @return the weights' file for these settings: {@code plw-pretrained-<hash>.zip}
     */
    static Path fileFor(Path dir, String key) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return dir.resolve("plw-pretrained-" + HexFormat.of().formatHex(h, 0, 6) + ".zip");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    private static Path infoFile(Path weights) {
        String name = weights.getFileName().toString();
        return weights.resolveSibling(name.substring(0, name.length() - ".zip".length()) + ".properties");
    }

    /**
     * @param file the weights' file
     * @param key the settings they must have been made with
     * @return the saved pretraining, or null if there is none for these settings (no file, or a file
     *         made with other settings: a hash collision, or a file from an older version)
     * @throws IOException if the files exist but cannot be read
     */
    static Pretraining load(Path file, String key) throws IOException {
        Path info = infoFile(file);
        if (!Files.isRegularFile(file) || !Files.isRegularFile(info)) {
            return null;
        }
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(info, StandardCharsets.UTF_8)) {
            p.load(in);
        }
        if (!key.equals(p.getProperty("settings"))) {
            return null;
        }
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(file.toFile(), false);
        return new Pretraining(net.params().dup(), file, Double.parseDouble(p.getProperty("seconds")),
                Long.parseLong(p.getProperty("steps")), Double.parseDouble(p.getProperty("finalObjective")), true);
    }

    /**
     * Saves a pretrained network (without its updater state) and its record, each written to a temporary
     * file first and moved into place, so that an interrupted run leaves no half-written file behind.
     *
     * @param net the pretrained network
     * @param file where its weights go
     * @param key its settings
     * @param seconds what the pretraining took
     * @param steps its updates
     * @param finalObjective its mean training loss over the last epoch
     * @return the pretraining
     * @throws IOException if a file cannot be written
     */
    static Pretraining save(MultiLayerNetwork net, Path file, String key, double seconds, long steps,
            double finalObjective) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        ModelSerializer.writeModel(net, tmp.toFile(), false);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Properties p = new Properties();
        p.setProperty("settings", key);
        p.setProperty("seconds", String.format(Locale.ROOT, "%.1f", seconds));
        p.setProperty("steps", Long.toString(steps));
        p.setProperty("finalObjective", String.format(Locale.ROOT, "%.6f", finalObjective));
        Path info = infoFile(file);
        Path infoTmp = info.resolveSibling(info.getFileName() + ".tmp");
        try (var w = Files.newBufferedWriter(infoTmp, StandardCharsets.UTF_8)) {
            p.store(w, "plw4j PlwExperiment pretraining");
        }
        Files.move(infoTmp, info, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Pretraining(net.params().dup(), file, seconds, steps, finalObjective, false);
    }
}
