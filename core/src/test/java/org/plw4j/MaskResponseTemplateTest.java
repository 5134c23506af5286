package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.plw4j.MaskFixtures.assertRejects;
import static org.plw4j.MaskFixtures.assertRoles;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link PromptCompletionMask#ofResponseTemplate} (SPEC section 8: after each response template up to the
 * next instruction template COMPLETION, all other tokens, the templates included, PROMPT; no template in a
 * row: the row IGNORE and reported). Expected roles worked out by hand, position by position.
 */
class MaskResponseTemplateTest {
    private static final int[] RESPONSE = {7};
    private static final int[] INSTRUCTION = {5};

    private static INDArray ids(int[]... rows) {
        return Nd4j.createFromArray(rows);
    }

    @Test
    void multiTurnWithPaddingMask() {
        INDArray in = ids(new int[] {5, 11, 12, 7, 21, 22, 5, 13, 7, 23, 0, 0});
        INDArray att = ids(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
        PromptCompletionMask m = PromptCompletionMask.ofResponseTemplate(in, att, RESPONSE, INSTRUCTION);
        assertRoles(m, "PPPPCCPPPCII");
        assertArrayEquals(new int[0], m.reportedRows());
    }

    @Test
    void leftPaddingMultiTokenTemplatesWithSharedPrefix() {
        // "### Answer:" = {835, 673}, "### Question:" = {835, 894}; pads (id 0) on the left, attention 0
        int[] response = {835, 673};
        int[] instruction = {835, 894};
        INDArray in = ids(new int[] {0, 0, 835, 894, 40, 41, 835, 673, 50, 835, 894, 42, 835, 673, 51, 52});
        INDArray att = ids(new int[] {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, att, response, instruction), "IIPPPPPPCPPPPPCC");
    }

    @Test
    void withoutInstructionTemplateEverythingAfterTheFirstResponseIsCompletion() {
        // later response templates stay PROMPT (template tokens are never trained)
        INDArray in = ids(new int[] {1, 2, 7, 3, 4, 7, 5});
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, RESPONSE, null), "PPPCCPC");
    }

    @Test
    void withoutAttentionMaskPaddingIsRead() {
        // documented: padding after the answer counts as completion unless the attention mask is given
        INDArray in = ids(new int[] {1, 7, 3, 0});
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, RESPONSE, INSTRUCTION), "PPCC");
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, ids(new int[] {1, 1, 1, 0}), RESPONSE, INSTRUCTION),
                "PPCI");
    }

    @Test
    void matchesDoNotOverlap() {
        // template {7, 7} in 7 7 7 8: matched at 0, the scan resumes at 2
        INDArray in = ids(new int[] {7, 7, 7, 8});
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, new int[] {7, 7}, null), "PPCC");
    }

    @Test
    void longerTemplateWinsWhereBothMatch() {
        // response {5}, instruction {5, 6}: at 0 both match and the instruction is longer
        INDArray in = ids(new int[] {5, 6, 1, 5, 2});
        assertRoles(PromptCompletionMask.ofResponseTemplate(in, new int[] {5}, new int[] {5, 6}), "PPPPC");
    }

    @Test
    void templateTouchingPaddingDoesNotMatch() {
        // row 1: the response template {7, 8} would match only over the unattended position 3
        INDArray in = ids(new int[] {1, 7, 8, 3, 4, 2}, new int[] {1, 2, 7, 8, 2, 2});
        INDArray att = ids(new int[] {1, 1, 1, 0, 1, 1}, new int[] {1, 1, 1, 0, 1, 1});
        PromptCompletionMask m = PromptCompletionMask.ofResponseTemplate(in, att, new int[] {7, 8}, null);
        assertRoles(m, "PPPICC", "IIIIII");
        assertArrayEquals(new int[] {1}, m.reportedRows());
    }

    @Test
    void rowWithoutTemplateIsIgnoredReportedAndLogged() {
        Logger jul = Logger.getLogger(PromptCompletionMask.class.getName());
        List<LogRecord> records = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        jul.addHandler(h);
        try {
            INDArray in = ids(new int[] {1, 7, 2}, new int[] {1, 2, 3}, new int[] {7, 2, 2}, new int[] {5, 5, 5});
            PromptCompletionMask m = PromptCompletionMask.ofResponseTemplate(in, RESPONSE, INSTRUCTION);
            assertRoles(m, "PPC", "III", "PCC", "III");
            assertArrayEquals(new int[] {1, 3}, m.reportedRows());
        } finally {
            jul.removeHandler(h);
        }
        assertEquals(1, records.size(), "one log line per call");
        String msg = records.get(0).getMessage();
        assertTrue(msg.contains("2 of 4 rows") && msg.contains("[1, 3]"), msg);
    }

    @Test
    void templateAtTheEndLeavesAnAllPromptRow() {
        assertRoles(PromptCompletionMask.ofResponseTemplate(ids(new int[] {1, 2, 7}), RESPONSE, null), "PPP");
    }

    @Test
    void rejectsEmptyResponseTemplate() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(ids(new int[] {1}), new int[0], null),
                "responseTemplate", "empty");
    }

    @Test
    void rejectsEmptyInstructionTemplate() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(ids(new int[] {1}), RESPONSE, new int[0]),
                "instructionTemplate", "empty");
    }

    @Test
    void rejectsEqualTemplates() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(ids(new int[] {1}), new int[] {3, 4},
                new int[] {3, 4}), "must differ", "[3, 4]");
    }

    @Test
    void rejectsAttentionShapeMismatch() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(ids(new int[] {1, 7}), ids(new int[] {1, 1, 1}),
                RESPONSE, null), "same shape", "[1, 2]", "[1, 3]");
    }

    @Test
    void rejectsWrongRank() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(Nd4j.createFromArray(1, 7), RESPONSE, null),
                "inputIds", "rank 2");
    }

    @Test
    void rejectsNonIntegralIds() {
        assertRejects(() -> PromptCompletionMask.ofResponseTemplate(Nd4j.createFromArray(new float[][] {{1f, 7.5f}}),
                RESPONSE, null), "inputIds", "integral", "7.5");
    }
}
