#include "experiments/training/baseline.h"

#include <algorithm>

#include "experiments/training/train.h"

namespace qat {
namespace {

// The first channel of every sample after the validation pipeline, with masks.
struct Pixels {
  std::vector<float> values;
  std::vector<uint8_t> masks;
};

Pixels prepared(const data::Split& s, const Config& c) {
  const data::Pipeline pipeline = make_pipeline(c);
  Pixels p;
  for (int64_t i = 0; i < s.n; ++i) {
    const data::Sample x = pipeline.eval(s.sample(i));
    const int64_t n = x.h * x.w;
    p.values.insert(p.values.end(), x.image.begin(), x.image.begin() + n);
    p.masks.insert(p.masks.end(), x.mask.begin(), x.mask.end());
  }
  return p;
}

Confusion count(const Pixels& p, float t, bool brighter) {
  Confusion c;
  for (size_t i = 0; i < p.values.size(); ++i) {
    const bool pred = brighter ? p.values[i] > t : p.values[i] < t;
    const bool truth = p.masks[i] != 0;
    c.tp += pred && truth, c.fp += pred && !truth, c.fn += !pred && truth, c.tn += !pred && !truth;
  }
  return c;
}

}  // namespace

ThresholdBaseline threshold_baseline(const data::Split& train, const data::Split& val,
                                     const Config& c) {
  const Pixels tr = prepared(train, c), va = prepared(val, c);
  ThresholdBaseline best;
  best.train_dice = -1;
  // Candidates: 201 quantiles of the training intensities.
  std::vector<float> sorted = tr.values;
  std::sort(sorted.begin(), sorted.end());
  for (int k = 0; k <= 200; ++k) {
    const float t = sorted[size_t(double(k) / 200.0 * double(sorted.size() - 1))];
    for (bool brighter : {true, false}) {
      const double d = dice(count(tr, t, brighter));
      if (d > best.train_dice) best.train_dice = d, best.threshold = t, best.brighter = brighter;
    }
  }
  best.val = Metrics::of(count(va, best.threshold, best.brighter));
  return best;
}

ThresholdBaseline threshold_baseline(const Config& c) {
  return threshold_baseline(data::read_split(c.data, "train"), data::read_split(c.data, "val"), c);
}

}  // namespace qat
