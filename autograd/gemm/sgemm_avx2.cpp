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
#pragma GCC unroll 4
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

// The dot tile (sgemm_kernel.h): 3 x 4 lane-vector sums, 12 accumulators,
// 3 + 1 registers for the operands. kTail: the last kc % 8 of k, masked.
constexpr int kDotMR = 3, kDotNR = 4, kLanes = 8;

template <bool kTail>
__attribute__((target("avx2,fma"), always_inline)) inline void dot_step(
    __m256 (&acc)[kDotMR][kDotNR], const float* const* a, const float* const* b, int64_t k,
    int64_t left) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(left)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 x[kDotMR];
#pragma GCC unroll 4
  for (int i = 0; i < kDotMR; ++i)
    x[i] = kTail ? _mm256_maskload_ps(a[i] + k, mask) : _mm256_loadu_ps(a[i] + k);
#pragma GCC unroll 4
  for (int j = 0; j < kDotNR; ++j) {
    const __m256 y = kTail ? _mm256_maskload_ps(b[j] + k, mask) : _mm256_loadu_ps(b[j] + k);
#pragma GCC unroll 4
    for (int i = 0; i < kDotMR; ++i) acc[i][j] = _mm256_fmadd_ps(x[i], y, acc[i][j]);
  }
}

// Lanes (0+4) + (2+6), then + (1+5) + (3+7): one order for every element.
__attribute__((target("avx2,fma"))) inline float lane_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

__attribute__((target("avx2,fma"))) void dot(int64_t kc, const float* const* a,
                                             const float* const* b, float* out) {
  __m256 acc[kDotMR][kDotNR];
#pragma GCC unroll 4
  for (int i = 0; i < kDotMR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < kDotNR; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + kLanes <= kc; k += kLanes) dot_step<false>(acc, a, b, k, kLanes);
  if (k < kc) dot_step<true>(acc, a, b, k, kc - k);
  for (int i = 0; i < kDotMR; ++i)
    for (int j = 0; j < kDotNR; ++j) out[i * kDotNR + j] = lane_sum(acc[i][j]);
}

}  // namespace

Kernel avx2_kernel() {
  Kernel k = kernel_of<Tile, kMR, kNR>();
  k.dot_mr = kDotMR, k.dot_nr = kDotNR, k.dot = &dot;
  return k;
}

}  // namespace qat::gemm
