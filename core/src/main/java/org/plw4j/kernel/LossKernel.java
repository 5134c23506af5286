package org.plw4j.kernel;

/**
 * A loss kernel: reads the logits of a {@link LossProblem} and produces, per position, the token
 * loss {@code lse(z) - z[y]} and whether the arg-max logit is the target; optionally the gradient.
 * All reductions over tokens (weighted sums, prompt/completion metrics, normalisation) happen
 * outside the kernel in a fixed order, so every kernel gives the same sums for the same token losses.
 *
 * <p>Implementations must be thread-safe (one instance serves concurrent calls) and deterministic:
 * the same problem gives bitwise the same outputs, whatever the thread count.
 */
public interface LossKernel {
    /** @return a short name for logs and reports, e.g. {@code reference}, {@code fused-cpu}, {@code cuda} */
    String name();

    /**
     * Runs the kernel.
     *
     * @param problem the checked problem
     * @param tokenLoss output, length {@code B*N}: the loss of each active position, 0 elsewhere
     * @param tokenCorrect output, length {@code B*N}: whether the arg-max of each active position is its target
     */
    void run(LossProblem problem, double[] tokenLoss, boolean[] tokenCorrect);

    /**
     * @return whether this kernel implements the optional extensions of SPEC section 7 (label
     *         smoothing, z-loss, logit soft-capping); the API runs problems that use them on the
     *         reference kernel otherwise
     */
    default boolean supportsExtensions() {
        return false;
    }

    /**
     * @return whether this kernel fills the per-position entropy and arg-max outputs of a problem
     *         ({@link LossProblem#entropyOut()}, {@link LossProblem#argMaxOut()}, SPEC section 13); the API
     *         runs problems that ask for them on the reference kernel otherwise
     */
    default boolean supportsOutputs() {
        return false;
    }
}
