// 8-bit PNG files through libpng's simplified API: gray and RGB writers for
// overlays and plots, and a reader that turns any PNG into 8-bit gray.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qat::data {

// pixels (H,W,channels) row-major, channels 1 (gray) or 3 (RGB).
struct Image8 {
  int64_t h = 0, w = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

void write_png_gray(const std::string& path, const uint8_t* pixels, int64_t h, int64_t w);
void write_png_rgb(const std::string& path, const uint8_t* rgb, int64_t h, int64_t w);
// Any PNG (palette, 16-bit, alpha, colour) converted to 8-bit gray or RGB.
Image8 read_png_gray(const std::string& path);
Image8 read_png_rgb(const std::string& path);

}  // namespace qat::data
