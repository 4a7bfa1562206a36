// Transforms against hand-made cases: exact centre, identities, whole-pixel
// moves, a quarter turn, masks staying 0/1, seeds, normalisation.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/check.h"
#include "data/filters.h"
#include "data/pipeline.h"
#include "data/transforms.h"

using namespace qat::data;
using qat::Rng;

namespace {

// image(c, y, x) = 100c + 10y + x, mask 1 where x + y is even.
Sample grid(int64_t c, int64_t h, int64_t w) {
  Sample s{c, h, w, {}, {}};
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) s.image.push_back(float(100 * ch + 10 * y + x));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) s.mask.push_back(uint8_t((x + y) % 2 == 0));
  return s;
}

// A smooth random image with a random blob mask, for the random transforms.
Sample blobby(int64_t h, int64_t w, uint64_t seed) {
  Rng rng(seed);
  Sample s{1, h, w, std::vector<float>(size_t(h * w)), std::vector<uint8_t>(size_t(h * w))};
  for (float& v : s.image) v = rng.uniform();
  gaussian_blur(s.image.data(), h, w, 2.f, Border::clamp);
  for (size_t i = 0; i < s.image.size(); ++i) s.mask[i] = s.image[i] > 0.5f;
  return s;
}

bool masks_binary(const Sample& s) {
  for (uint8_t m : s.mask)
    if (m > 1) return false;
  return true;
}

}  // namespace

TEST_CASE("data: centre crop takes the exact centre") {
  const Sample s = grid(2, 6, 7);
  const Sample c = center_crop(s, 2, 3);  // rows 2..3, columns 2..4
  REQUIRE(c.h == 2);
  REQUIRE(c.w == 3);
  CHECK(c.image == std::vector<float>{22, 23, 24, 32, 33, 34, 122, 123, 124, 132, 133, 134});
  CHECK(c.mask == std::vector<uint8_t>{1, 0, 1, 0, 1, 0});
  // Odd surplus: 5 -> 2 leaves 1 above and 2 below.
  CHECK(center_crop(grid(1, 5, 5), 2, 2).image == std::vector<float>{11, 12, 21, 22});
  CHECK(center_crop(s, 6, 7).image == s.image);
}

TEST_CASE("data: a crop larger than the image names both sizes") {
  Rng rng(1);
  CHECK_THROWS_WITH_AS(center_crop(grid(1, 4, 5), 6, 5),
                       doctest::Contains("crop of 6x5 does not fit the image of 4x5"), qat::Error);
  CHECK_THROWS_WITH_AS(random_crop(grid(1, 4, 5), 4, 9, rng),
                       doctest::Contains("crop of 4x9 does not fit the image of 4x5"), qat::Error);
}

TEST_CASE("data: random crop is a window of the image, fixed by the seed") {
  const Sample s = grid(1, 10, 12);
  Rng a(7), b(7);
  const Sample x = random_crop(s, 4, 5, a), y = random_crop(s, 4, 5, b);
  CHECK(x.image == y.image);
  // A window: value (r, c) = value(0, 0) + 10r + c.
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 5; ++c) CHECK(x.image[size_t(r * 5 + c)] == x.image[0] + 10 * r + c);
  bool moved = false;
  for (uint64_t seed = 0; seed < 10 && !moved; ++seed) {
    Rng r(seed);
    moved = random_crop(s, 4, 5, r).image != x.image;
  }
  CHECK(moved);
}

TEST_CASE("data: affine with angle 0, scale 1, no translation is the identity") {
  const Sample s = grid(3, 7, 8);
  const Sample a = affine(s, 0.f, 1.f, 0.f, 0.f);
  CHECK(a.image == s.image);
  CHECK(a.mask == s.mask);
}

TEST_CASE("data: translation by whole pixels moves a known pixel") {
  Sample s{1, 5, 6, std::vector<float>(30, 0.f), std::vector<uint8_t>(30, 0)};
  s.image[1 * 6 + 2] = 7.f;  // (y=1, x=2)
  s.mask[1 * 6 + 2] = 1;
  const Sample t = affine(s, 0.f, 1.f, /*tx=*/2.f, /*ty=*/1.f);
  for (int64_t p = 0; p < 30; ++p) {
    const bool at = p == 2 * 6 + 4;  // now (y=2, x=4)
    CHECK(t.image[size_t(p)] == (at ? 7.f : 0.f));
    CHECK(t.mask[size_t(p)] == (at ? 1 : 0));
  }
}

TEST_CASE("data: a quarter turn counter-clockwise moves top-right to top-left") {
  const Sample s = grid(1, 3, 3);  // rows {0,1,2}, {10,11,12}, {20,21,22}
  const Sample r = affine(s, 90.f, 1.f, 0.f, 0.f);
  // Counter-clockwise as displayed: the right column becomes the top row.
  const std::vector<float> want{2, 12, 22, 1, 11, 21, 0, 10, 20};
  for (size_t i = 0; i < 9; ++i) CHECK(r.image[i] == doctest::Approx(want[i]).epsilon(1e-5));
  CHECK(r.mask == std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 1, 0, 1});
}

TEST_CASE("data: a half-pixel shift interpolates the image, keeps the mask 0/1") {
  const Sample s = grid(1, 4, 4);
  const Sample t = affine(s, 0.f, 1.f, 0.5f, 0.f);
  // out(y, x) = in(y, x - 0.5) = mean of columns x-1 and x.
  CHECK(t.image[1 * 4 + 2] == doctest::Approx(0.5f * (11 + 12)));
  CHECK(masks_binary(t));
}

