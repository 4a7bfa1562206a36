// The dispatch from a spec to its format's file, and the one backward every
// quantizer shares: the straight-through estimator.
//
// Why straight-through: every quantizer is a staircase, whose derivative is
// 0 almost everywhere and undefined on the steps, so the true gradient would
// stop all learning. The STE pretends the forward was the identity (or, for
// Ste::Clipped, the identity clipped to the representable range, like the
// hard tanh of BinaryNet) and hands the output's gradient to the input.
// The forward of each format marks, per element, whether its input lies
// outside that range (kOutside); the backward only reads those marks.
#include "quant/quantizers/quantize.h"

#include <memory>

#include "autograd/check.h"

namespace qat::quant {

Quantized quantize_forward(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  validate(spec);
  const int i = spec.int_bits, f = spec.frac_bits;
  switch (spec.format) {
    case Format::None:  // identity: never saturates, never outside
      return {x.detach(), std::vector<uint8_t>(size_t(x.numel()), 0)};
    case Format::Fixed: return fixed_forward(x, i, f, /*gm_code=*/false);
    case Format::FixedGm: return fixed_forward(x, i, f, /*gm_code=*/true);
    case Format::FixedPow2: return fixed_pow2_forward(x, i, f);
    case Format::FixedTwos: return fixed_twos_forward(x, i, f, spec.is_signed);
    case Format::Int: return int_forward(x, spec.code_bits);
    case Format::Binary: return binary_forward(x, binary_scale);
    case Format::Ternary: return ternary_forward(x);
  }
  QAT_CHECK(false, "quantize: unhandled format ", int(spec.format));
  return {};
}

// x (any) -> out (same shape); backward: dx += dout * pass, where pass is 1
// for Identity and [input inside the range] for Clipped. Exactly that: no
// scaling, so tests compare it with ==.
Tensor with_ste(const Tensor& x, Quantized r, Ste ste, const char* op) {
  Tensor out = r.q;
  if (!needs_grad({x})) return out;
  if (ste == Ste::Identity) {
    record(out, op, {x}, [x](const Tensor& dout) { pass_grad(x, dout); });
    return out;
  }
  auto flags = std::make_shared<std::vector<uint8_t>>(std::move(r.flags));
  record(out, op, {x}, [x, flags](const Tensor& dout) {
    bool fresh = false;
    float* dx = grad_buffer_for_write(x, fresh);
    const float* g = dout.data();
    const uint8_t* fl = flags->data();
    const int64_t n = x.numel();
    // selects, not branches: the loops vectorise
    if (fresh) {
#pragma omp parallel for if (n > 65536)
      for (int64_t k = 0; k < n; ++k) dx[k] = (fl[k] & kOutside) ? 0.0f : g[k];
    } else {
#pragma omp parallel for if (n > 65536)
      for (int64_t k = 0; k < n; ++k) dx[k] += (fl[k] & kOutside) ? 0.0f : g[k];
    }
  });
  return out;
}

Tensor quantize(const Tensor& x, const QuantSpec& spec, float binary_scale) {
  if (spec.format == Format::None) return x;
  return with_ste(x, quantize_forward(x, spec, binary_scale), spec.ste, "quantize");
}

std::vector<float> levels(const QuantSpec& spec, float binary_scale) {
  validate(spec);
  const int i = spec.int_bits, f = spec.frac_bits;
  switch (spec.format) {
    case Format::None:
      throw Error("levels: format none leaves float32 as is; every float is a level");
    case Format::Fixed: return fixed_levels(i, f, /*gm_code=*/false);
    case Format::FixedGm: return fixed_levels(i, f, /*gm_code=*/true);
    case Format::FixedPow2: return fixed_pow2_levels(i, f);
    case Format::FixedTwos: return fixed_twos_levels(i, f, spec.is_signed);
    case Format::Int: return int_levels(spec.code_bits);
    case Format::Binary: return {-binary_scale, binary_scale};
    case Format::Ternary: return {-1.0f, 0.0f, 1.0f};  // times each channel's alpha
  }
  QAT_CHECK(false, "levels: unhandled format ", int(spec.format));
  return {};
}

}  // namespace qat::quant
