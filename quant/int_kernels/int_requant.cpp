// Requantisation by multiplier, offset and shift; see int_requant.h.
#include "quant/int_kernels/int_requant.h"

#include "quant/int_kernels/int_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/check.h"

namespace qat::quant {
namespace {

// The smallest s >= 0 with x * 2^s an integer (x a finite float).
int exact_shift(float x) {
  if (x == 0.0f) return 0;
  int e = 0;
  const float m = std::frexp(x, &e);  // |m| in [0.5, 1), x = m * 2^e
  int64_t mant = int64_t(std::ldexp(double(m), 24));  // x = mant * 2^(e-24)
  int low = e - 24;                                    // exponent of mant's unit
  while (mant % 2 == 0) mant /= 2, ++low;
  return std::max(0, -low);
}

int top_exponent(float x) {  // |x| < 2^e
  int e = 0;
  std::frexp(x, &e);
  return e;
}

}  // namespace

Requant requant_from_affine(float a, float b) {
  if (!std::isfinite(a) || !std::isfinite(b))
    throw Error(detail::concat("requantisation: scale ", a, " and offset ", b,
                               " must be finite"));
  int s_max = 62;
  if (a != 0.0f) s_max = std::min(s_max, 30 - top_exponent(a));
  if (b != 0.0f) s_max = std::min(s_max, 61 - top_exponent(b));
  if (s_max < 0)
    throw Error(detail::concat("requantisation: scale ", a, " or offset ", b,
                               " too large for an int32 multiplier (expected "
                               "|scale| < 2^30, |offset| < 2^61)"));
  const int s = std::min(std::max(exact_shift(a), exact_shift(b)), s_max);
  const double ma = std::ldexp(double(a), s), mb = std::ldexp(double(b), s);
  Requant r;
  r.shift = s;
  r.multiplier = int32_t(std::nearbyint(ma));  // |ma| < 2^30: exact per the header
  r.offset = int64_t(std::nearbyint(mb));      // |mb| < 2^61
  r.exact = double(r.multiplier) == ma && double(r.offset) == mb;
  return r;
}

int64_t round_shift_half_even(int64_t x, int s) {
  QAT_CHECK(s >= 0 && s <= 62, "round_shift_half_even: shift ", s, " outside 0..62");
  if (s == 0) return x;
  const int64_t q = x >> s;             // floor(x / 2^s): arithmetic shift (C++20)
  const int64_t r = x - q * (int64_t(1) << s);  // in [0, 2^s)
  const int64_t half = int64_t(1) << (s - 1);
  return (r > half || (r == half && (q & 1))) ? q + 1 : q;
}

namespace {
// The scalar functions take an int64 accumulator (a widened layer's,
// int_bound.h) and so compute acc * M + offset in 128 bits: |acc| < 2^62,
// |M| < 2^30, |offset| < 2^61 cannot leave it.
__extension__ typedef __int128 Int128;

Int128 round_shift_half_even_128(Int128 x, int s) {
  if (s == 0) return x;
  const Int128 q = x >> s;  // floor
  const Int128 r = x - q * (Int128(1) << s), half = Int128(1) << (s - 1);
  return (r > half || (r == half && (q & 1))) ? q + 1 : q;
}
}  // namespace

int32_t requantise(int64_t acc, const Requant& r, int32_t lo, int32_t hi) {
  const Int128 y = round_shift_half_even_128(Int128(acc) * r.multiplier + r.offset, r.shift);
  return int32_t(y < lo ? Int128(lo) : y > hi ? Int128(hi) : y);
}

// |y| * 2^f = X / 2^shift with X = |acc*M + offset|. Integer part of |y|:
// floor(X / 2^(shift+f)); fraction code: the rest, X mod 2^(shift+f), rounded
// to f bits (half to even), which may carry to 2^f.
int32_t requantise_sign_magnitude(int64_t acc, const Requant& r, int i, int f,
                                  bool gm_code) {
  QAT_CHECK(i >= 0 && f >= 0 && i + f <= 24 && r.shift + f <= 62,
            "requantise_sign_magnitude: Q", i, ".", f, " with shift ", r.shift);
  const Int128 x = Int128(acc) * r.multiplier + r.offset;
  const Int128 X = x < 0 ? -x : x;
  const int total = r.shift + f;  // fraction bits of X as a value of |y|
  const Int128 int_part = X >> total;
  const Int128 frac = X - (int_part << total);  // |y|'s fraction * 2^total
  Int128 frac_code = round_shift_half_even_128(frac, r.shift);  // 0 .. 2^f
  // The GM code clamps the fraction to [0, 2^f - 1] BEFORE rounding: at
  // f >= 1 the fraction is below 1 anyway (no effect, the carry stays), at
  // f = 0 it becomes 0: Q(i.0) truncates.
  if (gm_code && f == 0) frac_code = 0;
  const Int128 top = (Int128(1) << i) - 1;
  const Int128 mag = (int_part < top ? int_part : top) * (Int128(1) << f) + frac_code;
  return int32_t(x < 0 ? -mag : mag);
}

int32_t requantise_binary(int64_t acc, const Requant& r) {
  return Int128(acc) * r.multiplier + r.offset >= 0 ? 1 : -1;
}

// round_half_even(x / 2^s) for s >= 1 without branches: floor by the
// arithmetic shift, then the remainder against one half.
static inline int64_t round_shift_ge1(int64_t x, int s) {
  const int64_t q = x >> s, r = x & ((int64_t(1) << s) - 1), half = int64_t(1) << (s - 1);
  return q + int64_t((r > half) | ((r == half) & (q & 1)));
}

// 16 accumulators at a time with AVX-512 (GCC does not vectorise the
// scalar loop: 64-bit products and shifts): sign-extend to two vectors of 8
// int64, the same arithmetic lane by lane, clamp, narrow. Returns how many
// it did (a multiple of 16); the scalar loop does the rest.
// GCC 12 warns inside its own AVX-512 headers here (their unmasked forms
// pass _mm512_undefined_* as the merge source): a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define QAT_AVX512_REQUANT __attribute__((target("avx512f,avx512dq,avx512bw")))
struct RequantLanes {
  __m512i vm, vo, vl, vh, mask, half, one;
  __m128i sh;
  int s;
};

// 8 int32 accumulators -> 8 int64 codes: (a * M + O) rounded by s, clamped.
// A function of its own rather than a lambda: GCC does not give a lambda
// its enclosing function's target, so on a machine built without AVX-512
// the lambda would not compile.
QAT_AVX512_REQUANT static inline __m512i requant_lane8(__m256i a32, const RequantLanes& k) {
  const __m512i v = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_cvtepi32_epi64(a32), k.vm), k.vo);
  __m512i q = _mm512_sra_epi64(v, k.sh);
  if (k.s) {
    const __m512i r = _mm512_and_si512(v, k.mask);
    const __mmask8 up = _mm512_cmpgt_epi64_mask(r, k.half) |
                        (_mm512_cmpeq_epi64_mask(r, k.half) & _mm512_test_epi64_mask(q, k.one));
    q = _mm512_mask_add_epi64(q, up, q, k.one);
  }
  return _mm512_min_epi64(_mm512_max_epi64(q, k.vl), k.vh);
}

