// The upsampled codes rounded back to the activation grid (int_ops.h
// round_to_grid, the engine's side of requantize_upsample) against the
// simulation's side, quant::quantize of the float upsampled tensor: on every
// code at f + 4 an upsampling of the format's codes can give, on every 2x2
// input of the small formats through the whole op, and against the
// quantizers' double-precision references.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/ops.h"
#include "autograd/rng.h"
#include "quant/int_kernels/int_bound.h"
#include "quant/int_kernels/int_ops.h"
#include "quant/quantizers/quantize.h"
#include "tests/quant/int_kernels/int_codes.h"

using namespace qat;
using namespace qat::quant;
using qat::quant::testing::random_codes;

namespace {

// The activation formats of README's table and their neighbours: both
// roundings, f = 0 and f > 0, i = 0, fixed_gm's truncation at f = 0, and a
// wide format whose codes need int16 (Q8.8 two's complement).
std::vector<QuantSpec> formats() {
  return {make_spec(Format::FixedTwos, 8, 0), make_spec(Format::FixedTwos, 6, 0),
          make_spec(Format::FixedTwos, 0, 8), make_spec(Format::FixedTwos, 0, 4),
          make_spec(Format::FixedTwos, 3, 2), make_spec(Format::FixedTwos, 8, 8),
          make_twos_spec(4, 1, /*is_signed=*/false),
          make_spec(Format::Fixed, 8, 0),     make_spec(Format::Fixed, 6, 0),
          make_spec(Format::Fixed, 0, 8),     make_spec(Format::Fixed, 0, 4),
          make_spec(Format::Fixed, 3, 2),     make_spec(Format::FixedGm, 6, 0),
          make_spec(Format::FixedGm, 8, 0),   make_spec(Format::FixedGm, 2, 3)};
}

// The format's rounding of v, literally (fixed.cpp's and fixed_twos.cpp's
// naive references, in double).
float naive(float v, const QuantSpec& s) {
  if (s.format == Format::FixedTwos) return fixed_twos_naive(v, s.int_bits, s.frac_bits, s.is_signed);
  return fixed_naive(v, s.int_bits, s.frac_bits, s.format == Format::FixedGm);
}

}  // namespace

TEST_CASE("int grid: round_half_even_sixteenth is round half to even of v / 16") {
  for (int32_t v = -4096; v <= 4096; ++v)
    CHECK(round_half_even_sixteenth(v) == int32_t(std::nearbyint(double(v) / 16)));
  CHECK(round_half_even_sixteenth(8) == 0);    // 0.5 -> 0
  CHECK(round_half_even_sixteenth(24) == 2);   // 1.5 -> 2
  CHECK(round_half_even_sixteenth(-8) == 0);   // -0.5 -> 0
  CHECK(round_half_even_sixteenth(-24) == -2);
}

TEST_CASE("int grid: round_to_grid equals quantize on every upsampled code of every format") {
  // Bilinear x2's weights are >= 0 and sum to 16, so its output u lies in
  // [16 lo, 16 hi]: every integer of it is tried, a superset of what the
  // upsampling of the format's codes can give.
  for (const QuantSpec& s : formats()) {
    const CodeRange r = code_range(s);
    const GridRounding g = grid_rounding(s);
    const int f = s.frac_bits;
    std::vector<float> v;
    for (int64_t u = 16 * r.lo; u <= 16 * r.hi; ++u) v.push_back(std::ldexp(float(u), -(f + 4)));
    const Tensor q = quantize(Tensor::from(v, {int64_t(v.size())}), s);
    int64_t bad = 0, bad_naive = 0, outside = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      const int32_t c = round_to_grid(int32_t(16 * r.lo + int64_t(k)), g);
      bad += std::ldexp(float(c), -f) != q.data()[k];
      bad_naive += std::ldexp(float(c), -f) != naive(v[k], s);
      outside += c < r.lo || c > r.hi;
    }
    INFO(s.name(), ": ", v.size(), " codes at f + 4");
    CHECK(v.size() > 200);
    CHECK(bad == 0);
    CHECK(bad_naive == 0);
    CHECK(outside == 0);  // the codes stay in the format: the same bytes
  }
}

