// The export's view of one trained model: for each integer layer, its conv,
// BatchNorm, formats and input range, checked against what the engine can
// run. Shared by the exporter (int_export.cpp) and the simulation's
// integer eval path (integer_eval.cpp); not part of the runtime.
#pragma once
#include <string>
#include <vector>

#include "experiments/runtime/int_model.h"
#include "experiments/training/model.h"

namespace qat {

// One integer layer as the model holds it, with what its input is.
struct PlanEntry {
  std::string name;
  Conv2d* conv = nullptr;
  BatchNorm2d* bn = nullptr;
  DownConv* block = nullptr;
  bool second = false;       // the block's conv2 (else conv1)
  int in_frac = 0;
  int64_t max_abs_in = 0;    // the largest |input code| the formats allow
  quant::QuantSpec weight, activation;
  int guard = 0;             // IntLayer::guard
  int64_t gemm_bound = 0;    // K * max_abs_in * max|weight code|
};

// The layer called name; qat::Error if m has none.
const LayerQuant& layer_of(const Model& m, const std::string& name);

// The integer layers of m in forward order (integer_layer_names), each
// checked: throws qat::Error naming the layer and why the engine cannot run
// it (a float-only run, fixed_pow2, ternary activations, codes beyond 2^20,
// an activation other than ReLU, an accumulator bound beyond 2^53, int
// activations on a layer past int32).
std::vector<PlanEntry> plan_integer_layers(Model& m);

// Per output channel, the weight's scale s_c and codes q / s_c: fixed
// formats 2^-f (codes q * 2^f), binary H and ternary alpha_c (the largest
// |q| of the channel: every nonzero q is +-s_c; codes +-1 and 0), int 1 (the
// quantizer's output is the code itself). qat::Error if q is not on that
// grid. w (OC, C, 3, 3) quantized.
struct WeightCodes {
  std::vector<int32_t> codes;
  std::vector<float> scale;
};
WeightCodes weight_codes(const Tensor& w, const quant::QuantSpec& spec, const std::string& what);
// The bias codes of a layer: round_half_even(bias / s_c * 2^(f_in + g)),
// the bias in units of the shifted accumulator (double: the division is
// rounded once, then nearbyint rounds half to even; exact for fixed formats,
// whose s_c is a power of two).
std::vector<int32_t> bias_codes(const Conv2d& conv, const std::vector<float>& scale,
                                int shift_bits);
// The weight as the forward uses it: after its quantizer, if it has one.
Tensor used_weight(const Conv2d& conv);

}  // namespace qat
