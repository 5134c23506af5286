/**
 * The kernel layer: pure-Java compute on raw memory, independent of ND4J's native library.
 *
 * <p>Public are the types that a user or a backend needs, and nothing else:
 * <ul>
 * <li>for users: {@link org.plw4j.kernel.FusedCpuKernel} (the {@code cpu} backend: parallelism, warm-up),
 * {@link org.plw4j.kernel.ReferenceKernel} (plain loops, double accumulators: the oracle for every fast
 * path) and {@link org.plw4j.kernel.Backends} (the choice by the system property {@code plw4j.backend});</li>
 * <li>for backends: {@link org.plw4j.kernel.LossKernel} (what a backend implements),
 * {@link org.plw4j.kernel.LossKernelProvider} (how it is found; {@link org.plw4j.kernel.CpuKernelProvider}
 * is the built-in one, public for {@link java.util.ServiceLoader}), {@link org.plw4j.kernel.LossProblem}
 * (one checked computation), {@link org.plw4j.kernel.Memory} and {@link org.plw4j.kernel.ElementType}
 * (logits and gradients as strided typed memory) and {@link org.plw4j.kernel.Half} (the 16-bit
 * conversions, rounding as the kernels do).</li>
 * </ul>
 * The fused kernel's scheduling, workers and inner loops are package-private.
 */
package org.plw4j.kernel;
