// Random integer codes for the integer-engine tests (test_int_*.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/rng.h"

namespace qat::quant::testing {

// n codes uniform in [lo, hi]
template <class T>
std::vector<T> random_codes(Rng& rng, int64_t n, int32_t lo, int32_t hi) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(int64_t(lo) + int64_t(rng.below(uint64_t(int64_t(hi) - lo + 1))));
  return v;
}

}  // namespace qat::quant::testing
