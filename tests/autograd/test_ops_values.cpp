// Forward values against hand-computed cases and naive references.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "autograd/vector_math.h"
#include "tests/autograd/gradcheck.h"

using namespace qat;
using qat::testing::random_tensor;

TEST_CASE("conv2d equals a naive direct convolution") {
  Rng rng(11);
  const int64_t N = 2, C = 3, H = 9, W = 8, OC = 4, K = 3;
  for (int stride : {1, 2}) {
    const int pad = 1;
    Tensor x = random_tensor({N, C, H, W}, rng), w = random_tensor({OC, C, K, K}, rng);
    Tensor b = random_tensor({OC}, rng);
    Tensor y = conv2d(x, w, b, stride, pad);
    const int64_t OH = (H + 2 * pad - K) / stride + 1, OW = (W + 2 * pad - K) / stride + 1;
    REQUIRE(y.shape() == Shape{N, OC, OH, OW});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o)
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j) {
            double s = b.data()[o];
            for (int64_t c = 0; c < C; ++c)
              for (int64_t u = 0; u < K; ++u)
                for (int64_t v = 0; v < K; ++v) {
                  const int64_t r = i * stride - pad + u, q = j * stride - pad + v;
                  if (r < 0 || r >= H || q < 0 || q >= W) continue;
                  s += double(x.data()[((n * C + c) * H + r) * W + q]) *
                       w.data()[((o * C + c) * K + u) * K + v];
                }
            CHECK(y.data()[((n * OC + o) * OH + i) * OW + j] ==
                  doctest::Approx(s).epsilon(1e-5));
          }
  }
}

TEST_CASE("bilinear x2 upsampling matches PyTorch's align_corners=False") {
  // torch.nn.functional.interpolate(x, scale_factor=2, mode='bilinear',
  // align_corners=False) on [[1,2],[3,4]]
  Tensor x = Tensor::from({1, 2, 3, 4}, {1, 1, 2, 2});
  const std::vector<float> expected{1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f,
                                    2.25f, 2.50f, 2.50f, 2.75f, 3.25f, 3.50f,
                                    3.00f, 3.25f, 3.75f, 4.00f};
  CHECK(upsample_bilinear2x(x).to_vector() == expected);
}

TEST_CASE("max_pool2d takes the maximum of each window, floor mode") {
  Tensor x = Tensor::from({1, 5, 2, 0, 3, 4, 8, 1, 7, 6, 9, 9, 0, 0, 0, 0, 1, 1, 1, 1},
                          {1, 1, 4, 5});
  Tensor y = max_pool2d(x, 2, 2);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<float>{8, 7, 9, 1});
}

TEST_CASE("batch_norm2d updates running statistics as PyTorch") {
  // x2 (N=2, C=2, 1, 2): channel 0 holds {1, 2} of image 0 and {3, 6} of
  // image 1 -> mean 3, biased var 3.5, unbiased 14/3
  Tensor x2 = Tensor::from({1, 2, 0, 0, 3, 6, 0, 4}, {2, 2, 1, 2});
  Tensor gamma = Tensor::full({2}, 1.0f), beta = Tensor::zeros({2});
  Tensor rm = Tensor::zeros({2}), rv = Tensor::full({2}, 1.0f);
  Tensor y = batch_norm2d(x2, gamma, beta, rm, rv, true, 0.1f, 1e-5f);
  CHECK(rm.data()[0] == doctest::Approx(0.1 * 3.0));
  CHECK(rv.data()[0] == doctest::Approx(0.9 + 0.1 * 14.0 / 3.0));
  CHECK(y.data()[0] == doctest::Approx((1 - 3) / std::sqrt(3.5 + 1e-5)));
  // eval uses the running statistics
  Tensor e = batch_norm2d(x2, gamma, beta, rm, rv, false, 0.1f, 1e-5f);
  CHECK(e.data()[0] == doctest::Approx((1 - rm.data()[0]) / std::sqrt(rv.data()[0] + 1e-5)));
}

TEST_CASE("relu_batch_norm2d equals relu then batch_norm2d, and relus its input in place") {
  Rng rng(13);
  for (bool training : {true, false}) {
    Tensor x = random_tensor({3, 4, 37, 41}, rng, -1.0f, 2.0f);  // 37*41: not a multiple of 16
    Tensor gamma = random_tensor({4}, rng, 0.5f, 1.5f), beta = random_tensor({4}, rng);
    Tensor dout = random_tensor(x.shape(), rng);
    auto run = [&](bool fused, Tensor& dx, Tensor& dgamma, Tensor& rm, Tensor& rv) {
      Tensor xc = x.clone().requires_grad_();
      Tensor g = gamma.clone().requires_grad_(), b = beta.clone().requires_grad_();
      rm = Tensor::full({4}, 0.2f);
      rv = Tensor::full({4}, 1.5f);
      Tensor in = xc * 1.0f;  // a fresh tensor for the in-place op to overwrite
      Tensor y = fused ? relu_batch_norm2d(in, g, b, rm, rv, training, 0.1f, 1e-5f)
                       : batch_norm2d(relu(in), g, b, rm, rv, training, 0.1f, 1e-5f);
      if (fused)
        for (int64_t i = 0; i < x.numel(); ++i)
          REQUIRE(in.data()[i] == std::max(x.data()[i], 0.0f));
      sum(y * dout).backward();
      dx = xc.grad();
      dgamma = g.grad();
      return y;
    };
    Tensor dx1, dg1, rm1, rv1, dx2, dg2, rm2, rv2;
    Tensor y1 = run(true, dx1, dg1, rm1, rv1), y2 = run(false, dx2, dg2, rm2, rv2);
    CHECK(y1.to_vector() == y2.to_vector());
    CHECK(dx1.to_vector() == dx2.to_vector());
    CHECK(dg1.to_vector() == dg2.to_vector());
    CHECK(rm1.to_vector() == rm2.to_vector());
    CHECK(rv1.to_vector() == rv2.to_vector());
  }
}

