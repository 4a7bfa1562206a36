// Long sums that vectorise without -ffast-math.
#pragma once
#include <algorithm>
#include <cstdint>

namespace qat {

// Sum of f(i) for i in [0, n): sixteen float lanes, which the compiler turns
// into one vector register (a plain float loop it may not reorder), added
// into a double every kFlush elements so that long planes keep the accuracy
// of a double sum.
template <class F>
double lane_sum(int64_t n, F f) {
  constexpr int L = 16;
  constexpr int64_t kFlush = 1024;
  double total = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += kFlush) {
    const int64_t i1 = std::min(n, i0 + kFlush);
    float acc[L] = {};
    int64_t i = i0;
    for (; i + L <= i1; i += L)
      for (int l = 0; l < L; ++l) acc[l] += f(i + l);
    for (; i < i1; ++i) acc[0] += f(i);
    for (int l = 0; l < L; ++l) total += double(acc[l]);
  }
  return total;
}

}  // namespace qat
