// Quantizer forwards: hand-computed values (ties, negatives, range ends,
// saturation), level grids, and the fast forwards against the naive scalar
// references on many random inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/rng.h"
#include "quant/quantizers/quantize.h"

using namespace qat;
using namespace qat::quant;

namespace {

std::vector<float> run(const QuantSpec& spec, const std::vector<float>& x, float h = 1.0f) {
  return quantize(Tensor::from(x, {int64_t(x.size())}), spec, h).to_vector();
}

std::vector<uint8_t> flags_of(const QuantSpec& spec, const std::vector<float>& x) {
  return quantize_forward(Tensor::from(x, {int64_t(x.size())}), spec).flags;
}

// Random values across [-span, span], a third of them on exact ties
// (odd multiples of half a step), so that rounding ties are exercised.
std::vector<float> random_values(Rng& rng, int count, float span, int f) {
  std::vector<float> v;
  for (int k = 0; k < count; ++k) {
    const float x = rng.uniform(-span, span);
    if (k % 3 == 0) {
      const float half_step = std::ldexp(1.0f, -f - 1);
      v.push_back((2.0f * std::floor(x / (2.0f * half_step)) + 1.0f) * half_step);
    } else {
      v.push_back(x);
    }
  }
  return v;
}

bool in_levels(const std::vector<float>& lv, float q) {
  return std::binary_search(lv.begin(), lv.end(), q);
}

}  // namespace

TEST_CASE("fixed Q0.2: half-to-even on the fraction, carry, sign, wrap past 2^i") {
  const QuantSpec q02 = make_spec(Format::Fixed, 0, 2);
  // 0.125*4 = 0.5 -> 0; 0.375*4 = 1.5 -> 2; 0.625*4 = 2.5 -> 2; 0.875*4 = 3.5 -> 4
  CHECK(run(q02, {0.125f, 0.375f, -0.625f, 0.875f}) == std::vector<float>{0.0f, 0.5f, -0.5f, 1.0f});
  // carry into the integer part: 0.9*4 = 3.6 -> 4 -> 1.0; 0.3*4 = 1.2 -> 1
  CHECK(run(q02, {0.9f, -0.9f, 0.3f, 0.0f}) == std::vector<float>{1.0f, -1.0f, 0.25f, 0.0f});
  // |x| >= 1: integer part clamped to 0, fraction kept: 1.3 -> 0.25, 1.0 -> 0
  CHECK(run(q02, {1.3f, -2.75f, 1.0f}) == std::vector<float>{0.25f, -0.75f, 0.0f});
  CHECK(flags_of(q02, {0.99f, 1.0f, -1.3f}) ==
        std::vector<uint8_t>{0, kSaturated | kOutside, kSaturated | kOutside});
}

TEST_CASE("fixed Q2.0 and Q6.0: ties go by the fraction's parity, magnitudes reach 2^i") {
  const QuantSpec q20 = make_spec(Format::Fixed, 2, 0);
  // 1.5 -> 1 + round(0.5) = 1 (torch.round(1.5) would be 2); 2.5 -> 2; 3.7 -> 3 + 1
  CHECK(run(q20, {1.5f, 2.5f, 3.5f, 3.7f, -2.6f}) == std::vector<float>{1, 2, 3, 4, -3});
  // 4.2: integer 4 clamped to 3, fraction 0.2 -> 0; 100.6 -> 3 + 1
  CHECK(run(q20, {4.2f, 100.6f, -5.0f}) == std::vector<float>{3, 4, -3});
  const QuantSpec q60 = make_spec(Format::Fixed, 6, 0);
  CHECK(run(q60, {63.5f, 63.6f, -63.7f, 1000.0f}) == std::vector<float>{63, 64, -64, 63});
  const QuantSpec q88 = make_spec(Format::Fixed, 8, 8);
  // 2^-9 * 256 = 0.5 -> 0; 3 * 2^-9 * 256 = 1.5 -> 2
  CHECK(run(q88, {0x1p-9f, 3 * 0x1p-9f, 1.00390625f, -255.999f}) ==
        std::vector<float>{0.0f, 0x1p-7f, 1.00390625f, -256.0f});
}

TEST_CASE("fixed_gm: the GM code truncates at f = 0 and equals fixed for f >= 1") {
  const QuantSpec gm60 = make_spec(Format::FixedGm, 6, 0);
  CHECK(run(gm60, {2.7f, -2.7f, 63.9f, 100.0f, 0.99f}) == std::vector<float>{2, -2, 63, 63, 0});
  const QuantSpec gm02 = make_spec(Format::FixedGm, 0, 2);
  CHECK(run(gm02, {0.9f, 0.125f, 0.375f}) == std::vector<float>{1.0f, 0.0f, 0.5f});
}

