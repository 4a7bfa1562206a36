// Worst-case accumulator magnitudes per format; see int_bound.h.
#include "quant/int_kernels/int_bound.h"

#include <algorithm>
#include <limits>

#include "autograd/check.h"

namespace qat::quant {

CodeRange code_range(const QuantSpec& spec) {
  validate(spec);
  const int w = spec.int_bits + spec.frac_bits;  // <= kMaxWidth = 24
  const int64_t one = 1;
  switch (spec.format) {
    case Format::Fixed:
      return {-(one << w), one << w};
    case Format::FixedGm:  // truncates at f = 0: no carry to 2^i
      if (spec.frac_bits == 0) return {-((one << w) - 1), (one << w) - 1};
      return {-(one << w), one << w};
    case Format::FixedTwos:
      if (spec.is_signed) return {-(one << (w - 1)), (one << (w - 1)) - 1};
      return {0, (one << w) - 1};
    case Format::Int:
      return {-(one << (spec.code_bits - 1)), (one << (spec.code_bits - 1)) - 1};
    case Format::Binary:
    case Format::Ternary:
      return {-1, 1};
    case Format::None:
    case Format::FixedPow2:
      break;
  }
  throw Error("integer engine: format " + spec.name() +
              " has no integer code grid (expected fixed, fixed_gm, "
              "fixed_twos, int, binary or ternary)");
}

int64_t max_abs_code(const QuantSpec& spec) {
  const CodeRange r = code_range(spec);
  return std::max(-r.lo, r.hi);
}

int64_t accumulator_bound(int64_t K, int64_t max_abs_a, int64_t max_abs_w,
                          int64_t max_abs_bias) {
  QAT_CHECK(K >= 0 && max_abs_a >= 0 && max_abs_w >= 0 && max_abs_bias >= 0,
            "accumulator_bound: negative argument K=", K, " a=", max_abs_a,
            " w=", max_abs_w, " bias=", max_abs_bias);
  const __int128 b = __int128(K) * max_abs_a * max_abs_w + max_abs_bias;
  const __int128 top = std::numeric_limits<int64_t>::max();
  return int64_t(b > top ? top : b);
}

AccumulatorCheck check_accumulator(int64_t K, const QuantSpec& activation,
                                   const QuantSpec& weight, int64_t max_abs_bias) {
  const int64_t a = max_abs_code(activation), w = max_abs_code(weight);
  const int64_t bound = accumulator_bound(K, a, w, max_abs_bias);
  const bool fits = bound <= kInt32Max;
  return {bound, fits,
          detail::concat("K=", K, " ", activation.name(), " (|code| <= ", a,
                         ") x ", weight.name(), " (|code| <= ", w,
                         "), |bias| <= ", max_abs_bias, ": |acc| <= ", bound,
                         fits ? " <= 2^31 - 1, int32 is safe"
                              : " > 2^31 - 1, int32 can overflow: widen")};
}

}  // namespace qat::quant
