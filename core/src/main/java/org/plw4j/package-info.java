/**
 * plw4j's public API: the prompt-loss-weighted causal-LM loss over ND4J arrays.
 *
 * <p>{@link org.plw4j.WeightedCausalLMLoss} (immutable configuration, thread-safe) computes a
 * {@link org.plw4j.LossResult} from logits, input ids and a {@link org.plw4j.PromptCompletionMask};
 * {@link org.plw4j.LossSummary} merges results exactly across micro-batches, shards and workers.
 *
 * <pre>{@code
 * WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1);
 * LossResult r = loss.computeWithGradient(logits, inputIds, PromptCompletionMask.ofRoles(roles));
 * }</pre>
 */
package org.plw4j;
