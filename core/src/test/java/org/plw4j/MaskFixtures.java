package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.function.Executable;

/** Shared helpers of the mask tests: roles written as strings of I (IGNORE), P (PROMPT), C (COMPLETION). */
final class MaskFixtures {
    private MaskFixtures() {
    }

    /** @return one string per row, e.g. {@code "IPPCC"} */
    static String[] render(PromptCompletionMask mask) {
        String[] out = new String[mask.batchSize()];
        for (int b = 0; b < out.length; b++) {
            StringBuilder sb = new StringBuilder();
            for (int t = 0; t < mask.sequenceLength(); t++) {
                sb.append("IPC".charAt(mask.role(b, t).code()));
            }
            out[b] = sb.toString();
        }
        return out;
    }

    /** Asserts the roles row by row, and that {@code roles()} and {@code rolesAsInts()} agree with them. */
    static void assertRoles(PromptCompletionMask mask, String... rows) {
        assertArrayEquals(rows, render(mask));
        int[][] ints = mask.rolesAsInts();
        for (int b = 0; b < rows.length; b++) {
            for (int t = 0; t < rows[b].length(); t++) {
                if (ints[b][t] != "IPC".indexOf(rows[b].charAt(t))) {
                    throw new AssertionError("rolesAsInts disagrees at " + b + ", " + t);
                }
            }
        }
    }

    /** Asserts an IllegalArgumentException whose message contains every fragment. */
    static IllegalArgumentException assertRejects(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        }
        return e;
    }
}
