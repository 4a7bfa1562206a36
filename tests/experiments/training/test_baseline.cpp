#include <doctest/doctest.h>

#include "experiments/training/baseline.h"

using namespace qat;

namespace {
// n images of 8x8: left half dark, right half bright; the mask marks `side`.
data::Split halves(int64_t n, bool bright_is_foreground) {
  data::Split s;
  for (int64_t i = 0; i < n; ++i) {
    data::Sample x;
    x.c = 1, x.h = 8, x.w = 8;
    for (int64_t p = 0; p < 64; ++p) {
      const bool right = p % 8 >= 4;
      x.image.push_back(right ? 1.0f + 0.01f * float(i) : 0.0f);
      x.mask.push_back(uint8_t(right == bright_is_foreground));
    }
    s.append(x);
  }
  return s;
}
}  // namespace

TEST_CASE("baseline: a separable set is thresholded perfectly, either polarity") {
  Config c;
  c.crop = 8;
  for (bool bright : {true, false}) {
    const ThresholdBaseline b = threshold_baseline(halves(3, bright), halves(2, bright), c);
    CHECK(b.brighter == bright);
    CHECK(b.train_dice == doctest::Approx(1.0));
    CHECK(b.val.dice == doctest::Approx(1.0));
  }
}

TEST_CASE("baseline: a threshold cannot beat chance on a mask unrelated to intensity") {
  Config c;
  c.crop = 8;
  data::Split s = halves(4, true);
  for (size_t i = 0; i < s.masks.size(); ++i) s.masks[i] = uint8_t((i / 8) % 2);  // rows
  const ThresholdBaseline b = threshold_baseline(s, s, c);
  CHECK(b.val.dice < 0.7);
}
