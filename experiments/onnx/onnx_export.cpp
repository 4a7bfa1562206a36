// The ONNX export; see onnx_export.h.
#include "experiments/onnx/onnx_export.h"

#include <onnx/checker.h>

#include <algorithm>
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
constexpr const char* kOrtInt8Approximation =
    "--ort-int8: an approximation. Every integer conv is DequantizeLinear -> Conv -> "
    "QuantizeLinear (ONNX Runtime: QLinearConv) with per-channel weight scales, then an int8 Max "
    "and Min per channel (the ReLU before the BatchNorm, the saturation); the BatchNorm's offset "
    "is rounded into the int32 bias (qat.exactness: in how many channels exactly), and an "
    "up-block's upsampled codes are rounded back to the grid unless the model was trained with "
    "requantize_upsample. Codes can differ from qat's by one where a value lies that close to "
    "a rounding half (README \"ONNX export\").";

// The zero point of activation codes: int8 0, or with --ort-int8 (u8) uint8
// 128, code + 128: ONNX Runtime fuses uint8 activations into QLinearConv on a
// CPU without AVX-512 VNNI, and leaves int8 ones as float Convs there.
std::string code_zero(GraphBuilder& b, const std::string& name, bool u8) {
  return u8 ? b.uint8s(name, {128}, {}) : b.int8s(name, {0}, {});
}
int code_type(bool u8) { return u8 ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8; }

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
  const std::string zp = code_zero(b, name + "/zero_point", o.ort_int8);
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

// x (N,C,h,w) -> (N,C,2h,2w): bilinear x2, half-pixel, as the engine.
std::string resize2x(GraphBuilder& b, const std::string& x, const std::string& name) {
  const std::string scales = b.floats(name + "/up_scales", {1, 1, 2, 2}, {4});
  onnx::NodeProto* r = b.node("Resize", {x, "", scales}, name + "/up");
  onnx_export::set_string(r, "mode", "linear");
  onnx_export::set_string(r, "coordinate_transformation_mode", "half_pixel");
  return name + "/up";
}

// x back on the grid 2^-f as int8 codes: QuantizeLinear rounds half to even,
// as the engine's round_to_grid (bilinear values never leave the range).
std::string to_grid(GraphBuilder& b, const std::string& x, int f, const std::string& name,
                    bool u8) {
  return b.op("QuantizeLinear", {x, b.floats(name + "/scale", {std::ldexp(1.0f, -f)}, {}),
                                 code_zero(b, name + "/zero_point", u8)},
              name);
}

std::string dequantize(GraphBuilder& b, const std::string& codes, int f, const std::string& name,
                       bool u8) {
  return b.op("DequantizeLinear", {codes, b.floats(name + "/scale", {std::ldexp(1.0f, -f)}, {}),
                                   code_zero(b, name + "/zero_point", u8)},
              name);
}

