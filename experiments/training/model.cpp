#include "experiments/training/model.h"

#include <algorithm>
#include <set>

#include "experiments/training/telemetry.h"
#include "layers/topology/unet_topology.h"
#include "quant/quantizers/quantize.h"

namespace qat {

UNetOptions unet_options(const Config& c) {
  UNetOptions o;
  o.width = c.width;
  o.activation = parse_activation(c.activation);
  o.dropout = c.dropout ? c.dropout_rate : 0.0f;
  // "paper" draws again per layer once the plan is known (paper_init below).
  o.init = c.init_type == "binaryconnect" ? Init::BinaryConnect : Init::Glorot;
  o.seed = c.seed;
  return o;
}

quant::QuantSpec to_spec(const QuantChoice& q, const std::string& ste) {
  const quant::Format f = quant::parse_format(q.format);
  const int i = q.format == "int" ? q.bits : q.int_bits;
  const int frac = q.format == "int" ? 0 : q.frac_bits;
  const quant::Ste s = ste == "identity"  ? quant::Ste::Identity
                       : ste == "clipped" ? quant::Ste::Clipped
                                          : quant::default_ste(f);
  return quant::make_spec(f, i, frac, s);
}

namespace {

// The paper's `quantization` key with its widths, for weights or activations.
// BNN binarises both; Ternary (TWN) ternarises weights and leaves
// activations to the ternary tanh; INT takes n = the integer width.
QuantChoice paper_choice(const Config& c, bool weights) {
  QuantChoice q;
  const std::string& k = c.quantization;
  const int i = weights ? c.weight_i_width : c.activation_i_width;
  const int f = weights ? c.weight_f_width : c.activation_f_width;
  if (k == "Normal" || k == "none") return q;
  if (k == "BNN" || k == "binary") { q.format = "binary"; return q; }
  if (k == "Ternary" || k == "ternary") {
    if (weights) q.format = "ternary";
    return q;
  }
  if (k == "INT" || k == "int") {
    q.format = "int";
    q.bits = i + f;
    return q;
  }
  q.format = k == "FIXED" ? "fixed" : k;  // fixed, fixed_gm, fixed_pow2, fixed_twos
  q.int_bits = i;
  q.frac_bits = f;
  return q;
}

// The released code's initialisation (SPEC.md, Training): its Conv2dQuant
// draws U(-1, 1) weights and zero bias; its float convs (first block,
// conv9, every conv of a Normal run) keep nn.Conv2d's own default. The
// stream is the seed's own, so that "glorot" runs are unchanged.
void paper_init(const Config& c, const std::vector<LayerQuant>& layers) {
  Rng rng(c.seed ^ 0x7061706572ull);  // "paper"
  for (const LayerQuant& l : layers)
    l.conv->reset_parameters(
        l.weight.format == quant::Format::None ? Init::PyTorchDefault : Init::Unit, rng);
}

// requantize_upsample: each up-block's upsampled input quantized as the
// activations it came from, with their straight-through gradient (the same
// quant::quantize as the activation hooks).
void plug_upsample_quantizers(const Config& c, Model& m) {
  for (auto& [name, block] : m.net->blocks()) {
    if (topology::kBlocks[size_t(topology::block_index(name))].join != topology::Join::UpConcat)
      continue;
    const std::string source = upsample_source(name);
    const LayerQuant& l = *std::find_if(m.layers.begin(), m.layers.end(),
                                        [&](const LayerQuant& x) { return x.name == source; });
    const quant::QuantSpec spec = l.activation;
    const quant::Format f = spec.format;
    if (f != quant::Format::FixedTwos && f != quant::Format::Fixed && f != quant::Format::FixedGm)
      throw Error(c.source + ": key 'requantize_upsample': " + name +
                  " upsamples the output of " + source + ", whose activations are " +
                  spec.name() + "; only fixed_twos, fixed and fixed_gm have a fixed grid "
                  "of codes the integer engine can round the upsampled tensor to");
    block->up_quant = [spec](const Tensor& a) { return quant::quantize(a, spec); };
  }
}

}  // namespace

std::string upsample_source(std::string_view up_block) {
  const int i = topology::block_index(up_block);
  QAT_CHECK(i > 0 && topology::kBlocks[size_t(i)].join == topology::Join::UpConcat,
            "upsample_source: ", up_block, " is not an up-block");
  return topology::conv_name(topology::kBlocks[size_t(i - 1)], 2);
}

std::vector<LayerQuant> plan_layers(const Config& c, UNet& net) {
  const QuantChoice weight = c.weight_quant.empty()
                                 ? paper_choice(c, true)
                                 : parse_quant_choice(c.weight_quant, c.source + ": key 'weight_quant'");
  const QuantChoice act = c.activation_quant.empty()
                              ? paper_choice(c, false)
                              : parse_quant_choice(c.activation_quant,
                                                   c.source + ": key 'activation_quant'");
  const QuantChoice none;
  std::vector<LayerQuant> layers;
  std::set<std::string> names;
  for (auto& [name, conv] : net.convs()) {
    LayerQuant l;
    l.name = name;
    l.conv = conv;
    names.insert(name);
    const bool first_block = name.rfind("conv1.", 0) == 0;
    const bool last = name == "conv9";
    QuantChoice w = weight;
    if (first_block && c.first_layer == "full") w = none;
    if (last) {
      if (c.last_layer == "full") w = none;
      else if (c.last_layer != "quantized") w = parse_quant_choice(c.last_layer, c.source);
    }
    QuantChoice a = last ? none : act;
    l.has_activation = !last;
    auto it = c.layers.find(name);
    if (it != c.layers.end()) {
      if (it->second.has_weight) w = it->second.weight;
      if (it->second.has_activation) {
        if (last)
          throw Error(c.source + ": key 'layers.conv9.activation': conv9 has no activation "
                                 "quantizer (its output is the logits)");
        a = it->second.activation;
      }
    }
    try {
      l.weight = to_spec(w, c.ste);
      l.activation = to_spec(a, c.ste);
    } catch (const Error& e) {
      throw Error(c.source + ": layer " + name + ": " + e.what());
    }
    l.binary_scale = c.binary_weight_scale == "one"
                         ? 1.0f
                         : init_bound(Init::BinaryConnect, conv->weight.shape());
    layers.push_back(l);
  }
  for (const auto& [name, o] : c.layers) {
    if (names.count(name)) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(c.source + ": key 'layers." + name + "': no layer named '" + name +
                "' (layers: " + list + ")");
  }
  return layers;
}

Model build_model(const Config& c, Telemetry* telemetry) {
  Model m;
  m.net = std::make_unique<UNet>(unet_options(c));
  m.layers = plan_layers(c, *m.net);
  if (c.init_type == "paper") paper_init(c, m.layers);
  // Activation hooks live on the blocks: conv1 of a block is followed by
  // bn1 -> act_quant1, conv2 by bn2 -> act_quant2.
  std::map<std::string, TensorFn*> act_hook;
  for (auto& [name, block] : m.net->blocks()) {
    act_hook[name + ".conv1"] = &block->act_quant1;
    act_hook[name + ".conv2"] = &block->act_quant2;
  }
  for (const LayerQuant& l : m.layers) {
    if (l.weight.format != quant::Format::None) {
      const quant::QuantSpec spec = l.weight;
      const float scale = l.binary_scale;
      const std::string name = l.name;
      l.conv->weight_quant = [spec, scale, name, telemetry](const Tensor& w) {
        if (telemetry) telemetry->observe(name, Telemetry::Kind::Weight, w, spec, scale);
        return quant::quantize(w, spec, scale);
      };
    }
    if (l.has_activation && l.activation.format != quant::Format::None) {
      const quant::QuantSpec spec = l.activation;
      const std::string name = l.name;
      *act_hook.at(l.name) = [spec, name, telemetry](const Tensor& a) {
        if (telemetry) telemetry->observe(name, Telemetry::Kind::Activation, a, spec, 1.0f);
        return quant::quantize(a, spec);
      };
    }
  }
  m.requantize_upsample = c.requantize_upsample;
  if (m.requantize_upsample) plug_upsample_quantizers(c, m);
  return m;
}

float beta_for_epoch(const Config& c, int64_t epoch) {
  if (c.num_epochs <= 1) return c.beta_start;
  const float t = float(std::min(epoch, c.num_epochs - 1)) / float(c.num_epochs - 1);
  return c.beta_start + (c.beta_end - c.beta_start) * t;
}

}  // namespace qat
