/**
 * DL4J integration: {@link org.plw4j.dl4j.LossWeightedCausalLM}, the prompt-loss-weighted causal-LM loss
 * as a DL4J {@code ILossFunction} for an {@code RnnOutputLayer} with the identity activation, and
 * {@link org.plw4j.dl4j.Dl4jLabels}, which turns token ids and a {@code PromptCompletionMask} into the
 * shifted inputs and labels it expects. Labels are {@code [mb, 2, T]} (NCW) or {@code [mb, T, 2]} (NWC):
 * next-token id, its role code (0 IGNORE, 1 PROMPT, 2 COMPLETION). Build the network with
 * {@code .miniBatch(false)} so that {@code net.score()} is exactly the weighted mean over tokens: DL4J
 * otherwise divides score and gradient by the number of sequences, which a loss function cannot see
 * (details and the DL4J 1.0.0-M2.1 facts behind them in the class documentation).
 *
 * <p>The adapter needs only nd4j-api's {@code ILossFunction}; deeplearning4j-nn is not a dependency of
 * plw4j-core.
 */
package org.plw4j.dl4j;
