package org.plw4j;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.kernel.Backends;
import org.plw4j.kernel.LossKernel;
import org.plw4j.kernel.LossProblem;
import org.plw4j.kernel.ReferenceKernel;

/**
 * The weighted causal-LM loss of instruction tuning with a prompt loss weight (PLW).
 *
 * <p>Every target token {@code t} has a weight {@code w_t}: 1 for completion tokens, {@code PLW} for
 * prompt tokens, 0 for padding, for a target equal to the ignore index and (under shift) for the last
 * position. With {@code l_t = logsumexp(z_t) - z_t[y_t]} the loss is, in the default
 * {@link Normalization#WEIGHTED_MEAN} mode, {@code L = sum(w_t * l_t) / sum(w_t)}; PLW 0 is
 * completion-only training and PLW 1 the plain full-sequence loss. The prompt and completion losses
 * and arg-max accuracies are reported apart, computed in the same pass over the logits
 * (docs/SPEC.md in the repository states every edge case).
 *
 * <pre>{@code
 * WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
 * PromptCompletionMask mask = PromptCompletionMask.ofPromptLengths(promptLens, seqLens, n, Padding.RIGHT);
 * LossResult r = loss.computeWithGradient(logits, inputIds, mask);   // logits [B, N, V]
 * double l = r.loss();  INDArray dLdz = r.gradient();
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe: one instance may serve any number of threads, and the
 * results are bitwise identical to sequential calls. The inputs are never modified, except by
 * {@link #computeWithGradientInPlace}. Every argument is checked before anything is written; bad input
 * raises {@link IllegalArgumentException} naming the parameter, the rule, the index and the value.
 */
public final class WeightedCausalLMLoss {
    private static final WeightedCausalLMLoss DEFAULTS = new WeightedCausalLMLoss(LossSettings.DEFAULTS);

    private final LossSettings settings;

    private WeightedCausalLMLoss(LossSettings settings) {
        this.settings = settings;
    }

    /**
     * @return PLW 1.0 (plain full-sequence loss), {@link Normalization#WEIGHTED_MEAN}, {@link LogitsLayout#NWC},
     *         shift on, ignore index -100, the backend chosen by the system property {@code plw4j.backend}
     */
    public static WeightedCausalLMLoss withDefaults() {
        return DEFAULTS;
    }

