// Quantizer telemetry: per quantized layer and epoch, how the quantizer
// treats what flows through it. Measured at the end of each epoch on one
// validation batch (eval mode), so it costs one forward per epoch; the
// arithmetic is quant/quantizers/telemetry.h's:
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
#include "quant/quantizers/spec.h"

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
  // between begin() and end(), one row per call.
  void begin(int64_t epoch) { active_ = true, epoch_ = epoch; }
  std::vector<Row> end();
  void observe(const std::string& layer, Kind kind, const Tensor& x,
               const quant::QuantSpec& spec, float binary_scale);

  static std::string csv_header();
  static std::string csv_line(const Row& r);

 private:
  bool active_ = false;
  int64_t epoch_ = 0;
  std::vector<Row> rows_;
  std::map<std::string, Tensor> last_weights_;  // quantized, per binary/ternary layer
};

}  // namespace qat
