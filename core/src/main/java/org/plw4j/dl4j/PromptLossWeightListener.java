package org.plw4j.dl4j;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.PromptLossWeightSchedule;

/**
 * A DL4J {@code TrainingListener} that moves the prompt loss weight of every
 * {@link WeightedCausalLMOutputLayer} built with a
 * {@link WeightedCausalLMOutputLayer.Builder#promptLossWeightSchedule(PromptLossWeightSchedule) schedule}:
 * before each update it sets the layer's loss to PLW {@code schedule.at(step)}, {@code step} being the
 * network's iteration count (the number of updates done so far: 0 for the first), and after each update to
 * the PLW of the next step. Layers without a schedule keep their PLW.
 *
 * <p><b>Saved and restored with the model.</b> The schedule lives in the layer's configuration (JSON field
 * {@code "promptLossWeightSchedule"}), the step is DL4J's iteration count (saved in the network's
 * configuration JSON), and the loss's current PLW is saved with the loss. So a network written with
 * {@code ModelSerializer} (or its configuration with {@code toJson}) and restored continues the schedule where
 * it stopped once a new listener is added: DL4J does not save listeners.
 *
 * <pre>{@code
 * .layer(new WeightedCausalLMOutputLayer.Builder()
 *         .promptLossWeightSchedule(PromptLossWeightSchedule.linear(1.0, 0.0, 1000))
 *         .nIn(hidden).nOut(vocab).dataFormat(RNNFormat.NCW).build())
 * ...
 * net.addListeners(new PromptLossWeightListener());
 * }</pre>
 *
 * <p>Works for a {@link MultiLayerNetwork} and a {@link ComputationGraph}, whatever the layer's other
 * settings. Stateless, so one instance may serve several networks; the network's configuration is changed
 * from the training thread, as DL4J's own listeners do.
 */
public final class PromptLossWeightListener extends BaseTrainingListener {

    /** Creates the listener; the schedules come from the layers. */
    public PromptLossWeightListener() {
        // stateless
    }

    /** Before the backward pass of a {@code MultiLayerNetwork} update. */
    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        apply(model);
    }

    /** Before the backward pass of a {@code ComputationGraph} update. */
    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        apply(model);
    }

    /**
     * After an update: the PLW of the next step, so that a model saved now holds it (DL4J 1.0.0-M2.1 calls
     * this with the index of the update just done, before it increments the iteration count).
     */
    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        apply(model, iteration + 1L);
    }

    /**
     * Sets the PLW of every scheduled {@link WeightedCausalLMOutputLayer} of {@code model} to
     * {@code schedule.at(iterationCount)}.
     *
     * @param model a {@link MultiLayerNetwork} or a {@link ComputationGraph}, initialised
     * @return the step used: the network's iteration count
     * @throws IllegalArgumentException if {@code model} is neither
     */
    public static long apply(Model model) {
        long step;
        if (model instanceof MultiLayerNetwork net) {
            step = net.getLayerWiseConfigurations().getIterationCount();
        } else if (model instanceof ComputationGraph graph) {
            step = graph.getConfiguration().getIterationCount();
        } else {
            throw unsupported(model);
        }
        apply(model, step);
        return step;
    }

    private static IllegalArgumentException unsupported(Model model) {
        return new IllegalArgumentException(String.format(Locale.ROOT,
                "model must be a MultiLayerNetwork or a ComputationGraph, was %s",
                model == null ? null : model.getClass().getName()));
    }

    private static void apply(Model model, long step) {
        Layer[] layers;
        if (model instanceof MultiLayerNetwork net) {
            layers = net.getLayers();
        } else if (model instanceof ComputationGraph graph) {
            layers = graph.getLayers();
        } else {
            throw unsupported(model);
        }
        for (Layer layer : layers) {
            if (layer.conf().getLayer() instanceof WeightedCausalLMOutputLayer conf) {
                PromptLossWeightSchedule schedule = conf.promptLossWeightSchedule();
                if (schedule != null) {
                    double w = schedule.at(step);
                    if (w != conf.promptLossWeight()) {
                        conf.setLossFn(conf.lossFunction().withPromptLossWeight(w));
                    }
                }
            }
        }
    }
}
