#include "data/tiff_pages.h"

#include <tiffio.h>

#include <memory>

#include "autograd/check.h"
#include "data/quiet_libs.h"

namespace qat::data {

using detail::concat;

std::vector<TiffPage> read_tiff_pages(const std::string& path) {
  std::unique_ptr<TIFF, void (*)(TIFF*)> tif(TIFFOpen(path.c_str(), "r"), TIFFClose);
  if (!tif) {
    const std::string why = last_tiff_message();
    throw Error(concat(path, ": could not read as TIFF", why.empty() ? "" : " (" + why + ")"));
  }
  std::vector<TiffPage> pages;
  do {
    uint32_t w = 0, h = 0;
    uint16_t bits = 0, spp = 1, format = SAMPLEFORMAT_UINT;
    TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLEFORMAT, &format);
    const bool is_float = format == SAMPLEFORMAT_IEEEFP && bits == 32;
    const bool is_uint = format == SAMPLEFORMAT_UINT && (bits == 8 || bits == 16);
    if (spp != 1 || !(is_float || is_uint))
      throw Error(concat(path, ": page ", pages.size(), " has ", spp, " samples of ", bits,
                         " bits, expected one gray sample of 8/16-bit uint or 32-bit float"));
    // The header alone can declare 2^32 x 2^32 pixels.
    constexpr int64_t kMaxPixels = int64_t(1) << 28;
    if (int64_t(h) * int64_t(w) > kMaxPixels || h == 0 || w == 0)
      throw Error(concat(path, ": page ", pages.size(), " is ", w, " x ", h,
                         " pixels, expected 1 to ", kMaxPixels, " pixels"));
    if (TIFFScanlineSize(tif.get()) < tmsize_t(w) * (bits / 8))
      throw Error(concat(path, ": page ", pages.size(), ": rows of ",
                         TIFFScanlineSize(tif.get()), " bytes, expected ", w * (bits / 8)));
    TiffPage p{int64_t(h), int64_t(w), std::vector<float>(size_t(h) * w), {}};
    if (is_uint) p.raw.resize(size_t(h) * w);
    std::vector<uint8_t> line(size_t(TIFFScanlineSize(tif.get())));
    for (uint32_t y = 0; y < h; ++y) {
      if (TIFFReadScanline(tif.get(), line.data(), y, 0) < 0)
        throw Error(concat(path, ": page ", pages.size(), ": could not read row ", y));
      for (uint32_t x = 0; x < w; ++x) {
        const size_t i = size_t(y) * w + x;
        if (bits == 8) p.raw[i] = line[x];
        if (bits == 16) p.raw[i] = reinterpret_cast<const uint16_t*>(line.data())[x];
        if (is_float) p.values[i] = reinterpret_cast<const float*>(line.data())[x];
        if (is_uint) p.values[i] = float(p.raw[i]) / (bits == 8 ? 255.f : 65535.f);
      }
    }
    pages.push_back(std::move(p));
  } while (TIFFReadDirectory(tif.get()));
  return pages;
}


}  // namespace qat::data
