#include "experiments/training/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/check.h"

namespace qat {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// num / den, or 1 when den is 0 (see the header: nothing to get wrong).
double ratio(int64_t num, int64_t den) { return den == 0 ? 1.0 : double(num) / double(den); }

void check_sizes(const char* what, int64_t N, int64_t H, int64_t W) {
  if (N <= 0 || H <= 0 || W <= 0)
    throw Error(detail::concat(what, ": batch of shape (", N, ",", H, ",", W,
                               "), expected every size > 0"));
}
}  // namespace

Confusion& Confusion::operator+=(const Confusion& o) {
  tp += o.tp;
  fp += o.fp;
  fn += o.fn;
  tn += o.tn;
  return *this;
}

Confusion confusion(const uint8_t* pred, const uint8_t* target, int64_t n) {
  Confusion c;
  for (int64_t i = 0; i < n; ++i) {
    const bool p = pred[i] != 0, t = target[i] != 0;
    c.tp += p && t;
    c.fp += p && !t;
    c.fn += !p && t;
    c.tn += !p && !t;
  }
  return c;
}

double dice(const Confusion& c) { return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn); }
double iou(const Confusion& c) { return ratio(c.tp, c.tp + c.fp + c.fn); }
double precision(const Confusion& c) { return ratio(c.tp, c.tp + c.fp); }
double recall(const Confusion& c) { return ratio(c.tp, c.tp + c.fn); }
double specificity(const Confusion& c) { return ratio(c.tn, c.tn + c.fp); }

double accuracy(const Confusion& c) {
  QAT_CHECK(c.total() > 0, "accuracy of no pixels");
  return double(c.tp + c.tn) / double(c.total());
}

double rand_index(const Confusion& c) {
  QAT_CHECK(c.total() > 0, "Rand index of no pixels");
  // In double: n^2 passes int64 for a set of 3e9 pixels; 53 bits keep the
  // ratio exact enough for any set we can hold.
  const double n = double(c.total());
  const double pairs = n * (n - 1) / 2;
  if (pairs == 0) return 1.0;
  auto sq = [](double x) { return x * x; };
  const double cells = sq(c.tp) + sq(c.fp) + sq(c.fn) + sq(c.tn);
  const double rows = sq(c.tp + c.fp) + sq(c.fn + c.tn);  // predicted 1, 0
  const double cols = sq(c.tp + c.fn) + sq(c.fp + c.tn);  // target 1, 0
  return (pairs + cells - (rows + cols) / 2) / pairs;
}

Metrics Metrics::of(const Confusion& c) {
  // qat:: because the members shadow the free functions of the same names.
  return {qat::dice(c),        qat::iou(c),      qat::precision(c), qat::recall(c),
          qat::specificity(c), qat::accuracy(c), qat::rand_index(c)};
}

std::vector<uint8_t> threshold_mask(const float* prob, int64_t n, float threshold) {
  std::vector<uint8_t> m(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) m[i] = prob[i] >= threshold;
  return m;
}

std::vector<uint8_t> target_mask(const float* target, int64_t n) {
  std::vector<uint8_t> m(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) m[i] = target[i] >= 0.5f;
  return m;
}

std::vector<uint8_t> target_mask(const uint8_t* target, int64_t n) {
  std::vector<uint8_t> m(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) m[i] = target[i] != 0;
  return m;
}

// ---- Hausdorff distance

std::vector<uint8_t> boundary(const uint8_t* mask, int64_t H, int64_t W) {
  auto fg = [&](int64_t y, int64_t x) {
    return y >= 0 && y < H && x >= 0 && x < W && mask[y * W + x] != 0;
  };
  std::vector<uint8_t> b(size_t(H * W), 0);
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      b[y * W + x] = fg(y, x) && !(fg(y - 1, x) && fg(y + 1, x) && fg(y, x - 1) && fg(y, x + 1));
  return b;
}

