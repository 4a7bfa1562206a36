// Q(i.f) in two's complement, as integer hardware stores it.
//
// A Q(i.f) register holds an integer code c of i + f bits and means the
// value c * 2^-f. i counts the sign bit when signed:
//   signed:    c in [-2^(i+f-1), 2^(i+f-1) - 1],  value in [-2^(i-1), 2^(i-1) - 2^-f]
//   unsigned:  c in [0, 2^(i+f) - 1],             value in [0, 2^i - 2^-f]
// So Q1.3 signed covers [-1, 0.875] in steps of 1/8 with 4 bits, and
// Q0.4 signed covers [-0.5, 0.4375] (its sign bit is the top fraction bit).
//
// ## Forward
//   c = clamp(round(x * 2^f), c_min, c_max)       (round half to even)
//   q = c * 2^-f
// and fixed_twos_code() returns c itself, for an integer engine.
//
// ## How it differs from fixed.cpp (sign-magnitude, the paper)
// - Range: asymmetric. One more negative level than positive, and the top
//   is 2^(i-1) - 2^-f, where sign-magnitude Q(i.f) reaches +-2^i.
// - No carry past the top: values beyond the range saturate to c_max or
//   c_min; sign-magnitude keeps the fraction of a too-large value (Q0.4 of
//   1.3 -> 0.3125) and rounds 0.99 up to 1.0.
// - Rounding: the whole code x * 2^f is rounded, so ties go to an even
//   code (Q2.0 of 1.5 -> 2); fixed.cpp rounds the fraction alone (-> 1).
// - Storage: exactly i + f bits, and the code is value * 2^f.
//
// ## Backward (straight-through)
// Identity: dx = dq. Clipped: dx = 0 where x < c_min * 2^-f or
// x > c_max * 2^-f. Saturated (telemetry) is narrower: round(x * 2^f)
// beyond [c_min, c_max]; an x within half a step above the top rounds to
// the top level anyway, so its gradient is clipped though nothing clamped it.
//
// ## Levels
// c * 2^-f for every code: 2^(i+f) values.
#include <algorithm>
#include <cmath>

#include "quant/quantizers/quantize.h"

namespace qat::quant {
namespace {

// The code bounds as floats (exact, |c| <= 2^24), for the float kernel;
// int_kernels/int_bound.h has the integer TwosBounds of every format.
struct TwosBounds {
  float lo, hi;
};

TwosBounds twos_bounds(int i, int f, bool is_signed) {
  const int w = i + f;
  if (is_signed) return {-std::ldexp(1.0f, w - 1), std::ldexp(1.0f, w - 1) - 1.0f};
  return {0.0f, std::ldexp(1.0f, w) - 1.0f};
}

}  // namespace

// x (any) -> q (same)
Quantized fixed_twos_forward(const Tensor& x, int i, int f, bool is_signed) {
  const int64_t n = x.numel();
  Quantized r{Tensor::empty(x.shape()), std::vector<uint8_t>(size_t(n), 0)};
  const TwosBounds c = twos_bounds(i, f, is_signed);
  const float scale = std::ldexp(1.0f, f), inv_scale = std::ldexp(1.0f, -f);
  const float lo = c.lo * inv_scale, hi = c.hi * inv_scale;
  const float* px = x.data();
  float* q = r.q.data();
  uint8_t* flags = r.flags.data();
  // simd: without it GCC leaves nearbyint scalar (vrndscaless): 22% of the
  // integer engine's float prefix in a perf profile
#pragma omp parallel for simd if (n > 65536)
  for (int64_t k = 0; k < n; ++k) {
    const float code = std::nearbyint(px[k] * scale);
    q[k] = std::clamp(code, c.lo, c.hi) * inv_scale;
    flags[k] = uint8_t(((code < c.lo) | (code > c.hi)) * kSaturated |
                       ((px[k] < lo) | (px[k] > hi)) * kOutside);
  }
  return r;
}

int32_t fixed_twos_code(float x, int i, int f, bool is_signed) {
  const TwosBounds c = twos_bounds(i, f, is_signed);
  return int32_t(std::clamp(std::nearbyint(x * std::ldexp(1.0f, f)), c.lo, c.hi));
}

std::vector<int32_t> fixed_twos_codes(const Tensor& x, int i, int f, bool is_signed) {
  std::vector<int32_t> codes(size_t(x.numel()));
  const float* px = x.data();
  for (size_t k = 0; k < codes.size(); ++k) codes[k] = fixed_twos_code(px[k], i, f, is_signed);
  return codes;
}

// Literally: the nearest multiple of 2^-f (ties to the even multiple), then
// saturate to the ends of the range, in double.
float fixed_twos_naive(float x, int i, int f, bool is_signed) {
  const double step = std::pow(2.0, -f);
  const double lo = is_signed ? -std::pow(2.0, i - 1) : 0.0;
  const double hi = (is_signed ? std::pow(2.0, i - 1) : std::pow(2.0, i)) - step;
  const double v = std::nearbyint(double(x) / step) * step;
  if (v < lo) return float(lo);
  if (v > hi) return float(hi);
  return float(v);
}

std::vector<float> fixed_twos_levels(int i, int f, bool is_signed) {
  const TwosBounds c = twos_bounds(i, f, is_signed);
  std::vector<float> out;
  out.reserve(size_t(c.hi - c.lo + 1));
  for (int64_t code = int64_t(c.lo); code <= int64_t(c.hi); ++code)
    out.push_back(std::ldexp(float(code), -f));
  return out;
}

}  // namespace qat::quant