    /**
     * @param plw the weight of prompt tokens, in {@code [0, 1]}: 0 is completion-only, 1 full-sequence
     * @return a copy with that prompt loss weight
     * @throws IllegalArgumentException if {@code plw} is NaN, infinite or outside {@code [0, 1]}
     */
    public WeightedCausalLMLoss withPromptLossWeight(double plw) {
        if (!(plw >= 0.0 && plw <= 1.0)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "promptLossWeight must be a finite number in [0, 1], was %s", plw));
        }
        return new WeightedCausalLMLoss(settings.with(c -> c.promptLossWeight = plw));
    }

    /**
     * @param mode WEIGHTED_MEAN, SUM, SEQUENCE_MEAN or NONZERO_COUNT; for GLOBAL_DENOMINATOR use
     *             {@link #withGlobalDenominator}
     * @return a copy with that normalisation
     * @throws IllegalArgumentException if {@code mode} is null, or GLOBAL_DENOMINATOR (it needs its value)
     */
    public WeightedCausalLMLoss withNormalization(Normalization mode) {
        Nd4jArrays.requireNonNull(mode, "normalization");
        if (mode == Normalization.GLOBAL_DENOMINATOR) {
            if (settings.normalization() == Normalization.GLOBAL_DENOMINATOR) {
                return this;
            }
            throw new IllegalArgumentException(
                    "normalization GLOBAL_DENOMINATOR needs its value: use withGlobalDenominator(d) with d > 0");
        }
        return new WeightedCausalLMLoss(settings.with(c -> {
            c.normalization = mode;
            c.globalDenominator = Double.NaN; // a mode without a value of its own
        }));
    }

    /**
     * Divides {@code sum(w*l)} by a caller-given denominator: the total weight of the whole accumulated
     * step (all micro-batches, all workers), so that gradient accumulation and data parallelism give the
     * same gradient as one big batch (the lesson of Hugging Face's {@code num_items_in_batch}). Compute
     * it with {@link PromptCompletionMask} weights or from {@link LossSummary#weightSum()} of a previous pass.
     *
     * @param d the denominator, finite and &gt; 0
     * @return a copy in {@link Normalization#GLOBAL_DENOMINATOR} mode
     * @throws IllegalArgumentException if {@code d} is not finite or not &gt; 0
     */
    public WeightedCausalLMLoss withGlobalDenominator(double d) {
        if (!(d > 0.0 && d < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "globalDenominator must be finite and > 0, was %s", d));
        }
        return new WeightedCausalLMLoss(settings.with(c -> {
            c.normalization = Normalization.GLOBAL_DENOMINATOR;
            c.globalDenominator = d;
        }));
    }

    /**
     * @param layout NWC ({@code [B, N, V]}) or NCW ({@code [B, V, N]})
     * @return a copy with that logits layout
     * @throws IllegalArgumentException if {@code layout} is null
     */
    public WeightedCausalLMLoss withLayout(LogitsLayout layout) {
        Nd4jArrays.requireNonNull(layout, "layout");
        return new WeightedCausalLMLoss(settings.with(c -> c.layout = layout));
    }

    /**
     * @param shift true (default): logits at {@code t} predict token {@code t+1}; false: inputs already
     *              aligned, the target at {@code t} is {@code inputIds[b, t]} (DL4J labels)
     * @return a copy with that shift
     */
    public WeightedCausalLMLoss withShift(boolean shift) {
        return new WeightedCausalLMLoss(settings.with(c -> c.shift = shift));
    }

    /**
     * @param ignoreIndex a target id equal to it is ignored whatever its role (default -100, Hugging Face)
     * @return a copy with that ignore index
     */
    public WeightedCausalLMLoss withIgnoreIndex(int ignoreIndex) {
        return new WeightedCausalLMLoss(settings.with(c -> c.ignoreIndex = ignoreIndex));
    }

    /**
     * @param kernel the kernel to use (e.g. {@link org.plw4j.kernel.ReferenceKernel#INSTANCE} in tests), or
     *               null for the backend chosen by {@code plw4j.backend}
     * @return a copy using that kernel
     */
    public WeightedCausalLMLoss withKernel(LossKernel kernel) {
        return new WeightedCausalLMLoss(settings.with(c -> c.kernel = kernel));
    }

    /**
     * @param name {@code auto}, {@code cpu}, {@code reference} or {@code cuda}
     * @return a copy using that backend's kernel
     * @throws IllegalStateException if the backend is absent or not usable (the message says why)
     */
    public WeightedCausalLMLoss withBackend(String name) {
        return withKernel(Backends.byName(Objects.requireNonNull(name, "name").trim().toLowerCase(Locale.ROOT)));
    }

    /**
     * Label smoothing (SPEC section 7, off by default): {@code l = (1-eps)(lse - z[y]) + eps(lse - mean_v z)}.
     *
     * @param eps in {@code [0, 1)}; 0 turns it off
     * @return a copy with label smoothing
     * @throws IllegalArgumentException if {@code eps} is NaN or outside {@code [0, 1)}
     */
    public WeightedCausalLMLoss withLabelSmoothing(double eps) {
        if (!(eps >= 0.0 && eps < 1.0)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "labelSmoothing must be in [0, 1), was %s", eps));
        }
        return new WeightedCausalLMLoss(settings.with(c -> c.extensions = c.extensions.withLabelSmoothing(eps)));
    }

    /**
     * PaLM's auxiliary z-loss (SPEC section 7, off by default): adds {@code lambda * lse^2} to every token loss.
     *
     * @param lambda finite and {@code >= 0} (PaLM used 1e-4); 0 turns it off
     * @return a copy with the z-loss
     * @throws IllegalArgumentException if {@code lambda} is negative, NaN or infinite
     */
    public WeightedCausalLMLoss withZLoss(double lambda) {
        if (!(lambda >= 0.0 && lambda < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "zLoss must be finite and >= 0, was %s", lambda));
        }
        return new WeightedCausalLMLoss(settings.with(c -> c.extensions = c.extensions.withZLoss(lambda)));
    }

    /**
     * Logit soft-capping (Gemma 2; SPEC section 7, off by default): {@code z <- c * tanh(z / c)} before
     * everything else, the gradient flowing through the cap.
     *
     * @param c finite and {@code > 0} (Gemma 2 used 30 for the final logits); 0 turns it off
     * @return a copy with soft-capping
     * @throws IllegalArgumentException if {@code c} is negative, NaN or infinite
     */
    public WeightedCausalLMLoss withLogitSoftCap(double c) {
        if (!(c >= 0.0 && c < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logitSoftCap must be finite and > 0 (or 0 for off), was %s", c));
        }
        return new WeightedCausalLMLoss(settings.with(s -> s.extensions = s.extensions.withSoftCap(c)));
    }

    /**
     * The per-role mean entropies of SPEC section 13: {@link LossResult#promptEntropy()} and
     * {@link LossResult#completionEntropy()}, the mean over the PROMPT (COMPLETION) targets of the entropy
     * {@code H_t = lse_t - Σ_v p_t[v] z_t[v]} of the distribution the loss uses (after soft-capping), in nats.
     * Computed in the kernel's exp-sum pass (one more fused multiply-add per logit), off by default.
     *
     * @param on whether to compute them
     * @return a copy with that setting
     */
    public WeightedCausalLMLoss withEntropy(boolean on) {
        return new WeightedCausalLMLoss(settings.with(s -> s.entropy = on));
    }

    /** @return whether the per-role mean entropies are computed */
    public boolean entropy() {
        return settings.entropy();
    }

    /**
     * The per-token outputs of SPEC section 13, replacing those asked for before (none by default):
     * {@link PerTokenOutput#ENTROPY} fills {@link LossResult#perTokenEntropy()}, {@link PerTokenOutput#ARG_MAX}
     * {@link LossResult#perTokenArgMax()}. Both come from the kernel's pass over the logits; the arg-max
     * index costs a scan of the cache-resident row up to its first maximum.
     *
     * <pre>{@code
     * LossResult r = loss.withPerTokenOutputs(PerTokenOutput.ENTROPY, PerTokenOutput.ARG_MAX)
     *         .compute(logits, ids, mask);
     * INDArray h = r.perTokenEntropy();    // [B, N] DOUBLE
     * INDArray pred = r.perTokenArgMax();  // [B, N] INT, -1 where no target is measured
     * }</pre>
     *
     * @param outputs the outputs to compute; none for none
     * @return a copy with those outputs
     * @throws IllegalArgumentException if {@code outputs} is null or holds null
     */
    public WeightedCausalLMLoss withPerTokenOutputs(PerTokenOutput... outputs) {
        if (outputs == null || Arrays.asList(outputs).contains(null)) {
            throw new IllegalArgumentException("outputs must not be null nor hold null, was "
                    + (outputs == null ? "null" : Arrays.toString(outputs)));
        }
        Set<PerTokenOutput> set = EnumSet.noneOf(PerTokenOutput.class);
        set.addAll(Arrays.asList(outputs));
        return new WeightedCausalLMLoss(settings.with(s -> s.perTokenOutputs = set));
    }

    /** @return the per-token outputs asked for (an immutable set, empty by default) */
    public Set<PerTokenOutput> perTokenOutputs() {
        return settings.perTokenOutputs();
    }

    /** @return the label smoothing epsilon, 0 when off */
    public double labelSmoothing() {
        return settings.extensions().labelSmoothing();
    }

    /** @return the z-loss coefficient, 0 when off */
    public double zLoss() {
        return settings.extensions().zLoss();
    }

    /** @return the logit soft-cap, 0 when off */
    public double logitSoftCap() {
        return settings.extensions().softCap();
    }

    /** @return the prompt loss weight */
    public double promptLossWeight() {
        return settings.promptLossWeight();
    }

    /** @return the normalisation */
    public Normalization normalization() {
        return settings.normalization();
    }

    /** @return the global denominator, NaN unless the mode is GLOBAL_DENOMINATOR */
    public double globalDenominator() {
        return settings.globalDenominator();
    }

    /** @return the logits layout */
    public LogitsLayout layout() {
        return settings.layout();
    }

    /** @return whether targets are shifted by one */
    public boolean shift() {
        return settings.shift();
    }

    /** @return the ignore index */
    public int ignoreIndex() {
        return settings.ignoreIndex();
    }

    /** @return the whole configuration, for the package's other entry points */
    LossSettings settings() {
        return settings;
    }

    /** @return the kernel in use: the one given, or the one {@code plw4j.backend} selects */
    public LossKernel kernel() {
        return settings.resolvedKernel();
    }

    /**
     * Computes the loss and metrics, without the gradient.
     *
     * @param logits {@code [B, N, V]} (NWC) or {@code [B, V, N]} (NCW); FLOAT, DOUBLE, HALF or BFLOAT16; any strides
     * @param inputIds {@code [B, N]} token ids; INT or LONG, or FLOAT/DOUBLE holding integral values
     * @param mask roles (or explicit weights) of the {@code [B, N]} input positions
     * @return the result
     * @throws IllegalArgumentException on a wrong rank, mismatched B or N, an unsupported dtype, a non-integral
     *                                  id, or a target id outside {@code [0, V)} that is not the ignore index at a
     *                                  position whose role is not IGNORE (or whose explicit weight is &gt; 0)
     */
    public LossResult compute(INDArray logits, INDArray inputIds, PromptCompletionMask mask) {
        return run(logits, inputIds, mask, Mode.FORWARD);
    }

    /**
     * Computes the loss, metrics and the gradient {@code dL/dz}: for WEIGHTED_MEAN
     * {@code (w_t / sum(w)) * (softmax(z_t) - onehot(y_t))}, scaled by each mode's denominator otherwise;
     * rows with weight 0 are exactly zero. The gradient is a new array with the logits' shape, layout
     * (as C-order of that shape) and dtype, allocated as ND4J's {@code Nd4j.createUninitialized} does: in
     * the active ND4J workspace if there is one (then it is valid while that workspace is open, and a loop
     * that opens the same workspace every step reuses its memory instead of touching fresh pages), detached
     * otherwise. A detached array of 4 MiB or more is allocated without being zeroed (the kernel writes
     * every element) and, on Linux x86-64, advised to transparent huge pages before its first write, so its
     * page faults are taken 2 MiB at a time by the kernel's workers ({@code -Dplw4j.hugepages=false} turns
     * the advice off). To reuse one buffer without a workspace, pass it as {@code gradientOut}.
     *
     * @param logits as in {@link #compute}
     * @param inputIds as in {@link #compute}
     * @param mask as in {@link #compute}
     * @return the result, with {@link LossResult#gradient()}
     * @throws IllegalArgumentException as {@link #compute}
     */
    public LossResult computeWithGradient(INDArray logits, INDArray inputIds, PromptCompletionMask mask) {
        return run(logits, inputIds, mask, Mode.GRADIENT);
    }

    /**
     * As {@link #computeWithGradient}, but writes the gradient over the logits to save memory, for callers
     * who no longer need them. {@link LossResult#gradient()} returns the logits array. Nothing is written
     * when the arguments are rejected.
     *
     * @param logits as in {@link #compute}; overwritten with the gradient
     * @param inputIds as in {@link #compute}
     * @param mask as in {@link #compute}
     * @return the result
     * @throws IllegalArgumentException as {@link #compute}, or if the logits view has overlapping elements
     *                                  (a zero stride on a dimension of size &gt; 1)
     */
    public LossResult computeWithGradientInPlace(INDArray logits, INDArray inputIds, PromptCompletionMask mask) {
        return run(logits, inputIds, mask, Mode.IN_PLACE);
    }

    /**
     * As {@link #computeWithGradient}, but writes the gradient into a caller-owned array, e.g. one buffer
     * reused across training steps: this saves allocating (and first-touching) a logits-sized array per
     * call. {@link LossResult#gradient()} returns {@code gradientOut}. Nothing is written when the
     * arguments are rejected. Passing the logits themselves is the in-place computation.
     *
     * @param logits as in {@link #compute}
     * @param inputIds as in {@link #compute}
     * @param mask as in {@link #compute}
     * @param gradientOut an array with the logits' shape and dtype (any strides, no overlapping elements)
     * @return the result
     * @throws IllegalArgumentException as {@link #compute}, or if {@code gradientOut} is null, has another
     *                                  shape or dtype than the logits, or has overlapping elements
     */
    public LossResult computeWithGradient(INDArray logits, INDArray inputIds, PromptCompletionMask mask,
            INDArray gradientOut) {
        Nd4jArrays.requireNonNull(gradientOut, "gradientOut");
        if (gradientOut == logits) {
            return run(logits, inputIds, mask, Mode.IN_PLACE, null);
        }
        if (logits != null && (!Arrays.equals(gradientOut.shape(), logits.shape())
                || gradientOut.dataType() != logits.dataType())) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "gradientOut must have the logits' shape %s and dtype %s, was %s %s", Nd4jArrays.shape(logits),
                    logits.dataType(), Nd4jArrays.shape(gradientOut), gradientOut.dataType()));
        }
        return run(logits, inputIds, mask, Mode.GRADIENT, gradientOut);
    }

    /**
     * The fused linear path's memory budget: positions are processed in chunks of
     * {@code floor(bytes / ((V + 2H) * e))} rows ({@code e} the element size), each through one chunk buffer of
     * logits {@code [rows, V]} and two of hidden rows {@code [rows, H]}, reused from chunk to chunk. By default the
     * budget is derived from the problem: the materialised logits' bytes {@code B*N*V*e} over 8 (so that the chunk
     * buffers are at most 1/16 of the logits and their gradient), at most 64 MiB, but never fewer than 512 rows
     * (all positions when there are fewer): below that the GEMMs run measurably slower per row than on the whole
     * problem, so on small problems speed wins over the memory share. Beyond the cap the memory does not grow
     * with {@code B*N} (benchmarks/RESULTS.md gives the speed and memory of each choice). Each calling thread keeps
     * its chunk buffers for its next call, so that their memory is touched once rather than once per call.
     *
     * @param bytes the budget, &gt; 0; a call whose budget holds less than one row is rejected
     * @return a copy with that budget
     * @throws IllegalArgumentException if {@code bytes <= 0}
     */
    public WeightedCausalLMLoss withChunkBytes(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "chunkBytes must be > 0, was %d", bytes));
        }
        return new WeightedCausalLMLoss(settings.with(c -> c.linear = new LinearCrossEntropy.Options(bytes,
                c.linear.zeroWeightRows())));
    }

    /**
     * Whether the fused linear path computes the logits of targets of weight 0 (e.g. the prompt at PLW 0) for the
     * metrics ({@link ZeroWeightRows#MEASURED}, the default) or skips them ({@link ZeroWeightRows#SKIPPED}: their
     * metrics absent, the loss and gradients unchanged). The logits path always measures them.
     *
     * @param mode the treatment of rows of weight 0
     * @return a copy with that mode
     * @throws IllegalArgumentException if {@code mode} is null
     */
    public WeightedCausalLMLoss withZeroWeightRows(ZeroWeightRows mode) {
        Nd4jArrays.requireNonNull(mode, "zeroWeightRows");
        return new WeightedCausalLMLoss(settings.with(c -> c.linear = new LinearCrossEntropy.Options(c.linear.chunkBytes(),
                mode)));
    }

    /** @return the fused linear path's chunk budget in bytes, or 0 when it is derived from each problem */
    public long chunkBytes() {
        return settings.linear().chunkBytes();
    }

    /**
     * The number of positions per chunk that the fused linear path uses for a problem of this size with this
     * configuration's budget (the derived one when none was given).
     *
     * @param positions {@code B*N}, &gt;= 1
     * @param hiddenSize {@code H}, &gt;= 1
     * @param vocab {@code V}, &gt;= 1
     * @param type the inputs' dtype (HALF and BFLOAT16 count as FLOAT, their compute type)
     * @return the chunk rows, between 1 and {@code positions}
     * @throws IllegalArgumentException if a size is below 1 or the budget holds less than one row
     */
    public int chunkRows(int positions, int hiddenSize, int vocab, DataType type) {
        return LinearCrossEntropy.chunkRows(settings.linear().chunkBytes(), positions, hiddenSize, vocab, type);
    }

    /** @return the fused linear path's treatment of rows of weight 0 */
    public ZeroWeightRows zeroWeightRows() {
        return settings.linear().zeroWeightRows();
    }

    /**
     * The loss and metrics of the logits {@code z = hidden * weight^T} without materialising them (the fused
     * linear cross-entropy): positions are processed in chunks (see {@link #withChunkBytes}), each chunk's logits
     * formed by one BLAS GEMM into a reused buffer and reduced there by the row kernel. PLW, normalisation, shift,
     * ignore index and the extensions are those of {@link #compute}; the layout setting does not apply.
     *
     * <pre>{@code
     * LossResult r = loss.computeFromHidden(hidden, lmHead, inputIds, mask);   // hidden [B, N, H], lmHead [V, H]
     * }</pre>
     *
     * @param hidden the last hidden states {@code [B, N, H]}, FLOAT, DOUBLE, HALF or BFLOAT16, any strides. HALF and
     *               BFLOAT16 inputs are computed in FLOAT: the hidden rows are widened chunk by chunk into the chunk
     *               buffer, the weight and bias once per call into a FLOAT copy ({@code V*H*4} bytes, independent of
     *               {@code B*N}); 16-bit gradients are summed in FLOAT and rounded once into the inputs' type
     * @param weight the output projection {@code [V, H]} (the {@code nn.Linear} / Hugging Face {@code lm_head.weight}
     *               layout) with the hidden states' dtype, any strides: DL4J's {@code W [H, V]} is passed as
     *               {@code W.transpose()}, a view read in place
     * @param inputIds {@code [B, N]} token ids, as in {@link #compute}
     * @param mask roles (or explicit weights) of the input positions, as in {@link #compute}
     * @return the result; {@link LossResult#gradient()} is null
     * @throws IllegalArgumentException on a wrong rank, an H or V mismatch, mismatched B or N, a dtype other than
     *                                  FLOAT/DOUBLE/HALF/BFLOAT16 or differing between hidden and weight, a chunk budget below one
     *                                  row, or a target id as rejected by {@link #compute}
     */
    public LossResult computeFromHidden(INDArray hidden, INDArray weight, INDArray inputIds, PromptCompletionMask mask) {
        return LinearCrossEntropy.forward(settings, hidden, weight, null, inputIds, mask);
    }

    /**
     * As {@link #computeFromHidden(INDArray, INDArray, INDArray, PromptCompletionMask)} with the logits
     * {@code z = hidden * weight^T + bias}.
     *
     * @param hidden as in {@link #computeFromHidden(INDArray, INDArray, INDArray, PromptCompletionMask)}
     * @param weight as there
     * @param bias {@code [V]} (or {@code [1, V]}), the weight's dtype, or null for none
     * @param inputIds as there
     * @param mask as there
     * @return the result
     * @throws IllegalArgumentException as there, or if the bias is not a vector of length V of the weight's dtype
     */
    public LossResult computeFromHidden(INDArray hidden, INDArray weight, INDArray bias, INDArray inputIds,
            PromptCompletionMask mask) {
        return LinearCrossEntropy.forward(settings, hidden, weight, bias, inputIds, mask);
    }

    /**
     * The loss, metrics and the gradients {@code dL/dhidden} and {@code dL/dweight} of the fused linear path,
     * without the logits or their gradient ever being materialised: per chunk {@code Z = h_c * W^T}, the row kernel
     * writes {@code G = dL/dZ} over {@code Z}, then {@code dH_c = G * W} and {@code dW += G^T * h_c} (BLAS GEMMs).
     * Rows whose target weighs nothing never enter the two backward GEMMs; their hidden gradient is exactly 0.
     * The gradients are new C-order arrays of the inputs' shapes and dtypes.
     *
     * <pre>{@code
     * LinearLossResult r = loss.computeFromHiddenWithGradient(hidden, lmHead, inputIds, mask);
     * INDArray dHidden = r.hiddenGradient();   // [B, N, H]
     * INDArray dLmHead = r.weightGradient();   // [V, H]
     * }</pre>
     *
     * @param hidden as in {@link #computeFromHidden(INDArray, INDArray, INDArray, PromptCompletionMask)}
     * @param weight as there
     * @param inputIds as there
     * @param mask as there
     * @return the result with {@link LinearLossResult#hiddenGradient()} and {@link LinearLossResult#weightGradient()}
     * @throws IllegalArgumentException as there
     */
    public LinearLossResult computeFromHiddenWithGradient(INDArray hidden, INDArray weight, INDArray inputIds,
            PromptCompletionMask mask) {
        return LinearCrossEntropy.withGradient(settings, hidden, weight, null, inputIds, mask, null, null, null,
                GradientMode.OVERWRITE);
    }

    /**
     * As {@link #computeFromHiddenWithGradient(INDArray, INDArray, INDArray, PromptCompletionMask)} with a bias;
     * the result also has {@link LinearLossResult#biasGradient()}.
     *
     * @param hidden as there
     * @param weight as there
     * @param bias as in {@link #computeFromHidden(INDArray, INDArray, INDArray, INDArray, PromptCompletionMask)}
     * @param inputIds as there
     * @param mask as there
     * @return the result
     * @throws IllegalArgumentException as there
     */
    public LinearLossResult computeFromHiddenWithGradient(INDArray hidden, INDArray weight, INDArray bias,
            INDArray inputIds, PromptCompletionMask mask) {
        return LinearCrossEntropy.withGradient(settings, hidden, weight, bias, inputIds, mask, null, null, null,
                GradientMode.OVERWRITE);
    }

    /**
     * As {@link #computeFromHiddenWithGradient(INDArray, INDArray, INDArray, INDArray, PromptCompletionMask)}, but
     * the gradients go into caller-owned arrays (each may be null for a new array): the hidden gradient is
     * overwritten; the weight and bias gradients are overwritten or, with {@link GradientMode#ACCUMULATE}, added
     * to, so that the micro-batches of one step add up in one pair of arrays (use
     * {@link #withGlobalDenominator} with the step's total weight). Nothing is written when the arguments are
     * rejected.
     *
     * @param hidden as there
     * @param weight as there
     * @param bias as there, or null
     * @param inputIds as there
     * @param mask as there
     * @param hiddenGradientOut null, or an array of the hidden states' shape and dtype, any strides
     * @param weightGradientOut null, or an array of the weight's shape and dtype, any strides (DL4J's gradient view
     *                          of {@code W} passed as its transpose)
     * @param biasGradientOut null, or an array of the bias's shape and dtype; must be null without a bias
     * @param gradientMode OVERWRITE or ACCUMULATE
     * @return the result, whose gradient accessors return the given arrays
     * @throws IllegalArgumentException as there, or if a gradient array has another shape or dtype than its input,
     *                                  has overlapping elements (a stride of 0 on a dimension of size &gt; 1), shares
     *                                  memory with an input or another gradient array, or if {@code gradientMode} is
     *                                  null
     */
    public LinearLossResult computeFromHiddenWithGradient(INDArray hidden, INDArray weight, INDArray bias,
            INDArray inputIds, PromptCompletionMask mask, INDArray hiddenGradientOut, INDArray weightGradientOut,
            INDArray biasGradientOut, GradientMode gradientMode) {
        return LinearCrossEntropy.withGradient(settings, hidden, weight, bias, inputIds, mask, hiddenGradientOut,
                weightGradientOut, biasGradientOut, gradientMode);
    }

    private enum Mode {
        FORWARD, GRADIENT, IN_PLACE
    }

    private LossResult run(INDArray logits, INDArray inputIds, PromptCompletionMask mask, Mode mode) {
        return run(logits, inputIds, mask, mode, null);
    }

    private LossResult run(INDArray logits, INDArray inputIds, PromptCompletionMask mask, Mode mode,
            INDArray gradientOut) {
        final LogitsLayout layout = settings.layout();
        Nd4jArrays.requireNonNull(logits, "logits");
        Nd4jArrays.requireNonNull(inputIds, "inputIds");
        Nd4jArrays.requireNonNull(mask, "mask");
        if (logits.rank() != 3) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logits must have rank 3 (%s), had rank %d with shape %s",
                    layout == LogitsLayout.NWC ? "[B, N, V]" : "[B, V, N]", logits.rank(), Nd4jArrays.shape(logits)));
        }
        Nd4jArrays.elementType(logits, "logits");
        long[] shape = logits.shape();
        long bL = shape[0];
        long nL = layout == LogitsLayout.NWC ? shape[1] : shape[2];
        long vL = layout == LogitsLayout.NWC ? shape[2] : shape[1];
        if (bL < 1 || nL < 1 || vL < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logits must have B, N and V >= 1, had shape %s (layout %s)", Nd4jArrays.shape(logits), layout));
        }
        if (bL * nL > Integer.MAX_VALUE - 8 || vL > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "logits must have B*N and V below 2^31, had shape %s", Nd4jArrays.shape(logits)));
        }
        if (inputIds.rank() != 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "inputIds must have rank 2 [B, N], had rank %d with shape %s", inputIds.rank(),
                    Nd4jArrays.shape(inputIds)));
        }
        if (inputIds.size(0) != bL || inputIds.size(1) != nL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "inputIds must have shape [B, N] = [%d, %d] to match logits %s (layout %s), was %s", bL, nL,
                    Nd4jArrays.shape(logits), layout, Nd4jArrays.shape(inputIds)));
        }
        if (mask.batchSize() != bL || mask.sequenceLength() != nL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "mask must have shape [B, N] = [%d, %d] to match logits %s (layout %s), was [%d, %d]", bL, nL,
                    Nd4jArrays.shape(logits), layout, mask.batchSize(), mask.sequenceLength()));
        }
        if (mode == Mode.IN_PLACE || gradientOut != null) {
            INDArray target = gradientOut != null ? gradientOut : logits;
            String name = gradientOut != null ? "gradientOut" : "logits";
            long[] st = target.stride();
            for (int k = 0; k < 3; k++) {
                if (shape[k] > 1 && st[k] == 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "%s must not have overlapping elements to receive the gradient, dimension %d has"
                                    + " size %d and stride 0", name, k, shape[k]));
                }
            }
        }
        final int b = (int) bL;
        final int n = (int) nL;
        final int v = (int) vL;
        long[] ids = Nd4jArrays.integral(inputIds, "inputIds");
        TokenPlan plan = TokenPlan.build(ids, mask, b, n, v, settings, mode != Mode.FORWARD, inputIds.shape());

        LossKernel k = settings.problemKernel();
        Nd4jArrays.View lv = Nd4jArrays.view(logits, "logits");
        long sB = lv.strides()[0];
        long sT = layout == LogitsLayout.NWC ? lv.strides()[1] : lv.strides()[2];
        long sV = layout == LogitsLayout.NWC ? lv.strides()[2] : lv.strides()[1];
        LossProblem.Builder pb = LossProblem.builder().shape(b, n, v).targets(plan.targets)
                .logits(lv.memory(), 0, sB, sT, sV).extensions(settings.extensions());
        INDArray gradient = null;
        if (mode == Mode.GRADIENT) {
            gradient = gradientOut != null ? gradientOut : GradientMemory.allocate(logits.dataType(), shape);
            Nd4jArrays.View gv = Nd4jArrays.view(gradient, "gradient");
            long gB = gv.strides()[0];
            long gT = layout == LogitsLayout.NWC ? gv.strides()[1] : gv.strides()[2];
            long gV = layout == LogitsLayout.NWC ? gv.strides()[2] : gv.strides()[1];
            pb.gradient(plan.gradScale, gv.memory(), 0, gB, gT, gV);
        } else if (mode == Mode.IN_PLACE) {
            gradient = logits;
            pb.gradient(plan.gradScale, lv.memory(), 0, sB, sT, sV);
        }
        double[] tokenLoss = new double[b * n];
        boolean[] tokenCorrect = new boolean[b * n];
        double[] entropy = settings.wantsKernelEntropy() ? new double[b * n] : null;
        int[] argMax = settings.perTokenOutputs().contains(PerTokenOutput.ARG_MAX) ? new int[b * n] : null;
        pb.entropyOut(entropy).argMaxOut(argMax);
        try {
            k.run(pb.build(), tokenLoss, tokenCorrect);
        } finally {
            // the kernel reads native memory through raw addresses: keep the owners alive until it is done
            Reference.reachabilityFence(logits);
            Reference.reachabilityFence(gradient);
        }
        return plan.reduce(tokenLoss, tokenCorrect, new TokenPlan.Outputs(entropy, argMax, settings.entropy(),
                settings.perTokenOutputs()), gradient, k.name());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WeightedCausalLMLoss other && settings.equals(other.settings);
    }

    @Override
    public int hashCode() {
        return settings.hashCode();
    }

    @Override
    public String toString() {
        return settings.toString();
    }
}
