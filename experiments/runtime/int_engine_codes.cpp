// The integer part of the engine (int_engine.h): codes in, codes out.
// Only integer types and the kernels of quant/int_*.h appear in this file;
// tests/experiments/runtime/test_int_engine.cpp reads it and fails if a
// floating-point type or a Tensor does.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "experiments/runtime/int_engine.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_ops.h"
#include "quant/int_kernels/int_requant.h"

namespace qat {

int code_bytes(int64_t lo, int64_t hi) {
  if (lo >= -128 && hi <= 127) return 1;
  return lo >= -32768 && hi <= 32767 ? 2 : 4;
}

int32_t CodeTensor::code(int64_t k) const {
  return with_codes(*this, [k](const auto* c) { return int32_t(c[k]); });
}

void CodeTensor::allocate(int code_bytes) {
  bytes = code_bytes;
  const size_t n = size_t(numel());
  codes8.assign(bytes == 1 ? n : 0, 0);
  codes16.assign(bytes == 2 ? n : 0, 0);
  codes32.assign(bytes == 4 ? n : 0, 0);
}

namespace {

// The codes of t as T (t's own vector when the type matches, else a copy in
// keep). QAT_CHECK if a code does not fit T: the plan chose T from the
// formats' ranges, so that would be a bug.
template <class T>
const T* codes_as(const CodeTensor& t, std::vector<T>& keep) {
  if (t.bytes == int(sizeof(T)))
    return with_codes(t, [](const auto* c) { return reinterpret_cast<const T*>(c); });
  keep.resize(size_t(t.numel()));
  for (int64_t k = 0; k < t.numel(); ++k) {
    const int32_t c = t.code(k);
    QAT_CHECK(c >= std::numeric_limits<T>::min() && c <= std::numeric_limits<T>::max(),
              "integer engine: code ", c, " does not fit ", sizeof(T) * 8, " bits");
    keep[size_t(k)] = T(c);
  }
  return keep.data();
}

// x (N,C,H,W) -> (N,C,H/2,W/2), f unchanged
CodeTensor pool(const CodeTensor& x) {
  CodeTensor y{x.N, x.C, x.H / 2, x.W / 2, x.frac, 1, {}, {}, {}};
  y.allocate(x.bytes);
  with_codes(y, [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    std::vector<T> unused;  // same width: codes_as returns x's own codes
    quant::max_pool2x2_codes(out, codes_as<T>(x, unused), x.N * x.C, x.H, x.W);
  });
  return y;
}

// x (N,C,H,W) at f -> (N,C,2H,2W) at f + 4 in out_bytes (16x the codes)
CodeTensor upsample(const CodeTensor& x, int out_bytes) {
  CodeTensor y{x.N, x.C, 2 * x.H, 2 * x.W, x.frac + 4, 1, {}, {}, {}};
  y.allocate(x.bytes == 1 ? 2 : 4);  // 16x the codes: int8 -> int16, wider -> int32
  with_codes(x, [&](const auto* in) {
    with_codes(y, [&](auto* out) {
      // the pairs int_ops.h instantiates: (8, 16) and (16 or 32, 32) bits
      if constexpr (sizeof(*out) == (sizeof(*in) == 1 ? 2 : 4))
        quant::upsample_bilinear2x_codes(out, in, x.N * x.C, x.H, x.W);
    });
  });
  if (out_bytes == y.bytes) return y;
  CodeTensor z{y.N, y.C, y.H, y.W, y.frac, out_bytes, {}, {}, {}};
  if (out_bytes == 2)
    codes_as<int16_t>(y, z.codes16);  // a different type: always a copy into z
  else
    codes_as<int32_t>(y, z.codes32);
  return z;
}

// x (N,C,H,W) at f -> (N,C,2H,2W) at f, rounded back to x's grid g
// (requantize_upsample): the same code type as x.
CodeTensor upsample_to_grid(const CodeTensor& x, const quant::GridRounding& g) {
  CodeTensor y{x.N, x.C, 2 * x.H, 2 * x.W, x.frac, 1, {}, {}, {}};
  y.allocate(x.bytes);
  with_codes(y, [&](auto* out) {
    using T = std::remove_pointer_t<decltype(out)>;
    std::vector<T> unused;  // same width: codes_as returns x's own codes
    quant::upsample_bilinear2x_to_grid(out, codes_as<T>(x, unused), x.N * x.C, x.H, x.W, g);
  });
  return y;
}

}  // namespace

// One part of a layer's conv (IntEngine::Part) on its input, shifted left.
quant::ConvPart IntEngine::conv_part(const std::vector<const CodeTensor*>& in,
                                     const Part& part, int shift,
                                     std::vector<std::vector<int8_t>>& keep8,
                                     std::vector<std::vector<int16_t>>& keep16) {
  const CodeTensor& x = *in[part.input];
  quant::ConvPart c;
  c.C = part.channels;
  c.image_stride = x.C * x.H * x.W;
  c.shift = shift;
  const int64_t skip = part.first * x.H * x.W;  // to the part's first channel
  if (part.bytes == 1)
    c.x8 = codes_as<int8_t>(x, keep8[part.input]) + skip, c.w8 = &part.w8;
  else
    c.x16 = codes_as<int16_t>(x, keep16[part.input]) + skip, c.w16 = &part.w16;
  if (part.next_channels) {
    const CodeTensor& y = *in[part.input + 1];
    QAT_CHECK(y.C == part.next_channels && y.frac == x.frac, "integer engine: joined part");
    c.more.push_back({codes_as<int8_t>(y, keep8[part.input + 1]), y.C, y.C * y.H * y.W});
  }
  return c;
}

namespace {

// out (n) <- requantised acc (n) of one output channel: ReLU on the
// accumulator, then the output format's rounding.
template <class T>
void requantise_into(T* out, const int32_t* acc, int64_t n, const IntLayer& l,
                     const quant::Requant& r) {
  const quant::QuantSpec& a = l.activation;
  if (a.format == quant::Format::FixedTwos)
    quant::requantise_row(out, acc, n, r, l.lo, l.hi, /*relu=*/true);
  else if (a.format == quant::Format::Binary)
    quant::requantise_row_binary(out, acc, n, r, /*relu=*/true);
  else
    quant::requantise_row_sign_magnitude(out, acc, n, r, a.int_bits, a.frac_bits,
                                         a.format == quant::Format::FixedGm, /*relu=*/true);
}

}  // namespace

// in: one tensor, or [upsampled, skip] for an up-block's first conv, each
// at its own f; the conv sums their parts shifted to the layer's f_in.
// (N,C,H,W) -> (N,OC,H,W): conv (int32 accumulator), ReLU, requantise.
CodeTensor IntEngine::conv_layer(size_t i, const std::vector<const CodeTensor*>& in) {
  const IntLayer& l = model_.layers[i];
  const Plan& p = plan_[i];
  const CodeTensor& x0 = *in[0];
  QAT_CHECK(in.size() == p.input_channels.size(), "integer engine: ", l.name, " expects ",
            p.input_channels.size(), " inputs, got ", in.size());
  for (size_t k = 0; k < in.size(); ++k)
    QAT_CHECK(in[k]->C == p.input_channels[k] && in[k]->frac <= l.in_frac &&
                  in[k]->H == x0.H && in[k]->W == x0.W,
              "integer engine: ", l.name, " input ", k, " has ", in[k]->C, " channels at f=",
              in[k]->frac, ", expected ", p.input_channels[k], " at f <= ", l.in_frac);
  bool portable = p.wide;
  for (const Part& part : p.parts) portable = portable || part.bytes == 4;
  if (portable) return conv_wide(i, in, p);

  std::vector<quant::ConvPart> parts;
  std::vector<std::vector<int8_t>> keep8(in.size());
  std::vector<std::vector<int16_t>> keep16(in.size());
  for (const Part& part : p.parts)
    parts.push_back(conv_part(in, part, l.in_frac - in[part.input]->frac + l.guard, keep8,
                              keep16));
  const ConvGeometry g = ConvGeometry::same3x3(x0.N, l.in_channels, x0.H, x0.W, l.out_channels);
  CodeTensor y{x0.N, l.out_channels, x0.H, x0.W, frac_bits_of(l.activation), 1, {}, {}, {}};
  y.allocate(p.out_bytes);
  const int64_t P = g.pixels();
  if (l.activation.format == quant::Format::Int) {
    // int activations: min and max over the whole tensor first, so the
    // epilogue only keeps the accumulators (after the ReLU)
    std::vector<int32_t> all(size_t(g.N * g.OC * P));
    quant::conv2d_codes_parts(parts, l.bias_codes.data(), g,
                              [&](int32_t* acc, int64_t n, int64_t oh0, int64_t oh1) {
      const int64_t cols = (oh1 - oh0) * g.OW;
      for (int64_t oc = 0; oc < g.OC; ++oc)
        for (int64_t k = 0; k < cols; ++k)
          all[size_t((n * g.OC + oc) * P + oh0 * g.OW + k)] = std::max(acc[oc * cols + k], 0);
    });
    with_codes(y, [&](auto* out) {
      quant::requantise_min_max(out, all.data(), g.N, g.OC, P, l.requant.data(),
                                l.activation.code_bits);
    });
    seen(l.name, y);
    return y;
  }
  quant::conv2d_codes_parts(parts, l.bias_codes.data(), g,
                            [&](int32_t* acc, int64_t n, int64_t oh0, int64_t oh1) {
    const int64_t cols = (oh1 - oh0) * g.OW;
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      const int64_t at = (n * g.OC + oc) * P + oh0 * g.OW;
      const int32_t* a = acc + oc * cols;
      const quant::Requant& r = l.requant[size_t(oc)];
      with_codes(y, [&](auto* out) { requantise_into(out + at, a, cols, l, r); });
    }
  });
  seen(l.name, y);
  return y;
}

