/**
 * SameDiff integration: {@link org.plw4j.samediff.PlwSameDiff#weightedCausalLMLoss} builds the
 * prompt-loss-weighted causal-LM loss from {@code SDVariable}s (logits, target ids, role codes, PLW)
 * out of ops whose autodiff passes the incoming gradient on, so that SameDiff training and
 * {@code calculateGradients} see the gradient of the weighted mean. It deliberately avoids
 * {@code sd.loss.sparseSoftmaxCrossEntropy}, whose backward pass in ND4J 1.0.0-M2.1 ignores the
 * incoming gradient (see the class documentation).
 */
package org.plw4j.samediff;
