/**
 * The CUDA backend: fused cross-entropy kernels (bundled PTX, generated from
 * {@code cuda/src/main/cuda}) launched through JCuda's driver API.
 *
 * <p>{@link org.plw4j.cuda.CudaKernelProvider} registers the {@code cuda} backend with
 * {@link org.plw4j.kernel.Backends}; {@link org.plw4j.cuda.CudaLossKernel} is the kernel, for
 * logits in host memory (staged through page-locked memory) or already on the device
 * ({@link org.plw4j.cuda.DeviceLossProblem}); {@link org.plw4j.cuda.Nd4jCudaArrays} hands arrays
 * of ND4J's CUDA backend to it in place (untested until it runs on such a backend). The
 * command-line check and benchmark that {@code cuda/gpu-check.sh} runs on a GPU machine
 * ({@code GpuCheck}) is not part of this jar: it lives in the module's test sources and travels in
 * its test jar.
 *
 * <p>System properties: {@code plw4j.cuda.device} (device ordinal, default 0),
 * {@code plw4j.cuda.stagingBytes} (staging chunk, default 128 MiB),
 * {@code plw4j.cuda.cacheBytes} (shared memory per gradient block for the row cache; 0 turns the
 * cache off; default half a multiprocessor's shared memory).
 */
package org.plw4j.cuda;
