// Central-difference checks of every differentiable op, on odd sizes and
// batches > 1. ReLU and max pooling are checked away from their kinks.
#include <doctest/doctest.h>

#include "tests/autograd/gradcheck.h"

using namespace qat;
using qat::testing::check_gradients;
using qat::testing::random_tensor;

namespace {
Tensor param(const Shape& s, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  return random_tensor(s, rng, lo, hi).requires_grad_();
}
// Values at least `gap` away from 0, so ReLU's kink is out of reach of h.
Tensor away_from_zero(const Shape& s, Rng& rng, float gap) {
  Tensor t = random_tensor(s, rng);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float& v = t.data()[i];
    v = v < 0 ? v - gap : v + gap;
  }
  return t.requires_grad_();
}
}  // namespace

TEST_CASE("gradients: add, sub, mul, div with per-channel broadcasting") {
  Rng rng(1);
  Tensor a = param({2, 3, 5, 7}, rng);
  Tensor c = param({1, 3, 1, 1}, rng);
  Tensor d = param({2, 3, 5, 7}, rng, 0.5f, 2.0f);
  Tensor e = param({3, 1, 1}, rng, 0.5f, 2.0f);
  auto ab = [](const std::vector<Tensor>& v) { return add(v[0], v[1]); };
  check_gradients(ab, {a, c});
  check_gradients([](auto& v) { return sub(v[1], v[0]); }, {a, c});
  check_gradients([](auto& v) { return mul(v[0], v[1]); }, {a, c});
  check_gradients([](auto& v) { return mul(v[0], v[1]); }, {a, d});
  check_gradients([](auto& v) { return div(v[0], v[1]); }, {a, d});
  check_gradients([](auto& v) { return div(v[0], v[1]); }, {a, e});
}

TEST_CASE("gradients: scalar ops") {
  Rng rng(2);
  Tensor a = param({3, 4, 5}, rng);
  check_gradients([](auto& v) { return v[0] * 2.5f + 1.0f; }, {a});
  check_gradients([](auto& v) { return 3.0f - v[0]; }, {a});
  check_gradients([](auto& v) { return -v[0] / 4.0f; }, {a});
}

TEST_CASE("gradients: sum and mean") {
  Rng rng(3);
  Tensor a = param({2, 3, 3, 5}, rng);
  check_gradients([](auto& v) { return sum(v[0]); }, {a});
  check_gradients([](auto& v) { return mean(v[0]); }, {a});
}

TEST_CASE("gradients: relu (away from 0), tanh, sigmoid") {
  Rng rng(4);
  Tensor a = away_from_zero({2, 3, 4, 5}, rng, /*gap=*/0.05f);
  Tensor b = param({2, 3, 4, 5}, rng, -3.0f, 3.0f);
  check_gradients([](auto& v) { return relu(v[0]); }, {a});
  check_gradients([](auto& v) { return tanh(v[0]); }, {b});
  check_gradients([](auto& v) { return sigmoid(v[0]); }, {b});
}

TEST_CASE("gradients: conv2d over kernel sizes, strides, paddings, bias") {
  Rng rng(5);
  struct Case { Shape x, w; int stride, pad; bool bias; };
  const Case cases[] = {
      {{2, 3, 7, 5}, {4, 3, 3, 3}, 1, 1, true},
      {{3, 2, 6, 6}, {2, 2, 1, 1}, 1, 0, false},
      {{2, 2, 9, 7}, {3, 2, 5, 3}, 2, 2, true},
      {{1, 1, 5, 5}, {1, 1, 2, 2}, 1, 0, true},
      {{3, 4, 5, 7}, {2, 4, 3, 3}, 1, 1, true},   // <= 3 outputs: the direct loops
      {{2, 3, 1, 6}, {1, 3, 3, 3}, 1, 1, false},  // one row, one output
  };
  for (const Case& c : cases) {
    Tensor x = param(c.x, rng), w = param(c.w, rng);
    Tensor b = c.bias ? param({c.w[0]}, rng) : Tensor();
    const int s = c.stride, p = c.pad;
    std::vector<Tensor> inputs{x, w};
    if (c.bias) inputs.push_back(b);
    check_gradients(
        [s, p](const std::vector<Tensor>& v) {
          return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), s, p);
        },
        inputs);
  }
}

