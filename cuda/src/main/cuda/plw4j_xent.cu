// plw4j: fused cross-entropy over rows of logits, forward and forward+gradient.
//
// Math, per row r (a logit position) with target y = targets[r]:
//   inactive row (y < 0): loss 0, arg-max -1, gradient row all zeros (the logits are not read);
//   m   = max_v z[v] (NaN ignored),  s = sum_v exp(z[v] - m)  (online: the running max rescales s),
//   loss = (m - z[y]) + log(s)  in double (two non-negative terms: no cancellation),
//   arg  = first index of the maximum; the first NaN if the row holds one; 0 if no element is above -Inf,
//   a NaN in the row, m = +Inf or m = -Inf (all -Inf) make the loss NaN, as IEEE arithmetic does in
//   the double-precision reference (org.plw4j.kernel.ReferenceKernel);
//   gradient (if asked) g[v] = scale[r] * (exp((z[v] - m) - log(s)) - [v == y]) for an active row
//   with scale != 0, exact zeros for every other row, whatever its logits hold.
// Accumulation in fp32 (per thread sequentially, then a fixed warp/block tree), exp as
// exp2(d * log2 e) on the hardware exp2 (relative error about 1e-6 for |d| < 25), the final loss in
// double; fp32, bf16 and fp16 logits; the gradient in the logits' type or in fp32. Deterministic:
// the same input at the same 16-byte alignment gives bitwise the same output (fixed order
// everywhere, no atomics; the split of a row into head, vectors and tail follows its alignment).
// Per element: pass 1 one max, one subtract, one multiply, one exp2, one add (the index of a new
// maximum is searched only in the vectors that hold one, the first NaN only in rows whose sum is NaN
// or whose max is -Inf, by a second read of that row); pass 2 one subtract, one
// fma, one exp2, one multiply, the conversion to the gradient's type.
//
// Bytes per token (row of V elements of b bytes, gradient of g bytes per element):
//   forward            V*b read once (+ 4 B target, 12 B out);
//   forward+gradient   V*b read, V*g written, and the part of the row that did not fit the
//                      shared-memory cache (cacheVec 16-byte vectors) read a second time (from L2
//                      when the row was read recently, else from device memory): between
//                      V*(b+g) and V*(2b+g).
//
// Launch shape: one block of PLW4J_BLOCK (512) threads per row, grid = rows (1-D, up to 2^31-1);
// with the default cache (half a multiprocessor's shared memory, 112 KiB on an H100) two gradient
// blocks share a multiprocessor, up to four forward blocks.
// Thread t handles the 16-byte vectors t, t+512, ... of the row (coalesced, 4 vectors in flight
// per thread), the unaligned head and tail elements singly. Dynamic shared memory = cacheVec * 16
// bytes: pass 1 keeps the first cacheVec vectors of the row there, pass 2 (the gradient) reads them
// back instead of re-reading device memory; the host sizes cacheVec to the device (0 = no cache).
// Rows are addressed as logits + (r / seqLen) * strideB + (r % seqLen) * strideT, in elements,
// with unit stride along V; the gradient likewise with its own strides (it may alias the logits:
// in place, every element is read before the same thread overwrites it).
//
// Extensions (SPEC section 7), the _ext_ kernels: the same code with EXT = true, resolved at compile
// time, so the plain kernels above are unchanged. Four more parameters: label smoothing eps, z-loss
// lambda, soft-cap c (each 0 = off) and entropyOut (double[rows], or null). Per element z' = c tanh(z/c)
// (tanhf) when c > 0, as loaded, in both passes (the cache keeps the raw logits); everything above then
// runs on z'. Per row, in double: lse = m + log(s),
//   loss = (1 - eps)(lse - z'[y]) + eps (lse - S/V) + lambda lse^2,   S = sum_v z'[v] (fp32, only if eps != 0),
//   entropy H = lse - sum_v p z' = log(s) - T/s,   T = sum_v e^(z'-m) (z'-m) (fp32 online, only if entropyOut),
//   g[v] = scale (p (1 + 2 lambda lse) - (1 - eps)[v == y] - eps/V) (1 - (z'/c)^2)   (last factor if c > 0).
// Extra cost per element: the capping (one tanhf per pass), an add for S, an fma for T; per row one
// more block reduction when S or T is wanted. With the entropy alone (eps = lambda = c = 0) the loss and
// the gradient are the plain kernels' formulas, so their bits do not depend on whether it is asked for.
#include "plw4j_common.cuh"

