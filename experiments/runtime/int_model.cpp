// The integer model: the plan check, the export, the eval-mode integer
// path of the simulation, and the HDF5 file; see int_model.h.
#include "experiments/runtime/int_model.h"

#include <array>
#include <cmath>
#include <filesystem>
#include <map>

#include <cblas.h>

#include "data/h5.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_conv.h"
#include "quant/quantizers/quantize.h"

namespace qat {
namespace {

using quant::Format;
using quant::QuantSpec;

// One integer layer as the model holds it, with what its input is.
struct PlanEntry {
  std::string name;
  Conv2d* conv = nullptr;
  BatchNorm2d* bn = nullptr;
  DownConv* block = nullptr;
  bool second = false;       // the block's conv2 (else conv1)
  int in_frac = 0;
  int64_t max_abs_in = 0;    // the largest |input code| the formats allow
  QuantSpec weight, activation;
  int guard = 0;             // IntLayer::guard
  int64_t gemm_bound = 0;    // K * max_abs_in * max|weight code|
};

const LayerQuant& layer_of(const Model& m, const std::string& name) {
  for (const LayerQuant& l : m.layers)
    if (l.name == name) return l;
  throw Error("integer model: the model has no layer '" + name + "'");
}

bool fixed_grid(const QuantSpec& s) {
  return s.format == Format::FixedTwos || s.format == Format::Fixed || s.format == Format::FixedGm;
}

// Codes up to 2^20: the decoder's upsampled inputs (16x, then a shift to
// the skip's fraction) stay inside int32 codes, and every accumulator
// inside the double-precision eval path's 2^53 (checked per layer below).
constexpr int64_t kMaxCode = int64_t(1) << 20;

// Why the engine cannot run s as a weight (weight) or activation format,
// or "" if it can.
std::string refusal(const QuantSpec& s, bool weight) {
  if (s.format == Format::None)
    return std::string("it is not quantized (float ") + (weight ? "weights" : "activations") +
           "): the integer part needs codes on every layer";
  if (s.format == Format::FixedPow2)
    return "its format is " + s.name() + ": nearest powers of two with no lower end have no "
           "common integer grid (2^-k for every k), so there is no code";
  if (fixed_grid(s) || s.format == Format::Binary || s.format == Format::Int ||
      (weight && s.format == Format::Ternary))
    return quant::max_abs_code(s) <= kMaxCode
               ? ""
               : s.name() + " has codes up to " + std::to_string(quant::max_abs_code(s)) +
                     ", the engine's codes are at most 2^20";
  return "ternary activations: TWN thresholds each sample at 0.7 * its own mean |y| and "
         "scales it by the mean of the |y| above (quant/quantizers/ternary.cpp): the next layer's input "
         "scale would be a float computed from the data at run time; the engine runs "
         "ternary weights only";
}

// Per output channel, the weight's scale s_c and codes q / s_c: fixed
// formats 2^-f (codes q * 2^f), binary H and ternary alpha_c (the largest
// |q| of the channel: every nonzero q is +-s_c; codes +-1 and 0), int 1 (the
// quantizer's output is the code itself). qat::Error if q is not on that
// grid. w (OC, C, 3, 3) quantized.
struct WeightCodes {
  std::vector<int32_t> codes;
  std::vector<float> scale;
};
WeightCodes weight_codes(const Tensor& w, const QuantSpec& spec, const std::string& what) {
  const int64_t OC = w.size(0), row = w.numel() / OC;
  WeightCodes out;
  for (int64_t c = 0; c < OC; ++c) {
    const float* q = w.data() + c * row;
    float s = std::ldexp(1.0f, -frac_bits_of(spec));
    if (spec.format == Format::Binary || spec.format == Format::Ternary) {
      s = 0.0f;
      for (int64_t k = 0; k < row; ++k) s = std::max(s, std::fabs(q[k]));
      if (s == 0.0f) s = 1.0f;  // an all-zero ternary channel: codes 0
    }
    out.scale.push_back(s);
    for (int64_t k = 0; k < row; ++k) {
      const double code = double(q[k]) / double(s);
      if (code != std::nearbyint(code) || std::fabs(code) > double(kMaxCode))
        throw Error(detail::concat(what, ": weight ", q[k], " of channel ", c,
                                   " is not an integer multiple of the channel's scale ", s,
                                   " (expected a quantized ", spec.name(), " weight)"));
      out.codes.push_back(int32_t(code));
    }
  }
  return out;
}

// Guard bits for a weight scale that is not a power of two: the bias is
// rounded to 2^-g of the accumulator's unit instead of to the unit (the
// sum of +-1 codes), which would throw away most of a small bias.
int guard_bits(const QuantSpec& w) {
  return w.format == Format::Binary || w.format == Format::Ternary ? 8 : 0;
}

std::vector<PlanEntry> plan(Model& m) {
  bool any = false;
  for (const LayerQuant& l : m.layers)
    any = any || l.weight.format != Format::None ||
          (l.has_activation && l.activation.format != Format::None);
  if (!any)
    throw Error("integer export: the model has no quantizer (a float-only run): there are "
                "no integer codes to export; train with e.g. quantization: fixed_twos");
  const QuantSpec input = layer_of(m, "conv1.conv2").activation;
  if (const std::string why = refusal(input, false); !why.empty())
    throw Error("integer export: layer conv1.conv2 (the input quantizer of the integer "
                "part): " + why);
  std::map<std::string, DownConv*> blocks;
  for (auto& [name, b] : m.net->blocks()) blocks[name] = b;
  // The output format of each layer computed so far, by name.
  std::map<std::string, QuantSpec> out{{"conv1.conv2", input}};
  // (name, previous layer, skip layer or "")
  const std::vector<std::array<std::string, 3>> order{
      {"conv2.conv1", "conv1.conv2", ""},         {"conv2.conv2", "conv2.conv1", ""},
      {"conv3.conv1", "conv2.conv2", ""},         {"conv3.conv2", "conv3.conv1", ""},
      {"conv4.conv1", "conv3.conv2", ""},         {"conv4.conv2", "conv4.conv1", ""},
      {"up1.conv.conv1", "conv4.conv2", "conv3.conv2"},
      {"up1.conv.conv2", "up1.conv.conv1", ""},
      {"up2.conv.conv1", "up1.conv.conv2", "conv2.conv2"},
      {"up2.conv.conv2", "up2.conv.conv1", ""},
      {"up3.conv.conv1", "up2.conv.conv2", "conv1.conv2"},
      {"up3.conv.conv2", "up3.conv.conv1", ""}};
  std::vector<PlanEntry> entries;
  for (const auto& [name, prev, skip] : order) {
    const LayerQuant& l = layer_of(m, name);
    PlanEntry e;
    e.name = name;
    e.conv = l.conv;
    e.weight = l.weight;
    e.activation = l.activation;
    e.second = name.back() == '2';
    e.block = blocks.at(name.substr(0, name.size() - 6));
    e.bn = e.second ? &e.block->bn2 : &e.block->bn1;
    if (const std::string why = refusal(l.weight, true); !why.empty())
      throw Error("integer export: layer " + name + ": weights: " + why);
    if (const std::string why = refusal(l.activation, false); !why.empty())
      throw Error("integer export: layer " + name + ": activations: " + why);
    if (e.block->act != Activation::ReLU)
      throw Error("integer export: layer " + name +
                  ": activation function is not ReLU; the engine applies ReLU to the "
                  "accumulator and has no integer tanh");
    const QuantSpec& p = out.at(prev);
    if (skip.empty()) {
      e.in_frac = frac_bits_of(p);
      e.max_abs_in = quant::max_abs_code(p);
    } else {
      // [upsample(prev) at f+4, skip] at the larger fraction (int_ops.h).
      const QuantSpec& s = out.at(skip);
      const int fp = frac_bits_of(p) + 4, fs = frac_bits_of(s);
      e.in_frac = std::max(fp, fs);
      e.max_abs_in = std::max((16 * quant::max_abs_code(p)) << (e.in_frac - fp),
                              quant::max_abs_code(s) << (e.in_frac - fs));
      if (e.max_abs_in > (int64_t(1) << 30))
        throw Error("integer export: layer " + name + ": its input codes reach " +
                    std::to_string(e.max_abs_in) + ", beyond the engine's int32 codes");
    }
    const int64_t K = l.conv->weight.size(1) * 9;
    e.guard = guard_bits(l.weight);
    e.gemm_bound = quant::accumulator_bound(K, e.max_abs_in, quant::max_abs_code(l.weight));
    // The eval-mode path computes the sum in double: exact below 2^53.
    if (e.gemm_bound > (int64_t(1) << 53) >> e.guard)
      throw Error("integer export: layer " + name + ": K=" + std::to_string(K) +
                  " inputs up to " + std::to_string(e.max_abs_in) + " times weights up to " +
                  std::to_string(quant::max_abs_code(l.weight)) + " reach " +
                  std::to_string(e.gemm_bound) + " (shifted " + std::to_string(e.guard) +
                  " bits): beyond 2^53, where neither the int64 accumulator's requantisation "
                  "nor the double-precision simulation it is checked against stays exact");
    if (l.activation.format == Format::Int && (e.gemm_bound << e.guard) > quant::kInt32Max)
      throw Error("integer export: layer " + name + ": int activations are normalised over "
                  "the whole tensor from the int32 accumulators, and this layer's bound " +
                  std::to_string(e.gemm_bound << e.guard) + " exceeds int32");
    out[name] = l.activation;
    entries.push_back(e);
  }
  return entries;
}

Tensor used_weight(const Conv2d& conv) {
  NoGrad no_grad;
  return (conv.weight_quant ? conv.weight_quant(conv.weight) : conv.weight).clone();
}

// value * 2^frac as an integer; qat::Error if it is not one (the value is
// not on the format's grid).
int64_t exact_code(float value, int frac, const std::string& what) {
  const double c = std::ldexp(double(value), frac);
  if (c != std::nearbyint(c))
    throw Error(detail::concat(what, ": value ", value, " is not a multiple of 2^-", frac,
                               " (expected a quantized value)"));
  return int64_t(c);
}

// z (N,OC,H,W) = conv3x3 of x (N,C,H,W) with w (OC,C,3,3), pad 1, no bias,
// in double: im2col of a few output rows at a time and one dgemm each.
// Exact for these operands: every product and partial sum is an integer
// multiple of 2^-(f_in+f_w) below 2^31 of them, and double holds 2^53.
std::vector<double> conv3x3_double(const Tensor& x, const Tensor& w) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OC = w.size(0);
  const int64_t K = C * 9, rows = std::max<int64_t>(1, std::min(H, (int64_t(1) << 21) / (K * W)));
  const std::vector<double> wd(w.data(), w.data() + w.numel());
  std::vector<double> z(size_t(N * OC * H * W)), col(size_t(K * rows * W));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y0 = 0; y0 < H; y0 += rows) {
      const int64_t y1 = std::min(H, y0 + rows), cols = (y1 - y0) * W;
      // col[(c,kh,kw), (y-y0, xx)] = x[n, c, y+kh-1, xx+kw-1], 0 outside
      for (int64_t k = 0; k < K; ++k) {
        const int64_t c = k / 9, kh = k % 9 / 3, kw = k % 3;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t xx = 0; xx < W; ++xx) {
            const int64_t iy = y + kh - 1, ix = xx + kw - 1;
            col[size_t(k * cols + (y - y0) * W + xx)] =
                iy < 0 || iy >= H || ix < 0 || ix >= W
                    ? 0.0
                    : double(x.data()[((n * C + c) * H + iy) * W + ix]);
          }
      }
      // z[n, :, y0:y1, :] (OC, cols; H*W apart) = w (OC, K) * col (K, cols)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(OC), int(cols), int(K), 1.0,
                  wd.data(), int(K), col.data(), int(cols), 0.0,
                  z.data() + n * OC * H * W + y0 * W, int(H * W));
    }
  return z;
}

