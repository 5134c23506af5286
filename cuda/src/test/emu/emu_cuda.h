// CPU emulation of the small part of CUDA C++ that the plw4j kernels use, so that the kernel
// sources (src/main/cuda/*.cu) compile with a plain C++20 compiler and run on machines without a
// GPU. Each CUDA thread of a block is a fiber with its own stack (switched by a few lines of
// assembly on x86-64, by ucontext elsewhere); one OS thread runs them cooperatively: a fiber runs until it waits at a barrier (__syncthreads, or the warp barriers
// around a __shfl_xor_sync exchange) or returns. Blocks run one after another. Every barrier phase
// runs the waiting fibers in alternating order (ascending, then descending), so a read that is not
// separated by a barrier from the write it needs sees stale data in one of the two orders; a
// barrier that not every thread reaches is reported as a deadlock. Shared memory is poisoned
// (0xff) before each block. It checks the kernels' logic (indexing, alignment, reductions,
// barriers, edge cases), not their speed or the GPU memory model. Math functions are the host's
// (glibc), so results match the GPU's to rounding, not bitwise.
#ifndef PLW4J_EMU_CUDA_H
#define PLW4J_EMU_CUDA_H

#include <math.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
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
struct Barrier {
    unsigned participants = 0, arrived = 0, generation = 0;
};

struct Fiber {
    std::unique_ptr<char[]> stack;
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t context;
#endif
    int state = 0;             // 0 runnable, 1 waiting at a barrier, 2 returned
    Barrier* waitingAt = nullptr;
    unsigned waitGeneration = 0;
};

constexpr size_t STACK_BYTES = 256 * 1024;

inline emu_dim3 t_thread{0, 0, 0};
inline emu_dim3 t_block{0, 0, 0};
inline emu_dim3 g_blockDim{1, 1, 1};
inline emu_dim3 g_gridDim{1, 1, 1};
inline unsigned char* g_dynamic_smem = nullptr;
inline std::vector<Fiber> g_fibers;
inline unsigned g_current = 0;
inline Barrier g_block_barrier;
inline std::vector<Barrier> g_warp_barriers;
inline std::vector<unsigned long long> g_exchange;
inline std::function<void()> g_entry;

[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "emu: %s (block %u)\n", what, t_block.x);
    std::exit(3);
}

#if defined(__x86_64__)
// Saves the callee-saved registers on the current stack, stores the stack pointer in *save,
// switches to the stack at next and restores the registers saved there (System V x86-64 ABI).
extern "C" void plw4j_emu_switch(void** save, void* next);
asm(".text\n"
    ".globl plw4j_emu_switch\n"
    ".type plw4j_emu_switch,@function\n"
    "plw4j_emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size plw4j_emu_switch,.-plw4j_emu_switch\n");
inline void* g_scheduler_sp = nullptr;

[[noreturn]] inline void fiber_main() {
    g_entry();
    g_fibers[g_current].state = 2;
    void* dead = nullptr;
    plw4j_emu_switch(&dead, g_scheduler_sp);
    die("a returned fiber was resumed");
}

inline void start_fiber(Fiber& f) {
    // The first switch pops six registers and returns into fiber_main, with the stack aligned as
    // if fiber_main had been called.
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack.get()) + STACK_BYTES) & ~uintptr_t(15);
    void** sp = reinterpret_cast<void**>(top);
    *--sp = nullptr;                                           // fiber_main's return address (never used)
    *--sp = reinterpret_cast<void*>(&fiber_main);              // where the switch returns to
    for (int k = 0; k < 6; k++) *--sp = nullptr;               // rbp, rbx, r12 to r15
    f.sp = sp;
    f.state = 0;
    f.waitingAt = nullptr;
}

inline void to_scheduler(Fiber& f) { plw4j_emu_switch(&f.sp, g_scheduler_sp); }
inline void to_fiber(Fiber& f) { plw4j_emu_switch(&g_scheduler_sp, f.sp); }
#else
inline ucontext_t g_scheduler;

inline void fiber_main() {
    g_entry();
    g_fibers[g_current].state = 2;   // uc_link returns to the scheduler
}

