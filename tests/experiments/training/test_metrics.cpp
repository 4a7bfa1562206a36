// Segmentation metrics on hand-made masks (values worked out in the
// comments), their edge cases, and the Hausdorff distance and Rand index
// against brute-force references.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "autograd/rng.h"
#include "experiments/training/metrics.h"

using namespace qat;

namespace {
// A 4x4 case. Target: the 2x2 block in the middle.  Prob at threshold 0.5:
//   target        prob                  pred (>= 0.5)
//   0 0 0 0       .9  .1  0   0         1 0 0 0
//   0 1 1 0       0   .8  .6  0         0 1 1 0
//   0 1 1 0       0   .5  .3  0         0 1 0 0
//   0 0 0 0       0   0   0   0         0 0 0 0
const std::vector<uint8_t> kTarget = {0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0};
const std::vector<float> kProb = {0.9f, 0.1f, 0, 0, 0, 0.8f, 0.6f, 0, 0, 0.5f, 0.3f, 0, 0, 0, 0, 0};

// The boundary as the header defines it, written as plainly as possible.
std::vector<std::pair<int, int>> naive_boundary(const std::vector<uint8_t>& m, int H, int W) {
  std::vector<std::pair<int, int>> b;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      if (!m[y * W + x]) continue;
      bool edge = false;
      const int dy[] = {-1, 1, 0, 0}, dx[] = {0, 0, -1, 1};
      for (int k = 0; k < 4; ++k) {
        const int yy = y + dy[k], xx = x + dx[k];
        if (yy < 0 || yy >= H || xx < 0 || xx >= W || !m[yy * W + xx]) edge = true;
      }
      if (edge) b.emplace_back(y, x);
    }
  return b;
}

// Every pair of boundary pixels.
double brute_force_hausdorff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                             int H, int W) {
  const auto A = naive_boundary(a, H, W), B = naive_boundary(b, H, W);
  auto directed = [](const auto& from, const auto& to) {
    double worst = 0;
    for (auto [y, x] : from) {
      double best = std::numeric_limits<double>::infinity();
      for (auto [v, u] : to) best = std::min(best, std::hypot(double(y - v), double(x - u)));
      worst = std::max(worst, best);
    }
    return worst;
  };
  return std::max(directed(A, B), directed(B, A));
}

std::vector<uint8_t> random_blobs(Rng& rng, int H, int W, int blobs) {
  std::vector<uint8_t> m(size_t(H * W), 0);
  for (int k = 0; k < blobs; ++k) {
    const double cy = rng.uniform() * H, cx = rng.uniform() * W, r = 1 + rng.uniform() * H / 4;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) m[y * W + x] = 1;
  }
  // Salt: single pixels, holes and specks, so the boundary is not just circles.
  for (int i = 0; i < H * W / 50; ++i) m[size_t(rng.uniform() * H * W) % m.size()] ^= 1;
  return m;
}
}  // namespace

TEST_CASE("metrics: the 4x4 case at threshold 0.5") {
  const auto pred = threshold_mask(kProb.data(), 16, 0.5f);
  const Confusion c = confusion(pred.data(), kTarget.data(), 16);
  // TP (1,1) (1,2) (2,1); FP (0,0); FN (2,2); TN the other 11.
  CHECK(c == Confusion{.tp = 3, .fp = 1, .fn = 1, .tn = 11});
  const Metrics m = Metrics::of(c);
  CHECK(m.dice == doctest::Approx(6.0 / 8.0));  // 2*3 / (2*3 + 1 + 1)
  CHECK(m.iou == doctest::Approx(3.0 / 5.0));
  CHECK(m.precision == doctest::Approx(3.0 / 4.0));
  CHECK(m.recall == doctest::Approx(3.0 / 4.0));
  CHECK(m.specificity == doctest::Approx(11.0 / 12.0));
  CHECK(m.accuracy == doctest::Approx(14.0 / 16.0));
  // 120 pairs; cells^2 9+1+1+121 = 132; rows (pred 4, 12) 16+144 = 160;
  // columns (target 4, 12) 160: agreeing 120 + 132 - 160 = 92.
  CHECK(m.rand_index == doctest::Approx(92.0 / 120.0));
  // Every pixel of both masks is on a boundary. pred -> target: (0,0) is
  // sqrt(2) from (1,1); target -> pred: (2,2) is 1 from (1,2).
  CHECK(hausdorff(pred.data(), kTarget.data(), 4, 4) == doctest::Approx(std::sqrt(2.0)));
}