TEST_CASE("gradients: max_pool2d with distinct values (no ties)") {
  Rng rng(6);
  // A shuffled ramp: gaps of 0.1 between values keep h from changing the max.
  Tensor x = Tensor::empty({2, 3, 7, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.1f * float(i);
  for (int64_t i = x.numel() - 1; i > 0; --i)
    std::swap(x.data()[i], x.data()[rng.below(uint64_t(i + 1))]);
  x.requires_grad_();
  check_gradients([](auto& v) { return max_pool2d(v[0], 2, 2); }, {x});
  check_gradients([](auto& v) { return max_pool2d(v[0], 3, 1); }, {x});
}

TEST_CASE("gradients: bilinear x2 upsampling and channel concat") {
  Rng rng(7);
  Tensor a = param({2, 3, 5, 4}, rng), b = param({2, 2, 5, 4}, rng);
  check_gradients([](auto& v) { return upsample_bilinear2x(v[0]); }, {a});
  for (const Shape& s : {Shape{1, 2, 1, 2}, Shape{1, 1, 3, 1}, Shape{1, 1, 2, 9}})
    check_gradients([](auto& v) { return upsample_bilinear2x(v[0]); }, {param(s, rng)});
  check_gradients([](auto& v) { return cat_channels({v[0], v[1]}); }, {a, b});
  Tensor skip = param({2, 2, 10, 8}, rng);
  check_gradients([](auto& v) { return upsample_cat(v[0], v[1]); }, {a, skip});
}

TEST_CASE("gradients: batch_norm2d in training and eval") {
  Rng rng(8);
  Tensor x = param({3, 4, 5, 3}, rng, -2.0f, 3.0f);
  Tensor gamma = param({4}, rng, 0.5f, 1.5f), beta = param({4}, rng);
  for (bool training : {true, false}) {
    check_gradients(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = Tensor::full({4}, 0.2f), rv = Tensor::full({4}, 1.5f);
          return batch_norm2d(v[0], v[1], v[2], rm, rv, training, 0.1f, 1e-5f);
        },
        {x, gamma, beta}, /*h=*/1e-2f, /*rtol=*/2e-2f);
    // x feeding a second op too: one backward finds x's gradient started
    check_gradients(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = Tensor::full({4}, 0.2f), rv = Tensor::full({4}, 1.5f);
          return batch_norm2d(v[0], v[1], v[2], rm, rv, training, 0.1f, 1e-5f) * v[0];
        },
        {x, gamma, beta}, /*h=*/1e-2f, /*rtol=*/2e-2f);
  }
}

TEST_CASE("gradients: relu_batch_norm2d (away from 0) in training and eval") {
  Rng rng(18);
  Tensor x = away_from_zero({3, 4, 5, 3}, rng, 0.1f);
  Tensor gamma = param({4}, rng, 0.5f, 1.5f), beta = param({4}, rng);
  for (bool training : {true, false}) {
    check_gradients(
        [training](const std::vector<Tensor>& v) {
          Tensor rm = Tensor::full({4}, 0.2f), rv = Tensor::full({4}, 1.5f);
          // + 0: the op overwrites its input with relu(input)
          return relu_batch_norm2d(v[0] + 0.0f, v[1], v[2], rm, rv, training, 0.1f, 1e-5f);
        },
        {x, gamma, beta}, /*h=*/1e-2f, /*rtol=*/2e-2f);
  }
}

TEST_CASE("gradients: dropout and dropout2d with a fixed mask") {
  Rng rng(9);
  Tensor x = param({2, 5, 3, 3}, rng);
  check_gradients([](auto& v) { Rng r(42); return dropout(v[0], 0.3f, true, r); }, {x});
  check_gradients([](auto& v) { Rng r(42); return dropout2d(v[0], 0.4f, true, r); }, {x});
}

TEST_CASE("gradients: bce_with_logits and soft dice") {
  Rng rng(10);
  Tensor logits = param({2, 1, 5, 7}, rng, -4.0f, 4.0f);
  Tensor target = random_tensor({2, 1, 5, 7}, rng, 0.0f, 1.0f);
  for (int64_t i = 0; i < target.numel(); ++i)
    target.data()[i] = target.data()[i] > 0.5f ? 1.0f : 0.0f;
  Tensor prob = param({2, 1, 5, 7}, rng, 0.05f, 0.95f);
  check_gradients([target](auto& v) { return bce_with_logits(v[0], target); }, {logits});
  check_gradients([target](auto& v) { return soft_dice_loss(v[0], target); }, {prob});
}
