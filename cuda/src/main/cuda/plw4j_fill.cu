// plw4j: deterministic pseudo-random logits for the GPU check and benchmarks (not used by the loss).
//
// Math: element i of the array (64-bit index), seed s:
//   h = lo32(i)*0x45d9f3b + hi32(i)*0x27d4eb2f + s*0x165667b1  (mod 2^32),
//   then three rounds of  h ^= h >> 16; h *= 0x45d9f3b (mod 2^32)  and a final h ^= h >> 16;
//   value = (h >> 8) * 2^-20 - 8, uniform on [-8, 8) in steps of 2^-20 (exact in fp32),
//   stored as fp32, or as bf16/fp16 rounded to nearest even.
// The same formula is written in Java (org.plw4j.cuda.GpuCheck) and in PyTorch int64 arithmetic
// (cuda/scripts/torch_ce_bench.py), so the three sides see identical logits.
//
// Bytes per element: 4 (fp32) or 2 (bf16/fp16) written. Launch shape: grid-stride loop, any grid,
// PLW4J_BLOCK threads per block, one element per thread per step.
#include "plw4j_common.cuh"

namespace plw4j {
__device__ __forceinline__ float hash_value(unsigned long long i, unsigned int seed) {
    unsigned int h = (unsigned int) i * 0x45d9f3bu + (unsigned int) (i >> 32) * 0x27d4eb2fu + seed * 0x165667b1u;
    h ^= h >> 16; h *= 0x45d9f3bu;
    h ^= h >> 16; h *= 0x45d9f3bu;
    h ^= h >> 16; h *= 0x45d9f3bu;
    h ^= h >> 16;
    return (float) (h >> 8) * 9.5367431640625e-07f - 8.0f;   // 2^-20
}
}  // namespace plw4j

extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)
plw4j_fill_f32(float* __restrict__ out, long long n, unsigned int seed) {
    for (long long i = (long long) blockIdx.x * PLW4J_BLOCK + threadIdx.x; i < n; i += (long long) gridDim.x * PLW4J_BLOCK) {
        out[i] = plw4j::hash_value((unsigned long long) i, seed);
    }
}

extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)
plw4j_fill_bf16(unsigned short* __restrict__ out, long long n, unsigned int seed) {
    for (long long i = (long long) blockIdx.x * PLW4J_BLOCK + threadIdx.x; i < n; i += (long long) gridDim.x * PLW4J_BLOCK) {
        out[i] = plw4j::float_to_bf16(plw4j::hash_value((unsigned long long) i, seed));
    }
}

extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)
plw4j_fill_f16(unsigned short* __restrict__ out, long long n, unsigned int seed) {
    for (long long i = (long long) blockIdx.x * PLW4J_BLOCK + threadIdx.x; i < n; i += (long long) gridDim.x * PLW4J_BLOCK) {
        out[i] = plw4j::float_to_fp16(plw4j::hash_value((unsigned long long) i, seed));
    }
}
