#include "quant/quantizers/model_size.h"

#include <algorithm>

#include "autograd/check.h"

namespace qat::quant {
namespace {
constexpr double kBytesPerMiB = 1024.0 * 1024.0;
constexpr int kFloatBits = 32;
}  // namespace

int64_t parameter_count(const std::vector<LayerRecord>& layers) {
  int64_t n = 0;
  for (const LayerRecord& l : layers) n += l.weights + l.biases + l.bn_params;
  return n;
}

double paper_size_mib(int64_t params, int bits) {
  return double(params) * double(bits) / 8.0 / kBytesPerMiB;
}

double paper_size_mib(const std::vector<LayerRecord>& layers, int bits) {
  return paper_size_mib(parameter_count(layers), bits);
}

double honest_size_mib(const std::vector<LayerRecord>& layers) {
  double bits = 0.0;
  for (const LayerRecord& l : layers) {
    const int weight_bits = l.full_precision ? kFloatBits : l.weight.bits();
    bits += double(l.weights) * weight_bits;
    bits += double(l.biases + l.bn_params) * kFloatBits;
    if (l.full_precision) continue;
    if (l.weight.format == Format::Ternary) bits += double(l.out_channels) * kFloatBits;
    if (l.weight.format == Format::Binary) bits += kFloatBits;  // H
  }
  return bits / 8.0 / kBytesPerMiB;
}

OpEnergy op_energy(EnergyClass c) {
  switch (c) {
    case EnergyClass::Int8: return {0.2, 0.03};
    case EnergyClass::Int32: return {3.1, 0.1};
    case EnergyClass::Fp16: return {1.1, 0.4};
    case EnergyClass::Fp32: return {3.7, 0.9};
  }
  QAT_CHECK(false, "op_energy: unhandled class ", int(c));
  return {};
}

const char* energy_class_name(EnergyClass c) {
  switch (c) {
    case EnergyClass::Int8: return "int8";
    case EnergyClass::Int32: return "int32";
    case EnergyClass::Fp16: return "fp16";
    case EnergyClass::Fp32: return "fp32";
  }
  return "?";
}

EnergyClass energy_class(const LayerRecord& l) {
  if (l.full_precision || l.weight.format == Format::None ||
      l.activation.format == Format::None)
    return EnergyClass::Fp32;
  const int width = std::max(l.weight.bits(), l.activation.bits());
  return width <= 8 ? EnergyClass::Int8 : EnergyClass::Int32;
}

double layer_energy_pj(const LayerRecord& l) {
  const OpEnergy e = op_energy(energy_class(l));
  return double(l.macs) * (e.mul_pj + e.add_pj);
}

double energy_pj(const std::vector<LayerRecord>& layers) {
  double total = 0.0;
  for (const LayerRecord& l : layers) total += layer_energy_pj(l);
  return total;
}

}  // namespace qat::quant
