// AVX-512F micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators. Per k,
// two loads of B (32 columns), twelve broadcasts of A, 24 FMAs: 27 of the
// 32 zmm registers. Compiled for AVX-512F by the target attribute whatever
// the build's -march; run only where the CPU has it (sgemm_dispatch.cpp).
// sgemm_avx2.cpp is the same kernel with ymm registers, line for line.
#include <immintrin.h>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {
namespace {

constexpr int kMR = 12, kNR = 32, kVecs = kNR / 16;

template <int R>  // rows of the tile, 1..kMR
struct Tile {
  __attribute__((target("avx512f"))) static void run(int64_t kc, const float* Ap,
                                                      const float* Bs, int64_t kb, float* C,
                                                      int64_t ldc, bool add) {
    __m512 acc[R][kVecs];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k, Ap += kMR, Bs += kb) {
      __m512 b[kVecs];
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) b[v] = _mm512_loadu_ps(Bs + 16 * v);
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const __m512 a = _mm512_set1_ps(Ap[i]);
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) {
        float* c = C + i * ldc + 16 * v;
        _mm512_storeu_ps(c, add ? _mm512_add_ps(_mm512_loadu_ps(c), acc[i][v]) : acc[i][v]);
      }
  }
};

}  // namespace

Kernel avx512_kernel() { return kernel_of<Tile, kMR, kNR>(); }

}  // namespace qat::gemm
