// How big a quantized U-Net is and what one inference costs in energy:
// pure arithmetic over per-layer records (layers/ or experiments/ fill them).
//
// Two sizes, both in MiB (2^20 bytes; the paper prints "MB"):
// - paper_size_mib: the paper's column. EVERY parameter (weights, biases,
//   BatchNorm's gamma and beta, the full-precision first block and last
//   conv) at ONE bit width, params * bits / 8 / 2^20, as torchsummary
//   counts. 4,837,249 parameters give 9.23 (16 bits), 4.61 (8), 2.31 (4),
//   1.15 (2); and 18.45 (32) and 0.58 (1) where the paper prints 18.48 and
//   0.56. The bits the paper uses for a row are its weight format's i + f
//   (QuantSpec::paper_bits()).
// - honest_size_mib: what a device would store. Quantized weights at their
//   storage bits (QuantSpec::bits(): sign-magnitude Q0.4 is 5 bits, not 4),
//   biases, BatchNorm parameters and every weight of a full-precision layer
//   at 32 bits, plus the float32 scales a format needs to mean anything:
//   one alpha per output channel for ternary, one H per layer for binary.
//   (int's codes are used as they are by the released code: no scale.)
//
// Energy per inference, from Horowitz (ISSCC 2014), 45 nm, pJ per op:
//            MUL   ADD
//   int8     0.2   0.03
//   int32    3.1   0.1
//   fp16     1.1   0.4
//   fp32     3.7   0.9
// Each MAC costs one MUL + one ADD of the class chosen from the WIDER of the
// layer's weight and input-activation formats, by storage bits():
//   - none (float32), or a layer kept full precision        -> fp32
//   - <= 8 bits: int8. This includes binary (1) and ternary (2): their
//     products are sign flips or selects, far cheaper than an int8 MUL, but
//     the table has no cheaper entry, so int8 is an upper bound for them.
//   - 9..32 bits: int32, the table's next integer width. So 16-bit fixed
//     (Q8.8, 17 bits sign-magnitude) costs int32, and so does the paper's
//     "8-bit" Q8.0 x Q0.8 row: sign-magnitude Q8.0 is 9 bits. A two's
//     complement Q8.0 (8 bits) would cost int8.
//   The fp16 row is never chosen (no format here is a half float); it is in
//   op_energy() for comparisons.
// Only the convolutions' MACs are counted: BatchNorm, activations, pooling
// and upsampling are O(activations), not O(MACs), and the table has no
// memory-access energy, which in reality dominates.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/quantizers/spec.h"

namespace qat::quant {

struct LayerRecord {
  std::string name;
  int64_t weights = 0;       // OC * C * KH * KW
  int64_t biases = 0;        // OC, or 0 without bias
  int64_t out_channels = 0;  // OC: ternary stores one alpha per channel
  int64_t bn_params = 0;     // BatchNorm gamma + beta after this conv (0 if none)
  int64_t macs = 0;          // multiply-accumulates per inference (one image)
  QuantSpec weight;          // format of the weights
  QuantSpec activation;      // format of the values the conv reads (its input)
  bool full_precision = false;  // kept float32 whatever the specs say
};

// Weights + biases + BatchNorm parameters, summed over the layers.
int64_t parameter_count(const std::vector<LayerRecord>& layers);

// params * bits / 8 / 2^20.
double paper_size_mib(int64_t params, int bits);
double paper_size_mib(const std::vector<LayerRecord>& layers, int bits);

double honest_size_mib(const std::vector<LayerRecord>& layers);

enum class EnergyClass { Int8, Int32, Fp16, Fp32 };
struct OpEnergy {
  double mul_pj, add_pj;
};
OpEnergy op_energy(EnergyClass c);  // the table above
const char* energy_class_name(EnergyClass c);  // "int8", "int32", "fp16", "fp32"

// The class one MAC of this layer is costed at (rules above).
EnergyClass energy_class(const LayerRecord& layer);

// macs * (MUL + ADD) of the layer's class, in pJ; and the sum over layers.
double layer_energy_pj(const LayerRecord& layer);
double energy_pj(const std::vector<LayerRecord>& layers);

}  // namespace qat::quant