TEST_CASE("fixed_twos: asymmetric range, whole-code ties, saturation, codes") {
  const QuantSpec q13 = make_twos_spec(1, 3, /*is_signed=*/true);  // [-1, 0.875] step 1/8
  // 0.9*8 = 7.2 -> 7; 0.95*8 = 7.6 -> 8 -> saturates to 7; -1.2 -> -9.6 -> -10 -> -8
  CHECK(run(q13, {0.9f, 0.95f, -1.0f, -1.2f}) == std::vector<float>{0.875f, 0.875f, -1.0f, -1.0f});
  // 0.0625*8 = 0.5 -> 0; 0.1875*8 = 1.5 -> 2
  CHECK(run(q13, {0.0625f, 0.1875f}) == std::vector<float>{0.0f, 0.25f});
  CHECK(flags_of(q13, {0.9f, 0.95f, -1.0f, -1.2f}) ==
        std::vector<uint8_t>{kOutside, kSaturated | kOutside, 0, kSaturated | kOutside});
  const QuantSpec q30 = make_twos_spec(3, 0, true);  // [-4, 3]
  // the whole value is rounded: 1.5 -> 2 (fixed gives 1), 2.5 -> 2, 3.7 -> 3
  CHECK(run(q30, {1.5f, 2.5f, 0.5f, 3.7f, -4.4f}) == std::vector<float>{2, 2, 0, 3, -4});
  const QuantSpec q04 = make_twos_spec(0, 4, true);  // [-0.5, 0.4375]
  CHECK(run(q04, {0.45f, -0.6f, 0.9f}) == std::vector<float>{0.4375f, -0.5f, 0.4375f});
  const QuantSpec u40 = make_twos_spec(4, 0, /*is_signed=*/false);  // [0, 15]
  CHECK(run(u40, {-0.3f, -3.0f, 15.4f, 15.6f, 7.5f}) == std::vector<float>{0, 0, 15, 15, 8});
  CHECK(fixed_twos_code(0.9f, 1, 3, true) == 7);
  CHECK(fixed_twos_code(-1.2f, 1, 3, true) == -8);
  CHECK(fixed_twos_code(1.5f, 8, 8, true) == 384);
  CHECK(fixed_twos_code(-300.0f, 8, 8, true) == -32768);
  CHECK(fixed_twos_codes(Tensor::from({0.9f, -0.3f}, {2}), 1, 3, true) ==
        std::vector<int32_t>{7, -2});
}

TEST_CASE("fixed_pow2: nearest power of two in log2, clamp to 2^(i-1) + 1 - 2^-f") {
  CHECK(fixed_pow2_max(8, 8) == 128.99609375f);
  CHECK(fixed_pow2_max(0, 4) == 0.9375f);
  CHECK(fixed_pow2_max(1, 1) == 1.5f);
  const QuantSpec q88 = make_spec(Format::FixedPow2, 8, 8);
  // log2 3 = 1.58 -> 4; log2 0.001 = -9.97 -> 2^-10; 181 < 128*sqrt2 -> 128;
  // 182 -> 256 -> clamp; -0.7 (log2 = -0.51) -> -0.5; -0.71 (-0.49) -> -1
  CHECK(run(q88, {3.0f, 0.001f, 181.0f, 182.0f, -0.7f, -0.71f, 0.0f}) ==
        std::vector<float>{4.0f, 0x1p-10f, 128.0f, 128.99609375f, -0.5f, -1.0f, 0.0f});
  const QuantSpec q11 = make_spec(Format::FixedPow2, 1, 1);  // M = 1.5
  // 1.45 rounds to 2, clamped to 1.5: saturated but inside the range
  CHECK(run(q11, {1.45f, 1.6f, 1.4f}) == std::vector<float>{1.5f, 1.5f, 1.0f});
  CHECK(flags_of(q11, {1.45f, 1.6f, 1.4f}) ==
        std::vector<uint8_t>{kSaturated, kSaturated | kOutside, 0});
}

TEST_CASE("fixed_pow2: exact rounding at the sqrt(2) boundaries and on subnormals") {
  const int i = 24, f = 0;  // M = 2^23 + 1 - 1: wide, so nothing below is clamped
  std::vector<float> x;
  for (int k = -149; k < 23; ++k) {
    const float b = float(std::sqrt(2.0) * std::ldexp(1.0, k));  // rounded to float
    for (float v : {b, std::nextafter(b, 0.0f), std::nextafter(b, 1e30f), std::ldexp(1.0f, k)})
      x.push_back(v), x.push_back(-v);
  }
  const std::vector<float> q = run(make_spec(Format::FixedPow2, i, f), x);
  int mismatches = 0;
  for (size_t k = 0; k < x.size(); ++k) mismatches += q[k] != fixed_pow2_naive(x[k], i, f);
  CHECK(mismatches == 0);
  // by hand: 1.5 * 2^-140 (subnormal) -> 2^-139; 1.4 * 2^-140 -> 2^-140
  CHECK(run(make_spec(Format::FixedPow2, 1, 1), {1.5f * 0x1p-140f, -1.4f * 0x1p-140f}) ==
        std::vector<float>{0x1p-139f, -0x1p-140f});
}

