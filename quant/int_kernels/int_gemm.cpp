// Integer GEMM: naive, portable blocked, AVX2 and AVX-512 VNNI (AMX and the
// AVX2 byte path have files of their own). Letters as in
// int_gemm.h: A (M,K), B (K,N) -> C (M,N) int32, C = A*B mod 2^32.
//
// ## The VNNI kernel
// vpdpbusd (_mm512_dpbusd_epi32(acc, u, s)) adds, to each of 16 int32 lanes,
// the sum of 4 products of an UNSIGNED byte of u by a SIGNED byte of s.
// vpdpwssd (_mm512_dpwssd_epi32) does the same with 2 signed 16-bit pairs.
// So K is consumed in groups of G = 4 bytes (G = 2 int16), and the operands
// are packed so that one 32-bit lane holds G consecutive k:
//   - B panel, 64 columns wide: Bp[kg][j][t] = B[G*kg + t][n0 + j], so one
//     k-group of 16 columns is one 64-byte vector; 4 vectors per panel.
//   - A: rows padded to a multiple of G (zeros); A[m][G*kg .. G*kg+G-1] is
//     one int32, broadcast to all lanes.
// The micro-kernel keeps a 6 x 64 tile of C in 24 registers. A is packed
// once (pack_a -> PackedA; the conv packs its weights once per call); each
// thread packs its own B panel (Kp x 64 codes, <= 295 KB at K = 4608, so it
// stays in L2) with SSE2 unpacks and runs every row tile of A over it.
// OpenMP over the panels.
//
// ## Signed activations with vpdpbusd: the +128 offset
// Activations are signed (BatchNorm comes after ReLU, so they go negative),
// and vpdpbusd wants one operand unsigned. We store B + 128 (in 0..255) as
// the unsigned operand and keep the weights A signed:
//   sum_k A[m,k] * (B[k,n] + 128) = C[m,n] + 128 * sum_k A[m,k]
// The correction 128 * rowsum(A)[m] depends on the output row only (one per
// output channel of a conv), is computed once when A is packed and taken off
// when the tile is stored. Padding k (A = 0) contributes nothing either way.
// vpdpbusd and vpdpwssd do not saturate (unlike vpdpbusds): they wrap mod
// 2^32, so the offset and its correction cancel exactly whatever their size,
// and a result past int32 wraps just as in the other versions.
#include "quant/int_kernels/int_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "autograd/check.h"
#include "quant/int_kernels/int_gemm_panels.h"

namespace qat::quant {

using panels::DenseRows;
using panels::group;
using panels::OffsetRows;

// ---- naive: the definition, in int64, truncated to int32 (modular in C++20)
template <class T>
void gemm_naive(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
                int64_t ldc) {
  if (ldc == 0) ldc = N;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += int64_t(A[m * K + k]) * B[k * N + n];
      C[m * ldc + n] = static_cast<int32_t>(s);
    }
}

// ---- blocked: an 8 x 256 tile of C stays in a local array while K streams
// past; the compiler vectorises the inner loop. Sums in uint32 wrap mod 2^32
// without undefined behaviour; a product of two int16 fits int32. A's rows
// are lda apart (K, or Kp for a PackedA).
namespace {
// B's row k starts at row(k): B + k*N for a dense B, a slice of the padded
// input for the conv (gemm_packed_rows).
template <class T, class Rows>
void blocked(int32_t* C, const T* A, int64_t lda, const Rows& row, int64_t M, int64_t N,
             int64_t K, int64_t ldc) {
  constexpr int64_t kMB = 8, kNB = 256;
  const int64_t blocks = (N + kNB - 1) / kNB;
#pragma omp parallel for schedule(static)
  for (int64_t nb = 0; nb < blocks; ++nb) {
    const int64_t n0 = nb * kNB, nr = std::min(kNB, N - n0);
    alignas(64) uint32_t acc[kMB][kNB];
    for (int64_t m0 = 0; m0 < M; m0 += kMB) {
      const int64_t mr = std::min(kMB, M - m0);
      for (int64_t i = 0; i < mr; ++i) std::fill_n(acc[i], nr, 0u);
      for (int64_t k = 0; k < K; ++k) {
        const T* b = row(k) + n0;
        for (int64_t i = 0; i < mr; ++i) {
          const int32_t a = A[(m0 + i) * lda + k];
          uint32_t* out = acc[i];
          for (int64_t j = 0; j < nr; ++j) out[j] += uint32_t(a * int32_t(b[j]));
        }
      }
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j)
          C[(m0 + i) * ldc + n0 + j] = static_cast<int32_t>(acc[i][j]);
    }
  }
}

}  // namespace

