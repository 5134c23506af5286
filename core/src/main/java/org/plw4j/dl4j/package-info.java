/**
 * DL4J integration: {@link org.plw4j.dl4j.WeightedCausalLMOutputLayer}, a recurrent output layer (identity
 * activation, {@code nOut} = vocabulary size) whose {@code net.score()} is plw4j's weighted mean over the
 * batch's tokens and whose update uses exactly its gradient, with DL4J's default {@code miniBatch(true)} or
 * with {@code miniBatch(false)}, in a {@code MultiLayerNetwork} or a {@code ComputationGraph};
 * {@link org.plw4j.dl4j.LossWeightedCausalLM}, the loss as a DL4J {@code ILossFunction} (the layer's loss,
 * also usable in a plain {@code RnnOutputLayer} built with {@code .miniBatch(false)}: otherwise DL4J divides
 * score and gradient by the number of sequences, which a loss function cannot see); and
 * {@link org.plw4j.dl4j.Dl4jLabels}, which turns token ids and a {@code PromptCompletionMask} into the shifted
 * inputs and labels they expect. Labels are {@code [mb, 2, T]} (NCW) or {@code [mb, T, 2]} (NWC): next-token
 * id, its role code (0 IGNORE, 1 PROMPT, 2 COMPLETION). The DL4J 1.0.0-M2.1 facts behind the design are in
 * the class documentation.
 *
 * <p>deeplearning4j-nn is an optional dependency of plw4j-core: a project that uses this package declares it
 * (and {@link org.plw4j.dl4j.LossWeightedCausalLM} and {@link org.plw4j.dl4j.Dl4jLabels} alone need only
 * nd4j-api).
 */
package org.plw4j.dl4j;