TEST_CASE("int grid: the whole op equals quantize(upsample_bilinear2x) on every 2x2 input") {
  // Each 2x2 plane [a b; c d] gives 16 outputs: corners 16a, borders
  // 12a + 4b, interior 9a + 3b + 3c + d, in every order: every quad of codes
  // of the small formats (16-17 levels), all as planes of one call.
  for (const QuantSpec& s : {make_spec(Format::FixedTwos, 4, 0), make_spec(Format::FixedTwos, 1, 3),
                             make_spec(Format::Fixed, 3, 0), make_spec(Format::Fixed, 0, 3),
                             make_spec(Format::FixedGm, 3, 0), make_spec(Format::Fixed, 1, 2)}) {
    const CodeRange r = code_range(s);
    std::vector<int8_t> x;
    for (int64_t a = r.lo; a <= r.hi; ++a)
      for (int64_t b = r.lo; b <= r.hi; ++b)
        for (int64_t c = r.lo; c <= r.hi; ++c)
          for (int64_t d = r.lo; d <= r.hi; ++d)
            x.insert(x.end(), {int8_t(a), int8_t(b), int8_t(c), int8_t(d)});
    const int64_t planes = int64_t(x.size()) / 4;
    std::vector<int8_t> out(x.size() * 4);
    upsample_bilinear2x_to_grid(out.data(), x.data(), planes, 2, 2, grid_rounding(s));
    std::vector<float> xv(x.size());
    for (size_t k = 0; k < x.size(); ++k) xv[k] = std::ldexp(float(x[k]), -s.frac_bits);
    const Tensor want =
        quantize(upsample_bilinear2x(Tensor::from(xv, {planes, 1, 2, 2})), s);
    int64_t bad = 0;
    for (size_t k = 0; k < out.size(); ++k)
      bad += std::ldexp(float(out[k]), -s.frac_bits) != want.data()[k];
    INFO(s.name(), ": ", planes, " quads");
    CHECK(planes >= 15 * 15 * 15 * 15);
    CHECK(bad == 0);
  }
}

TEST_CASE("int grid: int8, int16 and int32 planes of odd sizes equal the simulation") {
  Rng rng(83);
  for (const QuantSpec& s : formats()) {
    const CodeRange r = code_range(s);
    const GridRounding g = grid_rounding(s);
    for (const auto& [H, W] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{25, 25}}) {
      const int64_t planes = 3, n = planes * H * W;
      auto check = [&](auto codes) {
        using T = typename decltype(codes)::value_type;
        std::vector<T> out(size_t(4 * n));
        upsample_bilinear2x_to_grid(out.data(), codes.data(), planes, H, W, g);
        std::vector<float> xv(codes.size());
        for (size_t k = 0; k < codes.size(); ++k) xv[k] = std::ldexp(float(codes[k]), -s.frac_bits);
        const Tensor want = quantize(upsample_bilinear2x(Tensor::from(xv, {1, planes, H, W})), s);
        int64_t bad = 0;
        for (size_t k = 0; k < out.size(); ++k)
          bad += std::ldexp(float(out[k]), -s.frac_bits) != want.data()[k];
        INFO(s.name(), " ", H, "x", W, " ", sizeof(T), " bytes");
        CHECK(bad == 0);
      };
      if (r.lo >= -128 && r.hi <= 127) check(random_codes<int8_t>(rng, n, r.lo, r.hi));
      if (r.lo >= -32768 && r.hi <= 32767) check(random_codes<int16_t>(rng, n, r.lo, r.hi));
      check(random_codes<int32_t>(rng, n, r.lo, r.hi));
    }
  }
}

TEST_CASE("int grid: formats without a fixed grid are refused naming the format") {
  for (const QuantSpec& s : {make_spec(Format::Int, 8, 0), make_spec(Format::Binary),
                             make_spec(Format::FixedPow2, 4, 4), QuantSpec{}})
    CHECK_THROWS_WITH_AS(grid_rounding(s), doctest::Contains("has no fixed grid"), Error);
}
