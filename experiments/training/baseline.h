// The floor a segmentation network has to beat: one global intensity
// threshold. Images go through the validation pipeline (centre crop,
// per-image normalisation); the threshold and its direction (foreground
// brighter or darker) are chosen to maximise Dice on the training split and
// then scored on the validation split.
#pragma once
#include "data/dataset.h"
#include "experiments/training/config.h"
#include "experiments/training/metrics.h"

namespace qat {

struct ThresholdBaseline {
  float threshold = 0;
  bool brighter = true;  // foreground = intensity > threshold (else <)
  double train_dice = 0;
  Metrics val;
};

ThresholdBaseline threshold_baseline(const data::Split& train, const data::Split& val,
                                     const Config& c);
ThresholdBaseline threshold_baseline(const Config& c);  // reads c.data

}  // namespace qat
