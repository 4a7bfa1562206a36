// The blocking loops around a micro-kernel (sgemm_kernel.h): K in blocks of
// kKC, C's columns in blocks of kNC and its rows in blocks of kMC; the A
// block is packed once per (K block, row block) and every B sliver of the
// column block runs over it. A B sliver is read in place when B is not
// transposed (it is already k-major); a transposed B and the last, partial
// sliver are packed. A narrow C = A B^T goes through dot tiles (run_dot).
// Then sgemm_parallel: the same on blocks of C, one
// block per OpenMP iteration.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {
namespace {

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// Per-thread packing buffers, grown once and kept: allocating them per call
// would cost a page fault per page of every GEMM of every Winograd chunk.
float* buffer(std::vector<float>& v, int64_t floats) {
  if (int64_t(v.size()) < floats) v.resize(size_t(floats));
  return v.data();
}

// A tile of rows x cols (cols < nr) through a full nr-wide scratch tile,
// then added to or stored into C: the same float operations as a full tile.
void edge_tile(const Kernel& kn, int64_t rows, int64_t cols, int64_t kc, const float* Ap,
               const float* Bs, int64_t kb, float* C, int64_t ldc, bool add) {
  alignas(64) float tile[kMaxMR * kMaxNR];
  kn.tile[rows](kc, Ap, Bs, kb, tile, kn.nr, /*add=*/false);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      C[i * ldc + j] = add ? C[i * ldc + j] + tile[i * kn.nr + j] : tile[i * kn.nr + j];
}

// C's column block [j0, j0+nc) for the K block [k0, k0+kc).
void column_block(const Kernel& kn, const Sgemm& g, int64_t j0, int64_t nc, int64_t k0,
                  int64_t kc, float* Ap, float* Bp) {
  const bool add = g.accumulate || k0 > 0;
  const int64_t slivers = (nc + kn.nr - 1) / kn.nr;
  for (int64_t s = 0; s < slivers; ++s) {
    const int64_t cols = std::min(kn.nr, nc - s * kn.nr);
    if (g.tb || cols < kn.nr) pack_b(Bp + s * kc * kn.nr, g, kn.nr, k0, kc, j0 + s * kn.nr, cols);
  }
  for (int64_t i0 = 0; i0 < g.M; i0 += kMC) {
    const int64_t mc = std::min(kMC, g.M - i0);
    pack_a(Ap, g, kn.mr, i0, mc, k0, kc);
    for (int64_t s = 0; s < slivers; ++s) {
      const int64_t j = j0 + s * kn.nr, cols = std::min(kn.nr, nc - s * kn.nr);
      const bool in_place = !g.tb && cols == kn.nr;
      const float* Bs = in_place ? g.B + k0 * g.ldb + j : Bp + s * kc * kn.nr;
      const int64_t kb = in_place ? g.ldb : kn.nr;
      for (int64_t i = i0; i < i0 + mc; i += kn.mr) {
        const int64_t rows = std::min(kn.mr, i0 + mc - i);
        const float* As = Ap + (i - i0) * kc;
        float* Cs = g.C + i * g.ldc + j;
        if (cols == kn.nr)
          kn.tile[rows](kc, As, Bs, kb, Cs, g.ldc, add);
        else
          edge_tile(kn, rows, cols, kc, As, Bs, kb, Cs, g.ldc, add);
      }
    }
  }
}

// C = A B^T through dot tiles (sgemm_kernel.h), K in blocks of kDotKC
// added to C in order.
void run_dot(const Kernel& kn, const Sgemm& g) {
  thread_local std::vector<float> zeros;
  const int64_t kc_max = std::min(kDotKC, g.K);
  if (int64_t(zeros.size()) < kc_max) zeros.assign(size_t(kc_max), 0.0f);
  const float* a[kMaxDot];
  const float* b[kMaxDot];
  float out[kMaxDot * kMaxDot];
  for (int64_t k0 = 0; k0 < g.K; k0 += kDotKC) {
    const int64_t kc = std::min(kDotKC, g.K - k0);
    const bool add = g.accumulate || k0 > 0;
    for (int64_t i0 = 0; i0 < g.M; i0 += kn.dot_mr) {
      const int64_t rows = std::min(kn.dot_mr, g.M - i0);
      for (int64_t i = 0; i < kn.dot_mr; ++i)
        a[i] = i < rows ? g.A + (i0 + i) * g.lda + k0 : zeros.data();
      for (int64_t j0 = 0; j0 < g.N; j0 += kn.dot_nr) {
        const int64_t cols = std::min(kn.dot_nr, g.N - j0);
        for (int64_t j = 0; j < kn.dot_nr; ++j)
          b[j] = j < cols ? g.B + (j0 + j) * g.ldb + k0 : zeros.data();
        kn.dot(kc, a, b, out);
        for (int64_t i = 0; i < rows; ++i) {
          float* c = g.C + (i0 + i) * g.ldc + j0;
          for (int64_t j = 0; j < cols; ++j)
            c[j] = add ? c[j] + out[i * kn.dot_nr + j] : out[i * kn.dot_nr + j];
        }
      }
    }
  }
}

}  // namespace

