#include "data/pipeline.h"

#include "data/transforms.h"

namespace qat::data {

Sample Pipeline::train(const Sample& s, Rng& rng) const {
  const PipelineOptions& o = opt_;
  Sample x = s;
  if (o.crop_h > 0 && o.crop_w > 0)
    x = o.random_crop ? random_crop(x, o.crop_h, o.crop_w, rng)
                      : center_crop(x, o.crop_h, o.crop_w);
  x = random_elastic(x, o.elastic_alpha_lo, o.elastic_alpha_hi, o.elastic_sigma_lo,
                     o.elastic_sigma_hi, o.elastic_p, rng);
  x = random_affine(x, o.rotation_deg, o.scale_lo, o.scale_hi, o.translate, rng);
  random_intensity_shift(x, o.intensity_shift, rng);
  if (o.normalize) normalize(x);
  return x;
}

Sample Pipeline::eval(const Sample& s) const {
  Sample x = (opt_.crop_h > 0 && opt_.crop_w > 0) ? center_crop(s, opt_.crop_h, opt_.crop_w) : s;
  if (opt_.normalize) normalize(x);
  return x;
}

}  // namespace qat::data
