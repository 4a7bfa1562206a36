// The pages of a TIFF file as gray images: one reader for the TIFF stack
// packer (ISBI 2012) and for `qat predict` on a TIFF.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qat::data {

struct TiffPage {
  int64_t h = 0, w = 0;
  std::vector<float> values;  // 8/16-bit scaled to [0, 1], float as stored
  std::vector<uint16_t> raw;  // 8/16-bit integer values as stored
};

// Every page; qat::Error naming the file and page for anything but one
// gray sample of 8/16-bit uint or 32-bit float.
std::vector<TiffPage> read_tiff_pages(const std::string& path);

}  // namespace qat::data