// The bias codes of a layer: round_half_even(bias / s_c * 2^(f_in + g)),
// the bias in units of the shifted accumulator (double: the division is
// rounded once, then nearbyint rounds half to even; exact for fixed formats,
// whose s_c is a power of two).
std::vector<int32_t> bias_codes(const Conv2d& conv, const std::vector<float>& scale, int shift_bits) {
  std::vector<int32_t> out;
  for (int64_t c = 0; c < conv.bias.numel(); ++c)
    out.push_back(quant::bias_code_scaled(conv.bias.data()[c], scale[size_t(c)], shift_bits));
  return out;
}

// The eval-mode path of one integer layer (int_model.h): the conv in double
// of the input values with the weight CODES (so that the sum is an integer
// times 2^-f_in whatever the weight scale), read back as an integer, then
// shifted by the guard bits, the bias code added, ReLU and requantise.
// x (N,C,H,W) -> (N,OC,H,W)
Tensor integer_eval_step(const PlanEntry& e, const Tensor& x) {
  const Tensor w = used_weight(*e.conv);
  const WeightCodes wc = weight_codes(w, e.weight, e.name);
  const int fo = frac_bits_of(e.activation);
  for (int64_t k = 0; k < x.numel(); ++k) exact_code(x.data()[k], e.in_frac, e.name + " input");
  std::vector<float> codes(wc.codes.begin(), wc.codes.end());  // |code| <= 2^20: exact
  const std::vector<double> z = conv3x3_double(x, Tensor::from(codes, w.shape()));
  const std::vector<quant::Requant> rq =
      layer_requant(*e.bn, wc.scale, e.in_frac + e.guard, fo);
  const std::vector<int32_t> bias = bias_codes(*e.conv, wc.scale, e.in_frac + e.guard);
  const quant::CodeRange range = quant::code_range(e.activation);
  const int64_t N = x.size(0), OC = w.size(0), P = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({N, OC, x.size(2), x.size(3)});
  const bool min_max = e.activation.format == Format::Int;  // codes of the whole tensor
  std::vector<int32_t> relu_acc(min_max ? size_t(N * OC * P) : 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < OC; ++c) {
      for (int64_t p = 0; p < P; ++p) {
        const int64_t i = (n * OC + c) * P + p;
        const double acc = std::ldexp(z[size_t(i)], e.in_frac);
        QAT_CHECK(acc == std::nearbyint(acc) && std::abs(acc) <= double(e.gemm_bound), e.name,
                  ": accumulator ", acc, " is not an integer within the bound ", e.gemm_bound);
        const int64_t v = std::max<int64_t>(
            int64_t(acc) * (int64_t(1) << e.guard) + bias[size_t(c)], 0);
        if (min_max) {
          QAT_CHECK(v <= quant::kInt32Max, e.name, ": accumulator ", v, " beyond int32");
          relu_acc[size_t(i)] = int32_t(v);
          continue;
        }
        const int32_t code = requantise_code(v, rq[size_t(c)], e.activation, int32_t(range.lo),
                                             int32_t(range.hi));
        out.data()[i] = std::ldexp(float(code), -fo);
      }
    }
  if (min_max) {
    std::vector<int32_t> codes(relu_acc.size());
    quant::requantise_min_max(codes.data(), relu_acc.data(), N, OC, P, rq.data(),
                              e.activation.code_bits);
    for (size_t i = 0; i < codes.size(); ++i) out.data()[i] = float(codes[i]);
  }
  return out;
}

