// Our float GEMM (autograd/gemm/sgemm.h), every path this CPU has, against
// OpenBLAS cblas_sgemm on the shapes the small training step really runs
// (bench_train_step --size small), in one run:
//   - the Winograd GEMMs (conv_winograd.cpp gemms()): single-threaded, as
//     each thread runs its own chunk's; OpenBLAS set to one thread;
//   - the im2col GEMMs of the first conv (conv_im2col.cpp): sgemm_parallel
//     against OpenBLAS threaded, both on OMP_NUM_THREADS threads.
//
//   bench_sgemm [--reps R]
//
// The shapes and call counts were logged from one small step (a cblas_sgemm
// wrapper preloaded; calls seen on thread 0, about half of the step's).
// GFLOP/s counts 2 per multiply-add; "x blas" is OpenBLAS's time over ours
// (> 1: ours faster). Each entry: the best of R timings of a loop of calls
// long enough to last ~2 ms. The totals weigh every shape by its calls.
// Run it with OPENBLAS_CORETYPE unset, =Haswell and =Prescott (bench/README.md).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "autograd/gemm/sgemm.h"
#include "autograd/rng.h"

using namespace qat;
using namespace qat::gemm;

namespace {

struct Shape {
  bool ta, tb, accumulate;
  int64_t M, N, K, calls;
};

// Winograd: forward NN (M = OC, N = tiles, K = C), weight gradient NT
// (C += dM V^T: M = OC, N = C, K = tiles), input gradient TN (M = C, K = OC).
const Shape kWinograd[] = {
    {false, false, false, 1, 1024, 16, 108},   {false, false, false, 16, 128, 16, 72},
    {false, false, false, 16, 128, 48, 36},    {false, false, false, 16, 448, 48, 432},
    {false, false, false, 16, 896, 16, 468},   {false, false, false, 32, 224, 96, 144},
    {false, false, false, 32, 256, 16, 216},   {false, false, false, 32, 256, 32, 324},
    {false, false, false, 32, 32, 96, 36},     {false, false, false, 64, 256, 128, 80},
    {false, false, false, 64, 256, 32, 48},    {false, false, false, 64, 256, 64, 128},
    {false, false, false, 64, 64, 64, 80},     {false, true, true, 1, 16, 1024, 144},
    {false, true, true, 16, 16, 896, 432},     {false, true, true, 16, 48, 448, 360},
    {false, true, true, 32, 16, 256, 144},     {false, true, true, 32, 32, 256, 288},
    {false, true, true, 32, 96, 224, 216},     {false, true, true, 64, 128, 256, 64},
    {false, true, true, 64, 32, 256, 64},      {false, true, true, 64, 64, 256, 128},
    {false, true, true, 64, 64, 64, 128},      {true, false, false, 128, 256, 64, 64},
    {true, false, false, 16, 1024, 1, 144},    {true, false, false, 16, 256, 32, 144},
    {true, false, false, 16, 896, 16, 432},    {true, false, false, 32, 256, 32, 288},
    {true, false, false, 32, 256, 64, 64},     {true, false, false, 48, 448, 16, 360},
    {true, false, false, 64, 256, 64, 128},    {true, false, false, 64, 64, 64, 128},
    {true, false, false, 96, 224, 32, 216},
};
// im2col, the first conv (1 -> 16 channels at 128x128): forward NN and the
// weight gradient NT, once per image of the batch of 8.
const Shape kIm2col[] = {
    {false, false, false, 16, 16384, 9, 8},
    {false, true, true, 16, 9, 16384, 8},
};

double best_seconds(int reps, const std::function<void()>& f) {
  f();  // warm-up: page faults, thread start
  int loops = 1;
  for (auto t0 = std::chrono::steady_clock::now();
       std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2); ++loops)
    f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int l = 0; l < loops; ++l) f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count() / loops);
  }
  return best;
}

