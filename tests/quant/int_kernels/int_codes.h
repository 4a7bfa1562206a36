// Random integer codes for the integer-engine tests (test_int_*.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/rng.h"
#include "quant/int_kernels/int_requant.h"

namespace qat::quant::testing {

// n codes uniform in [lo, hi]
template <class T>
std::vector<T> random_codes(Rng& rng, int64_t n, int32_t lo, int32_t hi) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = T(int64_t(lo) + int64_t(rng.below(uint64_t(int64_t(hi) - lo + 1))));
  return v;
}

// A random requantisation: |multiplier| < 2^30, |offset| < 2^59, shift 0..62.
inline Requant random_requant(Rng& rng) {
  Requant r;
  r.multiplier = int32_t(rng.next_u64() >> 34) - (1 << 29);
  r.offset = int64_t(rng.next_u64() >> 4) - (int64_t(1) << 59);
  r.shift = int(rng.below(63));
  return r;
}

// One requantise-row case of n accumulators: random_requant on codes across
// int32, or (small) shifts, multipliers and offsets that keep most outputs
// inside the range, on codes near 0 (ties come up).
struct RequantCase {
  Requant r;
  std::vector<int32_t> acc;
};
inline RequantCase random_requant_case(Rng& rng, int64_t n, bool small) {
  RequantCase c{random_requant(rng), random_codes<int32_t>(rng, n, -2000000000, 2000000000)};
  if (small) {
    c.r.shift = int(rng.below(12));
    c.r.multiplier = int32_t(rng.below(2000)) - 1000;
    c.r.offset = int64_t(rng.below(1 << 20)) - (1 << 19);
    c.acc = random_codes<int32_t>(rng, n, -3000, 3000);
  }
  return c;
}

}  // namespace qat::quant::testing
