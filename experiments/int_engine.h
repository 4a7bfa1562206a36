// The integer inference engine: runs an exported IntModel (int_model.h).
//
//   image (float) -> float prefix: conv1 block with the simulation's float
//   ops, its last quantizer giving codes      run_float_prefix
//   -> integer part: 12 convs on int8/int16 codes with int32 accumulators,
//   requantisation, max-pool, bilinear x2 and concat on codes
//                                              run_integer (codes in, codes out)
//   -> dequantise -> conv9 (float) -> logits  run_float_suffix
//
// run_integer takes and returns CodeTensor only and calls nothing but the
// integer kernels of quant/int_*.h: no float between the input quantizer
// and the last integer layer.
#pragma once
#include <functional>
#include <string>

#include "autograd/tensor.h"
#include "experiments/int_model.h"
#include "quant/int_gemm.h"

namespace qat {

// (N,C,H,W) int8 codes, value = code * 2^-frac.
struct CodeTensor {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int frac = 0;
  std::vector<int8_t> codes;
};

class IntEngine {
 public:
  explicit IntEngine(IntModel model);  // packs the weights once

  // x (N,in_channels,H,W), H and W divisible by 8 -> logits (N,1,H,W).
  Tensor logits(const Tensor& x);

  CodeTensor run_float_prefix(const Tensor& x);
  CodeTensor run_integer(const CodeTensor& x1);
  Tensor run_float_suffix(const CodeTensor& y);

  // Called with the input quantizer's codes ("conv1.conv2") and every
  // integer layer's output codes, by layer name.
  std::function<void(const std::string&, const CodeTensor&)> observe;

  const IntModel& model() const { return model_; }

 private:
  struct Packed {
    bool wide = false;  // int16 input codes (the up-blocks' first conv)
    quant::PackedA<int8_t> w8;
    quant::PackedA<int16_t> w16;
  };
  CodeTensor conv_layer(size_t i, const CodeTensor& x);
  CodeTensor conv_layer_wide(size_t i, const std::vector<int16_t>& x, int64_t N, int64_t C,
                             int64_t H, int64_t W);
  CodeTensor up_block(size_t i, const CodeTensor& x, const CodeTensor& skip);
  void seen(const std::string& name, const CodeTensor& t) const {
    if (observe) observe(name, t);
  }

  IntModel model_;
  std::vector<Packed> packed_;
};

}  // namespace qat