namespace plw4j {

struct RowStat {
    float m;   // running max (NaN ignored), -Inf when nothing above -Inf was seen
    float s;   // sum of exp(z - m)
    int bi;    // first index of the max, PLW4J_NONE if none above -Inf
    int ni;    // first NaN index, PLW4J_NONE if none
    __device__ __forceinline__ static RowStat shfl_xor(const RowStat& a, int o) {
        RowStat r;
        r.m = __shfl_xor_sync(0xffffffffu, a.m, o);
        r.s = __shfl_xor_sync(0xffffffffu, a.s, o);
        r.bi = __shfl_xor_sync(0xffffffffu, a.bi, o);
        r.ni = __shfl_xor_sync(0xffffffffu, a.ni, o);
        return r;
    }
};

__device__ __forceinline__ RowStat stat_identity() {
    RowStat r; r.m = neg_inf_f(); r.s = 0.0f; r.bi = PLW4J_NONE; r.ni = PLW4J_NONE; return r;
}

// The parameters of the _ext_ kernels (see the header); all zero in the plain ones, where nothing reads them.
struct XentExt {
    double eps;        // label smoothing
    double lambda;     // z-loss
    float cap;         // soft-cap c, 0 = off
    float invCap;      // 1 / c
    double* entropy;   // per-row entropy out, or null
    bool sumZ;         // eps != 0: S = sum z' is needed
    bool ent;          // entropy != null: T is needed
    bool plainGrad;    // no extension (the entropy alone): the plain kernels' gradient, bit for bit
    __device__ __forceinline__ float capped(float x) const { return cap > 0.0f ? cap * tanhf(x * invCap) : x; }
};

// Per-thread sums of the extension path: S = sum z', T = sum e^(z'-m)(z'-m) (T relative to the thread's m
// in fold, to the row's max once rescaled for the block sum).
struct ExtSums {
    float zs;
    float te;
    __device__ __forceinline__ static ExtSums shfl_xor(const ExtSums& a, int o) {
        ExtSums r;
        r.zs = __shfl_xor_sync(0xffffffffu, a.zs, o);
        r.te = __shfl_xor_sync(0xffffffffu, a.te, o);
        return r;
    }
};

struct AddExtSums {
    __device__ __forceinline__ ExtSums operator()(const ExtSums& a, const ExtSums& b) const {
        ExtSums r; r.zs = a.zs + b.zs; r.te = a.te + b.te; return r;
    }
};

// exp(d) as 2^(d * log2(e)): one multiply and the hardware exp2 (MUFU.EX2, relative error about
// 2^-22). The rounding of d * log2(e) adds a relative error of about |d| * 4e-8 to the result, under
// 1e-6 for every element that adds more than 1e-10 of the row's probability mass.
#define PLW4J_LOG2E 1.4426950408889634f
__device__ __forceinline__ float exp_of(float d) { return exp2f(d * PLW4J_LOG2E); }

// Commutative combine (bitwise: a op b == b op a).
struct CombineStat {
    __device__ __forceinline__ RowStat operator()(const RowStat& a, const RowStat& b) const {
        RowStat r;
        r.m = fmaxf(a.m, b.m);
        if (r.m == neg_inf_f()) {
            r.s = a.s + b.s;   // 0, or NaN if either side met a NaN (see fold): kept for find-NaN
        } else {
            r.s = a.s * exp_of(a.m - r.m) + b.s * exp_of(b.m - r.m);
        }
        if (a.m > b.m) r.bi = a.bi;
        else if (b.m > a.m) r.bi = b.bi;
        else r.bi = min(a.bi, b.bi);
        r.ni = min(a.ni, b.ni);
        return r;
    }
};

// Folds N consecutive elements starting at index idx0 into the thread's running statistics.
// Elements reach a thread in increasing index order. The common case costs one max per element
// and the exponential: the index of a new maximum is searched only in the rare vectors that hold
// one, and NaNs are not looked for here at all. A NaN element makes its exponential, hence the sum,
// NaN (fmaxf ignores it in the max), so the row's first NaN is searched afterwards (first_nan, in xent_row),
// only in rows whose sum is NaN or whose max is -Inf (where no exponential was taken).
template <int N, bool EXT = false>
__device__ __forceinline__ void fold(RowStat& st, const float* x, int idx0, const XentExt& xe = XentExt(),
                                     ExtSums* xs = nullptr) {
    float vm = x[0];
#pragma unroll
    for (int k = 1; k < N; k++) {
        vm = fmaxf(vm, x[k]);        // NaN-ignoring
    }
    if (vm > st.m) {                 // a new maximum: its first index in this vector
        int bi = idx0;
#pragma unroll
        for (int k = N - 1; k >= 0; k--) {
            if (x[k] == vm) bi = idx0 + k;
        }
        st.bi = bi;
        const float a = exp_of(st.m - vm);   // st.m = -Inf: exp 0 and s was 0
        if constexpr (EXT) {
            // T relative to the new max: sum e'(z - vm) = a (T + s (m - vm)); nothing to rescale before a max
            if (xe.ent && st.m > neg_inf_f()) xs->te = a * fmaf(st.s, st.m - vm, xs->te);
        }
        st.s = st.s * a;
        st.m = vm;
    }
    if (st.m > neg_inf_f()) {
        float acc = 0.0f;
        if (EXT && xe.ent) {
            float tacc = 0.0f;
#pragma unroll
            for (int k = 0; k < N; k++) {
                const float d = x[k] - st.m;
                const float e = exp_of(d);
                acc += e;
                tacc = fmaf(e, d > neg_inf_f() ? d : 0.0f, tacc);   // a -Inf element adds 0, not 0 * -Inf
            }
            xs->te += tacc;
        } else {
#pragma unroll
            for (int k = 0; k < N; k++) acc += exp_of(x[k] - st.m);   // -Inf elements add 0, NaN makes NaN
        }
        st.s += acc;
    } else {   // nothing above -Inf yet (rare): no exponential, so a NaN must mark the sum itself
        bool nan = false;
#pragma unroll
        for (int k = 0; k < N; k++) nan |= x[k] != x[k];
        if (nan) st.s = nan_f();   // stays NaN: a later maximum rescales it by 0, a combine adds it
    }
    if constexpr (EXT) {
        if (xe.sumZ) {
            float zacc = 0.0f;
#pragma unroll
            for (int k = 0; k < N; k++) zacc += x[k];
            xs->zs += zacc;
        }
    }
}

// First NaN index among N elements (PLW4J_NONE if none), elements in increasing index order.
template <int N>
__device__ __forceinline__ int first_nan(const float* x, int idx0) {
    int ni = PLW4J_NONE;
#pragma unroll
    for (int k = N - 1; k >= 0; k--) {
        if (x[k] != x[k]) ni = idx0 + k;   // the last assignment is the first NaN
    }
    return ni;
}

// Gradient of N elements: g = sc * (exp((x - m) - log(s)) - [idx == y]), with ls2 = log2(s).
template <int N>
__device__ __forceinline__ void grad_elems(float* x, int idx0, float m, float ls2, float sc, int y) {
#pragma unroll
    for (int k = 0; k < N; k++) {
        float p = exp2f(fmaf(x[k] - m, PLW4J_LOG2E, -ls2));
        x[k] = sc * (idx0 + k == y ? p - 1.0f : p);
    }
}

// The extension path's gradient of N capped elements z': g = fmaf(p, a, b) - [idx == y] ty, times
// 1 - (z'/c)^2 when capped, with p = exp(z' - lse), a = scale (1 + 2 lambda lse), b = -scale eps / V,
// ty = scale (1 - eps).
struct ExtGrad {
    float a, b, ty;
};

template <int N, bool EXT>
__device__ __forceinline__ void grad_any(float* x, int idx0, float m, float ls2, float sc, int y,
                                         const XentExt& xe, const ExtGrad& eg) {
    if (!EXT || xe.plainGrad) {
        grad_elems<N>(x, idx0, m, ls2, sc, y);
    } else {
#pragma unroll
        for (int k = 0; k < N; k++) {
            const float z = xe.capped(x[k]);
            const float p = exp2f(fmaf(z - m, PLW4J_LOG2E, -ls2));
            float g = fmaf(p, eg.a, eg.b);
            if (idx0 + k == y) g -= eg.ty;
            if (xe.cap > 0.0f) {
                const float u = z * xe.invCap;
                g *= fmaf(-u, u, 1.0f);
            }
            x[k] = g;
        }
    }
}

// Loads N elements (an unpacked 16-byte vector or one element), soft-capped on the extension path.
template <int N, bool EXT>
__device__ __forceinline__ void cap_all(float* x, const XentExt& xe) {
    if constexpr (EXT) {
#pragma unroll
        for (int k = 0; k < N; k++) x[k] = xe.capped(x[k]);
    }
}

template <typename TI, typename TG>
__device__ __forceinline__ void store_grad_vec(typename TG::T* grow, int e0, bool gvec, const float* x) {
    constexpr int N = TI::PER_VEC;
    if (gvec) {
        // N elements of TG: N * sizeof(TG::T) bytes, a whole number of 16-byte vectors.
        constexpr int NV = N / TG::PER_VEC;
        uint4* dst = reinterpret_cast<uint4*>(grow + e0);
#pragma unroll
        for (int q = 0; q < NV; q++) dst[q] = TG::pack(x + q * TG::PER_VEC);
    } else {
#pragma unroll
        for (int k = 0; k < N; k++) TG::store(grow + e0 + k, x[k]);
    }
}

// Writes a gradient row of zeros (head elements, 16-byte vectors, tail elements).
template <typename TI, typename TG>
__device__ __forceinline__ void zero_row(typename TG::T* grow, int h, int nvec, int tail0, int V, bool gvec) {
    constexpr int W = TI::PER_VEC;
    const int tid = threadIdx.x;
    float z[W];
#pragma unroll
    for (int k = 0; k < W; k++) z[k] = 0.0f;
    for (int j = tid; j < nvec; j += PLW4J_BLOCK) store_grad_vec<TI, TG>(grow, h + j * W, gvec, z);
    if (tid < h) TG::store(grow + tid, 0.0f);
    if (tail0 + tid < V) TG::store(grow + tail0 + tid, 0.0f);
}

template <typename TI, typename TG, bool GRAD, bool EXT = false>
__device__ __forceinline__ void xent_row(
        const typename TI::T* logits, long long strideB, long long strideT, int seqLen,
        int rows, int V, const int* __restrict__ targets, const float* __restrict__ scale,
        typename TG::T* grad, long long gStrideB, long long gStrideT,
        double* __restrict__ lossOut, int* __restrict__ argOut, int cacheVec, uint4* cache,
        RowStat* scratch, const XentExt& xe = XentExt(), ExtSums* xscratch = nullptr) {
    typedef typename TI::T T;
    typedef typename TG::T G;
    constexpr int W = TI::PER_VEC;
    constexpr int U = 4;   // vectors in flight per thread
    const int r = blockIdx.x;
    const int tid = threadIdx.x;
    if (r >= rows) return;   // grid = rows; the guard keeps a larger grid harmless
    const int y = targets[r];
    const int b = r / seqLen, t = r - b * seqLen;
    const T* row = logits + (long long) b * strideB + (long long) t * strideT;
    G* grow = GRAD ? grad + (long long) b * gStrideB + (long long) t * gStrideT : nullptr;
    const float sc = GRAD ? (y >= 0 ? scale[r] : 0.0f) : 0.0f;

    // Alignment of the row: h head elements, then nvec 16-byte vectors, then tail elements.
    const unsigned long long addr = (unsigned long long) row;
    const int mis = (int) ((addr & 15ull) / sizeof(T));
    const int h = mis == 0 ? 0 : min(V, W - mis);
    const int nvec = (V - h) / W;
    const int tail0 = h + nvec * W;
    const bool gvec = GRAD && ((((unsigned long long) (grow + h)) & 15ull) == 0ull);
    const int cv = min(cacheVec, nvec);

    if (y < 0) {   // inactive: the logits are not read; a gradient row is all zeros
        if (GRAD) zero_row<TI, TG>(grow, h, nvec, tail0, V, gvec);
        if (tid == 0) {
            lossOut[r] = 0.0;
            argOut[r] = -1;
            if (EXT && xe.ent) xe.entropy[r] = 0.0;
        }
        return;
    }
    const bool doGrad = GRAD && sc != 0.0f;
    float zy = 0.0f;
    if (tid == 0) { zy = TI::load(row + y); cap_all<1, EXT>(&zy, xe); }   // before any gradient write (in place)

    // ---- pass 1: statistics (and fill the shared-memory cache) ----
    RowStat st = stat_identity();
    ExtSums xs; xs.zs = 0.0f; xs.te = 0.0f;
    if (tid < h) { float x = TI::load(row + tid); cap_all<1, EXT>(&x, xe); fold<1, EXT>(st, &x, tid, xe, &xs); }
    const uint4* vrow = reinterpret_cast<const uint4*>(row + h);
    int j = tid;
    for (; j + (U - 1) * PLW4J_BLOCK < nvec; j += U * PLW4J_BLOCK) {
        uint4 v[U];
#pragma unroll
        for (int u = 0; u < U; u++) v[u] = vrow[j + u * PLW4J_BLOCK];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int jj = j + u * PLW4J_BLOCK;
            if (doGrad && jj < cv) cache[jj] = v[u];
            float x[W];
            TI::unpack(v[u], x);
            cap_all<W, EXT>(x, xe);
            fold<W, EXT>(st, x, h + jj * W, xe, &xs);
        }
    }
    for (; j < nvec; j += PLW4J_BLOCK) {
        uint4 v = vrow[j];
        if (doGrad && j < cv) cache[j] = v;
        float x[W];
        TI::unpack(v, x);
        cap_all<W, EXT>(x, xe);
        fold<W, EXT>(st, x, h + j * W, xe, &xs);
    }
    if (tail0 + tid < V) {
        float x = TI::load(row + tail0 + tid);
        cap_all<1, EXT>(&x, xe);
        fold<1, EXT>(st, &x, tail0 + tid, xe, &xs);
    }

