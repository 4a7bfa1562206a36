// `qat verify-int` and `qat predict --engine int`: the eval-mode simulation
// (integer_eval.h) and the integer engine (int_engine.h)
// run on the same images, and their codes are compared layer by layer.
#pragma once
#include <string>
#include <vector>

#include "experiments/training/config.h"
#include "experiments/export/int_export.h"
#include "experiments/runtime/int_model.h"

namespace qat {

struct LayerDiff {
  std::string name;        // "conv1.conv2" (the input quantizer), then the integer layers
  int64_t values = 0;      // codes compared over all images
  int64_t differing = 0;
  std::string first;       // the first difference: image, channel, pixel, both codes, cause
};

struct VerifyResult {
  std::vector<LayerDiff> layers;
  int64_t images = 0;
  int64_t mask_pixels = 0, mask_differing = 0;  // thresholded probabilities
  double dice_sim = 0, dice_int = 0;            // over the split, global
  std::string gemm_path;                        // quant::gemm_path_name of the run
  std::vector<std::string> gemms;               // IntEngine::gemm_report: what was verified
};

// The simulated model of config c with checkpoint's weights against the
// engine of im, on c's validation split.
VerifyResult verify_int(const IntModel& im, const Config& c, const std::string& checkpoint);
std::string format_verify(const VerifyResult& r);

// The config stored in an integer model (qat::Error if it has none).
Config config_of(const IntModel& im, const std::string& path);

// The engine's probability maps and masks of predict_count validation
// images (PNG) in <run dir>/predictions_int; returns the folder.
std::string predict_int(const Config& c, const IntModel& im);

}  // namespace qat
