#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "autograd/check.h"
#include "data/filters.h"

namespace qat::data {

using detail::concat;

Sample crop(const Sample& s, int64_t top, int64_t left, int64_t crop_h, int64_t crop_w) {
  if (crop_h > s.h || crop_w > s.w || crop_h < 1 || crop_w < 1)
    throw Error(concat("crop: crop of ", crop_h, "x", crop_w, " does not fit the image of ", s.h,
                       "x", s.w, " (H x W); expected a crop no larger than the image"));
  QAT_CHECK(top >= 0 && left >= 0 && top + crop_h <= s.h && left + crop_w <= s.w,
            "crop at (", top, ", ", left, ") leaves the image");
  Sample out{s.c, crop_h, crop_w, std::vector<float>(size_t(s.c * crop_h * crop_w)),
             std::vector<uint8_t>(size_t(crop_h * crop_w))};
  for (int64_t y = 0; y < crop_h; ++y) {
    for (int64_t ch = 0; ch < s.c; ++ch)
      for (int64_t x = 0; x < crop_w; ++x)
        out.image[(ch * crop_h + y) * crop_w + x] =
            s.image[(ch * s.h + top + y) * s.w + left + x];
    for (int64_t x = 0; x < crop_w; ++x)
      out.mask[y * crop_w + x] = s.mask[(top + y) * s.w + left + x];
  }
  return out;
}

Sample center_crop(const Sample& s, int64_t crop_h, int64_t crop_w) {
  if (crop_h > s.h || crop_w > s.w) return crop(s, 0, 0, crop_h, crop_w);  // throws
  return crop(s, (s.h - crop_h) / 2, (s.w - crop_w) / 2, crop_h, crop_w);
}

Sample random_crop(const Sample& s, int64_t crop_h, int64_t crop_w, Rng& rng) {
  if (crop_h > s.h || crop_w > s.w) return crop(s, 0, 0, crop_h, crop_w);  // throws
  const int64_t top = int64_t(rng.below(uint64_t(s.h - crop_h + 1)));
  const int64_t left = int64_t(rng.below(uint64_t(s.w - crop_w + 1)));
  return crop(s, top, left, crop_h, crop_w);
}

Sample pad(const Sample& s, int64_t min_h, int64_t min_w) {
  const int64_t h = std::max(s.h, min_h), w = std::max(s.w, min_w);
  const int64_t top = (h - s.h) / 2, left = (w - s.w) / 2;
  Sample out{s.c, h, w, std::vector<float>(size_t(s.c * h * w), 0.f),
             std::vector<uint8_t>(size_t(h * w), 0)};
  for (int64_t y = 0; y < s.h; ++y) {
    for (int64_t ch = 0; ch < s.c; ++ch)
      for (int64_t x = 0; x < s.w; ++x)
        out.image[(ch * h + top + y) * w + left + x] = s.image[(ch * s.h + y) * s.w + x];
    for (int64_t x = 0; x < s.w; ++x) out.mask[(top + y) * w + left + x] = s.mask[y * s.w + x];
  }
  return out;
}

Sample warp(const Sample& s, const std::vector<float>& src_y, const std::vector<float>& src_x) {
  const int64_t hw = s.h * s.w;
  QAT_CHECK(int64_t(src_y.size()) == hw && int64_t(src_x.size()) == hw,
            "warp maps must have H*W entries");
  Sample out{s.c, s.h, s.w, std::vector<float>(s.image.size()), std::vector<uint8_t>(size_t(hw))};
  for (int64_t p = 0; p < hw; ++p) {
    const double y = src_y[size_t(p)], x = src_x[size_t(p)];
    for (int64_t ch = 0; ch < s.c; ++ch)
      out.image[ch * hw + p] = bilinear(s.image.data() + ch * hw, s.h, s.w, y, x);
    const int64_t ny = int64_t(std::floor(y + 0.5)), nx = int64_t(std::floor(x + 0.5));
    const bool inside = ny >= 0 && ny < s.h && nx >= 0 && nx < s.w;
    out.mask[p] = inside ? s.mask[ny * s.w + nx] : 0;
  }
  return out;
}

Sample affine(const Sample& s, float angle_deg, float scale, float tx, float ty) {
  QAT_CHECK(scale > 0, "affine: scale must be positive, got ", scale);
  // Output pixel p comes from src = c + R(angle) (p - c - t) / scale: the
  // inverse of "scale and rotate about c, then translate".
  const double a = double(angle_deg) * M_PI / 180.0;
  const double cs = std::cos(a) / scale, sn = std::sin(a) / scale;
  const double cy = double(s.h - 1) / 2, cx = double(s.w - 1) / 2;
  std::vector<float> src_y(size_t(s.h * s.w)), src_x(size_t(s.h * s.w));
  for (int64_t y = 0; y < s.h; ++y)
    for (int64_t x = 0; x < s.w; ++x) {
      const double dx = double(x) - cx - tx, dy = double(y) - cy - ty;
      src_x[size_t(y * s.w + x)] = float(cx + cs * dx - sn * dy);
      src_y[size_t(y * s.w + x)] = float(cy + sn * dx + cs * dy);
    }
  return warp(s, src_y, src_x);
}

Sample random_affine(const Sample& s, float max_deg, float scale_lo, float scale_hi,
                     float translate, Rng& rng) {
  const float angle = rng.uniform(-max_deg, max_deg);
  const float scale = rng.uniform(scale_lo, scale_hi);
  const float tx = rng.uniform(-translate, translate) * float(s.w);
  const float ty = rng.uniform(-translate, translate) * float(s.h);
  return affine(s, angle, scale, tx, ty);
}

Sample elastic(const Sample& s, float alpha, float sigma, Rng& rng) {
  const int64_t hw = s.h * s.w;
  std::vector<float> dy(static_cast<size_t>(hw)), dx(static_cast<size_t>(hw));
  for (float& v : dy) v = rng.uniform(-1.f, 1.f);
  for (float& v : dx) v = rng.uniform(-1.f, 1.f);
  gaussian_blur(dy.data(), s.h, s.w, sigma, Border::zero);
  gaussian_blur(dx.data(), s.h, s.w, sigma, Border::zero);
  for (int64_t y = 0; y < s.h; ++y)
    for (int64_t x = 0; x < s.w; ++x) {
      const size_t p = size_t(y * s.w + x);
      dy[p] = float(y) + alpha * dy[p];
      dx[p] = float(x) + alpha * dx[p];
    }
  return warp(s, dy, dx);
}

Sample random_elastic(const Sample& s, float alpha_lo, float alpha_hi, float sigma_lo,
                      float sigma_hi, float p, Rng& rng) {
  // Draw all three numbers every time, so the stream after this call does
  // not depend on whether the deformation was applied.
  const bool apply = rng.uniform() < p;
  const float alpha = rng.uniform(alpha_lo, alpha_hi);
  const float sigma = rng.uniform(sigma_lo, sigma_hi);
  return apply ? elastic(s, alpha, sigma, rng) : s;
}

void random_intensity_shift(Sample& s, float max_shift, Rng& rng) {
  const float shift = rng.uniform(-max_shift, max_shift);
  for (float& v : s.image) v += shift;
}

void normalize(Sample& s) {
  if (s.image.empty()) return;
  double sum = 0, sq = 0;
  for (float v : s.image) sum += v;
  const double mean = sum / double(s.image.size());
  for (float v : s.image) sq += (v - mean) * (v - mean);
  const double sd = std::sqrt(sq / double(s.image.size()));
  // Below float32's resolution of the mean the "variation" is rounding
  // noise: treat the image as constant instead of amplifying it.
  if (sd <= 1e-6 * std::max(1.0, std::abs(mean))) {
    std::fill(s.image.begin(), s.image.end(), 0.f);
    return;
  }
  for (float& v : s.image) v = float((v - mean) / sd);
}

}  // namespace qat::data
