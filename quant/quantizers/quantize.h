// The quantizer op: quantize(x, spec) with a straight-through backward, the
// grid of levels each format can produce, and the per-format pieces the
// tests and the telemetry use (fast forward, naive scalar reference).
//
// Use in a layer:  w_q = quantize(w, make_spec("FIXED", 0, 4));
//                  a_q = quantize(a, make_spec(Format::Binary));
//                  w_b = quantize(w, make_spec(Format::Binary), /*binary_scale=*/H);
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "quant/quantizers/spec.h"

namespace qat::quant {

// x (any shape) -> q (same shape). Records a straight-through backward when
// x needs a gradient: dx = dq (Ste::Identity), or dq where the input lies in
// the format's range and 0 elsewhere (Ste::Clipped). binary_scale is H of
// BinaryConnect and is read by binary only. Ternary reads dim 0 of x as the
// output channel. Format::None returns x itself.
Tensor quantize(const Tensor& x, const QuantSpec& spec, float binary_scale = 1.0f);

// Every value the format can produce, ascending. Fixed-point and int are
// exact grids; binary is {-H, +H}; ternary's levels depend on the tensor
// (per channel +-alpha), so levels() gives them in units of alpha:
// {-1, 0, 1}, and ternary_alphas() gives the alphas. fixed_pow2 has no lower
// end in the code: every power of two down to float32's smallest (2^-149)
// is a level. Format::None throws (every float is a level).
std::vector<float> levels(const QuantSpec& spec, float binary_scale = 1.0f);

// ---- what a forward did, per element ---------------------------------
enum QuantFlag : uint8_t {
  kSaturated = 1,  // the format's clamp changed this value (telemetry)
  kOutside = 2,    // the input lies outside the representable range:
                   // Ste::Clipped gives it a zero gradient
};

struct Quantized {
  Tensor q;                    // same shape as x, no graph
  std::vector<uint8_t> flags;  // QuantFlag bits, one byte per element
};

// The forward alone, with flags, no graph (telemetry and tests).
Quantized quantize_forward(const Tensor& x, const QuantSpec& spec,
                           float binary_scale = 1.0f);

// Attaches the straight-through backward to r.q (what quantize() does after
// the forward).
Tensor with_ste(const Tensor& x, Quantized r, Ste ste, const char* op);

// ---- per format: fast forward, naive reference, levels -------------------
// The naive references are scalar loops written as literally as the
// formula; only tests call them, to check the fast forwards.

// fixed.cpp: Format::Fixed (gm_code = false) and Format::FixedGm (true).
Quantized fixed_forward(const Tensor& x, int i, int f, bool gm_code);
float fixed_naive(float x, int i, int f, bool gm_code);
std::vector<float> fixed_levels(int i, int f, bool gm_code);

// fixed_pow2.cpp
Quantized fixed_pow2_forward(const Tensor& x, int i, int f);
float fixed_pow2_naive(float x, int i, int f);
float fixed_pow2_max(int i, int f);  // 2^(i-1) + 1 - 2^-f (2^(i-1) := 0 at i = 0)
std::vector<float> fixed_pow2_levels(int i, int f);

// fixed_twos.cpp
Quantized fixed_twos_forward(const Tensor& x, int i, int f, bool is_signed);
float fixed_twos_naive(float x, int i, int f, bool is_signed);
std::vector<float> fixed_twos_levels(int i, int f, bool is_signed);
// The integer a Q(i.f) register holds: value * 2^f, saturated. An integer
// engine multiplies these and shifts; quantize() gives code / 2^f.
int32_t fixed_twos_code(float x, int i, int f, bool is_signed);
std::vector<int32_t> fixed_twos_codes(const Tensor& x, int i, int f, bool is_signed);

// int.cpp (outputs codes, not rescaled values)
Quantized int_forward(const Tensor& x, int n);
std::vector<float> int_naive(const std::vector<float>& x, int n);
std::vector<float> int_levels(int n);

// binary.cpp
Quantized binary_forward(const Tensor& x, float scale);
float binary_naive(float x, float scale);

// ternary.cpp: w (OC, ...) with dim 0 the output channel
Quantized ternary_forward(const Tensor& w);
std::vector<float> ternary_alphas(const Tensor& w);  // (OC) the scales
// w as OC rows of `row` values each.
std::vector<float> ternary_naive(const std::vector<float>& w, int64_t oc, int64_t row);

}  // namespace qat::quant
