// What a quantizer did to a tensor, as numbers to log while training.
// Pure functions of x (the float tensor), q (its quantized value) and the
// spec; nothing is recorded on the autograd tape.
#pragma once
#include <cstdint>

#include "autograd/tensor.h"
#include "quant/quantizers/quantize.h"
#include "quant/quantizers/spec.h"

namespace qat::quant {

// Fraction of x's elements that the format's clamp changed (QuantFlag
// kSaturated; each format file says what its clamp is: fixed's integer part
// past 2^i - 1, twos' code beyond its range, int's max element, ...).
double saturated_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale = 1.0f);

// Fraction of x's elements that a Clipped STE gives a zero gradient (input
// outside the representable range), whatever spec.ste says. Differs from
// saturated_fraction where rounding and range disagree, e.g. Q1.3 two's
// complement at 0.9: outside [-1, 0.875] yet rounded to 0.875 unclamped.
double zero_grad_fraction(const Tensor& x, const QuantSpec& spec, float binary_scale = 1.0f);

// The same two fractions from a forward already computed (one pass instead
// of one quantize_forward each).
double saturated_fraction(const Quantized& r);
double zero_grad_fraction(const Quantized& r);

// Number of distinct values in q (-0 and +0 count as one).
int64_t distinct_levels(const Tensor& q);

// mean((x - q)^2); float differences, summed as lane_sum does. Same shapes.
double quantization_mse(const Tensor& x, const Tensor& q);

// Fraction of elements whose sign (-1, 0 or +1) differs between two
// snapshots of quantized weights (binary: a flip; ternary: any change of
// state, e.g. +alpha -> 0). Same shapes.
double sign_flip_fraction(const Tensor& before, const Tensor& after);

}  // namespace qat::quant