// A B^T narrower than one tile (the first conv's weight gradient, N = 9;
// the last conv's, M = 1) wastes most of an outer-product tile's lanes;
// dot tiles waste none (bench_sgemm: 36 against 16 GFLOP/s at N = 9).
bool wants_dot(const Kernel& kn, const Sgemm& g) {
  return g.tb && !g.ta && (g.N < kn.nr || g.M < kn.mr);
}

void run_blocked(const Kernel& kn, const Sgemm& g, bool dot) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {  // an empty sum
    if (!g.accumulate)
      for (int64_t i = 0; i < g.M; ++i) std::fill_n(g.C + i * g.ldc, g.N, 0.0f);
    return;
  }
  if (dot) return run_dot(kn, g);
  thread_local std::vector<float> a_buffer, b_buffer;
  const int64_t kc_max = std::min(kKC, g.K);
  float* Ap = buffer(a_buffer, round_up(std::min(kMC, g.M), kn.mr) * kc_max);
  float* Bp = buffer(b_buffer, round_up(std::min(kNC, g.N), kn.nr) * kc_max);
  for (int64_t j0 = 0; j0 < g.N; j0 += kNC)
    for (int64_t k0 = 0; k0 < g.K; k0 += kKC)
      column_block(kn, g, j0, std::min(kNC, g.N - j0), k0, std::min(kKC, g.K - k0), Ap, Bp);
}

// The sub-product of C's rows [i0, i0+m) and columns [j0, j0+n).
Sgemm block_of(const Sgemm& g, int64_t i0, int64_t m, int64_t j0, int64_t n) {
  Sgemm b = g;
  b.M = m, b.N = n;
  b.A = g.ta ? g.A + i0 : g.A + i0 * g.lda;
  b.B = g.tb ? g.B + j0 * g.ldb : g.B + j0;
  b.C = g.C + i0 * g.ldc + j0;
  return b;
}

void run_parallel(const Kernel& kn, const Sgemm& g) {
  // Row blocks of kMC; columns cut so that there are about two blocks per
  // thread, in multiples of 64 (whole slivers of every kernel). Where a
  // cut falls changes no sum (sgemm.h), so the thread count changes no bit;
  // the dot tiles or not are chosen for the whole C, not per block.
  const bool dot = wants_dot(kn, g);
  const int64_t threads = omp_get_max_threads();
  const int64_t row_blocks = std::max<int64_t>(1, (g.M + kMC - 1) / kMC);
  const int64_t col_blocks_wanted = std::max<int64_t>(1, 2 * threads / row_blocks);
  const int64_t width = std::max<int64_t>(64, round_up((g.N + col_blocks_wanted - 1) /
                                                           col_blocks_wanted, 64));
  const int64_t col_blocks = std::max<int64_t>(1, (g.N + width - 1) / width);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t r = 0; r < row_blocks; ++r)
    for (int64_t c = 0; c < col_blocks; ++c) {
      const int64_t i0 = r * kMC, j0 = c * width;
      run_blocked(kn, block_of(g, i0, std::min(kMC, g.M - i0), j0, std::min(width, g.N - j0)),
                  dot);
    }
}

}  // namespace qat::gemm