template <class T>
void gemm_blocked(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
                  int64_t ldc) {
  blocked(C, A, /*lda=*/K, DenseRows<T>{B, N}, M, N, K, ldc == 0 ? N : ldc);
}

// ---- VNNI
namespace {

constexpr int64_t kMR = 6;   // rows of the register tile
constexpr int64_t kNV = 4;   // 16-lane vectors across the tile
constexpr int64_t kNR = 16 * kNV;  // columns of a panel

// One 6 x 64 tile: C[m0.., n0..] = Ap rows x Bp panel - corr (C rows ldc apart).
template <class T>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_tile(
    int32_t* C, const T* Ap, const T* Bp, const int32_t* corr, int64_t Kp,
    int64_t ldc, int64_t mr, int64_t nr) {
  constexpr int64_t G = group<T>();
  __m512i acc[kMR][kNV];
#pragma GCC unroll 6
  for (int64_t i = 0; i < kMR; ++i)
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) acc[i][v] = _mm512_setzero_si512();
  for (int64_t kg = 0; kg < Kp / G; ++kg) {
    __m512i b[kNV];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v)
      b[v] = _mm512_loadu_si512(Bp + (kg * kNR + v * 16) * G);
#pragma GCC unroll 6
    for (int64_t i = 0; i < kMR; ++i) {
      int32_t a32;
      std::memcpy(&a32, Ap + i * Kp + kg * G, sizeof a32);
      const __m512i a = _mm512_set1_epi32(a32);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) {
        if constexpr (sizeof(T) == 1)
          acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], b[v], a);
        else
          acc[i][v] = _mm512_dpwssd_epi32(acc[i][v], b[v], a);
      }
    }
  }
  // Stores under masks for the columns past nr; every index into acc is a
  // constant after unrolling, so the compiler keeps acc in registers.
  __mmask16 mask[kNV];
  for (int64_t v = 0; v < kNV; ++v) {
    const int64_t left = std::clamp<int64_t>(nr - v * 16, 0, 16);
    mask[v] = __mmask16((1u << left) - 1u);
  }
#pragma GCC unroll 6
  for (int64_t i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    const __m512i c = _mm512_set1_epi32(corr[i]);
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v)
      _mm512_mask_storeu_epi32(C + i * ldc + v * 16, mask[v], _mm512_sub_epi32(acc[i][v], c));
  }
}

// ---- AVX2 (no VNNI): vpmaddwd (_mm256_madd_epi16) multiplies 16 signed
// int16 pairs and adds each pair into one of 8 int32 lanes, so k goes in
// groups of 2 and both operands are int16: int8 codes are widened (A once
// in pack_a, B as its panel is packed). Signed times signed: no offset and
// no correction. The one pair that does not fit, (-32768)^2 * 2 = 2^31,
// comes out as -2^31, the same value mod 2^32: exact mod 2^32 like the rest.
// (vpmaddubsw, the int8 instruction, saturates its int16 pair sums: it runs
// only where int_bound.h proves it cannot, int_gemm_maddubs.cpp; this
// kernel is the rest.) The panel is 16 columns wide,
// Bp (Kp/2, 16, 2), Kp*64 bytes (74 KB at K = 576), in L1/L2; the register
// tile is 6 rows x 16 columns, 12 accumulators.
constexpr int64_t kNR2 = 16;

inline __attribute__((target("avx2"))) __m256i load_row16(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __attribute__((target("avx2"))) __m256i load_row16(const int16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// B columns [n0, n0+nr) -> Bp (Kp/2, 16, 2) int16, zeros past K and nr.
template <class T, class Rows>
__attribute__((target("avx2"))) void pack_b_panel_avx2(int16_t* Bp, const Rows& row,
                                                       int64_t K, int64_t Kp, int64_t n0,
                                                       int64_t nr) {
  for (int64_t kg = 0; kg < Kp / 2; ++kg) {
    int16_t* dst = Bp + kg * 2 * kNR2;
    if (nr == kNR2 && 2 * kg + 2 <= K) {
      const __m256i r0 = load_row16(row(2 * kg) + n0), r1 = load_row16(row(2 * kg + 1) + n0);
      const __m256i lo = _mm256_unpacklo_epi16(r0, r1);  // columns 0-3 | 8-11
      const __m256i hi = _mm256_unpackhi_epi16(r0, r1);  // 4-7 | 12-15
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16),
                          _mm256_permute2x128_si256(lo, hi, 0x31));
      continue;
    }
    for (int64_t t = 0; t < 2; ++t) {
      const int64_t k = 2 * kg + t;
      const T* src = k < K ? row(k) + n0 : nullptr;
      for (int64_t j = 0; j < kNR2; ++j) dst[j * 2 + t] = (src && j < nr) ? int16_t(src[j]) : 0;
    }
  }
}