// The sign-magnitude rows (requantise_sign_magnitude) on 8 int64 lanes, as
// the AVX2 version below does on 4: the magnitude X = |a * M + O|, its
// integer part X >> (s + f) clamped to 2^i - 1, its fraction rounded half
// to even from s + f to f bits, the sign put back.
struct SignMagnitudeLanes {
  __m512i vm, vo, top, frac_mask, mask, half, one;
  __m128i total, sh, f;
  bool round, no_fraction;
};
QAT_AVX512_REQUANT static inline __m512i requant_lane8(__m256i a32,
                                                       const SignMagnitudeLanes& k) {
  const __m512i x = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_cvtepi32_epi64(a32), k.vm), k.vo);
  const __m512i zero = _mm512_setzero_si512();
  const __mmask8 neg = _mm512_cmplt_epi64_mask(x, zero);
  const __m512i X = _mm512_abs_epi64(x);
  const __m512i whole = _mm512_min_epi64(_mm512_srl_epi64(X, k.total), k.top);
  __m512i frac = _mm512_and_si512(X, k.frac_mask);
  if (k.round) {  // s >= 1: round_shift_ge1 on frac >= 0
    const __m512i q = _mm512_srl_epi64(frac, k.sh), r = _mm512_and_si512(frac, k.mask);
    const __mmask8 up = _mm512_cmpgt_epi64_mask(r, k.half) |
                        (_mm512_cmpeq_epi64_mask(r, k.half) & _mm512_test_epi64_mask(q, k.one));
    frac = _mm512_mask_add_epi64(q, up, q, k.one);
  }
  if (k.no_fraction) frac = zero;
  const __m512i mag = _mm512_add_epi64(_mm512_sll_epi64(whole, k.f), frac);
  return _mm512_mask_sub_epi64(mag, neg, zero, mag);
}

