// The integer engine; see int_engine.h.
#include "experiments/int_engine.h"

#include <cmath>

#include "autograd/conv_kernels.h"
#include "autograd/ops.h"
#include "layers/layers.h"
#include "quant/int_conv.h"
#include "quant/int_ops.h"
#include "quant/int_requant.h"
#include "quant/quantize.h"

namespace qat {
namespace {

template <class T>
std::vector<T> widen(const std::vector<int32_t>& v) {
  return std::vector<T>(v.begin(), v.end());  // codes checked to fit at export
}

// The simulation's float ops, in its order: conv -> ReLU -> BN (eval) ->
// quantizer (DownConv::forward, Conv2d::forward, BatchNorm2d::forward).
Tensor float_layer(const FloatLayer& l, const Tensor& x) {
  Tensor h = conv2d(x, l.weight, l.bias, 1, 1);
  if (!l.has_bn) return h;
  h = activate(h, Activation::ReLU, 3.0f);
  Tensor mean = l.mean.clone(), var = l.var.clone();  // eval mode leaves them alone
  h = batch_norm2d(h, l.gamma, l.beta, mean, var, /*training=*/false, 0.1f, l.eps);
  if (l.activation.format != quant::Format::None) h = quant::quantize(h, l.activation);
  return h;
}

}  // namespace

IntEngine::IntEngine(IntModel model) : model_(std::move(model)) {
  for (size_t i = 0; i < model_.layers.size(); ++i) {
    const IntLayer& l = model_.layers[i];
    Packed p;
    // The up-blocks' first conv reads [upsampled, skip] at f + 4: int16.
    p.wide = l.name.rfind("up", 0) == 0 && l.name.back() == '1';
    const int64_t K = l.in_channels * 9;
    if (p.wide)
      p.w16 = quant::pack_a(widen<int16_t>(l.weight_codes).data(), l.out_channels, K);
    else
      p.w8 = quant::pack_a(widen<int8_t>(l.weight_codes).data(), l.out_channels, K);
    packed_.push_back(std::move(p));
  }
}

Tensor IntEngine::logits(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != model_.in_channels || x.size(2) % 8 || x.size(3) % 8)
    throw Error("integer engine: input must be (N," + std::to_string(model_.in_channels) +
                ",H,W) with H and W divisible by 8 (three 2x2 poolings), got " +
                to_string(x.shape()));
  return run_float_suffix(run_integer(run_float_prefix(x)));
}

CodeTensor IntEngine::run_float_prefix(const Tensor& x) {
  NoGrad no_grad;
  const Tensor h = float_layer(model_.prefix[1], float_layer(model_.prefix[0], x));
  const quant::QuantSpec& spec = model_.prefix[1].activation;
  CodeTensor t{h.size(0), h.size(1), h.size(2), h.size(3), spec.frac_bits, {}};
  t.codes.resize(size_t(h.numel()));
  for (int64_t k = 0; k < h.numel(); ++k) {
    // The quantizer's output is code * 2^-f exactly: the code is exact.
    const float c = std::ldexp(h.data()[k], spec.frac_bits);
    QAT_CHECK(c == std::nearbyint(c) && c >= -128 && c <= 127,
              "integer engine: input quantizer gave ", h.data()[k], ", not an int8 code at f=",
              spec.frac_bits);
    t.codes[size_t(k)] = int8_t(c);
  }
  seen("conv1.conv2", t);
  return t;
}

// ---- the integer part: codes in, codes out

// x (N,C,H,W) int8 -> (N,OC,H,W) int8: conv, ReLU on the accumulator,
// requantise per channel.
CodeTensor IntEngine::conv_layer(size_t i, const CodeTensor& x) {
  const IntLayer& l = model_.layers[i];
  QAT_CHECK(x.C == l.in_channels && x.frac == l.in_frac, "integer engine: ", l.name,
            " expects ", l.in_channels, " channels at f=", l.in_frac, ", got ", x.C,
            " at f=", x.frac);
  const ConvGeometry g{x.N, x.C, x.H, x.W, l.out_channels, 3, 3, x.H, x.W, 1, 1};
  std::vector<int32_t> acc(size_t(g.N * g.OC * g.pixels()));
  quant::conv2d_codes(acc.data(), x.codes.data(), packed_[i].w8, l.bias_codes.data(), g);
  quant::relu_codes(acc.data(), int64_t(acc.size()));
  CodeTensor y{x.N, l.out_channels, x.H, x.W, l.activation.frac_bits, {}};
  y.codes.resize(acc.size());
  quant::requantise_channels(y.codes.data(), acc.data(), g.N, g.OC, g.pixels(),
                             l.requant.data(), l.lo, l.hi);
  seen(l.name, y);
  return y;
}

