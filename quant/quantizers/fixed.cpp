// FIXED: sign-magnitude fixed point Q(i.f), the paper's eq. (1)-(3).
//
// ## Forward, as the paper writes it
//   split |x| into an integer part  I = floor(|x|)
//                  and a fraction   F = |x| - I          (in [0, 1))
//   I' = clamp(I, 0, 2^i - 1)                            (i integer bits)
//   F' = round(F * 2^f) / 2^f                            (f fraction bits)
//   q  = sign(x) * (I' + F')
// round is round-half-to-even (std::nearbyint under the default rounding
// mode, as torch.round); sign(0) = 0, so 0 -> 0.
//
// Three consequences a reader should know:
// 1. The fraction is rounded on its own, so the tie is broken by the parity
//    of the FRACTION code, not of the whole value: Q2.0 of 1.5 is
//    1 + round(0.5) = 1 + 0 = 1, and of 2.5 is 2 (torch.round would give 2
//    and 2). Q0.2 of 0.125: 0.125 * 4 = 0.5 -> 0 -> 0.0; of 0.375:
//    1.5 -> 2 -> 0.5.
// 2. The fraction can carry into the integer part: Q0.2 of 0.9 is
//    round(3.6) / 4 = 1.0, and Q6.0 of 63.6 is 63 + round(0.6) = 64. So
//    Q0.f covers [-1, 1] with both ends, Q6.0 covers [-64, 64], and the grid
//    has 2 * 2^(i+f) + 1 levels: one more than 1 + i + f bits can hold.
// 3. The clamp acts on the integer part ONLY; the fraction of a too-large
//    input is kept. Q0.4 of 1.3 is 0 + round(0.3 * 16) / 16 = 0.3125, not
//    1.0, and Q0.4 of exactly 1.0 is 0: above 2^i the format wraps rather
//    than saturates. That is the formula and the released code; fixed_twos
//    saturates as hardware does.
//
// ## The released GM code (Format::FixedGm)
// It clamps the fraction to [0, 2^f - 1] before rounding. For f >= 1 that
// does nothing (F < 1), but for f = 0 the range is [0, 0]: every Q(i.0) of
// the GM code truncates toward zero (Q6.0 of 2.7 is 2, not 3) and never
// reaches 2^i. The paper's activation formats Q8.0, Q6.0, Q4.0 are all
// f = 0, so the two differ on every activation of the table.
//
// ## Backward (straight-through)
// Identity: dx = dq. Clipped: dx = 0 where the integer clamp acts, i.e.
// |x| >= 2^i (from there on q no longer follows x; at exactly 2^i it has
// already dropped to 2^i - 1). The same elements are flagged saturated.
//
// ## Levels
// Magnitudes j / 2^f for j = 0 .. 2^(i+f) (GM code at f = 0: j = 0 .. 2^i - 1),
// both signs: 2^(i+f+1) + 1 values, in [-2^i, 2^i]. Q0.4: 33 values in
// [-1, 1] in steps of 1/16; Q0.2: 9; Q8.0: 513 in [-256, 256].
#include <algorithm>
#include <cmath>

#include "quant/quantizers/quantize.h"

namespace qat::quant {

// x (any) -> q (same); all arithmetic below is exact in float32 for
// i + f <= 24 (scaling by 2^f, integer parts, sums of multiples of 2^-f).
Quantized fixed_forward(const Tensor& x, int i, int f, bool gm_code) {
  const int64_t n = x.numel();
  Quantized r{Tensor::empty(x.shape()), std::vector<uint8_t>(size_t(n), 0)};
  const float scale = std::ldexp(1.0f, f), inv_scale = std::ldexp(1.0f, -f);
  const float int_max = std::ldexp(1.0f, i) - 1.0f;
  const bool drop_fraction = gm_code && f == 0;
  const float* px = x.data();
  float* q = r.q.data();
  uint8_t* flags = r.flags.data();
#pragma omp parallel for if (n > 65536)
  for (int64_t k = 0; k < n; ++k) {
    const float mag = std::fabs(px[k]);
    const float int_part = std::floor(mag);
    const float frac = drop_fraction ? 0.0f : std::nearbyint((mag - int_part) * scale) * inv_scale;
    const bool clamped = int_part > int_max;
    q[k] = std::copysign(std::min(int_part, int_max) + frac, px[k]);
    flags[k] = clamped ? (kSaturated | kOutside) : 0;
  }
  return r;
}

// Eq. (1)-(3) line by line, in double.
float fixed_naive(float x, int i, int f, bool gm_code) {
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
  const double a = std::abs(double(x));
  double int_part = std::floor(a);
  double frac = a - int_part;
  int_part = std::clamp(int_part, 0.0, std::pow(2.0, i) - 1.0);
  if (gm_code) frac = std::clamp(frac, 0.0, std::pow(2.0, f) - 1.0);
  frac = std::nearbyint(frac * std::pow(2.0, f)) / std::pow(2.0, f);
  return float(sign * (int_part + frac));
}

std::vector<float> fixed_levels(int i, int f, bool gm_code) {
  const int64_t top = (gm_code && f == 0) ? (int64_t(1) << i) - 1 : int64_t(1) << (i + f);
  std::vector<float> out;
  out.reserve(size_t(2 * top + 1));
  for (int64_t j = -top; j <= top; ++j) out.push_back(std::ldexp(float(j), -f));
  return out;
}

}  // namespace qat::quant
