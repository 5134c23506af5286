package org.plw4j.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The ND4J CUDA interop on ND4J's host backend (nd4j-native, the only one these tests have): it
 * says the CUDA backend is not active and refuses to run, naming why, without touching any class
 * of nd4j-cuda. (On nd4j-cuda itself it is untested.)
 */
class Nd4jCudaArraysTest {
    @Test
    void hostBackendIsNotTheCudaBackend() {
        assertFalse(Nd4jCudaArrays.cudaBackendActive(), Nd4j.getBackend().getClass().getName());
        INDArray z = Nd4j.rand(DataType.FLOAT, 1, 2, 5);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Nd4jCudaArrays.compute(z,
                new int[] {1, 2}, null, null, new double[2], new boolean[2]));
        assertTrue(e.getMessage().contains("JCublasBackend"), e.getMessage());
    }
}