// An integer layer's input: the previous output pooled, as it is, or
// [bilinear x2 of it, the skip]. grid_f >= 0 (requantize_upsample): the
// upsampled values are rounded back to that grid, as the engine does. u8:
// outputs and result are uint8 codes (+ 128) at 2^-grid_f (--ort-int8).
std::string layer_input(GraphBuilder& b, const IntLayerInputs& w, const std::string& name,
                        const std::vector<std::string>& outputs, const std::string& first,
                        int grid_f, bool u8) {
  auto out = [&](int j) { return j < 0 ? first : outputs[size_t(j)]; };
  if (w.join == topology::Join::Image) return out(w.previous);
  if (w.join == topology::Join::Pooled) {
    onnx::NodeProto* p = b.node("MaxPool", {out(w.previous)}, name + "/pool");
    onnx_export::set_ints(p, "kernel_shape", {2, 2});
    onnx_export::set_ints(p, "strides", {2, 2});
    return name + "/pool";
  }
  std::string up;
  if (u8)  // codes: dequantised, upsampled, back to the grid as codes
    up = to_grid(b, resize2x(b, dequantize(b, out(w.previous), grid_f, name + "/up_input", u8), name),
                 grid_f, name + "/up_codes", u8);
  else if (grid_f >= 0)
    up = dequantize(b, to_grid(b, resize2x(b, out(w.previous), name), grid_f, name + "/up_codes", u8),
                    grid_f, name + "/up_on_grid", u8);
  else
    up = resize2x(b, out(w.previous), name);
  onnx::NodeProto* c = b.node("Concat", {up, out(w.skip)}, name + "/concat");
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

// ## --ort-int8: DequantizeLinear -> Conv -> QuantizeLinear, which ONNX
// Runtime fuses into QLinearConv. QLinearConv computes, per channel c,
//   y = sat_int8(round_half_even(float(sum x*w' + bias') * scale_c))
// (scale_c = s_x * s_w,c / s_y), while the engine computes
//   code = clamp(round_half_even(max(acc, 0) * A + B), lo, hi)
// (A = M/2^S, B = O/2^S, acc = sum x*w + bias_code). With A > 0,
// max(acc, 0) * A + B = max(acc*A + B, B), and rounding and clamping are
// monotone, so code = min(max(round(acc*A + B), max(round(B), lo)), hi): the
// ReLU and the saturation become an int8 Max and Min per channel after the
// QLinearConv (A < 0: the mirror image, with the weight codes negated). The
// weight codes are shifted left k_c bits while they stay int8, which puts
// 2^k_c bias steps on one engine accumulator step; the offset B becomes
// bias' = round(2^k_c * (bias_code + B/A)): exact when 2^k_c * B/A is a whole
// number, else off by at most half a step (2^-k_c |A| / 2 of an output code),
// which moves a code where acc*A + B lies that close to a half. An up-block's
// first conv reads the upsampled codes at f + 4 fraction bits, which do not
// fit int8: here they are rounded back to f (exact for a model trained with
// requantize_upsample, which does the same; an approximation otherwise).
struct Int8Conv {
  std::vector<int32_t> codes;      // (OC, C, 3, 3): sign_c * w * 2^k_c
  std::vector<float> scale;        // (OC): s_w,c, so that s_x * s_w,c / s_y = |A| 2^(e - k_c)
  std::vector<int32_t> bias;       // (OC): bias' at s_x * s_w,c
  std::vector<int32_t> floor, ceiling;  // (OC): the ReLU and the saturation on the codes
  int64_t inexact = 0;             // channels whose bias' was rounded
  int64_t acc_bound = 0;           // |sum x*w' + bias'| <= acc_bound
};

// f_grid: the input's fraction bits here (l.in_frac - e, e = 4 where the
// upsampled codes were rounded back to the grid, else 0).
Int8Conv int8_conv(const IntLayer& l, int f_grid) {
  const int64_t OC = l.out_channels, K = l.in_channels * 9;
  const int e = l.in_frac - f_grid, f_out = frac_bits_of(l.activation);
  Int8Conv q;
  q.codes.resize(size_t(OC * K));
  for (int64_t c = 0; c < OC; ++c) {
    const quant::Requant& r = l.requant[size_t(c)];
    const int32_t* w = l.weight_codes.data() + c * K;
    const int32_t b = int32_t(std::clamp<int64_t>(quant::round_shift_half_even(r.offset, r.shift), l.lo, l.hi));
    if (r.multiplier == 0) {  // a constant channel: round(B), clamped
      q.scale.push_back(std::ldexp(1.0f, f_grid - f_out));
      q.bias.push_back(0);
      q.floor.push_back(b);
      q.ceiling.push_back(b);
      continue;
    }
    const int32_t wmin = *std::min_element(w, w + K), wmax = *std::max_element(w, w + K);
    // the largest shift k with sign * w * 2^k in int8; -128 cannot be negated:
    // then the sign goes into the scale (a negative s_w,c)
    int sign = r.multiplier > 0 ? 1 : -1;
    if (sign < 0 && wmin == -128) sign = 1;
    const int32_t lo = sign > 0 ? wmin : -wmax, hi = sign > 0 ? wmax : -wmin;
    int k = 0;
    while (k < 7 && (lo * (1 << (k + 1))) >= -128 && (hi * (1 << (k + 1))) <= 127) ++k;
    for (int64_t j = 0; j < K; ++j) q.codes[size_t(c * K + j)] = sign * w[j] * (1 << k);
    const double A = std::ldexp(double(r.multiplier), -r.shift);  // exact (int32 mantissa)
    q.scale.push_back(float(std::ldexp(A * sign, e - k + f_grid - f_out)));
    // bias' = sign * 2^(k-e) * (bias_code * M + O) / M, rounded half to even
    const __int128 num = (__int128(l.bias_codes[size_t(c)]) * r.multiplier + r.offset) * sign *
                         (__int128(1) << k);
    const __int128 den = __int128(r.multiplier) << e;
    q.inexact += num % den != 0;
    const double bias = std::nearbyint(double(num) / double(den));
    if (std::abs(bias) > 2147483647.0)
      throw Error(l.name + ": --ort-int8: channel " + std::to_string(c) + "'s bias " +
                  std::to_string(bias) + " does not fit int32");
    q.bias.push_back(int32_t(bias));
    const bool up = r.multiplier > 0;  // the ReLU floors the codes at round(B), or caps them
    q.floor.push_back(up ? std::max(b, l.lo) : l.lo);
    q.ceiling.push_back(up ? l.hi : std::max(b, l.lo));
    const int64_t bound = ((l.gemm_bound >> e) + 1) * (int64_t(1) << k) + int64_t(std::abs(bias));
    q.acc_bound = std::max(q.acc_bound, bound);
  }
  return q;
}

// One integer layer on int8 codes x (at f_grid) -> its int8 codes.
std::string int8_layer(GraphBuilder& b, const std::string& x, const IntLayer& l, int f_grid,
                       const OnnxExportOptions& o, std::vector<std::string>& codes,
                       std::string& report) {
  const std::string& n = l.name;
  const int64_t OC = l.out_channels;
  const Int8Conv q = int8_conv(l, f_grid);
  const std::string xf = dequantize(b, x, f_grid, n + "/input", /*u8=*/true);
  b.int8s(n + "/weight_codes", q.codes, {OC, l.in_channels, 3, 3});
  b.floats(n + "/weight_scale", q.scale, {OC});
  b.int8s(n + "/weight_zero_point", std::vector<int32_t>(size_t(OC), 0), {OC});
  onnx::NodeProto* dw = b.node("DequantizeLinear", {n + "/weight_codes", n + "/weight_scale",
                                                   n + "/weight_zero_point"}, n + "/weight");
  onnx_export::set_int(dw, "axis", 0);
  std::vector<float> bias_scale;  // s_x * s_w,c, exact (s_x a power of two)
  for (float s : q.scale) bias_scale.push_back(std::ldexp(s, -f_grid));
  b.int32s(n + "/bias_codes", q.bias, {OC});
  b.floats(n + "/bias_scale", bias_scale, {OC});
  b.int32s(n + "/bias_zero_point", std::vector<int32_t>(size_t(OC), 0), {OC});
  onnx::NodeProto* db = b.node("DequantizeLinear", {n + "/bias_codes", n + "/bias_scale",
                                                   n + "/bias_zero_point"}, n + "/bias");
  onnx_export::set_int(db, "axis", 0);
  conv3x3(b, {xf, n + "/weight", n + "/bias"}, n + "/conv");
  const std::string y =
      to_grid(b, n + "/conv", frac_bits_of(l.activation), n + "/conv_codes", /*u8=*/true);
  auto u8 = [](std::vector<int32_t> v) {
    for (int32_t& x : v) x += 128;
    return v;
  };
  const std::string floored =
      b.op("Max", {y, b.uint8s(n + "/floor", u8(q.floor), {OC, 1, 1})}, n + "/relu");
  const std::string out =
      b.op("Min", {floored, b.uint8s(n + "/ceiling", u8(q.ceiling), {OC, 1, 1})}, "codes." + n);
  if (o.expose_codes) codes.push_back(out);
  report = n + ": --ort-int8: offset exact in " + std::to_string(OC - q.inexact) + " of " +
           std::to_string(OC) + " channels" +
           (q.acc_bound < kFloatExact ? "" : "; accumulator may pass 2^24 (ONNX Runtime's float requantisation)") +
           (l.in_frac != f_grid ? "; upsampled codes rounded to the grid (f + 4 -> f)" : "");
  return out;
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

// The input quantizer's codes as the graph input, "codes.<first block>".
std::string integer_input(GraphBuilder& b, const IntModel& m, bool u8) {
  const FloatLayer& l = m.prefix[1];
  const std::string codes = "codes." + l.name;
  b.input(codes, code_type(u8), {"N", std::to_string(l.weight.size(0)), "H", "W"});
  return codes;
}

// The fraction bits of integer layer j's output codes (-1: the input quantizer's).
int frac_of_output(const IntModel& m, int j) {
  return j < 0 ? m.prefix[1].activation.frac_bits : frac_bits_of(m.layers[size_t(j)].activation);
}

// The integer part as float convs on dequantised codes (exact, onnx_export.h);
// returns the last layer's dequantised output.
std::string float_integer_part(GraphBuilder& b, const IntModel& m, const std::string& first,
                               const OnnxExportOptions& o, std::vector<std::string>& codes,
                               OnnxReport& report) {
  const std::vector<IntLayerInputs> wiring = integer_layer_inputs();
  std::vector<std::string> outputs;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const int grid = m.requantize_upsample ? frac_of_output(m, wiring[i].previous) : -1;
    const std::string x = layer_input(b, wiring[i], m.layers[i].name, outputs, first, grid, false);
    outputs.push_back(int_layer(b, x, m.layers[i], o, codes));
    report.layers.push_back(exactness(m.layers[i], report.proven_exact));
  }
  return outputs.back();
}

// --ort-int8: the integer part on int8 codes, every conv a DQ -> Conv -> Q
// that ONNX Runtime runs as QLinearConv; returns the last layer's dequantised
// output.
std::string int8_integer_part(GraphBuilder& b, const IntModel& m, const std::string& first,
                              const OnnxExportOptions& o, std::vector<std::string>& codes,
                              OnnxReport& report) {
  const std::vector<IntLayerInputs> wiring = integer_layer_inputs();
  std::vector<std::string> outputs;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const IntLayerInputs& w = wiring[i];
    const IntLayer& l = m.layers[i];
    const int f = frac_of_output(m, w.previous);
    if (w.join == topology::Join::UpConcat && frac_of_output(m, w.skip) != f)
      throw Error(m.source_checkpoint + ": " + l.name + ": --ort-int8 concatenates int8 codes, "
                  "which needs the upsampled layer and the skip at one scale; found 2^-" +
                  std::to_string(f) + " and 2^-" + std::to_string(frac_of_output(m, w.skip)));
    const std::string x = layer_input(b, w, l.name, outputs, first, f, /*u8=*/true);
    std::string line;
    outputs.push_back(int8_layer(b, x, l, f, o, codes, line));
    report.layers.push_back(line);
  }
  report.proven_exact = false;
  return dequantize(b, outputs.back(), frac_of_output(m, int(m.layers.size()) - 1),
                    m.layers.back().name, /*u8=*/true);
}

