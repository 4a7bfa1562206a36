// The integer inference engine: runs an exported IntModel (int_model.h).
//
//   image (float) -> float prefix: conv1 block with the simulation's float
//   ops, its last quantizer giving codes      run_float_prefix
//   -> integer part: 12 convs on int8/int16 codes with int32 accumulators
//   (int64 where a layer's bound needs it), ReLU and requantisation fused
//   into each conv, max-pool and bilinear x2 on codes; the concatenation is
//   the up-block conv's two input parts
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
#include "experiments/runtime/int_model.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/int_kernels/int_gemm.h"
#include "quant/int_kernels/int_ops.h"

namespace qat {

// (N,C,H,W) codes, value = code * 2^-frac, in the narrowest of int8,
// int16 and int32 that holds the format: bytes says which vector is used.
// Byte formats (two's complement up to 8 bits, sign-magnitude up to 7,
// binary, ternary, int up to 8 bits) stay bytes end to end, so that their
// convs run the int8 GEMM without a copy; sign-magnitude Q8.0 (+-256) and
// the upsampled inputs of the decoder (16x the codes) are int16; wider
// formats (Q8.8) int32, for the portable widened path.
struct CodeTensor {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int frac = 0;
  int bytes = 1;
  std::vector<int8_t> codes8;
  std::vector<int16_t> codes16;
  std::vector<int32_t> codes32;

  int64_t numel() const { return N * C * H * W; }
  int32_t code(int64_t k) const;
  void allocate(int code_bytes);  // sizes the vector bytes selects to numel()
};

// f(p) with p the data of t's code vector (int8_t*, int16_t* or int32_t*,
// const for a const t): the one place the engine dispatches on the width.
template <class Codes, class F>
decltype(auto) with_codes(Codes& t, F&& f) {
  if (t.bytes == 1) return f(t.codes8.data());
  if (t.bytes == 2) return f(t.codes16.data());
  return f(t.codes32.data());
}

// The bytes of the narrowest integer type holding codes in [lo, hi].
int code_bytes(int64_t lo, int64_t hi);

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

  // Which GEMM each layer's parts run, one line a layer, e.g.
  // "up1.conv.conv1: int16, int8 bytes (run 12)": "int8 bytes (run R)" is
  // the AVX2 vpmaddubsw path (taken when gemm_path() is maddubs), "int8" and
  // "int16" the others, "int64" the widened conv; for bench_int_engine.
  std::vector<std::string> gemm_report() const;

 private:
  // A range of one input's channels, packed for the GEMM its codes and
  // weights fit: int8, int16 or int32 codes (the portable int64 conv). An
  // up-block's first conv reads two inputs, [upsampled, skip]; a widened
  // layer splits its inputs' channels into groups whose own sums provably
  // fit int32, so that each still runs the fast GEMM, and adds them in int64.
  struct Part {
    size_t input = 0;                  // which input tensor
    int64_t first = 0, channels = 0;   // its channels [first, first + channels)
    int bytes = 1;                     // the code type its GEMM runs on
    // bytes == 1: all channels of input + 1 too, after these in the weight
    // rows, in the same GEMM (quant::ConvPart::more): an up-block's
    // [upsampled, skip] when both are bytes at one f (requantize_upsample)
    int64_t next_channels = 0;
    quant::PackedA<int8_t> w8;
    quant::PackedA<int16_t> w16;
    std::vector<int32_t> w32;          // (OC, channels*9), bytes == 4
  };
  struct Plan {
    std::vector<int64_t> input_channels;  // per input tensor
    std::vector<Part> parts;
    bool wide = false;  // int64 accumulators and 128-bit requantisation
    int out_bytes = 1;
    quant::GridRounding up_grid;  // up-blocks' conv1 with requantize_upsample
  };
  struct Input;
  std::vector<Input> inputs_of(size_t i, const IntLayerInputs& w) const;
  static void add_parts(Plan& p, const IntLayer& l, size_t input, const Input& in, int64_t c0);
  static void merge_parts(Plan& p, const IntLayer& l, const std::vector<Input>& in);
  static quant::ConvPart conv_part(const std::vector<const CodeTensor*>& in, const Part& part,
                                   int shift, std::vector<std::vector<int8_t>>& keep8,
                                   std::vector<std::vector<int16_t>>& keep16);
  CodeTensor conv_layer(size_t i, const std::vector<const CodeTensor*>& in);
  CodeTensor conv_wide(size_t i, const std::vector<const CodeTensor*>& in, const Plan& p);
  void seen(const std::string& name, const CodeTensor& t) const {
    if (observe) observe(name, t);
  }

  IntModel model_;
  std::vector<Plan> plan_;
};

}  // namespace qat
