// The paper's input pipeline (SPEC.md "Training"): centre crop 200x200, then
// for training elastic deformation, random affine, random intensity shift,
// and per-image normalisation; validation only crops and normalises.
#pragma once
#include <cstdint>

#include "autograd/rng.h"
#include "data/dataset.h"

namespace qat::data {

struct PipelineOptions {
  int64_t crop_h = 200, crop_w = 200;  // 0 keeps the full image
  bool random_crop = false;            // training only; the paper centre-crops
  float elastic_p = 0.3f;
  float elastic_alpha_lo = 28.f, elastic_alpha_hi = 30.f;
  float elastic_sigma_lo = 3.5f, elastic_sigma_hi = 4.0f;
  float rotation_deg = 4.6f;
  float scale_lo = 0.98f, scale_hi = 1.02f;
  float translate = 0.03f;         // fraction of the width / height
  float intensity_shift = 0.10f;   // in the image's units, before normalisation
  bool normalize = true;
};

class Pipeline {
 public:
  explicit Pipeline(PipelineOptions options = {}) : opt_(options) {}
  const PipelineOptions& options() const { return opt_; }

  // Crop, elastic, affine, intensity shift, normalise; all draws from rng.
  Sample train(const Sample& s, Rng& rng) const;
  // Centre crop and normalise.
  Sample eval(const Sample& s) const;

 private:
  PipelineOptions opt_;
};

}  // namespace qat::data
