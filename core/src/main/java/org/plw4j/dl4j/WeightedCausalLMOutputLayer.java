package org.plw4j.dl4j;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.shade.jackson.annotation.JsonInclude;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.plw4j.PromptLossWeightSchedule;

/**
 * A DL4J recurrent output layer whose score is plw4j's weighted causal-LM loss of the batch, exactly, with
 * DL4J's default {@code miniBatch(true)} as well as with {@code miniBatch(false)}, in a
 * {@code MultiLayerNetwork} or a {@code ComputationGraph}.
 *
 * <p>It is an {@link RnnOutputLayer} (same parameters {@code W [nIn, V]}, {@code b [V]}, same forward pass,
 * same JSON fields) whose loss is a {@link LossWeightedCausalLM} and whose activation is the identity, so
 * that the layer's output is the logits. Labels are those of {@link LossWeightedCausalLM}: {@code [mb, 2, T]}
 * ({@code dataFormat(RNNFormat.NCW)}) or {@code [mb, T, 2]} ({@code NWC}), channel 0 the target token id,
 * channel 1 its role code; {@link Dl4jLabels#nextToken} builds them.
 *
 * <p><b>What it changes.</b> In DL4J 1.0.0-M2.1 with {@code miniBatch(true)},
 * {@code BaseOutputLayer.computeScore} divides the loss function's score by the layer's input minibatch size
 * (the number of sequences), and the updater ({@code BaseMultiLayerUpdater.update}, through
 * {@code divideByMinibatch}) divides the whole gradient by the network's {@code batchSize()}, the labels'
 * first dimension (again the number of sequences), before the update rule (gradient normalisation, SGD, Adam,
 * ...) sees it. This layer's implementation
 * <ul>
 * <li>returns the loss function's score undivided (plus the network's regularisation term, as DL4J does),
 *     so {@code net.score()} is {@code L = sum(w * l) / sum(w)} over the batch's tokens, whatever the flag;</li>
 * <li>with {@code miniBatch(true)}, multiplies the gradients it emits, its own {@code W} and {@code b}
 *     gradients and the epsilon that it passes back to the layers below, by {@code mb} (its labels' first
 *     dimension, the number the updater divides by), so the update rule receives exactly {@code dL/dparams}
 *     (to rounding: {@code (g * mb) / mb} may differ from {@code g} in the last bit).</li>
 * </ul>
 * This is DL4J's own convention carried over: the gradient that a network reports
 * ({@code net.gradient()} after {@code computeGradientAndScore()}) is {@code mb} times the gradient of the
 * score when {@code miniBatch} is true, and exactly the gradient of the score when it is false; the update
 * is {@code dL/dparams} in both cases. With {@code miniBatch(false)} the layer behaves as an
 * {@code RnnOutputLayer} with {@link LossWeightedCausalLM} does.
 *
 * <p><b>Per-example scores.</b> {@code net.scoreExamples(data, false)} gives per sequence the sum of its
 * tokens' shares {@code w * l / sum(w)} of the batch loss, so the sequences' scores add up to {@code L}
 * ({@code scoreExamples(data, true)} adds the regularisation term to each sequence, as DL4J does). DL4J
 * never divided these by {@code mb}; nothing changes there.
 *
 * <p><b>Fused mode.</b> With {@link Builder#fusedLinear(boolean) fusedLinear(true)} the score, the per-example
 * scores and {@code backpropGradient} go through plw4j's fused linear path
 * ({@link org.plw4j.WeightedCausalLMLoss#computeFromHiddenWithGradient(INDArray, INDArray, INDArray, INDArray,
 * org.plw4j.PromptCompletionMask, INDArray, INDArray, INDArray, org.plw4j.GradientMode) computeFromHiddenWithGradient})
 * with the layer's own {@code W} (passed as {@code W.transpose()}, read in place) and {@code b}, writing the
 * parameter gradients into DL4J's gradient views: a {@code fit} step holds neither the {@code [mb*T, V]}
 * pre-output nor its {@code [mb*T, V]} gradient, only chunks of them. Score and update are those of the
 * unfused layer to rounding; {@code output()} (inference) still returns the logits. Saved in the JSON as
 * {@code "fusedLinear": true}; a JSON without the field is the unfused layer.
 *
 * <p><b>Checks.</b> The builder and {@link #instantiate} reject, with an {@link IllegalArgumentException},
 * an activation other than the identity, a loss other than {@link LossWeightedCausalLM}, and (at
 * {@code net.init()}) a missing {@code dataFormat}: set it on the builder or give the network an input type
 * ({@code setInputType(InputType.recurrent(...))}), from which DL4J fills it in. During training and
 * scoring, labels that are not {@code [mb, 2, T]} (NCW) or {@code [mb, T, 2]} (NWC) next to the layer's input
 * are rejected with an {@link IllegalArgumentException} naming both shapes.
 *
 * <pre>{@code
 * MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
 *         .updater(new Adam(1e-3))                  // default miniBatch(true) is fine
 *         .list()
 *         .layer(new EmbeddingSequenceLayer.Builder().nIn(vocab).nOut(embed).build())
 *         .layer(new LSTM.Builder().nIn(embed).nOut(hidden).build())
 *         .layer(new WeightedCausalLMOutputLayer.Builder(0.1)       // PLW 0.1
 *                 .nIn(hidden).nOut(vocab).dataFormat(RNNFormat.NCW).build())
 *         .build();
 * }</pre>
 *
 * <p>Serialised in the network's JSON ({@code MultiLayerConfiguration.toJson},
 * {@code ComputationGraphConfiguration.toJson}, {@code ModelSerializer}) with the fields of an
 * {@code RnnOutputLayer} and {@code "@class": "org.plw4j.dl4j.WeightedCausalLMOutputLayer"}; the public no-arg
 * constructor and the inherited setters are for that deserialisation.
 */
