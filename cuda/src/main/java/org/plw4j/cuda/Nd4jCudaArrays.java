package org.plw4j.cuda;

import java.util.Arrays;
import java.util.Locale;
import org.nd4j.jita.allocator.impl.AtomicAllocator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.jcublas.context.CudaContext;
import org.plw4j.kernel.ElementType;

/**
 * Hands arrays of ND4J's CUDA backend ({@code nd4j-cuda-11.6}) to the CUDA kernels in place, by
 * device pointer, with no copy of the logits. Arrays of the host backend ({@code nd4j-native})
 * take the staged path of {@link CudaLossKernel#run} instead.
 *
 * <p><b>Untested:</b> the module is compiled against {@code nd4j-cuda-11.6}'s classes only (its
 * native jar, 600 MB, is never a dependency) and no test has run this class on that backend yet.
 * Its classes are touched only when {@link #cudaBackendActive()} is true, so the class loads and
 * {@link #cudaBackendActive()} answers on any backend. Both sides use the device's primary
 * context (ND4J through the CUDA runtime, plw4j through the driver API), so device pointers are
 * valid in both; ND4J's pending work on an array is waited for before the kernel reads it, and a
 * gradient written by the kernel is marked as newer on the device.
 */
public final class Nd4jCudaArrays {
    private static final String CUDA_BACKEND = "org.nd4j.linalg.jcublas.JCublasBackend";

    private Nd4jCudaArrays() {
    }

    /** @return whether ND4J's current backend is its CUDA backend (false when ND4J cannot load) */
    public static boolean cudaBackendActive() {
        try {
            return CUDA_BACKEND.equals(Nd4j.getBackend().getClass().getName());
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /**
     * Computes per-position losses (and optionally the gradient) of NWC logits {@code [B, N, V]} on
     * ND4J's CUDA backend, in place.
     *
     * @param logits {@code [B, N, V]} FLOAT, HALF or BFLOAT16 with unit stride along V
     * @param targets per position {@code b*N + t} the target id, or negative when inactive
     * @param gradScale per position factor of (softmax - onehot), or null for no gradient
     * @param gradient {@code [B, N, V]} of the logits' dtype or FLOAT with unit stride along V (may
     *        be {@code logits} itself: in place), or null for no gradient
     * @param tokenLoss output, length {@code B*N}
     * @param tokenCorrect output, length {@code B*N}
     * @throws IllegalStateException if ND4J's backend is not its CUDA backend, or CUDA is not usable
     * @throws IllegalArgumentException if a shape, dtype or stride breaks the rules above
     */
    public static void compute(INDArray logits, int[] targets, double[] gradScale, INDArray gradient,
            double[] tokenLoss, boolean[] tokenCorrect) {
        if (!cudaBackendActive()) {
            throw new IllegalStateException("ND4J's backend is not its CUDA backend (" + CUDA_BACKEND
                    + "); host arrays take CudaLossKernel.run");
        }
        if ((gradScale == null) != (gradient == null)) {
            throw new IllegalArgumentException("gradScale and gradient must be both given or both null");
        }
        CudaLossKernel kernel = CudaLossKernel.shared();
        long[] shape = checkNwc(logits, "logits");
        DeviceLossProblem.Builder b = DeviceLossProblem.builder()
                .shape((int) shape[0], (int) shape[1], (int) shape[2])
                .logits(Access.devicePointer(logits), elementType(logits, "logits"), stride(logits, 0),
                        stride(logits, 1))
                .targets(targets);
        if (gradient != null) {
            long[] gs = checkNwc(gradient, "gradient");
            if (!Arrays.equals(gs, shape)) {
                throw new IllegalArgumentException("gradient shape must equal the logits shape "
                        + Arrays.toString(shape) + ", was " + Arrays.toString(gs));
            }
            b.gradient(gradScale, Access.devicePointer(gradient), elementType(gradient, "gradient"),
                    stride(gradient, 0), stride(gradient, 1));
        }
        kernel.runOnDevice(b.build(), tokenLoss, tokenCorrect);
        if (gradient != null) {
            Access.tickDeviceWrite(gradient);
        }
    }

    private static long[] checkNwc(INDArray a, String param) {
        if (a.rank() != 3) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have rank 3 [B, N, V], was rank %d", param, a.rank()));
        }
        long[] shape = a.shape();
        if (shape[0] > Integer.MAX_VALUE || shape[1] > Integer.MAX_VALUE || shape[2] > Integer.MAX_VALUE
                || shape[0] * shape[1] > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(param + " is too large: " + Arrays.toString(shape));
        }
        if (shape[2] > 1 && a.stride(2) != 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have unit stride along V for the in-place CUDA path, was %d (dup('c') it first)",
                    param, a.stride(2)));
        }
        return shape;
    }

    private static long stride(INDArray a, int dim) {
        return a.size(dim) == 1 ? 0 : a.stride(dim);
    }

    private static ElementType elementType(INDArray a, String param) {
        DataType t = a.dataType();
        return switch (t) {
            case FLOAT -> ElementType.FLOAT32;
            case HALF -> ElementType.FLOAT16;
            case BFLOAT16 -> ElementType.BFLOAT16;
            default -> throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s must have dtype FLOAT, HALF or BFLOAT16 for the CUDA path, was %s", param, t));
        };
    }

    /** The only code that touches nd4j-cuda's classes; loaded only on that backend. */
    private static final class Access {
        static long devicePointer(INDArray a) {
            AtomicAllocator allocator = AtomicAllocator.getInstance();
            CudaContext context = allocator.getDeviceContext();
            long address = allocator.getPointer(a, context).address();
            context.syncOldStream();   // ND4J's queued work on the array is done before plw4j's stream reads it
            return address;
        }

        static void tickDeviceWrite(INDArray a) {
            AtomicAllocator.getInstance().tickDeviceWrite(a);
        }
    }
}
