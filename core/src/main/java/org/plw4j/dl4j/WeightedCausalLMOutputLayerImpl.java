package org.plw4j.dl4j;

import java.util.Arrays;
import java.util.Locale;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The implementation of {@link WeightedCausalLMOutputLayer}: DL4J's recurrent output layer with an undivided
 * score and, under {@code miniBatch(true)}, gradients multiplied by the number the updater divides them by
 * (see the configuration class for the DL4J 1.0.0-M2.1 facts).
 */
final class WeightedCausalLMOutputLayerImpl extends RnnOutputLayer {
    private static final long serialVersionUID = 1L;

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
        Pair<Gradient, INDArray> out = super.backpropGradient(epsilon, workspaceMgr);
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
