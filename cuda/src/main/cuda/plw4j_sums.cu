// plw4j: deterministic weighted sums of per-row losses on the device (no floating-point atomics).
//
// Math, over rows r with loss l[r] and arg-max a[r] from plw4j_xent.cu, target y[r] (< 0: inactive),
// weight w[r] >= 0 and role code c[r] (0 IGNORE, 1 PROMPT, 2 COMPLETION; org.plw4j.TokenRole):
//   out[0] = sum_{w>0} w*l     out[1] = sum_{w>0} w          out[2] = #{w>0, l not finite}
//   out[3] = sum_{c=1} l       out[4] = #{c=1}               out[5] = #{c=1, a=y}
//   out[6] = sum_{c=2} l       out[7] = #{c=2}               out[8] = #{c=2, a=y}
// (roles count only active rows; rows with w = 0 never reach out[0..2], so their NaNs cannot
// poison the weighted loss). All sums in double; counts are exact in double up to 2^53.
//
// Bytes per token: 8 (loss) + 4 (arg-max) + 4 (target) + 4 (weight) + 1 (role) read once.
//
// Launch shape, two launches on one stream:
//   plw4j_sums_partial: grid = ceil(rows / rowsPerBlock) blocks of PLW4J_BLOCK threads; block k
//     owns rows [k*rowsPerBlock, (k+1)*rowsPerBlock), thread t adds rows t, t+512, ... of them in
//     order, then a fixed butterfly tree combines the threads; partials[k*9 .. k*9+8] = the result;
//   plw4j_sums_final: one block; thread t adds partials t, t+512, ... in order, then the same tree.
// The partition depends only on rows and rowsPerBlock, so the sums are bitwise reproducible.
#include "plw4j_common.cuh"

#define PLW4J_NSUMS 9

namespace plw4j {

struct Sums {
    double v[PLW4J_NSUMS];
    __device__ __forceinline__ static Sums shfl_xor(const Sums& a, int o) {
        Sums r;
#pragma unroll
        for (int k = 0; k < PLW4J_NSUMS; k++) r.v[k] = __shfl_xor_sync(0xffffffffu, a.v[k], o);
        return r;
    }
};

struct AddSums {
    __device__ __forceinline__ Sums operator()(const Sums& a, const Sums& b) const {
        Sums r;
#pragma unroll
        for (int k = 0; k < PLW4J_NSUMS; k++) r.v[k] = a.v[k] + b.v[k];
        return r;
    }
};

__device__ __forceinline__ Sums zero_sums() {
    Sums r;
#pragma unroll
    for (int k = 0; k < PLW4J_NSUMS; k++) r.v[k] = 0.0;
    return r;
}

}  // namespace plw4j

extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)
plw4j_sums_partial(const double* __restrict__ loss, const int* __restrict__ argmax,
                   const int* __restrict__ targets, const float* __restrict__ weight,
                   const unsigned char* __restrict__ role, int rows, int rowsPerBlock,
                   double* __restrict__ partials) {
    __shared__ plw4j::Sums scratch[PLW4J_WARPS + 1];
    plw4j::Sums acc = plw4j::zero_sums();
    const long long first = (long long) blockIdx.x * rowsPerBlock;
    const long long end = min((long long) rows, first + rowsPerBlock);
    for (long long r = first + threadIdx.x; r < end; r += PLW4J_BLOCK) {
        const int y = targets[r];
        const double l = loss[r];
        const double w = (double) weight[r];
        if (w > 0.0) {
            acc.v[0] += w * l;
            acc.v[1] += w;
            if (!isfinite(l)) acc.v[2] += 1.0;
        }
        if (y >= 0) {
            const int c = role[r];
            const double hit = argmax[r] == y ? 1.0 : 0.0;
            if (c == 1) { acc.v[3] += l; acc.v[4] += 1.0; acc.v[5] += hit; }
            else if (c == 2) { acc.v[6] += l; acc.v[7] += 1.0; acc.v[8] += hit; }
        }
    }
    acc = plw4j::block_allreduce(acc, plw4j::zero_sums(), plw4j::AddSums(), scratch);
    if (threadIdx.x == 0) {
#pragma unroll
        for (int k = 0; k < PLW4J_NSUMS; k++) partials[(long long) blockIdx.x * PLW4J_NSUMS + k] = acc.v[k];
    }
}

extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)
plw4j_sums_final(const double* __restrict__ partials, int nparts, double* __restrict__ out) {
    __shared__ plw4j::Sums scratch[PLW4J_WARPS + 1];
    plw4j::Sums acc = plw4j::zero_sums();
    for (int p = threadIdx.x; p < nparts; p += PLW4J_BLOCK) {
#pragma unroll
        for (int k = 0; k < PLW4J_NSUMS; k++) acc.v[k] += partials[(long long) p * PLW4J_NSUMS + k];
    }
    acc = plw4j::block_allreduce(acc, plw4j::zero_sums(), plw4j::AddSums(), scratch);
    if (threadIdx.x == 0) {
#pragma unroll
        for (int k = 0; k < PLW4J_NSUMS; k++) out[k] = acc.v[k];
    }
}
