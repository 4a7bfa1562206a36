// Transforms on one Sample: image (C,H,W) float, mask (H,W) uint8 0/1.
// Geometric ones move image and mask by the same map: image bilinear, mask
// nearest neighbour, both 0 outside the source. Random ones draw from the
// qat::Rng passed in and nothing else.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/rng.h"
#include "data/dataset.h"

namespace qat::data {

// Crops (crop_h, crop_w) at row `top`, column `left`. Throws if the crop is
// larger than the image or leaves it, naming both sizes.
Sample crop(const Sample& s, int64_t top, int64_t left, int64_t crop_h, int64_t crop_w);
// The centre crop; an odd surplus leaves the extra pixel at the bottom/right.
Sample center_crop(const Sample& s, int64_t crop_h, int64_t crop_w);
Sample random_crop(const Sample& s, int64_t crop_h, int64_t crop_w, Rng& rng);

// Pads with zeros (image and mask) to at least (min_h, min_w), the image
// centred; an odd surplus puts the extra row/column at the bottom/right.
Sample pad(const Sample& s, int64_t min_h, int64_t min_w);

// out(y, x) = in(src_y[y*W+x], src_x[y*W+x]): the general warp.
Sample warp(const Sample& s, const std::vector<float>& src_y, const std::vector<float>& src_x);

// Rotation by angle_deg (positive turns the picture counter-clockwise as
// displayed, rows downwards), scaling by `scale`, both about the image
// centre, then translation by (tx, ty) pixels.
Sample affine(const Sample& s, float angle_deg, float scale, float tx, float ty);
// Angle uniform in +-max_deg, scale uniform in [scale_lo, scale_hi],
// translation uniform in +-translate*W and +-translate*H pixels.
Sample random_affine(const Sample& s, float max_deg, float scale_lo, float scale_hi,
                     float translate, Rng& rng);

// Simard et al. 2003: displacement fields uniform in [-1, 1], smoothed by a
// Gaussian of sigma (zero beyond the edges), scaled by alpha.
Sample elastic(const Sample& s, float alpha, float sigma, Rng& rng);
// With probability p: elastic with alpha, sigma uniform in their ranges.
Sample random_elastic(const Sample& s, float alpha_lo, float alpha_hi, float sigma_lo,
                      float sigma_hi, float p, Rng& rng);

// Adds one value uniform in [-max_shift, max_shift] to every pixel.
void random_intensity_shift(Sample& s, float max_shift, Rng& rng);

// Zero mean, unit (population) standard deviation over the whole image; a
// constant image becomes all zeros.
void normalize(Sample& s);

}  // namespace qat::data
