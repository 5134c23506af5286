// CPU emulation of the small part of CUDA C++ that the plw4j kernels use, so that the kernel
// sources (src/main/cuda/*.cu) compile with a plain C++20 compiler and run on machines without a
// GPU. One std::thread per CUDA thread, blocks run one after another; __syncthreads is a barrier
// of the block, __shfl_xor_sync an exchange through memory between two barriers of the warp.
// It checks the kernels' logic (indexing, alignment, reductions, edge cases), not their speed or
// the GPU memory model. Math functions are the host's (glibc), so results match the GPU's to
// rounding, not bitwise.
#ifndef PLW4J_EMU_CUDA_H
#define PLW4J_EMU_CUDA_H

#include <math.h>
#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define PLW4J_DYNAMIC_CACHE(name) uint4* name = reinterpret_cast<uint4*>(emu::g_dynamic_smem)

struct alignas(16) uint4 {
    unsigned int x, y, z, w;
};
struct emu_dim3 {
    unsigned int x, y, z;
};

namespace emu {
inline thread_local emu_dim3 t_thread{0, 0, 0};
inline thread_local emu_dim3 t_block{0, 0, 0};
inline emu_dim3 g_blockDim{1, 1, 1};
inline emu_dim3 g_gridDim{1, 1, 1};
inline unsigned char* g_dynamic_smem = nullptr;
inline std::barrier<>* g_block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> g_warp_barriers;
inline std::vector<unsigned long long> g_exchange;

template <typename T>
inline T shfl_xor(T v, int laneMask) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned int tid = t_thread.x;
    std::barrier<>& wb = *g_warp_barriers[tid / 32];
    unsigned long long slot = 0;
    std::memcpy(&slot, &v, sizeof(T));
    g_exchange[tid] = slot;
    wb.arrive_and_wait();
    unsigned long long other = g_exchange[tid ^ (unsigned int) laneMask];
    wb.arrive_and_wait();
    T r;
    std::memcpy(&r, &other, sizeof(T));
    return r;
}

// Runs kernel(args...) on grid x block threads: one std::thread per CUDA thread of a block, the
// blocks one after another on the same threads (shared memory re-poisoned between blocks).
template <typename F, typename... A>
inline void launch(unsigned int grid, unsigned int block, size_t dynamicSmemBytes, F kernel, A... args) {
    if (block % 32 != 0) std::abort();
    g_blockDim = {block, 1, 1};
    g_gridDim = {grid, 1, 1};
    std::vector<uint4> smem((dynamicSmemBytes + 15) / 16 + 1);
    g_dynamic_smem = reinterpret_cast<unsigned char*>(smem.data());
    // Poison shared memory: the kernels must write before they read.
    std::memset(smem.data(), 0xff, smem.size() * sizeof(uint4));
    g_exchange.assign(block, 0ull);
    std::barrier<> bb((std::ptrdiff_t) block);
    g_block_barrier = &bb;
    g_warp_barriers.clear();
    for (unsigned int w = 0; w < block / 32; w++) g_warp_barriers.emplace_back(new std::barrier<>(32));
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (unsigned int t = 0; t < block; t++) {
        threads.emplace_back([&, t]() {
            t_thread = {t, 0, 0};
            for (unsigned int b = 0; b < grid; b++) {
                t_block = {b, 0, 0};
                kernel(args...);
                bb.arrive_and_wait();   // the block is done
                if (t == 0) std::memset(smem.data(), 0xff, smem.size() * sizeof(uint4));
                bb.arrive_and_wait();
            }
        });
    }
    for (auto& th : threads) th.join();
}
}  // namespace emu

#define threadIdx (emu::t_thread)
#define blockIdx (emu::t_block)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)

inline void __syncthreads() { emu::g_block_barrier->arrive_and_wait(); }
template <typename T>
inline T __shfl_xor_sync(unsigned int, T v, int laneMask) { return emu::shfl_xor(v, laneMask); }
inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
using std::max;
using std::min;

#endif
