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

// (N,C,H,W) codes, value = code * 2^-frac. Stored as int16: sign-magnitude
// Q8.0 reaches +-256 and a concatenation's codes 16 * 256; a layer whose
// input and weight formats fit a byte copies them to int8 for the GEMM.
struct CodeTensor {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int frac = 0;
  std::vector<int16_t> codes;
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
    bool int8 = false;  // input and weight codes fit int8: the VNNI int8 GEMM
    quant::PackedA<int8_t> w8;
    quant::PackedA<int16_t> w16;
    // An up-block's first conv with byte skip codes and weights: the
    // upsampled channels (int16) and the skip channels (int8) as two GEMMs
    // whose accumulators are shifted to the concat's fraction and summed,
    // instead of one int16 GEMM over the concatenation.
    bool split = false;
    int64_t up_channels = 0;
    quant::PackedA<int16_t> w_up;
    quant::PackedA<int8_t> w_skip;
  };
  CodeTensor conv_layer(size_t i, const CodeTensor& x);
  CodeTensor requantise_layer(size_t i, std::vector<int32_t>& acc, int64_t N, int64_t H,
                              int64_t W);
  CodeTensor up_block(size_t i, const CodeTensor& x, const CodeTensor& skip);
  void seen(const std::string& name, const CodeTensor& t) const {
    if (observe) observe(name, t);
  }

  IntModel model_;
  std::vector<Packed> packed_;
};

}  // namespace qat