TEST_CASE("metrics: the paper's threshold 0.999 empties the same prediction") {
  const auto pred = threshold_mask(kProb.data(), 16, 0.999f);
  const Confusion c = confusion(pred.data(), kTarget.data(), 16);
  CHECK(c == Confusion{.tp = 0, .fp = 0, .fn = 4, .tn = 12});
  const Metrics m = Metrics::of(c);
  CHECK(m.dice == 0.0);
  CHECK(m.iou == 0.0);
  CHECK(m.precision == 1.0);  // nothing predicted, nothing wrongly claimed
  CHECK(m.recall == 0.0);
  CHECK(m.specificity == 1.0);
  CHECK(m.accuracy == doctest::Approx(0.75));
  // pred is one class: its 120 pairs all "same"; the target splits 4*12 = 48.
  CHECK(m.rand_index == doctest::Approx(72.0 / 120.0));
  CHECK(std::isinf(hausdorff(pred.data(), kTarget.data(), 4, 4)));
  CHECK(std::isinf(hausdorff(kTarget.data(), pred.data(), 4, 4)));
  // A probability of exactly the threshold is foreground.
  const float at = 0.999f;
  CHECK(threshold_mask(&at, 1, 0.999f)[0] == 1);
}

TEST_CASE("metrics: empty prediction and empty target score 1, distance 0") {
  const std::vector<uint8_t> empty(9, 0), full(9, 1);
  const Metrics m = Metrics::of(confusion(empty.data(), empty.data(), 9));
  CHECK(m.dice == 1.0);
  CHECK(m.iou == 1.0);
  CHECK(m.precision == 1.0);
  CHECK(m.recall == 1.0);
  CHECK(m.specificity == 1.0);
  CHECK(m.accuracy == 1.0);
  CHECK(m.rand_index == 1.0);
  CHECK(hausdorff(empty.data(), empty.data(), 3, 3) == 0.0);
  // All foreground on both sides: specificity has no negatives, so 1.
  const Metrics f = Metrics::of(confusion(full.data(), full.data(), 9));
  CHECK(f.specificity == 1.0);
  CHECK(f.dice == 1.0);
  // Prediction where the target is empty: Dice 0, recall 1 (nothing to find),
  // precision 0.
  const Metrics g = Metrics::of(confusion(full.data(), empty.data(), 9));
  CHECK(g.dice == 0.0);
  CHECK(g.recall == 1.0);
  CHECK(g.precision == 0.0);
  CHECK(g.specificity == 0.0);
  // One pixel: no pairs, Rand index 1.
  const uint8_t one = 1;
  CHECK(rand_index(confusion(&one, &one, 1)) == 1.0);
}

TEST_CASE("metrics: Rand index equals counting the agreeing pixel pairs") {
  Rng rng(3);
  for (int trial = 0; trial < 5; ++trial) {
    const int n = 37 + 11 * trial;
    std::vector<uint8_t> a(n), b(n);
    for (int i = 0; i < n; ++i) {
      a[i] = rng.uniform() < 0.3;
      b[i] = rng.uniform() < 0.2 + 0.15 * trial;
    }
    int64_t agree = 0, pairs = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j, ++pairs) agree += (a[i] == a[j]) == (b[i] == b[j]);
    CHECK(rand_index(confusion(a.data(), b.data(), n)) ==
          doctest::Approx(double(agree) / double(pairs)).epsilon(1e-12));
  }
}