// ---- HDF5

struct Fnv {
  uint64_t h = 14695981039346656037ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
};

template <class T>
hid_t h5_type_of() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, int32_t>) return H5T_NATIVE_INT32;
  else return H5T_NATIVE_INT64;
}

// Writes (Writer) or reads (Reader) the datasets of the model in one fixed
// order, hashing each one's path and bytes: the same walk does both, so
// the two checksums cover the same bytes.
struct Writer {
  hid_t file;
  Fnv fnv;
  template <class T>
  void array(const std::string& path, std::vector<T>& v, std::vector<hsize_t> dims) {
    fnv.add(path.data(), path.size());
    fnv.add(v.data(), v.size() * sizeof(T));
    data::H5Handle lcpl = data::h5_plist(H5Pcreate(H5P_LINK_CREATE), "make a property list");
    data::h5_check(H5Pset_create_intermediate_group(lcpl, 1), "set intermediate groups");
    data::H5Handle space = data::h5_space(
        H5Screate_simple(int(dims.size()), dims.data(), nullptr), "make a dataspace");
    data::H5Handle ds = data::h5_dataset(
        H5Dcreate2(file, path.c_str(), h5_type_of<T>(), space, lcpl, H5P_DEFAULT, H5P_DEFAULT),
        "create " + path);
    data::h5_check(H5Dwrite(ds, h5_type_of<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                   "write " + path);
  }
  void tensor(const std::string& path, Tensor& t) {
    std::vector<float> v = t.to_vector();
    array(path, v, std::vector<hsize_t>(t.shape().begin(), t.shape().end()));
  }
};

struct Reader {
  hid_t file;
  std::string file_name;
  Fnv fnv;
  template <class T>
  void array(const std::string& path, std::vector<T>& v, std::vector<hsize_t> expected) {
    if (H5Lexists(file, path.c_str(), H5P_DEFAULT) <= 0)
      throw Error(file_name + ": dataset '" + path + "' is missing: not a complete qat "
                  "integer model");
    data::H5Handle ds = data::h5_dataset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open " + path);
    data::H5Handle space = data::h5_space(H5Dget_space(ds), "read the shape of " + path);
    std::vector<hsize_t> dims(size_t(std::max(H5Sget_simple_extent_ndims(space), 0)));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    if (!expected.empty() && dims != expected)
      throw Error(file_name + ": dataset '" + path + "' has " + std::to_string(dims.size()) +
                  " dims not matching the model's expected shape");
    hsize_t n = 1;
    for (hsize_t d : dims) n *= d;
    v.resize(size_t(n));
    data::h5_check(H5Dread(ds, h5_type_of<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                   "read " + path);
    last_dims = dims;
    fnv.add(path.data(), path.size());
    fnv.add(v.data(), v.size() * sizeof(T));
  }
  void tensor(const std::string& path, Tensor& t) {
    std::vector<float> v;
    array(path, v, {});
    t = Tensor::from(v, Shape(last_dims.begin(), last_dims.end()));
  }
  std::vector<hsize_t> last_dims;
};

std::vector<int32_t> encode(const QuantSpec& s) {
  return {int32_t(s.format), s.int_bits, s.frac_bits, s.code_bits, s.is_signed ? 1 : 0};
}
QuantSpec decode(const std::vector<int32_t>& v) {
  QuantSpec s;
  s.format = Format(v.at(0));
  s.int_bits = v.at(1);
  s.frac_bits = v.at(2);
  s.code_bits = v.at(3);
  s.is_signed = v.at(4) != 0;
  return s;
}

template <class Io>
void spec_io(Io& io, const std::string& path, QuantSpec& s) {
  std::vector<int32_t> v = encode(s);
  io.array(path, v, {5});
  s = decode(v);
}

template <class Io>
void float_layer_io(Io& io, FloatLayer& l) {
  const std::string g = "/float/" + l.name;
  io.tensor(g + "/weight", l.weight);
  io.tensor(g + "/bias", l.bias);
  std::vector<float> eps{l.has_bn ? l.eps : 0.0f};
  std::vector<int32_t> has_bn{l.has_bn ? 1 : 0};
  io.array(g + "/has_bn", has_bn, {1});
  l.has_bn = has_bn[0] != 0;
  if (l.has_bn) {
    io.array(g + "/bn_eps", eps, {1});
    l.eps = eps[0];
    io.tensor(g + "/bn_gamma", l.gamma);
    io.tensor(g + "/bn_beta", l.beta);
    io.tensor(g + "/bn_mean", l.mean);
    io.tensor(g + "/bn_var", l.var);
  }
  spec_io(io, g + "/activation_format", l.activation);
}

template <class Io>
void int_layer_io(Io& io, IntLayer& l) {
  const std::string g = "/int/" + l.name;
  std::vector<int64_t> shape{l.out_channels, l.in_channels, l.in_frac};
  io.array(g + "/out_in_frac", shape, {3});
  l.out_channels = shape[0], l.in_channels = shape[1], l.in_frac = int(shape[2]);
  const auto OC = hsize_t(l.out_channels), C = hsize_t(l.in_channels);
  spec_io(io, g + "/weight_format", l.weight);
  spec_io(io, g + "/activation_format", l.activation);
  io.array(g + "/weight_codes", l.weight_codes, {OC, C, 3, 3});
  io.array(g + "/bias_codes", l.bias_codes, {OC});
  std::vector<int64_t> acc{l.guard, l.gemm_bound, l.acc_bound};
  io.array(g + "/guard_gemm_acc_bound", acc, {3});
  l.guard = int(acc[0]), l.gemm_bound = acc[1], l.acc_bound = acc[2];
  std::vector<int32_t> mult, shift, exact;
  std::vector<int64_t> offset;
  for (const quant::Requant& r : l.requant)
    mult.push_back(r.multiplier), offset.push_back(r.offset), shift.push_back(r.shift),
        exact.push_back(r.exact ? 1 : 0);
  io.array(g + "/requant_multiplier", mult, {OC});
  io.array(g + "/requant_offset", offset, {OC});
  io.array(g + "/requant_shift", shift, {OC});
  io.array(g + "/requant_exact", exact, {OC});
  l.requant.resize(OC);
  for (size_t c = 0; c < OC; ++c)
    l.requant[c] = {mult[c], offset[c], shift[c], exact[c] != 0};
  std::vector<int32_t> sat{l.lo, l.hi};
  io.array(g + "/saturation", sat, {2});
  l.lo = sat[0], l.hi = sat[1];
}

template <class Io>
void model_io(Io& io, IntModel& m) {
  std::vector<int64_t> meta{m.width, m.in_channels, int64_t(m.prefix.size()),
                            int64_t(m.layers.size())};
  io.array("/meta", meta, {4});
  m.width = meta[0], m.in_channels = meta[1];
  const std::vector<std::string> names = integer_layer_names();
  if (meta[2] != 2 || meta[3] != int64_t(names.size()))
    throw Error(detail::concat("integer model: /meta says ", meta[2], " float and ", meta[3],
                               " integer layers, expected 2 and ", names.size()));
  m.prefix.resize(2);
  m.layers.resize(size_t(meta[3]));
  m.prefix[0].name = "conv1.conv1", m.prefix[1].name = "conv1.conv2";
  for (FloatLayer& l : m.prefix) float_layer_io(io, l);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    m.layers[i].name = names.at(i);
    int_layer_io(io, m.layers[i]);
  }
  m.last.name = "conv9";
  float_layer_io(io, m.last);
}

void set_string_attr(hid_t obj, const char* name, const std::string& value) {
  data::H5Handle type = data::h5_type(H5Tcopy(H5T_C_S1), "copy the string type");
  data::h5_check(H5Tset_size(type, std::max<size_t>(value.size(), 1)), "size a string");
  data::H5Handle space = data::h5_space(H5Screate(H5S_SCALAR), "make a scalar space");
  data::H5Handle a = data::h5_attr(
      H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("create ") + name);
  data::h5_check(H5Awrite(a, type, value.c_str()), std::string("write ") + name);
}

std::string get_string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  data::H5Handle a = data::h5_attr(H5Aopen(obj, name, H5P_DEFAULT), std::string("open ") + name);
  data::H5Handle type = data::h5_type(H5Aget_type(a), "read a string type");
  std::string s(H5Tget_size(type), '\0');
  data::H5Handle mem = data::h5_type(H5Tcopy(H5T_C_S1), "copy the string type");
  data::h5_check(H5Tset_size(mem, s.size()), "size a string");
  data::h5_check(H5Aread(a, mem, s.data()), std::string("read ") + name);
  return s.substr(0, s.find('\0'));
}

