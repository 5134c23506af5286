package org.plw4j.kernel;

/** A test-only backend whose probe throws: it must never break backend selection. */
public final class BrokenTestProvider implements LossKernelProvider {
    /** For ServiceLoader. */
    public BrokenTestProvider() {
    }

    @Override
    public String name() {
        return "broken-test";
    }

    @Override
    public int priority() {
        return 1000;
    }

    @Override
    public String unavailableReason() {
        throw new IllegalStateException("simulated probe failure");
    }

    @Override
    public LossKernel kernel() {
        throw new IllegalStateException("not usable");
    }
}