// 16 accumulators at a time, through requant_lane8 of the lanes k; returns
// how many it did (a multiple of 16), the scalar loop does the rest.
template <class T, class Lanes>
QAT_AVX512_REQUANT int64_t rows_avx512(T* out, const int32_t* acc, int64_t n, int32_t floor_acc,
                                       const Lanes& k) {
  const __m512i vfloor = _mm512_set1_epi32(floor_acc);
  int64_t p = 0;
  for (; p + 16 <= n; p += 16) {
    const __m512i a = _mm512_max_epi32(_mm512_loadu_si512(acc + p), vfloor);
    const __m256i lo = _mm512_cvtepi64_epi32(requant_lane8(_mm512_castsi512_si256(a), k));
    const __m256i hi = _mm512_cvtepi64_epi32(requant_lane8(_mm512_extracti64x4_epi64(a, 1), k));
    const __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    if constexpr (sizeof(T) == 1)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + p), _mm512_cvtepi32_epi8(c));
    else if constexpr (sizeof(T) == 2)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + p), _mm512_cvtepi32_epi16(c));
    else
      _mm512_storeu_si512(out + p, c);
  }
  return p;
}

template <class T>
QAT_AVX512_REQUANT int64_t requantise_row_avx512(T* out, const int32_t* acc, int64_t n,
                                                 int64_t M, int64_t O, int s, int64_t L,
                                                 int64_t H, int32_t floor_acc) {
  const RequantLanes k{_mm512_set1_epi64(M),
                       _mm512_set1_epi64(O),
                       _mm512_set1_epi64(L),
                       _mm512_set1_epi64(H),
                       _mm512_set1_epi64(s ? (int64_t(1) << s) - 1 : 0),
                       _mm512_set1_epi64(s ? int64_t(1) << (s - 1) : 1),
                       _mm512_set1_epi64(1),
                       _mm_cvtsi32_si128(s),
                       s};
  return rows_avx512(out, acc, n, floor_acc, k);
}

template <class T>
QAT_AVX512_REQUANT int64_t requantise_row_sign_magnitude_avx512(T* out, const int32_t* acc,
                                                                int64_t n, const Requant& r,
                                                                int i, int f, bool no_fraction,
                                                                int32_t floor_acc) {
  const int s = r.shift, total = s + f;
  const SignMagnitudeLanes k{_mm512_set1_epi64(r.multiplier),
                             _mm512_set1_epi64(r.offset),
                             _mm512_set1_epi64((int64_t(1) << i) - 1),
                             _mm512_set1_epi64((int64_t(1) << total) - 1),
                             _mm512_set1_epi64(s ? (int64_t(1) << s) - 1 : 0),
                             _mm512_set1_epi64(s ? int64_t(1) << (s - 1) : 1),
                             _mm512_set1_epi64(1),
                             _mm_cvtsi32_si128(total),
                             _mm_cvtsi32_si128(s),
                             _mm_cvtsi32_si128(f),
                             s > 0,
                             no_fraction};
  return rows_avx512(out, acc, n, floor_acc, k);
}
#pragma GCC diagnostic pop

// The same with AVX2, 8 accumulators at a time in two vectors of 4 int64.
// AVX2 has no 64-bit arithmetic shift, min or max: vpmuldq multiplies the
// sign-extended int32 lanes exactly (|M| < 2^30), the floor shift is the
// logical shift of v + 2^63 less 2^63 >> s, the clamps compare and blend.
#define QAT_AVX2_REQUANT __attribute__((target("avx2")))
struct RequantLanes4 {
  __m256i vm, vo, vl, vh, mask, half, one, bias, bias_shifted;
  __m128i sh;
};

