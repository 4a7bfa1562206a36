// The AVX2 byte GEMM: vpmaddubsw on unsigned activation bytes times signed
// weight bytes, for CPUs with AVX2 and no AVX-512 VNNI (AMD Zen 2/3, older
// Intel). Letters as in int_gemm.h: A (M,K) weights, B (K,N) activations,
// C (M,N) = A*B mod 2^32, the same as every other path.
//
// ## Why, and why only for some layers
// The vpmaddwd path (int_gemm.cpp) does 16 multiply-adds per multiplier
// instruction and needs a vpaddd per vpmaddwd. vpmaddubsw
// (_mm256_maddubs_epi16(u, s)) does 32: each of 16 int16 lanes gets
// u[2j]*s[2j] + u[2j+1]*s[2j+1], SATURATED to int16, and adding those lanes
// with vpaddw keeps them 16-bit, so that one vpmaddwd by ones (which adds the
// two int16 lanes of each 32-bit lane into int32) and one vpaddd every
// `run` k-groups are all the widening costs. Measured on this Zen 3: both
// multiplies issue 2 a cycle, so the byte path can do nearly twice the
// multiply-adds of vpmaddwd per cycle. It is exact only when no pair sum
// saturates and each run's int16 sum, started at minus a centre, ends
// inside int16: pack_a(A, M, K, b_range) proves that from the activation
// format's code range and the layer's own weight codes (int_bound.h
// maddubs_run) and sets A.byte_run and the centres; where the proof fails
// (fixed_twos Q8.0 x Q0.8 codes near the ends, the int16 upsampled inputs)
// the layer keeps vpmaddwd. B's codes are stored + byte_offset (-lo of the
// format: unsigned), and byte_offset * rowsum(A) minus the centres is taken
// off at the store, as the VNNI kernel takes off 128 * rowsum.
//
// ## Layout
// B panel of 16 columns as the VNNI kernel's (int_gemm_panels.h): Bp (Kp/4,
// 16, 4) unsigned bytes, so one k-group of 8 columns is one 32-byte vector
// (4 k of a column in each 32-bit lane) and a panel row two vectors. A's
// 4 bytes of a row and k-group are broadcast. Register tile 6 rows x 16
// columns (k_loop_6x16): 12 int16 run sums, 2 B vectors, 1 A broadcast, 1
// product; the int32 sums of all rows of a panel in memory (acc below),
// so that the panel's k can go in L1-sized blocks under every row tile.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "quant/int_kernels/int_gemm.h"
#include "quant/int_kernels/int_gemm_panels.h"

