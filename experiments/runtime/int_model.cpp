// The integer model file; see int_model.h.
#include "experiments/runtime/int_model.h"

#include <filesystem>

#include "data/atomic_write.h"
#include "data/fnv1a.h"
#include "data/h5.h"
#include "data/h5_io.h"
#include "layers/topology/unet_topology.h"

namespace qat {
namespace {

using quant::Format;
using quant::QuantSpec;
using Fnv = data::Fnv1a;

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
    data::write_h5_dataset(file, path, v.data(), dims);
  }
  void tensor(const std::string& path, Tensor& t) {
    std::vector<float> v = t.to_vector();
    array(path, v, std::vector<hsize_t>(t.shape().begin(), t.shape().end()));
  }
};

// The largest dataset an integer model holds: width 64's widest conv has
// 2.4 million weights.
constexpr hsize_t kMaxValues = hsize_t(1) << 28;

struct Reader {
  hid_t file;
  std::string file_name;
  Fnv fnv;
  template <class T>
  void array(const std::string& path, std::vector<T>& v, std::vector<hsize_t> expected) {
    const std::vector<hsize_t> dims =
        data::h5_dataset_dims(file, file_name + " (not a complete qat integer model)", path);
    if (!expected.empty() && dims != expected)
      throw Error(file_name + ": dataset '" + path + "' has " + std::to_string(dims.size()) +
                  " dims not matching the model's expected shape");
    // Shapes come from the file: a declared, unstored dataset can be huge.
    hsize_t n = 1;
    for (hsize_t d : dims)
      if (__builtin_mul_overflow(n, d, &n) || n > kMaxValues)
        throw Error(file_name + ": dataset '" + path + "' has more than " +
                    std::to_string(kMaxValues) + " values, expected a U-Net layer's");
    v.resize(size_t(n));
    data::read_h5_dataset(file, path, v.data());
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

// with_upsample_flag: the file is qat-int-model-3 (it has /requantize_upsample).
template <class Io>
void model_io(Io& io, IntModel& m, bool with_upsample_flag) {
  std::vector<int64_t> meta{m.width, m.in_channels, int64_t(m.prefix.size()),
                            int64_t(m.layers.size())};
  io.array("/meta", meta, {4});
  m.width = meta[0], m.in_channels = meta[1];
  if (with_upsample_flag) {
    std::vector<int32_t> flag{m.requantize_upsample ? 1 : 0};
    io.array("/requantize_upsample", flag, {1});
    m.requantize_upsample = flag[0] != 0;
  }
  const std::vector<std::string> names = integer_layer_names();
  if (meta[2] != 2 || meta[3] != int64_t(names.size()))
    throw Error(detail::concat("integer model: /meta says ", meta[2], " float and ", meta[3],
                               " integer layers, expected 2 and ", names.size()));
  m.prefix.resize(2);
  m.layers.resize(size_t(meta[3]));
  const topology::Block& first = topology::kBlocks.front();
  m.prefix[0].name = topology::conv_name(first, 1), m.prefix[1].name = topology::conv_name(first, 2);
  for (FloatLayer& l : m.prefix) float_layer_io(io, l);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    m.layers[i].name = names.at(i);
    int_layer_io(io, m.layers[i]);
  }
  m.last.name = std::string(topology::kHead);
  float_layer_io(io, m.last);
}

// An attribute outside the checksum; "" when the file has none.
std::string optional_attr(hid_t file, const std::string& name, const std::string& path) {
  return data::h5_has_attr(file, name) ? data::read_h5_string_attr(file, name, path) : "";
}

constexpr const char* kFormat = "qat-int-model-2";
constexpr const char* kFormatRequantized = "qat-int-model-3";  // + /requantize_upsample

}  // namespace


std::vector<std::string> integer_layer_names() {
  // Every block's convs but the first block's (the float prefix); the head
  // stays float too.
  std::vector<std::string> out;
  for (size_t b = 1; b < topology::kBlocks.size(); ++b)
    for (int which : {1, 2}) out.push_back(topology::conv_name(topology::kBlocks[b], which));
  return out;
}

