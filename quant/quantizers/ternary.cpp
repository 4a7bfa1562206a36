// Ternary weights (TWN, Li & Liu, arXiv 1605.04711), per output channel.
//
// ## Forward, for each output channel c of w (OC, C, KH, KW)
//   delta_c = 0.7 * mean(|w_c|)                     (the TWN threshold)
//   alpha_c = mean(|w_c| over |w_c| > delta_c)      (the L2-optimal scale)
//   q = +alpha_c if w > delta_c, -alpha_c if w < -delta_c, 0 otherwise
// Any tensor with dim >= 1 works: dim 0 is the channel, the rest one row.
// Ternary is meant for weights; on an activation (N, ...) dim 0 would be
// the sample.
//
// An all-zero channel has delta = 0 and no |w| > 0, so alpha would be
// 0 / 0 (NaN in the released code); we take alpha = 0 and the channel stays
// 0. Any other channel has at least one |w| > 0.7 * mean, so its alpha is
// defined.
//
// Sums are accumulated in double, channel by channel in index order, then
// rounded to float; torch sums float32 in its own order, so alpha may
// differ from the released code's in the last bits.
//
// ## Backward (straight-through)
// Identity (the default, as TWN and the released code): dx = dq.
// Clipped: dx = 0 where |w| > alpha_c, the inputs beyond the largest level
// of their channel. The telemetry counts the same elements as saturated.
//
// ## Levels
// {-alpha_c, 0, +alpha_c} per channel: levels() returns {-1, 0, 1} (in
// units of alpha) and ternary_alphas() the alpha_c.
#include <cmath>

#include "autograd/check.h"
#include "quant/quantizers/quantize.h"

namespace qat::quant {
namespace {

constexpr float kDeltaFactor = 0.7f;  // TWN's threshold, times mean|w|

struct Channel {
  float delta, alpha;
};

// One channel's threshold and scale from its `row` values at w.
Channel channel_stats(const float* w, int64_t row) {
  double sum_abs = 0.0;
  for (int64_t k = 0; k < row; ++k) sum_abs += std::fabs(w[k]);
  const float delta = kDeltaFactor * float(sum_abs / double(row));
  double sum_big = 0.0;
  int64_t count_big = 0;
  for (int64_t k = 0; k < row; ++k)
    if (std::fabs(w[k]) > delta) {
      sum_big += std::fabs(w[k]);
      ++count_big;
    }
  return {delta, count_big > 0 ? float(sum_big / double(count_big)) : 0.0f};
}

void check_shape(const Tensor& w) {
  if (w.dim() < 1 || w.numel() == 0)
    throw Error("ternary quantizer: weight of shape " + to_string(w.shape()) +
                "; expected a non-empty tensor with dim 0 the output channel");
}

}  // namespace

// w (OC, ...) -> q (same)
Quantized ternary_forward(const Tensor& w) {
  check_shape(w);
  const int64_t oc = w.size(0), row = w.numel() / oc;
  Quantized r{Tensor::empty(w.shape()), std::vector<uint8_t>(size_t(w.numel()), 0)};
#pragma omp parallel for if (w.numel() > 65536)
  for (int64_t c = 0; c < oc; ++c) {
    const float* pw = w.data() + c * row;
    float* q = r.q.data() + c * row;
    uint8_t* flags = r.flags.data() + c * row;
    const Channel s = channel_stats(pw, row);
    for (int64_t k = 0; k < row; ++k) {
      q[k] = pw[k] > s.delta ? s.alpha : (pw[k] < -s.delta ? -s.alpha : 0.0f);
      flags[k] = std::fabs(pw[k]) > s.alpha ? (kSaturated | kOutside) : 0;
    }
  }
  return r;
}

std::vector<float> ternary_alphas(const Tensor& w) {
  check_shape(w);
  const int64_t oc = w.size(0), row = w.numel() / oc;
  std::vector<float> alphas;
  for (int64_t c = 0; c < oc; ++c) alphas.push_back(channel_stats(w.data() + c * row, row).alpha);
  return alphas;
}

// TWN's three steps written out per channel, over a plain vector.
std::vector<float> ternary_naive(const std::vector<float>& w, int64_t oc, int64_t row) {
  std::vector<float> out(w.size());
  for (int64_t c = 0; c < oc; ++c) {
    double total = 0.0;
    for (int64_t k = 0; k < row; ++k) total += std::abs(w[size_t(c * row + k)]);
    const float delta = 0.7f * float(total / double(row));
    double above = 0.0;
    int64_t n_above = 0;
    for (int64_t k = 0; k < row; ++k) {
      const float a = std::abs(w[size_t(c * row + k)]);
      if (a > delta) {
        above += a;
        n_above += 1;
      }
    }
    const float alpha = n_above == 0 ? 0.0f : float(above / double(n_above));
    for (int64_t k = 0; k < row; ++k) {
      const float v = w[size_t(c * row + k)];
      float t = 0.0f;
      if (v > delta) t = 1.0f;
      if (v < -delta) t = -1.0f;
      out[size_t(c * row + k)] = t * alpha;
    }
  }
  return out;
}

}  // namespace qat::quant