// The widened layer: int64 accumulator (portable conv), the bias and guard
// shift in int64, requantisation in 128 bits (quant/int_kernels/int_requant.h).
CodeTensor IntEngine::conv_wide(size_t i, const std::vector<const CodeTensor*>& in,
                                const Plan& p) {
  const IntLayer& l = model_.layers[i];
  const CodeTensor& x0 = *in[0];
  const int64_t P = x0.H * x0.W;
  std::vector<int64_t> acc(size_t(x0.N * l.out_channels * P), 0);
  std::vector<std::vector<int8_t>> keep8(in.size());
  std::vector<std::vector<int16_t>> keep16(in.size());
  std::vector<std::vector<int32_t>> keep32(in.size());
  for (const Part& part : p.parts) {
    const CodeTensor& x = *in[part.input];
    const int shift = l.in_frac - x.frac;  // the guard bits come below, in int64
    if (part.bytes == 4) {  // the whole input, int64 all the way
      const ConvGeometry g = ConvGeometry::same3x3(x.N, x.C, x.H, x.W, l.out_channels);
      quant::conv2d_codes_wide(acc.data(), codes_as<int32_t>(x, keep32[part.input]),
                               part.w32.data(), shift, g);
      continue;
    }
    // A group of channels whose own sum fits int32 (the plan sized it):
    // the fast GEMM, each chunk added into the int64 accumulator.
    const ConvGeometry g = ConvGeometry::same3x3(x.N, part.channels, x.H, x.W, l.out_channels);
    quant::conv2d_codes_parts(
        {conv_part(in, part, shift, keep8, keep16)}, nullptr, g,
        [&](int32_t* a, int64_t n, int64_t oh0, int64_t oh1) {
          const int64_t cols = (oh1 - oh0) * g.OW;
          for (int64_t oc = 0; oc < g.OC; ++oc) {
            int64_t* dst = acc.data() + (n * g.OC + oc) * P + oh0 * g.OW;
            for (int64_t k = 0; k < cols; ++k) dst[k] += a[oc * cols + k];
          }
        });
  }
  CodeTensor y{x0.N, l.out_channels, x0.H, x0.W, frac_bits_of(l.activation), 1, {}, {}, {}};
  y.allocate(p.out_bytes);
  for (int64_t n = 0; n < x0.N; ++n)
    for (int64_t oc = 0; oc < l.out_channels; ++oc)
      for (int64_t q = 0; q < P; ++q) {
        const int64_t k = (n * l.out_channels + oc) * P + q;
        // |acc| <= gemm_bound <= 2^53 >> guard (checked at export): no overflow
        const int64_t v = acc[size_t(k)] * (int64_t(1) << l.guard) + l.bias_codes[size_t(oc)];
        const int32_t c = requantise_code(v > 0 ? v : 0, l.requant[size_t(oc)], l.activation,
                                          l.lo, l.hi);
        with_codes(y, [&](auto* out) { out[k] = std::remove_pointer_t<decltype(out)>(c); });
      }
  seen(l.name, y);
  return y;
}