std::vector<IntLayerInputs> integer_layer_inputs() {
  std::vector<IntLayerInputs> out;
  for (size_t b = 1; b < topology::kBlocks.size(); ++b) {
    const topology::Block& block = topology::kBlocks[b];
    // Integer layer 2(b-1) is block b's conv1; -1 is the input quantizer,
    // the second conv of block 0.
    const int previous_block_out = 2 * int(b - 1) - 1;
    IntLayerInputs first{previous_block_out, block.join, -1};
    if (block.join == topology::Join::UpConcat)
      first.skip = 2 * topology::block_index(block.skip) - 1;
    out.push_back(first);
    out.push_back({int(out.size()) - 1, topology::Join::Image, -1});  // conv2 reads conv1
  }
  return out;
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

void write_int_model(const std::string& path, const IntModel& model) {
  IntModel m = model;  // the walk takes non-const references
  // Made in memory and written in one checked write (data/atomic_write.h):
  // a full disk is one error and leaves no partial model behind.
  data::write_file_atomic(path, data::h5_file_image([&](hid_t file) {
    Writer w{file, {}};
    model_io(w, m, m.requantize_upsample);
    data::write_h5_string_attr(file, "format",
                               m.requantize_upsample ? kFormatRequantized : kFormat);
    data::write_h5_string_attr(file, "checksum", std::to_string(w.fnv.h));
    data::write_h5_string_attr(file, "rounding",
                    "acc = (sum of input codes * weight codes) * 2^guard + bias code (int32, "
                    "or int64 where acc_bound > 2^31-1); y = "
                    "(max(acc,0) * multiplier + offset) / 2^shift exactly; binary "
                    "layers: code = +1 if y >= 0 else -1; fixed_twos "
                    "layers: code = clamp(round_half_even(y), saturation[0], saturation[1]); "
                    "fixed / fixed_gm layers (activation_format[0] = 1 / 2): sign-magnitude "
                    "Q(i.f), integer part floor(|y|) clamped to 2^i - 1, fraction rounded "
                    "half to even on its own (fixed_gm at f = 0: truncated), sign restored "
                    "(quant/int_kernels/int_requant.h)" +
                    std::string(m.requantize_upsample ?
                    "; requantize_upsample = 1: an up-block's bilinear x2 upsampled codes u "
                    "(at f + 4) are rounded back to the format they came from before its "
                    "first conv: fixed_twos clamp(round_half_even(u / 16)), fixed / "
                    "fixed_gm as above on u / 16 (quant/int_kernels/int_ops.h)" : ""));
    data::write_h5_string_attr(file, "config", m.config_yaml);
    data::write_h5_string_attr(file, "source_checkpoint", m.source_checkpoint);
  }));
}

IntModel read_int_model(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": integer model file not found");
  // H5Fis_hdf5: a file of another kind (an ONNX model, say) gets its
  // own message, not HDF5's "could not open"
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw Error(path + ": not an HDF5 file, or a truncated one; expected a qat integer model "
                       "(HDF5, written by `qat export CHECKPOINT`; experiments/runtime/FORMAT.md)");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0)
    throw Error(path + ": HDF5 cannot open it: truncated or corrupted; expected a qat integer "
                       "model written by `qat export CHECKPOINT`");
  data::H5Handle file = data::h5_file(id, "open " + path);
  const std::string format = optional_attr(file, "format", path);
  if (format != kFormat && format != kFormatRequantized)
    throw Error(path + ": attribute 'format' is '" + format + "', expected '" + kFormat +
                "' or '" + kFormatRequantized + "' (write one with `qat export CHECKPOINT`)");
  IntModel m;
  Reader r{file, path, {}, {}};
  model_io(r, m, format == kFormatRequantized);
  const std::string stored = optional_attr(file, "checksum", path);
  if (stored != std::to_string(r.fnv.h))
    throw Error(path + ": checksum mismatch: the file says " + stored +
                ", its datasets hash to " + std::to_string(r.fnv.h) +
                " (FNV-1a 64): the file is corrupted; export it again");
  m.config_yaml = optional_attr(file, "config", path);
  m.source_checkpoint = optional_attr(file, "source_checkpoint", path);
  return m;
}

}  // namespace qat
