// gemm::sgemm (autograd/gemm/sgemm.h) against the definition summed in
// double: every path this CPU has, all four transpose combinations,
// C = and C +=, sizes on both sides of every tile and block edge, row
// strides wider than the rows. Then the paths against each other, and
// sgemm_parallel for bit-identical results over thread counts.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "autograd/check.h"
#include "autograd/gemm/sgemm.h"
#include "autograd/rng.h"

using namespace qat;
using namespace qat::gemm;

namespace {

using Vec = std::vector<float>;

// One product's operands, stored as sgemm.h says, each row 3 floats wider
// than it needs to be (ld > the row) so that a stride mistake shows.
struct Case {
  bool ta, tb, accumulate;
  int64_t M, N, K;
  Vec A, B, C0;
  int64_t lda, ldb, ldc;
  Case(bool ta_, bool tb_, bool acc, int64_t M_, int64_t N_, int64_t K_, Rng& rng)
      : ta(ta_), tb(tb_), accumulate(acc), M(M_), N(N_), K(K_) {
    lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 3, ldc = N + 3;
    A = random((ta ? K : M) * lda, rng);
    B = random((tb ? N : K) * ldb, rng);
    C0 = random(M * ldc, rng);
  }
  static Vec random(int64_t n, Rng& rng) {
    Vec v(static_cast<size_t>(n));
    for (float& f : v) f = rng.uniform(-1.0f, 1.0f);
    return v;
  }
  float a(int64_t i, int64_t k) const { return ta ? A[k * lda + i] : A[i * lda + k]; }
  float b(int64_t k, int64_t j) const { return tb ? B[j * ldb + k] : B[k * ldb + j]; }
  // The definition, in double.
  std::vector<double> reference() const {
    std::vector<double> C(size_t(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = accumulate ? C0[i * ldc + j] : 0.0;
        for (int64_t k = 0; k < K; ++k) s += double(a(i, k)) * b(k, j);
        C[i * N + j] = s;
      }
    return C;
  }
  Sgemm args(float* C) const {
    return {ta, tb, M, N, K, A.data(), lda, B.data(), ldb, C, ldc, accumulate};
  }
  Vec run(SgemmPath path) const {
    Vec C = C0;
    sgemm_on(path, args(C.data()));
    return C;
  }
};

// ||C - ref|| / ||ref|| over the M x N entries; the padding past N must be
// left as it was.
double relative_error(const Case& c, const Vec& C, const std::vector<double>& ref) {
  double diff = 0.0, norm = 1e-30;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      const double d = C[i * c.ldc + j] - ref[i * c.N + j];
      diff += d * d, norm += ref[i * c.N + j] * ref[i * c.N + j];
    }
    for (int64_t j = c.N; j < c.ldc; ++j) CHECK(C[i * c.ldc + j] == c.C0[i * c.ldc + j]);
  }
  return std::sqrt(diff / norm);
}

std::vector<SgemmPath> paths_of_this_cpu() {
  std::vector<SgemmPath> paths;
  for (SgemmPath p : {SgemmPath::portable, SgemmPath::avx2, SgemmPath::avx512})
    if (cpu_has(p)) paths.push_back(p);
  return paths;
}

// Every transpose combination, C = and C +=, on every M x N x K of `sizes`.
void check_against_reference(SgemmPath path, const std::vector<int64_t>& sizes) {
  Rng rng(7);
  for (int t = 0; t < 8; ++t)
    for (int64_t M : sizes)
      for (int64_t N : sizes)
        for (int64_t K : sizes) {
          const Case c(t & 1, t & 2, t & 4, M, N, K, rng);
          CAPTURE(sgemm_path_name(path));
          CAPTURE(c.ta);
          CAPTURE(c.tb);
          CAPTURE(c.accumulate);
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          CHECK(relative_error(c, c.run(path), c.reference()) < 1e-5);
        }
}

// Sizes at and around every tile edge (4, 6, 12 rows; 16, 32 columns) and
// block edge (kMC 144, kKC 256).
const std::vector<int64_t> kOddSizes = {1, 5, 17, 33, 100, 257};
const std::vector<int64_t> kEdgeSizes = {4, 6, 7, 12, 13, 16, 31, 32, 144, 145, 256};

