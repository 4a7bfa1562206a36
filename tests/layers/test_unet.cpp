// The U-Net as SPEC.md draws it: parameter count, names, shapes, modes.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/unet.h"
#include "tests/autograd/gradcheck.h"

using namespace qat;

TEST_CASE("the full-width U-Net has PyTorch's 4,837,249 parameters") {
  UNetOptions o;
  o.width = 64;
  UNet net(o);
  CHECK(net.parameter_count() == 4837249);
}

TEST_CASE("parameters are named and ordered like a PyTorch state_dict") {
  UNetOptions o;
  o.width = 2;
  UNet net(o);
  auto params = net.named_parameters();
  REQUIRE(params.size() == 7 * 8 + 2);  // 7 blocks x (2 convs + 2 BNs) x 2, conv9
  CHECK(params[0].first == "conv1.conv1.weight");
  CHECK(params[1].first == "conv1.conv1.bias");
  CHECK(params[2].first == "conv1.bn1.weight");
  CHECK(params[4].first == "conv1.conv2.weight");
  CHECK(params[8].first == "conv2.conv1.weight");
  CHECK(params[32].first == "up1.conv.conv1.weight");
  CHECK(params[32].second.shape() == Shape{8, 16, 3, 3});
  CHECK(params.back().first == "conv9.bias");
  auto buffers = net.named_buffers();
  CHECK(buffers.size() == 28);
  CHECK(buffers[0].first == "conv1.bn1.running_mean");
}

TEST_CASE("U-Net maps (N,1,H,W) to logits (N,1,H,W) and rejects other sizes") {
  UNetOptions o;
  o.width = 2;
  UNet net(o);
  Tensor x = Tensor::full({2, 1, 16, 24}, 0.5f);
  CHECK(net.forward(x).shape() == Shape{2, 1, 16, 24});
  CHECK_THROWS_WITH_AS(net.forward(Tensor::zeros({1, 1, 12, 16})),
                       doctest::Contains("divisible by 8"), Error);
}

TEST_CASE("the same seed gives the same weights, another seed others") {
  UNetOptions o;
  o.width = 2;
  o.seed = 5;
  UNet a(o), b(o);
  o.seed = 6;
  UNet c(o);
  CHECK(a.block("conv2").conv1.weight.to_vector() == b.block("conv2").conv1.weight.to_vector());
  CHECK(a.block("conv2").conv1.weight.to_vector() != c.block("conv2").conv1.weight.to_vector());
}

TEST_CASE("Glorot bounds: standard and BinaryConnect") {
  // conv 64 -> 128, 3x3: fan_in 576, fan_out 1152
  CHECK(init_bound(Init::Glorot, {128, 64, 3, 3}) == doctest::Approx(std::sqrt(6.0 / 1728)));
  CHECK(init_bound(Init::BinaryConnect, {128, 64, 3, 3}) ==
        doctest::Approx(std::sqrt(1.5 / 1728)));
  UNetOptions o;
  o.width = 4;
  UNet net(o);
  const float a = init_bound(Init::Glorot, net.block("conv3").conv2.weight.shape());
  float largest = 0;
  for (float v : net.block("conv3").conv2.weight.to_vector()) largest = std::max(largest, std::abs(v));
  CHECK(largest <= a);
  CHECK(largest > 0.9f * a);
}

TEST_CASE("train/eval reaches every block, dropout included") {
  UNetOptions o;
  o.width = 2;
  o.dropout = 0.5f;
  UNet net(o);
  net.eval();
  CHECK_FALSE(net.block("up2.conv").drop.training());
  Tensor x = Tensor::full({1, 1, 8, 8}, 1.0f);
  CHECK(net.forward(x).to_vector() == net.forward(x).to_vector());
  net.train();
  CHECK(net.block("up2.conv").bn1.training());
}

TEST_CASE("ternary tanh: a smooth step to {-1, 0, 1} and its gradient") {
  Tensor x = Tensor::from({-2.0f, 0.0f, 2.0f}, {3});
  auto y = ternary_tanh(x, 8.0f).to_vector();
  CHECK(y[0] == doctest::Approx(-1.0).epsilon(1e-4));
  CHECK(y[1] == doctest::Approx(0.0));
  CHECK(y[2] == doctest::Approx(1.0).epsilon(1e-4));
  Rng rng(3);
  Tensor z = testing::random_tensor({2, 3, 4, 5}, rng, -1.5f, 1.5f).requires_grad_();
  testing::check_gradients([](auto& v) { return ternary_tanh(v[0], 3.0f); }, {z});
}