constexpr const char* kFormat = "qat-int-model-2";

}  // namespace

std::vector<std::string> integer_layer_names() {
  std::vector<std::string> out;
  for (const char* b : {"conv2", "conv3", "conv4", "up1.conv", "up2.conv", "up3.conv"})
    for (const char* c : {".conv1", ".conv2"}) out.push_back(std::string(b) + c);
  return out;
}

std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn,
                                          const std::vector<float>& weight_scale,
                                          int shift_bits, int out_frac) {
  std::vector<quant::Requant> out;
  for (int64_t c = 0; c < bn.weight.numel(); ++c) {
    // invstd exactly as batch_norm2d computes it in eval mode
    const float invstd = 1.0f / std::sqrt(bn.running_var.data()[c] + bn.eps);
    const float a = bn.weight.data()[c] * invstd;
    const float b = bn.bias.data()[c] - bn.running_mean.data()[c] * a;
    // a * s_c rounded to float once (exact for a power-of-two s_c)
    const float as = a * weight_scale.at(size_t(c));
    out.push_back(quant::requant_from_affine(std::ldexp(as, out_frac - shift_bits),
                                             std::ldexp(b, out_frac)));
  }
  return out;
}

std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn, int acc_frac, int out_frac) {
  return layer_requant(bn, std::vector<float>(size_t(bn.weight.numel()), 1.0f), acc_frac,
                       out_frac);
}

