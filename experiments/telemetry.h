// Quantizer telemetry: per quantized layer and epoch, how the quantizer
// treats what flows through it. Measured at the end of each epoch on one
// validation batch (eval mode), so it costs one forward per epoch:
//   clipped    fraction of values the format saturated
//   zero_grad  fraction of values a clipped STE gives a zero gradient
//              (0 with the identity STE)
//   levels     distinct quantized values used
//   mse        mean squared quantization error, float vs quantized
//   flips      binary/ternary weights: fraction of quantized signs that
//              changed since the previous epoch (-1 when not applicable)
#pragma once
#include <map>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "quant/spec.h"

namespace qat {

class Telemetry {
 public:
  enum class Kind { Weight, Activation };
  struct Row {
    int64_t epoch;
    std::string layer, kind, format;
    double clipped, zero_grad, mse, flips;
    int64_t levels, values;
  };

  // The quantizer hooks call observe() on every forward; it records only
  // between begin() and end().
  void begin() { active_ = true; }
  std::vector<Row> end(int64_t epoch);
  void observe(const std::string& layer, Kind kind, const Tensor& x,
               const quant::QuantSpec& spec, float binary_scale);

  static std::string csv_header();
  static std::string csv_line(const Row& r);

 private:
  struct Acc {
    std::string format;
    int64_t values = 0, clipped = 0, outside = 0, flips_counted = 0, flipped = 0;
    double sse = 0;
    std::vector<float> levels;  // sorted distinct values seen
    bool track_signs = false;
  };
  bool active_ = false;
  std::map<std::pair<std::string, Kind>, Acc> acc_;
  std::map<std::string, std::vector<int8_t>> last_signs_;  // per weight layer
  std::vector<std::pair<std::string, Kind>> order_;        // first-seen order
};

}  // namespace qat