// 4 int32 accumulators -> 4 int64 codes: (a * M + O) rounded by s, clamped.
QAT_AVX2_REQUANT static inline __m256i requant_lane4(__m128i a32, const RequantLanes4& k) {
  const __m256i v = _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(a32), k.vm), k.vo);
  __m256i q = _mm256_sub_epi64(_mm256_srl_epi64(_mm256_xor_si256(v, k.bias), k.sh),
                               k.bias_shifted);  // floor(v / 2^s)
  const __m256i r = _mm256_and_si256(v, k.mask);
  const __m256i odd = _mm256_cmpeq_epi64(_mm256_and_si256(q, k.one), k.one);
  const __m256i up = _mm256_or_si256(_mm256_cmpgt_epi64(r, k.half),
                                     _mm256_and_si256(_mm256_cmpeq_epi64(r, k.half), odd));
  q = _mm256_sub_epi64(q, up);  // up is -1 where the half rounds up
  q = _mm256_blendv_epi8(q, k.vl, _mm256_cmpgt_epi64(k.vl, q));
  return _mm256_blendv_epi8(q, k.vh, _mm256_cmpgt_epi64(q, k.vh));
}

// The sign-magnitude rows (requantise_sign_magnitude) on 4 int64 lanes: the
// magnitude X = |a * M + O|, its integer part X >> (s + f) clamped to
// 2^i - 1, its fraction rounded half to even from s + f to f bits (which
// may carry to 2^f), the sign put back. |X| < 2^62, so the logical shifts
// of X >= 0 are floors.
struct SignMagnitudeLanes4 {
  __m256i vm, vo, top, frac_mask, mask, half, one;
  __m128i total, sh, f;
  bool round, no_fraction;
};
QAT_AVX2_REQUANT static inline __m256i requant_lane4(__m128i a32,
                                                     const SignMagnitudeLanes4& k) {
  const __m256i x = _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(a32), k.vm), k.vo);
  const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);  // -1 where x < 0
  const __m256i X = _mm256_sub_epi64(_mm256_xor_si256(x, neg), neg);
  __m256i whole = _mm256_srl_epi64(X, k.total);
  whole = _mm256_blendv_epi8(whole, k.top, _mm256_cmpgt_epi64(whole, k.top));
  __m256i frac = _mm256_and_si256(X, k.frac_mask);
  if (k.round) {  // s >= 1: round_shift_ge1 on frac >= 0
    const __m256i q = _mm256_srl_epi64(frac, k.sh), r = _mm256_and_si256(frac, k.mask);
    const __m256i odd = _mm256_cmpeq_epi64(_mm256_and_si256(q, k.one), k.one);
    const __m256i up = _mm256_or_si256(_mm256_cmpgt_epi64(r, k.half),
                                       _mm256_and_si256(_mm256_cmpeq_epi64(r, k.half), odd));
    frac = _mm256_sub_epi64(q, up);  // up is -1 where the half rounds up
  }
  if (k.no_fraction) frac = _mm256_setzero_si256();
  const __m256i mag = _mm256_add_epi64(_mm256_sll_epi64(whole, k.f), frac);
  return _mm256_sub_epi64(_mm256_xor_si256(mag, neg), neg);
}

// The same codes from doubles, where they are exact: if |acc| * |M| + |O|
// < 2^53, then acc * A (A = M / 2^s, B = O / 2^s: both exact) is a double,
// and so is y = acc * A + B = (acc * M + O) / 2^s; from y, rounding half to
// even (vroundpd), floor, clamps and the sign-magnitude split are exact
// too. 4 lanes then take 6 instructions (two's complement) instead of the
// int64 lanes' 17 (AVX2 has no 64-bit arithmetic shift, min or max): the
// requantisation was 4.3% of the engine's time on Zen 3, 2.7% after.
// acc_limit: the largest |acc| for which that holds (-1: none, which no
// accumulator is within).
struct DoubleLanes4 {  // two's complement: round, clamp to [lo, hi]
  __m256d a, b, lo, hi;
  int32_t acc_limit;
};
struct SignMagnitudeDoubles4 {  // as SignMagnitudeLanes4
  __m256d a, b, top, scale, unscale;
  int32_t acc_limit;
  bool no_fraction;
};

// a = M / 2^s, b = O / 2^s and acc_limit of r, into k.
template <class Doubles>
QAT_AVX2_REQUANT static void set_affine(Doubles& k, const Requant& r) {
  const int64_t kExact = int64_t(1) << 53, M = r.multiplier;
  const int64_t O = r.offset < 0 ? -r.offset : r.offset;
  k.acc_limit = -1;
  if (O < kExact && M != 0)
    k.acc_limit = int32_t(std::min<int64_t>((kExact - 1 - O) / (M < 0 ? -M : M), INT32_MAX));
  else if (O < kExact)
    k.acc_limit = INT32_MAX;
  k.a = _mm256_set1_pd(std::ldexp(double(M), -r.shift));
  k.b = _mm256_set1_pd(std::ldexp(double(r.offset), -r.shift));
}

constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// 4 int32 accumulators -> 4 int32 codes, from doubles (exact: the caller
// checked |acc| <= acc_limit).
QAT_AVX2_REQUANT static inline __m128i requant_double4(__m128i a32, const DoubleLanes4& k) {
  const __m256d y = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a32), k.a), k.b);
  return _mm256_cvtpd_epi32(
      _mm256_min_pd(_mm256_max_pd(_mm256_round_pd(y, kNearest), k.lo), k.hi));
}
// y in codes (value * 2^f): whole = floor(|value|) up to 2^i - 1, the
// fraction rounded half to even at f bits (it may carry to 2^f), the sign
// put back.
QAT_AVX2_REQUANT static inline __m128i requant_double4(__m128i a32,
                                                       const SignMagnitudeDoubles4& k) {
  const __m256d y = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(a32), k.a), k.b);
  const __m256d sign = _mm256_set1_pd(-0.0);
  const __m256d Y = _mm256_andnot_pd(sign, y);
  const __m256d whole = _mm256_floor_pd(_mm256_mul_pd(Y, k.unscale));
  __m256d frac = _mm256_round_pd(_mm256_sub_pd(Y, _mm256_mul_pd(whole, k.scale)), kNearest);
  if (k.no_fraction) frac = _mm256_setzero_pd();
  const __m256d mag = _mm256_add_pd(_mm256_mul_pd(_mm256_min_pd(whole, k.top), k.scale), frac);
  return _mm256_cvtpd_epi32(_mm256_or_pd(mag, _mm256_and_pd(sign, y)));
}

// 4 int32 accumulators -> 4 int32 codes through the int64 lanes.
template <class Lanes>
QAT_AVX2_REQUANT static inline __m128i requant_int4(__m128i a32, const Lanes& k) {
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);  // low halves of int64
  return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(requant_lane4(a32, k), even));
}

// 8 accumulators at a time: from doubles where all 8 are within
// kd.acc_limit, else through requant_lane4 of the lanes k; returns how many
// it did (a multiple of 8), the scalar loop does the rest.
template <class T, class Lanes, class Doubles>
QAT_AVX2_REQUANT int64_t rows_avx2(T* out, const int32_t* acc, int64_t n, int32_t floor_acc,
                                   const Lanes& k, const Doubles& kd) {
  const __m256i vfloor = _mm256_set1_epi32(floor_acc);
  const __m256i limit = _mm256_set1_epi32(kd.acc_limit);
  const __m256i minus = _mm256_set1_epi32(-kd.acc_limit);
  int64_t p = 0;
  for (; p + 8 <= n; p += 8) {
    const __m256i a =
        _mm256_max_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + p)), vfloor);
    const __m256i outside =
        _mm256_or_si256(_mm256_cmpgt_epi32(a, limit), _mm256_cmpgt_epi32(minus, a));
    const __m128i a_lo = _mm256_castsi256_si128(a), a_hi = _mm256_extracti128_si256(a, 1);
    __m128i lo, hi;
    if (_mm256_testz_si256(outside, outside))
      lo = requant_double4(a_lo, kd), hi = requant_double4(a_hi, kd);
    else
      lo = requant_int4(a_lo, k), hi = requant_int4(a_hi, k);
    // the codes lie in [L, H] within T: the saturating packs keep them
    if constexpr (sizeof(T) == 1) {
      const __m128i c16 = _mm_packs_epi32(lo, hi);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + p), _mm_packs_epi16(c16, c16));
    } else if constexpr (sizeof(T) == 2) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + p), _mm_packs_epi32(lo, hi));
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + p), lo);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + p + 4), hi);
    }
  }
  return p;
}

