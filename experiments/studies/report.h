// `qat report`: per-layer formats and sizes of a config's (or checkpoint's)
// U-Net, the model size counted the paper's way and honestly, and the
// estimated energy of one inference (quant/quantizers/model_size.h has the arithmetic).
#pragma once
#include <string>
#include <vector>

#include "experiments/training/config.h"
#include "experiments/training/model.h"
#include "quant/quantizers/model_size.h"

namespace qat {

struct LayerReport {
  quant::LayerRecord record;
  Shape weight_shape;
  int64_t levels_allowed = -1;  // distinct values the weight format can take (-1: float)
  int64_t levels_used = -1;     // distinct quantized weight values (-1: not measured)
};

struct ModelReport {
  std::vector<LayerReport> layers;
  int64_t parameters = 0;
  int paper_bits = 32;       // the bit width the paper's column charges every parameter
  double paper_mib = 0, honest_mib = 0, energy_uj = 0;
  int64_t image_side = 0;    // MACs are counted for a crop x crop input
};

// From a model built for c; levels_used is measured when `trained` is true.
ModelReport make_report(const Config& c, Model& m, bool trained);
// A .yaml config (untrained) or a .h5 checkpoint (its stored config).
ModelReport report_for(const std::string& config_or_checkpoint,
                       const std::vector<std::string>& overrides);
std::string format_report(const ModelReport& r);

}  // namespace qat