    const RowStat own = st;
    st = block_allreduce(st, stat_identity(), CombineStat(), scratch);
    if constexpr (EXT) {
        if (xe.sumZ || xe.ent) {   // uniform: the sums of S and of T rescaled to the row's max
            if (xe.ent) xs.te = own.m > neg_inf_f() && st.m > neg_inf_f()
                    ? exp_of(own.m - st.m) * fmaf(own.s, own.m - st.m, xs.te) : 0.0f;
            ExtSums zero; zero.zs = 0.0f; zero.te = 0.0f;
            xs = block_allreduce(xs, zero, AddExtSums(), xscratch);
        }
    }

    // Rare rows (a NaN sum, or nothing above -Inf): find the first NaN, reading the row once more.
    // Block-uniform condition (every thread holds the reduced statistics), so the reduction is safe.
    if (st.s != st.s || !(st.m > neg_inf_f())) {
        RowStat nst = stat_identity();
        if (tid < h) { float x = TI::load(row + tid); nst.ni = first_nan<1>(&x, tid); }
        for (int jj = tid; jj < nvec; jj += PLW4J_BLOCK) {
            float x[W];
            TI::unpack(vrow[jj], x);
            nst.ni = min(nst.ni, first_nan<W>(x, h + jj * W));
        }
        if (tail0 + tid < V) { float x = TI::load(row + tail0 + tid); nst.ni = min(nst.ni, first_nan<1>(&x, tail0 + tid)); }
        nst = block_allreduce(nst, stat_identity(), CombineStat(), scratch);
        st.ni = nst.ni;
    }