template <class T>
QAT_AVX2_REQUANT int64_t requantise_row_avx2(T* out, const int32_t* acc, int64_t n,
                                             const Requant& r, int64_t L, int64_t H,
                                             int32_t floor_acc) {
  const int64_t M = r.multiplier, O = r.offset;
  const int s = r.shift;
  DoubleLanes4 kd;
  set_affine(kd, r);
  kd.lo = _mm256_set1_pd(double(L));
  kd.hi = _mm256_set1_pd(double(H));
  const int64_t bias = std::numeric_limits<int64_t>::min();
  const RequantLanes4 k{_mm256_set1_epi64x(M),
                        _mm256_set1_epi64x(O),
                        _mm256_set1_epi64x(L),
                        _mm256_set1_epi64x(H),
                        _mm256_set1_epi64x(s ? (int64_t(1) << s) - 1 : 0),
                        _mm256_set1_epi64x(s ? int64_t(1) << (s - 1) : 1),
                        _mm256_set1_epi64x(1),
                        _mm256_set1_epi64x(bias),
                        _mm256_set1_epi64x(int64_t(uint64_t(bias) >> s)),
                        _mm_cvtsi32_si128(s)};
  return rows_avx2(out, acc, n, floor_acc, k, kd);
}

template <class T>
QAT_AVX2_REQUANT int64_t requantise_row_sign_magnitude_avx2(T* out, const int32_t* acc,
                                                            int64_t n, const Requant& r, int i,
                                                            int f, bool no_fraction,
                                                            int32_t floor_acc) {
  const int s = r.shift, total = s + f;
  const SignMagnitudeLanes4 k{_mm256_set1_epi64x(r.multiplier),
                              _mm256_set1_epi64x(r.offset),
                              _mm256_set1_epi64x((int64_t(1) << i) - 1),
                              _mm256_set1_epi64x((int64_t(1) << total) - 1),
                              _mm256_set1_epi64x(s ? (int64_t(1) << s) - 1 : 0),
                              _mm256_set1_epi64x(s ? int64_t(1) << (s - 1) : 1),
                              _mm256_set1_epi64x(1),
                              _mm_cvtsi32_si128(total),
                              _mm_cvtsi32_si128(s),
                              _mm_cvtsi32_si128(f),
                              s > 0,
                              no_fraction};
  SignMagnitudeDoubles4 kd;
  set_affine(kd, r);
  kd.top = _mm256_set1_pd(double((int64_t(1) << i) - 1));
  kd.scale = _mm256_set1_pd(std::ldexp(1.0, f));
  kd.unscale = _mm256_set1_pd(std::ldexp(1.0, -f));
  kd.no_fraction = no_fraction;
  return rows_avx2(out, acc, n, floor_acc, k, kd);
}

bool has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512bw");
  return has;
}

template <class T>
void requantise_row(T* out, const int32_t* acc, int64_t n, const Requant& r, int32_t lo,
                    int32_t hi, bool relu) {
  const int64_t M = r.multiplier, O = r.offset, L = lo, H = hi;
  const int s = r.shift;
  const int32_t floor_acc = relu ? 0 : std::numeric_limits<int32_t>::min();
  // |acc| < 2^31, |M| < 2^30, |O| < 2^61: acc*M + O stays inside int64
  // vector rows on the path the GEMM runs (int_gemm.h: gemm_path, so that
  // tests and benchmarks can force the fallbacks), scalar for the rest
  const GemmPath path = gemm_path();
  int64_t start = 0;
  if (s <= 62 && path >= GemmPath::vnni && has_avx512())
    start = requantise_row_avx512(out, acc, n, M, O, s, L, H, floor_acc);
  else if (s <= 62 && path != GemmPath::portable)
    start = requantise_row_avx2(out, acc, n, r, L, H, floor_acc);
  for (int64_t p = start; p < n; ++p) {
    const int64_t v = int64_t(std::max(acc[p], floor_acc)) * M + O;
    const int64_t y = s == 0 ? v : round_shift_ge1(v, s);
    out[p] = T(std::min(std::max(y, L), H));
  }
}