void check_path(SgemmPath path) {
  check_against_reference(path, kOddSizes);
  check_against_reference(path, kEdgeSizes);
}

}  // namespace

TEST_CASE("sgemm portable path against the double-summed definition") {
  check_path(SgemmPath::portable);
}

TEST_CASE("sgemm AVX2 path against the double-summed definition") {
  if (!cpu_has(SgemmPath::avx2)) {
    MESSAGE("skipped: this CPU has no AVX2+FMA");
    return;
  }
  check_path(SgemmPath::avx2);
}

TEST_CASE("sgemm AVX-512 path against the double-summed definition") {
  if (!cpu_has(SgemmPath::avx512)) {
    MESSAGE("skipped: this CPU has no AVX-512F, the AVX-512 kernel is not run");
    return;
  }
  check_path(SgemmPath::avx512);
}

TEST_CASE("sgemm: columns past one N block, an empty K, the paths agree") {
  Rng rng(11);
  for (SgemmPath path : paths_of_this_cpu()) {
    CAPTURE(sgemm_path_name(path));
    const Case wide(false, true, true, 7, 2100, 3, rng);  // N > kNC = 2048
    CHECK(relative_error(wide, wide.run(path), wide.reference()) < 1e-5);
    for (bool acc : {false, true}) {
      const Case empty(false, false, acc, 5, 9, 0, rng);  // C = 0 or C unchanged
      CHECK(relative_error(empty, empty.run(path), empty.reference()) == 0.0);
    }
  }
  // All paths give the same product up to rounding (FMA or not).
  for (int t = 0; t < 4; ++t) {
    const Case c(t & 1, t & 2, false, 100, 257, 300, rng);
    const Vec first = c.run(SgemmPath::portable);
    std::vector<double> as_double(first.size());
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) as_double[i * c.N + j] = first[i * c.ldc + j];
    for (SgemmPath path : paths_of_this_cpu())
      CHECK(relative_error(c, c.run(path), as_double) < 1e-5);
  }
}

TEST_CASE("sgemm_parallel: the same bits for 1, 2 and 3 threads as sgemm") {
  Rng rng(13);
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 5; ++t) {
    // The im2col shapes in miniature: many columns (NN, TN) or a long K
    // (NT); 145 rows leave a last row block of one row (kMC = 144), which
    // must not switch an NT product to dot tiles; t = 4: dot tiles (N = 9).
    const int64_t N = t == 4 ? 9 : t & 2 ? 40 : 1000, K = t >= 2 ? 3000 : 70;
    const Case c(t & 1, t >= 2, t & 1, 145, N, K, rng);
    Vec serial = c.C0;
    sgemm(c.args(serial.data()));
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      Vec C = c.C0;
      sgemm_parallel(c.args(C.data()));
      CAPTURE(threads);
      CAPTURE(t);
      CHECK(C == serial);
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("sgemm path limit: a forced path, never above what the CPU has") {
  const SgemmPath best = sgemm_path();
  set_sgemm_path_limit(SgemmPath::portable);
  CHECK(sgemm_path() == SgemmPath::portable);
  set_sgemm_path_limit(SgemmPath::avx512);
  CHECK(sgemm_path() == best);
  CHECK(cpu_has(sgemm_path()));
  if (!cpu_has(SgemmPath::avx512)) CHECK_THROWS_AS(sgemm_on(SgemmPath::avx512, {}), Error);
}

TEST_CASE("sgemm stats: 2 M N K per call while enabled, nothing while off") {
  Rng rng(7);
  const Case c(false, false, false, 13, 70, 27, rng);
  Vec C = c.C0;
  sgemm_stats_reset();
  sgemm(c.args(C.data()));  // off by default
  CHECK(sgemm_stats().calls == 0);
  sgemm_stats_enable(true);
  sgemm(c.args(C.data()));
  sgemm_parallel(c.args(C.data()));
  sgemm_stats_enable(false);
  sgemm(c.args(C.data()));
  const SgemmStats s = sgemm_stats();
  CHECK(s.calls == 2);
  CHECK(s.flops == 2.0 * 2 * 13 * 70 * 27);
  CHECK(s.thread_seconds > 0);
  sgemm_stats_reset();
  CHECK(sgemm_stats().flops == 0);
}
