// INT: min-max normalisation of the whole tensor to n-bit codes.
//
// ## Forward, as the released code computes it (float32)
//   u = (x - min(x)) / (max(x) - min(x))      in [0, 1]
//   c = floor(2^n * u) - 2^(n-1)              in [-2^(n-1), 2^(n-1) - 1]
// The OUTPUT IS THE CODE c, not a rescaled value: the code feeds c to the
// next conv as is, so an int8 activation lies in [-128, 127] whatever the
// range of x was. We do the same (Format::Int is "the code's INT"); a
// caller wanting values back computes min + (c + 2^(n-1) + 1/2) * range / 2^n.
//
// Two cases the code leaves undefined, pinned down here:
// - The max element: u = 1 gives floor(2^n) = 2^n, an (n+1)-bit code
//   2^(n-1) in the released code. We clamp floor(2^n * u) to 2^n - 1, so the
//   max element shares the top code 2^(n-1) - 1 (flagged saturated). The
//   same clamp catches u that float rounding pushes to 1 below the max.
// - A constant tensor: max = min would divide 0 by 0 (NaN in the code).
//   We take u = 0: every element gets the bottom code -2^(n-1).
//
// ## Backward (straight-through)
// Identity: dx = dq. Clipped equals Identity here: the range is the
// tensor's own min..max, so no input lies outside it.
//
// ## Levels
// The integer codes -2^(n-1) .. 2^(n-1) - 1: 2^n values.
#include <algorithm>
#include <cmath>

#include "autograd/check.h"
#include "quant/quantizers/quantize.h"

namespace qat::quant {

// x (any, non-empty) -> codes (same)
Quantized int_forward(const Tensor& x, int n) {
  const int64_t count = x.numel();
  QAT_CHECK(count > 0, "int quantizer: empty tensor ", to_string(x.shape()));
  Quantized r{Tensor::empty(x.shape()), std::vector<uint8_t>(size_t(count), 0)};
  const float* px = x.data();
  const auto [lo_it, hi_it] = std::minmax_element(px, px + count);
  const float lo = *lo_it, range = *hi_it - *lo_it;
  const float levels = std::ldexp(1.0f, n), half = std::ldexp(1.0f, n - 1);
  float* q = r.q.data();
  uint8_t* flags = r.flags.data();
#pragma omp parallel for if (count > 65536)
  for (int64_t k = 0; k < count; ++k) {
    const float u = range > 0.0f ? (px[k] - lo) / range : 0.0f;
    const float code = std::floor(levels * u);
    const bool pinned = code > levels - 1.0f;
    q[k] = (pinned ? levels - 1.0f : code) - half;
    flags[k] = pinned ? kSaturated : 0;
  }
  return r;
}

// The same two lines over a plain vector, min and max by hand.
std::vector<float> int_naive(const std::vector<float>& x, int n) {
  float mn = x.at(0), mx = x.at(0);
  for (float v : x) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  std::vector<float> out;
  for (float v : x) {
    float u = 0.0f;
    if (mx != mn) u = (v - mn) / (mx - mn);
    float c = std::floor(float(1 << n) * u);
    if (c > float((1 << n) - 1)) c = float((1 << n) - 1);
    out.push_back(c - float(1 << (n - 1)));
  }
  return out;
}

std::vector<float> int_levels(int n) {
  std::vector<float> out;
  for (int64_t c = -(int64_t(1) << (n - 1)); c < (int64_t(1) << (n - 1)); ++c)
    out.push_back(float(c));
  return out;
}

}  // namespace qat::quant
