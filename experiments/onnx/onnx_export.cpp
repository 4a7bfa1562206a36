// The ONNX export; see onnx_export.h.
#include "experiments/onnx/onnx_export.h"

#include <onnx/checker.h>

#include <cmath>
#include <cstdlib>

#include "data/atomic_write.h"
#include "experiments/onnx/onnx_graph.h"
#include "quant/int_kernels/int_bound.h"

namespace qat {
namespace {

using onnx_export::GraphBuilder;
using quant::Format;
using quant::QuantSpec;
constexpr int kOpset = 13;
constexpr int64_t kFloatExact = int64_t(1) << 24;   // integers exact in float32
constexpr double kDoubleExact = 9007199254740992.0;  // 2^53

// Q(i.f) of a fixed_twos activation as int8 codes: its clip, scale, names.
std::string quantize(GraphBuilder& b, const std::string& x, const QuantSpec& s,
                     const std::string& name, const OnnxExportOptions& o,
                     std::vector<std::string>& code_outputs) {
  const quant::CodeRange r = quant::code_range(s);
  const float scale = std::ldexp(1.0f, -s.frac_bits);
  const std::string lo = b.floats(name + "/lo", {float(r.lo) * scale}, {});
  const std::string hi = b.floats(name + "/hi", {float(r.hi) * scale}, {});
  const std::string clipped = b.op("Clip", {x, lo, hi}, name + "/clip");
  const std::string s_name = b.floats(name + "/scale", {scale}, {});
  const std::string zp = b.int8s(name + "/zero_point", {0}, {});
  const std::string codes = "codes." + name;
  b.op("QuantizeLinear", {clipped, s_name, zp}, codes);
  if (o.expose_codes) code_outputs.push_back(codes);
  return b.op("DequantizeLinear", {codes, s_name, zp}, name);
}

onnx::NodeProto* conv3x3(GraphBuilder& b, const std::vector<std::string>& in,
                         const std::string& out) {
  onnx::NodeProto* n = b.node("Conv", in, out);
  onnx_export::set_ints(n, "kernel_shape", {3, 3});
  onnx_export::set_ints(n, "pads", {1, 1, 1, 1});
  return n;
}

std::vector<int64_t> dims_of(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

// conv -> [ReLU -> BN -> quantizer] in float, as the engine's float_layer.
std::string float_layer(GraphBuilder& b, const std::string& x, const FloatLayer& l,
                        const OnnxExportOptions& o, std::vector<std::string>& codes) {
  const std::string& n = l.name;
  const std::string w = b.floats(n + "/weight", l.weight.to_vector(), dims_of(l.weight));
  const std::string bias = b.floats(n + "/bias", l.bias.to_vector(), dims_of(l.bias));
  std::string h = n + (l.has_bn || l.activation.format != Format::None ? "/conv" : "");
  conv3x3(b, {x, w, bias}, h);
  if (!l.has_bn) return h;
  const int64_t C = l.weight.size(0);
  std::vector<float> invstd(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)  // as batch_norm2d computes it in eval mode
    invstd[size_t(c)] = 1.0f / std::sqrt(l.var.data()[c] + l.eps);
  h = b.op("Relu", {h}, n + "/relu");
  h = b.op("Sub", {h, b.floats(n + "/bn_mean", l.mean.to_vector(), {C, 1, 1})}, n + "/bn_sub");
  h = b.op("Mul", {h, b.floats(n + "/bn_invstd", invstd, {C, 1, 1})}, n + "/bn_norm");
  h = b.op("Mul", {h, b.floats(n + "/bn_gamma", l.gamma.to_vector(), {C, 1, 1})}, n + "/bn_mul");
  const std::string beta = b.floats(n + "/bn_beta", l.beta.to_vector(), {C, 1, 1});
  if (l.activation.format == Format::None) return b.op("Add", {h, beta}, n);
  h = b.op("Add", {h, beta}, n + "/bn");
  return quantize(b, h, l.activation, n, o, codes);
}

// An integer layer's input: the previous output pooled, as it is, or
// [bilinear x2 of it, the skip].
std::string layer_input(GraphBuilder& b, const IntLayerInputs& w, const std::string& name,
                        const std::vector<std::string>& outputs, const std::string& first) {
  auto out = [&](int j) { return j < 0 ? first : outputs[size_t(j)]; };
  if (w.join == topology::Join::Image) return out(w.previous);
  if (w.join == topology::Join::Pooled) {
    onnx::NodeProto* p = b.node("MaxPool", {out(w.previous)}, name + "/pool");
    onnx_export::set_ints(p, "kernel_shape", {2, 2});
    onnx_export::set_ints(p, "strides", {2, 2});
    return name + "/pool";
  }
  const std::string scales = b.floats(name + "/up_scales", {1, 1, 2, 2}, {4});
  onnx::NodeProto* r = b.node("Resize", {out(w.previous), "", scales}, name + "/up");
  onnx_export::set_string(r, "mode", "linear");
  onnx_export::set_string(r, "coordinate_transformation_mode", "half_pixel");
  onnx::NodeProto* c = b.node("Concat", {name + "/up", out(w.skip)}, name + "/concat");
  onnx_export::set_int(c, "axis", 1);
  return name + "/concat";
}

// The requantisation (r*M + O) / 2^S, rounded half to even and saturated,
// in double on the Conv's float output acc * 2^-k.
std::string requantise(GraphBuilder& b, const std::string& acc, const IntLayer& l, int k) {
  const std::string& n = l.name;
  const int64_t OC = l.out_channels;
  std::vector<double> mult(static_cast<size_t>(OC)), offset(static_cast<size_t>(OC));
  for (int64_t c = 0; c < OC; ++c) {
    const quant::Requant& r = l.requant[size_t(c)];
    mult[size_t(c)] = std::ldexp(double(r.multiplier), k - r.shift);
    offset[size_t(c)] = std::ldexp(double(r.offset), -r.shift);
  }
  onnx::NodeProto* cast = b.node("Cast", {acc}, n + "/acc_double");
  onnx_export::set_int(cast, "to", onnx::TensorProto::DOUBLE);
  std::string y = b.op("Mul", {n + "/acc_double", b.doubles(n + "/requant_scale", mult, {OC, 1, 1})},
                       n + "/requant_mul");
  y = b.op("Add", {y, b.doubles(n + "/requant_offset", offset, {OC, 1, 1})}, n + "/requant_add");
  y = b.op("Round", {y}, n + "/round");
  y = b.op("Clip", {y, b.doubles(n + "/sat_lo", {double(l.lo)}, {}),
                      b.doubles(n + "/sat_hi", {double(l.hi)}, {})},
           n + "/saturate");
  const double down = std::ldexp(1.0, -frac_bits_of(l.activation));
  y = b.op("Mul", {y, b.doubles(n + "/code_scale", {down}, {})}, n + "/value_double");
  onnx::NodeProto* back = b.node("Cast", {y}, n + "/value");
  onnx_export::set_int(back, "to", onnx::TensorProto::FLOAT);
  return n + "/value";
}

// What is exact in layer l: the Conv's float sums and the double requantisation.
std::string exactness(const IntLayer& l, bool& proven) {
  const bool sums = l.acc_bound < kFloatExact;
  bool requant = true;
  for (const quant::Requant& r : l.requant)
    requant = requant && double(l.acc_bound) * std::abs(double(r.multiplier)) +
                                 std::abs(double(r.offset)) < kDoubleExact;
  proven = proven && sums && requant;
  return l.name + ": weights " + l.weight.name() + ", activations " + l.activation.name() +
         (sums ? "; conv sums exact (bound " + std::to_string(l.acc_bound) + " < 2^24)"
               : "; conv sums exact only while below 2^24 (bound " +
                     std::to_string(l.acc_bound) + ")") +
         (requant ? "; requantisation exact in double" : "; requantisation beyond 2^53");
}

std::string int_layer(GraphBuilder& b, const std::string& x, const IntLayer& l,
                      const OnnxExportOptions& o, std::vector<std::string>& codes) {
  const std::string& n = l.name;
  const int fw = frac_bits_of(l.weight);
  const std::string ws = b.floats(n + "/weight_scale", {std::ldexp(1.0f, -fw)}, {});
  const std::string wz = b.int8s(n + "/weight_zero_point", {0}, {});
  b.int8s(n + "/weight_codes", l.weight_codes, {l.out_channels, l.in_channels, 3, 3});
  const std::string w = b.op("DequantizeLinear", {n + "/weight_codes", ws, wz}, n + "/weight");
  const int k = l.in_frac + fw;  // the accumulator's fraction bits (guard 0)
  b.int32s(n + "/bias_codes", l.bias_codes, {l.out_channels});
  const std::string bs = b.floats(n + "/bias_scale", {std::ldexp(1.0f, -k)}, {});
  const std::string bz = b.int32s(n + "/bias_zero_point", {0}, {});
  const std::string bias = b.op("DequantizeLinear", {n + "/bias_codes", bs, bz}, n + "/bias");
  conv3x3(b, {x, w, bias}, n + "/conv");
  const std::string r = b.op("Relu", {n + "/conv"}, n + "/relu");
  return quantize(b, requantise(b, r, l, k), l.activation, n, o, codes);
}

bool fits_int8(const QuantSpec& s) {
  const quant::CodeRange r = quant::code_range(s);
  return r.lo >= -128 && r.hi <= 127;
}

std::string why_not(const QuantSpec& s, bool weight) {
  switch (s.format) {
    case Format::FixedTwos:
      return fits_int8(s) ? "" : "needs int16 QuantizeLinear (ONNX opset 21; Debian 12's onnx "
                                 "1.12 stops at opset 17)";
    case Format::Int:
      if (weight) return fits_int8(s) ? "" : "codes beyond int8";
      return "min-max normalised over the whole tensor at run time: a data-dependent scale, "
             "not QuantizeLinear's constant one";
    case Format::Fixed:
    case Format::FixedGm:
      return "sign-magnitude: rounds the fraction on its own and clamps only the integer part "
             "(quant/quantizers/fixed.cpp), which QuantizeLinear (round the whole value, "
             "saturate) cannot express";
    case Format::Binary:
    case Format::Ternary:
      return weight ? "a per-channel float scale (H, alpha_c) times +-1/0 codes: the float "
                      "Conv's sums of scaled values round, and the engine's guard-bit bias "
                      "has no QDQ form"
                    : "a sign (or three levels), not a rounding with a scale";
    default:
      return "no integer codes (" + s.name() + ")";
  }
}

std::string check_float_activation(const FloatLayer& l, bool required) {
  if (!required && l.activation.format == Format::None) return "";
  const std::string why = why_not(l.activation, false);
  return why.empty() ? "" : l.name + ": activation " + l.activation.name() + " cannot be "
                                    "exported to ONNX: " + why;
}

}  // namespace

std::string onnx_refusal(const std::string& layer, const QuantSpec& weight,
                         const QuantSpec& activation) {
  std::string why = why_not(weight, true);
  if (!why.empty()) return layer + ": weights " + weight.name() + " cannot be exported to ONNX: " + why;
  why = why_not(activation, false);
  if (!why.empty())
    return layer + ": activation " + activation.name() + " cannot be exported to ONNX: " + why;
  return "";
}

namespace {

void check_exportable(const IntModel& m) {
  std::string why = check_float_activation(m.prefix[0], false);
  if (why.empty()) why = check_float_activation(m.prefix[1], true);
  for (const IntLayer& l : m.layers) {
    if (!why.empty()) break;
    why = onnx_refusal(l.name, l.weight, l.activation);
    if (why.empty() && l.guard != 0) why = l.name + ": guard bits, expected none";
  }
  if (!why.empty()) throw Error(m.source_checkpoint + ": " + why + " (README \"ONNX export\")");
}

// The first block in float, from the input "image"; returns its output.
std::string float_prefix(GraphBuilder& b, const IntModel& m, const OnnxExportOptions& o,
                         std::vector<std::string>& codes) {
  b.input("image", onnx::TensorProto::FLOAT, {"N", std::to_string(m.in_channels), "H", "W"});
  const std::string x = float_layer(b, "image", m.prefix[0], o, codes);
  return float_layer(b, x, m.prefix[1], o, codes);
}

// The input quantizer's codes as the graph input, dequantised.
std::string integer_input(GraphBuilder& b, const IntModel& m) {
  const FloatLayer& l = m.prefix[1];
  const std::string codes = "codes." + l.name;
  b.input(codes, onnx::TensorProto::INT8, {"N", std::to_string(l.weight.size(0)), "H", "W"});
  const float scale = std::ldexp(1.0f, -l.activation.frac_bits);
  return b.op("DequantizeLinear", {codes, b.floats(l.name + "/scale", {scale}, {}),
                                   b.int8s(l.name + "/zero_point", {0}, {})},
              l.name);
}

void add_graph(onnx::GraphProto* g, const IntModel& m, const OnnxExportOptions& o,
               OnnxReport& report) {
  GraphBuilder b(g);
  g->set_name("qat_unet");
  std::vector<std::string> codes;
  const std::string first = o.integer_part ? integer_input(b, m) : float_prefix(b, m, o, codes);
  std::string x;
  const std::vector<IntLayerInputs> wiring = integer_layer_inputs();
  std::vector<std::string> outputs;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    x = layer_input(b, wiring[i], m.layers[i].name, outputs, first);
    outputs.push_back(int_layer(b, x, m.layers[i], o, codes));
    report.layers.push_back(exactness(m.layers[i], report.proven_exact));
  }
  float_layer(b, outputs.back(), m.last, o, codes);
  b.op("Identity", {m.last.name}, "logits");
  b.output("logits", onnx::TensorProto::FLOAT, {"N", "1", "H", "W"});
  for (const std::string& c : codes)  // (N, channels, h, w), the sizes left symbolic
    b.output(c, onnx::TensorProto::INT8, {"N", c + ".C", c + ".H", c + ".W"});
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* e = model.add_metadata_props();
  e->set_key(key);
  e->set_value(value);
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

}  // namespace

OnnxReport write_onnx(const std::string& path, const IntModel& m, const OnnxExportOptions& o) {
  check_exportable(m);
  OnnxReport report;
  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("qat");
  model.set_producer_version("0.1.0");
  model.set_doc_string("qat U-Net in QDQ form (int8 codes); exactness per layer in metadata "
                       "qat.exactness; experiments/onnx/onnx_export.h");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  add_graph(model.mutable_graph(), m, o, report);
  add_metadata(model, "qat.exactness", joined(report.layers));
  add_metadata(model, "qat.approximation", "none: every quantized layer exports exactly; the "
                                           "float first block and conv9 are float convs");
  add_metadata(model, "qat.source_checkpoint", m.source_checkpoint);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(path + ": the ONNX graph qat built fails onnx::checker (a qat bug): " + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error(path + ": could not serialise the ONNX model");
  data::write_file_atomic(path, bytes);  // a full disk: one error, no partial file
  return report;
}

}  // namespace qat
