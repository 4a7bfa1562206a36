#include "quant/telemetry.h"

#include <algorithm>
#include <vector>

#include "quant/quantize.h"

namespace qat::quant {
namespace {

// Fraction of elements whose forward flags have `bit` set.
double flagged_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale,
                        uint8_t bit) {
  if (x.numel() == 0) return 0.0;
  const Quantized r = quantize_forward(x, spec, binary_scale);
  const auto count = std::count_if(r.flags.begin(), r.flags.end(),
                                   [bit](uint8_t f) { return (f & bit) != 0; });
  return double(count) / double(x.numel());
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  if (a.shape() != b.shape())
    throw Error(std::string(what) + ": shapes " + to_string(a.shape()) + " and " +
                to_string(b.shape()) + "; expected the same shape");
}

int sign_of(float v) { return (v > 0.0f) - (v < 0.0f); }

}  // namespace

double saturated_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  return flagged_fraction(x, spec, binary_scale, kSaturated);
}

double zero_grad_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  return flagged_fraction(x, spec, binary_scale, kOutside);
}

int64_t distinct_levels(const Tensor& q) {
  std::vector<float> v = q.to_vector();
  std::sort(v.begin(), v.end());
  // unique with == merges -0 and +0, which sort places side by side
  return int64_t(std::unique(v.begin(), v.end()) - v.begin());
}

double quantization_mse(const Tensor& x, const Tensor& q) {
  check_same_shape(x, q, "quantization_mse");
  if (x.numel() == 0) return 0.0;
  double s = 0.0;
  for (int64_t k = 0; k < x.numel(); ++k) {
    const double d = double(x.data()[k]) - double(q.data()[k]);
    s += d * d;
  }
  return s / double(x.numel());
}

double sign_flip_fraction(const Tensor& before, const Tensor& after) {
  check_same_shape(before, after, "sign_flip_fraction");
  if (before.numel() == 0) return 0.0;
  int64_t flips = 0;
  for (int64_t k = 0; k < before.numel(); ++k)
    flips += sign_of(before.data()[k]) != sign_of(after.data()[k]);
  return double(flips) / double(before.numel());
}

}  // namespace qat::quant
