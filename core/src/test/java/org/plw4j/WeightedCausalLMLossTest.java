package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.plw4j.MaskFixtures.assertRejects;

import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The configuration of {@link WeightedCausalLMLoss}: its defaults, that every {@code withX} changes its
 * own setting and nothing else (the original stays as it was), and that {@code equals}, {@code hashCode}
 * and {@code toString} cover every setting, the three extensions included. What the loss computes is
 * tested in {@link LossContractTest}, {@link LossGoldenTest} and {@link ExtensionsTest}; bad values in
 * {@link BadInputTest} and {@link ExtensionsTest}. Every expected value here is a setting given in the
 * test itself (exact).
 */
class WeightedCausalLMLossTest {
    private static final WeightedCausalLMLoss DEFAULTS = WeightedCausalLMLoss.withDefaults();

    /** One change per setting, each to a value other than its default. */
    private static final List<UnaryOperator<WeightedCausalLMLoss>> CHANGES = List.of(
            l -> l.withPromptLossWeight(0.25),
            l -> l.withNormalization(Normalization.SUM),
            l -> l.withNormalization(Normalization.SEQUENCE_MEAN),
            l -> l.withNormalization(Normalization.NONZERO_COUNT),
            l -> l.withGlobalDenominator(512.0),
            l -> l.withGlobalDenominator(1024.0),
            l -> l.withLayout(LogitsLayout.NCW),
            l -> l.withShift(false),
            l -> l.withIgnoreIndex(7),
            l -> l.withKernel(ReferenceKernel.INSTANCE),
            l -> l.withLabelSmoothing(0.1),
            l -> l.withZLoss(1e-4),
            l -> l.withLogitSoftCap(30.0));

    @Test
    void defaults() {
        assertEquals(1.0, DEFAULTS.promptLossWeight());
        assertEquals(Normalization.WEIGHTED_MEAN, DEFAULTS.normalization());
        assertTrue(Double.isNaN(DEFAULTS.globalDenominator()));
        assertEquals(LogitsLayout.NWC, DEFAULTS.layout());
        assertTrue(DEFAULTS.shift());
        assertEquals(-100, DEFAULTS.ignoreIndex());
        assertEquals(0.0, DEFAULTS.labelSmoothing());
        assertEquals(0.0, DEFAULTS.zLoss());
        assertEquals(0.0, DEFAULTS.logitSoftCap());
        assertSame(DEFAULTS, WeightedCausalLMLoss.withDefaults());
    }

    @Test
    void eachWithChangesOnlyItsOwnSetting() {
        WeightedCausalLMLoss all = DEFAULTS.withPromptLossWeight(0.1).withGlobalDenominator(64.0)
                .withLayout(LogitsLayout.NCW).withShift(false).withIgnoreIndex(3).withKernel(ReferenceKernel.INSTANCE)
                .withLabelSmoothing(0.2).withZLoss(1e-3).withLogitSoftCap(15.0);
        assertEquals(0.1, all.promptLossWeight());
        assertEquals(Normalization.GLOBAL_DENOMINATOR, all.normalization());
        assertEquals(64.0, all.globalDenominator());
        assertEquals(LogitsLayout.NCW, all.layout());
        assertEquals(false, all.shift());
        assertEquals(3, all.ignoreIndex());
        assertSame(ReferenceKernel.INSTANCE, all.kernel());
        assertEquals(0.2, all.labelSmoothing());
        assertEquals(1e-3, all.zLoss());
        assertEquals(15.0, all.logitSoftCap());
        // a later with of one setting keeps every other one
        WeightedCausalLMLoss changed = all.withZLoss(0.0);
        assertEquals(0.0, changed.zLoss());
        assertEquals(0.2, changed.labelSmoothing());
        assertEquals(15.0, changed.logitSoftCap());
        assertEquals(64.0, changed.globalDenominator());
        assertEquals(3, changed.ignoreIndex());
        assertEquals(1e-3, all.zLoss(), "the original is immutable");
    }

    @Test
    void leavingGlobalDenominatorDropsItsValue() {
        WeightedCausalLMLoss global = DEFAULTS.withGlobalDenominator(10.0);
        WeightedCausalLMLoss sum = global.withNormalization(Normalization.SUM);
        assertEquals(Normalization.SUM, sum.normalization());
        assertTrue(Double.isNaN(sum.globalDenominator()));
        assertEquals(DEFAULTS.withNormalization(Normalization.SUM), sum);
        assertSame(global, global.withNormalization(Normalization.GLOBAL_DENOMINATOR), "already in that mode");
        assertRejects(() -> DEFAULTS.withNormalization(Normalization.GLOBAL_DENOMINATOR),
                "GLOBAL_DENOMINATOR", "withGlobalDenominator");
    }

    @Test
    void equalsAndHashCodeCoverEverySetting() {
        for (int i = 0; i < CHANGES.size(); i++) {
            WeightedCausalLMLoss a = CHANGES.get(i).apply(DEFAULTS);
            WeightedCausalLMLoss again = CHANGES.get(i).apply(DEFAULTS);
            assertEquals(a, again, "change " + i);
            assertEquals(a.hashCode(), again.hashCode(), "change " + i);
            assertNotEquals(DEFAULTS, a, "change " + i + " must differ from the defaults");
            for (int j = i + 1; j < CHANGES.size(); j++) {
                assertNotEquals(a, CHANGES.get(j).apply(DEFAULTS), "changes " + i + " and " + j);
            }
        }
        // the order of the withs does not matter
        WeightedCausalLMLoss x = DEFAULTS.withLabelSmoothing(0.1).withPromptLossWeight(0.5).withZLoss(1e-4);
        WeightedCausalLMLoss y = DEFAULTS.withZLoss(1e-4).withLabelSmoothing(0.1).withPromptLossWeight(0.5);
        assertEquals(x, y);
        assertEquals(x.hashCode(), y.hashCode());
        assertNotEquals(x, null);
        assertNotEquals(x, "WeightedCausalLMLoss");
    }

    @Test
    void toStringNamesEverySetting() {
        String s = DEFAULTS.withPromptLossWeight(0.25).withGlobalDenominator(512.0).withLayout(LogitsLayout.NCW)
                .withShift(false).withIgnoreIndex(7).withKernel(ReferenceKernel.INSTANCE).withLabelSmoothing(0.1)
                .withZLoss(1e-4).withLogitSoftCap(30.0).toString();
        for (String part : new String[] {"plw=0.25", "GLOBAL_DENOMINATOR(512.0)", "layout=NCW", "shift=false",
                "ignoreIndex=7", "kernel=" + ReferenceKernel.INSTANCE.name(), "labelSmoothing=0.1", "zLoss=1.0E-4",
                "logitSoftCap=30.0"}) {
            assertTrue(s.contains(part), () -> s + " lacks " + part);
        }
        for (int i = 0; i < CHANGES.size(); i++) {
            assertNotEquals(DEFAULTS.toString(), CHANGES.get(i).apply(DEFAULTS).toString(), "change " + i);
        }
    }

    @Test
    void withBackendPicksTheNamedKernel() {
        assertSame(ReferenceKernel.INSTANCE, DEFAULTS.withBackend(" Reference ").kernel());
        assertEquals(DEFAULTS.withKernel(ReferenceKernel.INSTANCE), DEFAULTS.withBackend("reference"));
    }
}
