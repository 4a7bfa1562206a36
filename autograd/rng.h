// A small seeded generator whose stream is the same on every platform and
// compiler (std:: distributions are not), with state that fits in a
// checkpoint. xoshiro256** seeded through splitmix64.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

namespace qat {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    for (auto& s : state_) s = splitmix64(seed);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 24 random bits: every value is exact in float.
  float uniform() { return float(next_u64() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return next_u64() % n; }
  // Standard normal by Box-Muller (one value per call, the other dropped,
  // so the stream does not depend on how many normals were asked before).
  float normal() {
    const double u1 = (double(next_u64() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(next_u64() >> 11) * 0x1.0p-53;
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }

  // A child generator for an independent stream (e.g. one per worker).
  Rng split() { return Rng(next_u64()); }

  using State = std::array<uint64_t, 4>;
  const State& state() const { return state_; }
  void set_state(const State& s) { state_ = s; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  State state_{};
};

}  // namespace qat