// One 6 x 16 tile: C[m0.., n0..] = Ap rows (lda apart, int16) x Bp panel.
__attribute__((target("avx2"))) void avx2_tile(int32_t* C, const int16_t* Ap, int64_t lda,
                                               const int16_t* Bp, int64_t Kp, int64_t ldc,
                                               int64_t mr, int64_t nr) {
  __m256i acc[kMR][2];
#pragma GCC unroll 6
  for (int64_t i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (int64_t kg = 0; kg < Kp / 2; ++kg) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(Bp + kg * 32));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(Bp + kg * 32 + 16));
#pragma GCC unroll 6
    for (int64_t i = 0; i < kMR; ++i) {
      const __m256i a = panels::broadcast_group(Ap + i * lda + kg * 2);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(b0, a));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(b1, a));
    }
  }
  alignas(32) int32_t edge[kNR2];
#pragma GCC unroll 6
  for (int64_t i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    int32_t* c = C + i * ldc;
    if (nr == kNR2) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), acc[i][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), acc[i][1]);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(edge), acc[i][0]);
      _mm256_store_si256(reinterpret_cast<__m256i*>(edge + 8), acc[i][1]);
      std::copy_n(edge, nr, c);
    }
  }
}

}  // namespace

bool cpu_has_vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}
bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

namespace {
// The limit: QAT_INT_GEMM=portable|avx2|vnni caps it from the start (to run
// a whole program on a fallback), set_gemm_path_limit afterwards.
GemmPath limit_from_env() {
  const char* e = std::getenv("QAT_INT_GEMM");
  if (!e) return GemmPath::best;
  if (!std::strcmp(e, "portable")) return GemmPath::portable;
  if (!std::strcmp(e, "avx2")) return GemmPath::avx2;
  if (!std::strcmp(e, "maddubs")) return GemmPath::maddubs;
  if (!std::strcmp(e, "vnni")) return GemmPath::vnni;
  if (!std::strcmp(e, "amx")) return GemmPath::amx;
  throw Error(
      detail::concat("QAT_INT_GEMM=", e, ": expected portable, avx2, maddubs, vnni or amx"));
}
std::atomic<GemmPath>& path_limit() {
  static std::atomic<GemmPath> limit{limit_from_env()};
  return limit;
}
}  // namespace

GemmPath gemm_path() {
  const GemmPath limit = path_limit().load();
  if (limit >= GemmPath::amx && cpu_has_vnni() && cpu_has_amx()) return GemmPath::amx;
  if (limit >= GemmPath::vnni && cpu_has_vnni()) return GemmPath::vnni;
  if (limit >= GemmPath::maddubs && cpu_has_avx2()) return GemmPath::maddubs;
  if (limit >= GemmPath::avx2 && cpu_has_avx2()) return GemmPath::avx2;
  return GemmPath::portable;
}
void set_gemm_path_limit(GemmPath limit) { path_limit().store(limit); }
const char* gemm_path_name(GemmPath p) {
  switch (p) {
    case GemmPath::amx: return "AMX";
    case GemmPath::vnni: return "VNNI";
    case GemmPath::maddubs: return "AVX2 bytes";
    case GemmPath::avx2: return "AVX2";
    case GemmPath::portable: break;
  }
  return "portable";
}
bool use_vnni() { return gemm_path() >= GemmPath::vnni; }
void set_portable_only(bool value) {
  set_gemm_path_limit(value ? GemmPath::portable : GemmPath::best);
}

