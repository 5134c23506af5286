/**
 * The kernel layer: pure-Java compute on raw memory, independent of ND4J's native library.
 *
 * <p>{@link org.plw4j.kernel.Memory} describes logits and gradients as strided typed memory,
 * {@link org.plw4j.kernel.LossProblem} is one checked computation, {@link org.plw4j.kernel.LossKernel}
 * is what a backend implements. {@link org.plw4j.kernel.ReferenceKernel} (plain loops, double
 * accumulators) is the oracle for every fast path. Backends are found through
 * {@link org.plw4j.kernel.LossKernelProvider} and chosen by {@link org.plw4j.kernel.Backends}.
 */
package org.plw4j.kernel;
