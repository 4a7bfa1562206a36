// The integer model: the plan check, the export, the eval-mode integer
// path of the simulation, and the HDF5 file; see int_model.h.
#include "experiments/int_model.h"

#include <array>
#include <cmath>
#include <filesystem>
#include <map>

#include <cblas.h>

#include "data/h5.h"
#include "quant/int_bound.h"
#include "quant/int_conv.h"
#include "quant/quantize.h"

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
};

const LayerQuant& layer_of(const Model& m, const std::string& name) {
  for (const LayerQuant& l : m.layers)
    if (l.name == name) return l;
  throw Error("integer model: the model has no layer '" + name + "'");
}

// The formats the engine runs: codes of at most 8 bits of magnitude.
bool supported(const QuantSpec& s) {
  if (s.format == Format::FixedTwos) return s.bits() <= 8;
  if (s.format == Format::Fixed || s.format == Format::FixedGm)
    return s.int_bits + s.frac_bits <= 8;
  return false;
}

std::string why_not(const QuantSpec& s) {
  if (s.format != Format::FixedTwos && s.format != Format::Fixed && s.format != Format::FixedGm)
    return std::string("its format is ") + s.name() +
           ", the engine runs fixed_twos, fixed and fixed_gm only (codes on a common grid)";
  return s.name() + " has codes up to " + std::to_string(quant::max_abs_code(s)) +
         ", the engine's codes are at most 8 bits (int8 two's complement, +-256 "
         "sign-magnitude)";
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
  if (!supported(input))
    throw Error("integer export: layer conv1.conv2 (the input quantizer of the integer "
                "part): " + why_not(input));
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
    if (!supported(l.weight))
      throw Error("integer export: layer " + name + ": weights: " + why_not(l.weight));
    if (!supported(l.activation))
      throw Error("integer export: layer " + name + ": activations: " +
                  why_not(l.activation));
    if (e.block->act != Activation::ReLU)
      throw Error("integer export: layer " + name +
                  ": activation function is not ReLU; the engine applies ReLU to the "
                  "accumulator and has no integer tanh");
    const QuantSpec& p = out.at(prev);
    if (skip.empty()) {
      e.in_frac = p.frac_bits;
      e.max_abs_in = quant::max_abs_code(p);
    } else {
      // [upsample(prev) at f+4, skip] at the larger fraction (int_ops.h).
      const QuantSpec& s = out.at(skip);
      e.in_frac = std::max(p.frac_bits + 4, s.frac_bits);
      e.max_abs_in = std::max((16 * quant::max_abs_code(p)) << (e.in_frac - p.frac_bits - 4),
                              quant::max_abs_code(s) << (e.in_frac - s.frac_bits));
      if (e.max_abs_in > 32767)
        throw Error("integer export: layer " + name + ": its input codes reach " +
                    std::to_string(e.max_abs_in) + ", beyond int16");
    }
    const int64_t K = l.conv->weight.size(1) * 9;
    const int64_t bound =
        quant::accumulator_bound(K, e.max_abs_in, quant::max_abs_code(l.weight));
    if (bound > quant::kInt32Max)
      throw Error("integer export: layer " + name + ": the int32 accumulator can overflow: " +
                  "K=" + std::to_string(K) + " inputs up to " + std::to_string(e.max_abs_in) +
                  " times weights up to " + std::to_string(quant::max_abs_code(l.weight)) +
                  " reach " + std::to_string(bound) + " > 2^31-1 (the engine does not widen)");
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

// The eval-mode path of one integer layer (int_model.h): the conv in double
// on the quantized values without bias, the accumulator read back exactly,
// then bias code, ReLU and requantise. x (N,C,H,W) -> (N,OC,H,W)
Tensor integer_eval_step(const PlanEntry& e, const Tensor& x) {
  const Tensor w = used_weight(*e.conv);
  const int fw = e.weight.frac_bits, fo = e.activation.frac_bits;
  const int acc_frac = e.in_frac + fw;
  for (int64_t k = 0; k < x.numel(); ++k) exact_code(x.data()[k], e.in_frac, e.name + " input");
  const std::vector<double> z = conv3x3_double(x, w);
  const std::vector<quant::Requant> rq = layer_requant(*e.bn, acc_frac, fo);
  const quant::CodeRange range = quant::code_range(e.activation);
  const int64_t N = x.size(0), OC = w.size(0), P = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({N, OC, x.size(2), x.size(3)});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < OC; ++c) {
      const int64_t bias = quant::bias_code(e.conv->bias.data()[c], acc_frac);
      for (int64_t p = 0; p < P; ++p) {
        const int64_t i = (n * OC + c) * P + p;
        const double acc = std::ldexp(z[size_t(i)], acc_frac);
        QAT_CHECK(acc == std::nearbyint(acc) && std::abs(acc) < 2147483648.0, e.name,
                  ": accumulator ", acc, " is not an int32 integer");
        const int64_t r = std::max<int64_t>(int64_t(acc) + bias, 0);
        const int32_t code = requantise_code(int32_t(r), rq[size_t(c)], e.activation,
                                             int32_t(range.lo), int32_t(range.hi));
        out.data()[i] = std::ldexp(float(code), -fo);
      }
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

constexpr const char* kFormat = "qat-int-model-1";

}  // namespace

std::vector<std::string> integer_layer_names() {
  std::vector<std::string> out;
  for (const char* b : {"conv2", "conv3", "conv4", "up1.conv", "up2.conv", "up3.conv"})
    for (const char* c : {".conv1", ".conv2"}) out.push_back(std::string(b) + c);
  return out;
}

std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn, int acc_frac, int out_frac) {
  std::vector<quant::Requant> out;
  for (int64_t c = 0; c < bn.weight.numel(); ++c) {
    // invstd exactly as batch_norm2d computes it in eval mode
    const float invstd = 1.0f / std::sqrt(bn.running_var.data()[c] + bn.eps);
    const float a = bn.weight.data()[c] * invstd;
    const float b = bn.bias.data()[c] - bn.running_mean.data()[c] * a;
    out.push_back(quant::requant_from_affine(std::ldexp(a, out_frac - acc_frac),
                                             std::ldexp(b, out_frac)));
  }
  return out;
}