CodeTensor IntEngine::conv_layer_wide(size_t i, const std::vector<int16_t>& x, int64_t N,
                                      int64_t C, int64_t H, int64_t W) {
  const IntLayer& l = model_.layers[i];
  QAT_CHECK(C == l.in_channels, "integer engine: ", l.name, " expects ", l.in_channels,
            " channels, got ", C);
  const ConvGeometry g{N, C, H, W, l.out_channels, 3, 3, H, W, 1, 1};
  std::vector<int32_t> acc(size_t(g.N * g.OC * g.pixels()));
  quant::conv2d_codes(acc.data(), x.data(), packed_[i].w16, l.bias_codes.data(), g);
  quant::relu_codes(acc.data(), int64_t(acc.size()));
  CodeTensor y{N, l.out_channels, H, W, l.activation.frac_bits, {}};
  y.codes.resize(acc.size());
  quant::requantise_channels(y.codes.data(), acc.data(), g.N, g.OC, g.pixels(),
                             l.requant.data(), l.lo, l.hi);
  seen(l.name, y);
  return y;
}

// x (N,C,H,W) -> (N,C,H/2,W/2), f unchanged
static CodeTensor pool(const CodeTensor& x) {
  CodeTensor y{x.N, x.C, x.H / 2, x.W / 2, x.frac, {}};
  y.codes.resize(size_t(y.N * y.C * y.H * y.W));
  quant::max_pool2x2_codes(y.codes.data(), x.codes.data(), x.N * x.C, x.H, x.W);
  return y;
}

// [upsample(x), skip] (N, Cx+Cs, 2H, 2W) int16 at max(f_x + 4, f_skip),
// then the block's two convs (layers i and i+1).
CodeTensor IntEngine::up_block(size_t i, const CodeTensor& x, const CodeTensor& skip) {
  const int64_t H = 2 * x.H, W = 2 * x.W, P = H * W;
  std::vector<int16_t> up(size_t(x.N * x.C * P));
  quant::upsample_bilinear2x_codes(up.data(), x.codes.data(), x.N * x.C, x.H, x.W);
  std::vector<int16_t> cat(size_t(x.N * (x.C + skip.C) * P));
  const int f = quant::concat_codes(cat.data(), up.data(), x.C, x.frac + 4, skip.codes.data(),
                                    skip.C, skip.frac, x.N, P);
  QAT_CHECK(f == model_.layers[i].in_frac, "integer engine: ", model_.layers[i].name,
            " expects its input at f=", model_.layers[i].in_frac, ", the concat gives f=", f);
  return conv_layer(i + 1, conv_layer_wide(i, cat, x.N, x.C + skip.C, H, W));
}

CodeTensor IntEngine::run_integer(const CodeTensor& x1) {
  const CodeTensor x2 = conv_layer(1, conv_layer(0, pool(x1)));
  const CodeTensor x3 = conv_layer(3, conv_layer(2, pool(x2)));
  const CodeTensor x4 = conv_layer(5, conv_layer(4, pool(x3)));
  CodeTensor y = up_block(6, x4, x3);
  y = up_block(8, y, x2);
  return up_block(10, y, x1);
}

// ---- back to float

Tensor IntEngine::run_float_suffix(const CodeTensor& y) {
  NoGrad no_grad;
  Tensor v = Tensor::empty({y.N, y.C, y.H, y.W});
  for (size_t k = 0; k < y.codes.size(); ++k) v.data()[k] = std::ldexp(float(y.codes[k]), -y.frac);
  return float_layer(model_.last, v);
}

}  // namespace qat
