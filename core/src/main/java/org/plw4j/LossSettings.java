package org.plw4j;

import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.LossExtensions;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The whole configuration of a {@link WeightedCausalLMLoss}, as one immutable value: the loss's
 * {@code equals}, {@code hashCode} and {@code toString} are this record's, and it is handed whole to
 * {@link TokenPlan} and (its extensions) to the kernel problem. Values are validated by the loss's
 * {@code withX} methods before they get here.
 *
 * @param promptLossWeight the weight of prompt tokens, in {@code [0, 1]}
 * @param normalization the reduction mode
 * @param globalDenominator the caller's denominator in GLOBAL_DENOMINATOR mode, NaN otherwise
 * @param layout the logits layout
 * @param shift whether logits at {@code t} predict token {@code t+1}
 * @param ignoreIndex a target id equal to it is ignored
 * @param kernel the kernel, or null for the one {@code plw4j.backend} selects at call time
 * @param extensions label smoothing, z-loss and soft-cap (SPEC section 7)
 * @param linear the fused linear path's chunk budget and treatment of rows of weight 0
 * @param entropy whether the per-role mean entropies are computed (SPEC section 13)
 * @param perTokenOutputs the per-token outputs asked for (an immutable set)
 */
record LossSettings(double promptLossWeight, Normalization normalization, double globalDenominator,
        LogitsLayout layout, boolean shift, int ignoreIndex, LossKernel kernel, LossExtensions extensions,
        LinearCrossEntropy.Options linear, boolean entropy, Set<PerTokenOutput> perTokenOutputs) {

    /** PLW 1, WEIGHTED_MEAN, NWC, shift on, ignore index -100, the selected backend, no extension, no output. */
    static final LossSettings DEFAULTS = new LossSettings(1.0, Normalization.WEIGHTED_MEAN, Double.NaN,
            LogitsLayout.NWC, true, -100, null, LossExtensions.NONE, LinearCrossEntropy.Options.DEFAULTS, false,
            Set.of());

    /**
     * @param change sets the fields that differ on a mutable copy of these settings
     * @return the settings with that change
     */
    LossSettings with(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return new LossSettings(c.promptLossWeight, c.normalization, c.globalDenominator, c.layout, c.shift,
                c.ignoreIndex, c.kernel, c.extensions, c.linear, c.entropy, Set.copyOf(c.perTokenOutputs));
    }

    /** The fields of a {@link LossSettings} being changed by {@link #with}; lives only inside that call. */
    static final class Copy {
        double promptLossWeight;
        Normalization normalization;
        double globalDenominator;
        LogitsLayout layout;
        boolean shift;
        int ignoreIndex;
        LossKernel kernel;
        LossExtensions extensions;
        LinearCrossEntropy.Options linear;
        boolean entropy;
        Set<PerTokenOutput> perTokenOutputs;

        private Copy(LossSettings s) {
            promptLossWeight = s.promptLossWeight;
            normalization = s.normalization;
            globalDenominator = s.globalDenominator;
            layout = s.layout;
            shift = s.shift;
            ignoreIndex = s.ignoreIndex;
            kernel = s.kernel;
            extensions = s.extensions;
            linear = s.linear;
            entropy = s.entropy;
            perTokenOutputs = s.perTokenOutputs;
        }
    }

    /** @return the kernel given, or the one {@code plw4j.backend} selects now */
    LossKernel resolvedKernel() {
        return kernel != null ? kernel : Backends.selected();
    }

    /**
     * @return the kernel that runs a problem with these settings: the resolved one, or the reference kernel
     *         when an extension is on and the resolved kernel does not implement the extensions
     */
    LossKernel problemKernel() {
        LossKernel k = resolvedKernel();
        if (extensions.any() && !k.supportsExtensions() || wantsKernelEntropy() && !k.supportsOutputs()
                || perTokenOutputs.contains(PerTokenOutput.ARG_MAX) && !k.supportsOutputs()) {
            return ReferenceKernel.INSTANCE;
        }
        return k;
    }

    /** @return whether the kernel must compute per-position entropies: for the means or the per-token output */
    boolean wantsKernelEntropy() {
        return entropy || perTokenOutputs.contains(PerTokenOutput.ENTROPY);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "WeightedCausalLMLoss[plw=%s, normalization=%s%s, layout=%s, shift=%s, ignoreIndex=%d, kernel=%s,"
                        + " labelSmoothing=%s, zLoss=%s, logitSoftCap=%s, chunkBytes=%s, zeroWeightRows=%s, entropy=%s,"
                        + " perTokenOutputs=%s]",
                promptLossWeight, normalization,
                normalization == Normalization.GLOBAL_DENOMINATOR ? "(" + globalDenominator + ")" : "", layout, shift,
                ignoreIndex, kernel == null ? System.getProperty(Backends.PROPERTY, "auto") : kernel.name(),
                extensions.labelSmoothing(), extensions.zLoss(), extensions.softCap(),
                linear.chunkBytes() == 0 ? "derived" : linear.chunkBytes(), linear.zeroWeightRows(), entropy,
                perTokenOutputs.stream().sorted().map(Enum::name).toList());
    }
}
