// Telemetry arithmetic on small hand cases.
#include <doctest/doctest.h>

#include "autograd/check.h"
#include "quant/quantizers/telemetry.h"

using namespace qat;
using namespace qat::quant;

namespace {
Tensor vec(const std::vector<float>& v) { return Tensor::from(v, {int64_t(v.size())}); }
}  // namespace

TEST_CASE("telemetry: saturated and zero-gradient fractions") {
  // Q1.3 two's complement, range [-1, 0.875]: 0.9 is outside but rounds to
  // 7/8 unclamped; 0.95 (code 7.6 -> 8) and -1.2 (-9.6 -> -10) are clamped.
  const Tensor x = vec({0.9f, 0.95f, -1.0f, -1.2f});
  const QuantSpec q13 = make_twos_spec(1, 3, true);
  CHECK(saturated_fraction(x, q13) == 0.5);
  CHECK(zero_grad_fraction(x, q13) == 0.75);
  // fixed Q0.2: 1.5 and -2 have their integer part clamped
  const QuantSpec q02 = make_spec(Format::Fixed, 0, 2);
  CHECK(saturated_fraction(vec({0.5f, 1.5f, -2.0f, 0.1f}), q02) == 0.5);
  CHECK(zero_grad_fraction(vec({0.5f, 1.5f, -2.0f, 0.1f}), q02) == 0.5);
  // int: only the max element is pinned; nothing is outside min..max
  const QuantSpec n2 = make_spec(Format::Int, 2, 0);
  CHECK(saturated_fraction(vec({0, 1, 2, 3, 4}), n2) == 0.2);
  CHECK(zero_grad_fraction(vec({0, 1, 2, 3, 4}), n2) == 0.0);
  // binary: |x| > 1, whatever H
  CHECK(zero_grad_fraction(vec({-3.0f, 0.5f, 1.0f, 2.0f}), make_spec(Format::Binary), 0.1f) == 0.5);
  // zero_grad_fraction ignores spec.ste: it is what a Clipped STE would do
  CHECK(zero_grad_fraction(vec({5.0f}), make_spec(Format::Fixed, 1, 0, Ste::Identity)) == 1.0);
  CHECK(saturated_fraction(vec({5.0f, 1e9f}), make_spec(Format::None)) == 0.0);
}

TEST_CASE("telemetry: distinct levels, MSE, sign flips") {
  CHECK(distinct_levels(vec({0.0f, -0.0f, 0.5f, 0.5f, -1.0f})) == 3);
  CHECK(distinct_levels(vec({2.0f})) == 1);
  CHECK(quantization_mse(vec({1.0f, 2.0f}), vec({0.5f, 2.5f})) == 0.25);
  CHECK(quantization_mse(vec({1.0f, -3.0f, 0.0f}), vec({1.0f, 0.0f, 0.0f})) == 3.0);
  // binary: two of four flipped
  CHECK(sign_flip_fraction(vec({1, -1, 1, -1}), vec({1, 1, -1, -1})) == 0.5);
  // ternary: +a -> 0 and 0 -> +a are changes; -a -> -a and 0 -> -0 are not
  CHECK(sign_flip_fraction(vec({0.3f, 0.0f, -0.3f, 0.0f}), vec({0.0f, 0.0f, -0.3f, 0.3f})) == 0.5);
  CHECK(sign_flip_fraction(vec({0.0f}), vec({-0.0f})) == 0.0);
  CHECK_THROWS_AS(sign_flip_fraction(vec({1, 2}), vec({1, 2, 3})), Error);
  CHECK_THROWS_AS(quantization_mse(vec({1}), vec({1, 2})), Error);
}
