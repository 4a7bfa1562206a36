#include "quant/quantizers/telemetry.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "autograd/lane_sum.h"
#include "quant/quantizers/quantize.h"

namespace qat::quant {
namespace {

// Fraction of elements whose forward flags have `bit` set.
double flagged_fraction(const Quantized& r, uint8_t bit) {
  if (r.flags.empty()) return 0.0;
  const auto count = std::count_if(r.flags.begin(), r.flags.end(),
                                   [bit](uint8_t f) { return (f & bit) != 0; });
  return double(count) / double(r.flags.size());
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  if (a.shape() != b.shape())
    throw Error(std::string(what) + ": shapes " + to_string(a.shape()) + " and " +
                to_string(b.shape()) + "; expected the same shape");
}

int sign_of(float v) { return (v > 0.0f) - (v < 0.0f); }

}  // namespace

double saturated_fraction(const Quantized& r) { return flagged_fraction(r, kSaturated); }
double zero_grad_fraction(const Quantized& r) { return flagged_fraction(r, kOutside); }

double saturated_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  return saturated_fraction(quantize_forward(x, spec, binary_scale));
}

double zero_grad_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  return zero_grad_fraction(quantize_forward(x, spec, binary_scale));
}

int64_t distinct_levels(const Tensor& q) {
  // A hash set, not a sort: activations run to millions of values but few
  // levels. 0.0f + v turns -0 into +0.
  std::unordered_set<float> seen;
  const float* p = q.data();
  for (int64_t k = 0; k < q.numel(); ++k) seen.insert(0.0f + p[k]);
  return int64_t(seen.size());
}

double quantization_mse(const Tensor& x, const Tensor& q) {
  check_same_shape(x, q, "quantization_mse");
  if (x.numel() == 0) return 0.0;
  const float *px = x.data(), *pq = q.data();
  return lane_sum(x.numel(), [px, pq](int64_t k) { return (px[k] - pq[k]) * (px[k] - pq[k]); }) /
         double(x.numel());
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
