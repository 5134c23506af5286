package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.plw4j.kernel.ElementType;

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
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
        assertTrue(x.getMessage().contains(part), x.getMessage());
    }
}
