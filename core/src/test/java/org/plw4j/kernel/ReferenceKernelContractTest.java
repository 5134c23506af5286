package org.plw4j.kernel;

/**
 * The contract suite run against the reference kernel itself: the comparisons with the reference are
 * trivially equal, the worked examples and edge cases (arg-max rules, non-finite logits, V = 1, zero
 * rows, padding, in place) check the oracle against SPEC.md.
 */
class ReferenceKernelContractTest extends LossKernelContract {
    @Override
    protected LossKernel kernel() {
        return ReferenceKernel.INSTANCE;
    }
}