TEST_CASE("int: min-max codes, the max element pinned, a constant tensor") {
  const QuantSpec n2 = make_spec(Format::Int, 2, 0);
  // range 4: u = 0, .25, .5, .75, 1 -> 4u = 0..4, top clamped to 3, minus 2
  CHECK(run(n2, {0, 1, 2, 3, 4}) == std::vector<float>{-2, -1, 0, 1, 1});
  CHECK(flags_of(n2, {0, 1, 2, 3, 4}) == std::vector<uint8_t>{0, 0, 0, 0, kSaturated});
  const QuantSpec n3 = make_spec(Format::Int, 3, 0);
  // range 2: u = 0, .75, 1 -> 8u = 0, 6, 8 -> 7, minus 4
  CHECK(run(n3, {-1.0f, 0.5f, 1.0f}) == std::vector<float>{-4, 2, 3});
  CHECK(run(n3, {5.0f, 5.0f, 5.0f}) == std::vector<float>{-4, -4, -4});
  const QuantSpec n8 = make_spec(Format::Int, 8, 0);
  CHECK(run(n8, {-3.0f, 0.0f, 7.0f}) == std::vector<float>{-128, -128 + 76, 127});  // 256*0.3 = 76.8
}

TEST_CASE("binary: sign with sign(0) = +1, times H") {
  const QuantSpec b = make_spec(Format::Binary);
  CHECK(run(b, {-2.0f, -0.5f, -0.0f, 0.0f, 0.3f, 1.0f, 1.5f}, 0.25f) ==
        std::vector<float>{-0.25f, -0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f});
  CHECK(flags_of(b, {-2.0f, -1.0f, 1.0f, 1.5f}) ==
        std::vector<uint8_t>{kSaturated | kOutside, 0, 0, kSaturated | kOutside});
}

TEST_CASE("ternary: TWN threshold and scale per output channel") {
  // channel 0: mean|w| = 1.625/4, delta = 0.284..; |w| > delta: 1.0, 0.5 -> alpha 0.75
  // channel 1: all zero -> alpha 0, stays 0; channel 2: all 1 -> alpha 1
  const Tensor w = Tensor::from({0.125f, -1.0f, 0.5f, 0.0f, 0, 0, 0, 0, 1, -1, 1, -1}, {3, 4, 1, 1});
  const Quantized r = quantize_forward(w, make_spec(Format::Ternary));
  CHECK(r.q.to_vector() == std::vector<float>{0, -0.75f, 0.75f, 0, 0, 0, 0, 0, 1, -1, 1, -1});
  CHECK(r.flags[1] == (kSaturated | kOutside));  // |-1| > 0.75
  CHECK(r.flags[2] == 0);
  CHECK(ternary_alphas(w) == std::vector<float>{0.75f, 0.0f, 1.0f});
  CHECK_THROWS_AS(quantize(Tensor::scalar(1.0f), make_spec(Format::Ternary)), Error);
}

TEST_CASE("none: identity, the same tensor") {
  const Tensor x = Tensor::from({0.123f, -7.0f}, {2});
  CHECK(quantize(x, make_spec(Format::None)).same(x));
  CHECK_THROWS_AS(levels(make_spec(Format::None)), Error);
}

TEST_CASE("levels: the exact grids") {
  auto grid = [](int lo_num, int hi_num, int f) {  // j / 2^f for j in [lo, hi]
    std::vector<float> g;
    for (int j = lo_num; j <= hi_num; ++j) g.push_back(std::ldexp(float(j), -f));
    return g;
  };
  CHECK(levels(make_spec(Format::Fixed, 0, 4)) == grid(-16, 16, 4));  // 33 in [-1, 1]
  CHECK(levels(make_spec(Format::Fixed, 0, 2)).size() == 9);
  CHECK(levels(make_spec(Format::Fixed, 0, 2)) == grid(-4, 4, 2));
  CHECK(levels(make_spec(Format::Fixed, 8, 0)) == grid(-256, 256, 0));  // 513
  CHECK(levels(make_spec(Format::Fixed, 6, 0)) == grid(-64, 64, 0));    // 129
  CHECK(levels(make_spec(Format::Fixed, 0, 8)).size() == 513);
  CHECK(levels(make_spec(Format::Fixed, 8, 8)).size() == 131073);
  CHECK(levels(make_spec(Format::FixedGm, 6, 0)) == grid(-63, 63, 0));  // no carry
  CHECK(levels(make_twos_spec(1, 3, true)) == grid(-8, 7, 3));
  CHECK(levels(make_twos_spec(4, 0, false)) == grid(0, 15, 0));
  CHECK(levels(make_spec(Format::Int, 8, 0)) == grid(-128, 127, 0));
  CHECK(levels(make_spec(Format::Binary), 0.5f) == std::vector<float>{-0.5f, 0.5f});
  CHECK(levels(make_spec(Format::Ternary)) == std::vector<float>{-1, 0, 1});
  const auto p = levels(make_spec(Format::FixedPow2, 0, 4));
  REQUIRE(p.size() == 301);  // 0, +-0.9375, +-2^k for k = -149 .. -1
  CHECK(p.front() == -0.9375f);
  CHECK(p[1] == -0.5f);
  CHECK(p[150] == 0.0f);
  CHECK(p[151] == std::ldexp(1.0f, -149));
  CHECK(std::is_sorted(p.begin(), p.end()));
}

