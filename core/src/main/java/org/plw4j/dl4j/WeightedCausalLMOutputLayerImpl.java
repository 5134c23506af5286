package org.plw4j.dl4j;

import java.util.Arrays;
import java.util.Locale;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.GradientMode;
import org.plw4j.LinearLossResult;
import org.plw4j.LossResult;
import org.plw4j.PromptCompletionMask;
import org.plw4j.WeightedCausalLMLoss;
import org.plw4j.ZeroWeightRows;

/**
 * The implementation of {@link WeightedCausalLMOutputLayer}: DL4J's recurrent output layer with an undivided
 * score and, under {@code miniBatch(true)}, gradients multiplied by the number the updater divides them by
 * (see the configuration class for the DL4J 1.0.0-M2.1 facts).
 *
 * <p>In the fused mode ({@link WeightedCausalLMOutputLayer#isFusedLinear()}) score, per-example scores and
 * {@code backpropGradient} go through {@link WeightedCausalLMLoss#computeFromHiddenWithGradient} on DL4J's
 * flattened input {@code [mb*T, nIn]} (rows {@code b + mb*t}, as the unfused layer's pre-output), with
 * {@code W.transpose()} and {@code b} read in place and the parameter gradient views written in place; the
 * {@code [mb*T, V]} pre-output and its gradient never exist. {@code activate} (inference) is unchanged.
 * {@code MultiLayerNetwork} and {@code ComputationGraph} ask for the training score right after the backward
 * pass on the same input, labels and parameters; the fused backward pass keeps its loss for that one request
 * (matched by the identity of input, labels, mask, loss function and the iteration count) instead of running
 * the forward GEMM again.
 */
final class WeightedCausalLMOutputLayerImpl extends RnnOutputLayer {
    private static final long serialVersionUID = 1L;

    /** The loss of the last fused backward pass, for the score request that follows it; null once used. */
    private transient FusedScore lastFused;

    /** What the fused backward pass computed its loss from, and the loss. */
    private record FusedScore(INDArray input, INDArray labels, INDArray mask, LossWeightedCausalLM loss,
            int iteration, double value) {
        boolean matches(FusedScore o) {
            return input == o.input && labels == o.labels && mask == o.mask && loss.equals(o.loss)
                    && iteration == o.iteration;
        }
    }

    WeightedCausalLMOutputLayerImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /**
     * The loss function's score plus the network's regularisation term, never divided by the minibatch size
     * (DL4J's {@code BaseOutputLayer.computeScore} divides by {@code getInputMiniBatchSize()} under
     * {@code miniBatch(true)}).
     */
    @Override
    public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (input == null || labels == null) {
            throw new IllegalStateException("Cannot calculate score without input and labels " + layerId());
        }
        checkLabels();
        if (fused()) {
            FusedScore key = new FusedScore(input, labels, maskArray, lossFn(), getIterationCount(), 0);
            FusedScore kept = lastFused;
            lastFused = null;
            double loss = kept != null && training && kept.matches(key) ? kept.value
                    : fusedForward(training, workspaceMgr).loss();
            score = loss + fullNetRegTerm;
            return score;
        }
        INDArray preOut = preOutput2d(training, workspaceMgr);
        INDArray labels2d = getLabels2d(workspaceMgr, ArrayType.FF_WORKING_MEM);
        double loss = layerConf().getLossFn().computeScore(labels2d, preOut, layerConf().getActivationFn(),
                maskArray, false);
        score = loss + fullNetRegTerm;
        return score;
    }

    /**
     * DL4J's per-example scores (never divided by the minibatch size), after the labels check, moved to the
     * activations workspace: DL4J 1.0.0-M2.1's {@code RnnOutputLayer.computeScoreForExamples} leaves them in
     * the layer's working-memory workspace, which {@code ComputationGraph.scoreExamples} closes before it
     * detaches the result (an {@code ND4JWorkspaceException} whatever the loss function).
     */
    @Override
    public INDArray computeScoreForExamples(double fullNetRegTerm, LayerWorkspaceMgr workspaceMgr) {
        if (input != null && labels != null) {
            checkLabels();
        }
        if (fused()) {
            if (input == null || labels == null) {
                throw new IllegalStateException("Cannot calculate score without input and labels " + layerId());
            }
            LossResult r = fusedForward(false, workspaceMgr);
            double[] shares = lossFn().rowShares(r, fusedTargets.codes());
            INDArray rows = Nd4j.createFromArray(shares).reshape(shares.length, 1).castTo(fusedType());
            INDArray perExample = TimeSeriesUtils.reshapeVectorToTimeSeriesMask(rows, (int) input.size(0)).sum(true, 1);
            if (fullNetRegTerm != 0.0) {
                perExample.addi(fullNetRegTerm);
            }
            return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS, perExample);
        }
        return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS,
                super.computeScoreForExamples(fullNetRegTerm, workspaceMgr));
    }

    /**
     * DL4J's gradients of the layer, then, under {@code miniBatch(true)}, the parameter gradients (views of the
     * network's flattened gradient) and the epsilon multiplied in place by {@code labels.size(0)}: the
     * {@code batchSize()} (labels' first dimension) that {@code BaseMultiLayerUpdater.divideByMinibatch}
     * divides every gradient by before the update rule.
     */
    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        if (labels != null) {
            checkLabels();
        }
        Pair<Gradient, INDArray> out = fused() ? fusedBackprop(workspaceMgr)
                : super.backpropGradient(epsilon, workspaceMgr);
        if (conf().isMiniBatch()) {
            double mb = labels.size(0);
            for (INDArray g : out.getFirst().gradientForVariable().values()) {
                g.muli(mb);
            }
            if (out.getSecond() != null) {
                out.getSecond().muli(mb);
            }
        }
        return out;
    }

    private boolean fused() {
        return ((WeightedCausalLMOutputLayer) layerConf()).isFusedLinear();
    }

    private LossWeightedCausalLM lossFn() {
        return WeightedCausalLMOutputLayer.checkedLoss(layerConf().getLossFn());
    }

    private DataType fusedType() {
        return params.get(DefaultParamInitializer.WEIGHT_KEY).dataType();
    }

    /** The targets of the last {@link #fusedProblem} (rows {@code b + mb*t}). */
    private transient Batch.Targets fusedTargets;

    /** The inputs of one fused call: hidden {@code [1, mb*T, nIn]}, {@code W^T}, b, ids, roles. */
    private record Problem(INDArray hidden, INDArray weight, INDArray bias, INDArray ids, PromptCompletionMask roles,
            WeightedCausalLMLoss loss) {
    }

    /**
     * DL4J's flattened input (after dropout, when training), W (with weight noise) and targets as a fused call.
     * Sets {@link #fusedTargets}. The caller restores {@code input}.
     */
    private Problem fusedProblem(boolean training, LayerWorkspaceMgr mgr, ArrayType arrayType) {
        INDArray x = layerConf().getRnnDataFormat() == RNNFormat.NWC ? input.permute(0, 2, 1) : input;
        input = TimeSeriesUtils.reshape3dTo2d(x, mgr, arrayType); // [mb*T, nIn], rows b + mb*t
        applyDropOutIfNecessary(training, mgr);
        INDArray w = getParamWithNoise(DefaultParamInitializer.WEIGHT_KEY, training, mgr); // [nIn, V]
        INDArray b = hasBias() ? getParamWithNoise(DefaultParamInitializer.BIAS_KEY, training, mgr) : null;
        INDArray x2d = input.dataType() == w.dataType() ? input : input.castTo(w.dataType());
        int rows = (int) x2d.size(0);
        int vocab = (int) w.size(1);
        LossWeightedCausalLM lf = lossFn();
        fusedTargets = Batch.Targets.of(getLabels2d(mgr, arrayType), maskArray, rows, vocab, lf.ignoreIndex());
        INDArray hidden = x2d.reshape(x2d.ordering(), 1, rows, x2d.size(1)); // a view of the flattened input
        return new Problem(hidden, w.transpose(), b, Nd4j.createFromArray(new int[][] {fusedTargets.ids()}),
                PromptCompletionMask.ofRoles(new int[][] {fusedTargets.codes()}),
                lf.asWeightedCausalLMLoss().withZeroWeightRows(ZeroWeightRows.SKIPPED));
    }

    private LossResult fusedForward(boolean training, LayerWorkspaceMgr mgr) {
        INDArray original = input;
        try {
            Problem p = fusedProblem(training, mgr, ArrayType.FF_WORKING_MEM);
            return p.loss.computeFromHidden(p.hidden, p.weight, p.bias, p.ids, p.roles);
        } finally {
            input = original;
        }
    }

    /**
     * The fused backward pass: the parameter gradient views and the epsilon {@code [mb*T, nIn]} (then 3d, as
     * DL4J's RnnOutputLayer shapes it) written by one {@code computeFromHiddenWithGradient} call.
     */
    private Pair<Gradient, INDArray> fusedBackprop(LayerWorkspaceMgr mgr) {
        lastFused = null;
        INDArray original = input;
        INDArray eps2d;
        LinearLossResult r;
        try {
            Problem p = fusedProblem(true, mgr, ArrayType.BP_WORKING_MEM);
            long rows = p.hidden.size(1);
            long nIn = p.hidden.size(2);
            eps2d = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, p.hidden.dataType(), new long[] {rows, nIn}, 'f');
            INDArray wGrad = gradientViews.get(DefaultParamInitializer.WEIGHT_KEY); // [nIn, V]
            INDArray bGrad = p.bias == null ? null : gradientViews.get(DefaultParamInitializer.BIAS_KEY);
            r = p.loss.computeFromHiddenWithGradient(p.hidden, p.weight, p.bias, p.ids, p.roles,
                    eps2d.reshape('f', 1, rows, nIn), wGrad.transpose(), bGrad, GradientMode.OVERWRITE);
        } finally {
            input = original;
        }
        lastFused = new FusedScore(input, labels, maskArray, lossFn(), getIterationCount(), r.loss());
        Gradient gradient = new DefaultGradient();
        gradient.gradientForVariable().put(DefaultParamInitializer.WEIGHT_KEY,
                gradientViews.get(DefaultParamInitializer.WEIGHT_KEY));
        if (hasBias()) {
            gradient.gradientForVariable().put(DefaultParamInitializer.BIAS_KEY,
                    gradientViews.get(DefaultParamInitializer.BIAS_KEY));
        }
        INDArray eps = backpropDropOutIfPresent(eps2d);
        INDArray eps3d = TimeSeriesUtils.reshape2dTo3d(eps, input.size(0), mgr, ArrayType.ACTIVATION_GRAD);
        if (layerConf().getRnnDataFormat() == RNNFormat.NWC) {
            eps3d = eps3d.permute(0, 2, 1);
        }
        weightNoiseParams.clear();
        return new Pair<>(gradient, eps3d);
    }

    /** Labels {@code [mb, 2, T]} (NCW) or {@code [mb, T, 2]} (NWC), with the input's {@code mb} and {@code T}. */
    private void checkLabels() {
        RNNFormat format = layerConf().getRnnDataFormat();
        boolean nwc = format == RNNFormat.NWC;
        int channelDim = nwc ? 2 : 1;
        int timeDim = nwc ? 1 : 2;
        boolean ok = labels.rank() == 3 && labels.size(channelDim) == 2;
        if (ok && input.rank() == 3) {
            ok = labels.size(0) == input.size(0) && labels.size(timeDim) == input.size(timeDim);
        }
        if (!ok) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "WeightedCausalLMOutputLayer (%s): labels must be %s (channel 0 target id, channel 1 role code)"
                            + " with the mb and T of the layer's input %s, were %s", format,
                    nwc ? "[mb, T, 2]" : "[mb, 2, T]", Arrays.toString(input.shape()),
                    Arrays.toString(labels.shape())));
        }
    }
}
