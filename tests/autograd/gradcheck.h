// Central-difference gradient checks for tests.
//
// For an op f and random fixed weights r, the scalar L = sum(f(inputs) * r)
// is differentiated two ways: by backward(), and by
// (L(x + h) - L(x - h)) / 2h for each element x of each input that requires
// a gradient. They must agree within atol + rtol*|numeric|, where atol
// scales with the largest gradient (float32 differences are noisy).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/ops.h"

namespace qat::testing {

inline Tensor random_tensor(const Shape& shape, Rng& rng, float lo = -1.0f,
                            float hi = 1.0f) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

inline double weighted_sum(const Tensor& out, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * r.data()[i];
  return s;
}

inline void check_gradients(const Fn& f, std::vector<Tensor> inputs,
                            float h = 1e-2f, float rtol = 1e-2f,
                            float atol_scale = 1e-2f) {
  Rng rng(1234);
  Tensor out = f(inputs);
  Tensor r = random_tensor(out.shape(), rng);
  for (Tensor& t : inputs) t.zero_grad();
  sum(mul(out, r)).backward();

  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), "input ", k, " got no gradient");
    const float* analytic = x.grad().data();
    float largest = 0.0f;
    for (int64_t i = 0; i < x.numel(); ++i)
      largest = std::max(largest, std::abs(analytic[i]));
    const float atol = atol_scale * std::max(largest, 1e-3f);
    for (int64_t i = 0; i < x.numel(); ++i) {
      NoGrad no_grad;
      const float saved = x.data()[i];
      x.data()[i] = saved + h;
      const double up = weighted_sum(f(inputs), r);
      x.data()[i] = saved - h;
      const double down = weighted_sum(f(inputs), r);
      x.data()[i] = saved;
      const double numeric = (up - down) / (2.0 * h);
      INFO("input ", k, " element ", i, " of shape ", to_string(x.shape()));
      CHECK(std::abs(analytic[i] - numeric) <= atol + rtol * std::abs(numeric));
    }
  }
}

}  // namespace qat::testing