int32_t requantise_code(int64_t acc, const quant::Requant& r, const quant::QuantSpec& out,
                        int32_t lo, int32_t hi) {
  if (out.format == Format::FixedTwos) return quant::requantise(acc, r, lo, hi);
  if (out.format == Format::Binary) return quant::requantise_binary(acc, r);
  QAT_CHECK(out.format != Format::Int, "requantise_code: int activations are coded over the "
            "whole tensor (quant::requantise_min_max), not one by one");
  return quant::requantise_sign_magnitude(acc, r, out.int_bits, out.frac_bits,
                                          out.format == Format::FixedGm);
}

int frac_bits_of(const quant::QuantSpec& s) {
  return s.format == Format::FixedTwos || s.format == Format::Fixed ||
                 s.format == Format::FixedGm || s.format == Format::FixedPow2
             ? s.frac_bits
             : 0;
}

std::vector<int> check_integer_plan(const Model& m) {
  std::vector<int> f;
  for (const PlanEntry& e : plan(const_cast<Model&>(m))) f.push_back(e.in_frac);
  return f;
}

IntModel export_int_model(Model& m) {
  const std::vector<PlanEntry> entries = plan(m);
  IntModel im;
  im.width = m.net->options.width;
  im.in_channels = m.net->options.in_channels;
  auto float_layer = [&](const std::string& name, BatchNorm2d* bn) {
    const LayerQuant& l = layer_of(m, name);
    FloatLayer f;
    f.name = name;
    f.weight = used_weight(*l.conv);
    f.bias = l.conv->bias.clone();
    f.activation = l.has_activation ? l.activation : QuantSpec{};
    if (bn) {
      f.has_bn = true;
      f.gamma = bn->weight.clone(), f.beta = bn->bias.clone();
      f.mean = bn->running_mean.clone(), f.var = bn->running_var.clone();
      f.eps = bn->eps;
    }
    return f;
  };
  im.prefix = {float_layer("conv1.conv1", &m.net->conv1.bn1),
               float_layer("conv1.conv2", &m.net->conv1.bn2)};
  im.last = float_layer("conv9", nullptr);
  for (const PlanEntry& e : entries) {
    IntLayer l;
    l.name = e.name;
    l.out_channels = e.conv->weight.size(0);
    l.in_channels = e.conv->weight.size(1);
    l.in_frac = e.in_frac;
    l.weight = e.weight;
    l.activation = e.activation;
    l.guard = e.guard;
    const WeightCodes wc = weight_codes(used_weight(*e.conv), e.weight, e.name);
    l.weight_codes = wc.codes;
    l.bias_codes = bias_codes(*e.conv, wc.scale, e.in_frac + e.guard);
    int64_t max_bias = 0;
    for (int32_t b : l.bias_codes) max_bias = std::max<int64_t>(max_bias, std::abs(int64_t(b)));
    l.gemm_bound = e.gemm_bound;
    l.acc_bound = (e.gemm_bound << e.guard) + max_bias;  // < 2^54 + 2^31: no overflow
    if (e.activation.format == Format::Int && l.acc_bound > quant::kInt32Max)
      throw Error("integer export: layer " + e.name + ": with its bias codes the accumulator "
                  "bound " + std::to_string(l.acc_bound) + " exceeds int32, which int "
                  "activations (normalised over the whole tensor) need");
    l.requant = layer_requant(*e.bn, wc.scale, e.in_frac + e.guard, frac_bits_of(e.activation));
    const quant::CodeRange r = quant::code_range(e.activation);
    l.lo = int32_t(r.lo), l.hi = int32_t(r.hi);
    im.layers.push_back(std::move(l));
  }
  return im;
}

