// SGD and Adam against steps worked out by hand (in double, arithmetic in the
// comments), the skipping of parameters without a gradient, the state round
// trip of a checkpoint, and the minimisation of a small quadratic.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.h"
#include "optim/optimizer.h"

using namespace qat;

namespace {
Tensor param(const std::vector<float>& values) {
  return Tensor::from(values, {int64_t(values.size())}).requires_grad_();
}
// Sets p's gradient as a backward would.
void set_grad(const Tensor& p, const std::vector<float>& g) {
  REQUIRE(int64_t(g.size()) == p.numel());
  float* d = grad_buffer(p);
  for (size_t i = 0; i < g.size(); ++i) d[i] = g[i];
}
void check_values(const Tensor& p, const std::vector<double>& expected, double tol = 1e-6) {
  REQUIRE(int64_t(expected.size()) == p.numel());
  for (size_t i = 0; i < expected.size(); ++i)
    CHECK(p.data()[i] == doctest::Approx(expected[i]).epsilon(tol));
}
}  // namespace

TEST_CASE("sgd: plain step is p - lr*g") {
  Tensor p = param({3.0f, -1.0f});
  Sgd sgd({p}, {.lr = 0.2f});
  set_grad(p, {1.5f, -0.5f});
  sgd.step();
  check_values(p, {3.0 - 0.2 * 1.5, -1.0 + 0.2 * 0.5});  // 2.7, -0.9
}

TEST_CASE("sgd: momentum with weight decay, three steps by hand") {
  // lr 0.1, momentum 0.9, wd 0.1; p0 = 1, grads 0.5, -0.25, 1.0.
  Tensor p = param({1.0f});
  Sgd sgd({p}, {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.1f});
  // 1: d = 0.5 + 0.1*1 = 0.6; buf = d = 0.6 (first gradient, no blend)
  //    p = 1 - 0.1*0.6 = 0.94
  set_grad(p, {0.5f});
  sgd.step();
  check_values(p, {0.94});
  // 2: d = -0.25 + 0.1*0.94 = -0.156; buf = 0.9*0.6 - 0.156 = 0.384
  //    p = 0.94 - 0.0384 = 0.9016
  sgd.zero_grad();
  set_grad(p, {-0.25f});
  sgd.step();
  check_values(p, {0.9016});
  // 3: d = 1 + 0.09016 = 1.09016; buf = 0.9*0.384 + 1.09016 = 1.43576
  //    p = 0.9016 - 0.143576 = 0.758024
  sgd.zero_grad();
  set_grad(p, {1.0f});
  sgd.step();
  check_values(p, {0.758024});
  CHECK(sgd.steps() == 3);
}

TEST_CASE("sgd: Nesterov momentum, three steps by hand") {
  // lr 0.1, momentum 0.9; p0 = 2, grads 1, 0.5, -1.
  Tensor p = param({2.0f});
  Sgd sgd({p}, {.lr = 0.1f, .momentum = 0.9f, .nesterov = true});
  // 1: buf = 1; d = 1 + 0.9*1 = 1.9; p = 2 - 0.19 = 1.81
  set_grad(p, {1.0f});
  sgd.step();
  check_values(p, {1.81});
  // 2: buf = 0.9*1 + 0.5 = 1.4; d = 0.5 + 0.9*1.4 = 1.76; p = 1.81 - 0.176 = 1.634
  sgd.zero_grad();
  set_grad(p, {0.5f});
  sgd.step();
  check_values(p, {1.634});
  // 3: buf = 0.9*1.4 - 1 = 0.26; d = -1 + 0.9*0.26 = -0.766; p = 1.634 + 0.0766 = 1.7106
  sgd.zero_grad();
  set_grad(p, {-1.0f});
  sgd.step();
  check_values(p, {1.7106});
}

TEST_CASE("sgd: dampening spares the first gradient; Nesterov needs momentum") {
  // lr 1, momentum 0.5, dampening 0.5; p0 = 0, grads 2, 4.
  // 1: buf = 2 (not 0.5*2); p = -2.   2: buf = 0.5*2 + 0.5*4 = 3; p = -5.
  Tensor p = param({0.0f});
  Sgd sgd({p}, {.lr = 1.0f, .momentum = 0.5f, .dampening = 0.5f});
  set_grad(p, {2.0f});
  sgd.step();
  check_values(p, {-2.0});
  sgd.zero_grad();
  set_grad(p, {4.0f});
  sgd.step();
  check_values(p, {-5.0});
  CHECK_THROWS_AS(Sgd({p}, {.lr = 1.0f, .nesterov = true}), Error);
}

