// Small image filters shared by the transforms and the synthetic generator.
#pragma once
#include <cstdint>

namespace qat::data {

// What a filter sees beyond the image edge.
enum class Border { zero, clamp };

// Separable Gaussian blur of one (H,W) plane in place; the kernel reaches
// 4 sigma. sigma <= 0 leaves the plane as it is.
void gaussian_blur(float* plane, int64_t h, int64_t w, float sigma, Border border);

// Bilinear value of (H,W) `plane` at (y, x); pixels outside count as 0.
float bilinear(const float* plane, int64_t h, int64_t w, double y, double x);

}  // namespace qat::data