void add_graph(onnx::GraphProto* g, const IntModel& m, const OnnxExportOptions& o,
               OnnxReport& report) {
  GraphBuilder b(g);
  g->set_name("qat_unet");
  std::vector<std::string> codes;
  std::string first;  // the input quantizer's codes, or their values
  if (o.integer_part) {
    first = integer_input(b, m, o.ort_int8);
    if (!o.ort_int8) first = dequantize(b, first, frac_of_output(m, -1), m.prefix[1].name, false);
  } else {
    first = float_prefix(b, m, o, codes);
    if (o.ort_int8) first = "codes." + m.prefix[1].name;
  }
  const std::string last = o.ort_int8 ? int8_integer_part(b, m, first, o, codes, report)
                                      : float_integer_part(b, m, first, o, codes, report);
  float_layer(b, last, m.last, o, codes);
  b.op("Identity", {m.last.name}, "logits");
  b.output("logits", onnx::TensorProto::FLOAT, {"N", "1", "H", "W"});
  for (const std::string& c : codes)  // (N, channels, h, w), the sizes left symbolic
    b.output(c, code_type(o.ort_int8), {"N", c + ".C", c + ".H", c + ".W"});
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
  add_metadata(model, "qat.approximation", o.ort_int8 ? kOrtInt8Approximation
                                          : "none: every quantized layer exports exactly; the "
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