TEST_CASE("adam: bias correction at steps 1, 2 and 3 by hand") {
  // lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8; p0 = 1, grads 0.5, -1, 0.25.
  Tensor p = param({1.0f});
  Adam adam({p}, {.lr = 0.1f});
  // 1: m = 0.1*0.5 = 0.05; v = 0.001*0.25 = 0.00025
  //    denom = sqrt(0.00025)/sqrt(1-0.999) + 1e-8 = 0.5 + 1e-8
  //    p = 1 - 0.1/(1-0.9) * 0.05/(0.5+1e-8) = 0.900000002
  set_grad(p, {0.5f});
  adam.step();
  check_values(p, {0.900000002});
  // 2: m = 0.9*0.05 - 0.1 = -0.055; v = 0.999*0.00025 + 0.001 = 0.00124975
  //    denom = sqrt(0.00124975)/sqrt(1-0.999^2 = 0.001999) + 1e-8 = 0.79068806
  //    p = 0.900000002 + 0.1/(1-0.81) * 0.055/0.79068806 = 0.93661035
  adam.zero_grad();
  set_grad(p, {-1.0f});
  adam.step();
  const double m2 = -0.055, v2 = 0.00124975;
  const double p2 = 0.900000002 - 0.1 / 0.19 * m2 / (std::sqrt(v2) / std::sqrt(0.001999) + 1e-8);
  check_values(p, {p2});
  CHECK(p2 == doctest::Approx(0.93661035).epsilon(1e-8));
  // 3: m = 0.9*-0.055 + 0.025 = -0.0245; v = 0.999*0.00124975 + 0.001*0.0625 = 0.00131100025
  //    1-0.9^3 = 0.271; 1-0.999^3 = 0.002997001
  //    p = p2 + 0.1/0.271 * 0.0245/(sqrt(0.00131100025/0.002997001) + 1e-8) = 0.95027942
  adam.zero_grad();
  set_grad(p, {0.25f});
  adam.step();
  check_values(p, {0.95027942});
}

TEST_CASE("adam: the first step moves every parameter by lr, whatever the gradient's size") {
  // At t = 1, m/sqrt(v) after correction is g/|g|: the step is lr*sign(g).
  Tensor p = param({0.0f, 0.0f, 0.0f});
  Adam adam({p}, {.lr = 0.01f});
  set_grad(p, {1e-3f, 5.0f, -7.0f});
  adam.step();
  check_values(p, {-0.01, -0.01, 0.01}, 1e-4);
}

TEST_CASE("adam: weight decay is L2 added to the gradient") {
  // lr 0.1, wd 0.5; p0 = 2, grads 0 and 0: all of d comes from wd*p.
  // 1: d = 0.5*2 = 1; m = 0.1; v = 0.001; p = 2 - 1*0.1/(1+1e-8) = 1.9
  // 2: d = 0.5*1.9 = 0.95; m = 0.09 + 0.095 = 0.185; v = 0.000999 + 0.0009025 = 0.0019015
  //    p = 1.9 - 0.1/0.19 * 0.185/(sqrt(0.0019015/0.001999) + 1e-8)
  Tensor p = param({2.0f});
  Adam adam({p}, {.lr = 0.1f, .weight_decay = 0.5f});
  set_grad(p, {0.0f});
  adam.step();
  check_values(p, {1.9});
  set_grad(p, {0.0f});
  adam.step();
  check_values(p, {1.9 - 0.1 / 0.19 * 0.185 / (std::sqrt(0.0019015 / 0.001999) + 1e-8)});
}

TEST_CASE("optimizers skip a parameter without a gradient and count its own steps") {
  Tensor a = param({1.0f}), b = param({1.0f});
  Adam adam({a, b}, {.lr = 0.1f});
  set_grad(a, {1.0f});
  adam.step();  // b has no grad: untouched
  check_values(a, {0.9});
  check_values(b, {1.0});
  adam.zero_grad();
  CHECK_FALSE(a.grad().defined());
  set_grad(b, {-2.0f});
  adam.step();  // b's first update: bias-corrected as t = 1, moves by lr
  check_values(a, {0.9});
  check_values(b, {1.1});
  const OptimizerState s = adam.state();
  CHECK(s.steps == 2);
  CHECK(s.param_steps == std::vector<int64_t>{1, 1});

  Tensor c = param({1.0f});
  Sgd sgd({c}, {.lr = 0.1f, .momentum = 0.9f});
  sgd.step();
  check_values(c, {1.0});
  CHECK(sgd.state().buffers.empty());
}