struct Operands {
  std::vector<float> A, B, C;
  Operands(const Shape& s, Rng& rng)
      : A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), C(size_t(s.M * s.N)) {
    for (auto* v : {&A, &B, &C})
      for (float& f : *v) f = rng.uniform(-1.0f, 1.0f);
  }
  Sgemm args(const Shape& s) {
    return {s.ta, s.tb, s.M, s.N, s.K, A.data(), s.ta ? s.M : s.K, B.data(),
            s.tb ? s.K : s.N, C.data(), s.N, s.accumulate};
  }
  void blas(const Shape& s) {
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans,
                s.tb ? CblasTrans : CblasNoTrans, int(s.M), int(s.N), int(s.K), 1.0f,
                A.data(), int(s.ta ? s.M : s.K), B.data(), int(s.tb ? s.K : s.N),
                s.accumulate ? 1.0f : 0.0f, C.data(), int(s.N));
  }
};

// One table: OpenBLAS, then each path (parallel: sgemm_parallel with the
// path as the limit, else sgemm_on), per shape and weighted by calls.
template <size_t n>
void table(const char* title, const Shape (&shapes)[n], bool parallel, int reps) {
  std::vector<SgemmPath> paths;
  for (SgemmPath p : {SgemmPath::avx512, SgemmPath::avx2, SgemmPath::portable})
    if (cpu_has(p)) paths.push_back(p);
  std::printf("\n%s\n%-2s %5s %5s %5s %5s | %7s", title, "op", "M", "N", "K", "calls",
              "blas");
  for (SgemmPath p : paths) std::printf(" | %8s x blas", sgemm_path_name(p));
  std::printf("\n");
  Rng rng(1);
  std::vector<double> total(paths.size() + 1, 0.0);
  double flops_total = 0.0;
  for (const Shape& s : shapes) {
    Operands o(s, rng);
    std::vector<double> t{best_seconds(reps, [&] { o.blas(s); })};
    for (SgemmPath p : paths)
      t.push_back(best_seconds(reps, [&] {
        if (!parallel) return sgemm_on(p, o.args(s));
        set_sgemm_path_limit(p);
        sgemm_parallel(o.args(s));
      }));
    const double flops = 2.0 * double(s.M * s.N * s.K);
    std::printf("%c%c %5lld %5lld %5lld %5lld | %7.1f", s.ta ? 'T' : 'N', s.tb ? 'T' : 'N',
                (long long)s.M, (long long)s.N, (long long)s.K, (long long)s.calls,
                flops / t[0] * 1e-9);
    for (size_t k = 1; k < t.size(); ++k)
      std::printf(" | %8.1f %6.2f", flops / t[k] * 1e-9, t[0] / t[k]);
    std::printf("\n");
    for (size_t k = 0; k < t.size(); ++k) total[k] += t[k] * double(s.calls);
    flops_total += flops * double(s.calls);
  }
  std::printf("weighted by calls: blas %.2f ms (%.1f GFLOP/s)", total[0] * 1e3,
              flops_total / total[0] * 1e-9);
  for (size_t k = 0; k < paths.size(); ++k)
    std::printf(", %s %.2f ms (%.1f GFLOP/s, %.2fx blas)", sgemm_path_name(paths[k]),
                total[k + 1] * 1e3, flops_total / total[k + 1] * 1e-9, total[0] / total[k + 1]);
  std::printf("\n");
  set_sgemm_path_limit(SgemmPath::avx512);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_sgemm [--reps R]\n");
      return 2;
    }
  }
  double load = -1.0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1.0;
    std::fclose(f);
  }
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  std::printf("bench_sgemm: OPENBLAS_CORETYPE=%s (OpenBLAS says %s), %d OpenMP threads, "
              "best of %d, load average %.1f; GFLOP/s, x blas = blas time / ours\n",
              core ? core : "unset", openblas_get_corename(), omp_get_max_threads(), reps,
              load);
  const int threads = omp_get_max_threads();
  openblas_set_num_threads(1);
  table("Winograd GEMMs, one thread (as inside a chunk)", kWinograd, false, reps);
  openblas_set_num_threads(threads);
  table("im2col GEMMs, all threads (sgemm_parallel)", kIm2col, true, reps);
}