    const bool valid = st.ni == PLW4J_NONE && st.m > neg_inf_f() && st.m < -neg_inf_f();
    if (tid == 0) {
        const int arg = st.ni != PLW4J_NONE ? st.ni : (st.bi == PLW4J_NONE ? 0 : st.bi);
        argOut[r] = arg;
        if constexpr (EXT) {
            const double ls = log((double) st.s), lse = (double) st.m + ls;
            double loss = ((double) st.m - (double) zy) + ls;
            if (xe.eps != 0.0) loss = (1.0 - xe.eps) * loss + xe.eps * (lse - (double) xs.zs / V);
            if (xe.lambda != 0.0) loss += xe.lambda * lse * lse;
            lossOut[r] = valid ? loss : (double) nan_f();
            if (xe.ent) xe.entropy[r] = valid ? ls - (double) xs.te / (double) st.s : (double) nan_f();
        } else {
            lossOut[r] = valid ? ((double) st.m - (double) zy) + log((double) st.s) : (double) nan_f();
        }
    }
    if (!GRAD) return;
    if (!doGrad) {   // zero scale: zeros, written after every read of the row (it may be in place)
        zero_row<TI, TG>(grow, h, nvec, tail0, V, gvec);
        return;
    }

    // ---- pass 2: gradient ----
    const float m = valid ? st.m : nan_f();   // NaN propagates to every element of an invalid row
    const float ls2 = log2f(st.s);
    ExtGrad eg; eg.a = 0.0f; eg.b = 0.0f; eg.ty = 0.0f;
    if constexpr (EXT) {
        const double lse = (double) st.m + log((double) st.s);
        eg.a = (float) ((double) sc * (1.0 + 2.0 * xe.lambda * lse));
        eg.b = (float) (-(double) sc * xe.eps / V);
        eg.ty = (float) ((double) sc * (1.0 - xe.eps));
    }
    // Uncached vectors first: the end of the row is the most recently read, the likeliest in L2.
    for (int jj = cv + tid; jj < nvec; jj += PLW4J_BLOCK) {
        float x[W];
        TI::unpack(vrow[jj], x);
        grad_any<W, EXT>(x, h + jj * W, m, ls2, sc, y, xe, eg);
        store_grad_vec<TI, TG>(grow, h + jj * W, gvec, x);
    }
    for (int jj = tid; jj < cv; jj += PLW4J_BLOCK) {
        float x[W];
        TI::unpack(cache[jj], x);
        grad_any<W, EXT>(x, h + jj * W, m, ls2, sc, y, xe, eg);
        store_grad_vec<TI, TG>(grow, h + jj * W, gvec, x);
    }
    if (tid < h) {
        float x = TI::load(row + tid);
        grad_any<1, EXT>(&x, tid, m, ls2, sc, y, xe, eg);
        TG::store(grow + tid, x);
    }
    if (tail0 + tid < V) {
        float x = TI::load(row + tail0 + tid);
        grad_any<1, EXT>(&x, tail0 + tid, m, ls2, sc, y, xe, eg);
        TG::store(grow + tail0 + tid, x);
    }
}

}  // namespace plw4j

