package org.plw4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.LinearLossResult;
import org.plw4j.LossResult;

/**
 * Every {@link LinearLossBenchmark} method on a small batch (B*N 1024, H 8, V 50; two RACE-like rows) computes the
 * same loss and the same gradients. Tolerances (fp32 throughout): losses 1e-5 relative (the GEMMs round the
 * logits in different orders over H, ND4J's log-softmax and plw4j's kernel compute in fp32); gradients 1e-5 of
 * the largest element (sums over up to 1024 rows in different orders).
 */
class LinearLossBenchmarkTest {
    @ParameterizedTest
    @ValueSource(doubles = {0.1, 0.0})
    void allPathsComputeTheSameLossAndGradients(double plw) {
        LinearLossBenchmark.Data d = LinearLossBenchmark.Data.of("1024x8x50", plw);
        LinearLossBenchmark lb = new LinearLossBenchmark();
        LinearLossResult fused = lb.fusedForwardGradient(d);
        double want = fused.loss();
        assertTrue(want > 0 && Double.isFinite(want));
        double tol = 1e-5 * want;
        assertEquals(want, lb.fusedForward(d).loss(), tol, "fused forward");
        assertEquals(want, lb.floorForward(d).loss(), tol, "floor forward");
        assertEquals(want, lb.materialisedForward(d).loss(), tol, "materialised forward");
        assertEquals(want, lb.naiveForward(d), tol, "naive forward");
        INDArray dh = fused.hiddenGradient().reshape(1024, 8);
        INDArray dw = fused.weightGradient();
        for (Object[] r : new Object[][] {lb.floorForwardGradient(d), lb.materialisedForwardGradient(d),
                lb.naiveForwardGradient(d)}) {
            double loss = r[0] instanceof LossResult lr ? lr.loss() : (double) r[0];
            assertEquals(want, loss, tol);
            assertClose(dh, (INDArray) r[1], "dL/dh");
            assertClose(dw, (INDArray) r[2], "dL/dW");
        }
        if (plw == 0.0) {
            assertEquals(0, fused.promptTokens(), "prompt rows skipped at PLW 0");
            assertEquals(2 * LinearBatch.COMPLETION, fused.completionTokens());
        }
    }

    private static void assertClose(INDArray e, INDArray a, String what) {
        double scale = e.amaxNumber().doubleValue();
        assertTrue(scale > 0, what);
        double diff = e.sub(a).amaxNumber().doubleValue();
        assertTrue(diff <= 1e-5 * scale, what + ": max difference " + diff + " against max " + scale);
    }
}
