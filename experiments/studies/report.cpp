#include "experiments/studies/report.h"

#include <cstdio>

#include "experiments/training/checkpoint.h"
#include "quant/quantizers/quantize.h"
#include "quant/quantizers/telemetry.h"

namespace qat {

namespace {
// The spatial side each conv runs at, for an input of side s: the encoder
// halves it per level, the decoder doubles it back.
int64_t side_of(const std::string& layer, int64_t s) {
  if (layer.rfind("conv2.", 0) == 0 || layer.rfind("up2.", 0) == 0) return s / 2;
  if (layer.rfind("conv3.", 0) == 0 || layer.rfind("up1.", 0) == 0) return s / 4;
  if (layer.rfind("conv4.", 0) == 0) return s / 8;
  return s;
}
}  // namespace

ModelReport make_report(const Config& c, Model& m, bool trained) {
  ModelReport r;
  r.image_side = c.crop;
  quant::QuantSpec input;  // what the next conv reads: the image is float
  for (const LayerQuant& l : m.layers) {
    LayerReport lr;
    const Tensor& w = l.conv->weight;
    lr.weight_shape = w.shape();
    quant::LayerRecord& rec = lr.record;
    rec.name = l.name;
    rec.weights = w.numel();
    rec.biases = l.conv->bias.defined() ? l.conv->bias.numel() : 0;
    rec.out_channels = w.size(0);
    rec.bn_params = l.has_activation ? 2 * w.size(0) : 0;
    const int64_t side = side_of(l.name, c.crop);
    rec.macs = w.numel() * side * side;
    rec.weight = l.weight;
    rec.activation = input;
    rec.full_precision = l.weight.format == quant::Format::None;
    if (l.weight.format != quant::Format::None) {
      if (l.weight.format == quant::Format::Ternary) lr.levels_allowed = 3 * w.size(0);
      else lr.levels_allowed = int64_t(quant::levels(l.weight, l.binary_scale).size());
      if (trained)
        lr.levels_used = quant::distinct_levels(quant::quantize_forward(w, l.weight, l.binary_scale).q);
    }
    input = l.activation;
    r.layers.push_back(lr);
  }
  std::vector<quant::LayerRecord> records;
  for (const auto& l : r.layers) records.push_back(l.record);
  r.parameters = quant::parameter_count(records);
  // The paper charges every parameter at its quantized rows' weight width.
  r.paper_bits = 32;
  for (const auto& l : r.layers)
    if (l.record.weight.format != quant::Format::None) {
      r.paper_bits = l.record.weight.paper_bits();
      break;
    }
  r.paper_mib = quant::paper_size_mib(r.parameters, r.paper_bits);
  r.honest_mib = quant::honest_size_mib(records);
  r.energy_uj = quant::energy_pj(records) * 1e-6;
  return r;
}

ModelReport report_for(const std::string& path, const std::vector<std::string>& overrides) {
  const bool checkpoint = path.size() > 3 && path.substr(path.size() - 3) == ".h5";
  if (!checkpoint) {
    const Config c = load_config(path, overrides);
    Model m = build_model(c);
    return make_report(c, m, false);
  }
  const TrainState s = read_checkpoint_state(path);
  YAML::Node root;
  try {
    root = YAML::Load(s.config_yaml);
  } catch (const YAML::Exception& e) {
    throw Error(path + ": its stored config is not valid YAML: " + e.what());
  }
  const Config c = parse_config(root, path + " (stored config)");
  Model m = build_model(c);
  load_checkpoint(path, *m.net, nullptr);
  return make_report(c, m, true);
}

std::string format_report(const ModelReport& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-16s %9s  %-26s %-26s %5s %8s %8s\n", "layer",
                "weight shape", "params", "weight format", "input format", "bits", "levels",
                "used");
  out += line;
  for (const auto& l : r.layers) {
    const auto& rec = l.record;
    const int64_t params = rec.weights + rec.biases + rec.bn_params;
    std::snprintf(line, sizeof line, "%-16s %-16s %9lld  %-26s %-26s %5d %8s %8s\n",
                  rec.name.c_str(), to_string(l.weight_shape).c_str(), (long long)params,
                  rec.weight.name().c_str(), rec.activation.name().c_str(), rec.weight.bits(),
                  l.levels_allowed < 0 ? "float" : std::to_string(l.levels_allowed).c_str(),
                  l.levels_used < 0 ? "-" : std::to_string(l.levels_used).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line,
                "\nparameters: %lld (weights, biases and BatchNorm gamma/beta)\n"
                "size, the paper's way (every parameter at %d bits): %.2f MB\n"
                "size, honestly (full-precision layers, biases and BN at 32 bits, scales): "
                "%.2f MB\n"
                "energy per %lldx%lld inference (Horowitz 45 nm, conv MACs only): %.1f uJ\n",
                (long long)r.parameters, r.paper_bits, r.paper_mib, r.honest_mib,
                (long long)r.image_side, (long long)r.image_side, r.energy_uj);
  out += line;
  return out;
}

}  // namespace qat
