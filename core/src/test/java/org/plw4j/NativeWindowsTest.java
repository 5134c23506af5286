package org.plw4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.plw4j.kernel.ReferenceKernel;

/**
 * Logits larger than 2 GiB cannot be one ByteBuffer, so plw4j reads native memory through windows of
 * 1 GiB. Here the window is shrunk to a few elements so that every row straddles windows, and the
 * results must equal (bitwise) those computed with one window.
 */
@Isolated
class NativeWindowsTest {
    private final long saved = Nd4jArrays.windowBytes;

    @AfterEach
    void restore() {
        Nd4jArrays.windowBytes = saved;
    }

    @Test
    void tinyWindowsGiveTheSameResults() {
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE, DataType.HALF, DataType.BFLOAT16}) {
            for (TestData.ViewKind kind : TestData.ViewKind.values()) {
                Random rnd = new Random(dt.ordinal() * 10 + kind.ordinal());
                INDArray z = TestData.logits(rnd, 2, 5, 37, false, dt, kind, 2);
                INDArray ids = TestData.idArray(TestData.ids(rnd, 2, 5, 37), DataType.INT);
                PromptCompletionMask mask = PromptCompletionMask.ofRoles(TestData.roles(rnd, 2, 5));
                for (String k : new String[] {"reference", "cpu"}) {
                    WeightedCausalLMLoss loss = WeightedCausalLMLoss.withDefaults().withPromptLossWeight(0.5)
                            .withKernel(k.equals("reference") ? ReferenceKernel.INSTANCE : null);
                    Nd4jArrays.windowBytes = saved;
                    LossResult one = loss.computeWithGradient(z, ids, mask);
                    Nd4jArrays.windowBytes = 24; // 3..12 elements per window
                    LossResult many = loss.computeWithGradient(z, ids, mask);
                    assertEquals(one.loss(), many.loss(), 0.0, dt + " " + kind + " " + k);
                    assertEquals(one.summary(), many.summary());
                    assertEquals(one.gradient(), many.gradient());
                }
            }
        }
    }
}
