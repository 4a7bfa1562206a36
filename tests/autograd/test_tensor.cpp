// The tape: accumulation, no-grad scopes, freeing the graph, errors.
#include <doctest/doctest.h>

#include "autograd/ops.h"

using namespace qat;

TEST_CASE("a tensor used twice sums the gradients of both uses") {
  Tensor x = Tensor::from({1, 2, 3}, {3}).requires_grad_();
  Tensor y = sum(mul(x, x) + x * 3.0f);  // d/dx = 2x + 3
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5, 7, 9});
}

TEST_CASE("gradients accumulate over backward calls until zero_grad") {
  Tensor x = Tensor::from({2}, {1}).requires_grad_();
  sum(x * 4.0f).backward();
  sum(x * 4.0f).backward();
  CHECK(x.grad().item() == 8.0f);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("no graph is recorded inside NoGrad") {
  Tensor x = Tensor::from({1, 2}, {2}).requires_grad_();
  const int64_t before = Node::live();
  {
    NoGrad no_grad;
    Tensor y = relu(x) * 2.0f;
    CHECK_FALSE(y.requires_grad());
    CHECK(Node::live() == before);
  }
  CHECK(grad_enabled());
}

TEST_CASE("backward frees every node of the graph") {
  Tensor x = Tensor::from({1, -2, 3, -4}, {1, 1, 2, 2}).requires_grad_();
  Tensor w = Tensor::from({0.5f}, {1, 1, 1, 1}).requires_grad_();
  const int64_t before = Node::live();
  for (int step = 0; step < 3; ++step) {
    Tensor y = sigmoid(conv2d(relu(x), w, Tensor(), 1, 0));
    Tensor loss = mean(y * y) + sum(x);
    CHECK(Node::live() > before);
    loss.backward();
    CHECK(Node::live() == before);  // even though `loss` and `y` still exist
  }
}

TEST_CASE("a graph nobody backpropagates is freed with its output") {
  const int64_t before = Node::live();
  {
    Tensor x = Tensor::from({1, 2}, {2}).requires_grad_();
    Tensor y = tanh(x) * x;
    CHECK(Node::live() == before + 2);  // tanh and mul
  }
  CHECK(Node::live() == before);
}

TEST_CASE("reshape shares data and passes gradients through") {
  Tensor x = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  Tensor y = x.reshape({3, 2});
  CHECK(y.data() == x.data());
  sum(y * y).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{2, 4, 6, 8, 10, 12});
  CHECK_THROWS_WITH_AS(x.reshape({4}), doctest::Contains("(2, 3) as (4)"), Error);
}

TEST_CASE("a gradient passed through unchanged takes over its buffer, later ones add") {
  // Two reshapes of x: the first backward to reach x adopts its dout as
  // x's gradient (pass_grad), the second adds into it; a third use of x
  // adds too, and a second backward accumulates.
  Tensor x = Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  for (int round = 1; round <= 2; ++round) {
    Tensor a = x.reshape({3, 2}), b = x.reshape({6});
    (sum(a * a) + sum(b * 3.0f) + sum(x * 5.0f)).backward();  // 2x + 8 each time
    CHECK(x.grad().shape() == Shape{2, 3});
    std::vector<float> want;
    for (float v : x.to_vector()) want.push_back(float(round) * (2 * v + 8));
    CHECK(x.grad().to_vector() == want);
  }
}

TEST_CASE("backward from a non-scalar names the shape") {
  Tensor x = Tensor::from({1, 2}, {2}).requires_grad_();
  CHECK_THROWS_WITH_AS((x * 2.0f).backward(), doctest::Contains("shape (2)"), Error);
}

TEST_CASE("mismatched shapes name the op and both shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
  CHECK_THROWS_WITH_AS(add(a, b), "add: shapes (2, 3) and (4, 3) do not broadcast",
                       Error);
  Tensor x = Tensor::zeros({1, 3, 8, 8}), w = Tensor::zeros({4, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 1, 1),
                       doctest::Contains("weight (4, 2, 3, 3) expects 2 input "
                                         "channels, input (1, 3, 8, 8) has 3"),
                       Error);
  CHECK_THROWS_AS(conv2d(Tensor::zeros({3, 8, 8}), w, Tensor(), 1, 1), Error);
  CHECK_THROWS_AS(cat_channels({Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({1, 2, 4, 5})}),
                  Error);
  CHECK_THROWS_AS(bce_with_logits(Tensor::zeros({2}), Tensor::zeros({3})), Error);
}

TEST_CASE("the storage pool hands a freed buffer to the next request") {
  float* first = nullptr;
  {
    Tensor t = Tensor::empty({1234567});
    first = t.data();
  }
  Tensor again = Tensor::empty({1234567});
  CHECK(again.data() == first);
}

TEST_CASE("the storage pool hands a request the smallest idle buffer up to twice its size") {
  storage_pool_clear();  // no idle buffers of other tests in the way
  float* big = nullptr;    // 4 MB
  float* small = nullptr;  // 1 MB
  {
    Tensor a = Tensor::empty({1000000}), b = Tensor::empty({250000});
    big = a.data(), small = b.data();
  }
  Tensor fits_small = Tensor::empty({240000});  // both hold it: the smaller one
  CHECK(fits_small.data() == small);
  Tensor too_big = Tensor::empty({400000});  // 1.6 MB: the 4 MB buffer is over twice
  CHECK(too_big.data() != big);
  Tensor half = Tensor::empty({500000});  // 2 MB: exactly half of it
  CHECK(half.data() == big);
  CHECK(half.numel() == 500000);
  CHECK(storage_pool_bytes() == 0);
}
