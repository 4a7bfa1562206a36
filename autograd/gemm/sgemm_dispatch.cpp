// Which micro-kernel runs: the best the CPU has (checked once with
// __builtin_cpu_supports), at most a limit, as quant/int_kernels/int_gemm.cpp
// does for the integer GEMM with QAT_INT_GEMM.
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "autograd/check.h"
#include "autograd/gemm/sgemm_kernel.h"

namespace qat::gemm {

bool cpu_has(SgemmPath path) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return path == SgemmPath::avx512 ? avx512 : path == SgemmPath::avx2 ? avx2 : true;
}

namespace {
// QAT_SGEMM=portable|avx2|avx512 caps the path from the start (to run a
// whole program on a fallback), set_sgemm_path_limit afterwards.
SgemmPath limit_from_env() {
  const char* e = std::getenv("QAT_SGEMM");
  if (!e) return SgemmPath::avx512;
  if (!std::strcmp(e, "portable")) return SgemmPath::portable;
  if (!std::strcmp(e, "avx2")) return SgemmPath::avx2;
  if (!std::strcmp(e, "avx512")) return SgemmPath::avx512;
  throw Error(detail::concat("QAT_SGEMM=", e, ": expected portable, avx2 or avx512"));
}
std::atomic<SgemmPath>& path_limit() {
  static std::atomic<SgemmPath> limit{limit_from_env()};
  return limit;
}
const Kernel& kernel(SgemmPath path) {
  static const Kernel portable = portable_kernel(), avx2 = avx2_kernel(),
                      avx512 = avx512_kernel();
  return path == SgemmPath::avx512 ? avx512 : path == SgemmPath::avx2 ? avx2 : portable;
}
}  // namespace

SgemmPath sgemm_path() {
  const SgemmPath limit = path_limit().load();
  if (limit >= SgemmPath::avx512 && cpu_has(SgemmPath::avx512)) return SgemmPath::avx512;
  if (limit >= SgemmPath::avx2 && cpu_has(SgemmPath::avx2)) return SgemmPath::avx2;
  return SgemmPath::portable;
}
void set_sgemm_path_limit(SgemmPath limit) { path_limit().store(limit); }
const char* sgemm_path_name(SgemmPath p) {
  return p == SgemmPath::avx512 ? "avx512" : p == SgemmPath::avx2 ? "avx2" : "portable";
}

namespace {
std::atomic<bool> stats_on{false};
std::atomic<uint64_t> stats_flops{0}, stats_ns{0}, stats_calls{0};

// f() timed into the statistics when they are on, as `threads` threads' time.
template <class F>
void counted(const Sgemm& g, int threads, F&& f) {
  if (!stats_on.load(std::memory_order_relaxed)) return f();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - t0).count();
  stats_flops += uint64_t(2 * g.M * g.N * g.K);
  stats_ns += uint64_t(ns) * uint64_t(threads);
  stats_calls += 1;
}
}  // namespace

void sgemm_stats_enable(bool on) { stats_on = on; }
void sgemm_stats_reset() { stats_flops = stats_ns = stats_calls = 0; }
SgemmStats sgemm_stats() {
  return {double(stats_flops.load()), 1e-9 * double(stats_ns.load()),
          int64_t(stats_calls.load())};
}

void sgemm_on(SgemmPath path, const Sgemm& g) {
  if (!cpu_has(path))
    throw Error(detail::concat("sgemm: this CPU has no ", sgemm_path_name(path)));
  counted(g, 1, [&] { run_blocked(kernel(path), g, wants_dot(kernel(path), g)); });
}
void sgemm(const Sgemm& g) { sgemm_on(sgemm_path(), g); }
void sgemm_parallel(const Sgemm& g) {
  counted(g, omp_get_max_threads(), [&] { run_parallel(kernel(sgemm_path()), g); });
}

}  // namespace qat::gemm