namespace qat::quant::panels {
namespace {

constexpr int64_t kRows = 6;   // rows of the register tile (pack_a pads A to them)
constexpr int64_t kCols = 16;  // columns of a panel (two 8-lane vectors)

// The k loop of a 6 x 16 tile, in asm because GCC 12, given the same loop
// in intrinsics, spilled sums to the stack, copied them between registers
// or loaded B again for every row (25-28 instructions a k-group with 6 or
// 4 rows; 3 rows ran no faster than vpmaddwd). Registers: ymm0-11 the int16
// sums of rows 0-5 (two vectors of 8 columns each), ymm12-13 B's vectors,
// ymm14 the row's 4 weight bytes broadcast, ymm15 a product. Per k-group:
// 2 B loads, 6 broadcasts, 12 vpmaddubsw, 12 vpaddw (wrapping). Each run
// of `run` groups (the last run shorter) starts its row's sums at the
// row's -c pair from init (8 per run, int_bound.h: the centre puts the
// run's sum inside int16) and ends by widening them: vpmaddwd by ones adds
// the two int16 lanes of each column into int32, added into acc (6, 16)
// int32 in memory; the correction at the store adds the centres back.
#define QAT_ROW(addr, s0, s1)                    \
  "vpbroadcastd " addr ", %%ymm14\n\t"            \
  "vpmaddubsw %%ymm14, %%ymm12, %%ymm15\n\t"      \
  "vpaddw %%ymm15, %%" s0 ", %%" s0 "\n\t"        \
  "vpmaddubsw %%ymm14, %%ymm13, %%ymm15\n\t"      \
  "vpaddw %%ymm15, %%" s1 ", %%" s1 "\n\t"
#define QAT_START(row, s0, s1)                      \
  "vpbroadcastd " row "(%[init]), %%" s0 "\n\t"       \
  "vmovdqa %%" s0 ", %%" s1 "\n\t"
#define QAT_WIDEN(s, offset)                       \
  "vpmaddwd (%[ones]), %%" s ", %%ymm15\n\t"       \
  "vpaddd " offset "(%[acc]), %%ymm15, %%ymm15\n\t" \
  "vmovdqa %%ymm15, " offset "(%[acc])\n\t"
// The k loop of a tile of 6, 4 or 2 rows (the last tile of M = 64 or 128
// has 4 or 2 real rows: six would waste 3% of the multiply-adds), row r's
// sums in ymm(2r) and ymm(2r + 1). STARTS, ROWS and WIDENS are its rows'
// QAT_START, QAT_ROW and QAT_WIDEN lines.
#define QAT_K_LOOP(name, STARTS, ROWS, WIDENS)                                                 \
  __attribute__((target("avx2"))) void name(int32_t* acc, const uint8_t* bp, const int8_t* a,  \
                                            int64_t lda, int64_t groups, int64_t run,          \
                                            const uint32_t* init) {                            \
    alignas(32) static const int16_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1,                       \
                                                 1, 1, 1, 1, 1, 1, 1, 1};                      \
    const int8_t* a3 = a + 3 * lda; /* rows 3-5 from here: x86 scales are 1, 2, 4, 8 */        \
    int64_t count;                                                                             \
    __asm__ volatile(                                                                          \
        "2:\n\t"                                                                               \
        "mov %[run], %[count]\n\t"                                                             \
        "cmp %[groups], %[count]\n\t"                                                          \
        "cmovg %[groups], %[count]\n\t" /* count = min(run, groups left) */                    \
        "sub %[count], %[groups]\n\t" STARTS                                                   \
        "add $32, %[init]\n\t"                                                                 \
        "1:\n\t"                                                                               \
        "vmovdqu (%[bp]), %%ymm12\n\t"                                                         \
        "vmovdqu 32(%[bp]), %%ymm13\n\t" ROWS                                                  \
        "add $64, %[bp]\n\t"                                                                   \
        "add $4, %[a]\n\t"                                                                     \
        "add $4, %[a3]\n\t"                                                                    \
        "dec %[count]\n\t"                                                                     \
        "jnz 1b\n\t" WIDENS                                                                    \
        "test %[groups], %[groups]\n\t"                                                        \
        "jnz 2b"                                                                               \
        : [bp] "+r"(bp), [a] "+r"(a), [a3] "+r"(a3), [groups] "+r"(groups),                    \
          [count] "=&r"(count), [init] "+r"(init)                                              \
        : [lda] "r"(lda), [run] "r"(run), [acc] "r"(acc), [ones] "r"(ones)                     \
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",       \
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");               \
  }
#define QAT_STARTS_2 QAT_START("0", "ymm0", "ymm1") QAT_START("4", "ymm2", "ymm3")
#define QAT_STARTS_4 QAT_STARTS_2 QAT_START("8", "ymm4", "ymm5") QAT_START("12", "ymm6", "ymm7")
#define QAT_ROWS_2 QAT_ROW("(%[a])", "ymm0", "ymm1") QAT_ROW("(%[a],%[lda])", "ymm2", "ymm3")
#define QAT_ROWS_4 \
  QAT_ROWS_2 QAT_ROW("(%[a],%[lda],2)", "ymm4", "ymm5") QAT_ROW("(%[a3])", "ymm6", "ymm7")
#define QAT_WIDENS_2 \
  QAT_WIDEN("ymm0", "0") QAT_WIDEN("ymm1", "32") QAT_WIDEN("ymm2", "64") QAT_WIDEN("ymm3", "96")
#define QAT_WIDENS_4                                                                         \
  QAT_WIDENS_2 QAT_WIDEN("ymm4", "128") QAT_WIDEN("ymm5", "160") QAT_WIDEN("ymm6", "192") \
      QAT_WIDEN("ymm7", "224")
QAT_K_LOOP(k_loop_2x16, QAT_STARTS_2, QAT_ROWS_2, QAT_WIDENS_2)
QAT_K_LOOP(k_loop_4x16, QAT_STARTS_4, QAT_ROWS_4, QAT_WIDENS_4)
QAT_K_LOOP(k_loop_6x16,
           QAT_STARTS_4 QAT_START("16", "ymm8", "ymm9") QAT_START("20", "ymm10", "ymm11"),
           QAT_ROWS_4 QAT_ROW("(%[a],%[lda],4)", "ymm8", "ymm9")
               QAT_ROW("(%[a3],%[lda],2)", "ymm10", "ymm11"),
           QAT_WIDENS_4 QAT_WIDEN("ymm8", "256") QAT_WIDEN("ymm9", "288")
               QAT_WIDEN("ymm10", "320") QAT_WIDEN("ymm11", "352"))
#undef QAT_K_LOOP
#undef QAT_STARTS_2
#undef QAT_STARTS_4
#undef QAT_ROWS_2
#undef QAT_ROWS_4
#undef QAT_WIDENS_2
#undef QAT_WIDENS_4
#undef QAT_ROW
#undef QAT_START
#undef QAT_WIDEN

using KLoop = void (*)(int32_t*, const uint8_t*, const int8_t*, int64_t, int64_t, int64_t,
                      const uint32_t*);
// The loop for a tile with rows_left rows of A from its first: 6 rows when
// there are 5 or more, else 4 or 2 (an odd count also runs one of A's
// padding rows, as the 6-row loop always did).
KLoop k_loop_for(int64_t rows_left) {
  return rows_left > 4 ? k_loop_6x16 : rows_left > 2 ? k_loop_4x16 : k_loop_2x16;
}

// C (mr, nr), ldc apart = acc (mr, 16) - corr per row, mod 2^32 as the other
// paths (vpsubd wraps).
__attribute__((target("avx2"))) void store_tile(int32_t* C, const int32_t* acc,
                                                const int32_t* corr, int64_t ldc, int64_t mr,
                                                int64_t nr) {
  if (nr == kCols) {
    for (int64_t i = 0; i < mr; ++i) {
      const __m256i c = _mm256_set1_epi32(corr[i]);
      const auto* a = reinterpret_cast<const __m256i*>(acc + i * kCols);
      auto* out = reinterpret_cast<__m256i*>(C + i * ldc);
      _mm256_storeu_si256(out, _mm256_sub_epi32(_mm256_load_si256(a), c));
      _mm256_storeu_si256(out + 1, _mm256_sub_epi32(_mm256_load_si256(a + 1), c));
    }
    return;
  }
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j)
      C[i * ldc + j] = int32_t(uint32_t(acc[i * kCols + j]) - uint32_t(corr[i]));
}