inline void start_fiber(Fiber& f) {
    if (getcontext(&f.context) != 0) die("getcontext failed");
    f.context.uc_stack.ss_sp = f.stack.get();
    f.context.uc_stack.ss_size = STACK_BYTES;
    f.context.uc_link = &g_scheduler;
    makecontext(&f.context, fiber_main, 0);
    f.state = 0;
    f.waitingAt = nullptr;
}

inline void to_scheduler(Fiber& f) {
    if (swapcontext(&f.context, &g_scheduler) != 0) die("swapcontext failed");
}
inline void to_fiber(Fiber& f) {
    if (swapcontext(&g_scheduler, &f.context) != 0) die("swapcontext failed");
}
#endif

inline void wait_at(Barrier& b) {
    const unsigned gen = b.generation;
    if (++b.arrived == b.participants) {   // the last one releases the others
        b.arrived = 0;
        b.generation++;
        return;
    }
    Fiber& f = g_fibers[g_current];
    f.state = 1;
    f.waitingAt = &b;
    f.waitGeneration = gen;
    to_scheduler(f);
}

// Runs the fibers of one block until all have returned.
inline void run_block(unsigned block) {
    for (unsigned t = 0; t < block; t++) start_fiber(g_fibers[t]);
    for (unsigned round = 0;; round++) {
        bool progress = false, done = true;
        for (unsigned k = 0; k < block; k++) {
            const unsigned t = (round & 1) ? block - 1 - k : k;
            Fiber& f = g_fibers[t];
            if (f.state == 1 && f.waitingAt->generation != f.waitGeneration) f.state = 0;
            if (f.state == 0) {
                g_current = t;
                t_thread = {t, 0, 0};
                to_fiber(f);
                progress = true;
            }
            if (f.state != 2) done = false;
        }
        if (done) return;
        if (!progress) die("deadlock: some threads of the block wait at a barrier that others never reach");
    }
}

template <typename T>
inline T shfl_xor(T v, int laneMask) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned tid = t_thread.x;
    unsigned long long slot = 0;
    std::memcpy(&slot, &v, sizeof(T));
    g_exchange[tid] = slot;
    wait_at(g_warp_barriers[tid / 32]);
    unsigned long long other = g_exchange[t_thread.x ^ (unsigned) laneMask];
    wait_at(g_warp_barriers[t_thread.x / 32]);
    T r;
    std::memcpy(&r, &other, sizeof(T));
    return r;
}

// Runs kernel(args...) on grid x block threads.
template <typename F, typename... A>
inline void launch(unsigned grid, unsigned block, size_t dynamicSmemBytes, F kernel, A... args) {
    if (block == 0 || block % 32 != 0 || block > 1024) die("block size must be a multiple of 32 up to 1024");
    g_blockDim = {block, 1, 1};
    g_gridDim = {grid, 1, 1};
    std::vector<uint4> smem((dynamicSmemBytes + 15) / 16 + 1);
    g_dynamic_smem = reinterpret_cast<unsigned char*>(smem.data());
    g_exchange.assign(block, 0ull);
    if (g_fibers.size() < block) {
        g_fibers.resize(block);
        for (auto& f : g_fibers) {
            if (!f.stack) f.stack.reset(new char[STACK_BYTES]);
        }
    }
    g_entry = [&]() { kernel(args...); };
    for (unsigned b = 0; b < grid; b++) {
        t_block = {b, 0, 0};
        std::memset(smem.data(), 0xff, smem.size() * sizeof(uint4));   // kernels must write before they read
        g_block_barrier = Barrier{block, 0, 0};
        g_warp_barriers.assign(block / 32, Barrier{32, 0, 0});
        run_block(block);
    }
    g_entry = nullptr;
}
}  // namespace emu

#define threadIdx (emu::t_thread)
#define blockIdx (emu::t_block)
#define blockDim (emu::g_blockDim)
#define gridDim (emu::g_gridDim)

inline void __syncthreads() { emu::wait_at(emu::g_block_barrier); }
template <typename T>
inline T __shfl_xor_sync(unsigned int, T v, int laneMask) { return emu::shfl_xor(v, laneMask); }
inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned int __float_as_uint(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
using std::max;
using std::min;

#endif