template <class T>
PackedA<T> pack_a(const T* A, int64_t M, int64_t K) {
  constexpr int64_t G = group<T>();
  PackedA<T> p;
  p.M = M, p.K = K, p.Kp = (K + G - 1) / G * G;
  const int64_t Mp = (M + kMR - 1) / kMR * kMR;
  p.data.assign(size_t(Mp * p.Kp), T(0));
  p.corr.assign(size_t(Mp), 0);
  for (int64_t m = 0; m < M; ++m) {
    std::memcpy(p.data.data() + m * p.Kp, A + m * K, size_t(K) * sizeof(T));
    if constexpr (sizeof(T) == 1) {
      uint32_t s = 0;  // wraps mod 2^32 like the accumulators it corrects
      for (int64_t k = 0; k < K; ++k) s += uint32_t(int32_t(A[m * K + k]));
      p.corr[size_t(m)] = static_cast<int32_t>(128u * s);
    }
  }
  if constexpr (sizeof(T) == 1) {
    p.wide.assign(p.data.begin(), p.data.end());
    if (cpu_has_amx()) {
      p.Kt = (K + 63) / 64 * 64;
      p.tiles.assign(size_t((M + 31) / 32 * 32 * p.Kt), T(0));
      for (int64_t m = 0; m < M; ++m)
        std::memcpy(p.tiles.data() + m * p.Kt, A + m * K, size_t(K));
    }
  }
  return p;
}

// The byte path needs B + offset in [0, 255] (offset = -lo: a signed format
// gets its most negative code at 0) and the int16 proof of int_bound.h on
// these weights; without either, byte_run stays 0 and the path is not taken.
PackedA<int8_t> pack_a(const int8_t* A, int64_t M, int64_t K, CodeRange b_range) {
  PackedA<int8_t> p = pack_a(A, M, K);
  const int64_t span = b_range.hi - b_range.lo;
  if (b_range.lo > 0 || b_range.hi < 0 || span > 255) return p;
  const int run = maddubs_run(A, M, K, span);
  if (run > 0)
    set_byte_path(p, A, int(-b_range.lo), run, maddubs_centres(A, M, K, span, run));
  return p;
}

void set_byte_path(PackedA<int8_t>& p, const int8_t* A, int offset, int run,
                   const std::vector<int32_t>& centres) {
  const int64_t M = p.M, K = p.K, windows = (p.Kp / 4 + run - 1) / run;
  QAT_CHECK(run > 0 && centres.size() == size_t(M * windows * 2), "set_byte_path: run ", run,
            ", ", centres.size(), " centres for ", M, " rows of ", windows, " windows");
  p.byte_run = run;
  p.byte_offset = offset;
  p.byte_corr.assign(p.corr.size(), 0);
  p.byte_init.assign(size_t(int64_t(p.corr.size()) / kMR * windows * 8), 0u);
  for (int64_t m = 0; m < M; ++m) {
    uint32_t s = 0;  // wraps mod 2^32 like the accumulators it corrects
    for (int64_t k = 0; k < K; ++k) s += uint32_t(int32_t(A[m * K + k]));
    uint32_t c = 0;
    for (int64_t w = 0; w < windows; ++w) {
      const int32_t* cw = centres.data() + (m * windows + w) * 2;
      c += uint32_t(cw[0]) + uint32_t(cw[1]);
      p.byte_init[size_t(((m / kMR) * windows + w) * 8 + m % kMR)] =
          uint32_t(uint16_t(-cw[0])) | uint32_t(uint16_t(-cw[1])) << 16;
    }
    p.byte_corr[size_t(m)] = static_cast<int32_t>(uint32_t(offset) * s - c);
  }
}

namespace {
// The AVX2 path of packed() below: OpenMP over 16-column panels, each
// packed once and run under every row tile of A.
template <class T, class Rows>
void packed_avx2(int32_t* C, const PackedA<T>& A, const Rows& row, int64_t N, int64_t ldc) {
  const int16_t* Ap;
  if constexpr (sizeof(T) == 1)
    Ap = A.wide.data();
  else
    Ap = A.data.data();
  const int64_t panels = (N + kNR2 - 1) / kNR2;
#pragma omp parallel
  {
    thread_local std::vector<int16_t> Bp;  // kept between calls, as in packed()
    if (Bp.size() < size_t(A.Kp * kNR2)) Bp.resize(size_t(A.Kp * kNR2));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t n0 = p * kNR2, nr = std::min(kNR2, N - n0);
      pack_b_panel_avx2<T>(Bp.data(), row, A.K, A.Kp, n0, nr);
      for (int64_t m0 = 0; m0 < A.M; m0 += kMR)
        avx2_tile(C + m0 * ldc + n0, Ap + m0 * A.Kp, A.Kp, Bp.data(), A.Kp, ldc,
                  std::min(kMR, A.M - m0), nr);
    }
  }
}

