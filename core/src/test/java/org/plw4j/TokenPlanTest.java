package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.plw4j.MaskFixtures.assertRejects;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link TokenPlan} on its own, without logits: which target, weight and measured role each logit
 * position gets (SPEC sections 2-3), the denominators and gradient scales of every normalisation (section
 * 4), and the reduction of given token losses into a result (section 5). Every expected value is
 * hand-computed from the small batches below and exact (tolerance 0): the weights are 1 and 0.25 and the
 * token losses dyadic, so every sum and quotient here is exact in double.
 */
class TokenPlanTest {
    private static final int I = 0;
    private static final int P = 1;
    private static final int C = 2;
    private static final int V = 10;

    /** Row 0: P P C C C I; row 1: I P P C I I; ids 0..9 except the ignore index -100 at (1, 3). */
    private static final int[][] ROLES = {{P, P, C, C, C, I}, {I, P, P, C, I, I}};
    private static final long[] IDS = {3, 1, 4, 1, 5, 9, 2, 6, 5, -100, 5, 8};

    private static TokenPlan plan(WeightedCausalLMLoss loss, boolean gradient) {
        return TokenPlan.build(IDS, PromptCompletionMask.ofRoles(ROLES), 2, 6, V, loss.settings(), gradient,
                new long[] {2, 6});
    }

    private static WeightedCausalLMLoss plw(double plw) {
        return WeightedCausalLMLoss.withDefaults().withPromptLossWeight(plw);
    }

    @Test
    void shiftTakesTheNextTokensTargetAndRole() {
        TokenPlan p = plan(plw(0.25), false);
        // position t predicts token t + 1; the last position of a row, IGNORE targets and the ignore index
        // (token (1, 3), the target of position (1, 2)) have no target
        assertArrayEquals(new int[] {1, 4, 1, 5, -1, -1, 6, 5, -1, -1, -1, -1}, p.targets);
        assertArrayEquals(new double[] {0.25, 1, 1, 1, 0, 0, 0.25, 0.25, 0, 0, 0, 0}, p.weights);
        assertArrayEquals(new byte[] {P, C, C, C, 0, 0, P, P, 0, 0, 0, 0}, p.measured);
    }

    @Test
    void withoutShiftEachPositionIsItsOwnTarget() {
        TokenPlan p = plan(plw(0.25).withShift(false), false);
        assertArrayEquals(new int[] {3, 1, 4, 1, 5, -1, -1, 6, 5, -1, -1, -1}, p.targets);
        assertArrayEquals(new double[] {0.25, 0.25, 1, 1, 1, 0, 0, 0.25, 0.25, 0, 0, 0}, p.weights);
    }

    @Test
    void promptTargetsAreMeasuredAndReportedAtPlwZero() {
        TokenPlan p = plan(plw(0.0), false);
        assertEquals(0.0, p.weights[0]);
        assertEquals(P, p.measured[0]);
        assertTrue(p.reported[0], "a prompt target at PLW 0 still has its per-token loss");
    }

    @Test
    void denominatorsAndGradientScalesOfEveryNormalisation() {
        // weights: row 0 = 0.25 + 1 + 1 + 1 = 3.25, row 1 = 0.5; total 3.75; 6 weighted tokens; 2 rows
        TokenPlan mean = plan(plw(0.25), true);
        assertEquals(3.75, mean.denominator);
        assertEquals(0.25 / 3.75, mean.gradScale[0]);
        assertEquals(1 / 3.75, mean.gradScale[1]);
        assertEquals(0.0, mean.gradScale[4]);

        TokenPlan sum = plan(plw(0.25).withNormalization(Normalization.SUM), true);
        assertEquals(1.0, sum.denominator);
        assertEquals(0.25, sum.gradScale[0]);

        TokenPlan global = plan(plw(0.25).withGlobalDenominator(8.0), true);
        assertEquals(8.0, global.denominator);
        assertEquals(0.25 / 8.0, global.gradScale[0]);

        TokenPlan count = plan(plw(0.25).withNormalization(Normalization.NONZERO_COUNT), true);
        assertEquals(6.0, count.denominator);
        assertEquals(1 / 6.0, count.gradScale[1]);

        TokenPlan seq = plan(plw(0.25).withNormalization(Normalization.SEQUENCE_MEAN), true);
        assertEquals(2.0, seq.denominator);
        assertEquals(2, seq.sequencesWithWeight);
        assertArrayEquals(new double[] {3.25, 0.5}, seq.sequenceWeight);
        assertEquals(1 / (3.25 * 2), seq.gradScale[1]);
        assertEquals(0.25 / (0.5 * 2), seq.gradScale[6]);
    }

