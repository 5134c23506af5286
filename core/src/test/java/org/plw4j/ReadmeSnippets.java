package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The one README-snippet checker of the core tests: each {@code Readme*SnippetTest} runs the code between
 * its {@code // README-BEGIN} and {@code // README-END} lines and asks this class whether README.md shows
 * exactly that code (whitespace-normalised) in the Java block after the test's marker.
 */
public final class ReadmeSnippets {
    private ReadmeSnippets() {
    }

    /**
     * @param marker e.g. {@code <!-- snippet:dl4j -->}
     * @param testSource path of the test source below {@code core/}, e.g. {@code src/test/java/org/plw4j/dl4j/X.java}
     * @throws IOException if a file cannot be read
     */
    public static void assertReadmeBlockIsTheCode(String marker, String testSource) throws IOException {
        Path root = Path.of("").toAbsolutePath();
        Path readme = root.resolve("README.md");
        if (!Files.exists(readme)) {
            readme = root.getParent().resolve("README.md");
        }
        assertTrue(Files.exists(readme), "README.md not found in " + root + " or its parent");
        String md = Files.readString(readme, StandardCharsets.UTF_8);
        int mark = md.indexOf(marker);
        assertTrue(mark >= 0, "README has no " + marker);
        int start = md.indexOf("```java", mark) + "```java".length();
        int end = md.indexOf("```", start);
        Path src = root.resolve(testSource);
        if (!Files.exists(src)) {
            src = root.resolve("core").resolve(testSource);
        }
        String code = Files.readString(src, StandardCharsets.UTF_8);
        int b = code.indexOf("// README-BEGIN") + "// README-BEGIN".length();
        int e = code.indexOf("// README-END");
        assertEquals(normalise(code.substring(b, e)), normalise(md.substring(start, end)));
    }

    private static String normalise(String s) {
        return s.replaceAll("\\s+", " ").trim();
    }

    /**
     * The network's score of the README batch is plw4j's weighted mean computed the Hugging Face way (shift
     * on, {@code [B, N, V]} logits whose last position has no target): the network's NCW output padded with
     * one unused position. Tolerance 1e-6 relative (float logits, double accumulation in both, different
     * summation order).
     *
     * @param net the trained network (NCW output, identity activation)
     * @param batch the batch built from {@code inputIds} and {@code mask} by {@code Dl4jLabels}
     * @param inputIds token ids {@code [B, N]}
     * @param mask roles of those tokens
     * @param plw the prompt loss weight of the network's loss
     */
    public static void assertScoreIsTheWeightedMean(MultiLayerNetwork net, DataSet batch, INDArray inputIds,
            PromptCompletionMask mask, double plw) {
        INDArray out = net.output(batch.getFeatures());                      // [B, V, N-1]
        long b = out.size(0);
        long v = out.size(1);
        INDArray padded = Nd4j.concat(2, out, Nd4j.zeros(out.dataType(), b, v, 1)); // [B, V, N]
        double expected = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw)
                .withLayout(LogitsLayout.NCW).compute(padded, inputIds, mask).loss();
        assertEquals(expected, net.score(batch), 1e-6 * expected);
    }
}