// k-groups per block: the panel's block (block * 64 bytes, 12 KiB) stays
// in L1 while every row tile of A runs over it, instead of streaming the
// whole panel (up to 74 KB at K = 4608) from L2 once per row tile. A
// multiple of the run, so that the runs start where maddubs_run's proof
// put them (windows from group 0) and a block adds no widening.
int64_t block_groups(int64_t run) { return std::max<int64_t>(1, 192 / run) * run; }

constexpr int64_t kSuper = 4;  // panels packed together: 64 columns, a cache line of B's row

// Panels [n0, n0 + 64) of B into Bp, panel q at Bp + q * Kp * 16, each laid
// out as pack_b_panel<16> lays it out. Whole k-groups of four whole panels
// take the four 16-byte pieces of each row in a row, so a row's cache line
// (and page) is fetched once, not once per panel: packing one panel at a
// time cost about half the kernel's time at M = 64 (its rows are 40 KB
// apart at 200x200, so each k-group of a panel missed the TLB).
template <class Rows>
void pack_b_panels(int8_t* Bp, const Rows& row, int64_t K, int64_t Kp, int64_t n0, int64_t N,
                   int offset) {
  const int64_t count = std::min(kSuper, (N - n0 + kCols - 1) / kCols);
  int64_t kg0 = 0;  // k-groups packed by the fast loop
  if (n0 + kSuper * kCols <= N) {
    for (; kg0 * 4 + 4 <= K; ++kg0) {
      const int8_t* src[4];
      for (int64_t t = 0; t < 4; ++t) src[t] = row(kg0 * 4 + t) + n0;
      for (int64_t q = 0; q < kSuper; ++q) {
        pack_group(Bp + q * Kp * kCols + kg0 * 4 * kCols, src, int8_t(offset));
        for (int64_t t = 0; t < 4; ++t) src[t] += kCols;
      }
    }
  }
  for (int64_t q = 0; q < count; ++q) {
    const int64_t nq = n0 + q * kCols;
    pack_b_panel<kCols>(Bp + q * Kp * kCols, row, K, Kp, nq, std::min(kCols, N - nq), offset,
                        kg0);
  }
}

}  // namespace

