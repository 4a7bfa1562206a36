// Batch-norm folding: exact in the interior, off at the border by the
// predicted amount, exact everywhere when the shift is zero.
#include <doctest/doctest.h>

#include <cmath>

#include "layers/fold.h"
#include "tests/autograd/gradcheck.h"

using namespace qat;
using qat::testing::random_tensor;

namespace {
void randomise_bn(BatchNorm2d& bn, Rng& rng, bool zero_shift) {
  for (int64_t c = 0; c < bn.weight.numel(); ++c) {
    bn.weight.data()[c] = rng.uniform(0.5f, 1.5f);
    bn.running_mean.data()[c] = rng.uniform(-0.5f, 0.5f);
    bn.running_var.data()[c] = rng.uniform(0.5f, 2.0f);
    const float a = bn.weight.data()[c] / std::sqrt(bn.running_var.data()[c] + bn.eps);
    bn.bias.data()[c] = zero_shift ? a * bn.running_mean.data()[c] : rng.uniform(-0.5f, 0.5f);
  }
}
}  // namespace

TEST_CASE("fold: one BN into a conv is exact inside, off at the border as predicted") {
  Rng rng(21);
  BatchNorm2d bn(3);
  bn.eval();
  randomise_bn(bn, rng, false);
  Conv2d conv(3, 2, 3, 1, 1);
  conv.reset_parameters(Init::Glorot, rng);
  Tensor z = random_tensor({2, 3, 6, 7}, rng);
  NoGrad no_grad;
  const Tensor reference = conv.forward(bn.forward(z));
  std::vector<float> a, b;
  batchnorm_affine(bn, a, b);
  const Tensor w_before = conv.weight.clone();
  fold_affine_into_conv(conv, a, b, 0);
  const Tensor folded = conv.forward(z);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < 6; ++i)
        for (int64_t j = 0; j < 7; ++j) {
          const int64_t at = ((n * 2 + o) * 6 + i) * 7 + j;
          // predicted error: minus W*b over the taps that fall outside
          double predicted = 0;
          for (int64_t c = 0; c < 3; ++c)
            for (int64_t u = 0; u < 3; ++u)
              for (int64_t v = 0; v < 3; ++v) {
                const int64_t r = i + u - 1, q = j + v - 1;
                if (r >= 0 && r < 6 && q >= 0 && q < 7) continue;
                predicted -= double(w_before.data()[((o * 3 + c) * 3 + u) * 3 + v]) * b[size_t(c)];
              }
          const bool border = i == 0 || j == 0 || i == 5 || j == 6;
          CHECK((predicted != 0.0) == border);
          const double diff = double(reference.data()[at]) - folded.data()[at];
          CHECK(std::abs(diff - predicted) <= 1e-5);
        }
}

TEST_CASE("fold: the whole U-Net with zero BN shifts gives the same eval output") {
  Rng rng(22);
  UNetOptions o;
  o.width = 4;
  o.seed = 3;
  UNet net(o);
  net.eval();
  for (auto& [name, block] : net.blocks()) {
    randomise_bn(block->bn1, rng, true);
    randomise_bn(block->bn2, rng, true);
  }
  Tensor x = random_tensor({2, 1, 16, 16}, rng);
  NoGrad no_grad;
  const Tensor before = net.forward(x);
  fold_batchnorm(net);
  const Tensor after = net.forward(x);
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    worst = std::max(worst, double(std::abs(before.data()[i] - after.data()[i])));
    scale = std::max(scale, double(std::abs(before.data()[i])));
  }
  CHECK(worst <= 1e-5 * std::max(scale, 1.0));
}

TEST_CASE("fold: refused across quantizers, in training mode, and for negative scales before a pool") {
  UNetOptions o;
  o.width = 2;
  UNet net(o);
  CHECK_THROWS_WITH_AS(fold_batchnorm(net), doctest::Contains("eval mode"), Error);
  net.eval();
  net.conv2.act_quant1 = [](const Tensor& t) { return t; };
  CHECK_THROWS_WITH_AS(fold_batchnorm(net), doctest::Contains("block conv2 quantizes"), Error);
  UNet other(o);
  other.eval();
  other.conv1.bn2.weight.data()[1] = -1.0f;
  CHECK_THROWS_WITH_AS(fold_batchnorm(other),
                       doctest::Contains("conv1.bn2 channel 1 has scale"), Error);
}
