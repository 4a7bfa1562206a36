// Inside the sgemm library: what a micro-kernel file gives the blocking
// loops (sgemm_blocking.cpp), and the packed layouts they share.
//
// For one kc-long block of K, a tile of r <= mr rows and nr columns reads
//   A packed (sgemm_pack.cpp): a sliver of mr rows, Ap[k][i] =
//     op(A)[i0 + i][k0 + k] (rows past r not read), so that the kernel
//     broadcasts from constant offsets;
//   B: Bs[k*kb + j] = op(B)[k0 + k][j0 + j], either B itself (not
//     transposed, a whole sliver: kb = ldb, no copy) or a packed sliver
//     (kb = nr; transposed B, or the last columns, zero past N);
// and sets C[i][j] = sum_k Ap[k][i] * Bs[k][j] (add false) or adds it
// (add true), for i < r, j < nr, C's rows ldc apart. The sum over k is one
// FMA chain from 0 whatever the tile's place: a C element gets the same
// bits in a full tile, an edge tile or another thread's block.
#pragma once
#include <array>
#include <cstdint>
#include <utility>

#include "autograd/gemm/sgemm.h"

namespace qat::gemm {

using TileFn = void (*)(int64_t kc, const float* Ap, const float* Bs, int64_t kb,
                        float* C, int64_t ldc, bool add);

// C = A B^T (A not transposed, B transposed: weight gradients, K long)
// with M or N below one outer-product tile reads both operands in place,
// k contiguous in each, no packing and no lanes padded. A dot tile of dot_mr x dot_nr takes one row
// pointer per row of A and of B (a zero row stands in past M or N) and
// writes out[i*dot_nr + j] = sum_k a[i][k] * b[j][k], k < kc: lane-wise
// FMA chains over k (a masked tail), then each lane vector summed in one
// fixed order. The same bits for an element wherever its tile lies.
using DotFn = void (*)(int64_t kc, const float* const* a, const float* const* b, float* out);
constexpr int64_t kMaxDot = 4;  // dot_mr, dot_nr <= 4
constexpr int64_t kDotKC = 2048;  // K block of the dot tiles: rows stay in L2

constexpr int64_t kMaxMR = 12, kMaxNR = 32;
constexpr int64_t kKC = 256;  // K block: a B sliver (256 x 16 or 32) stays in L1
constexpr int64_t kMC = 144;  // M block: an A panel (144 x 256, 147 KB) in L2
constexpr int64_t kNC = 2048; // N block: a B panel (256 x 2048, 2 MB) in L3

struct Kernel {
  int64_t mr, nr;
  std::array<TileFn, kMaxMR + 1> tile;  // tile[r]: r rows, 1 <= r <= mr
  int64_t dot_mr = 0, dot_nr = 0;
  DotFn dot = nullptr;
};

// The kernel of a micro-kernel file whose tiles are Tile<r>::run.
template <template <int> class Tile, int MR, int NR, int... R>
Kernel kernel_of(std::integer_sequence<int, R...>) {
  static_assert(MR <= kMaxMR && NR <= kMaxNR);
  Kernel k{MR, NR, {}, 0, 0, nullptr};
  ((k.tile[R + 1] = &Tile<R + 1>::run), ...);
  return k;
}
template <template <int> class Tile, int MR, int NR>
Kernel kernel_of() {
  return kernel_of<Tile, MR, NR>(std::make_integer_sequence<int, MR>());
}

Kernel portable_kernel();
Kernel avx2_kernel();
Kernel avx512_kernel();

// sgemm_pack.cpp. pack_a: rows [i0, i0+mc) x k [k0, k0+kc) of op(A) as
// slivers of mr rows, sliver s at Ap + s*kc*mr. pack_b: one sliver, the
// columns [j0, j0+cols) (cols <= nr) x k [k0, k0+kc) of op(B), zero past cols.
void pack_a(float* Ap, const Sgemm& g, int64_t mr, int64_t i0, int64_t mc,
            int64_t k0, int64_t kc);
void pack_b(float* Bp, const Sgemm& g, int64_t nr, int64_t k0, int64_t kc,
            int64_t j0, int64_t cols);

// sgemm_blocking.cpp: the whole product with one kernel, one thread,
// through dot tiles or not (wants_dot: from the shape); and over OpenMP
// threads, on blocks of C.
bool wants_dot(const Kernel& kernel, const Sgemm& g);
void run_blocked(const Kernel& kernel, const Sgemm& g, bool dot);
void run_parallel(const Kernel& kernel, const Sgemm& g);

}  // namespace qat::gemm
