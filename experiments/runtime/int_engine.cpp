// The integer engine; see int_engine.h.
#include "experiments/runtime/int_engine.h"

#include <algorithm>
#include <cmath>

#include "autograd/conv_kernels.h"
#include "autograd/ops.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/quantizers/quantize.h"

namespace qat {
namespace {

// The simulation's float ops, in its order: conv -> ReLU -> BN (eval) ->
// quantizer (DownConv::forward, Conv2d::forward, BatchNorm2d::forward).
Tensor float_layer(const FloatLayer& l, const Tensor& x) {
  Tensor h = conv2d(x, l.weight, l.bias, 1, 1);
  if (!l.has_bn) return h;
  // relu then BN in one op, as DownConv does it in the simulation (bit for
  // bit the same as the two ops); it overwrites h, which nothing else reads.
  Tensor mean = l.mean.clone(), var = l.var.clone();  // eval mode leaves them alone
  h = relu_batch_norm2d(h, l.gamma, l.beta, mean, var, /*training=*/false, 0.1f, l.eps);
  if (l.activation.format != quant::Format::None) h = quant::quantize(h, l.activation);
  return h;
}

}  // namespace

// One input of a layer as it arrives: channels, code range, fraction bits.
struct IntEngine::Input {
  int64_t channels;
  quant::CodeRange range;
  int frac;
};

// Layer i's inputs, from the topology: the previous output, or for an
// up-block's first conv [upsampled previous output, skip].
std::vector<IntEngine::Input> IntEngine::inputs_of(size_t i, const IntLayerInputs& w) const {
  auto out_spec = [&](size_t j) -> const quant::QuantSpec& {  // layer j's output; -1: input
    return j == size_t(-1) ? model_.prefix[1].activation : model_.layers[j].activation;
  };
  const IntLayer& l = model_.layers[i];
  const size_t prev = size_t(w.previous);  // size_t(-1): the input codes
  if (w.join != topology::Join::UpConcat)
    return {{l.in_channels, quant::code_range(out_spec(prev)), frac_bits_of(out_spec(prev))}};
  const size_t skip = size_t(w.skip);
  const int64_t up_c = model_.layers[prev].out_channels;
  const quant::CodeRange r = quant::code_range(out_spec(prev));
  const Input up = model_.requantize_upsample  // back on prev's grid, or 16x at f + 4
                       ? Input{up_c, r, frac_bits_of(out_spec(prev))}
                       : Input{up_c, {16 * r.lo, 16 * r.hi}, frac_bits_of(out_spec(prev)) + 4};
  return {up, {l.in_channels - up_c, quant::code_range(out_spec(skip)),
               frac_bits_of(out_spec(skip))}};
}

// The parts of one input (channels [c0, c0 + in.channels) of layer l's
// weight rows), each packed for the GEMM its codes and weights fit.
void IntEngine::add_parts(Plan& p, const IntLayer& l, size_t input, const Input& in, int64_t c0) {
  const int64_t K = l.in_channels * 9;
  const quant::CodeRange wr = quant::code_range(l.weight);
  const int wb = code_bytes(wr.lo, wr.hi);
  // Aligned to the layer's f_in (the parts are shifted by at most the
  // difference), the largest |code| this input contributes.
  const int64_t a_max = std::max(-in.range.lo, in.range.hi) << (l.in_frac - in.frac);
  const int bytes = std::max(code_bytes(in.range.lo, in.range.hi), wb);
  // Channels per part: all of them when the whole sum fits int32, else as
  // many as keep one part's sum inside int32; int32 codes (the portable
  // int64 conv) when codes or weights need more than 16 bits or one channel
  // alone could overflow.
  int64_t per_part = in.channels;
  const int64_t one = 9 * a_max * quant::max_abs_code(l.weight);  // one channel's bound
  int part_bytes = bytes;
  if (l.gemm_bound > quant::kInt32Max) {
    per_part = one > quant::kInt32Max ? in.channels : quant::kInt32Max / one;
    if (one > quant::kInt32Max || bytes == 4) part_bytes = 4, per_part = in.channels;
  }
  if (bytes == 4) part_bytes = 4;
  for (int64_t first = 0; first < in.channels; first += per_part) {
    Part part;
    part.input = input;
    part.first = first;
    part.channels = std::min(per_part, in.channels - first);
    part.bytes = part_bytes;
    std::vector<int32_t> w;  // (OC, channels*9): this part's columns of each row
    for (int64_t oc = 0; oc < l.out_channels; ++oc) {
      const auto row = l.weight_codes.begin() + oc * K + (c0 + first) * 9;
      w.insert(w.end(), row, row + part.channels * 9);
    }
    if (part.bytes == 1) {
      const std::vector<int8_t> w8(w.begin(), w.end());  // fits: wb == 1
      // with the input's code range: the AVX2 byte path where it is proven exact
      part.w8 = quant::pack_a(w8.data(), l.out_channels, part.channels * 9, in.range);
    } else if (part.bytes == 2) {
      const std::vector<int16_t> w16(w.begin(), w.end());
      part.w16 = quant::pack_a(w16.data(), l.out_channels, part.channels * 9);
    } else {
      part.w32 = std::move(w);
    }
    p.parts.push_back(std::move(part));
  }
}

// An up-block's two inputs as one part when both run the byte GEMM at
// the same f (requantize_upsample): weights (OC, (C_up + C_skip)*9), the
// windows of both inputs one after the other, one pass over K. Proven
// again on the joined weights (the byte path's runs may straddle the two).
void IntEngine::merge_parts(Plan& p, const IntLayer& l, const std::vector<Input>& in) {
  if (p.wide || in.size() != 2 || p.parts.size() != 2) return;
  const Part& a = p.parts[0];
  const Part& b = p.parts[1];
  if (a.bytes != 1 || b.bytes != 1 || a.input != 0 || b.input != 1 || a.first != 0 ||
      b.first != 0 || a.channels != in[0].channels || b.channels != in[1].channels ||
      in[0].frac != in[1].frac || a.w8.byte_run == 0 || b.w8.byte_run == 0)
    return;
  const quant::CodeRange range{std::min(in[0].range.lo, in[1].range.lo),
                               std::max(in[0].range.hi, in[1].range.hi)};
  const int64_t K = l.in_channels * 9;
  const std::vector<int8_t> w8(l.weight_codes.begin(), l.weight_codes.end());  // fits: bytes 1
  Part joined;
  joined.input = 0;
  joined.channels = a.channels;
  joined.next_channels = b.channels;
  joined.w8 = quant::pack_a(w8.data(), l.out_channels, K, range);
  if (joined.w8.byte_run == 0) return;  // the joined rows are not proven: keep two
  p.parts = {};
  p.parts.push_back(std::move(joined));
}

IntEngine::IntEngine(IntModel model) : model_(std::move(model)) {
  const std::vector<std::string> names = integer_layer_names();
  const std::vector<IntLayerInputs> wiring = integer_layer_inputs();
  QAT_CHECK(model_.layers.size() == names.size(), "integer engine: ", model_.layers.size(),
            " integer layers, expected ", names.size());
  for (size_t i = 0; i < model_.layers.size(); ++i) {
    const IntLayer& l = model_.layers[i];
    Plan p;
    const quant::CodeRange out = quant::code_range(l.activation);
    p.out_bytes = code_bytes(out.lo, out.hi);
    p.wide = l.acc_bound > quant::kInt32Max;
    int64_t c0 = 0;  // the first channel of an input within the weight's rows
    if (model_.requantize_upsample && wiring[i].join == topology::Join::UpConcat) {
      const IntLayer& source = model_.layers[size_t(wiring[i].previous)];
      try {
        p.up_grid = quant::grid_rounding(source.activation);
      } catch (const Error& e) {
        throw Error("integer engine: layer " + l.name + ": requantize_upsample: its input, " +
                    source.name + "'s output upsampled, cannot be rounded back: " + e.what());
      }
    }
    const std::vector<Input> in = inputs_of(i, wiring[i]);
    for (size_t input = 0; input < in.size(); ++input) {
      p.input_channels.push_back(in[input].channels);
      add_parts(p, l, input, in[input], c0);
      c0 += in[input].channels;
    }
    merge_parts(p, l, in);
    plan_.push_back(std::move(p));
  }
}

std::vector<std::string> IntEngine::gemm_report() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < plan_.size(); ++i) {
    std::string line = model_.layers[i].name + ":";
    for (const Part& part : plan_[i].parts) {
      line += &part == &plan_[i].parts.front() ? " " : ", ";
      if (part.bytes == 4 || plan_[i].wide) line += "int64 ";
      if (part.next_channels) line += "[up, skip] ";
      if (part.bytes == 1 && part.w8.byte_run > 0)
        line += "int8 bytes (run " + std::to_string(part.w8.byte_run) + ")";
      else
        line += part.bytes == 1 ? "int8" : part.bytes == 2 ? "int16" : "int32 codes";
    }
    out.push_back(line);
  }
  return out;
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
  CodeTensor t{h.size(0), h.size(1), h.size(2), h.size(3), frac_bits_of(spec), 1, {}, {}, {}};
  const quant::CodeRange range = quant::code_range(spec);
  t.allocate(code_bytes(range.lo, range.hi));
  // The quantizer's output is code * 2^-f exactly, so times 2^f (a power of
  // two: exact) it is the code; checked once per tensor, not per element.
  const float up = std::ldexp(1.0f, t.frac);
  const float* v = h.data();
  const int64_t n = h.numel();
  int exact = 1;
  auto convert = [&](auto* out) {
#pragma omp parallel for simd reduction(& : exact)
    for (int64_t k = 0; k < n; ++k) {
      const float c = v[k] * up;
      out[k] = static_cast<std::remove_reference_t<decltype(*out)>>(c);
      exact &= int(float(out[k]) == c);
    }
  };
  with_codes(t, convert);
  QAT_CHECK(exact, "integer engine: the input quantizer (", spec.name(),
            ") gave a value that is not a code at f=", t.frac);
  seen("conv1.conv2", t);
  return t;
}

// ---- back to float

Tensor IntEngine::run_float_suffix(const CodeTensor& y) {
  NoGrad no_grad;
  Tensor v = Tensor::empty({y.N, y.C, y.H, y.W});
  const float down = std::ldexp(1.0f, -y.frac);  // exact: codes < 2^24
  float* out = v.data();
  const int64_t n = y.numel();
  auto convert = [&](const auto* codes) {
#pragma omp parallel for
    for (int64_t k = 0; k < n; ++k) out[k] = float(codes[k]) * down;
  };
  with_codes(y, convert);
  return float_layer(model_.last, v);
}

}  // namespace qat