// The blocks after the first, wired as integer_layer_inputs says: a
// block's first conv reads the pooled previous output, or [upsample(x) at
// f + 4 (requantize_upsample: rounded back to x's grid at f), skip] without building the concatenation (the conv takes the two
// as parts); its second conv reads the first's output.
CodeTensor IntEngine::run_integer(const CodeTensor& x1) {
  const std::vector<IntLayerInputs> wiring = integer_layer_inputs();
  std::vector<CodeTensor> out(wiring.size());
  auto output = [&](int j) -> const CodeTensor& { return j < 0 ? x1 : out[size_t(j)]; };
  for (size_t i = 0; i < wiring.size(); ++i) {
    const IntLayerInputs& w = wiring[i];
    if (w.join == topology::Join::Pooled) {
      const CodeTensor p = pool(output(w.previous));
      out[i] = conv_layer(i, {&p});
    } else if (w.join == topology::Join::UpConcat) {
      const CodeTensor up =
          model_.requantize_upsample
              ? upsample_to_grid(output(w.previous), plan_[i].up_grid)
              : upsample(output(w.previous), plan_[i].parts[0].bytes == 4 ? 4 : 2);
      out[i] = conv_layer(i, {&up, &output(w.skip)});
    } else {
      out[i] = conv_layer(i, {&output(w.previous)});
    }
  }
  return std::move(out.back());
}

}  // namespace qat
