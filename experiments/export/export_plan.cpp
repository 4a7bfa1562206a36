// The integer layers of a trained model, checked; see export_plan.h.
#include "experiments/export/export_plan.h"

#include <cmath>

#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_conv.h"

namespace qat {
namespace {

using quant::Format;
using quant::QuantSpec;

bool fixed_grid(const QuantSpec& s) {
  return s.format == Format::FixedTwos || s.format == Format::Fixed || s.format == Format::FixedGm;
}

// Codes up to 2^20: the decoder's upsampled inputs (16x, then a shift to
// the skip's fraction) stay inside int32 codes, and every accumulator
// inside the double-precision eval path's 2^53 (checked per layer below).
constexpr int64_t kMaxCode = int64_t(1) << 20;

// Why the engine cannot run s as a weight (weight) or activation format,
// or "" if it can.
std::string refusal(const QuantSpec& s, bool weight) {
  if (s.format == Format::None)
    return std::string("it is not quantized (float ") + (weight ? "weights" : "activations") +
           "): the integer part needs codes on every layer";
  if (s.format == Format::FixedPow2)
    return "its format is " + s.name() + ": nearest powers of two with no lower end have no "
           "common integer grid (2^-k for every k), so there is no code";
  if (fixed_grid(s) || s.format == Format::Binary || s.format == Format::Int ||
      (weight && s.format == Format::Ternary))
    return quant::max_abs_code(s) <= kMaxCode
               ? ""
               : s.name() + " has codes up to " + std::to_string(quant::max_abs_code(s)) +
                     ", the engine's codes are at most 2^20";
  return "ternary activations: TWN thresholds each sample at 0.7 * its own mean |y| and "
         "scales it by the mean of the |y| above (quant/quantizers/ternary.cpp): the next layer's input "
         "scale would be a float computed from the data at run time; the engine runs "
         "ternary weights only";
}

// Guard bits for a weight scale that is not a power of two: the bias is
// rounded to 2^-g of the accumulator's unit instead of to the unit (the
// sum of +-1 codes), which would throw away most of a small bias.
int guard_bits(const QuantSpec& w) {
  return w.format == Format::Binary || w.format == Format::Ternary ? 8 : 0;
}

void refuse_float_only(const Model& m) {
  for (const LayerQuant& l : m.layers)
    if (l.weight.format != Format::None ||
        (l.has_activation && l.activation.format != Format::None))
      return;
  throw Error("integer export: the model has no quantizer (a float-only run): there are "
              "no integer codes to export; train with e.g. quantization: fixed_twos");
}

// Layer name's conv, BatchNorm and formats, refused if the engine cannot run them.
PlanEntry entry_of(Model& m, const std::string& name) {
  const LayerQuant& l = layer_of(m, name);
  PlanEntry e;
  e.name = name;
  e.conv = l.conv;
  e.weight = l.weight;
  e.activation = l.activation;
  const size_t dot = name.rfind('.');
  e.second = name.substr(dot) == ".conv2";
  e.block = &m.net->block(name.substr(0, dot));
  e.bn = e.second ? &e.block->bn2 : &e.block->bn1;
  if (const std::string why = refusal(l.weight, true); !why.empty())
    throw Error("integer export: layer " + name + ": weights: " + why);
  if (const std::string why = refusal(l.activation, false); !why.empty())
    throw Error("integer export: layer " + name + ": activations: " + why);
  if (e.block->act != Activation::ReLU)
    throw Error("integer export: layer " + name +
                ": activation function is not ReLU; the engine applies ReLU to the "
                "accumulator and has no integer tanh");
  return e;
}

// f_in and the largest |input code| of e, whose input is p (or, for an
// up-block's first conv, [upsample(p) at f+4, skip s] at the larger
// fraction: int_ops.h; with requantize_upsample the upsampled part is back
// on p's grid, at p's f with p's codes).
void set_input_range(PlanEntry& e, const QuantSpec& p, const QuantSpec* s, bool requantized) {
  if (!s) {
    e.in_frac = frac_bits_of(p);
    e.max_abs_in = quant::max_abs_code(p);
    return;
  }
  const int fp = frac_bits_of(p) + (requantized ? 0 : 4), fs = frac_bits_of(*s);
  const int64_t up_max = (requantized ? 1 : 16) * quant::max_abs_code(p);
  e.in_frac = std::max(fp, fs);
  e.max_abs_in = std::max(up_max << (e.in_frac - fp),
                          quant::max_abs_code(*s) << (e.in_frac - fs));
  if (e.max_abs_in > (int64_t(1) << 30))
    throw Error("integer export: layer " + e.name + ": its input codes reach " +
                std::to_string(e.max_abs_in) + ", beyond the engine's int32 codes");
}

void set_bounds(PlanEntry& e) {
  const int64_t K = e.conv->weight.size(1) * 9;
  e.guard = guard_bits(e.weight);
  e.gemm_bound = quant::accumulator_bound(K, e.max_abs_in, quant::max_abs_code(e.weight));
  // The eval-mode path computes the sum in double: exact below 2^53.
  if (e.gemm_bound > (int64_t(1) << 53) >> e.guard)
    throw Error("integer export: layer " + e.name + ": K=" + std::to_string(K) +
                " inputs up to " + std::to_string(e.max_abs_in) + " times weights up to " +
                std::to_string(quant::max_abs_code(e.weight)) + " reach " +
                std::to_string(e.gemm_bound) + " (shifted " + std::to_string(e.guard) +
                " bits): beyond 2^53, where neither the int64 accumulator's requantisation "
                "nor the double-precision simulation it is checked against stays exact");
  if (e.activation.format == Format::Int && (e.gemm_bound << e.guard) > quant::kInt32Max)
    throw Error("integer export: layer " + e.name + ": int activations are normalised over "
                "the whole tensor from the int32 accumulators, and this layer's bound " +
                std::to_string(e.gemm_bound << e.guard) + " exceeds int32");
}

}  // namespace

const LayerQuant& layer_of(const Model& m, const std::string& name) {
  for (const LayerQuant& l : m.layers)
    if (l.name == name) return l;
  throw Error("integer model: the model has no layer '" + name + "'");
}

std::vector<PlanEntry> plan_integer_layers(Model& m) {
  refuse_float_only(m);
  const std::string input_name = topology::conv_name(topology::kBlocks.front(), 2);
  const QuantSpec input = layer_of(m, input_name).activation;
  if (const std::string why = refusal(input, false); !why.empty())
    throw Error("integer export: layer " + input_name +
                " (the input quantizer of the integer part): " + why);
  const std::vector<std::string> names = integer_layer_names();
  const std::vector<IntLayerInputs> inputs = integer_layer_inputs();
  std::vector<PlanEntry> entries;
  auto format_of = [&](int j) -> const QuantSpec& { return j < 0 ? input : entries[size_t(j)].activation; };
  for (size_t i = 0; i < names.size(); ++i) {
    PlanEntry e = entry_of(m, names[i]);
    const IntLayerInputs& in = inputs[i];
    set_input_range(e, format_of(in.previous),
                    in.join == topology::Join::UpConcat ? &format_of(in.skip) : nullptr,
                    m.requantize_upsample);
    set_bounds(e);
    entries.push_back(e);
  }
  return entries;
}

WeightCodes weight_codes(const Tensor& w, const QuantSpec& spec, const std::string& what) {
  const int64_t OC = w.size(0), row = w.numel() / OC;
  WeightCodes out;
  for (int64_t c = 0; c < OC; ++c) {
    const float* q = w.data() + c * row;
    float s = std::ldexp(1.0f, -frac_bits_of(spec));
    if (spec.format == Format::Binary || spec.format == Format::Ternary) {
      s = 0.0f;
      for (int64_t k = 0; k < row; ++k) s = std::max(s, std::fabs(q[k]));
      if (s == 0.0f) s = 1.0f;  // an all-zero ternary channel: codes 0
    }
    out.scale.push_back(s);
    for (int64_t k = 0; k < row; ++k) {
      const double code = double(q[k]) / double(s);
      if (code != std::nearbyint(code) || std::fabs(code) > double(kMaxCode))
        throw Error(detail::concat(what, ": weight ", q[k], " of channel ", c,
                                   " is not an integer multiple of the channel's scale ", s,
                                   " (expected a quantized ", spec.name(), " weight)"));
      out.codes.push_back(int32_t(code));
    }
  }
  return out;
}

Tensor used_weight(const Conv2d& conv) {
  NoGrad no_grad;
  return (conv.weight_quant ? conv.weight_quant(conv.weight) : conv.weight).clone();
}

std::vector<int32_t> bias_codes(const Conv2d& conv, const std::vector<float>& scale, int shift_bits) {
  std::vector<int32_t> out;
  for (int64_t c = 0; c < conv.bias.numel(); ++c)
    out.push_back(quant::bias_code_scaled(conv.bias.data()[c], scale[size_t(c)], shift_bits));
  return out;
}


}  // namespace qat