TEST_CASE("fast forwards equal the naive references and stay on the level grid") {
  Rng rng(7);
  struct Case {
    QuantSpec spec;
    float span;
  };
  const std::vector<Case> cases = {
      {make_spec(Format::Fixed, 0, 4), 2.5f},    {make_spec(Format::Fixed, 0, 2), 2.5f},
      {make_spec(Format::Fixed, 6, 0), 150.0f},  {make_spec(Format::Fixed, 8, 8), 600.0f},
      {make_spec(Format::Fixed, 3, 5), 20.0f},   {make_spec(Format::FixedGm, 6, 0), 150.0f},
      {make_spec(Format::FixedGm, 0, 4), 2.5f},  {make_spec(Format::FixedPow2, 8, 8), 400.0f},
      {make_spec(Format::FixedPow2, 0, 4), 2.0f}, {make_twos_spec(1, 3, true), 2.0f},
      {make_twos_spec(8, 8, true), 300.0f},      {make_twos_spec(4, 2, false), 40.0f},
  };
  for (const Case& c : cases) {
    CAPTURE(c.spec.name());
    const std::vector<float> x = random_values(rng, 4000, c.span, c.spec.frac_bits);
    const std::vector<float> q = run(c.spec, x);
    const std::vector<float> lv = levels(c.spec);
    const int i = c.spec.int_bits, f = c.spec.frac_bits;
    int mismatches = 0, off_grid = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      float ref = 0.0f;
      if (c.spec.format == Format::FixedPow2) ref = fixed_pow2_naive(x[k], i, f);
      else if (c.spec.format == Format::FixedTwos) ref = fixed_twos_naive(x[k], i, f, c.spec.is_signed);
      else ref = fixed_naive(x[k], i, f, c.spec.format == Format::FixedGm);
      mismatches += q[k] != ref;
      off_grid += !in_levels(lv, q[k]);
    }
    CHECK(mismatches == 0);
    CHECK(off_grid == 0);
  }
  // int: whole-tensor statistics, one vector per width
  for (int n : {1, 2, 4, 8, 12}) {
    const std::vector<float> x = random_values(rng, 3000, 5.0f, 3);
    const std::vector<float> q = run(make_spec(Format::Int, n, 0), x);
    CHECK(q == int_naive(x, n));
    const std::vector<float> lv = int_levels(n);
    CHECK(std::all_of(q.begin(), q.end(), [&](float v) { return in_levels(lv, v); }));
  }
  // binary
  const std::vector<float> xb = random_values(rng, 3000, 2.0f, 2);
  const std::vector<float> qb = run(make_spec(Format::Binary), xb, 0.3f);
  const std::vector<float> lb = levels(make_spec(Format::Binary), 0.3f);
  for (size_t k = 0; k < xb.size(); ++k) {
    CHECK(qb[k] == binary_naive(xb[k], 0.3f));
    CHECK(in_levels(lb, qb[k]));
  }
  // ternary: conv weight (OC, C, KH, KW), every output in {-a_c, 0, a_c}
  const int64_t oc = 6, row = 5 * 3 * 3;
  const std::vector<float> w = random_values(rng, int(oc * row), 0.5f, 6);
  const Tensor wt = Tensor::from(w, {oc, 5, 3, 3});
  const std::vector<float> qt = quantize(wt, make_spec(Format::Ternary)).to_vector();
  CHECK(qt == ternary_naive(w, oc, row));
  const std::vector<float> alphas = ternary_alphas(wt);
  for (int64_t c = 0; c < oc; ++c) {
    CHECK(alphas[size_t(c)] > 0.0f);
    for (int64_t k = 0; k < row; ++k) {
      const float v = qt[size_t(c * row + k)];
      CHECK((v == 0.0f || v == alphas[size_t(c)] || v == -alphas[size_t(c)]));
    }
  }
}
