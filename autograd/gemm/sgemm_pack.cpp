// Packing for the blocking loops: A into slivers of mr rows (k-major, so
// the kernel's broadcasts read consecutive floats), B into one sliver of nr
// columns when it cannot be read in place (sgemm_kernel.h has the layouts).
#include <algorithm>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {

void pack_a(float* Ap, const Sgemm& g, int64_t mr, int64_t i0, int64_t mc,
            int64_t k0, int64_t kc) {
  for (int64_t s = 0; s * mr < mc; ++s) {
    float* dst = Ap + s * kc * mr;
    const int64_t i = i0 + s * mr, rows = std::min(mr, mc - s * mr);
    if (g.ta) {  // A stored (K,M): op(A)'s column k is a row, rows contiguous
      for (int64_t k = 0; k < kc; ++k)
        std::copy_n(g.A + (k0 + k) * g.lda + i, rows, dst + k * mr);
    } else {  // A stored (M,K): interleave `rows` rows
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = g.A + (i + r) * g.lda + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = src[k];
      }
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
  for (int64_t j = 0; j < cols; ++j) {
    const float* src = g.B + (j0 + j) * g.ldb + k0;
    for (int64_t k = 0; k < kc; ++k) Bp[k * nr + j] = src[k];
  }
  if (cols < nr)
    for (int64_t k = 0; k < kc; ++k) std::fill(Bp + k * nr + cols, Bp + (k + 1) * nr, 0.0f);
}

}  // namespace qat::gemm