TEST_CASE("dropout zeroes about p and scales the rest by 1/(1-p)") {
  Rng rng(12);
  Tensor x = Tensor::full({100000}, 2.0f);
  Tensor y = dropout(x, 0.25f, true, rng);
  int64_t zeros = 0;
  for (float v : y.to_vector()) {
    if (v == 0.0f) ++zeros;
    else CHECK(v == doctest::Approx(2.0f / 0.75f));
  }
  CHECK(double(zeros) / 100000.0 == doctest::Approx(0.25).epsilon(0.03));
  CHECK(dropout(x, 0.25f, false, rng).data() == x.data());  // eval: identity

  Tensor maps = Tensor::full({4, 50, 3, 3}, 1.0f);
  Tensor z = dropout2d(maps, 0.5f, true, rng);
  for (int64_t p = 0; p < 200; ++p)  // each channel map all kept or all dropped
    for (int64_t i = 1; i < 9; ++i) CHECK(z.data()[p * 9 + i] == z.data()[p * 9]);
}

TEST_CASE("dropout with the same seed drops the same elements") {
  Tensor x = Tensor::full({1000}, 1.0f);
  Rng a(7), b(7);
  CHECK(dropout(x, 0.5f, true, a).to_vector() == dropout(x, 0.5f, true, b).to_vector());
}

TEST_CASE("bce_with_logits is finite and right for large |x|") {
  Tensor x = Tensor::from({100.0f, -100.0f, 0.0f, 30.0f}, {4});
  Tensor t = Tensor::from({0.0f, 1.0f, 1.0f, 1.0f}, {4});
  const double expected = (100.0 + 100.0 + std::log(2.0) + std::log1p(std::exp(-30.0))) / 4.0;
  Tensor l = bce_with_logits(x, t);
  CHECK(std::isfinite(l.item()));
  CHECK(l.item() == doctest::Approx(expected));
}

TEST_CASE("soft dice loss is 0 for a perfect prediction and SPEC's formula otherwise") {
  Tensor t = Tensor::from({1, 0, 1, 0}, {4});
  CHECK(soft_dice_loss(t, t).item() == doctest::Approx(0.0));
  Tensor p = Tensor::from({0.5f, 0.5f, 0.0f, 0.0f}, {4});
  // 1 - (2*0.5 + 1e-4) / (1 + 2 + 1e-4)
  CHECK(soft_dice_loss(p, t).item() == doctest::Approx(1.0 - 1.0001 / 3.0001));
}

TEST_CASE("tanh_array is within a few ulp of std::tanh, partial vectors included") {
  std::vector<float> x;
  for (float v = -20.0f; v <= 20.0f; v += 0.013f) x.push_back(v);
  x.insert(x.end(), {0.0f, -0.0f, 1e-30f, -1e-8f, 88.0f, -100.0f});
  for (int64_t n : {int64_t(x.size()), int64_t(1), int64_t(17), int64_t(31)}) {
    std::vector<float> y(size_t(n), -5.0f);
    tanh_array(x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const float want = std::tanh(x[size_t(i)]);
      CHECK(std::fabs(y[size_t(i)] - want) <= 4 * std::numeric_limits<float>::epsilon() * std::fabs(want) + 1e-37f);
    }
  }
}

TEST_CASE("upsample_cat equals cat_channels of upsample_bilinear2x, values and gradients") {
  Rng rng(14);
  Tensor x = random_tensor({2, 3, 5, 7}, rng), skip = random_tensor({2, 4, 10, 14}, rng);
  Tensor dout = random_tensor({2, 7, 10, 14}, rng);
  auto run = [&](bool fused, std::vector<float>& dx, std::vector<float>& ds) {
    Tensor xc = x.clone().requires_grad_(), sc = skip.clone().requires_grad_();
    Tensor y = fused ? upsample_cat(xc, sc) : cat_channels({upsample_bilinear2x(xc), sc});
    sum(y * dout).backward();
    dx = xc.grad().to_vector();
    ds = sc.grad().to_vector();
    return y.to_vector();
  };
  std::vector<float> dx1, ds1, dx2, ds2;
  CHECK(run(true, dx1, ds1) == run(false, dx2, ds2));
  CHECK(dx1 == dx2);
  CHECK(ds1 == ds2);
  CHECK_THROWS_AS(upsample_cat(x, random_tensor({2, 4, 10, 12}, rng)), Error);
}
