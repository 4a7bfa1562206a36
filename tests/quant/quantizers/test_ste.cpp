// Straight-through backwards: the gradient must be exactly the surrogate,
// dq passed unchanged (Identity) or zeroed outside the range (Clipped), with
// the range written here independently from each format's definition.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "autograd/rng.h"
#include "quant/quantizers/quantize.h"

using namespace qat;
using namespace qat::quant;

namespace {

Tensor uniform(const Shape& shape, Rng& rng, float span) {
  Tensor t = Tensor::empty(shape);
  for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = rng.uniform(-span, span);
  return t;
}

// d/dx of sum(quantize(x) * r): by the chain rule, r times the STE's pass.
std::vector<float> ste_grad(const Tensor& x_values, const QuantSpec& spec, const Tensor& r,
                            float h = 1.0f) {
  Tensor x = x_values.clone();
  x.requires_grad_();
  sum(mul(quantize(x, spec, h), r)).backward();
  return x.grad().to_vector();
}

}  // namespace

TEST_CASE("STE: the gradient is exactly r, or r inside the range and 0 outside") {
  Rng rng(3);
  using InRange = std::function<bool(float x, int64_t k)>;
  struct Case {
    QuantSpec spec;
    float span;
    InRange in_range;
  };
  const Shape shape{4, 3, 5, 5};  // read as a conv weight by ternary
  const Tensor w = uniform(shape, rng, 0.5f);
  const std::vector<float> alphas = ternary_alphas(w);
  const int64_t row = 3 * 5 * 5;
  const std::vector<Case> cases = {
      {make_spec(Format::Fixed, 0, 4), 2.0f, [](float x, int64_t) { return std::fabs(x) < 1.0f; }},
      {make_spec(Format::FixedGm, 2, 0), 6.0f, [](float x, int64_t) { return std::fabs(x) < 4.0f; }},
      {make_spec(Format::FixedPow2, 1, 2), 3.0f,
       [](float x, int64_t) { return std::fabs(x) <= 1.75f; }},  // M = 1 + 0.75
      {make_twos_spec(1, 3, true), 2.0f,
       [](float x, int64_t) { return x >= -1.0f && x <= 0.875f; }},
      {make_twos_spec(2, 1, false), 5.0f,
       [](float x, int64_t) { return x >= 0.0f && x <= 3.5f; }},
      {make_spec(Format::Int, 4, 0), 3.0f, [](float, int64_t) { return true; }},
      {make_spec(Format::Binary), 2.0f, [](float x, int64_t) { return std::fabs(x) <= 1.0f; }},
      {make_spec(Format::Ternary), 0.0f,
       [&](float x, int64_t k) { return std::fabs(x) <= alphas[size_t(k / row)]; }},
  };
  for (const Case& c : cases) {
    for (Ste ste : {Ste::Identity, Ste::Clipped}) {
      QuantSpec spec = c.spec;
      spec.ste = ste;
      CAPTURE(spec.name());
      CAPTURE(int(ste));
      const Tensor x = spec.format == Format::Ternary ? w : uniform(shape, rng, c.span);
      const Tensor r = uniform(shape, rng, 1.0f);
      const std::vector<float> g = ste_grad(x, spec, r, /*h=*/0.2f);
      int wrong = 0, zeros = 0;
      for (int64_t k = 0; k < x.numel(); ++k) {
        const bool pass = ste == Ste::Identity || c.in_range(x.data()[k], k);
        const float expected = pass ? r.data()[k] : 0.0f;
        wrong += g[size_t(k)] != expected;
        zeros += !pass;
      }
      CHECK(wrong == 0);
      // The random inputs must reach outside the range, or Clipped is untested.
      if (ste == Ste::Clipped && spec.format != Format::Int) CHECK(zeros > 0);
    }
  }
}

TEST_CASE("STE: none passes the gradient; no graph without requires_grad; graph freed") {
  Rng rng(5);
  const Tensor r = uniform({10}, rng, 1.0f);
  const Tensor x = uniform({10}, rng, 3.0f);
  CHECK(ste_grad(x, make_spec(Format::None), r) == r.to_vector());
  CHECK(quantize(x, make_spec(Format::Fixed, 0, 4)).is_leaf());
  const int64_t before = Node::live();
  {
    Tensor xg = x.clone();
    xg.requires_grad_();
    Tensor y = quantize(xg, make_spec(Format::Fixed, 1, 2, Ste::Clipped));
    CHECK(!y.is_leaf());
    sum(y).backward();
  }
  CHECK(Node::live() == before);
}

TEST_CASE("STE: gradients of a tensor used twice add up") {
  Tensor x = Tensor::from({0.3f, 5.0f}, {2});
  x.requires_grad_();
  const QuantSpec s = make_spec(Format::Fixed, 1, 2, Ste::Clipped);  // passes |x| < 2
  sum(add(quantize(x, s), quantize(x, s))).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{2.0f, 0.0f});
}
