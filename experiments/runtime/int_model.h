// The exported integer model: a trained QAT U-Net as integer codes, integer
// requantisation constants and the few full-precision layers the config
// keeps, written to and read from HDF5 with a checksum.
//
// ## What is integer, and what the integer function of a layer is
// The engine (int_engine.h) splits the U-Net in three:
//   float prefix   conv1 block (conv -> ReLU -> BN -> act_quant, twice), run
//                  with the same float ops as the simulation; its last
//                  quantizer is the INPUT QUANTIZER: its output is codes.
//   integer part   conv2 .. up3.conv (12 convs), max-pools, upsamplings and
//                  concatenations, on codes only.
//   float suffix   dequantise -> conv9 -> sigmoid.
// An integer layer L (a conv of blocks conv2 .. up3.conv) takes input codes x
// at f_in fraction bits and weight codes w, weight = code * s_c (fixed
// formats s_c = 2^-f_w; binary H; ternary alpha_c; int 1, the quantizer's
// output being the code), and computes, per output channel c and pixel p:
//   acc  = (sum x*w) * 2^g + bias_code  exact; bias_code = round_half_even(
//                                       bias / s_c * 2^(f_in+g)); g = 8 guard
//                                       bits for binary and ternary weights,
//                                       else 0. int32 when the layer's bound
//                                       (acc_bound) fits, else int64
//   r    = max(acc, 0)                  the ReLU, on the accumulator
//   code = clamp(round_half_even((r * M_c + O_c) / 2^S_c), lo, hi)
// (fixed_twos; for the sign-magnitude fixed and fixed_gm formats the same
// y = (r * M_c + O_c) / 2^S_c is rounded as quant/quantizers/fixed.cpp rounds a float:
// requantise_sign_magnitude; binary: +1 if y >= 0 else -1; int n bits: the
// whole tensor's y min-max normalised exactly, requantise_min_max; all in
// quant/int_kernels/int_requant.h)
// where (M_c, O_c, S_c) = requant_from_affine(A_c, B_c) (quant/int_kernels/int_requant.h)
// of the BatchNorm's eval affine y = a*z + b taken to codes:
//   a = gamma * invstd (float, invstd = 1 / sqrt(var + eps) as batch_norm2d
//   computes it), b = beta - mean * a (float),
//   A_c = (a * s_c, rounded to float) * 2^(f_out - f_in - g), B_c = b * 2^f_out.
// M/2^S equals A exactly; O/2^S equals B exactly unless Requant::exact is
// false (written to the file). Saturation [lo, hi] is the output format's
// code range (quant/int_kernels/int_bound.h code_range).
//
// The eval-mode simulation computes the same function from float tensors
// (experiments/export/integer_eval.h), so that verify-int can check the
// engine code by code.
//
// This file and the engine are the integer runtime: they need the integer
// kernels, the quantizer formats and autograd's float ops for the first
// block and conv9, and nothing from training, layers/ or the config.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"
#include "layers/topology/unet_topology.h"
#include "quant/int_kernels/int_requant.h"
#include "quant/quantizers/spec.h"

namespace qat {

// A full-precision conv (conv1.conv1, conv1.conv2, conv9) with the BN and
// quantizer that follow it (none for conv9). The weight is stored as the
// forward uses it (after its weight quantizer, if the config has one).
struct FloatLayer {
  std::string name;
  Tensor weight, bias;                 // (OC,C,3,3), (OC)
  bool has_bn = false;
  Tensor gamma, beta, mean, var;       // (OC) each
  float eps = 1e-5f;
  quant::QuantSpec activation;         // Format::None: no quantizer
};

struct IntLayer {
  std::string name;
  int64_t out_channels = 0, in_channels = 0;
  int in_frac = 0;                      // f_in of the input codes
  // fixed_twos, fixed, fixed_gm, binary, ternary or int weights; fixed_twos,
  // fixed, fixed_gm or binary activations (file header: which and why)
  quant::QuantSpec weight, activation;
  std::vector<int32_t> weight_codes;    // (OC, C, 3, 3)
  int guard = 0;                        // g: the sum is shifted left g bits before the bias
  std::vector<int32_t> bias_codes;      // (OC) at f_in + g fraction bits of the weight scale
  std::vector<quant::Requant> requant;  // (OC)
  int32_t lo = 0, hi = 0;               // saturation of the output codes
  // |sum x*w| <= gemm_bound, |sum * 2^g + bias| <= acc_bound (int_bound.h).
  // acc_bound > 2^31 - 1: the layer runs widened (int64 accumulator).
  int64_t gemm_bound = 0, acc_bound = 0;
};

struct IntModel {
  int64_t width = 0, in_channels = 1;
  // Each up-block's upsampled codes (f + 4) rounded back to the grid of the
  // layer they were upsampled from before its first conv, as the
  // simulation's quantizer after the upsample (config requantize_upsample;
  // quant/int_kernels/int_ops.h round_to_grid). Files with it are format
  // qat-int-model-3, which engines before it refuse; files without it stay
  // qat-int-model-2, byte for byte as before.
  bool requantize_upsample = false;
  std::vector<FloatLayer> prefix;  // conv1.conv1, conv1.conv2
  std::vector<IntLayer> layers;    // conv2.conv1 .. up3.conv.conv2, forward order
  FloatLayer last;                 // conv9
  // Where it came from (file attributes, outside the checksum): the run's
  // resolved config as YAML and the checkpoint path, for verify-int.
  std::string config_yaml, source_checkpoint;
};

// The integer layers' names in forward order: every conv of the U-Net's
// blocks but the first block's (topology::kBlocks).
std::vector<std::string> integer_layer_names();

// What integer layer i reads, from the topology: previous (and skip) are
// integer layer indices, -1 for the integer part's input (the first
// block's output codes); join is Pooled or UpConcat for a block's first
// conv, Image (meaning: as it is) for its second.
struct IntLayerInputs {
  int previous;
  topology::Join join;
  int skip;
};
std::vector<IntLayerInputs> integer_layer_inputs();

// One code of the output format out: two's complement or sign-magnitude
// rounding of (acc * M + O) / 2^S, or its sign for binary (acc after the
// ReLU; int64 for a widened layer).
int32_t requantise_code(int64_t acc, const quant::Requant& r, const quant::QuantSpec& out,
                        int32_t lo, int32_t hi);
// The fraction bits of a format's codes: f for fixed*, 0 for binary,
// ternary and int (their codes are +-1, 0 or the integer itself).
int frac_bits_of(const quant::QuantSpec& s);

// HDF5. The checksum is FNV-1a 64 over every dataset's path and bytes, in
// the order written; read_int_model recomputes it and refuses a file whose
// checksum differs (naming the file, both values).
void write_int_model(const std::string& path, const IntModel& m);
IntModel read_int_model(const std::string& path);

}  // namespace qat
