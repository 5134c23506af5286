// plw4j: helpers shared by the CUDA kernels (element conversions, 16-byte vectors, block tree
// reductions). Header only; every function is inlined into the kernels of plw4j_xent.cu and
// plw4j_sums.cu. The same source also compiles as plain C++ against the emulation header of the
// module's tests (src/test/emu), so the device-only intrinsics are behind __CUDA_ARCH__.
//
// Conversions are bit-exact and round to nearest, ties to even (the same rule as
// org.plw4j.kernel.Half on the Java side). Reductions combine in a fixed tree, so a result never
// depends on scheduling: no atomics anywhere.
#ifndef PLW4J_COMMON_CUH
#define PLW4J_COMMON_CUH

#if defined(__CUDA_ARCH__) || defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

#ifndef PLW4J_BLOCK
#define PLW4J_BLOCK 512
#endif
#define PLW4J_WARPS (PLW4J_BLOCK / 32)
#define PLW4J_NONE 0x7fffffff

namespace plw4j {

typedef unsigned short u16;

__device__ __forceinline__ float bits_to_float(unsigned int u) { return __uint_as_float(u); }
__device__ __forceinline__ unsigned int float_to_bits(float f) { return __float_as_uint(f); }
__device__ __forceinline__ float nan_f() { return __uint_as_float(0x7fc00000u); }
__device__ __forceinline__ float neg_inf_f() { return __uint_as_float(0xff800000u); }

// ---- bfloat16: the upper 16 bits of a binary32 ----
__device__ __forceinline__ float bf16_to_float(u16 h) { return __uint_as_float(((unsigned int) h) << 16); }
__device__ __forceinline__ u16 float_to_bf16(float f) {
    unsigned int b = __float_as_uint(f);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u) {
        return (u16) ((b >> 16) | 0x40u);            // quiet NaN, sign and payload top kept
    }
    return (u16) ((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// ---- IEEE binary16 ----
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ float fp16_to_float(u16 h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ u16 float_to_fp16(float f) { return __half_as_ushort(__float2half_rn(f)); }
#else
inline float fp16_to_float(u16 h) {
    unsigned int bits = h, sign = (bits & 0x8000u) << 16, e = (bits >> 10) & 0x1fu, m = bits & 0x3ffu;
    if (e == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    if (e == 0u) {
        if (m == 0u) return __uint_as_float(sign);
        float v = (float) m * 5.9604644775390625e-8f;  // m * 2^-24, exact
        return sign ? -v : v;
    }
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}
inline u16 float_to_fp16(float f) {
    unsigned int bits = __float_as_uint(f), sign = (bits >> 16) & 0x8000u, exp = (bits >> 23) & 0xffu,
                 mant = bits & 0x7fffffu;
    if (exp == 0xffu) return (u16) (sign | 0x7c00u | (mant != 0u ? 0x200u | (mant >> 13) : 0u));
    int e = (int) exp - 127 + 15;
    if (e >= 0x1f) return (u16) (sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (u16) sign;
        unsigned int m = mant | 0x800000u;
        int shift = 14 - e;
        unsigned int half = m >> shift, rem = m & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (u16) (sign | half);
    }
    unsigned int half = ((unsigned int) e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
    return (u16) (sign | half);
}
#endif

// ---- element traits: T is the storage type; loads and stores go through float ----
struct F32 {
    typedef float T;
    static constexpr int PER_VEC = 4;   // elements per 16-byte vector
    __device__ __forceinline__ static float load(const T* p) { return *p; }
    __device__ __forceinline__ static void store(T* p, float v) { *p = v; }
    __device__ __forceinline__ static void unpack(const uint4& v, float* x) {
        x[0] = __uint_as_float(v.x); x[1] = __uint_as_float(v.y);
        x[2] = __uint_as_float(v.z); x[3] = __uint_as_float(v.w);
    }
    __device__ __forceinline__ static uint4 pack(const float* x) {
        uint4 v; v.x = __float_as_uint(x[0]); v.y = __float_as_uint(x[1]);
        v.z = __float_as_uint(x[2]); v.w = __float_as_uint(x[3]); return v;
    }
};

template <bool BF>
struct Half16 {
    typedef u16 T;
    static constexpr int PER_VEC = 8;
    __device__ __forceinline__ static float widen(u16 h) { return BF ? bf16_to_float(h) : fp16_to_float(h); }
    __device__ __forceinline__ static u16 narrow(float f) { return BF ? float_to_bf16(f) : float_to_fp16(f); }
    __device__ __forceinline__ static float load(const T* p) { return widen(*p); }
    __device__ __forceinline__ static void store(T* p, float v) { *p = narrow(v); }
    __device__ __forceinline__ static void unpack(const uint4& v, float* x) {
        unsigned int w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            x[2 * k] = widen((u16) (w[k] & 0xffffu));
            x[2 * k + 1] = widen((u16) (w[k] >> 16));
        }
    }
    __device__ __forceinline__ static uint4 pack(const float* x) {
        unsigned int w[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            w[k] = (unsigned int) narrow(x[2 * k]) | ((unsigned int) narrow(x[2 * k + 1]) << 16);
        }
        uint4 v; v.x = w[0]; v.y = w[1]; v.z = w[2]; v.w = w[3]; return v;
    }
};
typedef Half16<true> BF16;
typedef Half16<false> FP16;

// ---- block-wide broadcast reductions in a fixed tree (every thread gets the result) ----
// Butterfly inside each warp (commutative combine => every lane holds the same bits), then the
// warp results are combined by warp 0 in the same butterfly, then broadcast through shared memory.
template <typename S, typename Combine>
__device__ __forceinline__ S warp_allreduce(S v, Combine combine) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = combine(v, S::shfl_xor(v, o));
    }
    return v;
}

template <typename S, typename Combine>
__device__ __forceinline__ S block_allreduce(S v, S identity, Combine combine, S* scratch /* [PLW4J_WARPS + 1] */) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_allreduce(v, combine);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        S w = lane < PLW4J_WARPS ? scratch[lane] : identity;
        w = warp_allreduce(w, combine);
        if (lane == 0) scratch[PLW4J_WARPS] = w;
    }
    __syncthreads();
    S r = scratch[PLW4J_WARPS];
    __syncthreads();   // scratch may be reused by the next reduction
    return r;
}

}  // namespace plw4j
#endif
