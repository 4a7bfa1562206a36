// The integer model (experiments/runtime/int_model.h) as a standard ONNX
// model in QDQ form, for ONNX Runtime and any other ONNX runtime.
//
// ## The graph (opset 13), per part of the engine (int_engine.h)
//   float prefix  Conv -> Relu -> Sub(mean) -> Mul(invstd) -> Mul(gamma) ->
//                 Add(beta): the simulation's float BatchNorm op by op,
//                 ((x - m) * s) * g + b; then the quantizer Q(i.f):
//                 Clip(lo*2^-f, hi*2^-f) -> QuantizeLinear(2^-f, int8 0) ->
//                 DequantizeLinear (the clip: Q6.0 saturates at [-32, 31],
//                 narrower than int8)
//   integer layer the input (MaxPool 2x2, or Resize linear half_pixel x2
//                 and Concat with the skip) -> Conv(DQ(weight codes int8,
//                 2^-f_w), DQ(bias codes int32, 2^-(f_in+f_w))) -> Relu ->
//                 Cast(double) -> Mul(M/2^S) -> Add(O/2^S) -> Round ->
//                 Clip(lo, hi) -> Mul(2^-f_out) -> Cast(float) ->
//                 QuantizeLinear(2^-f_out, int8) -> DequantizeLinear
//   float suffix  Conv (conv9) -> output "logits" (N,1,H,W)
//
// ## Why it is exact
// Every integer layer's input is code * 2^-f_in and every weight code *
// 2^-f_w, so every product and every partial sum of the float Conv is an
// integer multiple of 2^-(f_in+f_w): exact in float32 while its magnitude
// stays below 2^24 of those units, whatever the summation order. The layer's
// bound (acc_bound, int_bound.h) proves that, or the layer's line in the
// report says it holds only while the sums stay below 2^24. The
// requantisation runs in double: acc * M and O are integers over 2^S, so
// (acc*M + O) / 2^S is exact while |acc*M| + |O| < 2^53; Round is ONNX's
// round half to even, the engine's. Max-pool, bilinear x2 (weights in
// quarters) and concat are exact on these grids (int_ops.h).
// Not exact: the float prefix and conv9 are float convs, whose sums ONNX
// Runtime adds in its own order (last-bit differences, which move an input
// code only when the BatchNorm output lies within a rounding error of a
// code boundary).
//
// ## --ort-int8 (OnnxExportOptions::ort_int8)
// The graph above is exact but ONNX Runtime cannot fuse it into its int8
// kernels: the ReLU, the double requantisation and the casts sit between
// Conv and QuantizeLinear, so it runs 12 float Convs. With ort_int8 each
// integer layer is DQ(int8 codes) -> Conv(DQ(weight codes, per-channel
// scale), DQ(int32 bias)) -> QuantizeLinear -> Max -> Min (int8, per
// channel), which it fuses into QLinearConv; MaxPool runs on the int8 codes,
// the upsampling as DQ -> Resize -> QuantizeLinear. Not exact in general:
// onnx_export.cpp says where and by how much.
//
// ## Formats
// Exported: weights fixed_twos up to 8 bits (or int up to 8 bits), every
// activation fixed_twos up to 8 bits signed (7 unsigned). Refused, naming
// the layer and the format (onnx_refusal): sign-magnitude fixed and
// fixed_gm, binary and ternary weights, binary and int activations, wider
// fixed_twos. README "ONNX export" has the table and the reasons.
#pragma once
#include <string>
#include <vector>

#include "experiments/runtime/int_model.h"

namespace qat {

struct OnnxExportOptions {
  bool expose_codes = false;  // also output every layer's int8 codes, "codes.<layer>"
  // The integer part and conv9 only: the graph's input is the input
  // quantizer's int8 codes, "codes.conv1.conv2" (N,C,H,W), so that the
  // integer layers can be checked on the engine's own input codes.
  bool integer_part = false;
  // --ort-int8: the integer convs as DQ -> Conv -> Q with per-channel
  // scales, which ONNX Runtime runs as int8 QLinearConv (the default graph's
  // convs run in float there); an approximation (onnx_export.cpp, "--ort-int8",
  // and the file's metadata qat.approximation).
  bool ort_int8 = false;
};

struct OnnxReport {
  std::vector<std::string> layers;  // one line a layer: its formats and what is exact
  bool proven_exact = true;         // every integer layer proven exact (not just checked)
};

// Why layer `layer` cannot be exported ("" if it can).
std::string onnx_refusal(const std::string& layer, const quant::QuantSpec& weight,
                         const quant::QuantSpec& activation);

// Builds the graph, checks it with onnx::checker and writes it to path
// atomically (path.tmp, then rename). Throws qat::Error naming the first
// layer whose format cannot be exported.
OnnxReport write_onnx(const std::string& path, const IntModel& m, const OnnxExportOptions& o);

}  // namespace qat