public final class WeightedCausalLMOutputLayer extends RnnOutputLayer {
    private static final long serialVersionUID = 1L;

    /**
     * The text form of the PLW schedule that {@link PromptLossWeightListener} follows; null: none (and then
     * absent from the JSON, which stays that of a fixed-PLW layer).
     */
    @JsonProperty("promptLossWeightSchedule")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    private String promptLossWeightSchedule;

    /**
     * Whether score and gradients go through plw4j's fused linear path (never the {@code [mb*T, V]} logits);
     * false (the default) is absent from the JSON, so a JSON written before the field reads as unfused.
     */
    @JsonProperty("fusedLinear")
    @JsonInclude(JsonInclude.Include.NON_DEFAULT)
    private boolean fusedLinear;

    /** For JSON deserialisation and {@link #clone()}; use the {@link Builder}. */
    public WeightedCausalLMOutputLayer() {
    }

    private WeightedCausalLMOutputLayer(Builder b) {
        setLayerName(b.getLayerName());
        setIDropout(b.getIDropout());
        setActivationFn(b.getActivationFn());
        setWeightInitFn(b.getWeightInitFn());
        setBiasInit(b.getBiasInit());
        setGainInit(b.getGainInit());
        setRegularization(b.getRegularization() == null ? null : new ArrayList<>(b.getRegularization()));
        setRegularizationBias(b.getRegularizationBias() == null ? null : new ArrayList<>(b.getRegularizationBias()));
        setIUpdater(b.getIupdater());
        setBiasUpdater(b.getBiasUpdater());
        setGradientNormalization(b.getGradientNormalization());
        setGradientNormalizationThreshold(b.getGradientNormalizationThreshold());
        setWeightNoise(b.getWeightNoise());
        setNIn(b.getNIn());
        setNOut(b.getNOut());
        setLossFn(b.getLossFn());
        setHasBias(b.isHasBias());
        setRnnDataFormat(b.rnnDataFormat);
        fusedLinear = b.fusedLinear;
        if (b.schedule != null) {
            promptLossWeightSchedule = b.schedule.toString();
            setLossFn(checkedLoss(getLossFn()).withPromptLossWeight(b.schedule.at(0)));
        }
        initializeConstraints(b); // last: it needs nIn/nOut/hasBias to know the parameter keys
    }

    /**
     * @return the layer's loss function
     * @throws IllegalArgumentException if the loss function is not a {@link LossWeightedCausalLM} (possible
     *         only through the inherited setter or a hand-edited JSON)
     */
    public LossWeightedCausalLM lossFunction() {
        return checkedLoss(getLossFn());
    }

    /**
     * @return the weight of prompt tokens of the layer's loss function
     * @throws IllegalArgumentException as {@link #lossFunction()}
     */
    public double promptLossWeight() {
        return lossFunction().promptLossWeight();
    }

    /**
     * The schedule that a {@link PromptLossWeightListener} follows, saved in the network's JSON (as its text
     * form, field {@code "promptLossWeightSchedule"}) with the loss's current PLW; the step is the network's
     * iteration count, saved there too.
     *
     * @return the layer's PLW schedule, or null if the PLW is fixed
     * @throws IllegalArgumentException if a hand-edited JSON holds a schedule that does not parse
     */
    public PromptLossWeightSchedule promptLossWeightSchedule() {
        return promptLossWeightSchedule == null ? null : PromptLossWeightSchedule.parse(promptLossWeightSchedule);
    }

