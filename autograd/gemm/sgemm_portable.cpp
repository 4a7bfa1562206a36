// Portable micro-kernel: a 4 x 16 tile of C in a local array, plain loops
// that the compiler vectorises for whatever the build targets (with
// -ffp-contract=off a multiply then an add, no FMA). The fallback on CPUs
// without AVX2+FMA, and a second opinion for the tests.
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
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < kNR; ++j) acc[i][j] += Ap[i] * Bs[j];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < kNR; ++j) C[i * ldc + j] = add ? C[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

}  // namespace

Kernel portable_kernel() { return kernel_of<Tile, kMR, kNR>(); }

}  // namespace qat::gemm
