// Runs one launch of a plw4j CUDA kernel under the CPU emulation (emu_cuda.h). The Java tests'
// emulated device (org.plw4j.cuda.EmulatedGpu) writes the launch and the device memory it can
// reach to a file; this program relocates the device addresses to host buffers, runs the kernel
// and writes the memory back.
//
// Build: g++ -std=c++20 -O2 -DPLW4J_BLOCK=512 -I../../main/cuda emu_main.cpp -o emu
// Usage: emu IN OUT
// IN (little-endian): int32 magic 0x504c5745, int32 op 10, int32 nameLength, name bytes,
//   int32 grid, int32 block, int32 sharedBytes, int32 nParams, nParams x (int32 kind: 0 pointer,
//   1 int64, 2 int32, 3 float32, 4 float64; int64 bits), int32 nAllocations,
//   nAllocations x (int64 deviceAddress, int64 bytes, bytes).
// OUT: the bytes of every allocation after the launch, in the same order.
#include "emu_cuda.h"

#include "plw4j_xent.cu"
#include "plw4j_sums.cu"
#include "plw4j_fill.cu"

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

namespace {
struct Reader {
    FILE* f;
    template <typename T>
    T get() {
        T v;
        if (std::fread(&v, sizeof(T), 1, f) != 1) throw std::runtime_error("short input");
        return v;
    }
    void bytes(void* p, size_t n) {
        if (n && std::fread(p, 1, n, f) != n) throw std::runtime_error("short input");
    }
};

// Host copy of a device allocation: 256-byte aligned like cudaMalloc.
struct Allocation {
    unsigned long long device = 0, bytes = 0;
    std::vector<unsigned char> raw;
    unsigned char* base = nullptr;
};

struct Param {
    int kind;
    unsigned long long bits;
};

typedef void (*XentFn)(const void*, long long, long long, int, int, int, const int*, const float*, void*,
                       long long, long long, double*, int*, int);
template <typename K>
XentFn erase(K k) { return reinterpret_cast<XentFn>(k); }

// The eight entry points of one kind: EXT empty for the plain kernels, ext_ for the extension ones.
#define PLW4J_XENT_ENTRIES(ERASE, EXT)                                                    \
    {"plw4j_xent_fwd_" #EXT "f32", ERASE(&plw4j_xent_fwd_##EXT##f32)},                    \
    {"plw4j_xent_fwd_" #EXT "bf16", ERASE(&plw4j_xent_fwd_##EXT##bf16)},                  \
    {"plw4j_xent_fwd_" #EXT "f16", ERASE(&plw4j_xent_fwd_##EXT##f16)},                    \
    {"plw4j_xent_grad_" #EXT "f32_f32", ERASE(&plw4j_xent_grad_##EXT##f32_f32)},          \
    {"plw4j_xent_grad_" #EXT "bf16_bf16", ERASE(&plw4j_xent_grad_##EXT##bf16_bf16)},      \
    {"plw4j_xent_grad_" #EXT "bf16_f32", ERASE(&plw4j_xent_grad_##EXT##bf16_f32)},        \
    {"plw4j_xent_grad_" #EXT "f16_f16", ERASE(&plw4j_xent_grad_##EXT##f16_f16)},          \
    {"plw4j_xent_grad_" #EXT "f16_f32", ERASE(&plw4j_xent_grad_##EXT##f16_f32)}

const std::map<std::string, XentFn>& xent_kernels() {
    static const std::map<std::string, XentFn> m = {PLW4J_XENT_ENTRIES(erase, )};
    return m;
}

// The extension kernels: the 14 parameters above, then eps, lambda, softCap and entropyOut.
typedef void (*XentExtFn)(const void*, long long, long long, int, int, int, const int*, const float*, void*,
                          long long, long long, double*, int*, int, double, double, double, double*);
template <typename K>
XentExtFn erase_ext(K k) { return reinterpret_cast<XentExtFn>(k); }

const std::map<std::string, XentExtFn>& xent_ext_kernels() {
    static const std::map<std::string, XentExtFn> m = {PLW4J_XENT_ENTRIES(erase_ext, ext_)};
    return m;
}

void* relocate(unsigned long long v, std::vector<Allocation>& allocs) {
    if (v == 0) return nullptr;
    for (auto& a : allocs) {
        if (v >= a.device && v <= a.device + a.bytes) return a.base + (v - a.device);
    }
    throw std::runtime_error("pointer parameter outside every allocation");
}

void run(Reader& in, FILE* out) {
    const int nameLength = in.get<int>();
    std::string name(nameLength, '\0');
    in.bytes(name.data(), nameLength);
    const unsigned grid = in.get<unsigned>(), block = in.get<unsigned>(), smem = in.get<unsigned>();
    const int np = in.get<int>();
    std::vector<Param> ps(np);
    for (auto& p : ps) {
        p.kind = in.get<int>();
        p.bits = in.get<unsigned long long>();
    }
    const int na = in.get<int>();
    std::vector<Allocation> allocs(na);
    for (auto& a : allocs) {
        a.device = in.get<unsigned long long>();
        a.bytes = in.get<unsigned long long>();
        a.raw.assign(a.bytes + 256, 0);
        a.base = a.raw.data() + ((256 - (reinterpret_cast<uintptr_t>(a.raw.data()) & 255)) & 255);
        in.bytes(a.base, a.bytes);
    }
    if (block != PLW4J_BLOCK) throw std::runtime_error("block size differs from PLW4J_BLOCK of this build");
    auto P = [&](int i, int kind) -> const Param& {
        if (i >= np) throw std::runtime_error("too few parameters for " + name);
        if (ps[i].kind != kind) throw std::runtime_error("parameter " + std::to_string(i) + " of " + name + " has the wrong kind");
        return ps[i];
    };
    auto ptr = [&](int i) { return relocate(P(i, 0).bits, allocs); };
    auto i64 = [&](int i) { return (long long) P(i, 1).bits; };
    auto i32 = [&](int i) { return (int) (unsigned int) P(i, 2).bits; };
    auto f64 = [&](int i) { double d; unsigned long long b = P(i, 4).bits; std::memcpy(&d, &b, 8); return d; };
    auto& xk = xent_kernels();
    auto it = xk.find(name);
    auto& xek = xent_ext_kernels();
    auto ite = xek.find(name);
    if (ite != xek.end()) {
        if (np != 18) throw std::runtime_error("xent extension kernels take 18 parameters");
        if ((size_t) i32(13) * 16 > smem) throw std::runtime_error("cacheVec needs more dynamic shared memory than launched with");
        emu::launch(grid, block, smem, ite->second, (const void*) ptr(0), i64(1), i64(2), i32(3), i32(4), i32(5),
                    (const int*) ptr(6), (const float*) ptr(7), ptr(8), i64(9), i64(10), (double*) ptr(11),
                    (int*) ptr(12), i32(13), f64(14), f64(15), f64(16), (double*) ptr(17));
    } else if (it != xk.end()) {
        if (np != 14) throw std::runtime_error("xent kernels take 14 parameters");
        if ((size_t) i32(13) * 16 > smem) throw std::runtime_error("cacheVec needs more dynamic shared memory than launched with");
        emu::launch(grid, block, smem, it->second, (const void*) ptr(0), i64(1), i64(2), i32(3), i32(4), i32(5),
                    (const int*) ptr(6), (const float*) ptr(7), ptr(8), i64(9), i64(10), (double*) ptr(11),
                    (int*) ptr(12), i32(13));
    } else if (name == "plw4j_sums_partial") {
        if (np != 8) throw std::runtime_error("plw4j_sums_partial takes 8 parameters");
        emu::launch(grid, block, smem, &plw4j_sums_partial, (const double*) ptr(0), (const int*) ptr(1),
                    (const int*) ptr(2), (const float*) ptr(3), (const unsigned char*) ptr(4), i32(5), i32(6),
                    (double*) ptr(7));
    } else if (name == "plw4j_sums_final") {
        if (np != 3) throw std::runtime_error("plw4j_sums_final takes 3 parameters");
        emu::launch(grid, block, smem, &plw4j_sums_final, (const double*) ptr(0), i32(1), (double*) ptr(2));
    } else if (name == "plw4j_fill_f32" || name == "plw4j_fill_bf16" || name == "plw4j_fill_f16") {
        if (np != 3) throw std::runtime_error("fill kernels take 3 parameters");
        const unsigned seed = (unsigned) i32(2);
        if (name == "plw4j_fill_f32") emu::launch(grid, block, smem, &plw4j_fill_f32, (float*) ptr(0), i64(1), seed);
        else if (name == "plw4j_fill_bf16") emu::launch(grid, block, smem, &plw4j_fill_bf16, (unsigned short*) ptr(0), i64(1), seed);
        else emu::launch(grid, block, smem, &plw4j_fill_f16, (unsigned short*) ptr(0), i64(1), seed);
    } else {
        throw std::runtime_error("unknown kernel " + name);
    }
    for (auto& a : allocs) {
        if (a.bytes && std::fwrite(a.base, 1, a.bytes, out) != a.bytes) throw std::runtime_error("short write");
    }
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s IN OUT\n", argv[0]);
        return 2;
    }
    try {
        FILE* f = std::fopen(argv[1], "rb");
        if (!f) throw std::runtime_error(std::string("cannot open ") + argv[1]);
        Reader in{f};
        if (in.get<int>() != 0x504c5745) throw std::runtime_error("bad magic");
        if (in.get<int>() != 10) throw std::runtime_error("bad op");
        FILE* out = std::fopen(argv[2], "wb");
        if (!out) throw std::runtime_error(std::string("cannot open ") + argv[2]);
        run(in, out);
        std::fclose(out);
        std::fclose(f);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "emu: %s\n", e.what());
        return 1;
    }
    return 0;
}
