// Portable micro-kernel: a 4 x 16 tile of C in a local array, plain loops
// that the compiler vectorises for whatever the build targets (with
// -ffp-contract=off a multiply then an add, no FMA). The fallback on CPUs
// without AVX2+FMA, and a second opinion for the tests.
#include <algorithm>

#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {
namespace {

constexpr int kMR = 4, kNR = 16;

template <int R>  // rows of the tile, 1..kMR
struct Tile {
  static void run(int64_t kc, const float* Ap, const float* Bs, int64_t kb, float* C,
                  int64_t ldc, bool add) {
    float acc[R][kNR] = {};
    for (int64_t k = 0; k < kc; ++k, Ap += kMR, Bs += kb)
      for (int i = 0; i < R; ++i) {
        const float a = Ap[i];
        // simd: GCC otherwise vectorises across k, with shuffles (7 GFLOP/s)
#pragma omp simd
        for (int j = 0; j < kNR; ++j) acc[i][j] += a * Bs[j];
      }
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < kNR; ++j) C[i * ldc + j] = add ? C[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

constexpr int kDotMR = 2, kDotNR = 4, kLanes = 8;

// sgemm_kernel.h: 8 lane sums per element, the tail lanes left 0.
void dot(int64_t kc, const float* const* a, const float* const* b, float* out) {
  float acc[kDotMR][kDotNR][kLanes] = {};
  for (int64_t k = 0; k < kc; k += kLanes) {
    const int n = int(std::min<int64_t>(kLanes, kc - k));
    for (int i = 0; i < kDotMR; ++i)
      for (int j = 0; j < kDotNR; ++j)
#pragma omp simd
        for (int l = 0; l < n; ++l) acc[i][j][l] += a[i][k + l] * b[j][k + l];
  }
  for (int i = 0; i < kDotMR; ++i)
    for (int j = 0; j < kDotNR; ++j) {
      const float* v = acc[i][j];
      out[i * kDotNR + j] = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    }
}

}  // namespace

Kernel portable_kernel() {
  Kernel k = kernel_of<Tile, kMR, kNR>();
  k.dot_mr = kDotMR, k.dot_nr = kDotNR, k.dot = &dot;
  return k;
}

}  // namespace qat::gemm
