// What the packed GEMM kernels share (int_gemm.cpp: VNNI, AVX2 vpmaddwd;
// int_gemm_maddubs.cpp: AVX2 vpmaddubsw): how B's rows are found and how a
// panel of B's columns is interleaved into k-groups. Internal to
// quant/int_kernels; letters as in int_gemm.h, B (K, N).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/int_kernels/int_gemm.h"

namespace qat::quant::panels {

// The rows of a dense B (K, N).
template <class T>
struct DenseRows {
  const T* B;
  int64_t N;
  const T* operator()(int64_t k) const { return B + k * N; }
};
// The rows of a B given as offsets from a base (gemm_packed_rows).
template <class T>
struct OffsetRows {
  const T* base;
  const int64_t* offsets;
  const T* operator()(int64_t k) const { return base + offsets[k]; }
};

// The 4 bytes at p (one row's k-group of A) in every 32-bit lane.
inline __attribute__((target("avx2"))) __m256i broadcast_group(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

template <class T>
constexpr int64_t group() {  // k per 32-bit lane
  return sizeof(T) == 1 ? 4 : 2;
}

// One full k-group of 16 (int8) or 8 (int16) columns, interleaved with SSE2
// unpacks: rows src[t] = B[G*kg + t][j..] become Bp[kg][j][t]. int8 gets
// + offset mod 256 (VNNI: 128, the xor of the sign bit; the byte path: -lo
// of the activation format), so that the code c becomes the unsigned byte
// c + offset.
inline void pack_group(int8_t* dst, const int8_t* const* src, int8_t offset) {
  const __m128i add = _mm_set1_epi8(offset);
  __m128i r[4];
  for (int t = 0; t < 4; ++t)
    r[t] = _mm_add_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src[t])), add);
  const __m128i lo01 = _mm_unpacklo_epi8(r[0], r[1]), hi01 = _mm_unpackhi_epi8(r[0], r[1]);
  const __m128i lo23 = _mm_unpacklo_epi8(r[2], r[3]), hi23 = _mm_unpackhi_epi8(r[2], r[3]);
  __m128i* out = reinterpret_cast<__m128i*>(dst);
  _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(lo01, lo23));  // columns 0-3
  _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));  // 4-7
  _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));  // 8-11
  _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));  // 12-15
}
inline void pack_group(int16_t* dst, const int16_t* const* src, int8_t /*offset*/) {
  const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[0]));
  const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[1]));
  __m128i* out = reinterpret_cast<__m128i*>(dst);
  _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(r0, r1));  // columns 0-3
  _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(r0, r1));  // 4-7
}

// The same for 64 int8 columns at once with AVX-512 (the VNNI and AMX
// panels, which run only where it is present): byte and word unpacks give,
// in 128-bit lane L, columns 16L + 4i..4i+3 (i = 0..3, one vector each), and
// two rounds of lane shuffles put lane L of the four into output vector L.
__attribute__((target("avx512f,avx512bw"))) inline void pack_group64(
    int8_t* dst, const int8_t* const* src, int8_t offset) {
  const __m512i add = _mm512_set1_epi8(offset);
  __m512i r[4];
  for (int t = 0; t < 4; ++t) r[t] = _mm512_add_epi8(_mm512_loadu_si512(src[t]), add);
  const __m512i lo01 = _mm512_unpacklo_epi8(r[0], r[1]), hi01 = _mm512_unpackhi_epi8(r[0], r[1]);
  const __m512i lo23 = _mm512_unpacklo_epi8(r[2], r[3]), hi23 = _mm512_unpackhi_epi8(r[2], r[3]);
  const __m512i a = _mm512_unpacklo_epi16(lo01, lo23), b = _mm512_unpackhi_epi16(lo01, lo23);
  const __m512i c = _mm512_unpacklo_epi16(hi01, hi23), d = _mm512_unpackhi_epi16(hi01, hi23);
  const __m512i ab01 = _mm512_shuffle_i32x4(a, b, 0x44), cd01 = _mm512_shuffle_i32x4(c, d, 0x44);
  const __m512i ab23 = _mm512_shuffle_i32x4(a, b, 0xEE), cd23 = _mm512_shuffle_i32x4(c, d, 0xEE);
  _mm512_storeu_si512(dst, _mm512_shuffle_i32x4(ab01, cd01, 0x88));        // columns 0-15
  _mm512_storeu_si512(dst + 64, _mm512_shuffle_i32x4(ab01, cd01, 0xDD));   // 16-31
  _mm512_storeu_si512(dst + 128, _mm512_shuffle_i32x4(ab23, cd23, 0x88));  // 32-47
  _mm512_storeu_si512(dst + 192, _mm512_shuffle_i32x4(ab23, cd23, 0xDD));  // 48-63
}

// B columns [n0, n0+nr) -> Bp (Kp/G, NR, G), NR columns a panel; int8 gets
// + offset (stored as uint8), padding holds the code 0 (the byte offset).
// Whole k-groups of a whole panel go through pack_group, the edges element
// by element. k-groups before kg0 are left as they are (packed already).
template <int64_t NR, class T, class Rows>
void pack_b_panel(T* Bp, const Rows& row, int64_t K, int64_t Kp, int64_t n0, int64_t nr,
                  int offset, int64_t kg0 = 0) {
  constexpr int64_t G = group<T>();
  constexpr int64_t cols = 16 / sizeof(T);  // columns per pack_group
  for (int64_t kg = kg0; kg < Kp / G; ++kg) {
    if (nr == NR && kg * G + G <= K) {
      const T* src[G];
      for (int64_t t = 0; t < G; ++t) src[t] = row(kg * G + t) + n0;
      if constexpr (NR == 64 && sizeof(T) == 1) {
        pack_group64(Bp + kg * NR * G, src, int8_t(offset));
        continue;
      }
      for (int64_t j = 0; j < NR; j += cols) {
        pack_group(Bp + (kg * NR + j) * G, src, int8_t(offset));
        for (int64_t t = 0; t < G; ++t) src[t] += cols;
      }
      continue;
    }
    for (int64_t t = 0; t < G; ++t) {
      const int64_t k = kg * G + t;
      T* dst = Bp + kg * NR * G + t;
      const T* src = k < K ? row(k) + n0 : nullptr;
      for (int64_t j = 0; j < NR; ++j) {
        const T v = (src && j < nr) ? src[j] : T(0);
        if constexpr (sizeof(T) == 1)
          dst[j * G] = T(uint8_t(int32_t(v) + offset));
        else
          dst[j * G] = v;
      }
    }
  }
}

// The AVX2 byte path (int_gemm_maddubs.cpp), for A.byte_run > 0: C (A.M, N)
// = A * B mod 2^32, OpenMP over 16-column panels. Instantiated for
// DenseRows<int8_t> and OffsetRows<int8_t>.
template <class Rows>
void packed_maddubs(int32_t* C, const PackedA<int8_t>& A, const Rows& row, int64_t N,
                    int64_t ldc);
// The AMX path (int_gemm_amx.cpp), for A.Kt > 0: the same contract and the
// same two instantiations.
template <class Rows>
void packed_amx(int32_t* C, const PackedA<int8_t>& A, const Rows& row, int64_t N, int64_t ldc);

}  // namespace qat::quant::panels