TEST_CASE("optimizers refuse parameters that cannot be trained") {
  Tensor frozen = Tensor::from({1.0f}, {1});
  CHECK_THROWS_AS(Adam({frozen}, {}), Error);
  Tensor leaf = param({1.0f});
  Tensor derived = leaf * 2.0f;
  CHECK_THROWS_AS(Sgd({derived}, {}), Error);
  CHECK_THROWS_AS(Sgd({leaf, leaf}, {}), Error);
}

TEST_CASE("optimizer state round trip continues bit for bit") {
  auto run = [](Optimizer& opt, const Tensor& p, int from, int to) {
    for (int t = from; t < to; ++t) {
      opt.zero_grad();
      set_grad(p, {std::sin(float(t)), std::cos(float(t)), 0.1f * float(t)});
      opt.step();
    }
  };
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which);
    Tensor p = param({0.3f, -0.2f, 1.0f});
    std::unique_ptr<Optimizer> a, b;
    if (which == 0) a = std::make_unique<Adam>(std::vector<Tensor>{p}, AdamOptions{.weight_decay = 0.01f});
    else a = std::make_unique<Sgd>(std::vector<Tensor>{p}, SgdOptions{.momentum = 0.9f, .nesterov = true});
    run(*a, p, 0, 3);
    a->set_lr(0.005f);
    const OptimizerState saved = a->state();
    Tensor q = p.detach().clone().requires_grad_();
    if (which == 0) b = std::make_unique<Adam>(std::vector<Tensor>{q}, AdamOptions{.weight_decay = 0.01f});
    else b = std::make_unique<Sgd>(std::vector<Tensor>{q}, SgdOptions{.momentum = 0.9f, .nesterov = true});
    b->load_state(saved);
    CHECK(b->lr() == 0.005f);
    CHECK(b->steps() == 3);
    run(*a, p, 3, 6);
    run(*b, q, 3, 6);
    CHECK(p.to_vector() == q.to_vector());
  }
}

TEST_CASE("optimizer load_state rejects another optimizer's or another model's state") {
  Tensor p = param({1.0f, 2.0f});
  Adam adam({p}, {});
  set_grad(p, {1.0f, 1.0f});
  adam.step();
  OptimizerState s = adam.state();
  REQUIRE(s.buffers.size() == 2);  // exp_avg/0, exp_avg_sq/0

  Tensor q = param({1.0f, 2.0f});
  Sgd sgd({q}, {.momentum = 0.9f});
  CHECK_THROWS_AS(sgd.load_state(s), Error);

  Tensor r = param({1.0f, 2.0f, 3.0f});
  Adam other({r}, {});
  CHECK_THROWS_AS(other.load_state(s), Error);  // 2 values for 3

  OptimizerState renamed = s;
  renamed.buffers[0].first = "exp_avg/7";
  CHECK_THROWS_AS(adam.load_state(renamed), Error);
}

TEST_CASE("sgd and adam minimise a small quadratic through backward") {
  // f(p) = sum a_i (p_i - c_i)^2, minimum at c.
  const std::vector<float> c = {1.5f, -2.0f, 0.25f}, a = {1.0f, 3.0f, 0.5f};
  Tensor ct = Tensor::from(c, {3}), at = Tensor::from(a, {3});
  auto minimise = [&](Optimizer& opt, const Tensor& p, int steps) {
    float first = 0.0f, last = 0.0f;
    for (int t = 0; t < steps; ++t) {
      opt.zero_grad();
      Tensor d = p - ct;
      Tensor loss = sum(at * d * d);
      if (t == 0) first = loss.item();
      last = loss.item();
      loss.backward();
      opt.step();
    }
    CHECK(last < 1e-4f * first);
    for (int i = 0; i < 3; ++i) CHECK(p.data()[i] == doctest::Approx(c[i]).epsilon(1e-2));
  };
  Tensor p = param({0.0f, 0.0f, 0.0f});
  Sgd sgd({p}, {.lr = 0.05f, .momentum = 0.9f});
  minimise(sgd, p, 300);
  Tensor q = param({0.0f, 0.0f, 0.0f});
  Adam adam({q}, {.lr = 0.05f});
  minimise(adam, q, 600);
}
