// Worst-case accumulator magnitudes per format; see int_bound.h.
#include "quant/int_kernels/int_bound.h"

#include <algorithm>
#include <limits>
#include <vector>

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

namespace qat::quant {

namespace {
// Does every window of `run` groups keep every lane of one row inside
// int16? pos, neg (groups, 2): per group and lane, span * P and span * N.
bool run_fits(const int32_t* pos, const int32_t* neg, int64_t groups, int64_t run) {
  for (int64_t g0 = 0; g0 < groups; g0 += run)
    for (int lane = 0; lane < 2; ++lane) {
      int64_t p = 0, n = 0;
      for (int64_t g = g0; g < std::min(groups, g0 + run); ++g)
        p += pos[2 * g + lane], n += neg[2 * g + lane];
      if (p > 32767 || n > 32768) return false;
    }
  return true;
}
}  // namespace

int maddubs_run(const int8_t* A, int64_t M, int64_t K, int64_t span) {
  QAT_CHECK(M >= 0 && K >= 0 && span >= 0 && span <= 255, "maddubs_run: M=", M, " K=", K,
            " span=", span, " (expected unsigned bytes, span <= 255)");
  const int64_t groups = (K + 3) / 4;
  // span * P and span * N per row, group and lane (<= 255 * 2 * 128: int32)
  std::vector<int32_t> pos(size_t(M * 2 * groups), 0), neg(pos.size(), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      const int32_t w = A[m * K + k];
      const size_t at = size_t(m * 2 * groups + 2 * (k / 4) + (k % 4) / 2);  // row, group, lane
      (w > 0 ? pos[at] : neg[at]) += int32_t(span) * (w > 0 ? w : -w);
    }
  // Aligned windows of different lengths are not nested (a row may allow 8
  // and not 7), so each candidate is checked on every row.
  for (int run = kMaxByteRun; run > 0; --run) {
    bool all = true;
    for (int64_t m = 0; m < M && all; ++m)
      all = run_fits(pos.data() + m * 2 * groups, neg.data() + m * 2 * groups, groups, run);
    if (all) return run;
  }
  return 0;
}

}  // namespace qat::quant
