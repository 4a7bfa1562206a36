// From a trained model to the integer model; see int_export.h.
#include "experiments/export/int_export.h"

#include <cmath>

#include "experiments/export/export_plan.h"
#include "layers/topology/unet_topology.h"
#include "quant/int_kernels/int_bound.h"

namespace qat {

using quant::Format;
using quant::QuantSpec;

std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn,
                                          const std::vector<float>& weight_scale,
                                          int shift_bits, int out_frac) {
  std::vector<quant::Requant> out;
  for (int64_t c = 0; c < bn.weight.numel(); ++c) {
    // invstd exactly as batch_norm2d computes it in eval mode
    const float invstd = 1.0f / std::sqrt(bn.running_var.data()[c] + bn.eps);
    const float a = bn.weight.data()[c] * invstd;
    const float b = bn.bias.data()[c] - bn.running_mean.data()[c] * a;
    // a * s_c rounded to float once (exact for a power-of-two s_c)
    const float as = a * weight_scale.at(size_t(c));
    out.push_back(quant::requant_from_affine(std::ldexp(as, out_frac - shift_bits),
                                             std::ldexp(b, out_frac)));
  }
  return out;
}

std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn, int acc_frac, int out_frac) {
  return layer_requant(bn, std::vector<float>(size_t(bn.weight.numel()), 1.0f), acc_frac,
                       out_frac);
}

std::vector<int> check_integer_plan(const Model& m) {
  std::vector<int> f;
  for (const PlanEntry& e : plan_integer_layers(const_cast<Model&>(m))) f.push_back(e.in_frac);
  return f;
}

IntModel export_int_model(Model& m) {
  const std::vector<PlanEntry> entries = plan_integer_layers(m);
  IntModel im;
  im.width = m.net->options.width;
  im.in_channels = m.net->options.in_channels;
  im.requantize_upsample = m.requantize_upsample;
  auto float_layer = [&](const std::string& name, BatchNorm2d* bn) {
    const LayerQuant& l = layer_of(m, name);
    FloatLayer f;
    f.name = name;
    f.weight = used_weight(*l.conv);
    f.bias = l.conv->bias.clone();
    f.activation = l.has_activation ? l.activation : QuantSpec{};
    if (bn) {
      f.has_bn = true;
      f.gamma = bn->weight.clone(), f.beta = bn->bias.clone();
      f.mean = bn->running_mean.clone(), f.var = bn->running_var.clone();
      f.eps = bn->eps;
    }
    return f;
  };
  im.prefix = {float_layer("conv1.conv1", &m.net->block("conv1").bn1),
               float_layer("conv1.conv2", &m.net->block("conv1").bn2)};
  im.last = float_layer("conv9", nullptr);
  for (const PlanEntry& e : entries) {
    IntLayer l;
    l.name = e.name;
    l.out_channels = e.conv->weight.size(0);
    l.in_channels = e.conv->weight.size(1);
    l.in_frac = e.in_frac;
    l.weight = e.weight;
    l.activation = e.activation;
    l.guard = e.guard;
    const WeightCodes wc = weight_codes(used_weight(*e.conv), e.weight, e.name);
    l.weight_codes = wc.codes;
    l.bias_codes = bias_codes(*e.conv, wc.scale, e.in_frac + e.guard);
    int64_t max_bias = 0;
    for (int32_t b : l.bias_codes) max_bias = std::max<int64_t>(max_bias, std::abs(int64_t(b)));
    l.gemm_bound = e.gemm_bound;
    l.acc_bound = (e.gemm_bound << e.guard) + max_bias;  // < 2^54 + 2^31: no overflow
    if (e.activation.format == Format::Int && l.acc_bound > quant::kInt32Max)
      throw Error("integer export: layer " + e.name + ": with its bias codes the accumulator "
                  "bound " + std::to_string(l.acc_bound) + " exceeds int32, which int "
                  "activations (normalised over the whole tensor) need");
    l.requant = layer_requant(*e.bn, wc.scale, e.in_frac + e.guard, frac_bits_of(e.activation));
    const quant::CodeRange r = quant::code_range(e.activation);
    l.lo = int32_t(r.lo), l.hi = int32_t(r.hi);
    im.layers.push_back(std::move(l));
  }
  return im;
}

}  // namespace qat
