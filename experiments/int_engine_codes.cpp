// The integer part of the engine (int_engine.h): codes in, codes out.
// Only integer types and the kernels of quant/int_*.h appear in this file;
// tests/experiments/test_int_engine.cpp reads it and fails if a
// floating-point type or a Tensor does.
#include <limits>

#include "experiments/int_engine.h"
#include "quant/int_bound.h"
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

template <class To, class From>
std::vector<To> narrow(const std::vector<From>& v, const char* what) {
  std::vector<To> out(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    QAT_CHECK(v[k] >= std::numeric_limits<To>::min() && v[k] <= std::numeric_limits<To>::max(),
              "integer engine: ", what, " code ", v[k], " does not fit ", sizeof(To) * 8, " bits");
    out[k] = To(v[k]);
  }
  return out;
}

}  // namespace

// x (N,C,H,W) -> (N,OC,H,W): conv (int8 or int16 codes, int32 accumulator),
// ReLU on the accumulator, requantise per channel.
CodeTensor IntEngine::conv_layer(size_t i, const CodeTensor& x) {
  const IntLayer& l = model_.layers[i];
  QAT_CHECK(x.C == l.in_channels && x.frac == l.in_frac, "integer engine: ", l.name,
            " expects ", l.in_channels, " channels at f=", l.in_frac, ", got ", x.C,
            " at f=", x.frac);
  const ConvGeometry g{x.N, x.C, x.H, x.W, l.out_channels, 3, 3, x.H, x.W, 1, 1};
  std::vector<int32_t> acc(size_t(g.N * g.OC * g.pixels()));
  if (packed_[i].int8)
    quant::conv2d_codes(acc.data(), narrow<int8_t>(x.codes, l.name.c_str()).data(),
                        packed_[i].w8, l.bias_codes.data(), g);
  else
    quant::conv2d_codes(acc.data(), x.codes.data(), packed_[i].w16, l.bias_codes.data(), g);
  return requantise_layer(i, acc, x.N, x.H, x.W);
}

// acc (N,OC,H,W) -> codes: ReLU on the accumulator, requantise per channel.
CodeTensor IntEngine::requantise_layer(size_t i, std::vector<int32_t>& acc, int64_t N,
                                       int64_t H, int64_t W) {
  const IntLayer& l = model_.layers[i];
  quant::relu_codes(acc.data(), int64_t(acc.size()));
  CodeTensor y{N, l.out_channels, H, W, l.activation.frac_bits, {}};
  y.codes.resize(acc.size());
  if (l.activation.format == quant::Format::FixedTwos)
    quant::requantise_channels(y.codes.data(), acc.data(), N, l.out_channels, H * W,
                               l.requant.data(), l.lo, l.hi);
  else
    quant::requantise_channels_sign_magnitude(
        y.codes.data(), acc.data(), N, l.out_channels, H * W, l.requant.data(),
        l.activation.int_bits, l.activation.frac_bits,
        l.activation.format == quant::Format::FixedGm);
  seen(l.name, y);
  return y;
}

// [upsample(x), skip] (N, Cx+Cs, 2H, 2W) at max(f_x + 4, f_skip), then the
// block's two convs (layers i and i+1).
CodeTensor IntEngine::up_block(size_t i, const CodeTensor& x, const CodeTensor& skip) {
  const int64_t H = 2 * x.H, W = 2 * x.W, P = H * W;
  // |out| <= 16 |in|: byte codes upsample straight to int16, wider ones
  // (sign-magnitude +-256) through int32.
  const quant::CodeRange r = quant::code_range(model_.layers[i - 1].activation);
  std::vector<int16_t> up16(size_t(x.N * x.C * P));
  if (r.lo >= -128 && r.hi <= 127) {
    quant::upsample_bilinear2x_codes(up16.data(), narrow<int8_t>(x.codes, "bottom").data(),
                                     x.N * x.C, x.H, x.W);
  } else {
    std::vector<int32_t> up(up16.size());
    quant::upsample_bilinear2x_codes(up.data(), x.codes.data(), x.N * x.C, x.H, x.W);
    up16 = narrow<int16_t>(up, "upsampled");
  }
  const Packed& p = packed_[i];
  if (p.split) {
    // conv([up, skip]) = conv(up, w_up) * 2^(f - fu) + conv(skip, w_skip) *
    // 2^(f - fs) at the concat's f = max(fu, fs); the bias once. The sum is
    // the same integer the single conv gives, so within the layer's bound.
    const IntLayer& l = model_.layers[i];
    QAT_CHECK(p.up_channels == x.C, "integer engine: ", l.name, " expects ", p.up_channels,
              " upsampled channels, got ", x.C);
    const int fu = x.frac + 4, f = fu > skip.frac ? fu : skip.frac;
    QAT_CHECK(f == l.in_frac, "integer engine: ", l.name, " expects f=", l.in_frac,
              ", the concat gives f=", f);
    const ConvGeometry gu{x.N, x.C, H, W, l.out_channels, 3, 3, H, W, 1, 1};
    const ConvGeometry gs{x.N, skip.C, H, W, l.out_channels, 3, 3, H, W, 1, 1};
    std::vector<int32_t> acc(size_t(x.N * l.out_channels * P)), acc_skip(acc.size());
    quant::conv2d_codes(acc.data(), up16.data(), p.w_up, l.bias_codes.data(), gu);
    quant::conv2d_codes(acc_skip.data(), narrow<int8_t>(skip.codes, "skip").data(), p.w_skip,
                        nullptr, gs);
    const int su = f - fu, ss = f - skip.frac;
    for (size_t k = 0; k < acc.size(); ++k)  // mod 2^32, as the GEMM
      acc[k] = int32_t((uint32_t(acc[k]) << su) + (uint32_t(acc_skip[k]) << ss));
    return conv_layer(i + 1, requantise_layer(i, acc, x.N, H, W));
  }
  CodeTensor cat{x.N, x.C + skip.C, H, W, 0, std::vector<int16_t>(size_t(x.N * (x.C + skip.C) * P))};
  cat.frac = quant::concat_codes(cat.codes.data(), up16.data(), x.C, x.frac + 4,
                                 skip.codes.data(), skip.C, skip.frac, x.N, P);
  return conv_layer(i + 1, conv_layer(i, cat));
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