void enable_integer_eval(Model& m, const std::function<void(const std::string&, const Tensor&)>& observe) {
  for (const PlanEntry& e : plan(m)) {
    TensorFn step = [e, observe](const Tensor& x) {
      Tensor y = integer_eval_step(e, x);
      if (observe) observe(e.name, y);
      return y;
    };
    (e.second ? e.block->eval_step2 : e.block->eval_step1) = step;
  }
}

void write_int_model(const std::string& path, const IntModel& model) {
  IntModel m = model;  // the walk takes non-const references
  const std::string tmp = path + ".tmp";
  {
    data::H5Handle file = data::h5_file(
        H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create " + tmp);
    Writer w{file, {}};
    model_io(w, m);
    set_string_attr(file, "format", kFormat);
    set_string_attr(file, "checksum", std::to_string(w.fnv.h));
    set_string_attr(file, "rounding",
                    "acc = (sum of input codes * weight codes) * 2^guard + bias code (int32, "
                    "or int64 where acc_bound > 2^31-1); y = "
                    "(max(acc,0) * multiplier + offset) / 2^shift exactly; binary "
                    "layers: code = +1 if y >= 0 else -1; fixed_twos "
                    "layers: code = clamp(round_half_even(y), saturation[0], saturation[1]); "
                    "fixed / fixed_gm layers (activation_format[0] = 1 / 2): sign-magnitude "
                    "Q(i.f), integer part floor(|y|) clamped to 2^i - 1, fraction rounded "
                    "half to even on its own (fixed_gm at f = 0: truncated), sign restored "
                    "(quant/int_kernels/int_requant.h)");
    set_string_attr(file, "config", m.config_yaml);
    set_string_attr(file, "source_checkpoint", m.source_checkpoint);
  }
  std::filesystem::rename(tmp, path);
}

IntModel read_int_model(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": integer model file not found");
  data::H5Handle file = data::h5_file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                      "open " + path);
  const std::string format = get_string_attr(file, "format");
  if (format != kFormat)
    throw Error(path + ": attribute 'format' is '" + format + "', expected '" + kFormat +
                "' (write one with `qat export CHECKPOINT`)");
  IntModel m;
  Reader r{file, path, {}, {}};
  model_io(r, m);
  const std::string stored = get_string_attr(file, "checksum");
  if (stored != std::to_string(r.fnv.h))
    throw Error(path + ": checksum mismatch: the file says " + stored +
                ", its datasets hash to " + std::to_string(r.fnv.h) +
                " (FNV-1a 64): the file is corrupted; export it again");
  m.config_yaml = get_string_attr(file, "config");
  m.source_checkpoint = get_string_attr(file, "source_checkpoint");
  return m;
}

}  // namespace qat