TEST_CASE("data: elastic with alpha 0 is the identity, otherwise it moves pixels") {
  const Sample s = blobby(20, 24, 3);
  Rng rng(5);
  const Sample e = elastic(s, 0.f, 4.f, rng);
  CHECK(e.image == s.image);
  CHECK(e.mask == s.mask);
  Rng rng2(5);
  const Sample moved = elastic(s, 30.f, 4.f, rng2);
  CHECK(moved.image != s.image);
  CHECK(masks_binary(moved));
}

TEST_CASE("data: random transforms repeat with a seed and differ across seeds") {
  const Sample s = blobby(32, 32, 11);
  auto run = [&](uint64_t seed) {
    Rng rng(seed);
    Sample x = random_elastic(s, 28.f, 30.f, 3.5f, 4.f, /*p=*/1.f, rng);
    x = random_affine(x, 4.6f, 0.98f, 1.02f, 0.03f, rng);
    random_intensity_shift(x, 0.1f, rng);
    return x;
  };
  const Sample a = run(1), b = run(1), c = run(2);
  CHECK(a.image == b.image);
  CHECK(a.mask == b.mask);
  CHECK(a.image != c.image);
  CHECK(masks_binary(a));
  CHECK(masks_binary(c));
}

TEST_CASE("data: elastic with p = 0 never applies") {
  const Sample s = blobby(16, 16, 2);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Rng rng(seed);
    CHECK(random_elastic(s, 28.f, 30.f, 3.5f, 4.f, 0.f, rng).image == s.image);
  }
}

TEST_CASE("data: intensity shift adds one value within the bound") {
  Sample s = grid(1, 3, 3);
  const Sample before = s;
  Rng rng(4);
  random_intensity_shift(s, 0.1f, rng);
  const float shift = s.image[0] - before.image[0];
  CHECK(std::abs(shift) <= 0.1f);
  CHECK(shift != 0.f);
  for (size_t i = 0; i < 9; ++i) CHECK(s.image[i] - before.image[i] == doctest::Approx(shift));
}

TEST_CASE("data: normalisation gives mean 0, std 1; a constant image gives zeros") {
  Sample s = grid(2, 5, 5);
  normalize(s);
  double sum = 0, sq = 0;
  for (float v : s.image) sum += v;
  for (float v : s.image) sq += double(v) * v;
  const double n = double(s.image.size());
  CHECK(sum / n == doctest::Approx(0).epsilon(1e-6));
  CHECK(sq / n == doctest::Approx(1).epsilon(1e-5));
  // Hand case: {1, 3} -> mean 2, population std 1 -> {-1, 1}.
  Sample two{1, 1, 2, {1.f, 3.f}, {0, 1}};
  normalize(two);
  CHECK(two.image == std::vector<float>{-1.f, 1.f});
  Sample flat{1, 3, 3, std::vector<float>(9, 0.7f), std::vector<uint8_t>(9, 0)};
  normalize(flat);
  for (float v : flat.image) CHECK(v == 0.f);
}

TEST_CASE("data: the pipeline crops, augments for training and only crops for eval") {
  const Sample s = blobby(40, 36, 8);
  PipelineOptions o;
  o.crop_h = 24, o.crop_w = 20;
  o.elastic_p = 1.f;
  const Pipeline pipe(o);
  const Sample ev = pipe.eval(s);
  Sample want = center_crop(s, 24, 20);
  normalize(want);
  CHECK(ev.image == want.image);
  CHECK(ev.mask == want.mask);
  Rng a(3), b(3);
  const Sample ta = pipe.train(s, a), tb = pipe.train(s, b);
  CHECK(ta.h == 24);
  CHECK(ta.w == 20);
  CHECK(ta.image == tb.image);
  CHECK(ta.image != ev.image);
  CHECK(masks_binary(ta));
  // With every augmentation off, training equals evaluation.
  PipelineOptions off = o;
  off.elastic_p = 0, off.rotation_deg = 0, off.scale_lo = off.scale_hi = 1, off.translate = 0;
  off.intensity_shift = 0;
  Rng c(9);
  CHECK(Pipeline(off).train(s, c).image == ev.image);
}

TEST_CASE("data: Gaussian blur keeps a constant plane and spreads an impulse symmetrically") {
  std::vector<float> flat(49, 2.f);
  gaussian_blur(flat.data(), 7, 7, 1.f, Border::clamp);
  for (float v : flat) CHECK(v == doctest::Approx(2.f));
  std::vector<float> dot(81, 0.f);
  dot[40] = 1.f;
  gaussian_blur(dot.data(), 9, 9, 1.f, Border::zero);
  // Separable kernel: centre weight (1/sum_k exp(-k^2/2))^2 for |k| <= 4.
  double z = 0;
  for (int k = -4; k <= 4; ++k) z += std::exp(-0.5 * k * k);
  CHECK(dot[40] == doctest::Approx(1.0 / (z * z)).epsilon(1e-5));
  CHECK(dot[39] == doctest::Approx(dot[41]));
  CHECK(dot[31] == doctest::Approx(dot[49]));
  CHECK(dot[39] == doctest::Approx(dot[31]));
}

TEST_CASE("data: pad centres the image in zeros and never shrinks it") {
  const Sample s = grid(1, 2, 2);  // {0, 1, 10, 11}, mask {1, 0, 0, 1}
  const Sample p = pad(s, 3, 4);   // one row below, one column each side
  CHECK(p.image == std::vector<float>{0, 0, 1, 0, 0, 10, 11, 0, 0, 0, 0, 0});
  CHECK(p.mask == std::vector<uint8_t>{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0});
  CHECK(pad(s, 1, 0).image == s.image);
}
