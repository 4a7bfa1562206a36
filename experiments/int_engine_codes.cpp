// The integer part of the engine (int_engine.h): codes in, codes out.
// Only integer types and the kernels of quant/int_*.h appear in this file;
// tests/experiments/test_int_engine.cpp reads it and fails if a
// floating-point type or a Tensor does.
#include "experiments/int_engine.h"
#include "quant/int_conv.h"
#include "quant/int_ops.h"
#include "quant/int_requant.h"

namespace qat {
namespace {

// x (N,C,H,W) -> (N,C,H/2,W/2), f unchanged
CodeTensor pool(const CodeTensor& x) {
  CodeTensor y{x.N, x.C, x.H / 2, x.W / 2, x.frac, {}};
  y.codes.resize(size_t(y.N * y.C * y.H * y.W));
  quant::max_pool2x2_codes(y.codes.data(), x.codes.data(), x.N * x.C, x.H, x.W);
  return y;
}

}  // namespace

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

}  // namespace qat