namespace {

// One line of the exact squared Euclidean distance transform (Felzenszwalb &
// Huttenlocher, 2012): d[q] = min over p of (q - p)^2 + f[p], the lower
// envelope of parabolas rooted at the finite f[p]. f, d (n); v (n) and
// z (n+1) are scratch. d is +inf everywhere when every f is.
void distance_transform_1d(const double* f, int64_t n, double* d, int64_t* v, double* z) {
  int64_t k = -1;  // index of the rightmost parabola of the envelope
  for (int64_t q = 0; q < n; ++q) {
    if (f[q] == kInf) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
      continue;
    }
    // Where parabola q overtakes the envelope's last one; z[0] = -inf stops
    // the loop at k = 0.
    double s;
    for (;;) {
      const double p = double(v[k]);
      s = ((f[q] + double(q) * double(q)) - (f[v[k]] + p * p)) / (2.0 * (double(q) - p));
      if (s > z[k]) break;
      --k;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kInf;
  }
  if (k < 0) {
    std::fill(d, d + n, kInf);
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (z[k + 1] < double(q)) ++k;
    const double dq = double(q - v[k]);
    d[q] = dq * dq + f[v[k]];
  }
}

// sites (H,W) -> (H,W): squared distance from each pixel to the nearest site.
std::vector<double> squared_distance_to(const std::vector<uint8_t>& sites, int64_t H, int64_t W) {
  const int64_t L = std::max(H, W);
  std::vector<double> out(static_cast<size_t>(H * W));
  std::vector<double> f(static_cast<size_t>(L)), d(static_cast<size_t>(L));
  std::vector<double> z(static_cast<size_t>(L + 1));  // envelope breakpoints
  std::vector<int64_t> v(static_cast<size_t>(L));     // envelope roots
  for (int64_t x = 0; x < W; ++x) {  // columns first: distance along y
    for (int64_t y = 0; y < H; ++y) f[y] = sites[y * W + x] ? 0.0 : kInf;
    distance_transform_1d(f.data(), H, d.data(), v.data(), z.data());
    for (int64_t y = 0; y < H; ++y) out[y * W + x] = d[y];
  }
  for (int64_t y = 0; y < H; ++y) {  // then rows, over the column results
    distance_transform_1d(&out[y * W], W, d.data(), v.data(), z.data());
    std::copy(d.begin(), d.begin() + W, out.begin() + y * W);
  }
  return out;
}

// max over the pixels of `from` of the distance to the nearest pixel of `to`.
double directed_hausdorff(const std::vector<uint8_t>& from, const std::vector<uint8_t>& to,
                          int64_t H, int64_t W) {
  const std::vector<double> d2 = squared_distance_to(to, H, W);
  double worst = 0;
  for (int64_t i = 0; i < H * W; ++i)
    if (from[i]) worst = std::max(worst, d2[i]);
  return std::sqrt(worst);
}

}  // namespace

double hausdorff(const uint8_t* pred, const uint8_t* target, int64_t H, int64_t W) {
  check_sizes("hausdorff", 1, H, W);
  const std::vector<uint8_t> a = boundary(pred, H, W), b = boundary(target, H, W);
  const bool a_empty = std::find(a.begin(), a.end(), 1) == a.end();
  const bool b_empty = std::find(b.begin(), b.end(), 1) == b.end();
  if (a_empty || b_empty) return a_empty && b_empty ? 0.0 : kInf;
  return std::max(directed_hausdorff(a, b, H, W), directed_hausdorff(b, a, H, W));
}

// ---- accumulation over a validation set

namespace {
void accumulate(Metrics& sum, const Metrics& m) {
  sum.dice += m.dice;
  sum.iou += m.iou;
  sum.precision += m.precision;
  sum.recall += m.recall;
  sum.specificity += m.specificity;
  sum.accuracy += m.accuracy;
  sum.rand_index += m.rand_index;
}
Metrics divided(Metrics m, int64_t count) {
  const double s = 1.0 / double(count);
  return {m.dice * s, m.iou * s, m.precision * s, m.recall * s, m.specificity * s,
          m.accuracy * s, m.rand_index * s};
}
}  // namespace

MetricAccumulator::MetricAccumulator(float threshold) : threshold_(threshold) {
  if (!std::isfinite(threshold))
    throw Error(detail::concat("metrics: threshold ", threshold, ", expected a finite number"));
}

void MetricAccumulator::add(const float* prob, const float* target, int64_t N, int64_t H,
                            int64_t W) {
  check_sizes("metrics", N, H, W);
  add_masks(threshold_mask(prob, N * H * W, threshold_), target_mask(target, N * H * W), N, H, W);
}

void MetricAccumulator::add(const float* prob, const uint8_t* target, int64_t N, int64_t H,
                            int64_t W) {
  check_sizes("metrics", N, H, W);
  add_masks(threshold_mask(prob, N * H * W, threshold_), target_mask(target, N * H * W), N, H, W);
}

void MetricAccumulator::add_masks(const std::vector<uint8_t>& pred,
                                  const std::vector<uint8_t>& target, int64_t N, int64_t H,
                                  int64_t W) {
  Confusion batch;
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* p = pred.data() + n * H * W;
    const uint8_t* t = target.data() + n * H * W;
    const Confusion c = confusion(p, t, H * W);
    batch += c;
    accumulate(image_sum_, Metrics::of(c));
    const double h = hausdorff(p, t, H, W);
    if (std::isinf(h)) {
      ++hausdorff_infinite_;
    } else {
      hausdorff_sum_ += h;
      ++hausdorff_finite_;
    }
  }
  total_ += batch;
  accumulate(batch_sum_, Metrics::of(batch));
  images_ += N;
  ++batches_;
}

Metrics MetricAccumulator::global() const {
  if (batches_ == 0) throw Error("metrics: global() of an empty accumulator, expected a batch");
  return Metrics::of(total_);
}

Metrics MetricAccumulator::mean_per_image() const {
  if (images_ == 0) throw Error("metrics: mean_per_image() of an empty accumulator, expected a batch");
  return divided(image_sum_, images_);
}

Metrics MetricAccumulator::mean_per_batch() const {
  if (batches_ == 0) throw Error("metrics: mean_per_batch() of an empty accumulator, expected a batch");
  return divided(batch_sum_, batches_);
}

double MetricAccumulator::mean_hausdorff() const {
  if (images_ == 0) throw Error("metrics: mean_hausdorff() of an empty accumulator, expected a batch");
  return hausdorff_finite_ == 0 ? 0.0 : hausdorff_sum_ / double(hausdorff_finite_);
}

}  // namespace qat
