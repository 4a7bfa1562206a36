// AVX2+FMA micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators. Per k,
// two loads of B (16 columns), six broadcasts of A, twelve FMAs: 15 of the
// 16 ymm registers. Compiled for AVX2 by the target attribute whatever the
// build's -march; run only where the CPU has it (sgemm_dispatch.cpp).
// sgemm_avx512.cpp is the same kernel with zmm registers, line for line.
#include <immintrin.h>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {
namespace {

constexpr int kMR = 6, kNR = 16, kVecs = kNR / 8;

template <int R>  // rows of the tile, 1..kMR
struct Tile {
  __attribute__((target("avx2,fma"))) static void run(int64_t kc, const float* Ap,
                                                      const float* Bs, int64_t kb, float* C,
                                                      int64_t ldc, bool add) {
    __m256 acc[R][kVecs];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k, Ap += kMR, Bs += kb) {
      __m256 b[kVecs];
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) b[v] = _mm256_loadu_ps(Bs + 8 * v);
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const __m256 a = _mm256_broadcast_ss(Ap + i);
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm256_fmadd_ps(a, b[v], acc[i][v]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) {
        float* c = C + i * ldc + 8 * v;
        _mm256_storeu_ps(c, add ? _mm256_add_ps(_mm256_loadu_ps(c), acc[i][v]) : acc[i][v]);
      }
  }
};

}  // namespace

Kernel avx2_kernel() { return kernel_of<Tile, kMR, kNR>(); }

}  // namespace qat::gemm