int32_t requantise_code(int32_t acc, const quant::Requant& r, const quant::QuantSpec& out,
                        int32_t lo, int32_t hi) {
  if (out.format == Format::FixedTwos) return quant::requantise(acc, r, lo, hi);
  return quant::requantise_sign_magnitude(acc, r, out.int_bits, out.frac_bits,
                                          out.format == Format::FixedGm);
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
    const Tensor w = used_weight(*e.conv);
    for (int64_t k = 0; k < w.numel(); ++k)
      l.weight_codes.push_back(
          int32_t(exact_code(w.data()[k], e.weight.frac_bits, e.name + " weight")));
    const int acc_frac = e.in_frac + e.weight.frac_bits;
    int64_t max_bias = 0;
    for (int64_t c = 0; c < l.out_channels; ++c) {
      l.bias_codes.push_back(quant::bias_code(e.conv->bias.data()[c], acc_frac));
      max_bias = std::max<int64_t>(max_bias, std::abs(int64_t(l.bias_codes.back())));
    }
    const int64_t bound = quant::accumulator_bound(l.in_channels * 9, e.max_abs_in,
                                                   quant::max_abs_code(e.weight), max_bias);
    if (bound > quant::kInt32Max)
      throw Error("integer export: layer " + e.name + ": with its bias code " +
                  std::to_string(max_bias) + " the accumulator bound " + std::to_string(bound) +
                  " exceeds int32");
    l.requant = layer_requant(*e.bn, acc_frac, e.activation.frac_bits);
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
                    "acc = sum of input codes * weight codes + bias code (int32); y = "
                    "(max(acc,0) * multiplier + offset) / 2^shift exactly; fixed_twos "
                    "layers: code = clamp(round_half_even(y), saturation[0], saturation[1]); "
                    "fixed / fixed_gm layers (activation_format[0] = 1 / 2): sign-magnitude "
                    "Q(i.f), integer part floor(|y|) clamped to 2^i - 1, fraction rounded "
                    "half to even on its own (fixed_gm at f = 0: truncated), sign restored "
                    "(quant/int_requant.h)");
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
