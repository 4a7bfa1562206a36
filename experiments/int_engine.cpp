// The integer engine; see int_engine.h.
#include "experiments/int_engine.h"

#include <cmath>

#include "autograd/conv_kernels.h"
#include "autograd/ops.h"
#include "layers/layers.h"
#include "quant/int_bound.h"
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
  auto fits_int8 = [](const quant::QuantSpec& s) {
    const quant::CodeRange r = quant::code_range(s);
    return r.lo >= -128 && r.hi <= 127;
  };
  for (size_t i = 0; i < model_.layers.size(); ++i) {
    const IntLayer& l = model_.layers[i];
    // The up-blocks' first conv reads [upsampled, skip] at f + 4: int16.
    // Every other layer reads the previous layer's output.
    const bool concat = l.name.rfind("up", 0) == 0 && l.name.back() == '1';
    const quant::QuantSpec& in = i == 0 ? model_.prefix[1].activation : model_.layers[i - 1].activation;
    Packed p;
    p.int8 = !concat && fits_int8(in) && fits_int8(l.weight);
    const int64_t K = l.in_channels * 9;
    if (p.int8)
      p.w8 = quant::pack_a(widen<int8_t>(l.weight_codes).data(), l.out_channels, K);
    else
      p.w16 = quant::pack_a(widen<int16_t>(l.weight_codes).data(), l.out_channels, K);
    const quant::QuantSpec& skip = i == 6 ? model_.layers[3].activation
                                   : i == 8 ? model_.layers[1].activation
                                            : model_.prefix[1].activation;
    if (concat && fits_int8(skip) && fits_int8(l.weight)) {
      p.split = true;
      p.up_channels = model_.layers[i - 1].out_channels;
      const int64_t ku = p.up_channels * 9, ks = K - ku;
      std::vector<int16_t> wu;
      std::vector<int8_t> ws;
      for (int64_t oc = 0; oc < l.out_channels; ++oc) {  // rows (OC, C*9): [up | skip]
        const auto row = l.weight_codes.begin() + oc * K;
        wu.insert(wu.end(), row, row + ku);
        ws.insert(ws.end(), row + ku, row + K);
      }
      p.w_up = quant::pack_a(wu.data(), l.out_channels, ku);
      p.w_skip = quant::pack_a(ws.data(), l.out_channels, ks);
    }
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
    QAT_CHECK(c == std::nearbyint(c) && std::abs(c) <= 256,
              "integer engine: input quantizer gave ", h.data()[k], ", not a code at f=",
              spec.frac_bits);
    t.codes[size_t(k)] = int16_t(c);
  }
  seen("conv1.conv2", t);
  return t;
}

// ---- back to float

Tensor IntEngine::run_float_suffix(const CodeTensor& y) {
  NoGrad no_grad;
  Tensor v = Tensor::empty({y.N, y.C, y.H, y.W});
  for (size_t k = 0; k < y.codes.size(); ++k) v.data()[k] = std::ldexp(float(y.codes[k]), -y.frac);
  return float_layer(model_.last, v);
}

}  // namespace qat
