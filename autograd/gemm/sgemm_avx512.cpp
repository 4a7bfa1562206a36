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
#pragma GCC unroll 4
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

// The dot tile (sgemm_kernel.h): 4 x 4 lane-vector sums, 16 accumulators,
// 4 + 1 registers for the operands. kTail: the last kc % 16 of k, masked.
constexpr int kDotMR = 4, kDotNR = 4, kLanes = 16;

template <bool kTail>
__attribute__((target("avx512f"), always_inline)) inline void dot_step(
    __m512 (&acc)[kDotMR][kDotNR], const float* const* a, const float* const* b, int64_t k,
    int64_t left) {
  const __mmask16 mask = __mmask16((1u << left) - 1u);
  __m512 x[kDotMR];
#pragma GCC unroll 4
  for (int i = 0; i < kDotMR; ++i)
    x[i] = kTail ? _mm512_maskz_loadu_ps(mask, a[i] + k) : _mm512_loadu_ps(a[i] + k);
#pragma GCC unroll 4
  for (int j = 0; j < kDotNR; ++j) {
    const __m512 y = kTail ? _mm512_maskz_loadu_ps(mask, b[j] + k) : _mm512_loadu_ps(b[j] + k);
#pragma GCC unroll 4
    for (int i = 0; i < kDotMR; ++i) acc[i][j] = _mm512_fmadd_ps(x[i], y, acc[i][j]);
  }
}

// Lanes i + (i+8), + (i+4), + (i+2), + (i+1), within zmm registers: one
// order for every element. (GCC 12 warns, -Wuninitialized, on the
// _mm512_undefined_ps inside _mm512_reduce_add_ps, the 512-to-256 casts
// and the unmasked shuffles; the maskz forms with every lane set do not.)
__attribute__((target("avx512f"))) inline float lane_sum(__m512 v) {
  constexpr __mmask16 kAll = 0xffff;
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(kAll, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(kAll, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = _mm512_add_ps(v, _mm512_maskz_movehdup_ps(kAll, v));
  return _mm512_cvtss_f32(v);
}

__attribute__((target("avx512f"))) void dot(int64_t kc, const float* const* a,
                                            const float* const* b, float* out) {
  __m512 acc[kDotMR][kDotNR];
#pragma GCC unroll 4
  for (int i = 0; i < kDotMR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < kDotNR; ++j) acc[i][j] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + kLanes <= kc; k += kLanes) dot_step<false>(acc, a, b, k, kLanes);
  if (k < kc) dot_step<true>(acc, a, b, k, kc - k);
  for (int i = 0; i < kDotMR; ++i)
    for (int j = 0; j < kDotNR; ++j) out[i * kDotNR + j] = lane_sum(acc[i][j]);
}

}  // namespace

Kernel avx512_kernel() {
  Kernel k = kernel_of<Tile, kMR, kNR>();
  k.dot_mr = kDotMR, k.dot_nr = kDotNR, k.dot = &dot;
  return k;
}

}  // namespace qat::gemm
