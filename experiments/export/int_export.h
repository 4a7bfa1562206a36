// From a trained, quantized model to the integer model the runtime runs
// (experiments/runtime/int_model.h holds the file and what each number in
// it means).
#pragma once
#include <vector>

#include "experiments/runtime/int_model.h"
#include "experiments/training/model.h"
#include "quant/int_kernels/int_requant.h"

namespace qat {

// The requantisation of one layer, as the file header says: channel c's
// accumulator unit is weight_scale[c] * 2^-shift_bits (fixed weights: scale
// 2^-f_w; binary H, ternary alpha_c, int 1, with shift_bits = f_in + g).
std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn,
                                          const std::vector<float>& weight_scale,
                                          int shift_bits, int out_frac);
// The same with every scale 1: the accumulator at acc_frac fraction bits.
std::vector<quant::Requant> layer_requant(const BatchNorm2d& bn, int acc_frac, int out_frac);
// Checks that the engine can run this model: throws qat::Error naming the
// layer and why (a float-only run, fixed_pow2, ternary activations, codes
// beyond 2^20, an activation other than ReLU, an accumulator bound beyond
// 2^53, int activations on a layer past int32). Returns each integer
// layer's f_in, in forward order.
std::vector<int> check_integer_plan(const Model& m);

// Builds the integer model from a trained model (its BatchNorms' running
// statistics are used: eval mode).
IntModel export_int_model(Model& m);

}  // namespace qat
