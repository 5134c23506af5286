package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.plw4j.kernel.FusedCpuKernel;

/**
 * {@code computeWithGradient} allocates its new gradient array as ND4J's {@code createUninitialized} does:
 * in the active workspace when there is one (a DL4J training loop, or a caller's own scope), detached
 * otherwise. Inside a workspace every call reuses the workspace's memory, so a training loop pays no
 * fresh pages for the gradient (on the benchmark machine a fresh 262 MB array costs ~0.9 s of page faults,
 * benchmarks/results/first-touch.txt). Expected values: the same call outside any workspace, bitwise
 * (same kernel, same inputs).
 */
class GradientWorkspaceTest {
    private static final WorkspaceConfiguration CONF = WorkspaceConfiguration.builder().initialSize(8L << 20)
            .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.NONE)
            .policySpill(SpillPolicy.REALLOCATE).build();

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT", "BFLOAT16", "DOUBLE"})
    @SuppressWarnings("try") // the workspace is used through its activation
    void newGradientGoesIntoTheActiveWorkspaceAndReusesItsMemory(DataType dt) {
        Random rnd = new Random(11);
        INDArray z = TestData.logits(rnd, 2, 5, 37, false, dt, TestData.ViewKind.C_ORDER, 2.0);
        long[][] ids = TestData.ids(rnd, 2, 5, 37);
        int[][] roles = TestData.roles(rnd, 2, 5);
        WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.1).withKernel(FusedCpuKernel.create());
        INDArray idArray = TestData.idArray(ids, DataType.LONG);
        PromptCompletionMask mask = PromptCompletionMask.ofRoles(roles);

        LossResult outside = loss.computeWithGradient(z, idArray, mask);
        assertFalse(outside.gradient().isAttached(), "no workspace: a detached array");
        double[] want = outside.gradient().castTo(DataType.DOUBLE).data().asDouble();

        long[] address = new long[3];
        for (int call = 0; call < 3; call++) {
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(CONF, "plw4j-test")) {
                LossResult in = loss.computeWithGradient(z, idArray, mask);
                INDArray g = in.gradient();
                assertTrue(g.isAttached(), "allocated in the active workspace");
                assertSame(ws, g.data().getParentWorkspace());
                assertEquals(outside.loss(), in.loss(), 0.0);
                double[] got = g.castTo(DataType.DOUBLE).data().asDouble();
                for (int k = 0; k < want.length; k++) {
                    assertEquals(want[k], got[k], 0.0, "gradient element " + k);
                }
                address[call] = g.data().address();
            }
        }
        assertEquals(address[1], address[2], "every call after the first uses the same workspace memory");
        assertEquals(address[0], address[1], "... and so does the first (the workspace is allocated up front)");
    }
}
