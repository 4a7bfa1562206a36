// Can an int32 accumulator overflow? The worst case of one output of an
// integer conv (int_gemm.h, int_ops.h), per format, for the engine to decide
// whether a layer runs in int32 or must widen.
//
// One accumulator is sum_{k<K} a_k * w_k + bias over K = C*KH*KW products
// (K = C*9 for the U-Net's 3x3 convs, up to 512*9 = 4608 in up1), so
//   |acc| <= K * max|a| * max|w| + max|bias|
// and the layer is safe in int32 when that bound is <= 2^31 - 1. The bound
// is attained (every a = w = the most negative code), so it cannot be
// tightened without knowing the data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/quantizers/spec.h"

namespace qat::quant {

// The codes a tensor quantized with spec can hold, value = code * 2^-f
// (w = i + f):
//   fixed             [-2^w, 2^w]          sign-magnitude with the fraction carry
//                                          (Q8.0: +-256, Q0.8: +-256, Q6.0: +-64)
//   fixed_gm          the same; at f = 0 it truncates: [-(2^i - 1), 2^i - 1]
//   fixed_twos        [-2^(w-1), 2^(w-1) - 1] signed (Q8.0, Q0.8: -128..127),
//                     [0, 2^w - 1] unsigned
//   int (n bits)      [-2^(n-1), 2^(n-1) - 1]
//   binary, ternary   [-1, 1]              the code is the sign; H or alpha is a
//                                          per-layer/per-channel scale applied in
//                                          the requantisation, outside the sum
// none (float) and fixed_pow2 (no common grid: nearest power of two with no
// lower end) have no integer code: qat::Error naming the format.
struct CodeRange {
  int64_t lo, hi;
};
CodeRange code_range(const QuantSpec& spec);

// The largest |code|: max(-lo, hi) of code_range.
int64_t max_abs_code(const QuantSpec& spec);

inline constexpr int64_t kInt32Max = 2147483647;  // 2^31 - 1

// K * max_abs_a * max_abs_w + max_abs_bias, saturated at INT64_MAX.
int64_t accumulator_bound(int64_t K, int64_t max_abs_a, int64_t max_abs_w,
                          int64_t max_abs_bias = 0);

struct AccumulatorCheck {
  int64_t bound;      // accumulator_bound of the formats
  bool fits_int32;    // bound <= 2^31 - 1
  std::string report; // "K=4608 Q8.0 two's complement x Q0.8 ...: |acc| <= ... < 2^31"
};
AccumulatorCheck check_accumulator(int64_t K, const QuantSpec& activation,
                                   const QuantSpec& weight,
                                   int64_t max_abs_bias = 0);

}  // namespace qat::quant

namespace qat::quant {

// ## When vpmaddubsw is exact (the AVX2 byte GEMM, int_gemm_maddubs.cpp)
// vpmaddubsw multiplies 32 UNSIGNED bytes of b by 32 SIGNED bytes of a and
// adds adjacent products into 16 SATURATING int16 lanes; the kernel then adds
// `run` of those int16 results (vpaddw, wrapping) before one vpmaddwd by ones
// widens them to int32. With B's codes offset to [0, span] (span = hi - lo of
// the activation format) and k in groups of 4 (lane 0 of a group: k = 4g,
// 4g+1; lane 1: 4g+2, 4g+3), one int16 lane of row m adds the products of the
// weights of its k-set S over a window of `run` groups, so its sum lies in
// [-span * N(S), span * P(S)], P and N the sums of the positive and of the
// negated negative weights in S; both ends are reached (b = span where the
// weight has the sign, 0 elsewhere). Two conditions make the kernel exact
// for every input:
//   - no pair saturates: span * P <= 32767 and span * N <= 32768 for the
//     two weights of each lane of each group;
//   - each window's sum is known from its value mod 2^16: its interval
//     holds at most 2^16 values, span * (P + N) <= 65535. The kernel starts
//     the lane at -c instead of 0 (wrapping adds are exact mod 2^16), c a
//     centre that puts [-span N - c, span P - c] inside int16, and adds c
//     back with the row's correction. c = 0 where the interval is inside
//     int16 already; lopsided windows (mostly positive weights, say) need
//     it, and with it the runs of Q0.8 weights came out 1.6-2x longer.
// The weights are the layer's own codes (constants once exported), so the
// proof holds for any activation the format can produce.
inline constexpr int kMaxByteRun = 32;
// The largest run in [1, kMaxByteRun] for which that holds for A (M, K)
// (windows of run groups from group 0, the last one shorter), or 0 when
// a single pair can saturate (then the layer keeps vpmaddwd on int16).
int maddubs_run(const int8_t* A, int64_t M, int64_t K, int64_t span);
// The centres c of A's windows of `run` groups, (M, windows, 2 lanes), for a
// run maddubs_run allows.
std::vector<int32_t> maddubs_centres(const int8_t* A, int64_t M, int64_t K, int64_t span,
                                     int run);

}  // namespace qat::quant