// The logits are __restrict__ (read-only path) only in the forward kernels: a gradient may be
// written over them (in place).
#define PLW4J_XENT_PARAMS(TIN, TOUT, RESTRICT)                                                      \
    const TIN* RESTRICT logits, long long strideB, long long strideT, int seqLen, int rows,         \
    int V, const int* __restrict__ targets, const float* __restrict__ scale, TOUT* grad,            \
    long long gStrideB, long long gStrideT, double* __restrict__ lossOut, int* __restrict__ argOut, \
    int cacheVec
#define PLW4J_NO_RESTRICT

#define PLW4J_XENT_KERNEL(NAME, TI, TG, GRAD, RESTRICT)                                             \
    extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)                                      \
    NAME(PLW4J_XENT_PARAMS(plw4j::TI::T, plw4j::TG::T, RESTRICT)) {                                \
        __shared__ plw4j::RowStat scratch[PLW4J_WARPS + 1];                                        \
        PLW4J_DYNAMIC_CACHE(cache);                                                                 \
        plw4j::xent_row<plw4j::TI, plw4j::TG, GRAD>(logits, strideB, strideT, seqLen, rows, V,     \
                targets, scale, grad, gStrideB, gStrideT, lossOut, argOut, cacheVec, cache,         \
                scratch);                                                                           \
    }

