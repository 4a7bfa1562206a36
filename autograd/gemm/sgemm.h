// Float matrix multiply for the conv kernels (conv_winograd.cpp,
// conv_im2col.cpp): our own kernels, picked at run time from the CPU's
// features, so that training speed does not depend on which CPUs the
// installed OpenBLAS recognises (issue 12: Debian's 0.3.21 falls back to SSE3
// kernels on CPUs it does not know).
//
// Letters: op(A) (M,K), op(B) (K,N) -> C (M,N), all row-major.
//   A stored (M,K) with rows lda apart, or, if ta, stored (K,M) (op(A) = A^T);
//   B stored (K,N) with rows ldb apart, or, if tb, stored (N,K);
//   C (M,N) with rows ldc apart.
// C = op(A) op(B), or C += op(A) op(B) if accumulate (BLAS alpha 1, beta 0
// or 1: all that the convs need).
//
// ## Determinism
// Every C element is summed in the same order whichever block or thread
// computes it: K in blocks of kKC, each block by one FMA chain (a
// multiply then an add on the portable path), the blocks added to C in
// order; for C = A B^T (tb, not ta) with M or N below one tile, blocks of
// kDotKC, each as 8 or 16 lane-wise chains summed in a fixed order
// (sgemm_kernel.h). Which of the two depends on the whole shape only, so
// sgemm_parallel, which splits C, uses the serial shape's choice (below). So sgemm_parallel gives the same bits for any thread count, and
// sgemm gives the same bits as sgemm_parallel. Paths differ from each
// other in the last bits (FMA or not); each is deterministic.
//
// ## Paths (sgemm_blocking.cpp drives, one micro-kernel file each)
//   portable  plain loops on a 4x16 tile that the compiler vectorises
//   avx2      AVX2+FMA 6x16 tile (12 ymm accumulators)
//   avx512    AVX-512F 12x32 tile (24 zmm accumulators)
// sgemm_path(): the best the CPU has, at most a limit (default: none),
// set by QAT_SGEMM=portable|avx2|avx512 at the first call or by
// set_sgemm_path_limit (tests and benchmarks of the fallbacks).
#pragma once
#include <cstdint>

namespace qat::gemm {

struct Sgemm {
  bool ta = false, tb = false;
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float* C = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
};

// Single-threaded: for callers already inside an OpenMP parallel region
// (the Winograd chunks).
void sgemm(const Sgemm& g);
// OpenMP over blocks of C (rows and columns), for callers outside a parallel
// region (im2col). The same bits as sgemm, for any thread count.
void sgemm_parallel(const Sgemm& g);

enum class SgemmPath { portable = 0, avx2 = 1, avx512 = 2 };
bool cpu_has(SgemmPath path);
SgemmPath sgemm_path();
void set_sgemm_path_limit(SgemmPath limit);
const char* sgemm_path_name(SgemmPath path);
// One given path, single-threaded (tests, benchmarks); qat::Error if the CPU
// lacks it.
void sgemm_on(SgemmPath path, const Sgemm& g);

// What the GEMMs did since the last reset, counted only while enabled (off
// by default: a benchmark turns it on to see how near the FMA peak the
// GEMMs of a step run). thread_seconds adds up every call's wall time on
// the thread that ran it (sgemm_parallel: its wall time times the threads).
struct SgemmStats {
  double flops = 0;  // 2 M N K per call
  double thread_seconds = 0;
  int64_t calls = 0;
};
void sgemm_stats_enable(bool on);
void sgemm_stats_reset();
SgemmStats sgemm_stats();

}  // namespace qat::gemm
