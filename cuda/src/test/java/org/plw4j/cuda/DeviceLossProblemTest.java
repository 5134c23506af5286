package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.plw4j.kernel.ElementType;
import org.plw4j.kernel.LossExtensions;

/** Validation of {@link DeviceLossProblem}: each broken rule is an IllegalArgumentException naming it. */
class DeviceLossProblemTest {
    private static DeviceLossProblem.Builder valid() {
        return DeviceLossProblem.builder().shape(1, 2, 10).logits(4096, ElementType.FLOAT32, 20, 10)
                .targets(new int[] {3, -1});
    }

    @Test
    void validProblemsBuild() {
        assertTrue(valid().build().positions() == 2);
        assertTrue(valid().gradient(new double[] {1, 0}, 4096, ElementType.FLOAT32, 20, 10).build().wantsGradient());
    }

    @Test
    void brokenRulesAreNamed() {
        assertMessage(() -> valid().targets(new int[] {3}).build(), "targets.length");
        assertMessage(() -> valid().targets(new int[] {3, 10}).build(), "targets[1] must be < vocab = 10");
        assertMessage(() -> valid().logits(4096, ElementType.FLOAT64, 20, 10).build(), "logits type");
        assertMessage(() -> valid().logits(0, ElementType.FLOAT32, 20, 10).build(), "logits must be a device address");
        assertMessage(() -> valid().gradient(new double[1], 8192, ElementType.FLOAT32, 20, 10).build(),
                "gradScale.length");
        assertMessage(() -> valid().logits(4096, ElementType.BFLOAT16, 20, 10)
                .gradient(new double[2], 8192, ElementType.FLOAT16, 20, 10).build(), "gradient type");
        assertMessage(() -> valid().gradient(new double[2], 4096, ElementType.FLOAT32, 20, 11).build(), "in-place");
        assertMessage(() -> valid().shape(-1, 2, 10).build(), "non-negative");
        assertMessage(() -> valid().extensions(new LossExtensions(1.0, 0, 0)).build(),
                "labelSmoothing must be in [0, 1), was 1.0");
        assertMessage(() -> valid().extensions(new LossExtensions(0, Double.NaN, 0)).build(), "zLoss must be finite");
        assertMessage(() -> valid().extensions(new LossExtensions(0, 0, -2)).build(), "softCap must be finite");
        assertMessage(() -> valid().extensions(null).build(), "extensions");
        assertMessage(() -> valid().entropyOut(new double[1]).build(), "entropyOut must hold batch*seqLen = 2");
        assertMessage(() -> valid().argMaxOut(new int[1]).build(), "argMaxOut must hold batch*seqLen = 2");
    }

    private static void assertMessage(Executable e, String part) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(part), x.getMessage());
    }
}