// OpenMP over groups of four 16-column panels, packed together by their
// thread (pack_b_panels: Kp*64 bytes, 442 KB at K = 6912: in L2); each
// panel's k in blocks, each block run under every row tile of A, the
// tiles' int32 sums (rows padded to 6, 16) kept in acc across the blocks
// and stored once with the correction.
template <class Rows>
void packed_maddubs(int32_t* C, const PackedA<int8_t>& A, const Rows& row, int64_t N,
                    int64_t ldc) {
  const int64_t supers = (N + kSuper * kCols - 1) / (kSuper * kCols), groups = A.Kp / 4;
  const int64_t Mp = (A.M + kRows - 1) / kRows * kRows;
  const int64_t block = block_groups(A.byte_run);
  const int64_t windows = (groups + A.byte_run - 1) / A.byte_run;
  const auto* Ap = A.data.data();
#pragma omp parallel
  {
    thread_local std::vector<int8_t> Bp;  // kept between calls, as in int_gemm.cpp
    if (Bp.size() < size_t(A.Kp * kCols * kSuper)) Bp.resize(size_t(A.Kp * kCols * kSuper));
    // (Mp, 16) int32 sums, 32-byte aligned for the kernel's vmovdqa
    thread_local std::vector<__m256i> sums;
    if (sums.size() < size_t(Mp * 2)) sums.resize(size_t(Mp * 2));
    int32_t* acc = reinterpret_cast<int32_t*>(sums.data());
#pragma omp for schedule(static)
    for (int64_t s = 0; s < supers; ++s) {
      const int64_t s0 = s * kSuper * kCols;
      pack_b_panels(Bp.data(), row, A.K, A.Kp, s0, N, A.byte_offset);
      for (int64_t n0 = s0; n0 < std::min(N, s0 + kSuper * kCols); n0 += kCols) {
        const int64_t nr = std::min(kCols, N - n0);
        const auto* bytes =
            reinterpret_cast<const uint8_t*>(Bp.data()) + (n0 - s0) / kCols * A.Kp * kCols;
        std::fill_n(acc, Mp * kCols, 0);  // rows past M stay unused
        for (int64_t g0 = 0; g0 < groups; g0 += block) {
          const int64_t n_groups = std::min(block, groups - g0);
          for (int64_t m0 = 0; m0 < A.M; m0 += kRows)
            k_loop_for(A.M - m0)(acc + m0 * kCols, bytes + g0 * 4 * kCols,
                                 Ap + m0 * A.Kp + g0 * 4, A.Kp, n_groups, A.byte_run,
                                 A.byte_init.data() + (m0 / kRows * windows + g0 / A.byte_run) * 8);
        }
        for (int64_t m0 = 0; m0 < A.M; m0 += kRows)
          store_tile(C + m0 * ldc + n0, acc + m0 * kCols, A.byte_corr.data() + m0, ldc,
                     std::min(kRows, A.M - m0), nr);
      }
    }
  }
}

template void packed_maddubs(int32_t*, const PackedA<int8_t>&, const DenseRows<int8_t>&,
                             int64_t, int64_t);
template void packed_maddubs(int32_t*, const PackedA<int8_t>&, const OffsetRows<int8_t>&,
                             int64_t, int64_t);

}  // namespace qat::quant::panels
