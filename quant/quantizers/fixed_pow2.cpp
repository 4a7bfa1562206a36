// FIXED as the released EM code runs it: nearest power of two, then a
// Q(i.f) range clamp.
//
// ## Forward
//   p = sign(x) * 2^round(log2|x|)           (nearest power of two, in log2)
//   q = clamp(p, -M, +M),  M = 2^(i-1) + sum_{k=1..f} 2^-k = 2^(i-1) + 1 - 2^-f
// with 2^(i-1) taken as 0 when i = 0 (the code's max_int is 0 there, not
// 1/2). 0 maps to 0 (log2 0 = -inf, 2^-inf = 0, sign(0) = 0, as in torch).
// Q8.8: M = 128.99609375; Q0.4: M = 0.9375.
//
// Note what this is NOT: it is no grid of multiples of 2^-f. The values are
// powers of two with no lower end (0.001 -> 2^-10, far below Q8.8's 2^-8
// step) plus the clamp value +-M, which is usually not a power of two. The
// paper's table does not say whether EM's columns used this or fixed.cpp.
//
// "Nearest in log2": log2|x| = e + log2(m) with |x| = m * 2^e, m in
// [1/2, 1), so round(log2|x|) = e if m >= sqrt(1/2), else e - 1 (no float
// is exactly sqrt(1/2) * 2^e, so there is no tie). torch computes
// log(|x|)/log(2) in float32 and may decide the other way within an ulp or
// two of 2^(k+1/2); we take the exact answer.
//
// ## Backward (straight-through)
// Identity: dx = dq. Clipped: dx = 0 where |x| > M. An input can be inside
// the range yet saturated: for Q1.1 (M = 1.5), x = 1.45 rounds to 2 and is
// clamped to 1.5 while its gradient still passes.
//
// ## Levels
// 0, +-M, and +-2^k for every 2^-149 <= 2^k < M (float32's subnormals
// included).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "quant/quantizers/quantize.h"

namespace qat::quant {

float fixed_pow2_max(int i, int f) {
  const float int_part = i > 0 ? std::ldexp(1.0f, i - 1) : 0.0f;
  return int_part + (1.0f - std::ldexp(1.0f, -f));
}

namespace {
// The nearest power of two to mag > 0, in log2, from the float's bits.
// A normal float is 1.m * 2^E with m the 23 stored mantissa bits, and
// log2(1.m) >= 1/2 exactly when 1.m > sqrt(2), i.e. when
// m > (sqrt(2) - 1) * 2^23 = 3474675.2: then round up to 2^(E+1), else 2^E.
// Subnormals (below 2^-126) take the slow path through frexp.
float nearest_pow2(float mag) {
  constexpr uint32_t kMantissaMask = (1u << 23) - 1;
  constexpr uint32_t kSqrt2Mantissa = 3474676;  // first m with 1.m > sqrt(2)
  if (mag < std::numeric_limits<float>::min()) {
    int e = 0;
    const double m = std::frexp(double(mag), &e);  // mag = m * 2^e, m in [1/2, 1)
    return float(std::ldexp(1.0, m > 0.70710678118654752440 ? e : e - 1));
  }
  uint32_t bits = std::bit_cast<uint32_t>(mag);
  const bool up = (bits & kMantissaMask) >= kSqrt2Mantissa;
  bits &= ~kMantissaMask;         // 2^E
  if (up) bits += 1u << 23;       // 2^(E+1); 2^128 becomes +inf, then clamped
  return std::bit_cast<float>(bits);
}
}  // namespace

// x (any) -> q (same)
Quantized fixed_pow2_forward(const Tensor& x, int i, int f) {
  const int64_t n = x.numel();
  Quantized r{Tensor::empty(x.shape()), std::vector<uint8_t>(size_t(n), 0)};
  const float max = fixed_pow2_max(i, f);
  const float* px = x.data();
  float* q = r.q.data();
  uint8_t* flags = r.flags.data();
#pragma omp parallel for if (n > 65536)
  for (int64_t k = 0; k < n; ++k) {
    const float mag = std::fabs(px[k]);
    const float p = mag > 0.0f ? nearest_pow2(mag) : 0.0f;
    q[k] = std::copysign(std::min(p, max), px[k]);
    flags[k] = uint8_t((p > max ? kSaturated : 0) | (mag > max ? kOutside : 0));
  }
  return r;
}

// The formula literally: log2, round, exp2, then the clamp, in double.
float fixed_pow2_naive(float x, int i, int f) {
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
  if (x == 0.0f) return 0.0f;
  const double p = sign * std::exp2(std::nearbyint(std::log2(std::abs(double(x)))));
  double max_int = i > 0 ? std::pow(2.0, i - 1) : 0.0;
  double max_frac = 0.0;
  for (int k = 1; k <= f; ++k) max_frac += std::pow(2.0, -k);
  const double max = max_int + max_frac;
  return float(std::clamp(p, -max, max));
}

std::vector<float> fixed_pow2_levels(int i, int f) {
  const float max = fixed_pow2_max(i, f);
  std::vector<float> mags;
  for (int k = -149; std::ldexp(1.0f, k) < max; ++k) mags.push_back(std::ldexp(1.0f, k));
  mags.push_back(max);
  std::vector<float> out;
  for (auto it = mags.rbegin(); it != mags.rend(); ++it) out.push_back(-*it);
  out.push_back(0.0f);
  out.insert(out.end(), mags.begin(), mags.end());
  return out;
}

}  // namespace qat::quant