template <class T>
void requantise_row_sign_magnitude(T* out, const int32_t* acc, int64_t n, const Requant& r,
                                   int i, int f, bool gm_code, bool relu) {
  QAT_CHECK(i >= 0 && f >= 0 && i + f <= 24 && r.shift + f <= 62,
            "requantise_row_sign_magnitude: Q", i, ".", f, " with shift ", r.shift);
  const int64_t M = r.multiplier, O = r.offset, top = (int64_t(1) << i) - 1;
  const int s = r.shift, total = s + f;
  const int32_t floor_acc = relu ? 0 : std::numeric_limits<int32_t>::min();
  const bool no_fraction = gm_code && f == 0;  // the GM code truncates at f = 0
  // vector rows on the path the GEMM runs (as requantise_row), scalar for the rest
  const GemmPath path = gemm_path();
  int64_t start = 0;
  if (path >= GemmPath::vnni && has_avx512())
    start = requantise_row_sign_magnitude_avx512(out, acc, n, r, i, f, no_fraction, floor_acc);
  else if (path != GemmPath::portable && cpu_has_avx2())
    start = requantise_row_sign_magnitude_avx2(out, acc, n, r, i, f, no_fraction, floor_acc);
  for (int64_t p = start; p < n; ++p) {
    const int64_t x = int64_t(std::max(acc[p], floor_acc)) * M + O;
    const int64_t X = x < 0 ? -x : x;
    const int64_t int_part = X >> total;
    const int64_t frac = X & ((int64_t(1) << total) - 1);
    int64_t frac_code = s == 0 ? frac : round_shift_ge1(frac, s);
    if (no_fraction) frac_code = 0;
    const int64_t mag = (std::min(int_part, top) << f) + frac_code;
    out[p] = T(x < 0 ? -mag : mag);
  }
}

template <class T>
void requantise_row_binary(T* out, const int32_t* acc, int64_t n, const Requant& r,
                           bool relu) {
  const int64_t M = r.multiplier, O = r.offset;
  const int32_t floor_acc = relu ? 0 : std::numeric_limits<int32_t>::min();
  for (int64_t p = 0; p < n; ++p)
    out[p] = T(int64_t(std::max(acc[p], floor_acc)) * M + O >= 0 ? 1 : -1);
}

template <class T>
void requantise_min_max(T* out, const int32_t* acc, int64_t N, int64_t C, int64_t P,
                        const Requant* r, int n) {
  QAT_CHECK(n >= 1 && n <= 24 && N * C * P > 0, "requantise_min_max: ", n, " bits over ",
            N * C * P, " values");
  int s_max = 0;
  for (int64_t c = 0; c < C; ++c) s_max = std::max(s_max, r[c].shift);
  // y * 2^s_max of element k, an exact integer
  auto scaled = [&](int64_t k) {
    const Requant& rc = r[(k / P) % C];
    QAT_CHECK(acc[k] > std::numeric_limits<int32_t>::min(), "requantise_min_max: accumulator");
    return (Int128(acc[k]) * rc.multiplier + rc.offset) * (Int128(1) << (s_max - rc.shift));
  };
  const int64_t total = N * C * P;
  Int128 lo = scaled(0), hi = lo;
  for (int64_t k = 1; k < total; ++k) {
    const Int128 y = scaled(k);
    lo = y < lo ? y : lo;
    hi = y > hi ? y : hi;
  }
  const Int128 range = hi - lo;  // < 2^125
  const int64_t top = (int64_t(1) << n) - 1, half = int64_t(1) << (n - 1);
#pragma omp parallel for if (total > 65536)
  for (int64_t k = 0; k < total; ++k) {
    int64_t q = 0;
    if (range > 0) {
      // floor(2^n * d / range), d in [0, range]: n + 1 steps of long division
      Int128 rem = scaled(k) - lo;
      q = rem >= range ? 1 : 0;
      if (q) rem -= range;
      for (int b = 0; b < n; ++b) {
        rem *= 2;  // < 2 * range < 2^126
        q = 2 * q + (rem >= range ? 1 : 0);
        if (rem >= range) rem -= range;
      }
    }
    out[k] = T(std::min(q, top) - half);
  }
}

#define QAT_ROW_INSTANTIATE(T)                                                            \
  template void requantise_row<T>(T*, const int32_t*, int64_t, const Requant&, int32_t,  \
                                  int32_t, bool);                                          \
  template void requantise_row_sign_magnitude<T>(T*, const int32_t*, int64_t,              \
                                                 const Requant&, int, int, bool, bool); \
  template void requantise_row_binary<T>(T*, const int32_t*, int64_t, const Requant&, bool); \
  template void requantise_min_max<T>(T*, const int32_t*, int64_t, int64_t, int64_t,       \
                                      const Requant*, int);
QAT_ROW_INSTANTIATE(int8_t)
QAT_ROW_INSTANTIATE(int16_t)
QAT_ROW_INSTANTIATE(int32_t)
#undef QAT_ROW_INSTANTIATE

}  // namespace qat::quant
