// The integer evaluation path of the simulation: verify-int's reference.
//
// The engine's integer function of a layer is in
// experiments/runtime/int_model.h. In training, the simulation is float: float bias, float BatchNorm, the
// fixed_twos quantizer rounding a float. Its float sums and the float BN
// affine round differently from the integer arithmetic (a bias is
// not on the accumulator's grid, a*z+b in float is rounded before the
// quantizer rounds it again), so the training-time forward CANNOT equal the
// engine bit for bit. integer_eval_forward() therefore runs the U-Net's
// topology itself, and computes each integer layer's function from the
// float tensors: the conv of the
// input values with the weight codes, without bias, in double (im2col +
// dgemm: exact, every partial sum is an integer multiple of 2^-f_in below
// 2^53 of them, checked at export), the accumulator read back as an integer,
// then the guard shift, bias code, ReLU and requantisation. The
// floating-point ops (conv in double, max-pool,
// bilinear x2 and concat in float32, all exact on these grids) and the
// integer kernels are independent implementations; the requantisation
// constants and rounding are shared by definition (layer_requant, int_export.h).
// verify-int runs it; `qat eval` and `qat predict`
// (train.cpp) still run the training-time float forward, whose codes differ
// from these by rounding (within one code mostly, tests/experiments/
// runtime/test_int_engine.cpp).
#pragma once
#include <functional>
#include <string>

#include "experiments/training/model.h"

namespace qat {

using LayerObserver = std::function<void(const std::string&, const Tensor&)>;

// The eval-mode forward of m with every integer layer computed exactly as
// the engine does, the first block and conv9 in float as in
// training. x (N,1,H,W) -> logits (N,1,H,W). observe, if set, sees each
// integer layer's output (values code * 2^-f) by name.
Tensor integer_eval_forward(Model& m, const Tensor& x, const LayerObserver& observe = {});

}  // namespace qat