    /**
     * Whether the layer trains through the fused linear path ({@link Builder#fusedLinear(boolean)}), saved in the
     * network's JSON as field {@code "fusedLinear"}.
     *
     * @return true for the fused mode
     */
    public boolean isFusedLinear() {
        return fusedLinear;
    }

    /**
     * Creates the layer implementation, after checking the configuration.
     *
     * @param conf the layer's configuration in the network
     * @param trainingListeners the network's listeners
     * @param layerIndex the layer's index in the network
     * @param layerParamsView the layer's view of the network's flattened parameters
     * @param initializeParams whether to initialise the parameters
     * @param networkDataType the network's data type
     * @return a new implementation instance
     * @throws IllegalArgumentException if the activation is not the identity, the loss function is not a
     *         {@link LossWeightedCausalLM}, or the data format is not set
     */
    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
            Collection<TrainingListener> trainingListeners, int layerIndex, INDArray layerParamsView,
            boolean initializeParams, DataType networkDataType) {
        checkedActivation(getActivationFn());
        checkedLoss(getLossFn());
        if (getRnnDataFormat() == null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "WeightedCausalLMOutputLayer (layer %d, name %s): dataFormat must be set, to RNNFormat.NCW"
                            + " (labels [mb, 2, T]) or RNNFormat.NWC (labels [mb, T, 2]), on the builder or through"
                            + " the network's setInputType(InputType.recurrent(...)); was null", layerIndex,
                    getLayerName()));
        }
        LayerValidation.assertNInNOutSet("WeightedCausalLMOutputLayer", getLayerName(), layerIndex, getNIn(),
                getNOut());
        WeightedCausalLMOutputLayerImpl layer = new WeightedCausalLMOutputLayerImpl(conf, networkDataType);
        layer.setListeners(trainingListeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        Map<String, INDArray> params = initializer().init(conf, layerParamsView, initializeParams);
        layer.setParamTable(params);
        layer.setConf(conf);
        return layer;
    }

    static IActivation checkedActivation(IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "WeightedCausalLMOutputLayer: activation must be IDENTITY (the layer outputs logits, the loss"
                            + " applies log-softmax itself), was %s", activation));
        }
        return activation;
    }

    static LossWeightedCausalLM checkedLoss(ILossFunction loss) {
        if (!(loss instanceof LossWeightedCausalLM)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "WeightedCausalLMOutputLayer: lossFunction must be a LossWeightedCausalLM, was %s", loss));
        }
        return (LossWeightedCausalLM) loss;
    }

    /**
     * Equal to another {@code WeightedCausalLMOutputLayer} with equal fields; never equal to a plain
     * {@code RnnOutputLayer}.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof WeightedCausalLMOutputLayer other && super.equals(o)
                && Objects.equals(promptLossWeightSchedule, other.promptLossWeightSchedule)
                && fusedLinear == other.fusedLinear;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * super.hashCode() + 7 + Objects.hashCode(promptLossWeightSchedule))
                + Boolean.hashCode(fusedLinear);
    }

    @Override
    protected boolean canEqual(Object other) {
        return other instanceof WeightedCausalLMOutputLayer;
    }

    @Override
    public String toString() {
        return "WeightedCausalLMOutputLayer(" + super.toString() + ")";
    }

    @Override
    public WeightedCausalLMOutputLayer clone() {
        return (WeightedCausalLMOutputLayer) super.clone();
    }

    /**
     * Builds a {@link WeightedCausalLMOutputLayer}: the identity activation and a {@link LossWeightedCausalLM}
     * are preset, {@code nIn} (the size of the layer's input) and {@code nOut} (the vocabulary size) are
     * required, {@code dataFormat} is required unless the network has an input type. The other settings
     * (updater, weight init, regularisation, dropout, constraints, ...) are DL4J's, as on any output layer.
     */
    @SuppressWarnings("unchecked") // build() narrows Layer.Builder's generic <E extends Layer> E build()
    public static final class Builder extends BaseOutputLayer.Builder<Builder> {
        private RNNFormat rnnDataFormat;
        private PromptLossWeightSchedule schedule;
        private boolean fusedLinear;

        /** PLW {@value LossWeightedCausalLM#DEFAULT_PROMPT_LOSS_WEIGHT}: the full-sequence loss. */
        public Builder() {
            this(new LossWeightedCausalLM());
        }

        /**
         * @param promptLossWeight the weight of prompt tokens in {@code [0, 1]}
         * @throws IllegalArgumentException if {@code promptLossWeight} is NaN or outside {@code [0, 1]}
         */
        public Builder(double promptLossWeight) {
            this(new LossWeightedCausalLM(promptLossWeight));
        }

        /**
         * @param loss the loss, with its PLW and ignore index
         * @throws IllegalArgumentException if {@code loss} is null
         */
        public Builder(LossWeightedCausalLM loss) {
            lossFunction(loss);
            setActivationFn(new ActivationIdentity());
        }

        /**
         * Replaces the loss by one with this PLW, keeping its ignore index and normalisation.
         *
         * @param promptLossWeight the weight of prompt tokens in {@code [0, 1]}
         * @return this builder
         * @throws IllegalArgumentException if {@code promptLossWeight} is NaN or outside {@code [0, 1]}
         */
        public Builder promptLossWeight(double promptLossWeight) {
            return lossFunction(checkedLoss(lossFn).withPromptLossWeight(promptLossWeight));
        }

        /**
         * A PLW that changes during training: the built layer's loss has PLW {@code schedule.at(0)}, and a
         * {@link PromptLossWeightListener} on the network sets it to {@code schedule.at(step)} before every
         * update ({@code step} = the network's iteration count). Without the listener the PLW stays
         * {@code schedule.at(0)}.
         *
         * @param schedule the schedule; null: a fixed PLW (the loss's)
         * @return this builder
         */
        public Builder promptLossWeightSchedule(PromptLossWeightSchedule schedule) {
            this.schedule = schedule;
            return this;
        }

        /**
         * The fused mode: the layer's score and {@code backpropGradient} go through
         * {@link org.plw4j.WeightedCausalLMLoss#computeFromHiddenWithGradient(INDArray, INDArray, INDArray, INDArray,
         * org.plw4j.PromptCompletionMask, INDArray, INDArray, INDArray, org.plw4j.GradientMode)} with the layer's
         * own {@code W} (read in place as {@code W.transpose()}) and {@code b}, so that training never holds the
         * {@code [mb*T, V]} pre-output nor its {@code [mb*T, V]} gradient, only chunks of them (see
         * {@link org.plw4j.WeightedCausalLMLoss#withChunkBytes}). The score and the update are those of the unfused
         * layer (to rounding: the GEMMs sum in another order); {@code output()} still returns the logits.
         * Prompt targets of weight 0 (PLW 0) are skipped entirely ({@link org.plw4j.ZeroWeightRows#SKIPPED}): the
         * layer reports only the loss, which they do not change.
         *
         * @param fused true for the fused mode; false (the default) for DL4J's pre-output and loss function
         * @return this builder
         */
        public Builder fusedLinear(boolean fused) {
            this.fusedLinear = fused;
            return this;
        }

        /**
         * @param lossFunction must be a {@link LossWeightedCausalLM}
         * @return this builder
         * @throws IllegalArgumentException otherwise
         */
        @Override
        public Builder lossFunction(ILossFunction lossFunction) {
            return super.lossFunction(checkedLoss(lossFunction));
        }

        /**
         * Always rejected: the layer's loss is a {@link LossWeightedCausalLM}.
         *
         * @param lossFunction ignored
         * @return never
         * @throws IllegalArgumentException always
         */
        @Override
        public Builder lossFunction(LossFunctions.LossFunction lossFunction) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "WeightedCausalLMOutputLayer: lossFunction must be a LossWeightedCausalLM, was %s", lossFunction));
        }

        /**
         * @param activation must be {@link Activation#IDENTITY} (the default)
         * @return this builder
         * @throws IllegalArgumentException otherwise
         */
        @Override
        public Builder activation(Activation activation) {
            return activation(activation == null ? null : activation.getActivationFunction());
        }

        /**
         * @param activationFunction must be an {@link ActivationIdentity} (the default)
         * @return this builder
         * @throws IllegalArgumentException otherwise
         */
        @Override
        public Builder activation(IActivation activationFunction) {
            return super.activation(checkedActivation(activationFunction));
        }

        /**
         * @param rnnDataFormat {@link RNNFormat#NCW}: input {@code [mb, nIn, T]}, labels {@code [mb, 2, T]},
         *        output {@code [mb, V, T]}; {@link RNNFormat#NWC}: {@code [mb, T, nIn]}, {@code [mb, T, 2]},
         *        {@code [mb, T, V]}
         * @return this builder
         */
        public Builder dataFormat(RNNFormat rnnDataFormat) {
            this.rnnDataFormat = rnnDataFormat;
            return this;
        }

        /**
         * @return the layer configuration
         * @throws IllegalArgumentException if the activation was set to something other than the identity or
         *         the loss to something other than a {@link LossWeightedCausalLM} through the inherited setters
         */
        @Override
        public WeightedCausalLMOutputLayer build() {
            checkedActivation(getActivationFn());
            checkedLoss(getLossFn());
            return new WeightedCausalLMOutputLayer(this);
        }
    }
}
