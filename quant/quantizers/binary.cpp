// BNN: binarisation, q = H * sign(x).
//
// ## Forward
//   q = +H if x >= 0, -H if x < 0
// H is BinaryConnect's scale for weights (sqrt(1.5 / (fan_in + fan_out)),
// the Glorot bound) and 1 for activations; the caller passes it.
// sign(0) = +1 here, where torch.sign (the released code) gives 0: a binary
// value has one bit, and 0 would be a third level that no bit stores (and a
// weight stuck at exactly 0 would drop out of the product). The two differ
// only on exact zeros (-0.0 counts as zero, so it maps to +H too).
//
// ## Backward (straight-through, BinaryNet's hard tanh)
// Identity: dx = dq. Clipped (the default, as the released code): dx = dq
// where |x| <= 1, 0 where |x| > 1: the bound is 1 whatever H is. Inputs
// with |x| > 1 are also what the telemetry counts as saturated (BinaryConnect
// clips weights to [-1, 1]).
//
// ## Levels
// {-H, +H}.
#include <cmath>

#include "quant/quantizers/quantize.h"

namespace qat::quant {

// x (any) -> q (same)
Quantized binary_forward(const Tensor& x, float scale) {
  const int64_t n = x.numel();
  Quantized r{Tensor::empty(x.shape()), std::vector<uint8_t>(size_t(n), 0)};
  const float* px = x.data();
  float* q = r.q.data();
  uint8_t* flags = r.flags.data();
#pragma omp parallel for if (n > 65536)
  for (int64_t k = 0; k < n; ++k) {
    q[k] = px[k] >= 0.0f ? scale : -scale;
    flags[k] = std::fabs(px[k]) > 1.0f ? (kSaturated | kOutside) : 0;
  }
  return r;
}

float binary_naive(float x, float scale) {
  const float sign = (x > 0 || x == 0) ? 1.0f : -1.0f;
  return sign * scale;
}

}  // namespace qat::quant
