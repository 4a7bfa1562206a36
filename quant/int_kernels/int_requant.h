// Requantisation: an int32 accumulator back to the codes of an output
// format, by an integer multiplier, an offset and a right shift,
//   code = saturate(round((acc * multiplier + offset) / 2^shift))
// in int64, never float. This is how a per-channel affine y = a*v + b on the
// accumulator (a folded BatchNorm: a = gamma / sqrt(var + eps) times the
// change of scale, b = beta - mean * gamma / sqrt(var + eps)) becomes integer.
//
// Two roundings, one per way a fixed-point format rounds (quant/quantizers/spec.h):
// - requantise():       two's complement (fixed_twos, fixed_twos.cpp):
//                       round half to even on the whole code, saturate to
//                       [lo, hi].
// - requantise_sign_magnitude(): the paper's Q(i.f) (fixed.cpp, and its GM
//                       code variant): integer part floor(|y|) clamped to
//                       2^i - 1, fraction rounded on its own (half to even
//                       on the FRACTION code, so Q(i.0) ties go toward zero;
//                       GM code at f = 0 truncates), sign restored.
//
// ## From a float scale to (multiplier, shift), exactly
// A float a is m * 2^e with m an integer of at most 24 bits. We pick
//   shift = min(s_exact, s_max),
//   s_exact = the smallest s >= 0 making a * 2^s and b * 2^s integers,
//   s_max   = min(30 - ea, 61 - eb, 62)   (|a| < 2^ea, |b| < 2^eb)
// and multiplier = a * 2^shift, offset = b * 2^shift. s_max keeps
// |multiplier| < 2^30 and |offset| < 2^61, so acc * multiplier + offset
// (|acc| < 2^31) never leaves int64. Since a has 24 significant bits and
// s_max >= 24 - (its lowest bit's exponent) the multiplier is ALWAYS exact:
// multiplier / 2^shift == a. The offset is exact too unless b carries bits
// 55 binary orders of magnitude below a's top; then it is rounded half to
// even and Requant::exact says so. When exact, the requantised code is the
// exactly rounded code of the rational a*acc + b: no float rounding at all.
#pragma once
#include <cstdint>

namespace qat::quant {

struct Requant {
  int32_t multiplier = 1;
  int64_t offset = 0;
  int shift = 0;       // 0 .. 62
  bool exact = true;   // multiplier / 2^shift == a and offset / 2^shift == b
};

// (a, b) of y = a * acc + b, y in output codes. qat::Error if a or b is not
// finite or |a| >= 2^30 (no int32 multiplier).
Requant requant_from_affine(float a, float b = 0.0f);

// round_half_even(x / 2^s), s in 0..62, on int64 (floor by arithmetic
// shift, then the remainder decides).
int64_t round_shift_half_even(int64_t x, int s);

// Two's complement: clamp(round_half_even((acc*M + offset) / 2^shift), lo, hi).
// acc may be a widened accumulator (int64): acc*M + offset is computed in
// 128 bits, exact for any |acc| < 2^63 with requant_from_affine's |M| < 2^30,
// |offset| < 2^61.
int32_t requantise(int64_t acc, const Requant& r, int32_t lo, int32_t hi);

// Sign-magnitude Q(i.f) as fixed.cpp (gm_code: as its Format::FixedGm).
int32_t requantise_sign_magnitude(int64_t acc, const Requant& r, int i, int f,
                                  bool gm_code);

// Binary activations (binary.cpp): +1 if (acc*M + offset) / 2^shift >= 0,
// else -1 (sign(0) = +1 as there). Only the sign of the affine matters, so
// the shift never rounds anything.
int32_t requantise_binary(int64_t acc, const Requant& r);

// One channel's row of accumulators, the engine's epilogue: ReLU on the
// accumulator if relu, then requantise (two's complement) or
// requantise_sign_magnitude, written as straight-line integer code over the
// row so that the compiler vectorises it. Same results as the scalar
// functions above (tests/quant/int_kernels/test_int_ops.cpp holds them to it).
// out (n) <- acc (n); T = int8_t, int16_t, int32_t.
template <class T>
void requantise_row(T* out, const int32_t* acc, int64_t n, const Requant& r, int32_t lo,
                    int32_t hi, bool relu);
template <class T>
void requantise_row_sign_magnitude(T* out, const int32_t* acc, int64_t n, const Requant& r,
                                   int i, int f, bool gm_code, bool relu);
template <class T>
void requantise_row_binary(T* out, const int32_t* acc, int64_t n, const Requant& r, bool relu);

// INT activations (int.cpp): the BatchNorm output y = (acc*M_c + O_c) / 2^S_c
// of the WHOLE tensor min-max normalised to n-bit codes,
//   code = min(floor(2^n * (y - min y) / (max y - min y)), 2^n - 1) - 2^(n-1)
// (a constant tensor: every code -2^(n-1)), here exactly: every y is put
// on the common denominator 2^max(S_c) in 128 bits (|acc*M + O| < 2^62, a
// shift of at most 62 more) and the quotient is a long division, bit by bit.
// acc (N,C,P) after the ReLU, |acc| < 2^31 -> out (N,C,P); T = int8_t,
// int16_t, int32_t; n in 1..24. quant/quantizers/int.cpp computes the same formula in
// float32 and can round (y - min) / range differently near a code boundary;
// the integer engine and the eval-mode simulation both use this one.
template <class T>
void requantise_min_max(T* out, const int32_t* acc, int64_t N, int64_t C, int64_t P,
                        const Requant* r, int n);

}  // namespace qat::quant