    @Test
    void sumWithoutWeightHasDenominatorZero() {
        TokenPlan p = TokenPlan.build(IDS, PromptCompletionMask.ofRoles(new int[2][6]), 2, 6, V,
                plw(0.25).withNormalization(Normalization.SUM).settings(), true, new long[] {2, 6});
        assertEquals(0.0, p.denominator);
        assertArrayEquals(new double[12], p.gradScale);
    }

    @Test
    void reduceSumsTheTokenLossesIntoAResult() {
        TokenPlan p = plan(plw(0.25), false);
        double[] tokenLoss = {2.0, 0.5, 1.5, 4.0, 99, 99, 1.0, 3.0, 99, 99, 99, 99}; // 99: no target, unread
        boolean[] correct = {true, false, true, true, true, true, false, false, true, true, true, true};
        LossResult r = p.reduce(tokenLoss, correct, null, "test");
        // weighted: 0.25 * 2 + 0.5 + 1.5 + 4 + 0.25 * (1 + 3) = 7.5; weight 3.75
        assertEquals(7.5, r.weightedLossSum());
        assertEquals(3.75, r.weightSum());
        assertEquals(2.0, r.loss());
        assertEquals(3, r.promptTokens());
        assertEquals(3, r.completionTokens());
        assertEquals(2.0, r.promptLoss());                  // (2 + 1 + 3) / 3
        assertEquals(2.0, r.completionLoss());              // (0.5 + 1.5 + 4) / 3
        assertEquals(1.0 / 3.0, r.promptAccuracy());        // position 0 only
        assertEquals(2.0 / 3.0, r.completionAccuracy());    // positions 2 and 3
        assertArrayEquals(new double[] {2.0, 0.5, 1.5, 4.0, 0, 0, 1.0, 3.0, 0, 0, 0, 0}, r.perTokenLossArray());
        assertEquals("test", r.kernelName());
    }

    @Test
    void explicitWeightsWithoutRolesAreReportedWhereWeighted() {
        double[][] w = {{0, 0.5, 0, 2, 0, 0}, {0, 0, 0, 0, 0, 0}};
        PromptCompletionMask mask = PromptCompletionMask.ofWeights(Nd4j.createFromArray(w));
        TokenPlan p = TokenPlan.build(IDS, mask, 2, 6, V, LossSettings.DEFAULTS, false, new long[] {2, 6});
        // weight of predicting token t + 1: position 0 gets 0.5 (token 1), position 2 gets 2 (token 3)
        assertArrayEquals(new double[] {0.5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, p.weights);
        assertTrue(p.reported[0] && p.reported[2] && !p.reported[1]);
        assertArrayEquals(new byte[12], p.measured);
    }

    @Test
    void rejectsAnOutOfRangeTargetOnlyWhereItCarriesARole() {
        long[] ids = IDS.clone();
        ids[5] = 42;   // the IGNORE token (0, 5): padding may hold any id
        TokenPlan.build(ids, PromptCompletionMask.ofRoles(ROLES), 2, 6, V, plw(0.25).settings(), false, new long[] {2, 6});
        ids[4] = 10;   // the COMPLETION token (0, 4), the target of position (0, 3)
        assertRejects(() -> TokenPlan.build(ids, PromptCompletionMask.ofRoles(ROLES), 2, 6, V, plw(0.25).settings(), false,
                new long[] {2, 6}), "[0, 10)", "[0, 4]", "COMPLETION", "was 10");
    }
}