template <class T, class Rows>
void packed(int32_t* C, const PackedA<T>& A, const Rows& row, int64_t N, int64_t ldc) {
  const GemmPath path = gemm_path();
  if constexpr (sizeof(T) == 1) {
    if (path == GemmPath::maddubs && A.byte_run > 0) {
      panels::packed_maddubs(C, A, row, N, ldc);
      return;
    }
    if (path == GemmPath::amx && A.Kt > 0) {
      panels::packed_amx(C, A, row, N, ldc);
      return;
    }
  }
  if (path == GemmPath::avx2 || path == GemmPath::maddubs) {
    packed_avx2(C, A, row, N, ldc);
    return;
  }
  if (path == GemmPath::portable) {
    blocked(C, A.data.data(), /*lda=*/A.Kp, row, A.M, N, A.K, ldc);
    return;
  }
  const int64_t panels = (N + kNR - 1) / kNR;
#pragma omp parallel
  {
    // This thread's panel, Kp*64 codes (up to 590 KB), kept between calls:
    // fresh pages on every call were part of the 11-16 ms of page faults a
    // forward that bench/README.md measures.
    thread_local std::vector<T> Bp;
    if (Bp.size() < size_t(A.Kp * kNR)) Bp.resize(size_t(A.Kp * kNR));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t n0 = p * kNR, nr = std::min(kNR, N - n0);
      panels::pack_b_panel<kNR>(Bp.data(), row, A.K, A.Kp, n0, nr, /*offset=*/128);
      for (int64_t m0 = 0; m0 < A.M; m0 += kMR)
        vnni_tile(C + m0 * ldc + n0, A.data.data() + m0 * A.Kp, Bp.data(),
                  A.corr.data() + m0, A.Kp, ldc, std::min(kMR, A.M - m0), nr);
    }
  }
}
}  // namespace

template <class T>
void gemm_packed(int32_t* C, const PackedA<T>& A, const T* B, int64_t N, int64_t ldc) {
  packed(C, A, DenseRows<T>{B, N}, N, ldc == 0 ? N : ldc);
}

template <class T>
void gemm_packed_rows(int32_t* C, const PackedA<T>& A, const T* base, const int64_t* rows,
                      int64_t N, int64_t ldc) {
  packed(C, A, OffsetRows<T>{base, rows}, N, ldc == 0 ? N : ldc);
}

template <class T>
void gemm_vnni(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
               int64_t ldc) {
  QAT_CHECK(cpu_has_vnni(), "gemm_vnni: this CPU lacks AVX-512 VNNI; call gemm()");
  gemm_packed(C, pack_a(A, M, K), B, N, ldc);
}

template <class T>
void gemm(int32_t* C, const T* A, const T* B, int64_t M, int64_t N, int64_t K,
          int64_t ldc) {
  if (gemm_path() != GemmPath::portable)
    gemm_packed(C, pack_a(A, M, K), B, N, ldc);
  else
    gemm_blocked(C, A, B, M, N, K, ldc);
}

#define QAT_GEMM_INSTANTIATE(T)                                                          \
  template void gemm_naive<T>(int32_t*, const T*, const T*, int64_t, int64_t, int64_t,   \
                              int64_t);                                                  \
  template void gemm_blocked<T>(int32_t*, const T*, const T*, int64_t, int64_t, int64_t, \
                                int64_t);                                                \
  template void gemm_vnni<T>(int32_t*, const T*, const T*, int64_t, int64_t, int64_t,    \
                             int64_t);                                                   \
  template void gemm<T>(int32_t*, const T*, const T*, int64_t, int64_t, int64_t, int64_t);  \
  template PackedA<T> pack_a<T>(const T*, int64_t, int64_t);                              \
  template void gemm_packed<T>(int32_t*, const PackedA<T>&, const T*, int64_t, int64_t); \
  template void gemm_packed_rows<T>(int32_t*, const PackedA<T>&, const T*, const int64_t*, \
                                    int64_t, int64_t);
QAT_GEMM_INSTANTIATE(int8_t)
QAT_GEMM_INSTANTIATE(int16_t)
#undef QAT_GEMM_INSTANTIATE

}  // namespace qat::quant
