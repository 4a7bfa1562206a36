#include "data/filters.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qat::data {

namespace {

std::vector<float> gaussian_kernel(float sigma) {
  const int64_t radius = std::max<int64_t>(1, int64_t(std::ceil(4.0 * sigma)));
  std::vector<float> k(size_t(2 * radius + 1));
  double sum = 0;
  for (int64_t i = -radius; i <= radius; ++i) {
    const double v = std::exp(-0.5 * double(i * i) / (double(sigma) * sigma));
    k[size_t(i + radius)] = float(v);
    sum += v;
  }
  for (float& v : k) v = float(v / sum);
  return k;
}

// One pass along a line of n values spaced by `stride`.
void blur_line(float* line, int64_t n, int64_t stride, const std::vector<float>& k,
               Border border, std::vector<float>& tmp) {
  const int64_t radius = int64_t(k.size() / 2);
  tmp.assign(size_t(n), 0.f);
  for (int64_t i = 0; i < n; ++i) {
    double acc = 0;
    for (int64_t t = -radius; t <= radius; ++t) {
      int64_t j = i + t;
      if (j < 0 || j >= n) {
        if (border == Border::zero) continue;
        j = std::clamp<int64_t>(j, 0, n - 1);
      }
      acc += double(k[size_t(t + radius)]) * line[j * stride];
    }
    tmp[size_t(i)] = float(acc);
  }
  for (int64_t i = 0; i < n; ++i) line[i * stride] = tmp[size_t(i)];
}

}  // namespace

void gaussian_blur(float* plane, int64_t h, int64_t w, float sigma, Border border) {
  if (sigma <= 0) return;
  const std::vector<float> k = gaussian_kernel(sigma);
  std::vector<float> tmp;
  for (int64_t y = 0; y < h; ++y) blur_line(plane + y * w, w, 1, k, border, tmp);
  for (int64_t x = 0; x < w; ++x) blur_line(plane + x, h, w, k, border, tmp);
}

float bilinear(const float* plane, int64_t h, int64_t w, double y, double x) {
  const double fy = std::floor(y), fx = std::floor(x);
  const int64_t y0 = int64_t(fy), x0 = int64_t(fx);
  const double ty = y - fy, tx = x - fx;
  auto at = [&](int64_t yy, int64_t xx) -> double {
    return (yy < 0 || yy >= h || xx < 0 || xx >= w) ? 0.0 : plane[yy * w + xx];
  };
  // Neighbours with weight 0 are skipped, so an integer position returns the
  // pixel exactly (the identity warp is exact).
  double v = (1 - ty) * (1 - tx) * at(y0, x0);
  if (tx > 0) v += (1 - ty) * tx * at(y0, x0 + 1);
  if (ty > 0) v += ty * (1 - tx) * at(y0 + 1, x0);
  if (ty > 0 && tx > 0) v += ty * tx * at(y0 + 1, x0 + 1);
  return float(v);
}

}  // namespace qat::data
