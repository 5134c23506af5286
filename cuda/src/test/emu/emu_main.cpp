// Runs the plw4j CUDA kernels under the CPU emulation (emu_cuda.h) on a problem read from a file
// and writes their outputs to another file. Driven by org.plw4j.cuda.EmulatedKernelTest, which
// writes the problems and compares the outputs with org.plw4j.kernel.ReferenceKernel.
// Build: g++ -std=c++20 -O1 -pthread -DPLW4J_BLOCK=64 -I../../main/cuda emu_main.cpp -o emu
// Usage: emu IN OUT. Formats (little-endian) are documented in EmulatedKernelTest.
#include "emu_cuda.h"

#include "plw4j_xent.cu"
#include "plw4j_sums.cu"
#include "plw4j_fill.cu"

#include <cstdio>
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

// Device-like allocation: 256-byte aligned, poisoned with 0xff (NaN in every float format).
struct Buffer {
    std::vector<unsigned char> raw;
    unsigned char* base = nullptr;
    explicit Buffer(size_t n) : raw(n + 256, 0xff) {
        base = raw.data() + ((256 - (reinterpret_cast<uintptr_t>(raw.data()) & 255)) & 255);
    }
};

size_t elem_size(int code) { return code == 0 ? 4 : 2; }

typedef void (*XentFn)(const void*, long long, long long, int, int, int, const int*, const float*, void*,
                       long long, long long, double*, int*, int);

template <typename K>
XentFn erase(K k) { return reinterpret_cast<XentFn>(k); }

XentFn pick(int grad, int tin, int tg) {
    if (!grad) {
        if (tin == 0) return erase(&plw4j_xent_fwd_f32);
        if (tin == 1) return erase(&plw4j_xent_fwd_bf16);
        return erase(&plw4j_xent_fwd_f16);
    }
    if (tin == 0 && tg == 0) return erase(&plw4j_xent_grad_f32_f32);
    if (tin == 1 && tg == 1) return erase(&plw4j_xent_grad_bf16_bf16);
    if (tin == 1 && tg == 0) return erase(&plw4j_xent_grad_bf16_f32);
    if (tin == 2 && tg == 2) return erase(&plw4j_xent_grad_f16_f16);
    if (tin == 2 && tg == 0) return erase(&plw4j_xent_grad_f16_f32);
    throw std::runtime_error("no kernel for this type pair");
}

void xent(Reader& in, FILE* out) {
    const int tin = in.get<int>(), tg = in.get<int>(), grad = in.get<int>();
    const int seqLen = in.get<int>(), rows = in.get<int>(), V = in.get<int>(), cacheVec = in.get<int>();
    const long long sB = in.get<long long>(), sT = in.get<long long>();
    const long long gB = in.get<long long>(), gT = in.get<long long>();
    const long long off = in.get<long long>(), n = in.get<long long>();
    Buffer logits(n * elem_size(tin));
    in.bytes(logits.base, n * elem_size(tin));
    const long long gOff = in.get<long long>(), gN = in.get<long long>();
    Buffer gbuf(grad == 1 ? gN * elem_size(tg) : 0);
    std::vector<int> targets(rows);
    std::vector<float> scale(rows);
    in.bytes(targets.data(), rows * 4ull);
    in.bytes(scale.data(), rows * 4ull);
    std::vector<double> loss(rows, -12345.0);
    std::vector<int> arg(rows, -12345);
    unsigned char* l0 = logits.base + off * elem_size(tin);
    unsigned char* g0 = grad == 2 ? l0 : grad == 1 ? gbuf.base + gOff * elem_size(tg) : nullptr;
    XentFn k = pick(grad, tin, tg);
    size_t smem = grad ? (size_t) cacheVec * 16 : 0;
    emu::launch((unsigned) rows, PLW4J_BLOCK, smem, k, (const void*) l0, sB, sT, seqLen, rows, V,
                (const int*) targets.data(), (const float*) scale.data(), (void*) g0, gB, gT, loss.data(),
                arg.data(), grad ? cacheVec : 0);
    std::fwrite(loss.data(), 8, rows, out);
    std::fwrite(arg.data(), 4, rows, out);
    if (grad == 1) std::fwrite(gbuf.base, 1, gN * elem_size(tg), out);
    if (grad == 2) std::fwrite(logits.base, 1, n * elem_size(tin), out);
}

void sums(Reader& in, FILE* out) {
    const int rows = in.get<int>(), rowsPerBlock = in.get<int>();
    std::vector<double> loss(rows);
    std::vector<int> arg(rows), targets(rows);
    std::vector<float> weight(rows);
    std::vector<unsigned char> role(rows);
    in.bytes(loss.data(), rows * 8ull);
    in.bytes(arg.data(), rows * 4ull);
    in.bytes(targets.data(), rows * 4ull);
    in.bytes(weight.data(), rows * 4ull);
    in.bytes(role.data(), rows);
    const int parts = (rows + rowsPerBlock - 1) / rowsPerBlock;
    std::vector<double> partials((size_t) std::max(parts, 1) * PLW4J_NSUMS, -1.0), result(PLW4J_NSUMS, -1.0);
    emu::launch((unsigned) parts, PLW4J_BLOCK, 0, &plw4j_sums_partial, (const double*) loss.data(),
                (const int*) arg.data(), (const int*) targets.data(), (const float*) weight.data(),
                (const unsigned char*) role.data(), rows, rowsPerBlock, partials.data());
    emu::launch(1u, PLW4J_BLOCK, 0, &plw4j_sums_final, (const double*) partials.data(), parts, result.data());
    std::fwrite(result.data(), 8, PLW4J_NSUMS, out);
}

void fill(Reader& in, FILE* out) {
    const int type = in.get<int>();
    const long long n = in.get<long long>();
    const unsigned int seed = in.get<unsigned int>();
    Buffer b(n * elem_size(type));
    if (type == 0) emu::launch(3u, PLW4J_BLOCK, 0, &plw4j_fill_f32, (float*) b.base, n, seed);
    else if (type == 1) emu::launch(3u, PLW4J_BLOCK, 0, &plw4j_fill_bf16, (unsigned short*) b.base, n, seed);
    else emu::launch(3u, PLW4J_BLOCK, 0, &plw4j_fill_f16, (unsigned short*) b.base, n, seed);
    std::fwrite(b.base, 1, n * elem_size(type), out);
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
        FILE* out = std::fopen(argv[2], "wb");
        if (!out) throw std::runtime_error(std::string("cannot open ") + argv[2]);
        const int magic = in.get<int>(), op = in.get<int>();
        if (magic != 0x504c5745) throw std::runtime_error("bad magic");
        if (op == 1) xent(in, out);
        else if (op == 2) sums(in, out);
        else if (op == 3) fill(in, out);
        else throw std::runtime_error("bad op");
        std::fclose(out);
        std::fclose(f);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "emu: %s\n", e.what());
        return 1;
    }
    return 0;
}
