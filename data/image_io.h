// Single 2-D images for `qat predict`: a PNG or the first page of a TIFF
// as float gray in the units the packers store (8-bit /255, 16-bit /65535,
// float as stored: data/FORMAT.md), and 8-bit masks written back in the
// same format, to a temporary name and renamed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qat::data {

struct GrayImage {
  int64_t h = 0, w = 0;
  std::vector<float> values;
};

bool is_png_path(const std::string& path);
bool is_tiff_path(const std::string& path);  // .tif or .tiff
GrayImage read_gray_image(const std::string& path);  // PNG or TIFF by extension
// pixels 0..255 (H,W); PNG or TIFF by the extension of path.
void write_gray_image(const std::string& path, const std::vector<uint8_t>& pixels, int64_t h,
                      int64_t w);

}  // namespace qat::data