TEST_CASE("metrics: boundary keeps the pixels next to background or the edge") {
  // A full 3x3 mask: all but the centre is boundary (outside is background).
  const std::vector<uint8_t> full(9, 1);
  CHECK(boundary(full.data(), 3, 3) == std::vector<uint8_t>{1, 1, 1, 1, 0, 1, 1, 1, 1});
  // A 7x7 image, target the 5x5 block rows/cols 1..5, prediction its centre
  // pixel (3,3). centre -> nearest target boundary (1,3): 2; target corner
  // (1,1) -> centre: sqrt(8). Hausdorff sqrt(8).
  std::vector<uint8_t> target(49, 0), pred(49, 0);
  for (int y = 1; y <= 5; ++y)
    for (int x = 1; x <= 5; ++x) target[y * 7 + x] = 1;
  pred[3 * 7 + 3] = 1;
  CHECK(hausdorff(pred.data(), target.data(), 7, 7) == doctest::Approx(std::sqrt(8.0)));
  // A ring of the target's boundary as prediction: distance 0.
  const auto ring = boundary(target.data(), 7, 7);
  CHECK(hausdorff(ring.data(), target.data(), 7, 7) == 0.0);
}

TEST_CASE("metrics: Hausdorff equals the brute force over boundary pairs") {
  Rng rng(7);
  const int sizes[][2] = {{1, 9}, {9, 1}, {13, 17}, {23, 31}, {31, 23}, {200, 200}};
  for (auto [H, W] : sizes) {
    for (int trial = 0; trial < 3; ++trial) {
      CAPTURE(H);
      CAPTURE(W);
      CAPTURE(trial);
      const auto a = random_blobs(rng, H, W, 1 + trial), b = random_blobs(rng, H, W, 2);
      const double ref = brute_force_hausdorff(a, b, H, W);
      CHECK(hausdorff(a.data(), b.data(), H, W) == doctest::Approx(ref).epsilon(1e-12));
      CHECK(hausdorff(b.data(), a.data(), H, W) == doctest::Approx(ref).epsilon(1e-12));
    }
  }
}

TEST_CASE("metrics: the accumulator's global, per-image and per-batch means differ as defined") {
  // 2x2 images.
  //   batch 1 (float targets): A target 1 1 / 0 0, pred 1 0 / 0 0: TP1 FN1 TN2,
  //                              Dice 2/3, Hausdorff 1 ((0,1) to (0,0))
  //                            B both empty: TN4, Dice 1, Hausdorff 0
  //   batch 2 (uint8 targets): C both full: TP4, Dice 1, Hausdorff 0
  //                            D target 1 0 / 0 0, pred empty: FN1 TN3,
  //                              Dice 0, Hausdorff infinite
  MetricAccumulator acc;  // threshold 0.5
  const std::vector<float> prob1 = {0.7f, 0.2f, 0.0f, 0.1f, 0.0f, 0.0f, 0.4f, 0.0f};
  const std::vector<float> target1 = {1, 1, 0, 0, 0, 0, 0, 0};
  acc.add(prob1.data(), target1.data(), /*N=*/2, /*H=*/2, /*W=*/2);
  const std::vector<float> prob2 = {0.9f, 0.6f, 0.5f, 1.0f, 0.3f, 0.0f, 0.0f, 0.0f};
  const std::vector<uint8_t> target2 = {1, 1, 1, 1, 1, 0, 0, 0};
  acc.add(prob2.data(), target2.data(), 2, 2, 2);

  CHECK(acc.images() == 4);
  CHECK(acc.batches() == 2);
  CHECK(acc.counts() == Confusion{.tp = 5, .fp = 0, .fn = 2, .tn = 9});
  CHECK(acc.global().dice == doctest::Approx(10.0 / 12.0));               // 2*5 / (10 + 2)
  CHECK(acc.mean_per_image().dice == doctest::Approx((2.0 / 3 + 1 + 1 + 0) / 4));
  // batch 1: TP1 FN1 TN6, Dice 2/3; batch 2: TP4 FN1 TN3, Dice 8/9.
  CHECK(acc.mean_per_batch().dice == doctest::Approx((2.0 / 3 + 8.0 / 9) / 2));
  CHECK(acc.mean_per_batch().recall == doctest::Approx((1.0 / 2 + 4.0 / 5) / 2));
  CHECK(acc.mean_per_image().accuracy == doctest::Approx((3.0 / 4 + 1 + 1 + 3.0 / 4) / 4));
  CHECK(acc.mean_hausdorff() == doctest::Approx(1.0 / 3));
  CHECK(acc.hausdorff_infinite() == 1);

  MetricAccumulator none;
  CHECK_THROWS_AS(none.global(), Error);
  CHECK_THROWS_AS(none.add(prob1.data(), target1.data(), 0, 2, 2), Error);
}
