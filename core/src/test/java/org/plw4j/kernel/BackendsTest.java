package org.plw4j.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Backend choice through ServiceLoader and the plw4j.backend names; a throwing provider is on the test class path. */
class BackendsTest {

    @Test
    void namedBackends() {
        assertSame(ReferenceKernel.INSTANCE, Backends.byName("reference"));
        assertEquals("fused-cpu", Backends.byName("cpu").name());
    }

    @Test
    void autoSkipsAProviderWhoseProbeThrows() {
        assertEquals("fused-cpu", Backends.byName("auto").name());
    }

    @Test
    void aProviderWhoseProbeThrowsIsReportedWhenForced() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.byName("broken-test"));
        assertTrue(e.getMessage().contains("simulated probe failure"), e.getMessage());
    }

    @Test
    void anAbsentBackendIsNamed() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.byName("cuda"));
        assertTrue(e.getMessage().contains("plw4j.backend=cuda") && e.getMessage().contains("plw4j-cuda"),
                e.getMessage());
    }
}
