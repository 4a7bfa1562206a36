// `operation_mode: visualize`: per-layer weight histograms as PNG pictures,
// the float weights as grey bars and, for quantized layers, the quantized
// weights as red spikes at the levels they take (the paper's figure of
// weight distributions).
#pragma once
#include <string>
#include <vector>

#include "experiments/training/config.h"

namespace qat {

struct Histogram {
  float lo = 0, hi = 0;
  std::vector<int64_t> counts;
};
Histogram histogram(const float* values, int64_t n, int bins, float lo, float hi);

// Draws float (grey) and quantized (red, may be empty) histograms over the
// same range into an RGB image of width x height.
std::vector<uint8_t> draw_histograms(const Histogram& f, const Histogram* q, int width,
                                     int height);

// Loads the trained model of c and writes <run dir>/histograms/<layer>.png
// for every conv; returns the folder.
std::string write_weight_histograms(const Config& c);

}  // namespace qat