// The extension kernels: the plain parameters, then eps, lambda, c (0 = off) and entropyOut (or null).
#define PLW4J_XENT_EXT_KERNEL(NAME, TI, TG, GRAD, RESTRICT)                                         \
    extern "C" __global__ void __launch_bounds__(PLW4J_BLOCK)                                      \
    NAME(PLW4J_XENT_PARAMS(plw4j::TI::T, plw4j::TG::T, RESTRICT), double eps, double lambda,       \
         double softCap, double* __restrict__ entropyOut) {                                        \
        __shared__ plw4j::RowStat scratch[PLW4J_WARPS + 1];                                        \
        __shared__ plw4j::ExtSums xscratch[PLW4J_WARPS + 1];                                       \
        PLW4J_DYNAMIC_CACHE(cache);                                                                 \
        plw4j::XentExt xe;                                                                          \
        xe.eps = eps;                                                                               \
        xe.lambda = lambda;                                                                         \
        xe.cap = softCap > 0.0 ? (float) softCap : 0.0f;                                            \
        xe.invCap = softCap > 0.0 ? (float) (1.0 / softCap) : 0.0f;                                 \
        xe.entropy = entropyOut;                                                                    \
        xe.sumZ = eps != 0.0;                                                                       \
        xe.ent = entropyOut != nullptr;                                                             \
        xe.plainGrad = eps == 0.0 && lambda == 0.0 && !(softCap > 0.0);                             \
        plw4j::xent_row<plw4j::TI, plw4j::TG, GRAD, true>(logits, strideB, strideT, seqLen, rows,  \
                V, targets, scale, grad, gStrideB, gStrideT, lossOut, argOut, cacheVec, cache,      \
                scratch, xe, xscratch);                                                             \
    }

