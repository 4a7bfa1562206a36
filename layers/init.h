// Uniform weight initialisations, seeded: ours (Glorot), BinaryConnect's,
// and the two the paper's released code runs (SPEC.md, Training).
// fan_in = C*KH*KW and fan_out = OC*KH*KW of a conv weight (OC,C,KH,KW).
#pragma once
#include "autograd/rng.h"
#include "autograd/tensor.h"

namespace qat {

enum class Init {
  Glorot,         // U(-a, a), a = sqrt(6 / (fan_in + fan_out)), as PyTorch's xavier_uniform_
  BinaryConnect,  // U(-H, H), H = sqrt(1.5 / (fan_in + fan_out)), BinaryConnect's form
  PyTorchDefault, // U(-a, a), a = 1 / sqrt(fan_in), bias too: nn.Conv2d's own reset_parameters
  Unit,           // U(-1, 1): the paper's Conv2dQuant with H = 1 (zero bias)
};

// The bound a (or H) of the uniform for this weight shape.
float init_bound(Init kind, const Shape& weight_shape);
void init_uniform(Tensor& weight, Init kind, Rng& rng);

}  // namespace qat
