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

// span * P and span * N of every row, group and lane of A (M, K): (M,
// groups, 2), each <= 255 * 2 * 128, an int32.
struct LaneSums {
  int64_t groups;
  std::vector<int32_t> pos, neg;
};

LaneSums lane_sums(const int8_t* A, int64_t M, int64_t K, int64_t span) {
  LaneSums s{(K + 3) / 4, {}, {}};
  s.pos.assign(size_t(M * 2 * s.groups), 0);
  s.neg.assign(s.pos.size(), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      const int32_t w = A[m * K + k];
      const size_t at = size_t(m * 2 * s.groups + 2 * (k / 4) + (k % 4) / 2);  // row, group, lane
      (w > 0 ? s.pos[at] : s.neg[at]) += int32_t(span) * (w > 0 ? w : -w);
    }
  return s;
}

// f(window, lane, p, n) for each window of `run` groups of row m, p and n
// the window's span * P and span * N.
template <class F>
void for_each_window(const LaneSums& s, int64_t m, int64_t run, F f) {
  const int32_t* pos = s.pos.data() + m * 2 * s.groups;
  const int32_t* neg = s.neg.data() + m * 2 * s.groups;
  for (int64_t g0 = 0; g0 < s.groups; g0 += run)
    for (int lane = 0; lane < 2; ++lane) {
      int64_t p = 0, n = 0;
      for (int64_t g = g0; g < std::min(s.groups, g0 + run); ++g)
        p += pos[2 * g + lane], n += neg[2 * g + lane];
      f(g0 / run, lane, p, n);
    }
}

bool window_fits(int64_t p, int64_t n) { return p + n <= 65535; }

}  // namespace

int maddubs_run(const int8_t* A, int64_t M, int64_t K, int64_t span) {
  QAT_CHECK(M >= 0 && K >= 0 && span >= 0 && span <= 255, "maddubs_run: M=", M, " K=", K,
            " span=", span, " (expected unsigned bytes, span <= 255)");
  const LaneSums s = lane_sums(A, M, K, span);
  // a window of one group is one pair, which must not saturate
  for (size_t i = 0; i < s.pos.size(); ++i)
    if (s.pos[i] > 32767 || s.neg[i] > 32768) return 0;
  // Aligned windows of different lengths are not nested (a row may allow 8
  // and not 7), so each candidate is checked on every row.
  for (int run = kMaxByteRun; run > 1; --run) {
    bool all = true;
    for (int64_t m = 0; m < M && all; ++m)
      for_each_window(s, m, run, [&](int64_t, int, int64_t p, int64_t n) {
        all = all && window_fits(p, n);
      });
    if (all) return run;
  }
  return 1;  // one pair: p <= 32767 and n <= 32768 are 2^16 values at most
}

std::vector<int32_t> maddubs_centres(const int8_t* A, int64_t M, int64_t K, int64_t span,
                                     int run) {
  QAT_CHECK(run >= 1 && run <= kMaxByteRun && span >= 0 && span <= 255,
            "maddubs_centres: run ", run, ", span ", span);
  const LaneSums s = lane_sums(A, M, K, span);
  const int64_t windows = (s.groups + run - 1) / run;
  std::vector<int32_t> c(size_t(M * windows * 2));
  for (int64_t m = 0; m < M; ++m)
    for_each_window(s, m, run, [&](int64_t w, int lane, int64_t p, int64_t n) {
      QAT_CHECK(window_fits(p, n), "maddubs_centres: run ", run, " is not proven for row ", m);
      // [-n - c, p - c] inside [-32768, 32767]; 0 where it is already
      c[size_t((m * windows + w) * 2 + lane)] =
          int32_t(std::clamp<int64_t>(0, p - 32767, 32768 - n));
    });
  return c;
}

}  // namespace qat::quant
