// Packing for the blocking loops: A into slivers of mr rows (k-major, so
// the kernel's broadcasts read consecutive floats), B into one sliver of nr
// columns when it cannot be read in place (sgemm_kernel.h has the layouts).
#include <xmmintrin.h>  // SSE: every x86-64 has it, no run-time check

#include <algorithm>
#include <cstring>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {
namespace {

// dst[k*width + r] = src[r*ld + k] for r < rows, k < kc: a transpose, for
// an operand whose k runs along its rows. By 4x4 SSE transposes (4 rows,
// 4 k), then pairs of rows by unpacks, then scalar: a plain loop of scalar
// strided stores ran at ~2 cycles a float and cost more than the products
// of the weight-gradient GEMMs (M = N = 16).
void interleave(float* dst, int64_t width, const float* src, int64_t ld, int64_t rows,
                int64_t kc) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * ld;
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      __m128 x0 = _mm_loadu_ps(s + k), x1 = _mm_loadu_ps(s + ld + k),
             x2 = _mm_loadu_ps(s + 2 * ld + k), x3 = _mm_loadu_ps(s + 3 * ld + k);
      _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
      float* d = dst + k * width + r;
      _mm_storeu_ps(d, x0), _mm_storeu_ps(d + width, x1);
      _mm_storeu_ps(d + 2 * width, x2), _mm_storeu_ps(d + 3 * width, x3);
    }
    for (; k < kc; ++k)
      for (int64_t t = 0; t < 4; ++t) dst[k * width + r + t] = s[t * ld + k];
  }
  for (; r + 2 <= rows; r += 2) {
    const float* s = src + r * ld;
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      const __m128 x0 = _mm_loadu_ps(s + k), x1 = _mm_loadu_ps(s + ld + k);
      const __m128 lo = _mm_unpacklo_ps(x0, x1), hi = _mm_unpackhi_ps(x0, x1);
      float* d = dst + k * width + r;
      _mm_storel_pi(reinterpret_cast<__m64*>(d), lo);
      _mm_storeh_pi(reinterpret_cast<__m64*>(d + width), lo);
      _mm_storel_pi(reinterpret_cast<__m64*>(d + 2 * width), hi);
      _mm_storeh_pi(reinterpret_cast<__m64*>(d + 3 * width), hi);
    }
    for (; k < kc; ++k) dst[k * width + r] = s[k], dst[k * width + r + 1] = s[ld + k];
  }
  for (; r < rows; ++r)
    for (int64_t k = 0; k < kc; ++k) dst[k * width + r] = src[r * ld + k];
}

// dst[k*width + r] = src[k*ld + r] for r < ROWS, k < kc: ROWS floats of
// each k-row of an A stored (K, M). A copy of a size known at compile time
// is a few vector moves; std::copy_n of a run-time count was a memmove call
// per 48 bytes, 7% of a full-size training step.
template <int64_t ROWS>
void copy_rows(float* dst, int64_t width, const float* src, int64_t ld, int64_t kc) {
  for (int64_t k = 0; k < kc; ++k)  // memcpy: GCC 12 calls memmove for copy_n of 24 bytes
    std::memcpy(dst + k * width, src + k * ld, ROWS * sizeof(float));
}
void copy_rows(float* dst, int64_t width, const float* src, int64_t ld, int64_t rows,
               int64_t kc) {
  switch (rows) {
    case 12: return copy_rows<12>(dst, width, src, ld, kc);
    case 8: return copy_rows<8>(dst, width, src, ld, kc);
    case 6: return copy_rows<6>(dst, width, src, ld, kc);
    case 4: return copy_rows<4>(dst, width, src, ld, kc);
    default:
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < rows; ++r) dst[k * width + r] = src[k * ld + r];
  }
}

}  // namespace

void pack_a(float* Ap, const Sgemm& g, int64_t mr, int64_t i0, int64_t mc,
            int64_t k0, int64_t kc) {
  for (int64_t s = 0; s * mr < mc; ++s) {
    float* dst = Ap + s * kc * mr;
    const int64_t i = i0 + s * mr, rows = std::min(mr, mc - s * mr);
    if (g.ta) {  // A stored (K,M): op(A)'s column k is a row, rows contiguous
      copy_rows(dst, mr, g.A + k0 * g.lda + i, g.lda, rows, kc);
    } else {  // A stored (M,K): interleave `rows` rows
      interleave(dst, mr, g.A + i * g.lda + k0, g.lda, rows, kc);
    }
  }
}

void pack_b(float* Bp, const Sgemm& g, int64_t nr, int64_t k0, int64_t kc,
            int64_t j0, int64_t cols) {
  if (!g.tb) {  // B stored (K,N): a row piece per k, zero-padded
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = Bp + k * nr;
      std::copy_n(g.B + (k0 + k) * g.ldb + j0, cols, dst);
      std::fill(dst + cols, dst + nr, 0.0f);
    }
    return;
  }
  // B stored (N,K): op(B)'s column j is a row; interleave `cols` rows.
  interleave(Bp, nr, g.B + j0 * g.ldb + k0, g.ldb, cols, kc);
  if (cols < nr)
    for (int64_t k = 0; k < kc; ++k) std::fill(Bp + k * nr + cols, Bp + (k + 1) * nr, 0.0f);
}

}  // namespace qat::gemm
