package org.plw4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.LossResult;

/**
 * Every benchmark method runs on a tiny batch (B=3, N=16, V=50) and they all compute the same loss:
 * the weighted mean {@code Σ w ℓ / Σ w} of plw4j (fused and reference), of the naive path and of ND4J's
 * sparse op; DL4J's {@code LossMCXENT} averages over the {@code B·N} positions instead of {@code Σ w}, so
 * its score times {@code B·N / Σ w} is the same number. Gradients: naive, DL4J (whose gradient is the
 * unnormalised {@code w·(softmax - onehot)}: divided by {@code Σ w}) and plw4j agree element-wise. Tolerances: fp32 logits 1e-4 relative on the loss (ND4J computes in
 * fp32, plw4j's fused kernel in fp32 inside a row), 1e-3 relative plus 1e-4 of the largest element on the
 * gradient. bf16 logits: the naive path and plw4j read the same bf16 values and compute in fp32 (1e-4),
 * ND4J's sparse op and DL4J compute in bf16 arithmetic (2e-2: bf16 carries 8 significant bits, 2^-8 =
 * 3.9e-3 per rounding, compounded over exp, sum and log); bf16 gradients are rounded to bf16 by every
 * method (one bf16 ulp, 2^-7 relative, plus the bf16 arithmetic of DL4J: 2e-2 relative, 2e-2 of the largest).
 */
class LossBenchmarkTest {
    @ParameterizedTest
    @ValueSource(strings = {"FLOAT", "BFLOAT16"})
    void allMethodsComputeTheSameLoss(String dtype) throws Exception {
        LossBenchmark.Data d = new LossBenchmark.Data();
        d.shape = "3x16x50";
        d.dtype = dtype;
        d.setUp();
        try {
            LossBenchmark.Naive nv = new LossBenchmark.Naive();
            nv.setUp(d);
            LossBenchmark.Sparse sp = new LossBenchmark.Sparse();
            sp.setUp(d);
            LossBenchmark.OneHot oh = new LossBenchmark.OneHot();
            oh.setUp(d);
            LossBenchmark lb = new LossBenchmark();
            ReferenceKernelBenchmark rb = new ReferenceKernelBenchmark();
            rb.shape = d.shape;
            rb.dtype = dtype;
            rb.setUp();

            LossResult fused = lb.fusedForward(d);
            double want = fused.loss();
            boolean bf16 = dtype.equals("BFLOAT16");
            double tol = 1e-4 * Math.abs(want);
            double tolNative = (bf16 ? 2e-2 : 1e-4) * Math.abs(want);
            double gRel = bf16 ? 2e-2 : 1e-3;
            double gAbs = bf16 ? 2e-2 : 1e-4;
            assertTrue(want > 0 && Double.isFinite(want));
            assertEquals(want, rb.referenceForward().loss(), tol, "reference");
            assertEquals(want, lb.naiveForward(d, nv), tol, "naive");
            assertEquals(want, lb.naiveForwardWorkspace(d, nv), tol, "naive in a workspace");
            assertEquals(want, lb.nd4jSparseSoftmaxCE(d, sp), tolNative, "ND4J sparse softmax CE");
            double positions = d.batch.b * d.batch.n;
            assertEquals(want, lb.dl4jMcxentForward(d, oh) * positions / d.batch.weightSum, tolNative,
                    "DL4J LossMCXENT");
            assertTrue(lb.streamRead(d) == lb.streamRead(d));

            INDArray g = lb.fusedForwardGradient(d).gradient();
            assertEquals(want, lb.fusedForwardGradient(d).loss(), 0.0);
            Object[] naive = lb.naiveForwardGradient(d, nv);
            assertEquals(want, (double) naive[0], tol);
            INDArray ng = (INDArray) naive[1];
            Pair<Double, INDArray> mc = lb.dl4jMcxentForwardGradient(d, oh);
            INDArray mg = mc.getSecond().reshape(d.batch.b, d.batch.n, d.batch.v);
            double gmax = g.amaxNumber().doubleValue();
            for (int b = 0; b < d.batch.b; b++) {
                for (int t = 0; t < d.batch.n; t++) {
                    for (int v = 0; v < d.batch.v; v++) {
                        double x = g.getDouble(b, t, v);
                        assertEquals(x, ng.getDouble(b, t, v), gAbs * gmax + gRel * Math.abs(x), "naive gradient");
                        assertEquals(x, mg.getDouble(b, t, v) / d.batch.weightSum,
                                gAbs * gmax + gRel * Math.abs(x), "DL4J gradient");
                    }
                }
            }
            LossBenchmark.GradientBuffer gb = new LossBenchmark.GradientBuffer();
            gb.setUp(d);
            LossResult reused = lb.fusedForwardGradientReused(d, gb);
            assertEquals(want, reused.loss(), 0.0);
            assertEquals(0.0, reused.gradient().sub(g).amaxNumber().doubleValue(), 0.0, "same gradient, reused array");
            LossBenchmark.GradientWorkspace gw = new LossBenchmark.GradientWorkspace();
            gw.setUp(d);
            for (int call = 0; call < 2; call++) {   // the second call reuses the workspace's memory
                double[] fw = lb.fusedForwardGradientWorkspace(d, gw);
                assertEquals(want, fw[0], 0.0, "fused in a workspace");
                assertEquals(g.getDouble(0, 0, 0), fw[1], 0.0, "fused gradient in a workspace");
            }
            double[] ws = lb.naiveForwardGradientWorkspace(d, nv);
            assertEquals(want, ws[0], tol);
            assertEquals(g.getDouble(0, 0, 0), ws[1], gAbs * gmax + gRel * Math.abs(ws[1]));
            // last: it overwrites the logits
            assertEquals(want, lb.fusedForwardGradientInPlace(d).loss(), tol);
        } finally {
            d.tearDown();
        }
    }
}
