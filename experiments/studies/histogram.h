// `operation_mode: visualize`: per-layer weight histograms (the paper's
// figure of weight distributions), drawn with gnuplot with axes: the float
// weights as grey bars, for quantized layers the quantized weights as red
// spikes on their own axis and the quantizer's level grid dotted. The data
// and histograms.gp stay beside the PNGs. Without gnuplot the same bars are
// drawn by hand (draw_histograms), without axes.
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
// (and .dat) for every conv; returns the folder.
std::string write_weight_histograms(const Config& c);

}  // namespace qat