#ifndef PLW4J_DYNAMIC_CACHE
#define PLW4J_DYNAMIC_CACHE(name) extern __shared__ uint4 name[]
#endif

// Forward only (grad, gStrideB, gStrideT, scale and cacheVec are ignored; pass 0/null).
PLW4J_XENT_KERNEL(plw4j_xent_fwd_f32, F32, F32, false, __restrict__)
PLW4J_XENT_KERNEL(plw4j_xent_fwd_bf16, BF16, BF16, false, __restrict__)
PLW4J_XENT_KERNEL(plw4j_xent_fwd_f16, FP16, FP16, false, __restrict__)
// Forward + gradient: logits type, gradient type.
PLW4J_XENT_KERNEL(plw4j_xent_grad_f32_f32, F32, F32, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_KERNEL(plw4j_xent_grad_bf16_bf16, BF16, BF16, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_KERNEL(plw4j_xent_grad_bf16_f32, BF16, F32, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_KERNEL(plw4j_xent_grad_f16_f16, FP16, FP16, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_KERNEL(plw4j_xent_grad_f16_f32, FP16, F32, true, PLW4J_NO_RESTRICT)
// The same with the extensions of SPEC section 7 and the entropy output.
PLW4J_XENT_EXT_KERNEL(plw4j_xent_fwd_ext_f32, F32, F32, false, __restrict__)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_fwd_ext_bf16, BF16, BF16, false, __restrict__)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_fwd_ext_f16, FP16, FP16, false, __restrict__)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_grad_ext_f32_f32, F32, F32, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_grad_ext_bf16_bf16, BF16, BF16, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_grad_ext_bf16_f32, BF16, F32, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_grad_ext_f16_f16, FP16, FP16, true, PLW4J_NO_RESTRICT)
PLW4J_XENT_EXT_KERNEL(plw4j_xent_grad_ext_f16_f32, FP16, F32, true, PLW4J_NO_RESTRICT)
